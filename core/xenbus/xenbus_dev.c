/*
 * xenbus_dev: one frontend device node and its link to the backend.
 * The backend path and id are read and validated, the backend's "state"
 * is watched, and every change is reported (from deferred, passive
 * context) to the owner, which drives its lifecycle from it.
 */
#include <string.h>

#include "gplpv/log.h"
#include "gplpv/xenbus.h"

#define XENBUS_MAX_DOMID 0x7ff0u

static const char *const xenbus_state_names[] = {
    "Unknown", "Initialising", "InitWait", "Initialised", "Connected",
    "Closing", "Closed", "Reconfiguring", "Reconfigured",
};

const char *xenbus_state_name(enum xenbus_state s)
{
    return (unsigned)s < sizeof(xenbus_state_names) / sizeof(xenbus_state_names[0])
               ? xenbus_state_names[s]
               : "Invalid";
}

/* Note the backend's state as the watch or a poll read it (ticket: when
 * the read began); true if it changed.  A read that began before the one
 * noted last is stale (a watch callback descheduled between its read and
 * here while a poll read a newer state) and is dropped.  Every change to
 * InitWait counts (a restart a reconnect must not miss), whichever reader
 * saw it first. */
static bool xenbus_note_otherend(struct xenbus_dev *d, enum xenbus_state s, uint64_t ticket)
{
    const struct gp_platform *p = d->plat;
    gp_os_lock_acquire(p, d->lock);
    bool fresh = ticket >= d->otherend_noted;
    bool changed = fresh && s != d->otherend_state;
    if (fresh) {
        d->otherend_noted = ticket;
        d->otherend_state = s;
    }
    if (changed && s == XenbusStateInitWait)
        d->initwaits++;
    gp_os_lock_release(p, d->lock);
    return changed;
}

/* Read and validate the backend's state: Unknown when its node is gone, a
 * negative error when unreadable or not a xenbus state (logged if log_bad:
 * the watch logs, the 10 ms poll of a wait does not repeat it). */
static int xenbus_read_otherend_state(struct xenbus_dev *d, bool log_bad, uint64_t *ticket)
{
    *ticket = __atomic_add_fetch(&d->otherend_reads, 1, __ATOMIC_SEQ_CST);
    char key[XENBUS_PATH_MAX + 8];
    gp_snprintf(key, sizeof(key), "%s/state", d->otherend);
    uint64_t v = 0;
    int err = xs_read_u64(d->xs, XS_TXN_NONE, key, &v);
    if (err == GP_ENOENT)
        return XenbusStateUnknown;           /* the backend node went away */
    if (err)
        return err;                          /* logged by xs_read_u64 */
    if (v > XenbusStateReconfigured) {
        if (log_bad)
            GP_ERR(d->plat, "xenbus: %s: backend state %llu is not a xenbus state",
                   d->nodename, (unsigned long long)v);
        return GP_EINVAL;
    }
    return (int)v;
}

static void xenbus_otherend_watch(void *arg, const char *path, const char *token)
{
    struct xenbus_dev *d = arg;
    const struct gp_platform *p = d->plat;
    (void)path;
    (void)token;
    uint64_t ticket;
    int r = xenbus_read_otherend_state(d, true, &ticket);
    if (r < 0)
        return;
    enum xenbus_state s = (enum xenbus_state)r;
    bool changed = xenbus_note_otherend(d, s, ticket);
    gp_os_event_signal(p, d->state_event);
    if (changed && d->otherend_changed)
        d->otherend_changed(d->arg, d, s);
}

