/* hvmkernel's struct gp_platform: the OS services and HVM arch access the
 * core needs, on one vCPU with interrupts.  Deferred work runs whenever the
 * kernel waits (event_wait) or calls hvmk_platform_poll(). */
#include "hvmk_platform.h"

#include "gplpv/log.h"

#include <stdatomic.h>
#include <string.h>

struct gp_lock {
    atomic_flag held;
    uint64_t saved_flags;
};

struct gp_event {
    atomic_bool signalled;
};

#define HVMK_DEFER_MAX 1024
static struct {
    gp_work_fn fn;
    void *arg;
} hvmk_defer_q[HVMK_DEFER_MAX];
static unsigned hvmk_defer_head, hvmk_defer_tail;   /* free-running */
static unsigned hvmk_defer_depth;
static enum gp_hypercall_via hvmk_hcall_via;
static void *hvmk_hypercall_page;
static void (*hvmk_upcall_fn)(void *arg, unsigned vcpu);
static void *hvmk_upcall_arg;

static void *hvmk_p_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return hvmk_malloc(size);
}

static void hvmk_p_free(void *ctx, void *p)
{
    (void)ctx;
    hvmk_mfree(p);
}

static void *hvmk_p_page_alloc(void *ctx, uint64_t *gfn)
{
    (void)ctx;
    void *va = hvmk_page_alloc();
    if (va && gfn)
        *gfn = (uint64_t)(uintptr_t)va >> 12;
    return va;
}

static void hvmk_p_page_free(void *ctx, void *va)
{
    (void)ctx;
    hvmk_page_free(va);
}

static bool hvmk_p_va_to_gfn(void *ctx, const void *va, uint64_t *gfn)
{
    (void)ctx;
    *gfn = (uint64_t)(uintptr_t)va >> 12;
    return (uintptr_t)va < 0xf0000000ul;
}

static struct gp_lock *hvmk_p_lock_create(void *ctx)
{
    (void)ctx;
    struct gp_lock *l = hvmk_malloc(sizeof(*l));
    if (l)
        atomic_flag_clear(&l->held);
    return l;
}

static void hvmk_p_lock_destroy(void *ctx, struct gp_lock *l)
{
    (void)ctx;
    hvmk_mfree(l);
}

static void hvmk_p_lock_acquire(void *ctx, struct gp_lock *l)
{
    (void)ctx;
    uint64_t f = hvmk_irq_save();
    while (atomic_flag_test_and_set_explicit(&l->held, memory_order_acquire))
        __asm__ volatile("pause");
    l->saved_flags = f;
}

static void hvmk_p_lock_release(void *ctx, struct gp_lock *l)
{
    (void)ctx;
    uint64_t f = l->saved_flags;
    atomic_flag_clear_explicit(&l->held, memory_order_release);
    hvmk_irq_restore(f);
}

static struct gp_event *hvmk_p_event_create(void *ctx)
{
    (void)ctx;
    return hvmk_malloc(sizeof(struct gp_event));
}

static void hvmk_p_event_destroy(void *ctx, struct gp_event *e)
{
    (void)ctx;
    hvmk_mfree(e);
}

static void hvmk_p_event_signal(void *ctx, struct gp_event *e)
{
    (void)ctx;
    atomic_store(&e->signalled, true);
}

static int hvmk_p_event_wait(void *ctx, struct gp_event *e, uint64_t timeout_ns)
{
    (void)ctx;
    uint64_t deadline = timeout_ns ? hvmk_now_ns() + timeout_ns : 0;
    for (;;) {
        if (atomic_exchange(&e->signalled, false))
            return 0;
        hvmk_platform_poll();
        if (atomic_exchange(&e->signalled, false))
            return 0;
        if (deadline && hvmk_now_ns() >= deadline)
            return GP_ETIMEDOUT;
        hvmk_idle();          /* the 1 kHz LAPIC timer bounds the sleep */
    }
}

static uint64_t hvmk_p_now_ns(void *ctx)
{
    (void)ctx;
    return hvmk_now_ns();
}

static void hvmk_p_log(void *ctx, enum gp_log_level lvl, const char *msg)
{
    static const char *const names[] = { "ERROR", "WARN", "INFO", "DEBUG" };
    (void)ctx;
    if (lvl == GP_LOG_DEBUG)
        return;
    hvmk_printf("hvmk: core %s: %s\n", names[lvl <= GP_LOG_DEBUG ? lvl : GP_LOG_DEBUG], msg);
}

