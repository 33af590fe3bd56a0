/* The simulated hypervisor: creating domains the way a toolstack builds
 * an HVM guest (memory, CPUID/MSR/ports through arch ops, xenstore page
 * and channel in HVM params, /local/domain/<id> in xenstored), and
 * running the core's HVM bring-up on it so that the guest's Xen services
 * are the very code a Windows guest runs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gplpv/evtchn.h"
#include "gplpv/hvm.h"
#include "hv_internal.h"

#include <xen/sched.h>
#include "os/sim_os.h"
#include "xenstored/sim_xenstored.h"

#include <xen/hvm/params.h>

struct sim_domain *hv_domain(struct sim_xen *x, gp_domid_t domid)
{
    return domid < HV_MAX_DOMAINS ? x->domains[domid] : NULL;
}

uint64_t hv_rand(struct sim_xen *x)
{
    x->prng ^= x->prng >> 12;
    x->prng ^= x->prng << 25;
    x->prng ^= x->prng >> 27;
    return x->prng * 2685821657736338717ull;
}

bool hv_fault(struct sim_xen *x, enum sim_fault f)
{
    uint32_t ppm = x->faults[f];
    return ppm && hv_rand(x) % 1000000u < ppm;
}

struct sim_xen *sim_xen_create(const struct sim_xen_opts *opts)
{
    struct sim_xen *x = calloc(1, sizeof(*x));
    if (opts)
        x->opts = *opts;
    pthread_mutex_init(&x->lock, NULL);
    x->prng = x->opts.seed ? x->opts.seed : 0x243f6a8885a308d3ull;
    x->xsd = sim_xenstored_create(x->prng ^ 0x5555);
    return x;
}

void sim_xen_destroy(struct sim_xen *x)
{
    if (!x)
        return;
    for (unsigned i = 0; i < HV_MAX_DOMAINS; i++)
        if (x->domains[i]) {
            fprintf(stderr, "sim_hv: dom%u still exists at sim_xen_destroy\n", i);
            sim_domain_destroy(x->domains[i]);
        }
    sim_xenstored_destroy(x->xsd);
    while (x->hooks) {
        struct hv_hook *h = x->hooks;
        x->hooks = h->next;
        free(h);
    }
    pthread_mutex_destroy(&x->lock);
    free(x);
}

struct sim_xenstored *sim_xen_xenstored(struct sim_xen *x)
{
    return x->xsd;
}

void sim_fault_set(struct sim_xen *x, enum sim_fault f, uint32_t value)
{
    if ((unsigned)f >= SIM_FAULT_COUNT)
        return;
    pthread_mutex_lock(&x->lock);
    x->faults[f] = value;
    pthread_mutex_unlock(&x->lock);
    if (f == SIM_FAULT_XS_CORRUPT || f == SIM_FAULT_XS_DELAY_US)
        sim_xenstored_set_faults(x->xsd, x->faults[SIM_FAULT_XS_CORRUPT],
                                 x->faults[SIM_FAULT_XS_DELAY_US]);
}

/* The toolstack's part of building a guest's xenstore connection. */
static int hv_setup_store(struct sim_domain *d)
{
    struct sim_xen *x = d->x;
    char path[64], val[32];
    sim_xenstored_introduce(x->xsd, d->domid);
    snprintf(path, sizeof(path), "/local/domain/%u/domid", d->domid);
    snprintf(val, sizeof(val), "%u", d->domid);
    sim_xenstored_poke(x->xsd, path, val);
    snprintf(path, sizeof(path), "/local/domain/%u/name", d->domid);
    snprintf(val, sizeof(val), "sim-guest-%u", d->domid);
    sim_xenstored_poke(x->xsd, path, val);
    uint64_t gfn;
    d->store_page = gp_os_page_alloc(&d->raw, &gfn);
    if (!d->store_page)
        return -ENOMEM;
    pthread_mutex_lock(&x->lock);
    int port = hv_alloc_port(d);
    d->ports[port] = (struct hv_port){ .state = HV_PORT_XENSTORED, .remote_dom = 0 };
    d->params[HVM_PARAM_STORE_PFN] = d->opts.no_store_param ? 0 : gfn;
    d->params[HVM_PARAM_STORE_EVTCHN] = (uint64_t)port;
    pthread_mutex_unlock(&x->lock);
    return sim_xenstored_connect_ring(x->xsd, d->domid, d->store_page, hv_store_notify, d);
}