/* Read and validate the backend path and id of d->nodename. */
static int xenbus_read_otherend(struct xenbus_dev *d, char *path, size_t size, gp_domid_t *id)
{
    const struct gp_platform *p = d->plat;
    char key[XENBUS_PATH_MAX + 16];
    char *be = NULL;
    uint64_t beid = 0;
    gp_snprintf(key, sizeof(key), "%s/backend-id", d->nodename);
    int err = xs_read_u64(d->xs, XS_TXN_NONE, key, &beid);
    if (err) {
        GP_ERR(p, "xenbus: %s: no valid backend-id (%s)", d->nodename, gp_strerror(err));
        return err;
    }
    gp_snprintf(key, sizeof(key), "%s/backend", d->nodename);
    size_t len = 0;
    err = xs_read(d->xs, XS_TXN_NONE, key, &be, &len);
    if (err) {
        GP_ERR(p, "xenbus: %s: no backend path (%s)", d->nodename, gp_strerror(err));
        return err;
    }
    /* Expect /local/domain/<beid>/backend/... */
    char prefix[64];
    int pl = gp_snprintf(prefix, sizeof(prefix), "/local/domain/%llu/backend/",
                         (unsigned long long)beid);
    bool ok = beid < XENBUS_MAX_DOMID && len < size && strlen(be) == len &&
              strncmp(be, prefix, (size_t)pl) == 0 && len > (size_t)pl;
    if (!ok) {
        GP_ERR(p, "xenbus: %s: backend '%.80s' does not belong to backend-id %llu",
               d->nodename, be, (unsigned long long)beid);
        xs_free(d->xs, be);
        return GP_EINVAL;
    }
    memcpy(path, be, len + 1);
    *id = (gp_domid_t)beid;
    xs_free(d->xs, be);
    return 0;
}

static int xenbus_watch_otherend(struct xenbus_dev *d)
{
    char key[XENBUS_PATH_MAX + 8];
    gp_snprintf(key, sizeof(key), "%s/state", d->otherend);
    return xs_watch_add(d->xs, key, xenbus_otherend_watch, d, &d->state_watch);
}

int xenbus_dev_init(struct xenbus_dev *d, const struct gp_platform *p, struct xs_client *xs,
                    const char *nodename, xenbus_otherend_fn fn, void *arg)
{
    memset(d, 0, sizeof(*d));
    d->plat = p;
    d->xs = xs;
    d->otherend_changed = fn;
    d->arg = arg;
    d->state = XenbusStateInitialising;
    d->otherend_state = XenbusStateUnknown;
    if (strlen(nodename) >= sizeof(d->nodename))
        return GP_EINVAL;
    strcpy(d->nodename, nodename);
    d->lock = gp_os_lock_create(p);
    d->state_event = gp_os_event_create(p);
    d->deferred_idle = gp_os_event_create(p);
    if (!d->lock || !d->state_event || !d->deferred_idle) {
        xenbus_dev_teardown(d);
        return GP_ENOMEM;
    }
    int err = xenbus_read_otherend(d, d->otherend, sizeof(d->otherend), &d->otherend_id);
    if (!err)
        err = xenbus_watch_otherend(d);
    if (err) {
        xenbus_dev_teardown(d);
        return err;
    }
    return 0;
}

void xenbus_dev_teardown(struct xenbus_dev *d)
{
    const struct gp_platform *p = d->plat;
    if (d->state_watch) {
        xs_watch_remove(d->xs, d->state_watch);
        d->state_watch = NULL;
    }
    if (d->state_event)
        gp_os_event_destroy(p, d->state_event);
    if (d->deferred_idle)
        gp_os_event_destroy(p, d->deferred_idle);
    if (d->lock)
        gp_os_lock_destroy(p, d->lock);
    d->state_event = NULL;
    d->deferred_idle = NULL;
    d->lock = NULL;
}

int xenbus_dev_refresh_otherend(struct xenbus_dev *d)
{
    char path[XENBUS_PATH_MAX];
    gp_domid_t id;
    int err = xenbus_read_otherend(d, path, sizeof(path), &id);
    if (err)
        return err;
    if (strcmp(path, d->otherend) == 0 && id == d->otherend_id && d->state_watch)
        return 0;
    if (d->state_watch)
        xs_watch_remove(d->xs, d->state_watch);
    d->state_watch = NULL;
    strcpy(d->otherend, path);
    d->otherend_id = id;
    gp_os_lock_acquire(d->plat, d->lock);
    d->otherend_state = XenbusStateUnknown;
    gp_os_lock_release(d->plat, d->lock);
    return xenbus_watch_otherend(d);
}

struct xenbus_switch {
    const char *key;
    enum xenbus_state s;
};

/* The node must still be there: a write would create it again (after a
 * hot-remove the toolstack has removed it, and would find our leftover
 * the next time it attaches a device there). */
static int xenbus_switch_txn(struct xs_client *c, xs_txn_t t, void *arg)
{
    struct xenbus_switch *sw = arg;
    char *v = NULL;
    int err = xs_read(c, t, sw->key, &v, NULL);
    if (v)
        xs_free(c, v);
    if (err)
        return err;
    return xs_printf(c, t, sw->key, "%u", (unsigned)sw->s);
}