static int hvmk_p_defer(void *ctx, gp_work_fn fn, void *arg)
{
    (void)ctx;
    uint64_t f = hvmk_irq_save();
    int rc = 0;
    if (hvmk_defer_tail - hvmk_defer_head >= HVMK_DEFER_MAX) {
        rc = GP_ENOSPC;
    } else {
        hvmk_defer_q[hvmk_defer_tail % HVMK_DEFER_MAX].fn = fn;
        hvmk_defer_q[hvmk_defer_tail % HVMK_DEFER_MAX].arg = arg;
        hvmk_defer_tail++;
    }
    hvmk_irq_restore(f);
    return rc;
}

void hvmk_platform_poll(void)
{
    /* Nested waits (a deferred watch callback that itself waits for a
     * reply) run the queue too; keep the nesting bounded. */
    if (hvmk_defer_depth >= 4)
        return;
    hvmk_defer_depth++;
    for (;;) {
        uint64_t f = hvmk_irq_save();
        if (hvmk_defer_head == hvmk_defer_tail) {
            hvmk_irq_restore(f);
            break;
        }
        gp_work_fn fn = hvmk_defer_q[hvmk_defer_head % HVMK_DEFER_MAX].fn;
        void *arg = hvmk_defer_q[hvmk_defer_head % HVMK_DEFER_MAX].arg;
        hvmk_defer_head++;
        hvmk_irq_restore(f);
        fn(arg);
    }
    hvmk_defer_depth--;
}

/* ---- arch ops --------------------------------------------------------- */
static void hvmk_a_cpuid(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t regs[4])
{
    (void)ctx;
    hvmk_cpuid(leaf, subleaf, regs);
}

static void hvmk_a_wrmsr(void *ctx, uint32_t msr, uint64_t value)
{
    (void)ctx;
    hvmk_wrmsr(msr, value);
}

static uint32_t hvmk_a_io_in(void *ctx, uint16_t port, unsigned size)
{
    (void)ctx;
    return size == 1 ? hvmk_inb(port) : size == 2 ? hvmk_inw(port) : hvmk_inl(port);
}

static void hvmk_a_io_out(void *ctx, uint16_t port, unsigned size, uint32_t value)
{
    (void)ctx;
    if (size == 1)
        hvmk_outb(port, (uint8_t)value);
    else if (size == 2)
        hvmk_outw(port, (uint16_t)value);
    else
        hvmk_outl(port, value);
}

/* Xen's x86-64 convention: op in rax, arguments in rdi rsi rdx r10 r8,
 * the result in rax; Xen may clobber the argument registers.  By the
 * instruction the core chose for the CPU's vendor (VMCALL on VT-x,
 * VMMCALL on AMD-V), or through the page Xen wrote (an unknown vendor). */
static long hvmk_a_hypercall(void *ctx, unsigned op, uintptr_t a1, uintptr_t a2, uintptr_t a3,
                             uintptr_t a4, uintptr_t a5)
{
    (void)ctx;
    uintptr_t ret = op;
    register uintptr_t r10 __asm__("r10") = a4;
    register uintptr_t r8 __asm__("r8") = a5;
    switch (hvmk_hcall_via) {
    case GP_HYPERCALL_VMCALL:
        __asm__ volatile("vmcall"
                         : "+a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8)
                         :
                         : "memory");
        break;
    case GP_HYPERCALL_VMMCALL:
        __asm__ volatile("vmmcall"
                         : "+a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8)
                         :
                         : "memory");
        break;
    case GP_HYPERCALL_PAGE: {
        if (!hvmk_hypercall_page || op >= 128)
            return -38;
        void *entry = (char *)hvmk_hypercall_page + op * 32;
        __asm__ volatile("call *%[entry]"
                         : "+a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8)
                         : [entry] "r"(entry)
                         : "memory", "rcx", "r11");
        break;
    }
    default:
        return -38;   /* -ENOSYS: no way chosen yet */
    }
    return (long)ret;
}

static void *hvmk_a_map_gfn(void *ctx, uint64_t gfn)
{
    (void)ctx;
    /* Everything below 4 GiB is identity-mapped, the special pages Xen
     * puts in the MMIO hole (xenstore, console) included. */
    return gfn < (1ull << 20) ? (void *)(uintptr_t)(gfn << 12) : NULL;
}

