/* Windows kernel OS services of struct gp_platform (see win_platform.h). */
#include "win_platform.h"

#include <string.h>

struct gp_lock {
    KSPIN_LOCK lock;
    KIRQL old_irql;
};

struct gp_event {
    KEVENT ev;
};

static void *win_alloc(void *ctx, size_t size)
{
    (void)ctx;
    void *p = ExAllocatePoolWithTag(win_nonpaged_pool, size ? size : 1, GPLPV_POOL_TAG);
    if (p)
        memset(p, 0, size);
    return p;
}

static void win_free(void *ctx, void *p)
{
    (void)ctx;
    if (p)
        ExFreePoolWithTag(p, GPLPV_POOL_TAG);
}

/* Pool blocks of PAGE_SIZE or more start on a page boundary. */
static void *win_page_alloc(void *ctx, uint64_t *gfn)
{
    (void)ctx;
    void *va = ExAllocatePoolWithTag(win_nonpaged_pool, PAGE_SIZE, GPLPV_POOL_TAG);
    if (!va)
        return NULL;
    memset(va, 0, PAGE_SIZE);
    if (gfn)
        *gfn = (uint64_t)MmGetPhysicalAddress(va).QuadPart >> GP_PAGE_SHIFT;
    return va;
}

static void win_page_free(void *ctx, void *va)
{
    win_free(ctx, va);
}

static bool win_va_to_gfn(void *ctx, const void *va, uint64_t *gfn)
{
    (void)ctx;
    PHYSICAL_ADDRESS pa = MmGetPhysicalAddress((PVOID)va);
    if (pa.QuadPart == 0)
        return false;
    *gfn = (uint64_t)pa.QuadPart >> GP_PAGE_SHIFT;
    return true;
}

static struct gp_lock *win_lock_create(void *ctx)
{
    struct gp_lock *l = win_alloc(ctx, sizeof(*l));
    if (l)
        KeInitializeSpinLock(&l->lock);
    return l;
}

static void win_lock_destroy(void *ctx, struct gp_lock *l)
{
    win_free(ctx, l);
}

static void win_lock_acquire(void *ctx, struct gp_lock *l)
{
    (void)ctx;
    KIRQL old;
    KeAcquireSpinLock(&l->lock, &old);
    l->old_irql = old;
}

static void win_lock_release(void *ctx, struct gp_lock *l)
{
    (void)ctx;
    KeReleaseSpinLock(&l->lock, l->old_irql);
}

static struct gp_event *win_event_create(void *ctx)
{
    struct gp_event *e = win_alloc(ctx, sizeof(*e));
    if (e)
        KeInitializeEvent(&e->ev, SynchronizationEvent, FALSE);
    return e;
}

static void win_event_destroy(void *ctx, struct gp_event *e)
{
    win_free(ctx, e);
}

static void win_event_signal(void *ctx, struct gp_event *e)
{
    (void)ctx;
    KeSetEvent(&e->ev, IO_NO_INCREMENT, FALSE);
}

static int win_event_wait(void *ctx, struct gp_event *e, uint64_t timeout_ns)
{
    (void)ctx;
    LARGE_INTEGER t;
    t.QuadPart = -(LONGLONG)(timeout_ns / 100 ? timeout_ns / 100 : 1);
    NTSTATUS st = KeWaitForSingleObject(&e->ev, Executive, KernelMode, FALSE,
                                        timeout_ns ? &t : NULL);
    return st == STATUS_TIMEOUT ? GP_ETIMEDOUT : 0;
}

static uint64_t win_now_ns(void *ctx)
{
    (void)ctx;
    return (uint64_t)KeQueryInterruptTime() * 100u;
}

#ifdef GPLPV_CHECKED
static void win_debug_port_puts(const char *s)
{
    for (; *s; s++)
        __asm__ volatile("outb %0, %1" : : "a"((uint8_t)*s), "Nd"((uint16_t)0xe9));
}
#endif

