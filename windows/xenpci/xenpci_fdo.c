/* xenpci's FDO on the platform PCI device: PnP (start brings the core up,
 * bus relations list the children, remove tears everything down), power
 * passed to the PCI bus, and the control device \\.\XenPci. */
#include "xenpci.h"

#include "gplpv/log.h"

static NTSTATUS NTAPI xenpci_fdo_sync_done(PDEVICE_OBJECT dev, PIRP irp, PVOID ctx)
{
    (void)dev;
    (void)irp;
    KeSetEvent((PKEVENT)ctx, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Send the IRP down (a power IRP with PoCallDriver) and wait for the lower
 * drivers to finish with it. */
static NTSTATUS xenpci_fdo_send_and_wait(struct xenpci_fdo *f, PIRP irp, BOOLEAN power)
{
    KEVENT done;
    KeInitializeEvent(&done, NotificationEvent, FALSE);
    IoCopyCurrentIrpStackLocationToNext(irp);
    IoSetCompletionRoutine(irp, xenpci_fdo_sync_done, &done, TRUE, TRUE, TRUE);
    NTSTATUS st = power ? PoCallDriver(f->lower, irp) : IoCallDriver(f->lower, irp);
    if (st == STATUS_PENDING) {
        KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, NULL);
        st = irp->IoStatus.Status;
    }
    return st;
}

static NTSTATUS xenpci_fdo_pass_down(struct xenpci_fdo *f, PIRP irp)
{
    IoSkipCurrentIrpStackLocation(irp);
    return IoCallDriver(f->lower, irp);
}

NTSTATUS xenpci_fdo_add(PDRIVER_OBJECT driver, PDEVICE_OBJECT pdo)
{
    UNICODE_STRING name, link;
    RtlInitUnicodeString(&name, L"\\Device\\XenPci");
    RtlInitUnicodeString(&link, L"\\DosDevices\\XenPci");
    PDEVICE_OBJECT dev = NULL;
    NTSTATUS st = IoCreateDevice(driver, sizeof(struct xenpci_fdo), &name,
                                 FILE_DEVICE_BUS_EXTENDER, FILE_DEVICE_SECURE_OPEN, FALSE, &dev);
    if (!NT_SUCCESS(st))
        return st;
    struct xenpci_fdo *f = dev->DeviceExtension;
    RtlZeroMemory(f, sizeof(*f));
    f->common.is_fdo = TRUE;
    f->common.self = dev;
    f->pdo = pdo;
    win_platform_init(&f->win, "xenpci");
    ExInitializeFastMutex(&f->children_lock);
    KeInitializeEvent(&f->shutdown_event, NotificationEvent, FALSE);
    f->lower = IoAttachDeviceToDeviceStack(dev, pdo);
    if (!f->lower) {
        IoDeleteDevice(dev);
        return STATUS_NO_SUCH_DEVICE;
    }
    IoCreateSymbolicLink(&link, &name);
    dev->Flags |= DO_POWER_PAGABLE;
    dev->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

static void xenpci_fdo_remove(struct xenpci_fdo *f)
{
    UNICODE_STRING link;
    RtlInitUnicodeString(&link, L"\\DosDevices\\XenPci");
    xenpci_children_stop(f);
    xenpci_xen_stop(f);
    IoDeleteSymbolicLink(&link);
    IoDetachDevice(f->lower);
    IoDeleteDevice(f->common.self);
}

NTSTATUS xenpci_fdo_pnp(struct xenpci_fdo *f, PIRP irp)
{
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
    NTSTATUS st;
    switch (sl->MinorFunction) {
    case IRP_MN_START_DEVICE:
        st = xenpci_fdo_send_and_wait(f, irp, FALSE);
        if (NT_SUCCESS(st))
            st = xenpci_xen_start(f, sl->Parameters.StartDevice.AllocatedResources,
                                  sl->Parameters.StartDevice.AllocatedResourcesTranslated);
        if (NT_SUCCESS(st))
            st = xenpci_children_start(f);
        if (NT_SUCCESS(st))
            f->started = TRUE;
        else
            xenpci_xen_stop(f);
        return xenpci_complete(irp, st, 0);
    case IRP_MN_QUERY_DEVICE_RELATIONS:
        if (sl->Parameters.QueryDeviceRelations.Type == BusRelations && f->started) {
            st = xenpci_children_relations(f, irp);
            if (!NT_SUCCESS(st))
                return xenpci_complete(irp, st, 0);
        }
        return xenpci_fdo_pass_down(f, irp);
    case IRP_MN_QUERY_STOP_DEVICE:
    case IRP_MN_QUERY_REMOVE_DEVICE:
        /* The boot disk hangs off this bus: it cannot be stopped. */
        return xenpci_complete(irp, STATUS_UNSUCCESSFUL, 0);
    case IRP_MN_CANCEL_STOP_DEVICE:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
    case IRP_MN_SURPRISE_REMOVAL:
        irp->IoStatus.Status = STATUS_SUCCESS;
        return xenpci_fdo_pass_down(f, irp);
    case IRP_MN_REMOVE_DEVICE:
        irp->IoStatus.Status = STATUS_SUCCESS;
        st = xenpci_fdo_pass_down(f, irp);
        xenpci_fdo_remove(f);
        return st;
    default:
        return xenpci_fdo_pass_down(f, irp);
    }
}

struct xenpci_fdo_dpower {
    KEVENT done;
    NTSTATUS status;
};

static VOID NTAPI xenpci_fdo_dpower_done(PDEVICE_OBJECT dev, UCHAR minor, POWER_STATE state,
                                        PVOID ctx, PIO_STATUS_BLOCK io)
{
    struct xenpci_fdo_dpower *w = ctx;
    (void)dev;
    (void)minor;
    (void)state;
    w->status = io->Status;
    KeSetEvent(&w->done, IO_NO_INCREMENT, FALSE);
}

/* As the power policy owner of the platform device's stack: the device
 * power state that goes with system state 'to' (D0 for S0, D3 for every
 * sleeping state, hibernation included), requested for each system
 * set-power IRP as Microsoft requires, and waited for.  PASSIVE_LEVEL: the
 * FDO and the PCI device's PDO are DO_POWER_PAGABLE. */
static NTSTATUS xenpci_fdo_device_power(struct xenpci_fdo *f, SYSTEM_POWER_STATE to)
{
    struct xenpci_fdo_dpower w;
    POWER_STATE ps;
    ps.DeviceState = to == PowerSystemWorking ? PowerDeviceD0 : PowerDeviceD3;
    KeInitializeEvent(&w.done, NotificationEvent, FALSE);
    w.status = STATUS_SUCCESS;
    NTSTATUS st = PoRequestPowerIrp(f->pdo, IRP_MN_SET_POWER, ps, xenpci_fdo_dpower_done, &w, NULL);
    if (st != STATUS_PENDING) {
        GP_ERR(&f->win.plat, "power: D%d not requested (0x%lx)", (int)ps.DeviceState - 1,
               (unsigned long)st);
        return st;
    }
    KeWaitForSingleObject(&w.done, Executive, KernelMode, FALSE, NULL);
    return w.status;
}

/* System set-power IRPs: passed to the PCI bus driver (which completes
 * them), then the device power state requested.  Hibernation (S4):
 * everything is quiesced before Windows writes its image and powers off
 * (suspend_freeze); back in S0, once the device is in D0, the core finds
 * out whether the image was booted in a new domain or the hibernation was
 * abandoned, and reconnects accordingly (suspend_thaw) - in a new domain
 * after unplugging the new device model's emulated disks and NICs again.
 * The FDO is DO_POWER_PAGABLE, so these IRPs arrive at PASSIVE_LEVEL and
 * may wait. */
NTSTATUS xenpci_fdo_power(struct xenpci_fdo *f, PIRP irp)
{
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
    if (sl->MinorFunction == IRP_MN_SET_POWER && sl->Parameters.Power.Type == SystemPowerState &&
        f->started) {
        SYSTEM_POWER_STATE to = sl->Parameters.Power.State.SystemState;
        if (to == PowerSystemHibernate && f->suspend_ready && !f->frozen) {
            suspend_freeze(&f->suspend);
            f->frozen = TRUE;
        }
        PoStartNextPowerIrp(irp);
        NTSTATUS st = xenpci_fdo_send_and_wait(f, irp, TRUE);
        xenpci_fdo_device_power(f, to);
        if (to == PowerSystemWorking && f->frozen) {
            BOOLEAN new_domain = hvm_domain_was_replaced(f->hvm);
            if (new_domain)
                xenpci_unplug_again(f);
            int err = suspend_thaw(&f->suspend, new_domain);
            f->frozen = FALSE;
            if (err)
                GP_ERR(&f->win.plat, "back from hibernation (%s domain): %s",
                       new_domain ? "new" : "same", gp_strerror(err));
        }
        IoCompleteRequest(irp, IO_NO_INCREMENT);
        return st;
    }
    PoStartNextPowerIrp(irp);
    IoSkipCurrentIrpStackLocation(irp);
    return PoCallDriver(f->lower, irp);
}
