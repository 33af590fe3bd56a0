/* xenvbd's I/O: every SRB becomes one command of the core's scsi_disk
 * (scsi_disk_submit), which answers it at once or performs it through
 * blkfront (its data where StorPort's scatter/gather list says:
 * xenvbd_sg.c) and completes it once, from blkfront's callback (xenpci's
 * event-channel DPC, full-duplex StorPort).  Bus, device
 * and LU resets give every outstanding SRB back (xenvbd_reset), and so
 * does a surprise removal (xenvbd_surprise_removed). */
#include "xenvbd.h"

#include <string.h>

#include "gplpv/log.h"

void xenvbd_finish(struct xenvbd *v, PSCSI_REQUEST_BLOCK srb, const struct scsi_disk_result *r)
{
    if (r->status == SCSI_STATUS_GOOD) {
        srb->SrbStatus = SRB_STATUS_SUCCESS;
        srb->ScsiStatus = SCSI_STATUS_GOOD;
        if (!r->io && r->transferred < srb->DataTransferLength)
            srb->DataTransferLength = r->transferred;
    } else {
        srb->SrbStatus = SRB_STATUS_ERROR;
        srb->ScsiStatus = r->status;
        srb->DataTransferLength = 0;
        if (srb->SenseInfoBuffer && srb->SenseInfoBufferLength && r->sense_len) {
            unsigned n = r->sense_len < srb->SenseInfoBufferLength ? r->sense_len
                                                                   : srb->SenseInfoBufferLength;
            memcpy(srb->SenseInfoBuffer, r->sense, n);
            srb->SenseInfoBufferLength = (UCHAR)n;
            srb->SrbStatus |= SRB_STATUS_AUTOSENSE_VALID;
        }
    }
    StorPortNotification(RequestComplete, v, srb);
}

/* The core asks where a read's or write's bytes are: StorPort's list. */
static int xenvbd_map_data(void *arg, uint32_t bytes, const struct blkfront_sg **sg, unsigned *nsg)
{
    struct xenvbd_srb *x = arg;
    x->map_status = xenvbd_sg_map(x->vbd, x, x->sysva, bytes);
    if (x->map_status != SRB_STATUS_SUCCESS)
        return GP_EAGAIN;                      /* the SRB completes with map_status */
    *sg = x->sg;
    *nsg = x->nsg;
    return 0;
}

/* The core's one completion of an SRB: its result into the SRB. */
static void xenvbd_srb_done(void *arg, struct scsi_disk_cmd *c)
{
    struct xenvbd_srb *x = arg;
    struct xenvbd *v = x->vbd;
    PSCSI_REQUEST_BLOCK srb = x->srb;
    xenvbd_sg_unmap(x);                        /* before the SRB (and its SG list) goes */
    InterlockedDecrement(&v->outstanding);
    if (x->map_status != SRB_STATUS_SUCCESS) {
        srb->SrbStatus = x->map_status;        /* BUSY: StorPort retries */
        StorPortNotification(RequestComplete, v, srb);
        return;
    }
    if (c->status == GP_ECANCELED || c->status == GP_ENODEV) {
        /* given back by a reset (xenvbd_reset) or a surprise removal */
        srb->SrbStatus = c->status == GP_ENODEV ? SRB_STATUS_NO_DEVICE : SRB_STATUS_BUS_RESET;
        srb->DataTransferLength = 0;
        StorPortNotification(RequestComplete, v, srb);
        return;
    }
    xenvbd_finish(v, srb, &c->result);
}

/* The SRB as the core's command: one call in, one completion out
 * (xenvbd_srb_done), from inside the call or from blkfront's DPC. */
static void xenvbd_submit(struct xenvbd *v, PSCSI_REQUEST_BLOCK srb, const UCHAR *cdb,
                          unsigned cdb_len, void *data)
{
    struct xenvbd_srb *x = srb->SrbExtension;
    x->vbd = v;
    x->srb = srb;
    x->sysva = data;
    x->map_status = SRB_STATUS_SUCCESS;
    x->nsg = 0;
    x->cmd.cdb = cdb;
    x->cmd.cdb_len = cdb_len;
    x->cmd.data = data;
    x->cmd.data_len = data ? srb->DataTransferLength : 0;
    x->cmd.map_data = xenvbd_map_data;
    x->cmd.done = xenvbd_srb_done;
    x->cmd.arg = x;
    InterlockedIncrement(&v->outstanding);
    scsi_disk_submit(&v->disk, v->bf, &x->cmd);
}

static void xenvbd_execute_scsi(struct xenvbd *v, PSCSI_REQUEST_BLOCK srb)
{
    void *data = NULL;
    if (srb->DataTransferLength &&
        StorPortExtendedFunction(STOR_EXT_GET_SYSTEM_ADDRESS, v, srb, &data) != STOR_STATUS_SUCCESS) {
        srb->SrbStatus = SRB_STATUS_BUSY;          /* no mapping now: StorPort retries */
        StorPortNotification(RequestComplete, v, srb);
        return;
    }
    xenvbd_submit(v, srb, srb->Cdb, srb->CdbLength, data);
}

