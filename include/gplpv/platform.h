/*
 * gplpv platform interface: the only way the portable core reaches the
 * outside world.  Windows (windows/), Linux user space (linux/), the bare
 * HVM test kernel (hvmkernel/) and the simulator (sim/) each provide it.
 * The core never calls an OS directly.
 *
 * Three interfaces, each a table of functions with its own context:
 *   1. struct gp_os   - OS services: memory, pages with frame numbers,
 *                       locks, waitable events, time, logging, deferred
 *                       work.  Every shell fills one.
 *   2. struct gp_xen  - Xen services: grant access, event channels, the
 *                       xenstore transport.  On HVM platforms (Windows,
 *                       hvmkernel, sim) the core's own gnttab/evtchn/xs_ring
 *                       modules provide it (hvm_platform_xen, see
 *                       include/gplpv/hvm.h); on Linux /dev/xen/{gntalloc,
 *                       evtchn,xenbus} do.
 *   3. struct gp_arch - HVM arch access: CPUID, MSR, I/O ports and the
 *                       hypercall gate.  Absent on Linux user space; used
 *                       by the core's bring-up, balloon, unplug and
 *                       suspend code.
 * The core receives them together in a struct gp_platform (three pointers)
 * and calls them only through the gp_os_* / gp_xen_* / gp_arch_* wrappers
 * at the end of this file.
 *
 * Calling contexts: functions marked [any] may be called from event-channel
 * handlers (interrupt/DPC level); functions marked [passive] may block.
 */
#ifndef GPLPV_PLATFORM_H
#define GPLPV_PLATFORM_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gplpv/errors.h"

#define GP_PAGE_SHIFT 12
#define GP_PAGE_SIZE  4096u

typedef uint32_t gp_grant_ref_t;  /* grant_ref_t of xen/grant_table.h */
typedef uint32_t gp_port_t;       /* evtchn_port_t of xen/event_channel.h */
typedef uint16_t gp_domid_t;      /* domid_t of xen/xen.h */

#define GP_INVALID_GRANT ((gp_grant_ref_t)0xffffffffu)
#define GP_INVALID_PORT  ((gp_port_t)0)   /* port 0 is never a valid channel */

enum gp_log_level { GP_LOG_ERROR = 0, GP_LOG_WARN = 1, GP_LOG_INFO = 2, GP_LOG_DEBUG = 3 };

struct gp_lock;      /* spin lock, usable at [any] level                  */
struct gp_event;     /* waitable, auto-reset event (a KEVENT, a condvar)   */

typedef void (*gp_work_fn)(void *arg);
typedef void (*gp_evtchn_handler)(void *arg, gp_port_t port);

/* Byte-stream carrying xs_wire messages to and from xenstored.  It has one
 * reader: one xs_client per transport (share the client, not the link). */
struct gp_xs_transport {
    void *ctx;
    /* [passive] Write all len bytes (blocks while the ring is full).
     * Returns 0 or a negative GP_E* code. */
    int (*send)(void *ctx, const void *buf, size_t len);
    /* [any] Copy up to len bytes that have arrived; never blocks.
     * Returns the byte count (0 = nothing yet) or a negative GP_E* code. */
    long (*recv)(void *ctx, void *buf, size_t len);
    /* [passive] Install the function called whenever bytes may have
     * arrived.  It runs at [any] level and must not block. */
    void (*set_rx_handler)(void *ctx, gp_work_fn fn, void *arg);
};

struct gp_upcall_route {
    uint64_t callback_via;   /* value for HVM_PARAM_CALLBACK_IRQ; 0 = none */
    uint8_t vector;          /* per-vCPU upcall vector; 0 = not offered */
};

/* How a hypercall reaches Xen.  The core chooses once, at bring-up
 * (hvm_platform_attach, from the CPU vendor: see include/gplpv/hvm.h); the
 * platform's arch code carries it out.  The instructions need no memory
 * the CPU may both write and execute (Windows' memory integrity refuses
 * such memory); the hypercall page is such memory. */
