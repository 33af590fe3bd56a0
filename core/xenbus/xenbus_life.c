/*
 * xenbus_life: the device lifecycle every frontend goes through, as named
 * states (enum xenbus_life in gplpv/xenbus.h) moved one step at a time by
 * xenbus_life_move.  The backend's state (xenbus_dev.c's watch) drives
 * the losses and the reconnects; the frontend's ops do the work of each
 * step (hold I/O, give up the rings, connect and re-issue).  Deferred
 * work is counted (xenbus_dev_defer) so that destroy can wait for it.
 */
#include "gplpv/log.h"
#include "xenbus_life.h"

#define XENBUS_LIFE_RECONNECT_NS 10000000000ull   /* one reconnect the machine starts */

static const char *const xenbus_life_names[XENBUS_LIFE_COUNT] = {
    [XENBUS_LIFE_CLOSED] = "CLOSED",
    [XENBUS_LIFE_INITIALISING] = "INITIALISING",
    [XENBUS_LIFE_CONNECTED] = "CONNECTED",
    [XENBUS_LIFE_SUSPENDED] = "SUSPENDED",
    [XENBUS_LIFE_LOST] = "LOST",
    [XENBUS_LIFE_RECONNECTING] = "RECONNECTING",
    [XENBUS_LIFE_CLOSING] = "CLOSING",
};

const char *xenbus_life_name(enum xenbus_life l)
{
    return (unsigned)l < XENBUS_LIFE_COUNT ? xenbus_life_names[l] : "Invalid";
}

#define B(l) XENBUS_LIFE_BIT(XENBUS_LIFE_##l)
/* Where each state may go (docs/architecture.md, "Device lifecycle").
 * LOST -> CONNECTED: an owner's reconnect that succeeded while the
 * machine had seen the backend go. */
static const uint32_t xenbus_life_next[XENBUS_LIFE_COUNT] = {
    [XENBUS_LIFE_CLOSED] = B(INITIALISING),
    [XENBUS_LIFE_INITIALISING] = B(CONNECTED) | B(RECONNECTING) | B(CLOSING),
    [XENBUS_LIFE_CONNECTED] = B(LOST) | B(SUSPENDED) | B(RECONNECTING) | B(CLOSING),
    [XENBUS_LIFE_SUSPENDED] = B(CONNECTED) | B(RECONNECTING) | B(CLOSING),
    [XENBUS_LIFE_LOST] = B(CONNECTED) | B(RECONNECTING) | B(CLOSING),
    [XENBUS_LIFE_RECONNECTING] = B(CONNECTED) | B(LOST) | B(INITIALISING) | B(RECONNECTING) |
                                 B(CLOSING),
    [XENBUS_LIFE_CLOSING] = B(CLOSED),
};

/* One step's outcome, decided under the device lock and logged after it. */
struct xenbus_life_step {
    enum xenbus_life from, to;
    bool moved, refused;
};

/* d->lock held. */
static struct xenbus_life_step xenbus_life_step(struct xenbus_dev *d, uint32_t from_mask,
                                                enum xenbus_life to)
{
    struct xenbus_life_step st = { .from = d->life, .to = to };
    bool asked = (from_mask & XENBUS_LIFE_BIT(st.from)) != 0;
    bool legal = (unsigned)to < XENBUS_LIFE_COUNT &&
                 (xenbus_life_next[st.from] & XENBUS_LIFE_BIT(to)) != 0;
    bool quiet = st.from == XENBUS_LIFE_CLOSING && to != XENBUS_LIFE_CLOSED;
    st.moved = asked && legal;
    st.refused = asked && !legal && !quiet;
    if (st.moved)
        d->life = to;
    return st;
}

static bool xenbus_life_log(struct xenbus_dev *d, struct xenbus_life_step st)
{
    if (st.moved)
        GP_DEBUG(d->plat, "xenbus: %s: %s -> %s", d->nodename, xenbus_life_name(st.from),
                 xenbus_life_name(st.to));
    else if (st.refused)
        GP_ERR(d->plat, "xenbus: %s: refused to move from %s to %s", d->nodename,
               xenbus_life_name(st.from), xenbus_life_name(st.to));
    return st.moved;
}

