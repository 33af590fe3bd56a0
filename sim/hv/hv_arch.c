/* The simulated vCPU as the guest's core sees it through its arch ops:
 * CPUID leaves (the vendor, Xen's), the hypercall instructions (the one
 * the vendor's CPU has; the other is #UD), the hypercall-page MSR, the
 * hypercall dispatcher, the QEMU unplug and debug I/O ports, and the
 * upcall route. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "hv_internal.h"
#include "os/sim_os.h"

#include <xen/arch-x86/cpuid.h>
#include <xen/event_channel.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/memory.h>
#include <xen/version.h>

#define HV_HYPERCALL_MSR 0x40000000u
#define HV_UNPLUG_MAGIC 0x49d2

void hv_cpu_init(struct sim_domain *d)
{
    static const struct {
        char vendor[13];
        bool vmx;
    } cpus[] = {
        { "GenuineIntel", true }, { "CentaurHauls", true }, { "  Shanghai  ", true },
        { "AuthenticAMD", false }, { "HygonGenuine", false },
    };
    snprintf(d->cpu_vendor, sizeof(d->cpu_vendor), "%-12.12s",
             d->opts.cpu_vendor ? d->opts.cpu_vendor : "GenuineIntel");
    for (size_t i = 0; i < sizeof(cpus) / sizeof(cpus[0]); i++)
        if (!memcmp(d->cpu_vendor, cpus[i].vendor, 12)) {
            d->has_vmx = cpus[i].vmx;
            d->has_svm = !cpus[i].vmx;
        }
}

static void hv_cpuid(void *ctx, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    struct sim_domain *d = ctx;
    (void)sub;
    memset(r, 0, 4 * sizeof(uint32_t));
    if (leaf == 0) {                            /* highest basic leaf, vendor */
        r[0] = 1;
        memcpy(&r[1], d->cpu_vendor, 4);        /* EBX EDX ECX */
        memcpy(&r[3], d->cpu_vendor + 4, 4);
        memcpy(&r[2], d->cpu_vendor + 8, 4);
        return;
    }
    uint32_t base = d->opts.cpuid_base;
    if (d->opts.viridian && leaf == 0x40000000u && base != leaf) {
        r[0] = 0x40000005u;
        memcpy(&r[1], "Micr", 4);
        memcpy(&r[2], "osof", 4);
        memcpy(&r[3], "t Hv", 4);
        return;
    }
    if (d->opts.no_xen || leaf < base || leaf > base + 4)
        return;
    switch (leaf - base) {
    case 0:
        r[0] = base + 4;
        r[1] = XEN_CPUID_SIGNATURE_EBX;
        r[2] = XEN_CPUID_SIGNATURE_ECX;
        r[3] = XEN_CPUID_SIGNATURE_EDX;
        break;
    case 1:
        r[0] = (d->opts.xen_major << 16) | d->opts.xen_minor;
        break;
    case 2:
        r[0] = 1;
        r[1] = HV_HYPERCALL_MSR;
        break;
    case 4:
        r[0] = XEN_HVM_CPUID_VCPU_ID_PRESENT;
        r[1] = 0;
        break;
    }
}

static void hv_wrmsr(void *ctx, uint32_t msr, uint64_t value)
{
    struct sim_domain *d = ctx;
    if (msr != HV_HYPERCALL_MSR || d->opts.no_xen)
        return;
    atomic_fetch_add(&d->msr_writes, 1);
    pthread_mutex_lock(&d->x->lock);
    void *va = hv_gfn_to_va(d, value >> GP_PAGE_SHIFT);
    if (va && (value & 0xfff) == 0) {
        memset(va, 0xc3, GP_PAGE_SIZE);        /* what a real page would hold: stubs */
        d->hypercall_msr_written = true;
        d->hypercall_msr_writes++;
    }
    pthread_mutex_unlock(&d->x->lock);
}

/* The guest's arch code: hypercalls by instruction need nothing; the
 * page path takes a page of the domain for Xen to fill. */
static int hv_set_hypercall(void *ctx, enum gp_hypercall_via via, uint64_t *page_gfn)
{
    struct sim_domain *d = ctx;
    if (d->hcall_page && via != GP_HYPERCALL_PAGE) {
        gp_os_page_free(&d->raw, d->hcall_page);
        d->hcall_page = NULL;
        d->hypercall_msr_written = false;
    }
    if (via == GP_HYPERCALL_PAGE && !d->hcall_page) {
        d->hcall_page = gp_os_page_alloc(&d->raw, page_gfn);
        if (!d->hcall_page)
            return GP_ENOMEM;
    }
    d->hcall_via = via;
    return 0;
}

