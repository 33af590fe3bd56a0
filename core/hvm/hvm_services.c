/*
 * hvm_services: the Xen services (struct gp_xen) on an HVM guest, served
 * by the core's own grant table and event channel modules (the xenstore
 * transport is the xs_ring set up by hvm_platform.c).  struct hvm owns
 * the object; hvm_platform_xen hands it to the shell.
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

void hvm_services_fill(struct hvm *h, struct gp_xen *x)
{
    x->ctx = h;
    x->grant_access = hvm_grant_access;
    x->grant_end = hvm_grant_end;
    x->evtchn_alloc_unbound = hvm_evtchn_alloc_unbound;
    x->evtchn_bind = hvm_evtchn_bind;
    x->evtchn_unbind = hvm_evtchn_unbind;
    x->evtchn_release = hvm_evtchn_release;
    x->evtchn_notify = hvm_evtchn_notify;
    x->evtchn_mask = hvm_evtchn_mask;
    x->evtchn_unmask = hvm_evtchn_unmask;
    x->self_domid = hvm_self_domid;
}