enum gp_hypercall_via {
    GP_HYPERCALL_NONE = 0,   /* none yet, or no longer */
    GP_HYPERCALL_VMCALL,     /* the instruction, on Intel VT-x (and Centaur, Zhaoxin) */
    GP_HYPERCALL_VMMCALL,    /* the instruction, on AMD-V (and Hygon) */
    GP_HYPERCALL_PAGE,       /* "call page + 32 * op" into the page Xen wrote */
};

/* 1. OS services.  Every member takes the table's ctx. */
struct gp_os {
    void *ctx;
    const char *name;                /* "windows", "linux", "sim", "hvmkernel" */

    void *(*alloc)(void *ctx, size_t size);            /* [any], zeroed */
    void (*free)(void *ctx, void *p);                  /* [any] */
    /* One page, page-aligned and zeroed, with its guest frame number. */
    void *(*page_alloc)(void *ctx, uint64_t *gfn);     /* [passive] */
    void (*page_free)(void *ctx, void *va);            /* [passive] */
    /* Frame number of an address inside memory the OS gave us (data
     * buffers).  Returns false when the platform cannot tell. */
    bool (*va_to_gfn)(void *ctx, const void *va, uint64_t *gfn);

    struct gp_lock *(*lock_create)(void *ctx);
    void (*lock_destroy)(void *ctx, struct gp_lock *l);
    void (*lock_acquire)(void *ctx, struct gp_lock *l);  /* [any] */
    void (*lock_release)(void *ctx, struct gp_lock *l);  /* [any] */

    struct gp_event *(*event_create)(void *ctx);
    void (*event_destroy)(void *ctx, struct gp_event *e);
    void (*event_signal)(void *ctx, struct gp_event *e);             /* [any] */
    /* [passive] Wait until signalled or timeout (ns; 0 = forever).
     * Returns 0 or GP_ETIMEDOUT.  Auto-reset. */
    int (*event_wait)(void *ctx, struct gp_event *e, uint64_t timeout_ns);

    uint64_t (*now_ns)(void *ctx);                     /* [any] monotonic */
    void (*log)(void *ctx, enum gp_log_level lvl, const char *msg);  /* [any] */
    /* Run fn(arg) later at [passive] level, in order of submission. */
    int (*defer)(void *ctx, gp_work_fn fn, void *arg); /* [any] */
};

/* 2. Xen services.  Every member takes the table's ctx. */
struct gp_xen {
    void *ctx;
    /* Grant domid access to frame gfn; *ref receives the grant. */
    int (*grant_access)(void *ctx, gp_domid_t domid, uint64_t gfn, bool readonly,
                        gp_grant_ref_t *ref);                        /* [any] */
    /* End access.  Returns GP_EBUSY (and keeps the grant) while the other
     * domain still has the page mapped: the caller must not reuse it. */
    int (*grant_end)(void *ctx, gp_grant_ref_t ref);                 /* [any] */

    int (*evtchn_alloc_unbound)(void *ctx, gp_domid_t remote, gp_port_t *port);
    int (*evtchn_bind)(void *ctx, gp_port_t port, gp_evtchn_handler fn, void *arg);
    /* [passive] Unbind and close; returns once the port's handler is not
     * running on any vCPU (never call it from a handler, nor holding a
     * lock that handler takes: it would wait forever). */
    void (*evtchn_unbind)(void *ctx, gp_port_t port);
    /* [passive] As evtchn_unbind, but the channel stays open: for one that
     * belongs to the domain, not to the caller (xenstore's, set up by the
     * toolstack), which the next driver binds again.  NULL: not offered. */
    void (*evtchn_release)(void *ctx, gp_port_t port);
    void (*evtchn_notify)(void *ctx, gp_port_t port);   /* [any] */
    void (*evtchn_mask)(void *ctx, gp_port_t port);     /* [any] */
    void (*evtchn_unmask)(void *ctx, gp_port_t port);   /* [any] */

