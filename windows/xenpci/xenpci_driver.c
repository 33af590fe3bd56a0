/* xenpci DriverEntry: decide whether GPLPV runs at all (NOGPLPV, safe
 * mode), unplug QEMU's emulated disks and NICs early - only when the PV
 * driver that replaces them is installed to start at boot - and route the
 * IRPs of the FDO and its child PDOs. */
#include "xenpci.h"

#include <string.h>

#include "gplpv/hvm.h"
#include "gplpv/log.h"
#include "gplpv/unplug.h"

struct xenpci_driver xenpci_drv;
static struct win_platform xenpci_early;    /* arch access before any FDO exists */

NTSTATUS xenpci_complete(PIRP irp, NTSTATUS status, ULONG_PTR info)
{
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = info;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

#define XENPCI_SERVICES L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\"

/* The disk driver replaces the emulated disk only if it starts at boot or
 * system start (Start 0 or 1) - else unplugging would hide the boot disk
 * (STOP 0x7B).  The NIC driver only needs to be installed and enabled. */
static BOOLEAN xenpci_service_start_at_most(PCWSTR service_key, ULONG max_start)
{
    ULONG start = 4;
    return win_registry_read(service_key, L"Start", NULL, 0, &start) && start <= max_start;
}

static void xenpci_early_unplug(void)
{
    struct win_platform *w = &xenpci_early;
    char opts[256] = "";
    win_registry_read(L"\\Registry\\Machine\\System\\CurrentControlSet\\Control",
                    L"SystemStartOptions", opts, sizeof(opts), NULL);
    BOOLEAN safe = win_platform_safe_mode();
    xenpci_drv.disabled = unplug_disabled_by_boot(opts, safe);
    struct hvm_info info;
    int err = hvm_detect(&w->plat, &info);
    if (err) {
        GP_INFO(&w->plat, "not running on Xen (%s): nothing to do", gp_strerror(err));
        return;
    }
    w->on_xen = TRUE;
    GP_INFO(&w->plat, "Xen %u.%u, gplpv %s %s", info.major, info.minor, GPLPV_VERSION,
            GPLPV_FLAVOUR);
    struct unplug_request r = {
        .pv_disk_ready = xenpci_service_start_at_most(XENPCI_SERVICES L"xenvbd", 1),
        .pv_net_ready = xenpci_service_start_at_most(XENPCI_SERVICES L"xennet", 3),
        .safe_mode = safe,
        .boot_options = opts,
        .product = UNPLUG_PRODUCT_GPLPV,
        .build = 1,
    };
    int mask = unplug_emulated_devices(&w->plat, &r);
    if (mask >= 0)
        xenpci_drv.unplugged = (ULONG)mask;
}

/* Back from hibernation in a new domain: its device model is new, with the
 * emulated disks and NICs plugged in again (the boot loader read the image
 * through them).  What was unplugged at boot is unplugged again before
 * Windows' own drivers for them come back to D0: else the PV disk would be
 * seen a second time through the emulated one. */
void xenpci_unplug_again(struct xenpci_fdo *f)
{
    ULONG mask = xenpci_drv.unplugged;
    if (!mask)
        return;                                    /* nothing was unplugged at boot */
    struct unplug_request r = {
        .pv_disk_ready = (mask & UNPLUG_IDE_DISKS) != 0,
        .pv_net_ready = (mask & UNPLUG_NICS) != 0,
        .safe_mode = FALSE,
        .boot_options = "",
        .product = UNPLUG_PRODUCT_GPLPV,
        .build = 1,
    };
    int done = unplug_emulated_devices(&f->win.plat, &r);
    if (done < 0)
        GP_ERR(&f->win.plat, "unplug after hibernation failed: %s (the emulated devices are "
               "back)", gp_strerror(done));
}

static NTSTATUS NTAPI xenpci_dispatch_pnp(PDEVICE_OBJECT dev, PIRP irp)
{
    struct xenpci_common *c = dev->DeviceExtension;
    return c->is_fdo ? xenpci_fdo_pnp((struct xenpci_fdo *)c, irp)
                     : xenpci_pdo_pnp((struct xenpci_pdo *)c, irp);
}

static NTSTATUS NTAPI xenpci_dispatch_power(PDEVICE_OBJECT dev, PIRP irp)
{
    struct xenpci_common *c = dev->DeviceExtension;
    return c->is_fdo ? xenpci_fdo_power((struct xenpci_fdo *)c, irp)
                     : xenpci_pdo_power((struct xenpci_pdo *)c, irp);
}

/* WMI and anything else: pass down on the FDO, leave as is on a PDO. */
static NTSTATUS NTAPI xenpci_dispatch_other(PDEVICE_OBJECT dev, PIRP irp)
{
    struct xenpci_common *c = dev->DeviceExtension;
    if (c->is_fdo) {
        IoSkipCurrentIrpStackLocation(irp);
        return IoCallDriver(((struct xenpci_fdo *)c)->lower, irp);
    }
    NTSTATUS st = irp->IoStatus.Status;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return st;
}

/* Handles on \\.\XenPci (the FDO); the PDOs are not opened. */
static NTSTATUS NTAPI xenpci_dispatch_file(PDEVICE_OBJECT dev, PIRP irp)
{
    struct xenpci_common *c = dev->DeviceExtension;
    if (!c->is_fdo)
        return xenpci_complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    struct xenpci_fdo *f = (struct xenpci_fdo *)c;
    switch (IoGetCurrentIrpStackLocation(irp)->MajorFunction) {
    case IRP_MJ_CREATE:
        return xenpci_ioctl_create(f, irp);
    case IRP_MJ_CLEANUP:
        return xenpci_ioctl_cleanup(f, irp);
    default:
        return xenpci_ioctl_close(f, irp);
    }
}

static NTSTATUS NTAPI xenpci_dispatch_ioctl(PDEVICE_OBJECT dev, PIRP irp)
{
    struct xenpci_common *c = dev->DeviceExtension;
    if (!c->is_fdo)
        return xenpci_complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    return xenpci_ioctl((struct xenpci_fdo *)c, irp);
}

static NTSTATUS NTAPI xenpci_add_device(PDRIVER_OBJECT driver, PDEVICE_OBJECT pdo)
{
    if (xenpci_drv.disabled) {
        GP_INFO(&xenpci_early.plat, "disabled (NOGPLPV or safe mode): not attaching");
        return STATUS_NO_SUCH_DEVICE;
    }
    return xenpci_fdo_add(driver, pdo);
}

static VOID NTAPI xenpci_unload(PDRIVER_OBJECT driver)
{
    (void)driver;
    GP_INFO(&xenpci_early.plat, "unloaded");
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path);

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    (void)registry_path;
    win_nx_init();                       /* before any allocation */
    xenpci_drv.driver = driver;
    win_platform_init(&xenpci_early, "xenpci");
    GP_INFO(&xenpci_early.plat, "DriverEntry (gplpv %s %s)", GPLPV_VERSION, GPLPV_FLAVOUR);
    xenpci_early_unplug();
    if (xenpci_drv.disabled)
        GP_INFO(&xenpci_early.plat, "NOGPLPV or safe mode: emulated devices stay, PV drivers off");
    driver->DriverExtension->AddDevice = xenpci_add_device;
    driver->DriverUnload = xenpci_unload;
    driver->MajorFunction[IRP_MJ_PNP] = xenpci_dispatch_pnp;
    driver->MajorFunction[IRP_MJ_POWER] = xenpci_dispatch_power;
    driver->MajorFunction[IRP_MJ_SYSTEM_CONTROL] = xenpci_dispatch_other;
    driver->MajorFunction[IRP_MJ_CREATE] = xenpci_dispatch_file;
    driver->MajorFunction[IRP_MJ_CLOSE] = xenpci_dispatch_file;
    driver->MajorFunction[IRP_MJ_CLEANUP] = xenpci_dispatch_file;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = xenpci_dispatch_ioctl;
    return STATUS_SUCCESS;
}