UCHAR xenvbd_other_srb_status(UCHAR function)
{
    switch (function) {
    case SRB_FUNCTION_RESET_BUS:
    case SRB_FUNCTION_RESET_DEVICE:
    case SRB_FUNCTION_RESET_LOGICAL_UNIT:
        /* the live path gives its requests back first (xenvbd_reset);
         * the dump copy has none outstanding */
    case SRB_FUNCTION_ABORT_COMMAND:
        /* one request is not taken back alone: it completes as it
         * would have, or with the reset that follows */
    case SRB_FUNCTION_PNP:
    case SRB_FUNCTION_POWER:
        return SRB_STATUS_SUCCESS;
    default:
        return SRB_STATUS_INVALID_REQUEST;
    }
}

/* A bus, target or LU reset (one target, one LU: all the same here):
 * every SRB xenvbd holds completes now with SRB_STATUS_BUS_RESET, as
 * StorPort expects of HwResetBus; blkfront drops the backend's answers
 * to them when they come (blkfront_abandon).  [<= DISPATCH_LEVEL] */
static void xenvbd_reset(struct xenvbd *v, const char *what)
{
    if (!v->bf || v->dump_mode)
        return;
    unsigned n = blkfront_abandon(v->bf, GP_ECANCELED);
    GP_INFO(v->plat, "xenvbd %s: %s: %u request(s) completed with SRB_STATUS_BUS_RESET",
            v->xi.path, what, n);
}

void xenvbd_surprise_removed(struct xenvbd *v)
{
    if (v->dump_mode)
        return;
    InterlockedExchange(&v->removed, 1);
    if (!v->bf)
        return;
    unsigned n = blkfront_abandon(v->bf, GP_ENODEV);
    GP_WARN(v->plat, "xenvbd %s: surprise removal: %u request(s) completed with "
            "SRB_STATUS_NO_DEVICE", v->xi.path, n);
}

BOOLEAN xenvbd_srb_addressed_to_us(struct xenvbd *v, PSCSI_REQUEST_BLOCK srb)
{
    if (!srb->PathId && !srb->TargetId && !srb->Lun)
        return TRUE;
    srb->SrbStatus = srb->Lun ? SRB_STATUS_INVALID_LUN : SRB_STATUS_NO_DEVICE;
    StorPortNotification(RequestComplete, v, srb);
    return FALSE;
}

BOOLEAN NTAPI xenvbd_start_io(PVOID ext, PSCSI_REQUEST_BLOCK srb)
{
    struct xenvbd *v = ext;
    if (v->dump_mode)
        return xenvbd_dump_start_io(v, srb);
    if (InterlockedExchange(&v->rescan, 0))
        StorPortNotification(BusChangeDetected, v, 0);
    if (!xenvbd_srb_addressed_to_us(v, srb))
        return TRUE;
    if (!v->bf || v->removed || blkfront_is_broken(v->bf)) {
        srb->SrbStatus = SRB_STATUS_NO_DEVICE;
        StorPortNotification(RequestComplete, v, srb);
        return TRUE;
    }
    switch (srb->Function) {
    case SRB_FUNCTION_EXECUTE_SCSI:
        xenvbd_execute_scsi(v, srb);
        return TRUE;
    case SRB_FUNCTION_FLUSH:
    case SRB_FUNCTION_SHUTDOWN:
        if (v->disk.info.flush || v->disk.info.barrier) {
            static const UCHAR sync_cache[10] = { 0x35 };    /* SYNCHRONIZE CACHE (10) */
            xenvbd_submit(v, srb, sync_cache, sizeof(sync_cache), NULL);
            return TRUE;
        }
        srb->SrbStatus = SRB_STATUS_SUCCESS;
        break;
    case SRB_FUNCTION_DUMP_POINTERS:           /* the dump stack asks how to reach us */
        xenvbd_dump_pointers(v, srb);
        break;
    case SRB_FUNCTION_RESET_BUS:
    case SRB_FUNCTION_RESET_DEVICE:
    case SRB_FUNCTION_RESET_LOGICAL_UNIT:
        xenvbd_reset(v, srb->Function == SRB_FUNCTION_RESET_LOGICAL_UNIT ? "LU reset"
                        : srb->Function == SRB_FUNCTION_RESET_DEVICE   ? "device reset"
                                                                        : "bus reset SRB");
        srb->SrbStatus = SRB_STATUS_SUCCESS;
        break;
    default:
        srb->SrbStatus = xenvbd_other_srb_status(srb->Function);
        break;
    }
    StorPortNotification(RequestComplete, v, srb);
    return TRUE;
}

/* StorPort calls it at DISPATCH_LEVEL holding the StartIo lock, after a
 * request timed out: the bus's SRBs must complete during the call. */
BOOLEAN NTAPI xenvbd_reset_bus(PVOID ext, ULONG path)
{
    struct xenvbd *v = ext;
    (void)path;                                 /* one bus */
    xenvbd_reset(v, "HwResetBus");
    return TRUE;
}
