/*
 * hvm_platform: attach the core to an HVM guest (see include/gplpv/hvm.h).
 * Order: detect, hypercalls (the instruction of the CPU's vendor, or the
 * hypercall page), shared_info, grant frames, event channels + upcall
 * route, xenstore ring; each step reports and unwinds.
 */
#include <string.h>

#include "gplpv/hypercall.h"
#include "xenstore/xs_ring.h"
#include "hvm_internal.h"

#include <xen/grant_table.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/memory.h>
#include <xen/version.h>

static void hvm_report(struct hvm *h, hvm_step_fn step, void *arg, const char *name, int err,
                       const char *detail)
{
    if (err)
        GP_ERR(h->plat, "hvm: %s failed: %s (%s)", name, detail, gp_strerror(err));
    else
        GP_INFO(h->plat, "hvm: %s: %s", name, detail);
    if (step)
        step(arg, name, err, detail);
}

static int hvm_get_param(struct hvm *h, uint32_t index, uint64_t *value)
{
    struct xen_hvm_param a = { .domid = DOMID_SELF, .index = index };
    long rc = gp_hvm_op(h->plat, HVMOP_get_param, &a);
    if (rc)
        return gp_error_from_xen(rc);
    *value = a.value;
    return 0;
}

static int hvm_set_param(struct hvm *h, uint32_t index, uint64_t value)
{
    struct xen_hvm_param a = { .domid = DOMID_SELF, .index = index, .value = value };
    long rc = gp_hvm_op(h->plat, HVMOP_set_param, &a);
    return rc ? gp_error_from_xen(rc) : 0;
}

static int hvm_add_to_physmap(struct hvm *h, unsigned space, unsigned long idx, uint64_t gfn)
{
    struct xen_add_to_physmap a = {
        .domid = DOMID_SELF, .size = 0, .space = space, .idx = idx, .gpfn = (xen_pfn_t)gfn,
    };
    long rc = gp_memory_op(h->plat, XENMEM_add_to_physmap, &a);
    return rc ? gp_error_from_xen(rc) : 0;
}

/* Vendors whose CPUs Xen runs HVM guests on, and their instruction:
 * VT-x's VMCALL, AMD-V's VMMCALL. */
static const struct {
    char vendor[13];
    enum gp_hypercall_via via;
} hvm_vendors[] = {
    { "GenuineIntel", GP_HYPERCALL_VMCALL },
    { "CentaurHauls", GP_HYPERCALL_VMCALL },
    { "  Shanghai  ", GP_HYPERCALL_VMCALL },     /* Zhaoxin */
    { "AuthenticAMD", GP_HYPERCALL_VMMCALL },
    { "HygonGenuine", GP_HYPERCALL_VMMCALL },
};

enum gp_hypercall_via hvm_hypercall_via_for(const char *cpu_vendor)
{
    for (size_t i = 0; i < sizeof(hvm_vendors) / sizeof(hvm_vendors[0]); i++)
        if (!strncmp(cpu_vendor, hvm_vendors[i].vendor, 12))
            return hvm_vendors[i].via;
    return GP_HYPERCALL_PAGE;
}

const char *hvm_hypercall_via_name(enum gp_hypercall_via via)
{
    switch (via) {
    case GP_HYPERCALL_VMCALL:
        return "VMCALL";
    case GP_HYPERCALL_VMMCALL:
        return "VMMCALL";
    case GP_HYPERCALL_PAGE:
        return "page";
    default:
        return "none";
    }
}

/* Choose how hypercalls are made, once: the instruction of the CPU's
 * vendor (no memory both writable and executable: Windows' memory
 * integrity allows no other), Xen's hypercall page only for a vendor not
 * in the table (or when asked).  'd' receives the step's detail. */
