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

static void wait_for_a_processor(void);

void wh_irql_max(const char *ddi, uint8_t max)
{
    wait_for_a_processor();
    if (wh_irql > max)
        wh_violation(ddi, "called at IRQL %u, documented IRQL <= %u", wh_irql, max);
}

void wh_irql_exact(const char *ddi, uint8_t want)
{
    wait_for_a_processor();
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
static _Thread_local bool holds_cpu;

static void check_return(const char *what, void *fn, uint8_t irql)
{
    if (holds_cpu) {
        wh_violation(what, "routine %p returned with interrupts disabled (CLI without STI)", fn);
        wh_interrupt_flag(false);
    }
    if (wh_irql != irql)
        wh_violation(what, "routine %p returned at IRQL %u, called at %u", fn, wh_irql, irql);
    if (wh_spinlocks_held || fast_mutexes_held)
        wh_violation(what, "routine %p returned holding %d spin lock(s), %d fast mutex(es)", fn,
                     wh_spinlocks_held, fast_mutexes_held);
    wh_irql = irql;
    wh_spinlocks_held = fast_mutexes_held = 0;
}

/* ---- processors, DPCs and work items ----------------------------------
 * wh_cpus processors (1 unless a scenario asks for more): processor k has
 * a DPC queue and a thread of its own that runs it at DISPATCH_LEVEL with
 * KPCR.Number k; a DPC goes to processor 0 unless KeSetTargetProcessorDpc
 * named another.  Work items and the scenario's own thread say they run on
 * processor 0.
 *
 * Interrupts off everywhere: a thread that executes CLI holds its
 * processor (no interrupt, no clock, no preemption reaches it).  Once as
 * many threads hold one as there are processors, the machine is held: the
 * interrupt is left pending, no DPC starts, and driver code at PASSIVE or
 * APC level stops at its next DDI call (its processor was taken from it)
 * until a holder executes STI.  The CLI that completes the hold first
 * waits for a DPC or ISR already running to finish: on Windows it could
 * not be running then, each processor being one of the holders. */
struct queued {
    struct queued *next;
    void *obj;                      /* KDPC or WORK_QUEUE_ITEM */
};
struct dpc_queue {
    struct queued *head, **tail;
    bool running;
    bool holding;                   /* its running DPC disabled interrupts */
    pthread_t thread;
};
static _Thread_local struct dpc_queue *my_dpcq;
unsigned wh_cpus = 1;
static pthread_mutex_t q_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cv = PTHREAD_COND_INITIALIZER;
static struct dpc_queue dpcq[WH_MAX_CPUS];
static bool dpc_stop, dpc_started;
static unsigned work_outstanding;
static unsigned cli_holders, isr_running;
static bool machine_held;
volatile unsigned wh_held_windows;          /* times the machine was held */

typedef void WH_MSABI (*dpc_fn)(struct wh_kdpc *, void *, void *, void *);
typedef void WH_MSABI (*work_fn)(void *);

static bool dpc_busy_locked(void)
{
    for (unsigned i = 0; i < wh_cpus; i++)
        if (dpcq[i].head || dpcq[i].running)
            return true;
    return false;
}

static void *dpc_main(void *arg)
{
    struct dpc_queue *q = arg;
    my_dpcq = q;
    wh_thread_enter();
    wh_trap_set_processor((unsigned)(q - dpcq));
    pthread_mutex_lock(&q_m);
    for (;;) {
        while ((!q->head || machine_held) && !dpc_stop)
            pthread_cond_wait(&q_cv, &q_m);
        if (!q->head)
            break;
        struct queued *e = q->head;
        q->head = e->next;
        if (!q->head)
            q->tail = &q->head;
        q->running = true;
        struct wh_kdpc *d = e->obj;
        free(e);
        void *a1 = d->SystemArgument1, *a2 = d->SystemArgument2;
        d->DpcData = NULL;
        pthread_mutex_unlock(&q_m);
        wh_irql = WH_DISPATCH_LEVEL;
        ((dpc_fn)d->DeferredRoutine)(d, d->DeferredContext, a1, a2);
        check_return("DPC", d->DeferredRoutine, WH_DISPATCH_LEVEL);
        wh_irql = WH_PASSIVE_LEVEL;
        pthread_mutex_lock(&q_m);
        q->running = false;
        pthread_cond_broadcast(&q_cv);
    }
    pthread_mutex_unlock(&q_m);
    return NULL;
}

void wh_dispatch_start(void)
{
    if (wh_cpus < 1 || wh_cpus > WH_MAX_CPUS)
        wh_fatal("%u processors (the host models 1 to %d)", wh_cpus, WH_MAX_CPUS);
    dpc_stop = false;
    dpc_started = true;
    for (unsigned i = 0; i < wh_cpus; i++) {
        dpcq[i].head = NULL;
        dpcq[i].tail = &dpcq[i].head;
        pthread_create(&dpcq[i].thread, NULL, dpc_main, &dpcq[i]);
    }
}

void wh_dispatch_flush(void)
{
    pthread_mutex_lock(&q_m);
    while (dpc_busy_locked() || work_outstanding)
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
    for (unsigned i = 0; i < wh_cpus; i++)
        pthread_join(dpcq[i].thread, NULL);
    dpc_started = false;
}

unsigned wh_work_outstanding(void)
{
    pthread_mutex_lock(&q_m);
    unsigned n = work_outstanding + dpc_busy_locked();
    pthread_mutex_unlock(&q_m);
    return n;
}

/* CLI (off) or STI on this thread (wh_trap.c decodes them). */
void wh_interrupt_flag(bool off)
{
    if (off == holds_cpu)
        return;
    holds_cpu = off;
    pthread_mutex_lock(&q_m);
    if (off)
        cli_holders++;
    else
        cli_holders--;
    if (my_dpcq)
        my_dpcq->holding = off;
    bool was = machine_held;
    machine_held = cli_holders >= wh_cpus;
    if (machine_held && !was) {
        wh_held_windows++;
        /* what runs elsewhere finishes first: it could not run on Windows */
        bool busy = true;
        while (busy) {
            busy = isr_running > 0;
            for (unsigned i = 0; i < wh_cpus; i++)
                busy |= dpcq[i].running && !dpcq[i].holding;
            if (busy)
                pthread_cond_wait(&q_cv, &q_m);
        }
    }
    pthread_cond_broadcast(&q_cv);
    pthread_mutex_unlock(&q_m);
}

bool wh_machine_held(void)
{
    return __atomic_load_n(&machine_held, __ATOMIC_ACQUIRE);
}

/* Driver code at PASSIVE or APC level entering a DDI while every processor
 * is held waits there: it has no processor to run on. */
static void wait_for_a_processor(void)
{
    if (holds_cpu || wh_irql >= WH_DISPATCH_LEVEL || wh_spinlocks_held ||
        !__atomic_load_n(&machine_held, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&q_m);
    while (machine_held)
        pthread_cond_wait(&q_cv, &q_m);
    pthread_mutex_unlock(&q_m);
}

/* The host itself is about to enter a driver (StorPort's HwStartIo, NDIS's
 * send path): that needs a processor too. */
void wh_processor_wait(void)
{
    wait_for_a_processor();
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
    unsigned cpu = d->Number >= 32 ? d->Number - 32u : 0;
    if (cpu >= wh_cpus) {
        wh_violation("KeInsertQueueDpc", "DPC %p targeted at processor %u of %u", (void *)d, cpu,
                     wh_cpus);
        cpu = 0;
    }
    struct queued *e = malloc(sizeof(*e));
    pthread_mutex_lock(&q_m);
    if (d->DpcData || !e) {
        pthread_mutex_unlock(&q_m);
        free(e);
        return 0;                                 /* already queued */
    }
    d->SystemArgument1 = a1;
    d->SystemArgument2 = a2;
    d->DpcData = d;
    e->obj = d;
    e->next = NULL;
    *dpcq[cpu].tail = e;
    dpcq[cpu].tail = &e->next;
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
    while (dpc_busy_locked())
        pthread_cond_wait(&q_cv, &q_m);
    pthread_mutex_unlock(&q_m);
}
WH_EXPORT(KeFlushQueuedDpcs);

WH_DDI(uint32_t, KeQueryActiveProcessorCount, uint64_t *affinity)
{
    if (affinity)
        *affinity = (1ull << wh_cpus) - 1;
    return wh_cpus;
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

/* Something of the host's own runs on a thread for the drivers (a power
 * request): counted as a work item, so flushes and unload checks wait. */
void wh_work_begin(void)
{
    pthread_mutex_lock(&q_m);
    work_outstanding++;
    pthread_mutex_unlock(&q_m);
}

void wh_work_done(void)
{
    pthread_mutex_lock(&q_m);
    work_outstanding--;
    pthread_cond_broadcast(&q_cv);
    pthread_mutex_unlock(&q_m);
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
    wh_run_detached(work_main, w, "ExQueueWorkItem");
}
WH_EXPORT(ExQueueWorkItem);

void wh_run_detached(void *(*fn)(void *), void *arg, const char *who)
{
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, fn, arg))
        wh_fatal("%s: no thread", who);
    pthread_attr_destroy(&a);
}

/* ---- the interrupt ----------------------------------------------------- */
typedef uint8_t WH_MSABI (*isr_fn)(void *, void *);
struct wh_interrupt {
    isr_fn isr;
    void *ctx;
    uint8_t irql;
};
volatile unsigned wh_isr_calls;
/* After a bug check, and while the hibernation file is written, the
 * processor takes no interrupt (the dump stack polls): the line stays
 * pending until it is unmasked (after a resume). */
static bool interrupts_masked;

void wh_interrupts_mask(bool masked)
{
    pthread_mutex_lock(&q_m);
    interrupts_masked = masked;
    pthread_cond_broadcast(&q_cv);
    pthread_mutex_unlock(&q_m);
}

static void irq_fire(void *arg, unsigned vcpu)
{
    struct wh_interrupt *i = arg;
    (void)vcpu;
    wh_thread_enter();
    pthread_mutex_lock(&q_m);
    while (machine_held || interrupts_masked)     /* pending until a processor takes it */
        pthread_cond_wait(&q_cv, &q_m);
    isr_running++;
    pthread_mutex_unlock(&q_m);
    wh_irql = i->irql;
    i->isr(i, i->ctx);
    check_return("ISR", (void *)i->isr, i->irql);
    wh_irql = WH_PASSIVE_LEVEL;
    pthread_mutex_lock(&q_m);
    isr_running--;
    pthread_cond_broadcast(&q_cv);
    pthread_mutex_unlock(&q_m);
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
    gp_arch_set_upcall(wh_m.raw, irq_fire, i, &route);
    *out = i;
    return WH_STATUS_SUCCESS;
}
WH_EXPORT(IoConnectInterrupt);

WH_DDI(void, IoDisconnectInterrupt, struct wh_interrupt *i)
{
    wh_irql_exact("IoDisconnectInterrupt", WH_PASSIVE_LEVEL);
    struct gp_upcall_route route;
    gp_arch_set_upcall(wh_m.raw, NULL, NULL, &route);   /* waits for the ISR */
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
