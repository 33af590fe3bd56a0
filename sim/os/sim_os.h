/*
 * sim_os: the OS services (struct gp_os) of a simulated domain, built on
 * pthreads: zeroed allocation, a page pool with small frame numbers (so
 * they fit grant v1 entries), spin locks, auto-reset events, monotonic
 * time, logging to stderr, and one worker thread for defer().
 *
 * The arch ops come from the simulated hypervisor (sim/hv) and the Xen
 * services from the core's HVM bring-up; a test that needs only OS services (a
 * xenstore client over an in-memory ring, say) can use sim_os alone.
 */
#ifndef GPLPV_SIM_OS_H
#define GPLPV_SIM_OS_H

#include "gplpv/platform.h"

struct sim_os;

/* 'pages' is the size of the page pool; frames are numbered from
 * base_gfn.  'name' prefixes log lines. */
struct sim_os *sim_os_create(const char *name, unsigned pages, uint64_t base_gfn, bool quiet);
/* Stops the worker after running the work already queued. */
void sim_os_destroy(struct sim_os *os);
/* Point p->os at os's OS services (alloc ... defer, va_to_gfn); p->xen
 * and p->arch are left alone. */
void sim_os_fill(struct sim_os *os, struct gp_platform *p);

/* The pool, for the hypervisor side: frame <-> address. */
void *sim_os_gfn_to_va(struct sim_os *os, uint64_t gfn);
bool sim_os_va_to_gfn(struct sim_os *os, const void *va, uint64_t *gfn);
unsigned sim_os_pages_in_use(struct sim_os *os);
/* Wait until every deferred work item queued so far has run. */
void sim_os_drain(struct sim_os *os);
/* Count of log lines at ERROR level (tests check that bad input was reported). */
unsigned sim_os_error_count(struct sim_os *os);
/* Count of log lines at WARN level (a flood a peer provokes must stay bounded). */
unsigned sim_os_warn_count(struct sim_os *os);
void sim_os_set_quiet(struct sim_os *os, bool quiet);
/* While on, page_alloc fails: code that must get by with the pages it
 * holds (the resume from hibernation: shared_info, grant frames, rings and
 * buffers are all kept from before).  Returns the page allocations
 * refused since the last call. */
unsigned sim_os_set_no_pages(struct sim_os *os, bool on);

#endif
