/* Inside core/hvm: the state of an attached HVM platform. */
#ifndef GPLPV_HVM_INTERNAL_H
#define GPLPV_HVM_INTERNAL_H

#include "gplpv/evtchn.h"
#include "gnttab/gnttab.h"
#include "gplpv/hvm.h"
#include "gplpv/log.h"

#define HVM_MAX_GRANT_FRAMES 64

struct hvm {
    struct gp_platform *plat;      /* &own */
    struct gp_platform own;        /* the shell's os and arch, our xen */
    struct gp_xen xen;             /* what hvm_platform_xen hands out */
    struct hvm_opts opts;
    struct hvm_info info;
    void *shared_info;             /* the page we gave up for shared_info */
    uint64_t shared_info_gfn;
    void *grant_va[HVM_MAX_GRANT_FRAMES];
    uint64_t grant_gfn[HVM_MAX_GRANT_FRAMES];
    unsigned grant_frames;
    struct gnttab *gnttab;
    struct evtchn *evtchn;
    struct gp_upcall_route route;
    bool per_vcpu_vector;
    uint64_t store_pfn;
    gp_port_t store_port;
    void *store_va;
    struct gp_xs_transport *xs;    /* our ring transport (NULL if opts.xs) */
    uint64_t console_pfn;
    gp_port_t console_port;
    gp_domid_t domid;
};

/* hvm_services.c: the Xen services served by h's gnttab and evtchn (x->xs
 * is left alone: hvm_platform.c sets it). */
void hvm_services_fill(struct hvm *h, struct gp_xen *x);

#endif
