/* xenvbd DriverEntry: the disk branding from the registry, then the
 * miniport's callbacks to StorPort. */
#include "xenvbd.h"

#include <string.h>

#include "../platform/win_platform.h"

struct xenvbd_branding xenvbd_brand;

/* RegistryPath\Parameters: Vendor (8 characters) and Product (16) replace
 * "Xen" and "PV Disk" in INQUIRY, for tools that look for a name. */
static void xenvbd_read_branding(PUNICODE_STRING registry_path)
{
    WCHAR key[256];
    USHORT n = registry_path->Length / sizeof(WCHAR);
    static const WCHAR suffix[] = L"\\Parameters";
    if (n + sizeof(suffix) / sizeof(WCHAR) > sizeof(key) / sizeof(WCHAR))
        return;
    memcpy(key, registry_path->Buffer, n * sizeof(WCHAR));
    memcpy(key + n, suffix, sizeof(suffix));
    win_registry_read(key, L"Vendor", xenvbd_brand.vendor, sizeof(xenvbd_brand.vendor), NULL);
    win_registry_read(key, L"Product", xenvbd_brand.product, sizeof(xenvbd_brand.product), NULL);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path);

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    /* The crash-dump/hibernation copy is entered without a driver object
     * or registry path (and may not touch the registry then). */
    if (driver && registry_path)
        xenvbd_read_branding(registry_path);
    HW_INITIALIZATION_DATA hid;
    RtlZeroMemory(&hid, sizeof(hid));
    hid.HwInitializationDataSize = sizeof(hid);
    hid.AdapterInterfaceType = Internal;
    hid.HwInitialize = xenvbd_initialize;
    hid.HwStartIo = xenvbd_start_io;
    hid.HwFindAdapter = xenvbd_find_adapter;
    hid.HwResetBus = xenvbd_reset_bus;
    hid.HwAdapterControl = xenvbd_adapter_control;
    /* no HwInterrupt: completions come from xenpci's event-channel DPC,
     * and in dump mode every request completes inside HwStartIo */
    hid.DeviceExtensionSize = sizeof(struct xenvbd);
    hid.SrbExtensionSize = sizeof(struct xenvbd_srb);
    hid.NumberOfAccessRanges = 0;
    hid.MapBuffers = STOR_MAP_NON_READ_WRITE_BUFFERS;
    hid.NeedPhysicalAddresses = TRUE;
    hid.TaggedQueuing = TRUE;
    hid.AutoRequestSense = TRUE;
    hid.MultipleRequestPerLu = TRUE;
    /* Without this StorPort never sends SRB_FUNCTION_DUMP_POINTERS, and the
     * dump copy, given no MiniportDumpData, takes the live path at
     * HIGH_LEVEL (the kernel host's xenvbd-crash-dump scenario). */
    hid.FeatureSupport = STOR_FEATURE_DUMP_POINTERS;
    ULONG st = StorPortInitialize(driver, registry_path, &hid, NULL);
    if (st != STATUS_SUCCESS) {
        /* a StorPort before Windows 8 knows the structure only up to
         * HwBuildIo (and sends the dump pointers without being asked) */
        hid.HwInitializationDataSize = HW_INITIALIZATION_DATA_SIZE_VISTA;
        st = StorPortInitialize(driver, registry_path, &hid, NULL);
    }
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, "xenvbd: DriverEntry (gplpv %s %s): 0x%lx\n",
               GPLPV_VERSION, GPLPV_FLAVOUR, st);
    return (NTSTATUS)st;
}
