/* A child PDO (a vbd or vif): the IDs that bind xenvbd/xennet, no
 * hardware resources, and the query-interface that hands the driver the
 * core's services. */
#include "xenpci.h"

#include <string.h>

#include "gplpv/log.h"
#include "gplpv/suspend.h"

static const GUID xenpci_interface_guid = GPLPV_XENPCI_INTERFACE_GUID_INIT;

/* An ASCII string (plus an optional second, for MULTI_SZ) as a pool
 * allocated wide string PnP frees. */
static PWCHAR xenpci_pdo_wide(const char *a)
{
    size_t n = strlen(a);
    PWCHAR w = ExAllocatePoolWithTag(PagedPool, (n + 2) * sizeof(WCHAR), GPLPV_POOL_TAG);
    if (!w)
        return NULL;
    for (size_t i = 0; i < n; i++)
        w[i] = (WCHAR)(unsigned char)a[i];
    w[n] = 0;
    w[n + 1] = 0;
    /* the second NUL ends a MULTI_SZ (hardware IDs) */
    return w;
}

static const char *xenpci_pdo_hwid(const struct xenpci_pdo *c)
{
    return !strcmp(c->type, "vbd") ? "XEN\\VBD" : !strcmp(c->type, "vif") ? "XEN\\VIF" : "XEN\\UNKNOWN";
}

static NTSTATUS xenpci_pdo_query_id(struct xenpci_pdo *c, PIRP irp, BUS_QUERY_ID_TYPE type)
{
    char buf[96];
    PWCHAR w = NULL;
    switch (type) {
    case BusQueryDeviceID:
        w = xenpci_pdo_wide(xenpci_pdo_hwid(c));
        break;
    case BusQueryHardwareIDs:
        w = xenpci_pdo_wide(xenpci_pdo_hwid(c));
        break;
    case BusQueryInstanceID:
        gp_snprintf(buf, sizeof(buf), "%s", c->id);
        w = xenpci_pdo_wide(buf);
        break;
    default:
        return irp->IoStatus.Status;
    }
    if (!w)
        return STATUS_INSUFFICIENT_RESOURCES;
    irp->IoStatus.Information = (ULONG_PTR)w;
    return STATUS_SUCCESS;
}

static NTSTATUS xenpci_pdo_query_text(struct xenpci_pdo *c, PIRP irp, DEVICE_TEXT_TYPE type)
{
    char buf[96];
    if (type == DeviceTextDescription)
        gp_snprintf(buf, sizeof(buf), "Xen PV %s %s",
                    !strcmp(c->type, "vbd") ? "disk" : !strcmp(c->type, "vif") ? "network" : c->type,
                    c->id);
    else if (type == DeviceTextLocationInformation)
        gp_snprintf(buf, sizeof(buf), "%s", c->path);
    else
        return irp->IoStatus.Status;
    PWCHAR w = xenpci_pdo_wide(buf);
    if (!w)
        return STATUS_INSUFFICIENT_RESOURCES;
    irp->IoStatus.Information = (ULONG_PTR)w;
    return STATUS_SUCCESS;
}

static VOID NTAPI xenpci_pdo_iface_ref(PVOID ctx)
{
    InterlockedIncrement(&((struct xenpci_pdo *)ctx)->refs);
}

static VOID NTAPI xenpci_pdo_iface_deref(PVOID ctx)
{
    InterlockedDecrement(&((struct xenpci_pdo *)ctx)->refs);
}

static int xenpci_pdo_register_suspend(PVOID ctx, const struct suspend_dev *d)
{
    struct xenpci_pdo *c = ctx;
    return suspend_register(&c->fdo->suspend, d);
}

static void xenpci_pdo_unregister_suspend(PVOID ctx, void *arg)
{
    struct xenpci_pdo *c = ctx;
    suspend_unregister(&c->fdo->suspend, arg);
}

static void xenpci_pdo_register_remove(PVOID ctx, void (*fn)(void *arg), void *arg)
{
    struct xenpci_pdo *c = ctx;
    c->on_remove_arg = arg;
    c->on_remove = fn;
}