    /* Our domain id as Xen knows it (DOMID_SELF if unknown). */
    gp_domid_t (*self_domid)(void *ctx);

    struct gp_xs_transport *xs;      /* the link to xenstored */
};

/* 3. HVM-only access to the (virtual) CPU.  NULL members mean "absent".
 * Every member takes the table's ctx. */
struct gp_arch {
    void *ctx;
    void (*cpuid)(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t regs[4]);
    void (*wrmsr)(void *ctx, uint32_t msr, uint64_t value);
    uint32_t (*io_in)(void *ctx, uint16_t port, unsigned size);      /* size 1,2,4 */
    void (*io_out)(void *ctx, uint16_t port, unsigned size, uint32_t value);
    /* Issue hypercall 'op' (__HYPERVISOR_* of xen/xen.h) with up to 5
     * arguments the way set_hypercall chose, in Xen's register convention
     * (x86-64: op in rax, arguments in rdi rsi rdx r10 r8; i386: eax, then
     * ebx ecx edx esi edi; the result in rax/eax); pointers are guest
     * addresses the platform can hand to Xen.  -38 (-ENOSYS) while no way
     * is chosen. */
    long (*hypercall)(void *ctx, unsigned op, uintptr_t a1, uintptr_t a2,
                      uintptr_t a3, uintptr_t a4, uintptr_t a5);
    /* Map the guest frame at gfn into the address space (for shared_info,
     * grant table frames placed with add_to_physmap).  NULL on failure. */
    void *(*map_gfn)(void *ctx, uint64_t gfn);
    void (*unmap_gfn)(void *ctx, void *va);
    /* Make hypercalls by 'via' from now on.  GP_HYPERCALL_PAGE: the
     * platform takes a page the CPU may execute and gives its frame in
     * *page_gfn; the core then writes that frame's address to the MSR Xen
     * names, and Xen fills the page.  GP_HYPERCALL_NONE gives that page
     * back.  Returns 0, or GP_ENOTSUP (the platform cannot make hypercalls
     * that way), GP_ENOMEM (no page). */
    int (*set_hypercall)(void *ctx, enum gp_hypercall_via via, uint64_t *page_gfn);
    /* Route the event-channel upcall to 'fn'; the platform calls it from
     * its interrupt on 'vcpu' (the Xen vCPU id).  It fills 'route' with
     * what it can receive: the HVM_PARAM_CALLBACK_IRQ value (a GSI, the
     * platform PCI device's INTx, or a vector) and, if it can take a
     * per-vCPU upcall vector (HVMOP_set_evtchn_upcall_vector), that vector.
     * fn NULL removes the route and returns once no upcall is running. */
    int (*set_upcall)(void *ctx, void (*fn)(void *arg, unsigned vcpu), void *arg,
                      struct gp_upcall_route *route);
    /* The core tells which route Xen accepted: per-vCPU vectors (which
     * need a local APIC EOI) or the callback via. */
    void (*upcall_mode)(void *ctx, bool per_vcpu_vector);
    unsigned (*vcpu_count)(void *ctx);
    unsigned (*current_vcpu)(void *ctx);
};

/* What the core receives: the three interfaces.  A shell owns the
 * tables (and this struct) for as long as any core object uses them. */
struct gp_platform {
    const struct gp_os *os;
    const struct gp_xen *xen;        /* NULL until the shell has Xen services */
    const struct gp_arch *arch;      /* NULL: no HVM arch access (Linux) */
};

/* ---- Calling the three interfaces ------------------------------------
 * The core calls the platform only through these (a call site names the
 * interface and never handles a context pointer).  Arch members may be
 * absent: check p->arch and the member before calling gp_arch_*. */
