/* Execution contexts: each thread carries its IRQL (read and written by
 * the drivers' inline MOV CR8 too); the platform device's interrupt comes
 * on the simulator's interrupt thread at DIRQL and calls the ISR; DPCs run
 * at DISPATCH_LEVEL on the DPC thread; each work item runs at
 * PASSIVE_LEVEL on a thread of its own.  Spin locks and fast mutexes as
 * wdm.h documents them (events and waits: wh_wait.c).  Driver Verifier's
 * rules are checked in each DDI: its documented IRQL, balanced spin
 * locks, a DPC, work item or ISR returning at the IRQL it was called at
 * with no lock held. */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wh.h"

_Thread_local uint8_t wh_irql;
_Thread_local int wh_spinlocks_held;
static _Thread_local int fast_mutexes_held;

/* ---- the verifier's record -------------------------------------------- */
#define MAX_VIOLATIONS 64
static pthread_mutex_t vio_m = PTHREAD_MUTEX_INITIALIZER;
static char vio[MAX_VIOLATIONS][256];
static unsigned nvio;

void wh_violation(const char *ddi, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&vio_m);
    if (nvio < MAX_VIOLATIONS)
        snprintf(vio[nvio], sizeof(vio[0]), "%s: %s", ddi, msg);
    nvio++;
    pthread_mutex_unlock(&vio_m);
    fprintf(stderr, "VERIFIER: %s: %s\n", ddi, msg);
}

unsigned wh_violations(void)
{
    pthread_mutex_lock(&vio_m);
    unsigned n = nvio;
    pthread_mutex_unlock(&vio_m);
    return n;
}

bool wh_violation_seen(const char *needle)
{
    bool seen = false;
    pthread_mutex_lock(&vio_m);
    for (unsigned i = 0; i < nvio && i < MAX_VIOLATIONS; i++)
        seen |= strstr(vio[i], needle) != NULL;
    pthread_mutex_unlock(&vio_m);
    return seen;
}

void wh_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "wh: FATAL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    _exit(2);
}

void wh_irql_max(const char *ddi, uint8_t max)
{
    if (wh_irql > max)
        wh_violation(ddi, "called at IRQL %u, documented IRQL <= %u", wh_irql, max);
}

void wh_irql_exact(const char *ddi, uint8_t want)
{
    if (wh_irql != want)
        wh_violation(ddi, "called at IRQL %u, documented IRQL == %u", wh_irql, want);
}

void wh_thread_enter(void)
{
    wh_trap_thread();
}

/* ---- spin locks and fast mutexes -------------------------------------- */
static _Thread_local char self_marker;
void (*volatile wh_lock_hook)(void *caller);

