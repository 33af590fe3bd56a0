/* xenpci on START: the platform PCI device's interrupt, the core's HVM
 * bring-up, the xenstore client, and the bus services - control requests
 * (handed to shutdownmon, suspend run here), the balloon, and the
 * bug-check report.  xenpci_xen_stop undoes whatever was done. */
#include "xenpci.h"

#include <string.h>

#include "gplpv/balloon.h"
#include "gplpv/control.h"
#include "gplpv/crash.h"
#include "gplpv/log.h"
#include "gplpv/xs.h"

static void xenpci_xen_step(void *arg, const char *step, int err, const char *detail)
{
    struct xenpci_fdo *f = arg;
    if (err)
        GP_ERR(&f->win.plat, "bring-up %s failed: %s (%s)", step, gp_strerror(err),
               detail ? detail : "");
    else
        GP_INFO(&f->win.plat, "bring-up %s: %s", step, detail ? detail : "ok");
}

/* The raw list names the line Xen must raise (a GSI); the translated
 * list what IoConnectInterrupt takes. */
static BOOLEAN xenpci_xen_find_interrupt(PCM_RESOURCE_LIST raw, PCM_RESOURCE_LIST tr,
                                         struct win_interrupt_res *irq)
{
    if (!raw || !tr || raw->Count < 1 || tr->Count < 1)
        return FALSE;
    PCM_PARTIAL_RESOURCE_LIST rl = &raw->List[0].PartialResourceList;
    PCM_PARTIAL_RESOURCE_LIST tl = &tr->List[0].PartialResourceList;
    for (ULONG i = 0; i < tl->Count && i < rl->Count; i++) {
        PCM_PARTIAL_RESOURCE_DESCRIPTOR t = &tl->PartialDescriptors[i];
        PCM_PARTIAL_RESOURCE_DESCRIPTOR r = &rl->PartialDescriptors[i];
        if (t->Type != CmResourceTypeInterrupt || r->Type != CmResourceTypeInterrupt)
            continue;
        if (t->Flags & CM_RESOURCE_INTERRUPT_MESSAGE)
            continue;                              /* MSI cannot carry the callback via */
        irq->present = TRUE;
        irq->gsi = r->u.Interrupt.Level;
        irq->vector = t->u.Interrupt.Vector;
        irq->irql = (KIRQL)t->u.Interrupt.Level;
        irq->affinity = t->u.Interrupt.Affinity;
        irq->mode = (t->Flags & CM_RESOURCE_INTERRUPT_LATCHED) ? Latched : LevelSensitive;
        irq->shared = t->ShareDisposition == CmResourceShareShared;
        return TRUE;
    }
    return FALSE;
}

/* ---- control: shutdownmon performs power actions, we perform suspend -- */
static void xenpci_xen_on_shutdown(void *arg, enum control_action a)
{
    struct xenpci_fdo *f = arg;
    GP_INFO(&f->win.plat, "control: %s requested", control_action_name(a));
    if (a == CONTROL_SUSPEND) {
        xenpci_suspend_request(f);
        return;
    }
    InterlockedExchange(&f->pending_action, (LONG)a + 1);
    KeSetEvent(&f->shutdown_event, IO_NO_INCREMENT, FALSE);
}

static void xenpci_xen_on_sysrq(void *arg, char key)
{
    struct xenpci_fdo *f = arg;
    GP_INFO(&f->win.plat, "control: sysrq '%c' (no handler on Windows)", key);
}

/* ---- balloon: physical pages taken from Windows, mapped nowhere --------
 * The cookie the core keeps is the MDL that describes the page; nothing
 * in Windows can touch the frame while Xen does not back it. */
static void *xenpci_xen_balloon_take(void *arg, uint64_t *gfn)
{
    (void)arg;
    PHYSICAL_ADDRESS lo, hi, skip;
    lo.QuadPart = 0;
    hi.QuadPart = -1;
    skip.QuadPart = 0;
    PMDL mdl = MmAllocatePagesForMdl(lo, hi, skip, PAGE_SIZE);
    if (!mdl)
        return NULL;
    if (MmGetMdlByteCount(mdl) < PAGE_SIZE) {         /* memory pressure: none to give */
        MmFreePagesFromMdl(mdl);
        ExFreePool(mdl);
        return NULL;
    }
    *gfn = MmGetMdlPfnArray(mdl)[0];
    return mdl;
}

static void xenpci_xen_balloon_give(void *arg, void *cookie)
{
    (void)arg;
    PMDL mdl = cookie;
    MmFreePagesFromMdl(mdl);
    ExFreePool(mdl);
}

/* ---- a new domain: what the guest wrote to xenstore is gone ------------
 * After a restore (or a resume from hibernation) the toolstack has written
 * the domain's xenstore afresh: the control and balloon features are
 * announced again, first thing after xenstore is back (before the devices
 * reconnect), so the toolstack sees the PV drivers at once.  The balloon
 * is told of the suspend first: after it, before any memory/target is
 * acted on, it asks Xen which of its pages have RAM again (all of them in
 * the new domain a resume from hibernation runs in, none after a restore). */
