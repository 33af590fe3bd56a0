/* xenvbd's I/O: every SRB goes through the core's scsi_disk; answers
 * complete at once, block operations go to blkfront and complete from its
 * callback (xenpci's event-channel DPC, full-duplex StorPort). */
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

/* blkfront's completion, once per block operation of the SRB. */
static void xenvbd_io_done(void *arg, struct blkfront_req *rq, int status)
{
    struct xenvbd_srb *x = arg;
    (void)rq;
    if (status)
        InterlockedCompareExchange(&x->status, status, 0);
    if (InterlockedDecrement(&x->pending) != 0)
        return;
    struct scsi_disk_result r;
    memset(&r, 0, sizeof(r));
    r.io = true;
    if (x->status)
        scsi_disk_io_failed(&r, x->status);
    struct xenvbd *v = x->vbd;
    InterlockedDecrement(&v->outstanding);
    xenvbd_finish(v, x->srb, &r);
}

static void xenvbd_submit(struct xenvbd *v, PSCSI_REQUEST_BLOCK srb, void *data,
                          const struct scsi_disk_result *r)
{
    struct xenvbd_srb *x = srb->SrbExtension;
    unsigned n = r->op == BLKFRONT_DISCARD ? r->nranges : 1;
    x->vbd = v;
    x->srb = srb;
    x->status = 0;
    x->pending = (LONG)n;
    x->sg = (struct blkfront_sg){ data, r->bytes };
    InterlockedIncrement(&v->outstanding);
    for (unsigned i = 0; i < n; i++) {
        struct blkfront_req *q = &x->req[i];
        memset(q, 0, sizeof(*q));
        q->op = r->op;
        q->sector = r->op == BLKFRONT_DISCARD ? r->ranges[i].sector : r->sector;
        q->nr_sectors = r->op == BLKFRONT_DISCARD ? r->ranges[i].nr_sectors : r->nr_sectors;
        q->sg = &x->sg;
        q->nsg = r->bytes ? 1 : 0;
        q->done = xenvbd_io_done;
        q->arg = x;
        int err = blkfront_submit(v->bf, q);
        if (err)                                   /* never queued: count it done here */
            xenvbd_io_done(x, q, err);
    }
}

static void xenvbd_execute_scsi(struct xenvbd *v, PSCSI_REQUEST_BLOCK srb)
{
    struct scsi_disk_result r;
    void *data = NULL;
    if (srb->DataTransferLength &&
        StorPortExtendedFunction(STOR_EXT_GET_SYSTEM_ADDRESS, v, srb, &data) != STOR_STATUS_SUCCESS) {
        srb->SrbStatus = SRB_STATUS_BUSY;          /* no mapping now: StorPort retries */
        StorPortNotification(RequestComplete, v, srb);
        return;
    }
    scsi_disk_execute(&v->disk, srb->Cdb, srb->CdbLength, data, srb->DataTransferLength, &r);
    if (r.io)
        xenvbd_submit(v, srb, data, &r);
    else
        xenvbd_finish(v, srb, &r);
}

UCHAR xenvbd_other_srb_status(UCHAR function)
{
    switch (function) {
    case SRB_FUNCTION_RESET_BUS:
    case SRB_FUNCTION_RESET_DEVICE:
    case SRB_FUNCTION_RESET_LOGICAL_UNIT:
    case SRB_FUNCTION_ABORT_COMMAND:
        /* Nothing to abort: blkfront completes every request it holds. */
    case SRB_FUNCTION_PNP:
    case SRB_FUNCTION_POWER:
        return SRB_STATUS_SUCCESS;
    default:
        return SRB_STATUS_INVALID_REQUEST;
    }
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
    if (!v->bf || blkfront_is_broken(v->bf)) {
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
            struct scsi_disk_result r = { .status = SCSI_STATUS_GOOD, .io = true, .op = BLKFRONT_FLUSH };
            xenvbd_submit(v, srb, NULL, &r);
            return TRUE;
        }
        srb->SrbStatus = SRB_STATUS_SUCCESS;
        break;
    case SRB_FUNCTION_DUMP_POINTERS:           /* the dump stack asks how to reach us */
        xenvbd_dump_pointers(v, srb);
        break;
    default:
        srb->SrbStatus = xenvbd_other_srb_status(srb->Function);
        break;
    }
    StorPortNotification(RequestComplete, v, srb);
    return TRUE;
}

BOOLEAN NTAPI xenvbd_reset_bus(PVOID ext, ULONG path)
{
    (void)ext;
    (void)path;
    return TRUE;
}