static uint32_t hv_io_in(void *ctx, uint16_t port, unsigned size)
{
    struct sim_domain *d = ctx;
    if (d->opts.no_unplug)
        return size == 1 ? 0xff : size == 2 ? 0xffff : 0xffffffffu;
    pthread_mutex_lock(&d->x->lock);
    uint32_t v = 0xffffffffu;
    if (port == 0x10 && size == 2)
        v = d->unplug_last_read;
    else if (port == 0x12 && size == 1)
        v = 1;                                  /* unplug protocol version */
    pthread_mutex_unlock(&d->x->lock);
    return size == 1 ? (v & 0xff) : size == 2 ? (v & 0xffff) : v;
}

static void hv_io_out(void *ctx, uint16_t port, unsigned size, uint32_t value)
{
    struct sim_domain *d = ctx;
    pthread_mutex_lock(&d->x->lock);
    if (port == 0xe9 && size == 1) {
        char c = (char)value;
        hv_log_append(&d->debug, &c, 1);
    } else if (!d->opts.no_unplug && port == 0x12 && size == 2) {
        d->emu.product = (uint16_t)value;
    } else if (!d->opts.no_unplug && port == 0x10 && size == 4) {
        d->emu.build = value;
        /* QEMU blacklists product 0xffff (a "known bad" driver): the
         * magic then reads back wrong and nothing is unplugged. */
        if (d->emu.product == 0xffff)
            d->unplug_last_read = 0;
    } else if (!d->opts.no_unplug && port == 0x10 && size == 2 && d->unplug_last_read) {
        if (value & 1)
            d->emu.ide_disks = d->emu.aux_disks = false;
        if (value & 2)
            d->emu.nics = false;
        if (value & 4)
            d->emu.aux_disks = false;
        if (value & 8)
            d->emu.nvme = false;
    }
    pthread_mutex_unlock(&d->x->lock);
}

static long hv_hvm_op(struct sim_domain *d, int cmd, void *arg)
{
    switch (cmd) {
    case HVMOP_get_param:
    case HVMOP_set_param: {
        struct xen_hvm_param *a = arg;
        if ((a->domid != DOMID_SELF && a->domid != d->domid) || a->index >= HV_NR_PARAMS)
            return -EINVAL;
        if (cmd == HVMOP_get_param) {
            a->value = d->params[a->index];
            return 0;
        }
        if (a->index != HVM_PARAM_CALLBACK_IRQ)
            return -EPERM;
        d->params[a->index] = a->value;
        return 0;
    }
    case HVMOP_set_evtchn_upcall_vector: {
        struct xen_hvm_evtchn_upcall_vector *u = arg;
        if (d->opts.no_upcall_vector)
            return -ENOSYS;
        if (u->vcpu >= d->opts.vcpus || u->vector < 0x10)
            return -EINVAL;
        d->upcall_vector[u->vcpu] = u->vector;
        return 0;
    }
    case HVMOP_get_mem_type: {
        /* As Xen: RAM (populate-on-demand included) is ram_rw; a gfn with
         * nothing behind it (ballooned out, or past the domain's memory)
         * reads as the device model's, mmio_dm. */
        struct xen_hvm_get_mem_type *a = arg;
        if (a->domid != DOMID_SELF && a->domid != d->domid)
            return -ESRCH;
        a->mem_type = hv_gfn_to_va(d, a->pfn) ? HVMMEM_ram_rw : HVMMEM_mmio_dm;
        return 0;
    }
    default:
        return -ENOSYS;
    }
}

/* What the vCPU does with a hypercall made by 'via': the instruction its
 * vendor lacks, or a call into a page Xen never filled, is #UD on real
 * hardware (here -ENOSYS, counted). */
static long hv_dispatch(struct sim_domain *d, enum gp_hypercall_via via, unsigned op, uintptr_t a1,
                        uintptr_t a2, uintptr_t a3)
{
    bool ok = (via == GP_HYPERCALL_VMCALL && d->has_vmx) ||
              (via == GP_HYPERCALL_VMMCALL && d->has_svm) ||
              (via == GP_HYPERCALL_PAGE && d->hypercall_msr_written);
    if (!ok) {
        atomic_fetch_add(&d->hcall_ud, 1);
        return -ENOSYS;
    }
    atomic_fetch_add(&d->hcalls[via], 1);
    if (op == __HYPERVISOR_sched_op)
        return hv_sched_op(d, (int)a1, (void *)a2);
    if (op == __HYPERVISOR_console_io) {
        if (a1 != CONSOLEIO_write)
            return -ENOSYS;
        pthread_mutex_lock(&d->x->lock);
        hv_log_append(&d->console, (const char *)a3, a2);
        pthread_mutex_unlock(&d->x->lock);
        return 0;
    }
    long rc;
    pthread_mutex_lock(&d->x->lock);
    bool fail = hv_fault(d->x, SIM_FAULT_HYPERCALL_FAIL);
    switch (op) {
    case __HYPERVISOR_xen_version:
        rc = a1 == XENVER_version ? (long)((d->opts.xen_major << 16) | d->opts.xen_minor)
                                  : -ENOSYS;
        break;
    case __HYPERVISOR_event_channel_op:
        rc = fail && (a1 == EVTCHNOP_alloc_unbound || a1 == EVTCHNOP_bind_interdomain)
                 ? -ENOMEM
                 : hv_event_channel_op(d, (int)a1, (void *)a2);
        break;
    case __HYPERVISOR_memory_op:
        rc = fail && a1 == XENMEM_add_to_physmap ? -EIO : hv_memory_op(d, (int)a1, (void *)a2);
        break;
    case __HYPERVISOR_grant_table_op:
        rc = fail ? -EIO : hv_grant_table_op(d, (int)a1, (void *)a2, (unsigned)a3);
        break;
    case __HYPERVISOR_hvm_op:
        rc = fail ? -EIO : hv_hvm_op(d, (int)a1, (void *)a2);
        break;
    default:
        rc = -ENOSYS;
    }
    pthread_mutex_unlock(&d->x->lock);
    return rc;
}