static int hvm_setup_hypercalls(struct hvm *h, char *d, size_t dlen)
{
    struct gp_platform *p = h->plat;
    enum gp_hypercall_via via = h->opts.hypercall_page ? GP_HYPERCALL_PAGE
                                                       : hvm_hypercall_via_for(h->info.cpu_vendor);
    if (via == GP_HYPERCALL_PAGE)
        gp_snprintf(d, dlen, "page at MSR %x (CPU vendor \"%s\"%s)", h->info.hypercall_msr,
                    h->info.cpu_vendor, h->opts.hypercall_page ? ", page asked for" : " unknown");
    else
        gp_snprintf(d, dlen, "%s (CPU vendor %s)", hvm_hypercall_via_name(via), h->info.cpu_vendor);
    if (!p->arch->set_hypercall)
        return GP_ENOTSUP;
    if (via == GP_HYPERCALL_PAGE && (h->info.hypercall_pages != 1 || !p->arch->wrmsr))
        return GP_ENOTSUP;
    uint64_t gfn = 0;
    int err = gp_arch_set_hypercall(p, via, &gfn);
    if (err)
        return err;
    h->info.hypercall_via = via;
    if (via == GP_HYPERCALL_PAGE)
        gp_arch_wrmsr(p, h->info.hypercall_msr, gfn << GP_PAGE_SHIFT);
    /* Prove it works and agrees with CPUID. */
    long v = gp_xen_version(p, XENVER_version, NULL);
    if (v < 0 || (unsigned)(v >> 16) != h->info.major ||
        (unsigned)(v & 0xffff) != h->info.minor) {
        GP_ERR(p, "hvm: xen_version by %s gave %ld", hvm_hypercall_via_name(via), v);
        return GP_EIO;
    }
    return 0;
}

static int hvm_map_shared_info(struct hvm *h)
{
    struct gp_platform *p = h->plat;
    if (!h->shared_info) {
        h->shared_info = gp_os_page_alloc(p, &h->shared_info_gfn);
        if (!h->shared_info)
            return GP_ENOMEM;
    }
    return hvm_add_to_physmap(h, XENMAPSPACE_shared_info, 0, h->shared_info_gfn);
}

static int hvm_map_grant_frames(struct hvm *h, bool again)
{
    struct gp_platform *p = h->plat;
    if (!again) {
        struct gnttab_query_size q = { .dom = DOMID_SELF };
        long rc = gp_grant_table_op(p, GNTTABOP_query_size, &q, 1);
        if (rc || q.status != GNTST_okay) {
            GP_ERR(p, "hvm: GNTTABOP_query_size failed (%ld, status %d)", rc, q.status);
            return rc ? gp_error_from_xen(rc) : GP_EIO;
        }
        unsigned want = h->opts.grant_frames ? h->opts.grant_frames : 32;
        if (want > q.max_nr_frames)
            want = q.max_nr_frames;
        if (want > HVM_MAX_GRANT_FRAMES)
            want = HVM_MAX_GRANT_FRAMES;
        if (want == 0)
            return GP_ENOSPC;
        h->grant_frames = want;
    }
    for (unsigned i = 0; i < h->grant_frames; i++) {
        if (!h->grant_va[i]) {
            h->grant_va[i] = gp_os_page_alloc(p, &h->grant_gfn[i]);
            if (!h->grant_va[i])
                return GP_ENOMEM;
        }
        int err = hvm_add_to_physmap(h, XENMAPSPACE_grant_table, i, h->grant_gfn[i]);
        if (err)
            return err;
    }
    if (again) {
        gnttab_reset(h->gnttab);
        return 0;
    }
    return gnttab_create(p, h->grant_va, h->grant_frames, &h->gnttab);
}

static void hvm_upcall(void *arg, unsigned vcpu)
{
    struct hvm *h = arg;
    evtchn_upcall(h->evtchn, vcpu);
}

bool hvm_upcall_ack(void *upcall_arg, unsigned vcpu)
{
    struct hvm *h = upcall_arg;
    return evtchn_upcall_ack(h->evtchn, vcpu);
}

/* Serve what is pending on every vCPU (events that came while no upcall
 * could take them). */
