/*
 * xenbus: the frontend side of the xenbus protocol on top of xs.
 *
 * A struct xenbus_dev is one device/<type>/<id> node.  It finds the
 * backend ("backend" and "backend-id" keys, validated), watches the
 * backend's "state", and owns the device's lifecycle (enum xenbus_life,
 * core/xenbus/xenbus_life.c): a frontend (blkfront, netfront) supplies its
 * own steps in a struct xenbus_frontend_ops (hold I/O, give up the rings,
 * connect them and re-issue) and tells the machine when it connected,
 * suspends, resumes and closes; the machine decides, from the backend's
 * state, when I/O is held and when to reconnect, retry or give up.
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

/* A device's lifecycle, one named step at a time (xenbus_life_name):
 *   CLOSED -> INITIALISING (xenbus_dev_init) -> CONNECTED (first connect)
 *   CONNECTED -> LOST (backend Closing/Closed, or InitWait folded into
 *     one watch event: I/O held) -> RECONNECTING (backend InitWait or
 *     Connected again: a deferred reconnect) -> CONNECTED, or LOST again
 *     when it failed and is not retried
 *   CONNECTED -> SUSPENDED (save; a LOST device stays LOST) -> CONNECTED
 *     (cancelled: resumed in place)
 *     or -> RECONNECTING (a restored domain) -> CONNECTED
 *   any -> CLOSING (destroy) -> CLOSED (xenbus_dev_teardown)
 * Every move is logged at debug level ("from -> to"); a move the table
 * does not allow is refused with an error in the log (docs/architecture.md,
 * "Device lifecycle"). */
enum xenbus_life {
    XENBUS_LIFE_CLOSED,
    XENBUS_LIFE_INITIALISING,
    XENBUS_LIFE_CONNECTED,
    XENBUS_LIFE_SUSPENDED,
    XENBUS_LIFE_LOST,
    XENBUS_LIFE_RECONNECTING,
    XENBUS_LIFE_CLOSING,
    XENBUS_LIFE_COUNT
};

/* What a frontend does at each step; fe is the arg of xenbus_dev_init.
 * All are called at [passive] level from the machine, never two at once
 * for one device except as documented by xenbus_life_resume. */
struct xenbus_frontend_ops {
    const char *name;                                   /* "blkfront": for the log */
    /* The backend left a connected device: stop using the rings and keep
     * every request for re-issue (those the backend may have completed
     * are the frontend's to settle). */
    void (*hold)(void *fe);
    /* Give up the rings before a reconnect.  new_domain: a restored
     * domain, whose grant refs and ports are gone with the old one;
     * otherwise end every grant (what is still mapped is quarantined). */
    void (*release)(void *fe, bool new_domain);
    /* Connect: wait for InitWait, set up and publish rings, wait for
     * Connected, call xenbus_life_connected, re-issue what is held. */
    int (*connect)(void *fe, uint64_t timeout_ns);
    /* Optional: every change of the backend's state, as read. */
    void (*changed)(void *fe, struct xenbus_dev *d, enum xenbus_state s);
};

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
    const struct xenbus_frontend_ops *ops;
    void *arg;
    struct xs_watch *state_watch;
    struct gp_lock *lock;
    struct gp_event *state_event;       /* signalled on every backend change */
    unsigned deferred;                  /* deferred work not yet run (under lock) */
    struct gp_event *deferred_idle;     /* signalled when it drops to 0 */
    enum xenbus_life life;              /* the lifecycle step (under lock) */
    unsigned initwaits;                 /* times theirs became InitWait (under lock) */
    unsigned retries;                   /* reconnects retried since the last loss */
};

const char *xenbus_state_name(enum xenbus_state s);
const char *xenbus_life_name(enum xenbus_life l);

/* Read and validate backend/backend-id of nodename; set up the watch.
 * ops (may be NULL: a bare node, no lifecycle) and arg stay the owner's. */
int xenbus_dev_init(struct xenbus_dev *d, const struct gp_platform *p, struct xs_client *xs,
                    const char *nodename, const struct xenbus_frontend_ops *ops, void *arg);
void xenbus_dev_teardown(struct xenbus_dev *d);
/* Re-read the backend path (after resume or migration). */
int xenbus_dev_refresh_otherend(struct xenbus_dev *d);

/* Write our state.  Outside a transaction (t = XS_TXN_NONE) only while the
 * node exists: GP_ENOENT once the toolstack removed it (hot-remove), which
 * is not created again. */
int xenbus_switch_state(struct xenbus_dev *d, xs_txn_t t, enum xenbus_state s);
/* ---- the lifecycle (core/xenbus/xenbus_life.c) ------------------------ */
enum xenbus_life xenbus_life_state(struct xenbus_dev *d);
/* [passive] A connect's two waits for the backend, each logging why it
 * failed: it offers itself (InitWait, or still Connected); after our rings
 * are published, it connects (GP_EIO if it closes instead). */
int xenbus_life_wait_offer(struct xenbus_dev *d, uint64_t timeout_ns);
int xenbus_life_wait_connected(struct xenbus_dev *d, uint64_t timeout_ns);
/* The frontend's connect succeeded (INITIALISING or RECONNECTING ->
 * CONNECTED). */
void xenbus_life_connected(struct xenbus_dev *d);
/* Save/restore: CONNECTED -> SUSPENDED; a cancelled suspend resumes in
 * place: SUSPENDED (or LOST) -> CONNECTED. */
void xenbus_life_suspend(struct xenbus_dev *d);
void xenbus_life_resume_in_place(struct xenbus_dev *d);
/* [passive] The owner reconnects now (a restored domain: new_domain):
 * -> RECONNECTING, then the ops' hold, (a backend still Connected to
 * rings given up is closed first), release, a fresh backend path,
 * Initialising and connect; a failure leaves the device INITIALISING
 * (the owner's to retry), or LOST if it was (its backend's next InitWait
 * reconnects it).  The backend's own restarts are reconnected by
 * the machine itself, deferred. */
int xenbus_life_resume(struct xenbus_dev *d, bool new_domain, uint64_t timeout_ns);
/* [passive] Destroy begins: -> CLOSING (no reconnect starts from now on),
 * then wait until a reconnect in progress has finished. */
void xenbus_life_close(struct xenbus_dev *d);

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