bool xenbus_life_move(struct xenbus_dev *d, uint32_t from_mask, enum xenbus_life to)
{
    const struct gp_platform *p = d->plat;
    gp_os_lock_acquire(p, d->lock);
    struct xenbus_life_step st = xenbus_life_step(d, from_mask, to);
    gp_os_lock_release(p, d->lock);
    return xenbus_life_log(d, st);
}

enum xenbus_life xenbus_life_state(struct xenbus_dev *d)
{
    const struct gp_platform *p = d->plat;
    gp_os_lock_acquire(p, d->lock);
    enum xenbus_life l = d->life;
    gp_os_lock_release(p, d->lock);
    return l;
}

/* The frontend's name for the log ("blkfront device/vbd/768: ..."). */
static const char *xenbus_life_owner(struct xenbus_dev *d)
{
    return d->ops && d->ops->name ? d->ops->name : "xenbus";
}

int xenbus_life_wait_offer(struct xenbus_dev *d, uint64_t timeout_ns)
{
    int s = xenbus_wait_otherend(d, XENBUS_MASK(XenbusStateInitWait) |
                                        XENBUS_MASK(XenbusStateConnected),
                                 timeout_ns);
    if (s < 0)
        GP_ERR(d->plat, "%s %s: backend never reached InitWait", xenbus_life_owner(d),
               d->nodename);
    return s < 0 ? s : 0;
}

int xenbus_life_wait_connected(struct xenbus_dev *d, uint64_t timeout_ns)
{
    int s = xenbus_wait_otherend(d, XENBUS_MASK(XenbusStateConnected) |
                                        XENBUS_MASK(XenbusStateClosing) |
                                        XENBUS_MASK(XenbusStateClosed),
                                 timeout_ns);
    if (s == XenbusStateConnected)
        return 0;
    GP_ERR(d->plat, "%s %s: backend did not connect (%s)", xenbus_life_owner(d), d->nodename,
           s < 0 ? gp_strerror(s) : xenbus_state_name((enum xenbus_state)s));
    return s < 0 ? s : GP_EIO;
}

void xenbus_life_connected(struct xenbus_dev *d)
{
    (void)xenbus_life_move(d, B(INITIALISING) | B(RECONNECTING) | B(CONNECTED) | B(SUSPENDED) |
                                  B(LOST) | B(CLOSING),
                           XENBUS_LIFE_CONNECTED);
}

void xenbus_life_suspend(struct xenbus_dev *d)
{
    (void)xenbus_life_move(d, B(CONNECTED), XENBUS_LIFE_SUSPENDED);   /* LOST stays LOST */
}

void xenbus_life_resume_in_place(struct xenbus_dev *d)
{
    /* LOST too: a save while lost, cancelled; the frontend takes its rings
     * up again as they were, and the backend's next change decides. */
    (void)xenbus_life_move(d, B(SUSPENDED) | B(LOST), XENBUS_LIFE_CONNECTED);
}

/* Give the rings up and connect again: the ops' steps around the
 * backend's own (a stale connection closed, a fresh path, Initialising). */
static int xenbus_life_reconnect_steps(struct xenbus_dev *d, bool new_domain, uint64_t timeout_ns)
{
    const struct xenbus_frontend_ops *ops = d->ops;
    ops->hold(d->arg);
    if (!new_domain) {
        int err = xenbus_dev_close_stale(d, timeout_ns);
        if (err)
            return err;
    }
    ops->release(d->arg, new_domain);
    int err = xenbus_dev_refresh_otherend(d);
    if (!err)
        err = xenbus_switch_state(d, XS_TXN_NONE, XenbusStateInitialising);
    if (err)
        return err;
    return ops->connect(d->arg, timeout_ns);
}

int xenbus_life_resume(struct xenbus_dev *d, bool new_domain, uint64_t timeout_ns)
{
    const struct gp_platform *p = d->plat;
    gp_os_lock_acquire(p, d->lock);
    struct xenbus_life_step st = xenbus_life_step(d, ~(B(CLOSING) | B(CLOSED)),
                                                  XENBUS_LIFE_RECONNECTING);
    gp_os_lock_release(p, d->lock);
    if (!xenbus_life_log(d, st))
        return GP_ESHUTDOWN;
    int err = xenbus_life_reconnect_steps(d, new_domain, timeout_ns);
    /* Failed: the owner decides, but a device the backend had left stays
     * LOST (its next InitWait reconnects it, as before the owner came). */
    if (err)
        (void)xenbus_life_move(d, B(RECONNECTING), st.from == XENBUS_LIFE_LOST
                                                       ? XENBUS_LIFE_LOST
                                                       : XENBUS_LIFE_INITIALISING);
    return err;
}

