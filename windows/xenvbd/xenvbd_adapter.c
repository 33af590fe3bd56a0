/* xenvbd's adapter: find xenpci's interface on the PDO below, connect the
 * core's blkfront, describe the adapter to StorPort, and follow suspend
 * and capacity changes. */
#include "xenvbd.h"

#include "../platform/win_platform.h"

#include <string.h>

#include "gplpv/log.h"
#include "gplpv/suspend.h"
#include "gplpv/unplug.h"

static void xenvbd_capacity_changed(void *arg, uint64_t sectors)
{
    struct xenvbd *v = arg;
    GP_INFO(v->plat, "xenvbd %s: capacity now %llu sectors", v->xi.path, (unsigned long long)sectors);
    v->disk.info.sectors = sectors;
    InterlockedExchange(&v->rescan, 1);
}

static void xenvbd_suspend(void *arg)
{
    struct xenvbd *v = arg;
    blkfront_suspend(v->bf);
}

static int xenvbd_resume(void *arg, bool cancelled)
{
    struct xenvbd *v = arg;
    if (cancelled) {
        blkfront_resume_in_place(v->bf);
        return 0;
    }
    return blkfront_resume_restored(v->bf, GP_S(30));
}

/* The disk's PDO is being removed (PASSIVE_LEVEL, from xenpci): the
 * connection ends here.  StorPort's ScsiStopAdapter comes at DIRQL and
 * looks the same for a power-down, when the ring must stay; before this,
 * a removed disk kept its ring, grants and pages, and its suspend hooks
 * pointed into a freed device extension. */
static void xenvbd_removed(void *arg)
{
    struct xenvbd *v = arg;
    if (v->suspend_registered) {
        v->xi.unregister_suspend(v->xi.header.Context, v);
        v->suspend_registered = FALSE;
    }
    if (v->bf) {
        blkfront_destroy(v->bf);
        v->bf = NULL;
    }
    if (v->have_xi) {
        v->have_xi = FALSE;
        v->xi.header.InterfaceDereference(v->xi.header.Context);
    }
}

/* HwFindAdapter failing after the interface was taken: give it back, or
 * xenpci's PDO stays referenced by an adapter that never started. */
static void xenvbd_drop_interface(struct xenvbd *v)
{
    if (v->have_xi) {
        v->have_xi = FALSE;
        v->xi.header.InterfaceDereference(v->xi.header.Context);
    }
}

