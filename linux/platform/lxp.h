/*
 * lxp: the core hosted in Linux user space, inside a Xen domU.
 *
 * Its struct gp_platform has OS services (struct gp_os) from pthreads,
 * CLOCK_MONOTONIC and stderr, Xen services (struct gp_xen) from the guest
 * kernel's Xen devices, and no arch ops:
 *   /dev/xen/xenbus    the xenstore transport (xs_wire messages; the
 *                      kernel keeps our req_ids and forwards watch events)
 *   /dev/xen/evtchn    event channels (bind unbound port, notify, unbind;
 *                      a thread reads the pending ports and runs handlers)
 *   /dev/xen/gntalloc  grants.
 *
 * Grants: gntalloc cannot grant a frame we already own; it allocates a
 * fresh kernel page, grants it and lets us mmap it.  So page_alloc hands
 * out pages gntalloc allocated for the peer domain (the backend, see
 * lxp_set_peer), each mapped by itself at its place in a contiguous block
 * (multi-page rings stay contiguous), and the "gfn" it returns is only a
 * key naming the page (its address >> 12).  grant_access looks the page
 * up and returns the ref gntalloc made, after giving the page a fresh
 * backing when the caller wants another domain or another access mode
 * than the current grant has (readonly is honoured: a read-only grant is
 * a separate gntalloc page, filled with the same bytes and mapped at the
 * same address).  grant_end revokes for real the same way: the page gets
 * a fresh backing with its contents, and the old gntalloc page is
 * released (the kernel ends the grant, deferring the free while the
 * backend still maps it), so the backend cannot reach our data through a
 * grant the core has ended.  What gntalloc does not allow: a page is
 * granted to the peer from the moment page_alloc returns it, not only
 * between grant_access and grant_end.  Only pages from page_alloc can be
 * granted (the core never grants anything else).
 */
#ifndef GPLPV_LINUX_LXP_H
#define GPLPV_LINUX_LXP_H

#include "gplpv/platform.h"
#include "gplpv/xs.h"

#define LXP_NO_GNTALLOC 1u     /* xenstore only: do not open gntalloc */
#define LXP_NO_EVTCHN   2u     /* xenstore only: do not open evtchn */

struct lxp_opts {
    const char *name;          /* log prefix ("gplpv-blk") */
    enum gp_log_level level;   /* most verbose level printed (default INFO) */
    gp_domid_t peer;           /* domain new pages are granted to (default 0) */
    unsigned flags;            /* LXP_NO_* */
    unsigned chunk_pages;      /* gntalloc pages per allocation (default 64) */
};

struct lxp_stats {
    uint64_t pages, pages_in_use;      /* gntalloc-backed pages */
    uint64_t grants, grant_ends, rebacks;  /* rebacks: fresh backings (mode, domid, revoke) */
    uint64_t events, notifies, xs_bytes_in, xs_bytes_out;
    unsigned errors;                   /* GP_LOG_ERROR lines logged */
};

/* Open the devices and start the platform's threads (deferred work,
 * event channels, xenstore reader).  Returns 0 or a negative GP_E*. */
int lxp_create(const struct lxp_opts *o, struct gp_platform **out);
void lxp_destroy(struct gp_platform *p);
void lxp_set_peer(struct gp_platform *p, gp_domid_t peer);
void lxp_set_self_domid(struct gp_platform *p, gp_domid_t domid);
void lxp_get_stats(struct gp_platform *p, struct lxp_stats *s);
/* Wait until every deferred work item submitted so far has run. */
void lxp_drain(struct gp_platform *p);

/* The platform, a xenstore client on it, and our domid read from
 * xenstore ("domid" under our home). */
int lxp_open(const struct lxp_opts *o, struct gp_platform **p, struct xs_client **xs);
void lxp_close(struct gp_platform *p, struct xs_client *xs);

/* Read device/<type>/<id>/backend-id (the peer to grant pages to). */
int lxp_backend_id(struct xs_client *xs, const char *nodename, gp_domid_t *out);

#endif