static void hvm_serve_pending(struct hvm *h)
{
    struct gp_platform *p = h->plat;
    const struct gp_arch *a = p->arch;
    unsigned n = a && a->vcpu_count ? gp_arch_vcpu_count(p) : 1;
    for (unsigned v = 0; v < n && v < XEN_LEGACY_MAX_VCPUS; v++)
        if (GP_READ_ONCE(((struct shared_info *)h->shared_info)->vcpu_info[v].evtchn_upcall_pending))
            evtchn_upcall(h->evtchn, v);
}

/* Per-vCPU upcall vectors where the platform takes them (Windows 7 and
 * later deliver them with any affinity), else the global callback via. */
static int hvm_route_upcall(struct hvm *h)
{
    struct gp_platform *p = h->plat;
    const struct gp_arch *a = p->arch;
    if (!a->set_upcall)
        return GP_ENOTSUP;
    memset(&h->route, 0, sizeof(h->route));
    int err = gp_arch_set_upcall(p, hvm_upcall, h, &h->route);
    if (err)
        return err;
    h->per_vcpu_vector = false;
    if (h->route.vector) {
        unsigned n = a->vcpu_count ? gp_arch_vcpu_count(p) : 1;
        bool ok = true;
        for (unsigned v = 0; v < n && ok; v++) {
            struct xen_hvm_evtchn_upcall_vector u = { .vcpu = v, .vector = h->route.vector };
            ok = gp_hvm_op(p, HVMOP_set_evtchn_upcall_vector, &u) == 0;
        }
        h->per_vcpu_vector = ok;
        if (!ok)
            GP_INFO(p, "hvm: per-vCPU upcall vectors refused: using the callback via");
    }
    /* The callback via is set even when per-vCPU vectors take precedence:
     * the toolstack reads HVM_PARAM_CALLBACK_IRQ to learn that PV drivers
     * run (without it `xl shutdown` refuses: "PV control interface not
     * available"). */
    if (!h->route.callback_via && !h->per_vcpu_vector)
        return GP_ENOTSUP;
    if (h->route.callback_via) {
        err = hvm_set_param(h, HVM_PARAM_CALLBACK_IRQ, h->route.callback_via);
        if (err && !h->per_vcpu_vector)
            return err;
    }
    if (a->upcall_mode)
        gp_arch_upcall_mode(p, h->per_vcpu_vector);
    /* Events that arrived before the route existed left upcall_pending
     * set, and Xen only interrupts on its 0 -> 1 edge: serve them now. */
    hvm_serve_pending(h);
    return 0;
}

static int hvm_connect_store(struct hvm *h)
{
    struct gp_platform *p = h->plat;
    uint64_t port = 0, pfn = 0;
    int err = hvm_get_param(h, HVM_PARAM_STORE_PFN, &pfn);
    if (!err)
        err = hvm_get_param(h, HVM_PARAM_STORE_EVTCHN, &port);
    if (err)
        return err;
    if (pfn == 0 || port == 0 || port >= evtchn_max_ports()) {
        GP_ERR(p, "hvm: xenstore parameters missing (pfn %llx, port %llu)",
               (unsigned long long)pfn, (unsigned long long)port);
        return GP_ENODEV;
    }
    if (h->store_va && pfn != h->store_pfn) {     /* restored with the page elsewhere */
        if (p->arch->unmap_gfn)
            gp_arch_unmap_gfn(p, h->store_va);
        h->store_va = NULL;
    }
    h->store_pfn = pfn;
    h->store_port = (gp_port_t)port;
    if (!h->store_va) {
        h->store_va = p->arch->map_gfn ? gp_arch_map_gfn(p, h->store_pfn) : NULL;
        if (!h->store_va)
            return GP_ENOMEM;
    }
    if (h->xs)                          /* a restored domain: same transport, new ring */
        err = xs_ring_reconnect(h->xs, h->store_va, h->store_port);
    else
        err = xs_ring_create(p, h->store_va, h->store_port, &h->xs);
    if (err)
        return err;
    h->xen.xs = h->xs;
    return 0;
}