/* The backend came back (a restart): reconnect, re-issuing what is held. */
static void xenbus_life_reconnect(void *arg)
{
    struct xenbus_dev *d = arg;
    if (xenbus_life_state(d) != XENBUS_LIFE_RECONNECTING)
        return;                              /* closing, or connected meanwhile */
    unsigned initwaits = xenbus_dev_initwaits(d);
    int err = xenbus_life_reconnect_steps(d, false, XENBUS_LIFE_RECONNECT_NS);
    if (err)            /* still holding I/O: decide when to try again */
        xenbus_dev_reconnect_failed(d, initwaits, err, xenbus_life_reconnect, d);
}

void xenbus_life_otherend(struct xenbus_dev *d, enum xenbus_state s)
{
    const struct gp_platform *p = d->plat;
    const struct xenbus_frontend_ops *ops = d->ops;
    if (xenbus_otherend_left(s) && xenbus_dev_mark_lost(d)) {
        GP_WARN(p, "%s %s: backend is %s: holding I/O until it returns", xenbus_life_owner(d),
                d->nodename, xenbus_state_name(s));
        ops->hold(d->arg);
        if (s != XenbusStateInitWait)
            xenbus_switch_state(d, XS_TXN_NONE, XenbusStateClosed);
    }
    if (xenbus_otherend_back(s) && xenbus_dev_take_lost(d)) {
        if (xenbus_dev_defer(d, xenbus_life_reconnect, d) != 0)
            GP_ERR(p, "%s %s: cannot schedule the reconnect", xenbus_life_owner(d), d->nodename);
    }
}

void xenbus_life_close(struct xenbus_dev *d)
{
    (void)xenbus_life_move(d, ~(B(CLOSING) | B(CLOSED)), XENBUS_LIFE_CLOSING);
    xenbus_dev_drain_deferred(d);            /* a reconnect in progress finishes first */
}
#undef B

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

/* A move that starts the retry count again (a loss, or the backend
 * offering itself anew), in one step with it. */
static bool xenbus_life_move_fresh(struct xenbus_dev *d, enum xenbus_life from,
                                   enum xenbus_life to)
{
    const struct gp_platform *p = d->plat;
    gp_os_lock_acquire(p, d->lock);
    struct xenbus_life_step st = xenbus_life_step(d, XENBUS_LIFE_BIT(from), to);
    if (st.moved)
        d->retries = 0;
    gp_os_lock_release(p, d->lock);
    return xenbus_life_log(d, st);
}

bool xenbus_dev_mark_lost(struct xenbus_dev *d)
{
    return xenbus_life_move_fresh(d, XENBUS_LIFE_CONNECTED, XENBUS_LIFE_LOST);
}

bool xenbus_dev_take_lost(struct xenbus_dev *d)
{
    return xenbus_life_move_fresh(d, XENBUS_LIFE_LOST, XENBUS_LIFE_RECONNECTING);
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
    int s = xenbus_dev_poll_otherend(d);
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
    int now = xenbus_dev_poll_otherend(d);
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
    /* LOST in the same step as the decision: an InitWait noted after it
     * finds the device LOST and takes it (none is missed). */
    struct xenbus_life_step st = { .from = d->life, .to = d->life };
    if (!retry)
        st = xenbus_life_step(d, XENBUS_LIFE_BIT(XENBUS_LIFE_RECONNECTING), XENBUS_LIFE_LOST);
    gp_os_lock_release(p, d->lock);
    (void)xenbus_life_log(d, st);
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
        gp_os_event_wait(p, d->state_event, ms * 1000000);   /* sooner if it moves */
    }
    if (xenbus_dev_defer(d, again, arg) != 0)
        GP_ERR(p, "xenbus: %s: cannot schedule the reconnect", d->nodename);
}
