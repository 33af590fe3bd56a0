/*
 * xenbus: the frontend side of the xenbus protocol on top of xs.
 *
 * A struct xenbus_dev is one device/<type>/<id> node.  It finds the
 * backend ("backend" and "backend-id" keys, validated), watches the
 * backend's "state" and calls the owner's otherend_changed callback (from
 * deferred, [passive] context) whenever the backend state changes.  The
 * frontend drivers (blkfront, netfront) build their lifecycle on it:
 *   init -> connect (write ring refs, ports, features; Initialised)
 *        -> enable (backend Connected; we are Connected)
 *        -> disable / disconnect (Closing -> Closed) -> teardown.
 *
 * struct xenbus_enum watches device/<type> and reports devices appearing
 * and disappearing (hot-add, hot-remove).
 */
#ifndef GPLPV_XENBUS_H
#define GPLPV_XENBUS_H

#include <xen/io/xenbus.h>   /* enum xenbus_state: XenbusStateInitialising ... */

#include "gplpv/xs.h"

#define XENBUS_PATH_MAX 256

struct xenbus_dev;
typedef void (*xenbus_otherend_fn)(void *arg, struct xenbus_dev *dev,
                                   enum xenbus_state state);

struct xenbus_dev {
    const struct gp_platform *plat;
    struct xs_client *xs;
    char nodename[XENBUS_PATH_MAX];     /* "device/vbd/768" */
    char otherend[XENBUS_PATH_MAX];     /* "/local/domain/0/backend/vbd/5/768" */
    gp_domid_t otherend_id;
    enum xenbus_state state;            /* ours, as last written */
    enum xenbus_state otherend_state;   /* theirs, as last read */
    uint64_t otherend_reads;            /* reads of theirs begun (a ticket each) */
    uint64_t otherend_noted;            /* the ticket of the read otherend_state holds */
    xenbus_otherend_fn otherend_changed;
    void *arg;
    struct xs_watch *state_watch;
    struct gp_lock *lock;
    struct gp_event *state_event;       /* signalled on every backend change */
    unsigned deferred;                  /* deferred work not yet run (under lock) */
    struct gp_event *deferred_idle;     /* signalled when it drops to 0 */
    bool lost;                          /* backend closed under us; no reconnect yet */
    unsigned initwaits;                 /* times theirs became InitWait (under lock) */
    unsigned retries;                   /* reconnects retried since the last loss */
};

/* Reconnects retried, backing off from 50 ms, while the backend stays in
 * InitWait or Connected without restarting; then the next InitWait. */
#define XENBUS_RECONNECT_RETRIES 6

const char *xenbus_state_name(enum xenbus_state s);

/* Read and validate backend/backend-id of nodename; set up the watch. */
int xenbus_dev_init(struct xenbus_dev *d, const struct gp_platform *p, struct xs_client *xs,
                    const char *nodename, xenbus_otherend_fn fn, void *arg);
void xenbus_dev_teardown(struct xenbus_dev *d);
/* Re-read the backend path (after resume or migration). */
int xenbus_dev_refresh_otherend(struct xenbus_dev *d);

/* Write our state.  Outside a transaction (t = XS_TXN_NONE) only while the
 * node exists: GP_ENOENT once the toolstack removed it (hot-remove), which
 * is not created again. */
int xenbus_switch_state(struct xenbus_dev *d, xs_txn_t t, enum xenbus_state s);
/* Work a device defers (a reconnect after a backend restart) is counted
 * so the device is never freed under it: xenbus_dev_defer schedules
 * fn(arg) through the platform and counts it until it has run;
 * xenbus_dev_drain_deferred waits (passive) until none is left.  Call it
 * once the device refuses new work (its 'closing' flag), before freeing. */
int xenbus_dev_defer(struct xenbus_dev *d, gp_work_fn fn, void *arg);
void xenbus_dev_drain_deferred(struct xenbus_dev *d);
/* Backend restarts.  A device whose backend closed under it (or came
 * back in InitWait while we thought it connected: its Closing was folded
 * into one watch event) marks itself lost; when the backend offers itself
 * again (InitWait), or is Connected while we are not, its otherend
 * callback takes the loss (true once per loss) and defers its reconnect.
 * A reconnect first closes a backend still Connected to rings an earlier
 * attempt gave up (xenbus_dev_close_stale).  It notes
 * xenbus_dev_initwaits() before it starts; if it fails it calls
 * xenbus_dev_reconnect_failed(), which logs why, switches us to Closed (the
 * backend must not take up the rings given up), and defers again(arg) at
 * once if the backend restarted meanwhile, or after a backoff if it is in
 * InitWait or Connected now (at most XENBUS_RECONNECT_RETRIES times);
 * otherwise it marks the device lost again for the next InitWait.  No
 * restart is missed and no two reconnects run at once.  (again() must
 * return at once on a device that is closing: the device's drain waits
 * for it.) */
