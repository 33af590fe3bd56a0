/*
 * sim_xenstored: the simulator's xenstore daemon.  A node tree with
 * permissions, transactions (EAGAIN on a conflicting commit), watches
 * (fired once when added, then on every change at or below their path,
 * plus @introduceDomain/@releaseDomain), serving each domain either over
 * the shared ring page the way the real daemon does, or over a direct
 * in-process byte stream (what /dev/xen/xenbus gives dom0).  Requests are
 * processed on xenstored's own worker thread, so replies are asynchronous.
 */
#ifndef GPLPV_SIM_XENSTORED_H
#define GPLPV_SIM_XENSTORED_H

#include "gplpv/platform.h"

#include <xen/io/xs_wire.h>

struct sim_xenstored;

struct sim_xenstored *sim_xenstored_create(uint64_t seed);
void sim_xenstored_destroy(struct sim_xenstored *s);

/* Create /local/domain/<domid> owned by the domain; fire @introduceDomain. */
int sim_xenstored_introduce(struct sim_xenstored *s, gp_domid_t domid);
/* Remove the domain's node and connections; fire @releaseDomain. */
void sim_xenstored_release(struct sim_xenstored *s, gp_domid_t domid);

/* Serve 'domid' on its ring page.  notify(arg) is called whenever
 * xenstored has produced output or consumed input (the hypervisor turns it
 * into an event on the store channel). */
int sim_xenstored_connect_ring(struct sim_xenstored *s, gp_domid_t domid,
                               struct xenstore_domain_interface *ring,
                               void (*notify)(void *arg), void *arg);
/* The guest notified its store channel. */
void sim_xenstored_ring_kick(struct sim_xenstored *s, gp_domid_t domid);
/* Forget the ring of 'domid' (its pending output is dropped). */
void sim_xenstored_disconnect(struct sim_xenstored *s, gp_domid_t domid);

/* A direct byte-stream connection acting as 'domid'; owned by xenstored
 * (freed on release/destroy).  Several may exist per domain. */
struct gp_xs_transport *sim_xenstored_direct(struct sim_xenstored *s, gp_domid_t domid);
void sim_xenstored_direct_close(struct sim_xenstored *s, struct gp_xs_transport *t);

/* Fault injection: corrupt this fraction (ppm) of replies (bad length,
 * unknown type, wrong req_id, truncated error), delay replies up to
 * delay_us.  0 switches off. */
void sim_xenstored_set_faults(struct sim_xenstored *s, uint32_t corrupt_ppm, uint32_t delay_us);

/* Test access to the tree, bypassing permissions (as a toolstack in dom0
 * would, but synchronous).  Reads return a malloc'ed string or NULL. */
char *sim_xenstored_peek(struct sim_xenstored *s, const char *path);
int sim_xenstored_poke(struct sim_xenstored *s, const char *path, const char *value);
int sim_xenstored_poke_rm(struct sim_xenstored *s, const char *path);

struct sim_xenstored_stats {
    uint64_t requests, errors, watch_events, txn_conflicts, corrupted;
    uint64_t duplicate_events;  /* dropped: identical to one still queued */
};
void sim_xenstored_get_stats(struct sim_xenstored *s, struct sim_xenstored_stats *st);
/* The watches and open transactions of a guest's ring connection. */
void sim_xenstored_conn_state(struct sim_xenstored *s, gp_domid_t domid, unsigned *watches,
                              unsigned *txns);

#endif
