/*
 * xs_watch: watches and the delivery of their events.  Events arrive in
 * the receive path (any level); they are queued, bounded, and delivered in
 * arrival order by one deferred "pump" at passive level, so a callback may
 * itself talk to xenstore.  A flurry of events never blocks replies: the
 * queue absorbs it, and beyond XS_MAX_PENDING_EVENTS events are dropped
 * with a counted, logged loss (watch users re-read state, so a lost
 * duplicate is harmless; the last event of a burst is always kept).
 */
#include <string.h>

#include "xs_internal.h"


static struct xs_watch *xs_find_watch(struct xs_client *c, const char *token)
{
    for (struct xs_watch *w = c->watches; w; w = w->next)
        if (!w->removed && strcmp(w->token, token) == 0)
            return w;
    return NULL;
}

void xs_watch_event_arrived(struct xs_client *c, const char *payload, uint32_t len)
{
    const struct gp_platform *p = c->plat;
    /* payload: path\0token\0 (extra fields allowed after) */
    const char *nul1 = len ? memchr(payload, 0, len) : NULL;
    const char *nul2 = nul1 ? memchr(nul1 + 1, 0, len - (uint32_t)(nul1 + 1 - payload)) : NULL;
    if (!nul1 || !nul2 || nul1 == payload) {
        gp_os_lock_acquire(p, c->lock);
        c->stats.malformed++;
        gp_os_lock_release(p, c->lock);
        GP_ERR(p, "xs: malformed watch event (%u bytes) dropped", len);
        return;
    }
    uint32_t keep = (uint32_t)(nul2 + 1 - payload);
    struct xs_event *e = gp_zalloc(p, sizeof(*e) + keep);
    gp_os_lock_acquire(p, c->lock);
    c->stats.watch_events++;
    if (!e || c->ev_count >= XS_MAX_PENDING_EVENTS) {
        c->stats.dropped_events++;
        /* Make room by dropping the oldest: the newest state matters. */
        if (e && c->ev_head) {
            struct xs_event *old = c->ev_head;
            c->ev_head = old->next;
            if (!c->ev_head)
                c->ev_tail = NULL;
            c->ev_count--;
            gp_free(p, old);
        } else {
            gp_os_lock_release(p, c->lock);
            GP_ERR(p, "xs: out of memory queueing a watch event");
            return;
        }
        if ((c->stats.dropped_events & (c->stats.dropped_events - 1)) == 0)
            GP_WARN(p, "xs: watch event queue full: %llu events dropped so far",
                    (unsigned long long)c->stats.dropped_events);
    }
    e->path = (char *)(e + 1);
    memcpy(e->path, payload, keep);
    e->token = e->path + (nul1 + 1 - payload);
    if (c->ev_tail)
        c->ev_tail->next = e;
    else
        c->ev_head = e;
    c->ev_tail = e;
    c->ev_count++;
    bool schedule = !c->pump_scheduled;
    c->pump_scheduled = true;
    gp_os_lock_release(p, c->lock);
    if (schedule && gp_os_defer(p, xs_watch_pump_run, c) != 0) {
        gp_os_lock_acquire(p, c->lock);
        c->pump_scheduled = false;
        gp_os_lock_release(p, c->lock);
        GP_ERR(p, "xs: cannot schedule watch delivery");
    }
}

void xs_watch_pump_run(void *arg)
{
    struct xs_client *c = arg;
    const struct gp_platform *p = c->plat;
    gp_os_lock_acquire(p, c->lock);
    for (;;) {
        struct xs_event *e = c->ev_head;
        if (!e || c->pump_hold)
            break;                         /* held events go after the resume */
        c->ev_head = e->next;
        if (!c->ev_head)
            c->ev_tail = NULL;
        c->ev_count--;
        struct xs_watch *w = xs_find_watch(c, e->token);
        if (w) {
            c->pump_current = w;
            gp_os_lock_release(p, c->lock);
            w->fn(w->arg, e->path, e->token);
            gp_os_lock_acquire(p, c->lock);
            c->pump_current = NULL;
            gp_os_event_signal(p, c->pump_idle);
        }
        gp_free(p, e);
    }
    c->pump_scheduled = false;
    gp_os_event_signal(p, c->pump_idle);
    gp_os_lock_release(p, c->lock);
}

static int xs_send_watch(struct xs_client *c, uint32_t type, const struct xs_watch *w)
{
    const void *parts[2] = { w->path, w->token };
    uint32_t lens[2] = { (uint32_t)strlen(w->path) + 1, (uint32_t)strlen(w->token) + 1 };
    return xs_request(c, type, XS_TXN_NONE, parts, lens, 2, NULL, NULL);
}