WH_DDI(uint8_t, KeAcquireSpinLockRaiseToDpc, volatile uint64_t *lock)
{
    void (*hook)(void *) = wh_lock_hook;
    if (hook)
        hook(__builtin_return_address(0));
    wh_irql_max("KeAcquireSpinLockRaiseToDpc", WH_DISPATCH_LEVEL);
    uint64_t me = (uint64_t)(uintptr_t)&self_marker;
    if (*lock == me)
        wh_violation("KeAcquireSpinLockRaiseToDpc", "spin lock %p acquired again by its owner "
                     "(a deadlock)", (void *)lock);
    uint8_t old = wh_irql;
    wh_irql = WH_DISPATCH_LEVEL;
    uint64_t free_ = 0;
    while (!__atomic_compare_exchange_n(lock, &free_, me, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        free_ = 0;
        sched_yield();
    }
    wh_spinlocks_held++;
    return old;
}
WH_EXPORT(KeAcquireSpinLockRaiseToDpc);

WH_DDI(void, KeReleaseSpinLock, volatile uint64_t *lock, uint8_t new_irql)
{
    wh_irql_exact("KeReleaseSpinLock", WH_DISPATCH_LEVEL);
    if (*lock != (uint64_t)(uintptr_t)&self_marker)
        wh_violation("KeReleaseSpinLock", "spin lock %p released by a thread that does not hold it",
                     (void *)lock);
    __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
    wh_spinlocks_held--;
    wh_irql = new_irql;
}
WH_EXPORT(KeReleaseSpinLock);

WH_DDI(void, ExAcquireFastMutex, struct wh_fast_mutex *m)
{
    wh_irql_max("ExAcquireFastMutex", WH_APC_LEVEL);
    if (m->Owner == &self_marker)
        wh_violation("ExAcquireFastMutex", "fast mutex %p acquired again by its owner", (void *)m);
    uint8_t old = wh_irql;
    wh_irql = WH_APC_LEVEL;
    pthread_mutex_lock(&wh_disp_m);
    while (m->Count != 1)
        pthread_cond_wait(&wh_disp_cv, &wh_disp_m);
    m->Count = 0;
    m->Owner = &self_marker;
    m->OldIrql = old;
    pthread_mutex_unlock(&wh_disp_m);
    fast_mutexes_held++;
}
WH_EXPORT(ExAcquireFastMutex);

WH_DDI(void, ExReleaseFastMutex, struct wh_fast_mutex *m)
{
    wh_irql_exact("ExReleaseFastMutex", WH_APC_LEVEL);
    if (m->Owner != &self_marker)
        wh_violation("ExReleaseFastMutex", "fast mutex %p released by a thread not owning it",
                     (void *)m);
    pthread_mutex_lock(&wh_disp_m);
    uint8_t old = (uint8_t)m->OldIrql;
    m->Owner = NULL;
    m->Count = 1;
    pthread_cond_broadcast(&wh_disp_cv);
    pthread_mutex_unlock(&wh_disp_m);
    fast_mutexes_held--;
    wh_irql = old;
}
WH_EXPORT(ExReleaseFastMutex);

/* A callback returned: the IRQL it was called at, nothing still held. */
static void check_return(const char *what, void *fn, uint8_t irql)
{
    if (wh_irql != irql)
        wh_violation(what, "routine %p returned at IRQL %u, called at %u", fn, wh_irql, irql);
    if (wh_spinlocks_held || fast_mutexes_held)
        wh_violation(what, "routine %p returned holding %d spin lock(s), %d fast mutex(es)", fn,
                     wh_spinlocks_held, fast_mutexes_held);
    wh_irql = irql;
    wh_spinlocks_held = fast_mutexes_held = 0;
}

/* ---- DPCs and work items ---------------------------------------------- */
struct queued {
    struct queued *next;
    void *obj;                      /* KDPC or WORK_QUEUE_ITEM */
};
static pthread_mutex_t q_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cv = PTHREAD_COND_INITIALIZER;
static struct queued *dpc_head, **dpc_tail = &dpc_head;
static bool dpc_running, dpc_stop, dpc_started;
static unsigned work_outstanding;
static pthread_t dpc_thread;

typedef void WH_MSABI (*dpc_fn)(struct wh_kdpc *, void *, void *, void *);
typedef void WH_MSABI (*work_fn)(void *);

static void *dpc_main(void *arg)
{
    (void)arg;
    wh_thread_enter();
    pthread_mutex_lock(&q_m);
    for (;;) {
        while (!dpc_head && !dpc_stop)
            pthread_cond_wait(&q_cv, &q_m);
        if (!dpc_head)
            break;
        struct queued *q = dpc_head;
        dpc_head = q->next;
        if (!dpc_head)
            dpc_tail = &dpc_head;
        dpc_running = true;
        struct wh_kdpc *d = q->obj;
        free(q);
        void *a1 = d->SystemArgument1, *a2 = d->SystemArgument2;
        d->DpcData = NULL;
        pthread_mutex_unlock(&q_m);
        wh_irql = WH_DISPATCH_LEVEL;
        ((dpc_fn)d->DeferredRoutine)(d, d->DeferredContext, a1, a2);
        check_return("DPC", d->DeferredRoutine, WH_DISPATCH_LEVEL);
        wh_irql = WH_PASSIVE_LEVEL;
        pthread_mutex_lock(&q_m);
        dpc_running = false;
        pthread_cond_broadcast(&q_cv);
    }
    pthread_mutex_unlock(&q_m);
    return NULL;
}

void wh_dispatch_start(void)
{
    dpc_stop = false;
    dpc_started = true;
    pthread_create(&dpc_thread, NULL, dpc_main, NULL);
}

void wh_dispatch_flush(void)
{
    pthread_mutex_lock(&q_m);
    while (dpc_head || dpc_running || work_outstanding)
        pthread_cond_wait(&q_cv, &q_m);
    pthread_mutex_unlock(&q_m);
}

void wh_dispatch_stop(void)
{
    if (!dpc_started)
        return;
    wh_dispatch_flush();
    pthread_mutex_lock(&q_m);
    dpc_stop = true;
    pthread_cond_broadcast(&q_cv);
    pthread_mutex_unlock(&q_m);
    pthread_join(dpc_thread, NULL);
    dpc_started = false;
}

unsigned wh_work_outstanding(void)
{
    pthread_mutex_lock(&q_m);
    unsigned n = work_outstanding + (dpc_head != NULL) + dpc_running;
    pthread_mutex_unlock(&q_m);
    return n;
}

WH_DDI(void, KeInitializeDpc, struct wh_kdpc *d, void *routine, void *ctx)
{
    memset(d, 0, sizeof(*d));
    d->Type = 0x13;                               /* DpcObject */
    d->Importance = 1;                            /* MediumImportance */
    d->DeferredRoutine = routine;
    d->DeferredContext = ctx;
}
WH_EXPORT(KeInitializeDpc);

WH_DDI(uint8_t, KeInsertQueueDpc, struct wh_kdpc *d, void *a1, void *a2)
{
    struct queued *q = malloc(sizeof(*q));
    pthread_mutex_lock(&q_m);
    if (d->DpcData || !q) {
        pthread_mutex_unlock(&q_m);
        free(q);
        return 0;                                 /* already queued */
    }
    d->SystemArgument1 = a1;
    d->SystemArgument2 = a2;
    d->DpcData = d;
    q->obj = d;
    q->next = NULL;
    *dpc_tail = q;
    dpc_tail = &q->next;
    pthread_cond_broadcast(&q_cv);
    pthread_mutex_unlock(&q_m);
    return 1;
}
WH_EXPORT(KeInsertQueueDpc);

WH_DDI(void, KeSetImportanceDpc, struct wh_kdpc *d, int importance)
{
    d->Importance = (uint8_t)importance;
}
WH_EXPORT(KeSetImportanceDpc);

WH_DDI(void, KeSetTargetProcessorDpc, struct wh_kdpc *d, int8_t number)
{
    d->Number = (uint16_t)(number + 32);          /* "targeted" as the kernel marks it */
}
WH_EXPORT(KeSetTargetProcessorDpc);

WH_DDI(void, KeFlushQueuedDpcs, void)
{
    wh_irql_exact("KeFlushQueuedDpcs", WH_PASSIVE_LEVEL);
    pthread_mutex_lock(&q_m);
    while (dpc_head || dpc_running)
        pthread_cond_wait(&q_cv, &q_m);
    pthread_mutex_unlock(&q_m);
}
WH_EXPORT(KeFlushQueuedDpcs);

WH_DDI(uint32_t, KeQueryActiveProcessorCount, uint64_t *affinity)
{
    if (affinity)
        *affinity = 1;
    return 1;
}
WH_EXPORT(KeQueryActiveProcessorCount);

static void *work_main(void *arg)
{
    struct wh_work_queue_item *w = arg;
    wh_thread_enter();
    wh_irql = WH_PASSIVE_LEVEL;
    void *fn = w->WorkerRoutine;
    ((work_fn)fn)(w->Parameter);                  /* the item may be reused from here on */
    check_return("work item", fn, WH_PASSIVE_LEVEL);
    pthread_mutex_lock(&q_m);
    work_outstanding--;
    pthread_cond_broadcast(&q_cv);
    pthread_mutex_unlock(&q_m);
    return NULL;
}

WH_DDI(void, ExQueueWorkItem, struct wh_work_queue_item *w, int type)
{
    (void)type;
    wh_irql_max("ExQueueWorkItem", WH_DISPATCH_LEVEL);
    if (!w->WorkerRoutine)
        wh_violation("ExQueueWorkItem", "work item %p has no routine", (void *)w);
    pthread_mutex_lock(&q_m);
    work_outstanding++;
    pthread_mutex_unlock(&q_m);
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, work_main, w))
        wh_fatal("ExQueueWorkItem: no thread");
    pthread_attr_destroy(&a);
}
WH_EXPORT(ExQueueWorkItem);