struct sim_domain *sim_domain_create_ex(struct sim_xen *x, gp_domid_t domid,
                                        const struct sim_domain_opts *o)
{
    if (domid >= HV_MAX_DOMAINS || x->domains[domid])
        return NULL;
    struct sim_domain *d = calloc(1, sizeof(*d));
    d->x = x;
    d->domid = domid;
    if (o)
        d->opts = *o;
    if (!d->opts.max_pages)
        d->opts.max_pages = 1024;
    if (!d->opts.vcpus)
        d->opts.vcpus = 1;
    if (d->opts.vcpus > HV_MAX_VCPUS)
        d->opts.vcpus = HV_MAX_VCPUS;
    if (!d->opts.cpuid_base)
        d->opts.cpuid_base = d->opts.viridian ? 0x40000100u : 0x40000000u;
    if (!d->opts.xen_major) {
        d->opts.xen_major = 4;
        d->opts.xen_minor = 17;
    }
    char name[16];
    snprintf(name, sizeof(name), "dom%u", domid);
    d->os = sim_os_create(name, d->opts.max_pages, HV_BASE_GFN, x->opts.quiet);
    sim_os_fill(d->os, &d->raw);
    d->arch = hv_arch_ops;
    d->arch.ctx = d;
    d->raw.arch = &d->arch;
    hv_cpu_init(d);
    d->unpopulated = calloc(d->opts.max_pages, 1);
    d->map_readers = calloc(HV_MAX_GRANT_FRAMES * HV_ENTRIES_PER_FRAME, sizeof(uint16_t));
    d->map_writers = calloc(HV_MAX_GRANT_FRAMES * HV_ENTRIES_PER_FRAME, sizeof(uint16_t));
    d->tot_pages = d->opts.max_pages;
    d->emu = (struct sim_emulated){ .ide_disks = true, .aux_disks = true, .nics = true,
                                    .nvme = true };
    d->unplug_last_read = 0x49d2;
    d->shutdown_reason = -1;
    hv_irq_start(d);
    pthread_mutex_lock(&x->lock);
    x->domains[domid] = d;
    pthread_mutex_unlock(&x->lock);

    if (domid == 0)
        d->dom0_xs = sim_xenstored_direct(x->xsd, 0);
    else if (hv_setup_store(d) != 0) {
        sim_domain_destroy(d);
        return NULL;
    }
    d->plat = d->raw;
    if (!d->opts.no_attach) {
        struct hvm_opts ho = { .grant_frames = 16, .xs = d->dom0_xs };
        int err = hvm_platform_attach(&d->raw, &ho, NULL, NULL, &d->hvm);
        if (err) {
            fprintf(stderr, "sim_hv: dom%u: HVM bring-up failed: %s\n", domid, gp_strerror(err));
            sim_domain_destroy(d);
            return NULL;
        }
        d->plat.xen = hvm_platform_xen(d->hvm);
    }
    return d;
}

struct sim_domain *sim_domain_create(struct sim_xen *x, gp_domid_t domid, unsigned max_pages)
{
    struct sim_domain_opts o = { .max_pages = max_pages };
    return sim_domain_create_ex(x, domid, &o);
}

void sim_domain_destroy(struct sim_domain *d)
{
    if (!d)
        return;
    struct sim_xen *x = d->x;
    d->plat.xen = NULL;
    if (d->hvm)
        hvm_platform_detach(d->hvm);
    d->hvm = NULL;
    if (d->domid != 0)
        sim_xenstored_release(x->xsd, d->domid);
    else if (d->dom0_xs)
        sim_xenstored_direct_close(x->xsd, d->dom0_xs);
    hv_irq_stop(d);
    pthread_mutex_lock(&x->lock);
    hv_close_all_ports(d);
    x->domains[d->domid] = NULL;
    pthread_mutex_unlock(&x->lock);
    if (d->hcall_page)                          /* a test that never detached */
        gp_os_page_free(&d->raw, d->hcall_page);
    sim_os_destroy(d->os);
    free(d->unpopulated);
    free(d->map_readers);
    free(d->map_writers);
    free(d->console.data);
    free(d->debug.data);
    free(d);
}