static inline void *gp_os_alloc(const struct gp_platform *p, size_t size)
{
    return p->os->alloc(p->os->ctx, size);
}
static inline void gp_os_free(const struct gp_platform *p, void *ptr)
{
    p->os->free(p->os->ctx, ptr);
}
static inline void *gp_os_page_alloc(const struct gp_platform *p, uint64_t *gfn)
{
    return p->os->page_alloc(p->os->ctx, gfn);
}
static inline void gp_os_page_free(const struct gp_platform *p, void *va)
{
    p->os->page_free(p->os->ctx, va);
}
static inline bool gp_os_va_to_gfn(const struct gp_platform *p, const void *va, uint64_t *gfn)
{
    return p->os->va_to_gfn(p->os->ctx, va, gfn);
}
static inline struct gp_lock *gp_os_lock_create(const struct gp_platform *p)
{
    return p->os->lock_create(p->os->ctx);
}
static inline void gp_os_lock_destroy(const struct gp_platform *p, struct gp_lock *l)
{
    p->os->lock_destroy(p->os->ctx, l);
}
static inline void gp_os_lock_acquire(const struct gp_platform *p, struct gp_lock *l)
{
    p->os->lock_acquire(p->os->ctx, l);
}
static inline void gp_os_lock_release(const struct gp_platform *p, struct gp_lock *l)
{
    p->os->lock_release(p->os->ctx, l);
}
static inline struct gp_event *gp_os_event_create(const struct gp_platform *p)
{
    return p->os->event_create(p->os->ctx);
}
static inline void gp_os_event_destroy(const struct gp_platform *p, struct gp_event *e)
{
    p->os->event_destroy(p->os->ctx, e);
}
static inline void gp_os_event_signal(const struct gp_platform *p, struct gp_event *e)
{
    p->os->event_signal(p->os->ctx, e);
}
static inline int gp_os_event_wait(const struct gp_platform *p, struct gp_event *e,
                                   uint64_t timeout_ns)
{
    return p->os->event_wait(p->os->ctx, e, timeout_ns);
}
static inline uint64_t gp_os_now_ns(const struct gp_platform *p)
{
    return p->os->now_ns(p->os->ctx);
}
static inline void gp_os_log(const struct gp_platform *p, enum gp_log_level lvl, const char *msg)
{
    p->os->log(p->os->ctx, lvl, msg);
}
static inline int gp_os_defer(const struct gp_platform *p, gp_work_fn fn, void *arg)
{
    return p->os->defer(p->os->ctx, fn, arg);
}

static inline int gp_xen_grant_access(const struct gp_platform *p, gp_domid_t domid,
                                      uint64_t gfn, bool readonly, gp_grant_ref_t *ref)
{
    return p->xen->grant_access(p->xen->ctx, domid, gfn, readonly, ref);
}
static inline int gp_xen_grant_end(const struct gp_platform *p, gp_grant_ref_t ref)
{
    return p->xen->grant_end(p->xen->ctx, ref);
}
static inline int gp_xen_evtchn_alloc_unbound(const struct gp_platform *p, gp_domid_t remote,
                                              gp_port_t *port)
{
    return p->xen->evtchn_alloc_unbound(p->xen->ctx, remote, port);
}
static inline int gp_xen_evtchn_bind(const struct gp_platform *p, gp_port_t port,
                                     gp_evtchn_handler fn, void *arg)
{
    return p->xen->evtchn_bind(p->xen->ctx, port, fn, arg);
}
static inline void gp_xen_evtchn_unbind(const struct gp_platform *p, gp_port_t port)
{
    p->xen->evtchn_unbind(p->xen->ctx, port);
}
static inline void gp_xen_evtchn_release(const struct gp_platform *p, gp_port_t port)
{
    p->xen->evtchn_release(p->xen->ctx, port);
}
static inline void gp_xen_evtchn_notify(const struct gp_platform *p, gp_port_t port)
{
    p->xen->evtchn_notify(p->xen->ctx, port);
}
static inline void gp_xen_evtchn_mask(const struct gp_platform *p, gp_port_t port)
{
    p->xen->evtchn_mask(p->xen->ctx, port);
}
static inline void gp_xen_evtchn_unmask(const struct gp_platform *p, gp_port_t port)
{
    p->xen->evtchn_unmask(p->xen->ctx, port);
}
static inline gp_domid_t gp_xen_self_domid(const struct gp_platform *p)
{
    return p->xen->self_domid(p->xen->ctx);
}

