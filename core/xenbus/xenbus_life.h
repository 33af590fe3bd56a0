/*
 * xenbus_life: the steps of the device lifecycle inside core/xenbus (not
 * for the frontends, which use the xenbus_life_* calls of gplpv/xenbus.h,
 * nor the shells).  xenbus_dev.c's state watch hands every backend change
 * to xenbus_life_otherend; tests/xenbus drives the steps one by one.
 */
#ifndef GPLPV_XENBUS_LIFE_H
#define GPLPV_XENBUS_LIFE_H

#include "gplpv/xenbus.h"

/* Reconnects retried, backing off from 50 ms, while the backend stays in
 * InitWait or Connected without restarting; then the next InitWait. */
#define XENBUS_RECONNECT_RETRIES 6

#define XENBUS_LIFE_BIT(l) (1u << (l))

/* The one transition: if the device is in one of the states of from_mask
 * and the table allows the move, make it (logged "from -> to" at debug
 * level) and return true.  A device not in from_mask is left quietly
 * (the caller asked "if"); a move the table refuses is logged as an
 * error; a closing device refuses everything but CLOSED quietly (destroy
 * races with every other path by design). */
bool xenbus_life_move(struct xenbus_dev *d, uint32_t from_mask, enum xenbus_life to);

/* The backend's state changed (from the watch, deferred [passive]). */
void xenbus_life_otherend(struct xenbus_dev *d, enum xenbus_state s);

/* Read the backend's state now and note it (xenbus_dev.c). */
int xenbus_dev_poll_otherend(struct xenbus_dev *d);

/* Work a device defers (a reconnect after a backend restart) is counted
 * so the device is never freed under it: xenbus_dev_defer schedules
 * fn(arg) through the platform and counts it until it has run;
 * xenbus_dev_drain_deferred waits (passive) until none is left
 * (xenbus_life_close calls it once the device is CLOSING). */
int xenbus_dev_defer(struct xenbus_dev *d, gp_work_fn fn, void *arg);
void xenbus_dev_drain_deferred(struct xenbus_dev *d);

/* The two readings of a backend state change the machine acts on.  The
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

/* The backend closed under a connected device: CONNECTED -> LOST (true
 * once per loss; the retry count starts again). */
bool xenbus_dev_mark_lost(struct xenbus_dev *d);
/* The backend offers itself again: LOST -> RECONNECTING (true once per
 * loss: the caller defers the reconnect). */
bool xenbus_dev_take_lost(struct xenbus_dev *d);
/* Times the backend's state became InitWait; a reconnect notes it before
 * it starts. */
unsigned xenbus_dev_initwaits(struct xenbus_dev *d);
/* A reconnect first closes a backend still Connected to rings an earlier
 * attempt gave up: we say Closed and wait for it to leave Connected. */
int xenbus_dev_close_stale(struct xenbus_dev *d, uint64_t timeout_ns);
/* A reconnect failed: log why, switch us to Closed (the backend must not
 * take up the rings given up), and defer again(arg) at once if the
 * backend restarted meanwhile (initwaits moved), or after a backoff if it
 * is in InitWait or Connected now (at most XENBUS_RECONNECT_RETRIES times;
 * the device stays RECONNECTING); otherwise RECONNECTING -> LOST, for the
 * next InitWait.  No restart is missed and no two reconnects run at once.
 * (again() must return at once on a device that is closing: the drain
 * waits for it.) */
void xenbus_dev_reconnect_failed(struct xenbus_dev *d, unsigned initwaits_before, int err,
                                 gp_work_fn again, void *arg);

#endif
