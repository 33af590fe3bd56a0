/* Children of xenpci (xenvbd, xennet) find the core through xenpci's
 * interface on the PDO below them. */
#include "win_platform.h"

#include <string.h>

#include "gplpv/log.h"
#include "xenpci_interface.h"

static const GUID win_xenpci_guid = GPLPV_XENPCI_INTERFACE_GUID_INIT;

NTSTATUS win_xenpci_query(PDEVICE_OBJECT lower, struct xenpci_interface *xi, const char *who)
{
    KEVENT done;
    IO_STATUS_BLOCK iosb;
    RtlZeroMemory(xi, sizeof(*xi));
    KeInitializeEvent(&done, NotificationEvent, FALSE);
    PIRP irp = IoBuildSynchronousFsdRequest(IRP_MJ_PNP, lower, NULL, 0, NULL, &done, &iosb);
    if (!irp)
        return STATUS_INSUFFICIENT_RESOURCES;
    irp->IoStatus.Status = STATUS_NOT_SUPPORTED;
    PIO_STACK_LOCATION sl = IoGetNextIrpStackLocation(irp);
    sl->MinorFunction = IRP_MN_QUERY_INTERFACE;
    sl->Parameters.QueryInterface.InterfaceType = &win_xenpci_guid;
    sl->Parameters.QueryInterface.Size = sizeof(*xi);
    sl->Parameters.QueryInterface.Version = GPLPV_XENPCI_INTERFACE_VERSION;
    sl->Parameters.QueryInterface.Interface = (PINTERFACE)xi;
    sl->Parameters.QueryInterface.InterfaceSpecificData = NULL;
    NTSTATUS st = IoCallDriver(lower, irp);
    if (st == STATUS_PENDING) {
        KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, NULL);
        st = iosb.Status;
    }
    if (!NT_SUCCESS(st) || xi->header.Version != GPLPV_XENPCI_INTERFACE_VERSION || !xi->plat) {
        DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL,
                   "%s: no xenpci interface on this device (0x%lx)\n", who, (unsigned long)st);
        return NT_SUCCESS(st) ? STATUS_REVISION_MISMATCH : st;
    }
    char build[32];
    gp_snprintf(build, sizeof(build), "%s-%s", GPLPV_VERSION, GPLPV_FLAVOUR);
    if (strcmp(build, xi->build) != 0) {
        GP_ERR(xi->plat, "%s %s: xenpci is build %s, we are %s: refusing (reinstall gplpv)", who,
               xi->path, xi->build, build);
        xi->header.InterfaceDereference(xi->header.Context);
        return STATUS_REVISION_MISMATCH;
    }
    return STATUS_SUCCESS;
}
