/* The HAL's DMA under the host's StorPort: for each data SRB of a miniport
 * that declares NeedPhysicalAddresses, the scatter/gather list
 * StorPortGetScatterGatherList returns (x64 STOR_SCATTER_GATHER_LIST: a
 * ULONG count, a ULONG_PTR, then 24-byte elements of PHYSICAL_ADDRESS,
 * ULONG length, ULONG_PTR), one element per page.
 *
 * Normally the elements are the SRB buffer's own frames.  With
 * wh_storport_double_buffer set the host plays a HAL that double-buffers
 * (an adapter's address limit, or DMA Verifier) the transfers StorPort
 * maps for DMA - READs and WRITEs; StorPort maps other SRBs' buffers for
 * the miniport (STOR_MAP_NON_READ_WRITE_BUFFERS) and leaves them: the
 * elements are then bounce pages ("map registers") of their own, starting
 * at the buffer's offset in its first page.  A write's data is copied into
 * them when StorPort takes the SRB; a read's bounce pages start as 0xdb
 * and are copied over the SRB's buffer when it completes, as
 * FlushAdapterBuffers does - so a miniport that puts the data anywhere
 * but where the list says loses it.  At RequestComplete the list stops
 * being valid: its entries are wiped. */
#include <stdlib.h>
#include <string.h>

#include "wh_storport.h"

bool wh_storport_double_buffer;

struct sp_sge {
    int64_t pa;
    uint32_t len, pad;
    uint64_t reserved;
};
struct sp_sgl {
    uint32_t n, pad;
    uint64_t reserved;
    struct sp_sge e[];
};
_Static_assert(sizeof(struct sp_sge) == 24 && offsetof(struct sp_sgl, e) == 16,
               "STOR_SCATTER_GATHER_LIST (x64)");

struct sp_dma {
    struct sp_sgl *list;
    uint8_t **bounce;                /* [pages], NULL unless double-buffered */
    unsigned pages;
    bool data_in;
    uint8_t *buf;                    /* the transfer as StorPort mapped it (the */
    uint32_t len;                    /* miniport may change DataTransferLength) */
};

static bool sp_cdb_is_rw(uint8_t op)
{
    switch (op) {
    case 0x08: case 0x0a: case 0x28: case 0x2a: case 0xa8: case 0xaa: case 0x88: case 0x8a:
        return true;
    default:
        return false;
    }
}

struct sp_dma *sp_dma_map(struct wh_srb *srb)
{
    uint32_t len = srb->DataTransferLength;
    if (!len || !srb->DataBuffer)
        return NULL;
    uintptr_t off = (uintptr_t)srb->DataBuffer & 0xfff;
    unsigned pages = (unsigned)((off + len + 4095) / 4096);
    struct sp_dma *d = calloc(1, sizeof(*d));
    d->list = calloc(1, sizeof(*d->list) + pages * sizeof(d->list->e[0]));
    d->pages = pages;
    d->data_in = (srb->SrbFlags & 0x40) != 0;       /* SRB_FLAGS_DATA_IN */
    d->buf = srb->DataBuffer;
    d->len = len;
    bool bounce = wh_storport_double_buffer && sp_cdb_is_rw(srb->Cdb[0]);
    if (bounce)
        d->bounce = calloc(pages, sizeof(*d->bounce));
    uint8_t *buf = srb->DataBuffer;
    for (unsigned k = 0, done = 0; k < pages; k++) {
        uint32_t start = k ? 0 : (uint32_t)off;
        uint32_t n = 4096 - start < len - done ? 4096 - start : len - done;
        uint64_t pa;
        if (bounce) {
            d->bounce[k] = wh_pool_alloc(4096, 0x62625053 /* SPbb */, false);
            if (!d->bounce[k])
                wh_fatal("wh_storport: no memory for a bounce page");
            if (d->data_in)
                memset(d->bounce[k], 0xdb, 4096);
            else
                memcpy(d->bounce[k] + start, buf + done, n);
            pa = wh_va_to_pa(d->bounce[k] + start);
        } else {
            pa = wh_va_to_pa(buf + done);
            if (!pa)
                wh_fatal("wh_storport: the scenario's SRB buffer %p is not the domain's memory",
                         (void *)buf);
        }
        d->list->e[k] = (struct sp_sge){ .pa = (int64_t)pa, .len = n };
        done += n;
    }
    d->list->n = pages;
    return d;
}

void *sp_dma_list(struct sp_dma *d)
{
    return d ? d->list : NULL;
}

void sp_dma_invalidate(struct sp_dma *d)
{
    if (!d)
        return;
    for (unsigned k = 0; k < d->pages; k++)
        d->list->e[k] = (struct sp_sge){ .pa = -1, .len = 0 };
    d->list->n = 0;
}

void sp_dma_unmap(struct sp_dma *d)
{
    if (!d)
        return;
    if (d->bounce) {
        uint8_t *buf = d->buf;
        uint32_t len = d->len, off = (uint32_t)((uintptr_t)buf & 0xfff);
        for (unsigned k = 0, done = 0; k < d->pages; k++) {
            uint32_t start = k ? 0 : off;
            uint32_t n = 4096 - start < len - done ? 4096 - start : len - done;
            if (d->data_in && done < len)
                memcpy(buf + done, d->bounce[k] + start, n);
            done += n;
            wh_pool_free(d->bounce[k], "(HAL) bounce page");
        }
        free(d->bounce);
    }
    free(d->list);
    free(d);
}