static void win_log_line(void *ctx, enum gp_log_level lvl, const char *msg)
{
    static const char *const names[] = { "error", "warning", "info", "debug" };
    static const ULONG dbg_levels[] = { DPFLTR_ERROR_LEVEL, DPFLTR_WARNING_LEVEL,
                                        DPFLTR_INFO_LEVEL, DPFLTR_TRACE_LEVEL };
    struct win_platform *w = ctx;
    unsigned l = lvl <= GP_LOG_DEBUG ? (unsigned)lvl : GP_LOG_DEBUG;
    if (lvl > w->max_level)
        return;
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, dbg_levels[l], "%s: %s: %s\n", w->name, names[l], msg);
#ifdef GPLPV_CHECKED
    /* QEMU's debug console: dom0 keeps it in the device model's log. */
    if (w->on_xen) {
        win_debug_port_puts(w->name);
        win_debug_port_puts(": ");
        win_debug_port_puts(msg);
        win_debug_port_puts("\n");
    }
#endif
}

/* ---- deferred work: ordered, one drainer at PASSIVE_LEVEL --------------- */
static VOID NTAPI win_defer_worker(PVOID arg)
{
    struct win_platform *w = arg;
    KIRQL old;
    for (;;) {
        KeAcquireSpinLock(&w->defer_lock, &old);
        if (w->defer_head == w->defer_tail) {
            w->defer_running = FALSE;
            KeSetEvent(&w->defer_idle, IO_NO_INCREMENT, FALSE);
            KeReleaseSpinLock(&w->defer_lock, old);
            return;
        }
        unsigned i = w->defer_head % WIN_DEFER_MAX;
        gp_work_fn fn = w->defer_q[i].fn;
        void *fn_arg = w->defer_q[i].arg;
        w->defer_head++;
        KeReleaseSpinLock(&w->defer_lock, old);
        fn(fn_arg);
    }
}

static int win_defer(void *ctx, gp_work_fn fn, void *arg)
{
    struct win_platform *w = ctx;
    KIRQL old;
    int rc = 0;
    KeAcquireSpinLock(&w->defer_lock, &old);
    if (w->defer_tail - w->defer_head >= WIN_DEFER_MAX) {
        rc = GP_ENOSPC;
    } else {
        w->defer_q[w->defer_tail % WIN_DEFER_MAX].fn = fn;
        w->defer_q[w->defer_tail % WIN_DEFER_MAX].arg = arg;
        w->defer_tail++;
        if (!w->defer_running) {
            w->defer_running = TRUE;
            KeClearEvent(&w->defer_idle);
            ExInitializeWorkItem(&w->defer_item, win_defer_worker, w);
            ExQueueWorkItem(&w->defer_item, DelayedWorkQueue);
        }
    }
    KeReleaseSpinLock(&w->defer_lock, old);
    return rc;
}

void win_platform_flush_deferred(struct win_platform *w)
{
    KeWaitForSingleObject(&w->defer_idle, Executive, KernelMode, FALSE, NULL);
}

BOOLEAN win_platform_safe_mode(void)
{
    UNICODE_STRING name;
    RtlInitUnicodeString(&name, L"InitSafeBootMode");
    PULONG mode = MmGetSystemRoutineAddress(&name);
    return mode && *mode != 0;
}

void win_platform_init(struct win_platform *w, const char *name)
{
    struct gp_platform *p = &w->plat;
    memset(p, 0, sizeof(*p));
    w->name = name;
#ifdef GPLPV_CHECKED
    w->max_level = GP_LOG_DEBUG;
#else
    w->max_level = GP_LOG_INFO;
#endif
    KeInitializeSpinLock(&w->defer_lock);
    KeInitializeEvent(&w->defer_idle, NotificationEvent, TRUE);
    struct gp_os *o = &w->os;
    o->ctx = w;
    o->name = "windows";
    o->alloc = win_alloc;
    o->free = win_free;
    o->page_alloc = win_page_alloc;
    o->page_free = win_page_free;
    o->va_to_gfn = win_va_to_gfn;
    o->lock_create = win_lock_create;
    o->lock_destroy = win_lock_destroy;
    o->lock_acquire = win_lock_acquire;
    o->lock_release = win_lock_release;
    o->event_create = win_event_create;
    o->event_destroy = win_event_destroy;
    o->event_signal = win_event_signal;
    o->event_wait = win_event_wait;
    o->now_ns = win_now_ns;
    o->log = win_log_line;
    o->defer = win_defer;
    p->os = o;
    w->arch = win_arch_ops;
    w->arch.ctx = w;
    p->arch = &w->arch;
}