int xenbus_switch_state(struct xenbus_dev *d, xs_txn_t t, enum xenbus_state s)
{
    char key[XENBUS_PATH_MAX + 8];
    gp_snprintf(key, sizeof(key), "%s/state", d->nodename);
    struct xenbus_switch sw = { key, s };
    int err = t == XS_TXN_NONE ? xs_txn_run(d->xs, 10, xenbus_switch_txn, &sw)
                               : xs_printf(d->xs, t, key, "%u", (unsigned)s);
    if (err == GP_ENOENT) {
        GP_INFO(d->plat, "xenbus: %s is gone: not switching it to %s", d->nodename,
                xenbus_state_name(s));
        return err;
    }
    if (err) {
        GP_ERR(d->plat, "xenbus: %s: cannot switch to %s: %s", d->nodename,
               xenbus_state_name(s), gp_strerror(err));
        return err;
    }
    d->state = s;
    return 0;
}

/* Read the backend's state from xenstore now (not waiting for the watch:
 * the caller may run on the very context that delivers it) and note it. */
static int xenbus_poll_otherend(struct xenbus_dev *d)
{
    uint64_t ticket;
    int s = xenbus_read_otherend_state(d, false, &ticket);
    if (s >= 0)
        (void)xenbus_note_otherend(d, (enum xenbus_state)s, ticket);
    return s;
}

int xenbus_wait_otherend(struct xenbus_dev *d, uint32_t mask, uint64_t timeout_ns)
{
    const struct gp_platform *p = d->plat;
    uint64_t deadline = gp_os_now_ns(p) + timeout_ns;
    for (;;) {
        gp_os_lock_acquire(p, d->lock);
        enum xenbus_state s = d->otherend_state;
        gp_os_lock_release(p, d->lock);
        if (mask & XENBUS_MASK(s))
            return (int)s;
        uint64_t now = gp_os_now_ns(p);
        if (now >= deadline)
            return GP_ETIMEDOUT;
        uint64_t left = deadline - now;
        if (gp_os_event_wait(p, d->state_event, left < GP_MS(10) ? left : GP_MS(10)) != 0)
            (void)xenbus_poll_otherend(d);   /* no watch event within 10 ms */
    }
}

int xenbus_dev_close(struct xenbus_dev *d, uint64_t timeout_ns)
{
    const struct gp_platform *p = d->plat;
    uint64_t t0 = gp_os_now_ns(p);
    const uint32_t any = XENBUS_MASK(XenbusStateReconfigured + 1) - 1;
    xenbus_switch_state(d, XS_TXN_NONE, XenbusStateClosing);
    int s = xenbus_wait_otherend(d, any & ~XENBUS_MASK(XenbusStateConnected), timeout_ns);
    xenbus_switch_state(d, XS_TXN_NONE, XenbusStateClosed);
    if (s >= 0) {
        uint64_t spent = gp_os_now_ns(p) - t0;
        s = xenbus_wait_otherend(d, XENBUS_MASK(XenbusStateClosed) | XENBUS_MASK(XenbusStateUnknown) |
                                        XENBUS_MASK(XenbusStateInitialising) |
                                        XENBUS_MASK(XenbusStateInitWait),
                                 spent < timeout_ns ? timeout_ns - spent : 0);
    }
    if (s < 0) {
        GP_WARN(p, "xenbus: %s: backend did not close in %llu ms (%s)", d->nodename,
                (unsigned long long)(timeout_ns / GP_NS_PER_MS),
                xenbus_state_name(d->otherend_state));
        return s;
    }
    return 0;
}

int xenbus_read_otherend_u64(struct xenbus_dev *d, const char *key, uint64_t def, uint64_t max,
                             uint64_t *out)
{
    char path[XENBUS_PATH_MAX + 64];
    gp_snprintf(path, sizeof(path), "%s/%s", d->otherend, key);
    uint64_t v = 0;
    int err = xs_read_u64(d->xs, XS_TXN_NONE, path, &v);
    if (err == GP_ENOENT) {
        *out = def;
        return 0;
    }
    if (err)
        return err;
    if (v > max) {
        GP_ERR(d->plat, "xenbus: %s: backend %s = %llu exceeds %llu", d->nodename, key,
               (unsigned long long)v, (unsigned long long)max);
        return GP_EINVAL;
    }
    *out = v;
    return 0;
}

