/*
 * The simulator: an in-process Xen for fast, deterministic tests.
 *
 *   struct sim_xen      the hypervisor: domains, their memory (gfn -> page),
 *                       shared_info, grant tables, event channels, and a
 *                       xenstored speaking xs_wire on each domain's ring.
 *   struct sim_domain   one domain.  sim_domain_platform() gives the
 *                       struct gp_platform a guest's core code runs on:
 *                       OS services from pthreads, arch ops (CPUID, MSR,
 *                       I/O ports, hypercalls) emulated by sim_xen, and the
 *                       Xen services the core's own HVM code serves
 *                       (hvm_platform_xen: core/gnttab, core/evtchn,
 *                       core/xenstore/xs_ring) exactly as on Windows.
 *
 * Backends (sim/blkback, sim/netback) run in their own threads in a
 * backend domain (normally dom0) and see only what a real backend sees:
 * grant refs (sim_gnt_map / sim_gnt_copy check the granting domain's
 * grant entries and set GTF_reading/GTF_writing as Xen does), event
 * channels (sim_evtchn_bind_interdomain) and xenstore (their own xs_client
 * on the backend domain's platform).
 *
 * Fault injection (sim_fault_*): delays, lost and spurious notifications,
 * corrupted xenstore replies, full rings; all driven by a seeded PRNG.
 */
#ifndef GPLPV_SIM_H
#define GPLPV_SIM_H

#include <pthread.h>

#include "gplpv/platform.h"

/* Adds d to every index of a Xen back ring, the backend's own and the
 * shared page's (tests start rings just below 2^32; the frontend moves its
 * own).  Any ring type of xen/io/ring.h. */
#define SIM_BACK_RING_SHIFT(r, d)                                                 \
    do {                                                                          \
        (r)->req_cons += (d);                                                     \
        (r)->rsp_prod_pvt += (d);                                                 \
        (r)->sring->req_prod += (d);                                              \
        (r)->sring->rsp_prod += (d);                                              \
        (r)->sring->req_event += (d);                                             \
        (r)->sring->rsp_event += (d);                                             \
    } while (0)

/* Ports a simulated backend gives up holding its lock, closed once the
 * lock is released: unbinding waits for the port's running handler, and
 * the backends' handlers take that lock (a Linux backend, likewise, frees
 * its irq outside the locks its handler takes). */
#define SIM_BACK_MAX_PORTS 9
struct sim_back_ports {
    gp_port_t port[SIM_BACK_MAX_PORTS];
    unsigned n;
};

static inline void sim_back_ports_add(struct sim_back_ports *bp, gp_port_t port)
{
    if (bp->n < SIM_BACK_MAX_PORTS)
        bp->port[bp->n++] = port;
}

/* Releases m (held), then closes the ports given up under it. */
static inline void sim_back_unlock_and_close(pthread_mutex_t *m, struct sim_back_ports *bp,
                                             const struct gp_platform *p)
{
    struct sim_back_ports closing = *bp;
    bp->n = 0;
    pthread_mutex_unlock(m);
    for (unsigned i = 0; i < closing.n; i++)
        gp_xen_evtchn_unbind(p, closing.port[i]);
}

struct sim_xen;
struct sim_xenstored;
struct sim_os;
struct hvm;
struct sim_domain;

struct sim_xen_opts {
    uint64_t seed;            /* PRNG seed for fault injection (0 = fixed default) */
    bool quiet;               /* drop INFO/DEBUG logs (errors still printed) */
};

struct sim_xen *sim_xen_create(const struct sim_xen_opts *opts);
void sim_xen_destroy(struct sim_xen *x);
struct sim_xenstored *sim_xen_xenstored(struct sim_xen *x);

/* Create a domain with max_pages of memory.  domid 0 is the privileged
 * backend domain; xenstored gives it full permissions.  Creating a guest
 * also writes its /local/domain/<id> node as the toolstack would. */
struct sim_domain *sim_domain_create(struct sim_xen *x, gp_domid_t domid, unsigned max_pages);

/* What the simulated machine looks like to the guest, for tests of the
 * bring-up paths.  Zero values mean the defaults. */
