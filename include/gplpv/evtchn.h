/*
 * evtchn: event channels with the 2-level ABI over shared_info and
 * vcpu_info, as the bus driver runs them on HVM.  The platform's
 * interrupt calls evtchn_upcall(vcpu); pending ports are served fairly
 * (each pass serves every pending port once, starting after the last one
 * served) and their per-port handlers run with the pending bit cleared.
 */
#ifndef GPLPV_EVTCHN_H
#define GPLPV_EVTCHN_H

#include "gplpv/platform.h"

struct evtchn;
struct shared_info;

struct evtchn_stats {
    uint64_t upcalls, events, unhandled;
    uint64_t ignored;        /* upcalls while suspended */
    uint64_t cut_short;      /* upcalls that stopped after EVTCHN_UPCALL_PASSES */
};

int evtchn_create(const struct gp_platform *p, struct shared_info *shi, struct evtchn **out);
void evtchn_destroy(struct evtchn *e);
/* Before SCHEDOP_shutdown(suspend): the shared page may be gone when the
 * domain comes back (a restored domain has no shared_info mapped until
 * the platform maps it again; reads there give all ones), so upcalls are
 * ignored from now on (an interrupt the old domain left pending may come
 * first), until evtchn_resume or, when the suspend was cancelled,
 * evtchn_resume_in_place. */
void evtchn_suspend(struct evtchn *e);
void evtchn_resume_in_place(struct evtchn *e);
/* After restore: shared_info re-mapped (maybe elsewhere); all ports are
 * gone, so every handler is forgotten. */
void evtchn_resume(struct evtchn *e, struct shared_info *shi);

/* Serve the vCPU's pending ports.  Returns after EVTCHN_UPCALL_PASSES
 * passes even if upcall_pending stays set (an event storm, or a page
 * that reads all ones): Xen raises the upcall again while it is set. */
#define EVTCHN_UPCALL_PASSES 16
void evtchn_upcall(struct evtchn *e, unsigned vcpu);
/* For an interrupt handler that may not run port handlers (Windows ISR at
 * DIRQL): clear the vCPU's upcall_pending (so a level-triggered callback
 * line drops) and say whether it was set; the caller then schedules
 * evtchn_upcall() at a level where handlers may run.  Nothing is lost:
 * evtchn_upcall() scans the pending selector whatever upcall_pending says. */
bool evtchn_upcall_ack(struct evtchn *e, unsigned vcpu);

int evtchn_alloc_unbound(struct evtchn *e, gp_domid_t remote, gp_port_t *port);
int evtchn_bind_interdomain(struct evtchn *e, gp_domid_t remote, gp_port_t remote_port,
                            gp_port_t *port);
/* Install the handler and unmask (a pending event is delivered). */
int evtchn_bind(struct evtchn *e, gp_port_t port, gp_evtchn_handler fn, void *arg);
/* Mask, forget the handler (waiting for a running one), close.  The
 * caller must not hold a lock the handler takes. */
void evtchn_unbind(struct evtchn *e, gp_port_t port);
/* Mask and forget the handler (waiting for a running one) but leave the
 * channel open in Xen: a channel of the domain's, such as xenstore's. */
void evtchn_release(struct evtchn *e, gp_port_t port);
void evtchn_notify(struct evtchn *e, gp_port_t port);
void evtchn_mask(struct evtchn *e, gp_port_t port);
void evtchn_unmask(struct evtchn *e, gp_port_t port);
int evtchn_bind_vcpu(struct evtchn *e, gp_port_t port, unsigned vcpu);
unsigned evtchn_max_ports(void);
void evtchn_get_stats(struct evtchn *e, struct evtchn_stats *s);

#endif