int xenbus_dev_close_stale(struct xenbus_dev *d, uint64_t timeout_ns);
/* The two readings of a backend state change a frontend acts on.  The
 * backend left a connected device: Closing, Closed, or InitWait (the
 * watch reads the state when it runs, so one event can fold a whole
 * restart).  It is back for a device that holds I/O: InitWait, or
 * Connected (still on rings a failed attempt gave up). */
static inline bool xenbus_otherend_left(enum xenbus_state s)
{
    return s == XenbusStateClosing || s == XenbusStateClosed || s == XenbusStateInitWait;
}
static inline bool xenbus_otherend_back(enum xenbus_state s)
{
    return s == XenbusStateInitWait || s == XenbusStateConnected;
}
void xenbus_dev_mark_lost(struct xenbus_dev *d);
bool xenbus_dev_take_lost(struct xenbus_dev *d);
unsigned xenbus_dev_initwaits(struct xenbus_dev *d);
void xenbus_dev_reconnect_failed(struct xenbus_dev *d, unsigned initwaits_before, int err,
                                 gp_work_fn again, void *arg);
/* A new instance on a node an earlier one left Closed (a driver reloaded,
 * a device restarted with other settings): switch it to Initialising, or
 * the backend waits in Closed and never offers InitWait again. */
int xenbus_dev_reopen(struct xenbus_dev *d);
/* Remove, inside transaction t, the keys of the frontend node an earlier
 * connection wrote that the new one may not write (other queue count,
 * ring size, channel layout): the backend would take them for ours.
 * Removes each name in keys[] and every name starting with a prefix in
 * prefixes[]. */
int xenbus_rm_stale(struct xenbus_dev *d, xs_txn_t t, const char *const *keys, unsigned nkeys,
                    const char *const *prefixes, unsigned nprefixes);
/* Wait until the backend reaches one of the states in 'mask' (bit per
 * state) or timeout; returns the state reached or GP_ETIMEDOUT. */
int xenbus_wait_otherend(struct xenbus_dev *d, uint32_t mask, uint64_t timeout_ns);
#define XENBUS_MASK(s) (1u << (s))
/* Close the connection the way backends take it, so that the grants of
 * the rings and pages can be ended: Closing, then wait for the backend to
 * leave Connected (Linux's backends unmap and say Closing); then Closed,
 * and wait for the backend to say Closed, to be gone, or to offer a new
 * connection (QEMU's backends unmap only once the frontend says Closed).
 * Returns 0, or GP_ETIMEDOUT after timeout_ns (logged: the backend may
 * still map our pages). */
int xenbus_dev_close(struct xenbus_dev *d, uint64_t timeout_ns);

/* Feature helpers on the backend's (otherend) keys.  A missing key gives
 * the default; a malformed or out-of-range one logs an error and gives
 * GP_EINVAL. */
int xenbus_read_otherend_u64(struct xenbus_dev *d, const char *key, uint64_t def,
                             uint64_t max, uint64_t *out);
bool xenbus_otherend_feature(struct xenbus_dev *d, const char *key);  /* "1" = true */
/* Write under our own node, e.g. xenbus_printf(d, t, "ring-ref", "%u", ref). */
int xenbus_printf(struct xenbus_dev *d, xs_txn_t t, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- enumeration of device/<type>/<id> -------------------------------- */
/* fn(arg, type, id, true/false) for each device that appears or goes.  The
 * devices present when xenbus_enum_start is called are reported before it
 * returns (from the caller's context); later changes from the deferred
 * worker, one at a time. */
struct xenbus_enum;
typedef void (*xenbus_enum_fn)(void *arg, const char *type, const char *id, bool present);
int xenbus_enum_start(const struct gp_platform *p, struct xs_client *xs, const char *type,
                      xenbus_enum_fn fn, void *arg, struct xenbus_enum **out);
void xenbus_enum_stop(struct xenbus_enum *e);
/* A vbd the toolstack created as a CD-ROM (its frontend node says
 * device-type "cdrom").  The bus driver leaves those to QEMU's emulated
 * drive, which the unplug keeps, rather than showing the same CD twice. */
bool xenbus_vbd_is_cdrom(struct xs_client *xs, const char *nodename);

#endif