struct sim_domain_opts {
    unsigned max_pages;       /* default 1024 */
    unsigned vcpus;           /* default 1, at most 4 */
    uint32_t cpuid_base;      /* Xen's leaves (default 0x40000000) */
    bool viridian;            /* a Viridian signature at 0x40000000 (then base 0x40000100) */
    bool no_xen;              /* no hypervisor signature at all */
    unsigned xen_major, xen_minor;   /* default 4.17 */
    bool no_upcall_vector;    /* HVMOP_set_evtchn_upcall_vector refused */
    bool no_store_param;      /* HVM_PARAM_STORE_PFN left at 0 */
    bool no_unplug;           /* QEMU without the unplug protocol */
    bool no_attach;           /* do not run hvm_platform_attach (the test does) */
    /* CPUID leaf 0's vendor (12 characters, default "GenuineIntel").  The
     * vCPU runs VMCALL if it names a VT-x vendor (Intel, Centaur,
     * Zhaoxin), VMMCALL if an AMD-V one (AMD, Hygon); the other
     * instruction is #UD (a hypercall refused with -ENOSYS, counted).  The
     * hypercall page works whatever the vendor. */
    const char *cpu_vendor;
};
struct sim_domain *sim_domain_create_ex(struct sim_xen *x, gp_domid_t domid,
                                        const struct sim_domain_opts *o);
/* The platform without Xen services (OS services + arch ops only), for
 * tests that attach themselves. */
struct gp_platform *sim_domain_raw_platform(struct sim_domain *d);
struct hvm *sim_domain_hvm(struct sim_domain *d);
struct sim_os *sim_domain_os(struct sim_domain *d);

/* Hypercalls as the vCPU made them. */
struct sim_hypercall_stats {
    unsigned long by_vmcall, by_vmmcall, by_page;   /* served */
    unsigned long undefined;      /* refused as #UD: the instruction the CPU lacks, or
                                   * before any way was set up */
    unsigned msr_writes;          /* writes of the hypercall-page MSR */
};
void sim_domain_hypercall_stats(struct sim_domain *d, struct sim_hypercall_stats *out);
/* One hypercall made by 'via' whatever the guest's arch ops were set to:
 * the Windows kernel host calls it with the instruction it decoded (or
 * GP_HYPERCALL_PAGE for a stub of the page).  a[0..4]: the arguments. */
long sim_domain_hypercall(struct sim_domain *d, enum gp_hypercall_via via, unsigned op,
                          const uintptr_t a[5]);

/* What the hypervisor saw the guest do. */
int sim_domain_shutdown_reason(const struct sim_domain *d);   /* SHUTDOWN_*, -1 none */
unsigned sim_domain_restores(const struct sim_domain *d);
/* console_io writes and port 0xe9 bytes, NUL-terminated copies (free()). */
char *sim_domain_console(struct sim_domain *d);
char *sim_domain_debug_port(struct sim_domain *d);
struct sim_emulated {
    bool ide_disks, aux_disks, nics, nvme;   /* still present */
    uint16_t product;                        /* registered product number */
    uint32_t build;
};
void sim_domain_emulated(struct sim_domain *d, struct sim_emulated *out);
unsigned sim_domain_tot_pages(struct sim_domain *d);
bool sim_domain_gfn_populated(struct sim_domain *d, uint64_t gfn);
/* Make the next SCHEDOP_shutdown(suspend) return 1 (cancelled). */
void sim_domain_cancel_next_suspend(struct sim_domain *d);
/* Hibernation as Xen sees it: the guest powered off (its memory image on
 * its disk) and the image booted again, in a new domain - no event
 * channels, no shared_info or grant frames, a fresh xenstore ring, a new
 * device model with its emulated disks and NICs plugged in again,
 * RAM at every gfn up to the domain's maximum (what a balloon gave back
 * included, zeroed: the toolstack builds the domain afresh); backends
 * detach and re-attach as for a restore. */
void sim_domain_power_cycle(struct sim_domain *d);

/* The toolstack's save/restore: backends detach before and re-attach
 * after a domain is restored (SCHEDOP_shutdown(suspend)). */