int hvm_platform_attach(const struct gp_platform *shell, const struct hvm_opts *o,
                        hvm_step_fn step, void *step_arg, struct hvm **out)
{
    struct hvm *h = gp_zalloc(shell, sizeof(*h));
    if (!h)
        return GP_ENOMEM;
    /* Our own view: the shell's OS services and arch, our Xen services. */
    h->own = (struct gp_platform){ .os = shell->os, .xen = &h->xen, .arch = shell->arch };
    h->plat = &h->own;
    struct gp_platform *p = h->plat;
    h->domid = DOMID_SELF;
    if (o)
        h->opts = *o;
    h->xen.xs = h->opts.xs;
    char d[96];
    int err = hvm_detect(p, &h->info);
    gp_snprintf(d, sizeof(d), "Xen %u.%u at CPUID %x", h->info.major, h->info.minor,
                h->info.cpuid_base);
    hvm_report(h, step, step_arg, "detect", err, err ? "no usable Xen" : d);
    if (err)
        goto fail;
    err = hvm_setup_hypercalls(h, d, sizeof(d));
    hvm_report(h, step, step_arg, "hypercall", err, d);
    if (err)
        goto fail;
    err = hvm_map_shared_info(h);
    gp_snprintf(d, sizeof(d), "at gfn %llx", (unsigned long long)h->shared_info_gfn);
    hvm_report(h, step, step_arg, "shared-info", err, d);
    if (err)
        goto fail;
    err = hvm_map_grant_frames(h, false);
    gp_snprintf(d, sizeof(d), "%u frames", h->grant_frames);
    hvm_report(h, step, step_arg, "grant-frames", err, d);
    if (err)
        goto fail;
    err = evtchn_create(p, h->shared_info, &h->evtchn);
    if (!err) {
        hvm_services_fill(h, &h->xen);
        err = hvm_route_upcall(h);
    }
    gp_snprintf(d, sizeof(d), "%s", h->per_vcpu_vector ? "per-vCPU vector" : "callback via");
    hvm_report(h, step, step_arg, "upcall", err, d);
    if (err)
        goto fail;
    uint64_t cport = 0;
    if (hvm_get_param(h, HVM_PARAM_CONSOLE_PFN, &h->console_pfn) != 0)
        h->console_pfn = 0;
    if (hvm_get_param(h, HVM_PARAM_CONSOLE_EVTCHN, &cport) == 0)
        h->console_port = (gp_port_t)cport;
    if (!h->opts.xs) {
        err = hvm_connect_store(h);
        gp_snprintf(d, sizeof(d), "ring at pfn %llx, port %u", (unsigned long long)h->store_pfn,
                    h->store_port);
        hvm_report(h, step, step_arg, "xenstore", err, d);
        if (err)
            goto fail;
    }
    *out = h;
    return 0;
fail:
    hvm_platform_detach(h);
    return err;
}

/* A frame Xen put its own page at (shared_info, a grant-table frame) goes
 * back to the OS as RAM: Xen's page off the gfn, the domain's memory put
 * there again, and only then the page freed - else the OS would hand out
 * a gfn behind which Xen's page still sits (and Windows' verifier finds
 * the pool block left at unload).  If Xen refuses, the page is kept. */
static void hvm_release_frame(struct hvm *h, void *va, uint64_t gfn)
{
    struct gp_platform *p = h->plat;
    struct xen_remove_from_physmap r = { .domid = DOMID_SELF, .gpfn = (xen_pfn_t)gfn };
    long rc = gp_memory_op(p, XENMEM_remove_from_physmap, &r);
    long n = 0;
    if (!rc) {
        xen_pfn_t list[1] = { (xen_pfn_t)gfn };
        struct xen_memory_reservation res;
        memset(&res, 0, sizeof(res));
        set_xen_guest_handle(res.extent_start, list);
        res.nr_extents = 1;
        res.extent_order = 0;
        res.domid = DOMID_SELF;
        n = gp_memory_op(p, XENMEM_populate_physmap, &res);
    }
    if (rc || n != 1) {
        GP_WARN(p, "hvm: frame %llx not given back (remove %ld, populate %ld): kept",
                (unsigned long long)gfn, rc, n);
        return;
    }
    gp_os_page_free(p, va);
}