bool xenbus_otherend_feature(struct xenbus_dev *d, const char *key)
{
    uint64_t v = 0;
    if (xenbus_read_otherend_u64(d, key, 0, UINT64_MAX, &v) != 0)
        return false;
    return v == 1;
}

int xenbus_printf(struct xenbus_dev *d, xs_txn_t t, const char *key, const char *fmt, ...)
{
    char path[XENBUS_PATH_MAX + 64];
    char val[256];
    gp_snprintf(path, sizeof(path), "%s/%s", d->nodename, key);
    va_list ap;
    va_start(ap, fmt);
    int n = gp_vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(val))
        return GP_E2BIG;
    return xs_write(d->xs, t, path, val, (size_t)n);
}

int xenbus_dev_reopen(struct xenbus_dev *d)
{
    char path[XENBUS_PATH_MAX + 8];
    uint64_t st = 0;
    gp_snprintf(path, sizeof(path), "%s/state", d->nodename);
    if (xs_read_u64(d->xs, XS_TXN_NONE, path, &st) != 0 || st != XenbusStateClosed)
        return 0;
    GP_INFO(d->plat, "xenbus: %s: left Closed by an earlier instance: Initialising again", d->nodename);
    return xenbus_switch_state(d, XS_TXN_NONE, XenbusStateInitialising);
}

int xenbus_rm_stale(struct xenbus_dev *d, xs_txn_t t, const char *const *keys, unsigned nkeys,
                    const char *const *prefixes, unsigned nprefixes)
{
    char **names = NULL, path[XENBUS_PATH_MAX + 64];
    unsigned n = 0;
    int err = xs_directory(d->xs, t, d->nodename, &names, &n);
    if (err)
        return err == GP_ENOENT ? 0 : err;
    for (unsigned i = 0; !err && i < n; i++) {
        bool stale = false;
        for (unsigned k = 0; !stale && k < nkeys; k++)
            stale = strcmp(names[i], keys[k]) == 0;
        for (unsigned k = 0; !stale && k < nprefixes; k++)
            stale = strncmp(names[i], prefixes[k], strlen(prefixes[k])) == 0;
        if (!stale)
            continue;
        gp_snprintf(path, sizeof(path), "%s/%s", d->nodename, names[i]);
        err = xs_rm(d->xs, t, path);
        if (err == GP_ENOENT)
            err = 0;
    }
    xs_free(d->xs, names);
    return err;
}

/* One scheduled piece of work: the device's work, then the count. */
struct xenbus_deferred {
    struct xenbus_dev *d;
    gp_work_fn fn;
    void *arg;
};

static void xenbus_deferred_run(void *arg)
{
    struct xenbus_deferred w = *(struct xenbus_deferred *)arg;
    const struct gp_platform *p = w.d->plat;
    gp_free(p, arg);
    w.fn(w.arg);
    gp_os_lock_acquire(p, w.d->lock);
    if (--w.d->deferred == 0)
        gp_os_event_signal(p, w.d->deferred_idle);
    gp_os_lock_release(p, w.d->lock);
}

int xenbus_dev_defer(struct xenbus_dev *d, gp_work_fn fn, void *arg)
{
    const struct gp_platform *p = d->plat;
    struct xenbus_deferred *w = gp_zalloc(p, sizeof(*w));
    if (!w)
        return GP_ENOMEM;
    *w = (struct xenbus_deferred){ d, fn, arg };
    gp_os_lock_acquire(p, d->lock);
    d->deferred++;
    gp_os_lock_release(p, d->lock);
    int err = gp_os_defer(p, xenbus_deferred_run, w);
    if (err) {
        gp_free(p, w);
        gp_os_lock_acquire(p, d->lock);
        if (--d->deferred == 0)
            gp_os_event_signal(p, d->deferred_idle);
        gp_os_lock_release(p, d->lock);
    }
    return err;
}

