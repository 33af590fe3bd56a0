/*
 * xenbus_dev: one frontend device node and its link to the backend.
 * The backend path and id are read and validated, the backend's "state"
 * is watched, and every change is handed (from deferred, passive
 * context) to the device's lifecycle (xenbus_life.c) and the owner.
 */
#include <string.h>

#include "gplpv/log.h"
#include "xenbus_life.h"

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
    if (!changed || !d->ops)
        return;
    if (d->ops->changed)
        d->ops->changed(d->arg, d, s);
    if (d->ops->connect)
        xenbus_life_otherend(d, s);
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
                    const char *nodename, const struct xenbus_frontend_ops *ops, void *arg)
{
    memset(d, 0, sizeof(*d));
    d->plat = p;
    d->xs = xs;
    d->ops = ops;
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
    (void)xenbus_life_move(d, XENBUS_LIFE_BIT(XENBUS_LIFE_CLOSED), XENBUS_LIFE_INITIALISING);
    return 0;
}

void xenbus_dev_teardown(struct xenbus_dev *d)
{
    const struct gp_platform *p = d->plat;
    if (d->lock && d->life != XENBUS_LIFE_CLOSED) {
        GP_DEBUG(p, "xenbus: %s: %s -> %s (torn down)", d->nodename, xenbus_life_name(d->life),
                 xenbus_life_name(XENBUS_LIFE_CLOSED));
        d->life = XENBUS_LIFE_CLOSED;
    }
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
int xenbus_dev_poll_otherend(struct xenbus_dev *d)
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
        if (gp_os_event_wait(p, d->state_event, left < 10000000 ? left : 10000000) != 0)
            (void)xenbus_dev_poll_otherend(d);   /* no watch event within 10 ms */
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