const struct gp_platform *sim_domain_platform(struct sim_domain *d)
{
    return &d->plat;
}

struct gp_platform *sim_domain_raw_platform(struct sim_domain *d)
{
    return &d->raw;
}

struct hvm *sim_domain_hvm(struct sim_domain *d)
{
    return d->hvm;
}

struct sim_os *sim_domain_os(struct sim_domain *d)
{
    return d->os;
}

gp_domid_t sim_domain_id(const struct sim_domain *d)
{
    return d->domid;
}

struct sim_xen *sim_domain_xen(struct sim_domain *d)
{
    return d->x;
}

int sim_evtchn_bind_interdomain(struct sim_xen *x, gp_domid_t local, gp_domid_t remote,
                                gp_port_t remote_port, gp_port_t *local_port)
{
    pthread_mutex_lock(&x->lock);
    struct sim_domain *d = hv_domain(x, local);
    pthread_mutex_unlock(&x->lock);
    if (!d || !d->hvm)
        return GP_ENODEV;
    return evtchn_bind_interdomain(hvm_evtchn(d->hvm), remote, remote_port, local_port);
}

int sim_domain_shutdown_reason(const struct sim_domain *d)
{
    return __atomic_load_n(&d->shutdown_reason, __ATOMIC_SEQ_CST);
}

unsigned sim_domain_restores(const struct sim_domain *d)
{
    return __atomic_load_n(&d->restores, __ATOMIC_SEQ_CST);
}

static char *hv_log_copy(struct sim_domain *d, struct hv_log *l)
{
    pthread_mutex_lock(&d->x->lock);
    char *s = strdup(l->data ? l->data : "");
    pthread_mutex_unlock(&d->x->lock);
    return s;
}

char *sim_domain_console(struct sim_domain *d)
{
    return hv_log_copy(d, &d->console);
}

char *sim_domain_debug_port(struct sim_domain *d)
{
    return hv_log_copy(d, &d->debug);
}

void sim_domain_cancel_next_suspend(struct sim_domain *d)
{
    pthread_mutex_lock(&d->x->lock);
    d->cancel_next_suspend = true;
    pthread_mutex_unlock(&d->x->lock);
}

void sim_domain_power_cycle(struct sim_domain *d)
{
    pthread_mutex_lock(&d->x->lock);
    d->shutdown_reason = SHUTDOWN_poweroff;
    /* a new device model: its emulated disks and NICs are there again
     * (the boot loader reads the image through them) */
    d->emu = (struct sim_emulated){ .ide_disks = true, .aux_disks = true, .nics = true,
                                    .nvme = true };
    d->unplug_last_read = 0x49d2;
    /* a new domain, built by the toolstack with RAM at every gfn up to its
     * maximum (with memory < maxmem Xen backs the rest populate-on-demand:
     * to the guest a gfn is RAM either way): what the old domain's balloon
     * gave back is there again, zeroed; the image's own pages come back
     * from the hibernation file */
    for (unsigned i = 0; i < d->opts.max_pages; i++)
        if (d->unpopulated[i]) {
            memset(sim_os_gfn_to_va(d->os, HV_BASE_GFN + i), 0, GP_PAGE_SIZE);
            d->unpopulated[i] = 0;
        }
    d->tot_pages = d->opts.max_pages;
    pthread_mutex_unlock(&d->x->lock);
    hv_restore(d);
}

void sim_xen_add_restore_hook(struct sim_xen *x, sim_restore_fn fn, void *arg)
{
    struct hv_hook *h = calloc(1, sizeof(*h));
    h->fn = fn;
    h->arg = arg;
    pthread_mutex_lock(&x->lock);
    h->next = x->hooks;
    x->hooks = h;
    pthread_mutex_unlock(&x->lock);
}

void sim_xen_remove_restore_hook(struct sim_xen *x, sim_restore_fn fn, void *arg)
{
    pthread_mutex_lock(&x->lock);
    for (struct hv_hook **pp = &x->hooks; *pp; pp = &(*pp)->next)
        if ((*pp)->fn == fn && (*pp)->arg == arg) {
            struct hv_hook *h = *pp;
            *pp = h->next;
            free(h);
            break;
        }
    pthread_mutex_unlock(&x->lock);
}
