/* Inside the simulated hypervisor (sim/hv): domains, their event
 * channels, grant tables, memory and the toolstack pieces. */
#ifndef GPLPV_HV_INTERNAL_H
#define GPLPV_HV_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "gplpv/platform.h"
#include "sim.h"

#include <xen/xen.h>

#define HV_MAX_DOMAINS 16
#define HV_NR_PORTS 4096
#define HV_MAX_GRANT_FRAMES 64
#define HV_ENTRIES_PER_FRAME 512
#define HV_MAX_VCPUS 4
#define HV_BASE_GFN 0x1000
#define HV_NR_PARAMS 64

enum hv_port_state { HV_PORT_FREE, HV_PORT_UNBOUND, HV_PORT_INTERDOMAIN, HV_PORT_XENSTORED };

struct hv_port {
    enum hv_port_state state;
    gp_domid_t remote_dom;
    gp_port_t remote_port;
    unsigned vcpu;
};

struct hv_log {
    char *data;
    size_t len, cap;
};

struct sim_domain {
    struct sim_xen *x;
    gp_domid_t domid;
    struct sim_domain_opts opts;
    struct sim_os *os;
    struct gp_arch arch;             /* hv_arch_ops with ctx = this domain */
    struct gp_platform raw;          /* OS services + arch ops */
    struct gp_platform plat;         /* + the core's Xen services (hvm_platform_xen) */
    struct gp_xs_transport *dom0_xs; /* dom0's direct link to xenstored */
    struct hvm *hvm;
    /* cpu */
    char cpu_vendor[13];             /* CPUID leaf 0 */
    bool has_vmx, has_svm;           /* which hypercall instruction the CPU has */
    enum gp_hypercall_via hcall_via; /* what the guest's arch code was set to */
    void *hcall_page;                /* the page it gave Xen (GP_HYPERCALL_PAGE) */
    bool hypercall_msr_written;      /* Xen wrote stubs into hcall_page */
    unsigned hypercall_msr_writes;   /* pages the guest had filled */
    atomic_ulong hcalls[4];          /* served, by enum gp_hypercall_via */
    atomic_ulong hcall_ud;           /* refused as #UD */
    atomic_uint msr_writes;
    void (*upcall_fn)(void *arg, unsigned vcpu);
    void *upcall_arg;
    uint8_t upcall_vector[HV_MAX_VCPUS];
    bool per_vcpu_vector;
    /* interrupt delivery thread */
    pthread_t irq_thread;
    pthread_mutex_t irq_m;
    pthread_cond_t irq_c;
    bool irq_pending[HV_MAX_VCPUS];
    bool irq_stop;
    bool irq_busy;                   /* the upcall is running now */
    /* memory Xen placed */
    struct shared_info *shi;
    void *gframes[HV_MAX_GRANT_FRAMES];
    unsigned nr_gframes;
    uint16_t *map_readers, *map_writers;   /* per grant ref */
    uint8_t *unpopulated;                  /* per page of the pool */
    unsigned tot_pages;
    /* event channels and params */
    struct hv_port ports[HV_NR_PORTS];
    uint64_t params[HV_NR_PARAMS];
    void *store_page;
    /* emulated devices (QEMU unplug protocol) */
    struct sim_emulated emu;
    uint16_t unplug_last_read;
    /* what the guest did */
    int shutdown_reason;
    unsigned restores;
    bool cancel_next_suspend;
    struct hv_log console, debug;
};

struct hv_hook {
    struct hv_hook *next;
    sim_restore_fn fn;
    void *arg;
};

struct sim_xen {
    pthread_mutex_t lock;            /* domains, ports, grant state */
    struct sim_domain *domains[HV_MAX_DOMAINS];
    struct sim_xenstored *xsd;
    struct sim_xen_opts opts;
    uint64_t prng;
    uint32_t faults[SIM_FAULT_COUNT];
    struct hv_hook *hooks;
};

struct sim_domain *hv_domain(struct sim_xen *x, gp_domid_t domid);   /* lock held */
bool hv_fault(struct sim_xen *x, enum sim_fault f);                  /* lock held */
uint64_t hv_rand(struct sim_xen *x);

/* hv_evtchn.c (lock held unless noted) */
long hv_event_channel_op(struct sim_domain *d, int cmd, void *arg);
void hv_set_pending(struct sim_domain *d, gp_port_t port);
void hv_raise_irq(struct sim_domain *d, unsigned vcpu);
void hv_irq_start(struct sim_domain *d);      /* lock not held */
void hv_irq_stop(struct sim_domain *d);       /* lock not held */
void hv_close_all_ports(struct sim_domain *d);
int hv_alloc_port(struct sim_domain *d);
void hv_store_notify(void *arg);              /* from xenstored; takes the lock */

/* hv_gnttab.c (lock held) */
long hv_grant_table_op(struct sim_domain *d, int cmd, void *arg, unsigned count);
void hv_gnttab_reset(struct sim_domain *d);

/* hv_memory.c (lock held) */
long hv_memory_op(struct sim_domain *d, int cmd, void *arg);
void *hv_gfn_to_va(struct sim_domain *d, uint64_t gfn);

/* hv_arch.c */
extern const struct gp_arch hv_arch_ops;
void hv_cpu_init(struct sim_domain *d);      /* vendor and its instruction, from opts */

/* hv_sched.c: the toolstack's save/restore (lock not held) */
long hv_sched_op(struct sim_domain *d, int cmd, void *arg);
/* The toolstack brings the domain back as a new one (restore, or the
 * boot of a hibernated image): backends detach and re-attach. */
long hv_restore(struct sim_domain *d);
void hv_log_append(struct hv_log *l, const char *p, size_t n);

#endif