static void hvmk_a_unmap_gfn(void *ctx, void *va)
{
    (void)ctx;
    (void)va;
}

static void hvmk_upcall_vector(void *arg)
{
    hvmk_stack_check();
    (void)arg;
    if (hvmk_upcall_fn)
        hvmk_upcall_fn(hvmk_upcall_arg, hvmk_cpu_xen_vcpu(hvmk_cpu_index()));
}

/* Xen delivers the upcall on HVMK_XEN_VECTOR: as the callback vector
 * (HVM_PARAM_CALLBACK_IRQ type 2, no EOI) or as the per-vCPU upcall
 * vector (EOI needed). */
static int hvmk_a_set_upcall(void *ctx, void (*fn)(void *arg, unsigned vcpu), void *arg,
                             struct gp_upcall_route *route)
{
    (void)ctx;
    hvmk_upcall_arg = arg;
    hvmk_upcall_fn = fn;
    if (!fn)
        return 0;      /* handlers run with interrupts off: none is running now */
    hvmk_set_vector_handler(HVMK_XEN_VECTOR, hvmk_upcall_vector, NULL);
    route->callback_via = (2ull << 56) | HVMK_XEN_VECTOR;
    route->vector = HVMK_XEN_VECTOR;
    return 0;
}

static void hvmk_a_upcall_mode(void *ctx, bool per_vcpu_vector)
{
    (void)ctx;
    hvmk_xen_vector_needs_eoi(per_vcpu_vector);
}

/* The page path takes an identity-mapped page (executable: the kernel's
 * page tables set no NX bit). */
static int hvmk_a_set_hypercall(void *ctx, enum gp_hypercall_via via, uint64_t *page_gfn)
{
    (void)ctx;
    if (hvmk_hypercall_page && via != GP_HYPERCALL_PAGE) {
        hvmk_page_free(hvmk_hypercall_page);
        hvmk_hypercall_page = NULL;
    }
    if (via == GP_HYPERCALL_PAGE && !hvmk_hypercall_page) {
        hvmk_hypercall_page = hvmk_page_alloc();
        if (!hvmk_hypercall_page)
            return GP_ENOMEM;
        *page_gfn = (uint64_t)(uintptr_t)hvmk_hypercall_page >> 12;
    }
    hvmk_hcall_via = via;
    return 0;
}

static unsigned hvmk_a_vcpu_count(void *ctx)
{
    (void)ctx;
    return hvmk_cpu_count();
}

static unsigned hvmk_a_current_vcpu(void *ctx)
{
    (void)ctx;
    return hvmk_cpu_xen_vcpu(hvmk_cpu_index());
}

static const struct gp_arch hvmk_arch = {
    .ctx = NULL,
    .cpuid = hvmk_a_cpuid,
    .wrmsr = hvmk_a_wrmsr,
    .io_in = hvmk_a_io_in,
    .io_out = hvmk_a_io_out,
    .hypercall = hvmk_a_hypercall,
    .map_gfn = hvmk_a_map_gfn,
    .unmap_gfn = hvmk_a_unmap_gfn,
    .set_hypercall = hvmk_a_set_hypercall,
    .set_upcall = hvmk_a_set_upcall,
    .upcall_mode = hvmk_a_upcall_mode,
    .vcpu_count = hvmk_a_vcpu_count,
    .current_vcpu = hvmk_a_current_vcpu,
};

static const struct gp_os hvmk_os = {
    .ctx = NULL,
    .name = "hvmkernel",
    .alloc = hvmk_p_alloc,
    .free = hvmk_p_free,
    .page_alloc = hvmk_p_page_alloc,
    .page_free = hvmk_p_page_free,
    .va_to_gfn = hvmk_p_va_to_gfn,
    .lock_create = hvmk_p_lock_create,
    .lock_destroy = hvmk_p_lock_destroy,
    .lock_acquire = hvmk_p_lock_acquire,
    .lock_release = hvmk_p_lock_release,
    .event_create = hvmk_p_event_create,
    .event_destroy = hvmk_p_event_destroy,
    .event_signal = hvmk_p_event_signal,
    .event_wait = hvmk_p_event_wait,
    .now_ns = hvmk_p_now_ns,
    .log = hvmk_p_log,
    .defer = hvmk_p_defer,
};

void hvmk_platform_init(struct gp_platform *p)
{
    *p = (struct gp_platform){ .os = &hvmk_os, .arch = &hvmk_arch };
}