void hvm_platform_detach(struct hvm *h)
{
    if (!h)
        return;
    struct gp_platform *p = h->plat;
    h->xen.xs = NULL;
    if (h->xs)
        xs_ring_destroy(h->xs);
    if (h->store_va && p->arch && p->arch->unmap_gfn)
        gp_arch_unmap_gfn(p, h->store_va);    /* MmUnmapIoSpace on Windows */
    h->store_va = NULL;
    if (h->evtchn) {
        if (h->per_vcpu_vector || h->route.callback_via)
            hvm_set_param(h, HVM_PARAM_CALLBACK_IRQ, 0);
        struct gp_upcall_route none;
        if (p->arch && p->arch->set_upcall)
            gp_arch_set_upcall(p, NULL, NULL, &none);
        evtchn_destroy(h->evtchn);
    }
    gnttab_destroy(h->gnttab);
    for (unsigned i = 0; i < h->grant_frames; i++)
        if (h->grant_va[i])
            hvm_release_frame(h, h->grant_va[i], h->grant_gfn[i]);
    if (h->shared_info)
        hvm_release_frame(h, h->shared_info, h->shared_info_gfn);
    if (h->info.hypercall_via != GP_HYPERCALL_NONE) {
        uint64_t none = 0;
        gp_arch_set_hypercall(p, GP_HYPERCALL_NONE, &none);
    }
    struct gp_platform shell = h->own;     /* p points into h */
    gp_free(&shell, h);
}

void hvm_platform_suspend(struct hvm *h)
{
    evtchn_suspend(h->evtchn);
}

int hvm_platform_resume(struct hvm *h, bool cancelled)
{
    struct gp_platform *p = h->plat;
    if (cancelled) {
        evtchn_resume_in_place(h->evtchn);
        hvm_serve_pending(h);                /* what came while upcalls were ignored */
        return 0;
    }
    /* A new domain: hypercalls are made as before (the instruction needs
     * nothing; a hypercall page was saved with our memory), but
     * shared_info, grant frames, event channels and the store ring are new. */
    int err = hvm_map_shared_info(h);
    if (err) {
        GP_ERR(p, "hvm: resume: re-mapping shared_info failed: %s", gp_strerror(err));
        return err;
    }
    err = hvm_map_grant_frames(h, true);
    if (err) {
        GP_ERR(p, "hvm: resume: re-mapping grant frames failed: %s", gp_strerror(err));
        return err;
    }
    evtchn_resume(h->evtchn, h->shared_info);
    err = hvm_route_upcall(h);
    if (err) {
        GP_ERR(p, "hvm: resume: upcall route failed: %s", gp_strerror(err));
        return err;
    }
    if (!h->opts.xs) {
        err = hvm_connect_store(h);
        if (err) {
            GP_ERR(p, "hvm: resume: xenstore ring failed: %s", gp_strerror(err));
            return err;
        }
    }
    GP_INFO(p, "hvm: resumed in a new domain");
    return 0;
}

const struct gp_xen *hvm_platform_xen(const struct hvm *h)
{
    return &h->xen;
}

const struct hvm_info *hvm_get_info(const struct hvm *h)
{
    return &h->info;
}

struct gnttab *hvm_gnttab(struct hvm *h)
{
    return h->gnttab;
}

struct evtchn *hvm_evtchn(struct hvm *h)
{
    return h->evtchn;
}

bool hvm_domain_was_replaced(struct hvm *h)
{
    uint64_t via = 0;
    if (!h->route.callback_via)
        return false;                  /* per-vCPU vectors only: nothing to compare */
    if (hvm_get_param(h, HVM_PARAM_CALLBACK_IRQ, &via) != 0)
        return true;
    return via != h->route.callback_via;
}
