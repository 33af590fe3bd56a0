/*
 * xenvbd_sg: where the data of a block transfer really is.  xenvbd
 * declares NeedPhysicalAddresses, so StorPort gives each data SRB a
 * scatter/gather list (StorPortGetScatterGatherList, valid until the SRB
 * completes) of the physical memory the transfer goes through: the SRB's
 * own pages, or - when the HAL double-buffers (an address limit, DMA
 * Verifier) - its map registers' pages, which it fills from the SRB's
 * buffer before a write and copies over the SRB's buffer when a read
 * completes.  A miniport that puts a read's data at the buffer's system
 * address then sees it overwritten (the kernel host's
 * xenvbd-inflight-dma found that).
 *
 * blkfront copies through virtual addresses, so each element gets one:
 * the SRB's system address where that address's pages are the element's
 * (the usual case: no mapping), else a mapping of the element with
 * MmMapIoSpace (<= DISPATCH_LEVEL; the pages are locked for the I/O),
 * undone before the SRB completes.
 */
#include "xenvbd.h"

/* va..va+len is the physical range pa..pa+len, page by page. */
static BOOLEAN xenvbd_sg_same_pages(const UCHAR *va, ULONGLONG pa, ULONG len)
{
    for (ULONG o = 0; o < len;) {
        if ((ULONGLONG)MmGetPhysicalAddress((PVOID)(va + o)).QuadPart != pa + o)
            return FALSE;
        ULONG in_page = PAGE_SIZE - (ULONG)((ULONG_PTR)(va + o) & (PAGE_SIZE - 1));
        o += in_page < len - o ? in_page : len - o;
    }
    return TRUE;
}

void xenvbd_sg_unmap(struct xenvbd_srb *x)
{
    for (unsigned i = 0; i < x->nsg; i++)
        if (x->mapped[i / 32] & (1u << (i % 32)))
            MmUnmapIoSpace(x->sg[i].va, x->sg[i].len);
    RtlZeroMemory(x->mapped, sizeof(x->mapped));
    x->nsg = 0;
}

UCHAR xenvbd_sg_map(struct xenvbd *v, struct xenvbd_srb *x, void *sysva, ULONG bytes)
{
    PSTOR_SCATTER_GATHER_LIST l = StorPortGetScatterGatherList(v, x->srb);
    RtlZeroMemory(x->mapped, sizeof(x->mapped));
    x->nsg = 0;
    if (!l || !l->NumberOfElements) {          /* no DMA set up: the buffer is the data */
        if (!sysva)
            return SRB_STATUS_ERROR;
        x->sg[0] = (struct blkfront_sg){ sysva, bytes };
        x->nsg = 1;
        return SRB_STATUS_SUCCESS;
    }
    if (l->NumberOfElements > XENVBD_MAX_SG)
        return SRB_STATUS_INVALID_REQUEST;
    ULONG off = 0;
    for (ULONG i = 0; i < l->NumberOfElements && off < bytes; i++) {
        ULONGLONG pa = (ULONGLONG)l->List[i].PhysicalAddress.QuadPart;
        ULONG len = l->List[i].Length < bytes - off ? l->List[i].Length : bytes - off;
        if (!len)
            continue;
        UCHAR *va = sysva ? (UCHAR *)sysva + off : NULL;
        if (!va || !xenvbd_sg_same_pages(va, pa, len)) {
            PHYSICAL_ADDRESS where;
            where.QuadPart = (LONGLONG)pa;
            va = MmMapIoSpace(where, len, MmCached);
            if (!va) {                         /* no system PTEs now: StorPort retries */
                xenvbd_sg_unmap(x);
                return SRB_STATUS_BUSY;
            }
            x->mapped[x->nsg / 32] |= 1u << (x->nsg % 32);
        }
        x->sg[x->nsg++] = (struct blkfront_sg){ va, len };
        off += len;
    }
    if (off < bytes) {                         /* a list shorter than the transfer */
        xenvbd_sg_unmap(x);
        return SRB_STATUS_ERROR;
    }
    return SRB_STATUS_SUCCESS;
}