static void xenpci_xen_quiesce(void *arg)
{
    struct xenpci_fdo *f = arg;
    if (f->balloon)
        balloon_suspend(f->balloon);
}

static int xenpci_xen_new_domain(void *arg, bool cancelled)
{
    struct xenpci_fdo *f = arg;
    if (cancelled)
        return 0;
    if (f->control)
        control_announce(f->control);
    if (f->balloon)
        balloon_announce(f->balloon);
    return 0;
}

/* ---- bug check: tell dom0 why we died -------------------------------- */
static struct xenpci_fdo *xenpci_xen_crash_fdo;
static PULONG_PTR xenpci_xen_bugcheck_data;   /* ntoskrnl's KiBugCheckData[5] */

static VOID NTAPI xenpci_xen_bugcheck(PVOID buffer, ULONG length)
{
    (void)buffer;
    (void)length;
    struct xenpci_fdo *f = xenpci_xen_crash_fdo;
    if (!f)
        return;
    uint64_t params[4] = { 0, 0, 0, 0 };
    uint32_t code = 0;
    if (xenpci_xen_bugcheck_data) {
        code = (uint32_t)xenpci_xen_bugcheck_data[0];
        for (int i = 0; i < 4; i++)
            params[i] = xenpci_xen_bugcheck_data[i + 1];
    }
    crash_report(&f->win.plat, code, params, "Windows stopped");
}

NTSTATUS xenpci_xen_start(struct xenpci_fdo *f, PCM_RESOURCE_LIST raw, PCM_RESOURCE_LIST translated)
{
    struct gp_platform *p = &f->win.plat;
    if (!xenpci_xen_find_interrupt(raw, translated, &f->win.irq)) {
        GP_ERR(p, "the platform PCI device has no line interrupt: cannot take event channels");
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    }
    f->win.on_xen = TRUE;
    GP_INFO(p, "interrupt: GSI %lu, vector %lu, IRQL %u, %s%s", f->win.irq.gsi, f->win.irq.vector,
            f->win.irq.irql, f->win.irq.mode == Latched ? "edge" : "level",
            f->win.irq.shared ? ", shared" : "");
    int err = hvm_platform_attach(p, &(struct hvm_opts){ 0 }, xenpci_xen_step, f, &f->hvm);
    if (err)
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    p->xen = hvm_platform_xen(f->hvm);
    err = xs_client_create(p, p->xen->xs, &f->xs);
    if (err) {
        GP_ERR(p, "xenstore client: %s", gp_strerror(err));
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    }
    err = suspend_init(&f->suspend, p, f->hvm, f->xs);
    if (err)
        return STATUS_INSUFFICIENT_RESOURCES;
    f->suspend_ready = TRUE;
    NTSTATUS st = xenpci_suspend_critical_init(f);
    if (!NT_SUCCESS(st))
        return st;
    struct control_ops ops = { .shutdown = xenpci_xen_on_shutdown, .sysrq = xenpci_xen_on_sysrq,
                               .arg = f, .can_suspend = true, .can_hibernate = true };
    err = control_start(p, f->xs, &ops, &f->control);
    if (err)
        GP_WARN(p, "control: %s (shutdown requests will not be seen)", gp_strerror(err));
    struct balloon_page_source src = { xenpci_xen_balloon_take, xenpci_xen_balloon_give, f };
    err = balloon_start(p, f->xs, &src, &f->balloon);
    if (err)
        GP_WARN(p, "balloon: %s (memory target not followed)", gp_strerror(err));
    struct suspend_dev sd = { xenpci_xen_quiesce, xenpci_xen_new_domain, f };
    if (suspend_register(&f->suspend, &sd) != 0)
        GP_WARN(p, "suspend: the features will not be announced again after a restore");
    UNICODE_STRING name;
    RtlInitUnicodeString(&name, L"KiBugCheckData");
    xenpci_xen_bugcheck_data = MmGetSystemRoutineAddress(&name);
    xenpci_xen_crash_fdo = f;
    KeInitializeCallbackRecord((&f->bugcheck_record));
    f->bugcheck_registered = KeRegisterBugCheckCallback(&f->bugcheck_record, xenpci_xen_bugcheck,
                                                        NULL, 0, (PUCHAR) "gplpv");
    return STATUS_SUCCESS;
}

void xenpci_xen_stop(struct xenpci_fdo *f)
{
    if (f->bugcheck_registered) {
        KeDeregisterBugCheckCallback(&f->bugcheck_record);
        f->bugcheck_registered = FALSE;
        xenpci_xen_crash_fdo = NULL;
    }
    if (f->balloon) {
        balloon_stop(f->balloon);
        f->balloon = NULL;
    }
    if (f->control) {
        control_stop(f->control);
        f->control = NULL;
    }
    win_platform_flush_deferred(&f->win);
    if (f->suspend_ready) {
        suspend_unregister(&f->suspend, f);
        suspend_fini(&f->suspend);
        f->suspend_ready = FALSE;
    }
    if (f->xs) {
        xs_client_destroy(f->xs);
        f->xs = NULL;
    }
    if (f->hvm) {
        f->win.plat.xen = NULL;
        hvm_platform_detach(f->hvm);
        f->hvm = NULL;
    }
}
