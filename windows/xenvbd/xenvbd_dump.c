/*
 * xenvbd in crash-dump and hibernation mode.  Windows writes a crash dump
 * or the hibernation file through a second copy of the boot disk's
 * miniport, loaded by the dump stack and run on one processor with
 * interrupts off: no xenpci, no DPC, no event-channel upcall.  The running
 * xenvbd prepares for it (blkfront_dump_enable: pages granted ahead) and
 * answers SRB_FUNCTION_DUMP_POINTERS with a handoff block; StorPort gives
 * that block to the dump copy as ConfigInfo->MiniportDumpData, and the
 * dump copy drives the same blkfront through the core's polled path
 * (blkfront_dump_io), stalling with StorPortStallExecution.
 */
#include "xenvbd.h"

#include <string.h>

#include "gplpv/blkfront_dump.h"
#include "gplpv/log.h"

#define XENVBD_DUMP_BUILD GPLPV_VERSION " " GPLPV_FLAVOUR
#define XENVBD_DUMP_MAX_TRANSFER (64u * 1024u)
_Static_assert(sizeof(XENVBD_DUMP_BUILD) <= sizeof(((struct xenvbd_dump_handoff *)0)->build),
               "build string fits the handoff");

static void xenvbd_dump_stall(void *arg, unsigned us)
{
    (void)arg;
    StorPortStallExecution(us);
}

void xenvbd_dump_prepare(struct xenvbd *v)
{
    struct xenvbd_dump_handoff *h = &v->dump_handoff;
    int err = blkfront_dump_enable(v->bf);
    if (err) {
        GP_WARN(v->plat, "xenvbd %s: no crash dump or hibernation on this disk: %s", v->xi.path,
                gp_strerror(err));
        return;
    }
    RtlZeroMemory(h, sizeof(*h));
    h->magic = XENVBD_DUMP_MAGIC;
    h->size = sizeof(*h);
    memcpy(h->build, XENVBD_DUMP_BUILD, sizeof(XENVBD_DUMP_BUILD));
    h->bf = v->bf;
    h->plat = v->plat;
    h->disk = &v->disk;
}

void xenvbd_dump_pointers(struct xenvbd *v, PSCSI_REQUEST_BLOCK srb)
{
    MINIPORT_DUMP_POINTERS *dp = srb->DataBuffer;
    if (v->dump_handoff.magic != XENVBD_DUMP_MAGIC || !dp ||
        srb->DataTransferLength < sizeof(*dp)) {
        srb->SrbStatus = SRB_STATUS_INVALID_REQUEST;
        return;
    }
    RtlZeroMemory(dp, sizeof(*dp));
    dp->Version = DUMP_MINIPORT_VERSION_1;
    dp->Size = sizeof(*dp);
    static const WCHAR name[] = L"xenvbd.sys";
    memcpy(dp->DriverName, name, sizeof(name));
    dp->MiniportPrivateDumpData = &v->dump_handoff;
    dp->AdapterInterfaceType = Internal;
    dp->MaximumTransferLength = XENVBD_DUMP_MAX_TRANSFER;
    dp->NumberOfPhysicalBreaks = XENVBD_DUMP_MAX_TRANSFER / PAGE_SIZE + 1;
    dp->AlignmentMask = 0;
    dp->NumberOfBuses = 1;
    dp->Master = TRUE;
    dp->MapBuffers = STOR_MAP_ALL_BUFFERS;
    dp->MaximumNumberOfTargets = 1;
    srb->SrbStatus = SRB_STATUS_SUCCESS;
    GP_INFO(v->plat, "xenvbd %s: ready for crash dumps and hibernation", v->xi.path);
}

ULONG xenvbd_dump_find_adapter(struct xenvbd *v, PPORT_CONFIGURATION_INFORMATION cfg)
{
    const struct xenvbd_dump_handoff *h = cfg->MiniportDumpData;
    if (h->magic != XENVBD_DUMP_MAGIC || h->size != sizeof(*h) ||
        memcmp(h->build, XENVBD_DUMP_BUILD, sizeof(XENVBD_DUMP_BUILD)) != 0 || !h->bf || !h->disk)
        return SP_RETURN_NOT_FOUND;       /* not ours, or another build's */
    v->dump_mode = TRUE;
    v->bf = h->bf;
    v->plat = h->plat;
    v->disk = *h->disk;
    cfg->MaximumTransferLength = XENVBD_DUMP_MAX_TRANSFER;
    cfg->NumberOfPhysicalBreaks = XENVBD_DUMP_MAX_TRANSFER / PAGE_SIZE + 1;
    cfg->AlignmentMask = 0;
    cfg->NumberOfBuses = 1;
    cfg->InitiatorBusId[0] = 1;
    cfg->ScatterGather = TRUE;
    cfg->Master = TRUE;
    cfg->MapBuffers = STOR_MAP_ALL_BUFFERS;   /* DataBuffer is a system address */
    cfg->NeedPhysicalAddresses = TRUE;
    cfg->MaximumNumberOfTargets = 1;
    cfg->MaximumNumberOfLogicalUnits = 1;
    cfg->Dma64BitAddresses = 0x01;
    return SP_RETURN_FOUND;
}

/* Everything completes before this returns: the dump port polls for it. */
BOOLEAN xenvbd_dump_start_io(struct xenvbd *v, PSCSI_REQUEST_BLOCK srb)
{
    const struct blkfront_dump_env env = { xenvbd_dump_stall, NULL, 30000000 };
    struct scsi_disk_result r;
    if (!xenvbd_srb_addressed_to_us(v, srb))
        return TRUE;
    switch (srb->Function) {
    case SRB_FUNCTION_EXECUTE_SCSI:
        /* the same command path as the live instance, polled */
        scsi_disk_submit_polled(&v->disk, v->bf, &env, srb->Cdb, srb->CdbLength, srb->DataBuffer,
                                srb->DataTransferLength, &r);
        xenvbd_finish(v, srb, &r);        /* completes the SRB */
        return TRUE;
    case SRB_FUNCTION_FLUSH:
    case SRB_FUNCTION_SHUTDOWN:
        srb->SrbStatus = blkfront_dump_io(v->bf, BLKFRONT_FLUSH, 0, 0, NULL, &env) == 0
                             ? SRB_STATUS_SUCCESS : SRB_STATUS_ERROR;
        break;
    default:
        srb->SrbStatus = xenvbd_other_srb_status(srb->Function);
        break;
    }
    StorPortNotification(RequestComplete, v, srb);
    return TRUE;
}