enum sim_restore_phase { SIM_RESTORE_BEFORE, SIM_RESTORE_AFTER };
typedef void (*sim_restore_fn)(void *arg, gp_domid_t domid, enum sim_restore_phase phase);
void sim_xen_add_restore_hook(struct sim_xen *x, sim_restore_fn fn, void *arg);
void sim_xen_remove_restore_hook(struct sim_xen *x, sim_restore_fn fn, void *arg);
void sim_domain_destroy(struct sim_domain *d);
const struct gp_platform *sim_domain_platform(struct sim_domain *d);
gp_domid_t sim_domain_id(const struct sim_domain *d);
struct sim_xen *sim_domain_xen(struct sim_domain *d);

/* What Xen holds for the domain now (sim/hv/hv_inspect.c). */
struct sim_domain_state {
    void *shared_info;           /* the page placed as shared_info, or NULL */
    enum gp_hypercall_via hypercall_via;   /* how the guest's hypercalls go */
    void *hypercall_page;        /* the page the hypercall MSR filled, or NULL */
    unsigned hypercall_msr_writes;   /* times the guest had a hypercall page filled */
    unsigned grant_frames;       /* grant-table frames placed */
    unsigned grants_active;      /* their entries in use (any type) */
    unsigned grants_mapped;      /* refs of this domain other domains map now */
    unsigned ports_unbound, ports_interdomain, ports_xenstored;
    bool store_port_open;        /* HVM_PARAM_STORE_EVTCHN still connected to xenstored */
    uint32_t store_unread;       /* bytes of the xenstore ring the guest has not read */
    uint32_t store_unserved;     /* bytes of it xenstored has not read */
    uint64_t callback_irq;       /* HVM_PARAM_CALLBACK_IRQ */
    bool upcall_routed;          /* an upcall function is installed */
};
void sim_domain_state(struct sim_domain *d, struct sim_domain_state *out);

/* ---- what a backend may use -------------------------------------------- */
/* Map the page granted by 'granter' under 'ref' for 'mapper'.  Fails (NULL)
 * if the entry is not a valid permit for mapper, or is read-only and write
 * is requested.  Each successful map must be undone by sim_gnt_unmap. */
void *sim_gnt_map(struct sim_xen *x, gp_domid_t mapper, gp_domid_t granter,
                  gp_grant_ref_t ref, bool write);
void sim_gnt_unmap(struct sim_xen *x, gp_domid_t mapper, gp_domid_t granter,
                   gp_grant_ref_t ref, bool write);
/* GNTTABOP_copy between a granted page and local memory.  to_grant=true
 * writes 'len' bytes from 'local' into the granted page at 'offset'. */
int sim_gnt_copy(struct sim_xen *x, gp_domid_t mapper, gp_domid_t granter,
                 gp_grant_ref_t ref, unsigned offset, void *local, unsigned len,
                 bool to_grant);

/* Bind a local port in 'local' to remote_port of 'remote' (which must be
 * unbound and allocated for 'local'). */
int sim_evtchn_bind_interdomain(struct sim_xen *x, gp_domid_t local, gp_domid_t remote,
                                gp_port_t remote_port, gp_port_t *local_port);

/* ---- fault injection ---------------------------------------------------- */
enum sim_fault {
    SIM_FAULT_NOTIFY_LOSE,       /* drop this fraction of event notifications */
    SIM_FAULT_NOTIFY_SPURIOUS,   /* raise spurious upcalls */
    SIM_FAULT_NOTIFY_DELAY_US,   /* delay deliveries by up to N us */
    SIM_FAULT_XS_CORRUPT,        /* corrupt this fraction of xenstored replies */
    SIM_FAULT_XS_DELAY_US,       /* delay xenstored replies by up to N us */
    SIM_FAULT_HYPERCALL_FAIL,    /* fail this fraction of hypercalls (-EIO/-ENOMEM) */
    SIM_FAULT_COUNT
};
/* 'value' is a probability in parts per million for rates, or microseconds
 * for delays.  0 switches the fault off. */
void sim_fault_set(struct sim_xen *x, enum sim_fault f, uint32_t value);

#endif
