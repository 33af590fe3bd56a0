/* Suspend for save/restore and live migration on Windows: the request
 * arrives on control/shutdown, the core's suspend_run does the sequence
 * at PASSIVE_LEVEL from a system work item, and the window in which Xen
 * takes the domain away and the platform is mapped again runs with every
 * other processor captured: each spins with interrupts off in a DPC, so
 * none of them holds a spin lock or touches a shared page meanwhile. */
#include "xenpci.h"

#include "gplpv/log.h"

#define XENPCI_MAX_CPUS 64

static struct {
    KDPC dpc[XENPCI_MAX_CPUS];
    volatile LONG arrived;
    volatile LONG release;
    WORK_QUEUE_ITEM work;
    volatile LONG queued;
} xenpci_susp;

static VOID NTAPI xenpci_suspend_capture_dpc(PKDPC dpc, PVOID ctx, PVOID a1, PVOID a2)
{
    (void)dpc;
    (void)ctx;
    (void)a1;
    (void)a2;
    __asm__ volatile("cli" ::: "memory");
    InterlockedIncrement(&xenpci_susp.arrived);
    while (!xenpci_susp.release)
        __asm__ volatile("pause" ::: "memory");
    InterlockedDecrement(&xenpci_susp.arrived);
    __asm__ volatile("sti" ::: "memory");
}

static int xenpci_suspend_critical(void *arg, int (*fn)(void *), void *fn_arg)
{
    struct xenpci_fdo *f = arg;
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    ULONG self = KeGetCurrentProcessorNumber();
    ULONG n = KeQueryActiveProcessorCount(NULL);
    if (n > XENPCI_MAX_CPUS)
        n = XENPCI_MAX_CPUS;
    xenpci_susp.release = 0;
    xenpci_susp.arrived = 0;
    for (ULONG i = 0; i < n; i++) {
        if (i == self)
            continue;
        KeInitializeDpc(&xenpci_susp.dpc[i], xenpci_suspend_capture_dpc, NULL);
        KeSetTargetProcessorDpc(&xenpci_susp.dpc[i], (CCHAR)i);
        KeSetImportanceDpc(&xenpci_susp.dpc[i], HighImportance);
        KeInsertQueueDpc(&xenpci_susp.dpc[i], NULL, NULL);
    }
    while (xenpci_susp.arrived < (LONG)n - 1)
        __asm__ volatile("pause" ::: "memory");
    __asm__ volatile("cli" ::: "memory");
    int rc = fn(fn_arg);
    __asm__ volatile("sti" ::: "memory");
    InterlockedExchange(&xenpci_susp.release, 1);
    while (xenpci_susp.arrived > 0)
        __asm__ volatile("pause" ::: "memory");
    KeLowerIrql(old);
    GP_INFO(&f->win.plat, "suspend: %lu other processor(s) held during the window", n - 1);
    return rc;
}

NTSTATUS xenpci_suspend_critical_init(struct xenpci_fdo *f)
{
    suspend_set_critical(&f->suspend, xenpci_suspend_critical, f);
    return STATUS_SUCCESS;
}

static VOID NTAPI xenpci_suspend_worker(PVOID arg)
{
    struct xenpci_fdo *f = arg;
    int rc = suspend_run(&f->suspend);
    if (rc < 0)
        GP_ERR(&f->win.plat, "suspend failed: %s", gp_strerror(rc));
    InterlockedExchange(&xenpci_susp.queued, 0);
}

/* From the control watch (deferred work): run the suspend on its own
 * work item so the xenstore watch pump is free to serve it. */
void xenpci_suspend_request(struct xenpci_fdo *f)
{
    if (InterlockedCompareExchange(&xenpci_susp.queued, 1, 0) != 0) {
        GP_WARN(&f->win.plat, "suspend already under way: request ignored");
        return;
    }
    ExInitializeWorkItem(&xenpci_susp.work, xenpci_suspend_worker, f);
    ExQueueWorkItem(&xenpci_susp.work, DelayedWorkQueue);
}