static inline void gp_arch_cpuid(const struct gp_platform *p, uint32_t leaf, uint32_t subleaf,
                                 uint32_t regs[4])
{
    p->arch->cpuid(p->arch->ctx, leaf, subleaf, regs);
}
static inline void gp_arch_wrmsr(const struct gp_platform *p, uint32_t msr, uint64_t value)
{
    p->arch->wrmsr(p->arch->ctx, msr, value);
}
static inline uint32_t gp_arch_io_in(const struct gp_platform *p, uint16_t port, unsigned size)
{
    return p->arch->io_in(p->arch->ctx, port, size);
}
static inline void gp_arch_io_out(const struct gp_platform *p, uint16_t port, unsigned size,
                                  uint32_t value)
{
    p->arch->io_out(p->arch->ctx, port, size, value);
}
static inline long gp_arch_hypercall(const struct gp_platform *p, unsigned op, uintptr_t a1,
                                     uintptr_t a2, uintptr_t a3, uintptr_t a4, uintptr_t a5)
{
    return p->arch->hypercall(p->arch->ctx, op, a1, a2, a3, a4, a5);
}
static inline void *gp_arch_map_gfn(const struct gp_platform *p, uint64_t gfn)
{
    return p->arch->map_gfn(p->arch->ctx, gfn);
}
static inline void gp_arch_unmap_gfn(const struct gp_platform *p, void *va)
{
    p->arch->unmap_gfn(p->arch->ctx, va);
}
static inline int gp_arch_set_hypercall(const struct gp_platform *p, enum gp_hypercall_via via,
                                        uint64_t *page_gfn)
{
    return p->arch->set_hypercall(p->arch->ctx, via, page_gfn);
}
static inline int gp_arch_set_upcall(const struct gp_platform *p, void (*fn)(void *arg,
                                     unsigned vcpu), void *arg, struct gp_upcall_route *route)
{
    return p->arch->set_upcall(p->arch->ctx, fn, arg, route);
}
static inline void gp_arch_upcall_mode(const struct gp_platform *p, bool per_vcpu_vector)
{
    p->arch->upcall_mode(p->arch->ctx, per_vcpu_vector);
}
static inline unsigned gp_arch_vcpu_count(const struct gp_platform *p)
{
    return p->arch->vcpu_count(p->arch->ctx);
}
static inline unsigned gp_arch_current_vcpu(const struct gp_platform *p)
{
    return p->arch->current_vcpu(p->arch->ctx);
}

/* Time in the platform's unit (nanoseconds: now_ns, event_wait). */
#define GP_NS_PER_US 1000ull
#define GP_NS_PER_MS 1000000ull
#define GP_NS_PER_S  1000000000ull
#define GP_US(x) ((uint64_t)(x) * GP_NS_PER_US)
#define GP_MS(x) ((uint64_t)(x) * GP_NS_PER_MS)
#define GP_S(x)  ((uint64_t)(x) * GP_NS_PER_S)

/* Memory barriers as Xen's shared rings require them (x86: stores are
 * ordered, loads are ordered; only store->load needs a fence). */
static inline void gp_mb(void)  { atomic_thread_fence(memory_order_seq_cst); }
static inline void gp_rmb(void) { atomic_thread_fence(memory_order_acquire); }
static inline void gp_wmb(void) { atomic_thread_fence(memory_order_release); }

/* The barriers xen/io/ring.h's macros use (it leaves them to us). */
#ifndef xen_mb
#define xen_mb()  gp_mb()
#define xen_rmb() gp_rmb()
#define xen_wmb() gp_wmb()
#endif

/* Read a shared-memory field exactly once (no double fetch). */
#define GP_READ_ONCE(x)      (*(const volatile __typeof__(x) *)&(x))
#define GP_WRITE_ONCE(x, v)  (*(volatile __typeof__(x) *)&(x) = (v))

#endif /* GPLPV_PLATFORM_H */