static long hv_hypercall(void *ctx, unsigned op, uintptr_t a1, uintptr_t a2, uintptr_t a3,
                         uintptr_t a4, uintptr_t a5)
{
    struct sim_domain *d = ctx;
    (void)a4;
    (void)a5;
    if (d->hcall_via == GP_HYPERCALL_PAGE && !d->hcall_page)
        return -ENOSYS;
    return hv_dispatch(d, d->hcall_via, op, a1, a2, a3);
}

long sim_domain_hypercall(struct sim_domain *d, enum gp_hypercall_via via, unsigned op,
                          const uintptr_t a[5])
{
    return hv_dispatch(d, via, op, a[0], a[1], a[2]);
}

void sim_domain_hypercall_stats(struct sim_domain *d, struct sim_hypercall_stats *out)
{
    out->by_vmcall = atomic_load(&d->hcalls[GP_HYPERCALL_VMCALL]);
    out->by_vmmcall = atomic_load(&d->hcalls[GP_HYPERCALL_VMMCALL]);
    out->by_page = atomic_load(&d->hcalls[GP_HYPERCALL_PAGE]);
    out->undefined = atomic_load(&d->hcall_ud);
    out->msr_writes = atomic_load(&d->msr_writes);
}

static void *hv_map_gfn(void *ctx, uint64_t gfn)
{
    struct sim_domain *d = ctx;
    pthread_mutex_lock(&d->x->lock);
    void *va = hv_gfn_to_va(d, gfn);
    pthread_mutex_unlock(&d->x->lock);
    return va;
}

static void hv_unmap_gfn(void *ctx, void *va)
{
    (void)ctx;
    (void)va;
}

static int hv_set_upcall(void *ctx, void (*fn)(void *arg, unsigned vcpu), void *arg,
                         struct gp_upcall_route *route)
{
    struct sim_domain *d = ctx;
    pthread_mutex_lock(&d->irq_m);
    d->upcall_arg = arg;
    d->upcall_fn = fn;
    /* Removing the route returns only once no upcall runs any more. */
    while (!fn && d->irq_busy)
        pthread_cond_wait(&d->irq_c, &d->irq_m);
    pthread_mutex_unlock(&d->irq_m);
    if (!fn)
        return 0;
    /* The platform PCI device (slot 3, INTA) and a per-vCPU vector. */
    route->callback_via = ((uint64_t)HVM_PARAM_CALLBACK_TYPE_PCI_INTX << 56) | (3u << 11);
    route->vector = 0xf3;
    return 0;
}

static void hv_upcall_mode(void *ctx, bool per_vcpu_vector)
{
    struct sim_domain *d = ctx;
    d->per_vcpu_vector = per_vcpu_vector;
}

static unsigned hv_vcpu_count(void *ctx)
{
    struct sim_domain *d = ctx;
    return d->opts.vcpus;
}

static unsigned hv_current_vcpu(void *ctx)
{
    (void)ctx;
    return 0;
}

const struct gp_arch hv_arch_ops = {
    .cpuid = hv_cpuid,
    .wrmsr = hv_wrmsr,
    .io_in = hv_io_in,
    .io_out = hv_io_out,
    .hypercall = hv_hypercall,
    .map_gfn = hv_map_gfn,
    .unmap_gfn = hv_unmap_gfn,
    .set_hypercall = hv_set_hypercall,
    .set_upcall = hv_set_upcall,
    .upcall_mode = hv_upcall_mode,
    .vcpu_count = hv_vcpu_count,
    .current_vcpu = hv_current_vcpu,
};

void sim_domain_emulated(struct sim_domain *d, struct sim_emulated *out)
{
    pthread_mutex_lock(&d->x->lock);
    *out = d->emu;
    pthread_mutex_unlock(&d->x->lock);
}
