/* xennet DriverEntry: register the NDIS 6.0 miniport. */
#include "xennet.h"

#include <string.h>

NDIS_HANDLE xennet_driver_handle;

static VOID NTAPI xennet_unload(PDRIVER_OBJECT driver)
{
    (void)driver;
    if (xennet_driver_handle)
        NdisMDeregisterMiniportDriver(xennet_driver_handle);
    xennet_driver_handle = NULL;
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path);

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    NDIS_MINIPORT_DRIVER_CHARACTERISTICS mc;
    win_nx_init();                       /* before any allocation */
    memset(&mc, 0, sizeof(mc));
    xennet_header(&mc.Header, NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS,
                  NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1, sizeof(mc));
    mc.MajorNdisVersion = 6;
    mc.MinorNdisVersion = 0;
    mc.MajorDriverVersion = 1;
    mc.MinorDriverVersion = 0;
    mc.InitializeHandlerEx = xennet_initialize;
    mc.HaltHandlerEx = xennet_halt;
    mc.UnloadHandler = xennet_unload;
    mc.PauseHandler = xennet_pause;
    mc.RestartHandler = xennet_restart;
    mc.OidRequestHandler = xennet_oid_request;
    mc.SendNetBufferListsHandler = xennet_send;
    mc.ReturnNetBufferListsHandler = xennet_return;
    mc.CancelSendHandler = xennet_cancel_send;
    mc.DevicePnPEventNotifyHandler = xennet_pnp_event;
    mc.ShutdownHandlerEx = xennet_shutdown;
    mc.CancelOidRequestHandler = xennet_cancel_oid;
    NDIS_STATUS st = NdisMRegisterMiniportDriver(driver,
    registry_path, NULL, &mc, &xennet_driver_handle);
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, "xennet: DriverEntry (gplpv %s %s): 0x%x\n",
               GPLPV_VERSION, GPLPV_FLAVOUR, st);
    return st;
}