ULONG NTAPI xenvbd_find_adapter(PVOID ext, PVOID ctx, PVOID bus, PCHAR args,
                                PPORT_CONFIGURATION_INFORMATION cfg, PBOOLEAN again)
{
    struct xenvbd *v = ext;
    (void)ctx;
    (void)bus;
    (void)args;
    *again = FALSE;
    RtlZeroMemory(v, sizeof(*v));
    if (cfg->MiniportDumpData)                  /* loaded to write a crash dump or hiberfile */
        return xenvbd_dump_find_adapter(v, cfg);
    PVOID fdo = NULL, pdo = NULL, lower = NULL;
    if (StorPortExtendedFunction(STOR_EXT_GET_DEVICE_OBJECTS, ext, &fdo, &pdo, &lower) !=
            STOR_STATUS_SUCCESS || !lower)
        return SP_RETURN_NOT_FOUND;
    if (!NT_SUCCESS(win_xenpci_query(lower, &v->xi, "xenvbd")))
        return SP_RETURN_NOT_FOUND;
    v->have_xi = TRUE;
    v->plat = v->xi.plat;
    if (!(v->xi.unplugged & UNPLUG_IDE_DISKS)) {
        GP_WARN(v->plat, "xenvbd %s: the emulated disks were not unplugged at boot (first boot "
                "after installing, or NOGPLPV): the PV disk stays off until the next boot",
                v->xi.path);
        xenvbd_drop_interface(v);       /* no adapter: nothing will call xenvbd_removed */
        return SP_RETURN_NOT_FOUND;
    }
    struct blkfront_opts o = { .capacity_changed = xenvbd_capacity_changed, .arg = v };
    int err = blkfront_create(v->plat, v->xi.xs, v->xi.path, &o, &v->bf);
    if (!err)
        err = blkfront_connect(v->bf, GP_S(30));
    if (err) {
        GP_ERR(v->plat, "xenvbd %s: connecting to the backend failed: %s", v->xi.path,
               gp_strerror(err));
        if (v->bf)
            blkfront_destroy(v->bf);
        v->bf = NULL;
        xenvbd_drop_interface(v);
        return SP_RETURN_ERROR;
    }
    struct blkfront_info info;
    blkfront_get_info(v->bf, &info);
    uint64_t id = 0;
    for (const char *p = strrchr(v->xi.path, '/'); p && *++p >= '0' && *p <= '9';)
        id = id * 10 + (uint64_t)(*p - '0');
    scsi_disk_init(&v->disk, &info, id);
    if (xenvbd_brand.vendor[0])
        memcpy(v->disk.vendor, xenvbd_brand.vendor, sizeof(v->disk.vendor));
    if (xenvbd_brand.product[0])
        memcpy(v->disk.product, xenvbd_brand.product, sizeof(v->disk.product));
    GP_INFO(v->plat, "xenvbd %s: %s, %llu sectors of %u bytes%s%s%s, %u queue(s)", v->xi.path,
            info.cdrom ? "CD-ROM" : "disk", (unsigned long long)info.sectors, info.sector_size,
            info.readonly ? ", read-only" : "", info.flush ? ", flush" : "",
            info.discard ? ", discard" : "", info.queues);
    xenvbd_dump_prepare(v);
    struct suspend_dev sd = { xenvbd_suspend, xenvbd_resume, v };
    v->suspend_registered = v->xi.register_suspend(v->xi.header.Context, &sd) == 0;
    v->xi.register_remove(v->xi.header.Context, xenvbd_removed, v);

    cfg->MaximumTransferLength = 1024 * 1024;
    cfg->NumberOfPhysicalBreaks = 257;
    cfg->AlignmentMask = 0;
    cfg->NumberOfBuses = 1;
    cfg->InitiatorBusId[0] = 1;
    cfg->ScatterGather = TRUE;
    cfg->Master = TRUE;
    cfg->CachesData = (BOOLEAN)info.flush;
    cfg->MapBuffers = STOR_MAP_NON_READ_WRITE_BUFFERS;
    cfg->NeedPhysicalAddresses = TRUE;
    cfg->TaggedQueuing = TRUE;
    cfg->AutoRequestSense = TRUE;
    cfg->MultipleRequestPerLu = TRUE;
    cfg->MaximumNumberOfTargets = 1;
    cfg->MaximumNumberOfLogicalUnits = 1;
    cfg->Dma64BitAddresses = 0x01;               /* SCSI_DMA64_MINIPORT_SUPPORTED */
    cfg->SynchronizationModel = StorSynchronizeFullDuplex;
    return SP_RETURN_FOUND;
}

BOOLEAN NTAPI xenvbd_initialize(PVOID ext)
{
    (void)ext;
    return TRUE;
}

SCSI_ADAPTER_CONTROL_STATUS NTAPI xenvbd_adapter_control(PVOID ext, SCSI_ADAPTER_CONTROL_TYPE type,
                                                         PVOID params)
{
    struct xenvbd *v = ext;
    if (type == ScsiQuerySupportedControlTypes) {
        SCSI_SUPPORTED_CONTROL_TYPE_LIST *l = params;
        /* a StorPort before Windows 8 offers fewer than 17 entries */
        for (ULONG i = 0; i < l->MaxControlType; i++)
            l->SupportedTypeList[i] = i == ScsiQuerySupportedControlTypes ||
                                      i == ScsiStopAdapter || i == ScsiRestartAdapter ||
                                      i == ScsiAdapterSurpriseRemoval;
    } else if (type == ScsiAdapterSurpriseRemoval) {
        /* The disk was detached (by force, or after the toolstack's
         * timeout): StorPort stops the adapter at REMOVE only once nothing
         * is outstanding, so what blkfront holds comes back now. */
        xenvbd_surprise_removed(v);
    }
    /* Stop/restart (power transitions): the ring stays connected; the
     * OS sends no I/O while stopped and blkfront needs nothing redone. */
    return ScsiAdapterControlSuccess;
}