void xenbus_dev_drain_deferred(struct xenbus_dev *d)
{
    const struct gp_platform *p = d->plat;
    if (!d->lock)
        return;
    for (int i = 0; i < 6000; i++) {
        gp_os_lock_acquire(p, d->lock);
        unsigned n = d->deferred;
        gp_os_lock_release(p, d->lock);
        if (!n)
            return;
        gp_os_event_wait(p, d->deferred_idle, GP_MS(10));
    }
    GP_ERR(p, "xenbus: %s: deferred work still pending after 60 s", d->nodename);
}

void xenbus_dev_mark_lost(struct xenbus_dev *d)
{
    const struct gp_platform *p = d->plat;
    gp_os_lock_acquire(p, d->lock);
    d->lost = true;
    d->retries = 0;
    gp_os_lock_release(p, d->lock);
}

bool xenbus_dev_take_lost(struct xenbus_dev *d)
{
    const struct gp_platform *p = d->plat;
    gp_os_lock_acquire(p, d->lock);
    bool was = d->lost;
    d->lost = false;
    if (was)
        d->retries = 0;                      /* the backend offers itself anew */
    gp_os_lock_release(p, d->lock);
    return was;
}

unsigned xenbus_dev_initwaits(struct xenbus_dev *d)
{
    const struct gp_platform *p = d->plat;
    gp_os_lock_acquire(p, d->lock);
    unsigned n = d->initwaits;
    gp_os_lock_release(p, d->lock);
    return n;
}

int xenbus_dev_close_stale(struct xenbus_dev *d, uint64_t timeout_ns)
{
    int s = xenbus_poll_otherend(d);
    if (s != XenbusStateConnected)
        return 0;
    GP_WARN(d->plat, "xenbus: %s: backend still Connected to rings we gave up: closing it first",
            d->nodename);
    int err = xenbus_switch_state(d, XS_TXN_NONE, XenbusStateClosed);
    if (err)
        return err;
    s = xenbus_wait_otherend(d, XENBUS_MASK(XenbusStateUnknown) |
                                    XENBUS_MASK(XenbusStateInitWait) |
                                    XENBUS_MASK(XenbusStateClosing) |
                                    XENBUS_MASK(XenbusStateClosed),
                             timeout_ns);
    if (s < 0)
        GP_ERR(d->plat, "xenbus: %s: backend stays Connected", d->nodename);
    return s < 0 ? s : 0;
}

void xenbus_dev_reconnect_failed(struct xenbus_dev *d, unsigned initwaits_before, int err,
                                 gp_work_fn again, void *arg)
{
    const struct gp_platform *p = d->plat;
    GP_ERR(p, "xenbus: %s: reconnecting failed: %s", d->nodename, gp_strerror(err));
    /* The backend must not take up the rings the attempt gave up (it may
     * still act on an 'Initialised' it has not read yet). */
    (void)xenbus_switch_state(d, XS_TXN_NONE, XenbusStateClosed);
    int now = xenbus_poll_otherend(d);
    gp_os_lock_acquire(p, d->lock);
    bool restarted = d->initwaits != initwaits_before;   /* an InitWait no one took */
    /* Or the backend waits for us, or holds rings we gave up: one watch
     * event can fold a whole restart into no change at all, so its state
     * now decides too; such retries back off and are bounded. */
    bool waiting = now == XenbusStateInitWait || now == XenbusStateConnected;
    if (restarted)
        d->retries = 0;
    else if (waiting)
        d->retries++;
    unsigned n = d->retries;
    bool retry = restarted || (waiting && n <= XENBUS_RECONNECT_RETRIES);
    d->lost = !retry;
    gp_os_lock_release(p, d->lock);
    if (!retry) {
        if (waiting)
            GP_ERR(p, "xenbus: %s: gave up after %u retries: waiting for the backend to restart",
                   d->nodename, n - 1);
        return;                              /* the backend's next InitWait */
    }
    if (restarted) {
        GP_WARN(p, "xenbus: %s: backend restarted meanwhile: reconnecting again", d->nodename);
    } else {
        uint64_t ms = 50ull << (n - 1);
        GP_WARN(p, "xenbus: %s: backend is %s: reconnecting again in %llu ms", d->nodename,
                xenbus_state_name((enum xenbus_state)now), (unsigned long long)ms);
        gp_os_event_wait(p, d->state_event, GP_MS(ms));   /* sooner if it moves */
    }
    if (xenbus_dev_defer(d, again, arg) != 0)
        GP_ERR(p, "xenbus: %s: cannot schedule the reconnect", d->nodename);
}
