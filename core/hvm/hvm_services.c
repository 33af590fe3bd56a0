/*
 * hvm_services: the Xen services of struct gp_platform on an HVM guest,
 * served by the core's own grant table and event channel modules (the
 * xenstore transport is the xs_ring set up by hvm_platform.c).
 */
#include "hvm_internal.h"

static int hvm_grant_access(void *ctx, gp_domid_t domid, uint64_t gfn, bool readonly,
                            gp_grant_ref_t *ref)
{
    struct hvm *h = ctx;
    return gnttab_grant(h->gnttab, domid, gfn, readonly, ref);
}

static int hvm_grant_end(void *ctx, gp_grant_ref_t ref)
{
    struct hvm *h = ctx;
    return gnttab_end(h->gnttab, ref);
}

static int hvm_evtchn_alloc_unbound(void *ctx, gp_domid_t remote, gp_port_t *port)
{
    struct hvm *h = ctx;
    return evtchn_alloc_unbound(h->evtchn, remote, port);
}

static int hvm_evtchn_bind(void *ctx, gp_port_t port, gp_evtchn_handler fn, void *arg)
{
    struct hvm *h = ctx;
    return evtchn_bind(h->evtchn, port, fn, arg);
}

static void hvm_evtchn_unbind(void *ctx, gp_port_t port)
{
    struct hvm *h = ctx;
    evtchn_unbind(h->evtchn, port);
}

static void hvm_evtchn_release(void *ctx, gp_port_t port)
{
    struct hvm *h = ctx;
    evtchn_release(h->evtchn, port);
}

static void hvm_evtchn_notify(void *ctx, gp_port_t port)
{
    struct hvm *h = ctx;
    evtchn_notify(h->evtchn, port);
}

static void hvm_evtchn_mask(void *ctx, gp_port_t port)
{
    struct hvm *h = ctx;
    evtchn_mask(h->evtchn, port);
}

static void hvm_evtchn_unmask(void *ctx, gp_port_t port)
{
    struct hvm *h = ctx;
    evtchn_unmask(h->evtchn, port);
}

static gp_domid_t hvm_self_domid(void *ctx)
{
    struct hvm *h = ctx;
    return h->domid;
}

void hvm_services_fill(struct hvm *h)
{
    struct gp_platform *p = h->plat;
    p->xen_ctx = h;
    p->grant_access = hvm_grant_access;
    p->grant_end = hvm_grant_end;
    p->evtchn_alloc_unbound = hvm_evtchn_alloc_unbound;
    p->evtchn_bind = hvm_evtchn_bind;
    p->evtchn_unbind = hvm_evtchn_unbind;
    p->evtchn_release = hvm_evtchn_release;
    p->evtchn_notify = hvm_evtchn_notify;
    p->evtchn_mask = hvm_evtchn_mask;
    p->evtchn_unmask = hvm_evtchn_unmask;
    p->self_domid = hvm_self_domid;
}

void hvm_services_clear(struct hvm *h)
{
    struct gp_platform *p = h->plat;
    p->grant_access = NULL;
    p->grant_end = NULL;
    p->evtchn_alloc_unbound = NULL;
    p->evtchn_bind = NULL;
    p->evtchn_unbind = NULL;
    p->evtchn_release = NULL;
    p->evtchn_notify = NULL;
    p->evtchn_mask = NULL;
    p->evtchn_unmask = NULL;
    p->self_domid = NULL;
    p->xen_ctx = NULL;
}