int xs_watch_add(struct xs_client *c, const char *path, xs_watch_fn fn, void *arg,
                 struct xs_watch **out)
{
    const struct gp_platform *p = c->plat;
    size_t plen = strlen(path);
    if (plen == 0 || plen > XENSTORE_ABS_PATH_MAX)
        return GP_EINVAL;
    struct xs_watch *w = gp_zalloc(p, sizeof(*w));
    char *copy = gp_zalloc(p, plen + 1);
    if (!w || !copy) {
        gp_free(p, w);
        gp_free(p, copy);
        return GP_ENOMEM;
    }
    memcpy(copy, path, plen);
    w->client = c;
    w->path = copy;
    w->fn = fn;
    w->arg = arg;
    gp_os_lock_acquire(p, c->lock);
    gp_snprintf(w->token, sizeof(w->token), "gp%p:%u", (void *)c, c->next_token++);
    w->next = c->watches;
    c->watches = w;
    gp_os_lock_release(p, c->lock);
    int err = xs_send_watch(c, XS_WATCH, w);
    if (err) {
        GP_ERR(p, "xs: watch on %s failed: %s", path, gp_strerror(err));
        xs_watch_remove(c, w);
        return err;
    }
    if (out)
        *out = w;
    return 0;
}

void xs_watch_remove(struct xs_client *c, struct xs_watch *w)
{
    const struct gp_platform *p = c->plat;
    if (!w)
        return;
    gp_os_lock_acquire(p, c->lock);
    bool was_live = !w->removed;
    w->removed = true;
    gp_os_lock_release(p, c->lock);
    if (was_live && !c->shutdown) {
        int err = xs_send_watch(c, XS_UNWATCH, w);
        if (err && err != GP_ENOENT && err != GP_ESHUTDOWN)
            GP_WARN(p, "xs: unwatch %s: %s", w->path, gp_strerror(err));
    }
    /* No callback of this watch may be running once we return (a callback
     * must not remove its own watch). */
    gp_os_lock_acquire(p, c->lock);
    while (c->pump_current == w) {
        gp_os_lock_release(p, c->lock);
        gp_os_event_wait(p, c->pump_idle, GP_MS(1));
        gp_os_lock_acquire(p, c->lock);
    }
    for (struct xs_watch **pp = &c->watches; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    gp_os_lock_release(p, c->lock);
    gp_free(p, w->path);
    gp_free(p, w);
}

int xs_watch_reregister_all(struct xs_client *c)
{
    const struct gp_platform *p = c->plat;
    int first_err = 0;
    gp_os_lock_acquire(p, c->lock);
    unsigned n = 0;
    for (struct xs_watch *w = c->watches; w; w = w->next)
        n++;
    gp_os_lock_release(p, c->lock);
    /* Watches are only added/removed by their owners at passive level, and
     * resume runs with the devices quiesced, so walking by index is safe. */
    for (unsigned i = 0; i < n; i++) {
        gp_os_lock_acquire(p, c->lock);
        struct xs_watch *w = c->watches;
        for (unsigned k = 0; w && k < i; k++)
            w = w->next;
        bool live = w && !w->removed;
        gp_os_lock_release(p, c->lock);
        if (!live)
            continue;
        int err = xs_send_watch(c, XS_WATCH, w);
        if (err && err != GP_EEXIST) {
            GP_ERR(p, "xs: re-registering watch on %s: %s", w->path, gp_strerror(err));
            if (!first_err)
                first_err = err;
        }
    }
    return first_err;
}

void xs_watch_destroy_all(struct xs_client *c)
{
    const struct gp_platform *p = c->plat;
    gp_os_lock_acquire(p, c->lock);
    /* A scheduled pump still holds c: wait until it has run. */
    while (c->pump_scheduled || c->pump_current) {
        gp_os_lock_release(p, c->lock);
        gp_os_event_wait(p, c->pump_idle, GP_MS(1));
        gp_os_lock_acquire(p, c->lock);
    }
    struct xs_watch *w = c->watches;
    c->watches = NULL;
    struct xs_event *e = c->ev_head;
    c->ev_head = c->ev_tail = NULL;
    c->ev_count = 0;
    gp_os_lock_release(p, c->lock);
    while (w) {
        struct xs_watch *n = w->next;
        gp_free(p, w->path);
        gp_free(p, w);
        w = n;
    }
    while (e) {
        struct xs_event *n = e->next;
        gp_free(p, e);
        e = n;
    }
}