static NTSTATUS xenpci_pdo_query_interface(struct xenpci_pdo *c, PIRP irp)
{
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
    if (memcmp(sl->Parameters.QueryInterface.InterfaceType, &xenpci_interface_guid, sizeof(GUID)))
        return irp->IoStatus.Status;
    struct xenpci_interface *x = (struct xenpci_interface *)sl->Parameters.QueryInterface.Interface;
    if (sl->Parameters.QueryInterface.Version != GPLPV_XENPCI_INTERFACE_VERSION ||
        sl->Parameters.QueryInterface.Size < sizeof(*x)) {
        GP_ERR(&c->fdo->win.plat, "%s: interface version %u size %u refused (want %u, %u)",
               c->path, sl->Parameters.QueryInterface.Version, sl->Parameters.QueryInterface.Size,
               GPLPV_XENPCI_INTERFACE_VERSION, (unsigned)sizeof(*x));
        return STATUS_INVALID_PARAMETER;
    }
    RtlZeroMemory(x, sizeof(*x));
    x->header.Size = sizeof(*x);
    x->header.Version = GPLPV_XENPCI_INTERFACE_VERSION;
    x->header.Context = c;
    x->header.InterfaceReference = xenpci_pdo_iface_ref;
    x->header.InterfaceDereference = xenpci_pdo_iface_deref;
    gp_snprintf(x->build, sizeof(x->build), "%s-%s", GPLPV_VERSION, GPLPV_FLAVOUR);
    x->plat = &c->fdo->win.plat;
    x->xs = c->fdo->xs;
    gp_snprintf(x->path, sizeof(x->path), "%s", c->path);
    gp_snprintf(x->type, sizeof(x->type), "%s", c->type);
    x->unplugged = xenpci_drv.unplugged;
    x->register_suspend = xenpci_pdo_register_suspend;
    x->unregister_suspend = xenpci_pdo_unregister_suspend;
    x->register_remove = xenpci_pdo_register_remove;
    xenpci_pdo_iface_ref(c);
    return STATUS_SUCCESS;
}

static NTSTATUS xenpci_pdo_capabilities(struct xenpci_pdo *c, PIRP irp)
{
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
    PDEVICE_CAPABILITIES cap = sl->Parameters.DeviceCapabilities.Capabilities;
    if (cap->Version != 1 || cap->Size < sizeof(DEVICE_CAPABILITIES))
        return STATUS_UNSUCCESSFUL;
    cap->LockSupported = FALSE;
    cap->EjectSupported = FALSE;
    cap->Removable = FALSE;
    cap->DockDevice = FALSE;
    cap->UniqueID = FALSE;
    cap->SilentInstall = TRUE;
    cap->SurpriseRemovalOK = !strcmp(c->type, "vif");
    cap->RawDeviceOK = FALSE;
    cap->Address = 0xffffffff;
    cap->UINumber = 0xffffffff;
    cap->DeviceState[PowerSystemWorking] = PowerDeviceD0;
    for (int s = PowerSystemSleeping1; s < PowerSystemMaximum; s++)
        cap->DeviceState[s] = PowerDeviceD3;
    cap->SystemWake = PowerSystemUnspecified;
    cap->DeviceWake = PowerDeviceUnspecified;
    return STATUS_SUCCESS;
}

static NTSTATUS xenpci_pdo_bus_info(PIRP irp)
{
    static const GUID bus_guid = GPLPV_XENPCI_INTERFACE_GUID_INIT;
    PPNP_BUS_INFORMATION bi = ExAllocatePoolWithTag(PagedPool, sizeof(*bi), GPLPV_POOL_TAG);
    if (!bi)
        return STATUS_INSUFFICIENT_RESOURCES;
    bi->BusTypeGuid = bus_guid;
    bi->LegacyBusType = Internal;
    bi->BusNumber = 0;
    irp->IoStatus.Information = (ULONG_PTR)bi;
    return STATUS_SUCCESS;
}

static NTSTATUS xenpci_pdo_target_relation(struct xenpci_pdo *c, PIRP irp)
{
    PDEVICE_RELATIONS rel = ExAllocatePoolWithTag(PagedPool, sizeof(*rel), GPLPV_POOL_TAG);
    if (!rel)
        return STATUS_INSUFFICIENT_RESOURCES;
    rel->Count = 1;
    rel->Objects[0] = c->common.self;
    ObReferenceObject(c->common.self);
    irp->IoStatus.Information = (ULONG_PTR)rel;
    return STATUS_SUCCESS;
}

/* A paging, crash-dump or hibernation file is being put on the disk (or
 * was removed).  A bus driver answers for its child PDO (the IRP goes no
 * lower); a PDO with a paging file must not be DO_POWER_PAGABLE, since its
 * power IRPs may come when nothing can be paged in.  Refusing it (the
 * STATUS_NOT_SUPPORTED the IRP arrives with) made Windows refuse the
 * paging file, the dump and the hibernation file on a PV disk. */
