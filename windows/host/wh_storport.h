/* Inside the host's StorPort (wh_storport.c): the HAL's DMA for an SRB
 * (wh_storport_dma.c) - the scatter/gather list StorPortGetScatterGatherList
 * returns, and the bounce pages of a double-buffered transfer. */
#ifndef WH_STORPORT_H
#define WH_STORPORT_H

#include "wh.h"

struct sp_dma;

/* When StorPort takes the SRB (a miniport with NeedPhysicalAddresses and
 * data to move): its list, through bounce pages if the HAL double-buffers
 * (READ/WRITE CDBs only, with wh_storport_double_buffer set; a write's
 * data is copied in here).  NULL for an SRB without data. */
struct sp_dma *sp_dma_map(struct wh_srb *srb);
/* The STOR_SCATTER_GATHER_LIST the miniport sees (NULL when d is). */
void *sp_dma_list(struct sp_dma *d);
/* RequestComplete: the list is no longer valid (its entries are wiped). */
void sp_dma_invalidate(struct sp_dma *d);
/* The request is done: a read's bounce pages are copied over the SRB's
 * buffer (FlushAdapterBuffers), everything is freed. */
void sp_dma_unmap(struct sp_dma *d);

#endif