/* ---- the interrupt ----------------------------------------------------- */
typedef uint8_t WH_MSABI (*isr_fn)(void *, void *);
struct wh_interrupt {
    isr_fn isr;
    void *ctx;
    uint8_t irql;
};
volatile unsigned wh_isr_calls;
/* After a bug check the processor takes no interrupt (the dump stack polls). */
volatile bool wh_interrupts_masked;

static void irq_fire(void *arg, unsigned vcpu)
{
    struct wh_interrupt *i = arg;
    (void)vcpu;
    if (wh_interrupts_masked)
        return;
    wh_thread_enter();
    wh_irql = i->irql;
    i->isr(i, i->ctx);
    check_return("ISR", (void *)i->isr, i->irql);
    wh_irql = WH_PASSIVE_LEVEL;
    __atomic_add_fetch(&wh_isr_calls, 1, __ATOMIC_RELAXED);
}

WH_DDI(NTSTATUS_, IoConnectInterrupt, struct wh_interrupt **out, void *isr, void *ctx, void *lock,
       uint32_t vector, uint8_t irql, uint8_t sync_irql, int mode, uint8_t shared, uint64_t affinity,
       uint8_t fsave)
{
    (void)lock;
    (void)sync_irql;
    (void)mode;
    (void)shared;
    (void)affinity;
    (void)fsave;
    wh_irql_exact("IoConnectInterrupt", WH_PASSIVE_LEVEL);
    if (vector != WH_PLATFORM_VECTOR || irql != WH_PLATFORM_DIRQL) {
        wh_violation("IoConnectInterrupt", "vector %u IRQL %u are not the translated resource's "
                     "(%u, %u)", vector, irql, WH_PLATFORM_VECTOR, WH_PLATFORM_DIRQL);
        return WH_STATUS_INVALID_PARAMETER;
    }
    struct wh_interrupt *i = calloc(1, sizeof(*i));
    i->isr = (isr_fn)isr;
    i->ctx = ctx;
    i->irql = irql;
    struct gp_upcall_route route;
    wh_m.raw->arch->set_upcall(wh_m.raw->arch_ctx, irq_fire, i, &route);
    *out = i;
    return WH_STATUS_SUCCESS;
}
WH_EXPORT(IoConnectInterrupt);

WH_DDI(void, IoDisconnectInterrupt, struct wh_interrupt *i)
{
    wh_irql_exact("IoDisconnectInterrupt", WH_PASSIVE_LEVEL);
    struct gp_upcall_route route;
    wh_m.raw->arch->set_upcall(wh_m.raw->arch_ctx, NULL, NULL, &route);   /* waits for the ISR */
    free(i);
}
WH_EXPORT(IoDisconnectInterrupt);

/* A relative interval (negative, 100 ns units) only; IRQL <= APC_LEVEL. */
WH_DDI(NTSTATUS_, KeDelayExecutionThread, int8_t mode, uint8_t alertable, int64_t *interval)
{
    (void)mode;
    (void)alertable;
    wh_irql_max("KeDelayExecutionThread", WH_APC_LEVEL);
    if (wh_spinlocks_held)
        wh_violation("KeDelayExecutionThread", "called holding a spin lock");
    if (*interval > 0)
        wh_fatal("KeDelayExecutionThread: absolute times are not implemented by the host");
    uint64_t ns = (uint64_t)(-*interval) * 100;
    struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
    nanosleep(&ts, NULL);
    return WH_STATUS_SUCCESS;
}
WH_EXPORT(KeDelayExecutionThread);