static NTSTATUS xenpci_pdo_usage(struct xenpci_pdo *c, PIRP irp)
{
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
    DEVICE_USAGE_NOTIFICATION_TYPE t = sl->Parameters.UsageNotification.Type;
    if (t != DeviceUsageTypePaging && t != DeviceUsageTypeHibernation &&
        t != DeviceUsageTypeDumpFile)
        return irp->IoStatus.Status;
    if (strcmp(c->type, "vbd"))
        return STATUS_UNSUCCESSFUL;                /* only a disk holds such files */
    PDEVICE_OBJECT self = c->common.self;
    if (sl->Parameters.UsageNotification.InPath) {
        if (InterlockedIncrement(&c->usage[t]) == 1 && t == DeviceUsageTypePaging)
            self->Flags &= ~DO_POWER_PAGABLE;
    } else if (c->usage[t] > 0) {
        if (InterlockedDecrement(&c->usage[t]) == 0 && t == DeviceUsageTypePaging)
            self->Flags |= DO_POWER_PAGABLE;
    }
    GP_INFO(&c->fdo->win.plat, "%s: %s file %s", c->path,
            t == DeviceUsageTypePaging ? "paging" : t == DeviceUsageTypeDumpFile ? "dump" : "hibernation",
            sl->Parameters.UsageNotification.InPath ? "added" : "removed");
    return STATUS_SUCCESS;
}

NTSTATUS xenpci_pdo_pnp(struct xenpci_pdo *c, PIRP irp)
{
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
    NTSTATUS st = irp->IoStatus.Status;
    switch (sl->MinorFunction) {
    case IRP_MN_START_DEVICE:
        c->started = TRUE;
        st = STATUS_SUCCESS;
        break;
    case IRP_MN_QUERY_STOP_DEVICE:
    case IRP_MN_CANCEL_STOP_DEVICE:
    case IRP_MN_QUERY_REMOVE_DEVICE:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
        st = STATUS_SUCCESS;
        break;
    case IRP_MN_STOP_DEVICE:
    case IRP_MN_SURPRISE_REMOVAL:
        c->started = FALSE;
        st = STATUS_SUCCESS;
        break;
    case IRP_MN_REMOVE_DEVICE:
        c->started = FALSE;
        if (c->on_remove) {                        /* the function driver's last word */
            void (*fn)(void *) = c->on_remove;
            c->on_remove = NULL;
            fn(c->on_remove_arg);
        }
        xenpci_complete(irp, STATUS_SUCCESS, 0);
        xenpci_children_removed(c);
        return STATUS_SUCCESS;
    case IRP_MN_QUERY_ID:
        st = xenpci_pdo_query_id(c, irp, sl->Parameters.QueryId.IdType);
        break;
    case IRP_MN_QUERY_DEVICE_TEXT:
        st = xenpci_pdo_query_text(c, irp, sl->Parameters.QueryDeviceText.DeviceTextType);
        break;
    case IRP_MN_QUERY_CAPABILITIES:
        st = xenpci_pdo_capabilities(c, irp);
        break;
    case IRP_MN_QUERY_INTERFACE:
        st = xenpci_pdo_query_interface(c, irp);
        break;
    case IRP_MN_QUERY_BUS_INFORMATION:
        st = xenpci_pdo_bus_info(irp);
        break;
    case IRP_MN_QUERY_DEVICE_RELATIONS:
        if (sl->Parameters.QueryDeviceRelations.Type == TargetDeviceRelation)
            st = xenpci_pdo_target_relation(c, irp);
        break;
    case IRP_MN_DEVICE_USAGE_NOTIFICATION:
        st = xenpci_pdo_usage(c, irp);
        break;
    case IRP_MN_QUERY_RESOURCES:
    case IRP_MN_QUERY_RESOURCE_REQUIREMENTS:
    default:
        break;                                     /* no resources; status as it came */
    }
    irp->IoStatus.Status = st;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return st;
}

NTSTATUS xenpci_pdo_power(struct xenpci_pdo *c, PIRP irp)
{
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
    (void)c;
    NTSTATUS st = irp->IoStatus.Status;
    if (sl->MinorFunction == IRP_MN_SET_POWER || sl->MinorFunction == IRP_MN_QUERY_POWER)
        st = STATUS_SUCCESS;
    PoStartNextPowerIrp(irp);
    irp->IoStatus.Status = st;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return st;
}
