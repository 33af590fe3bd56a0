/* xennet receive: netfront hands each validated frame to xennet_rx_frame
 * (DPC level); it passes the packet filter, is copied into a buffer of
 * our pool and goes up as a NET_BUFFER_LIST with its checksum result.
 * NDIS returns the list through xennet_return.  When the pool runs low a
 * frame goes up with NDIS_RECEIVE_FLAGS_RESOURCES: NDIS copies it and the
 * buffer is ours again at once. */
#include "xennet.h"

#include <string.h>

#include "gplpv/log.h"

#define XENNET_RX_LOW 16

NDIS_STATUS xennet_rx_init(struct xennet *xn)
{
    NET_BUFFER_LIST_POOL_PARAMETERS pp;
    memset(&pp, 0, sizeof(pp));
    xennet_header(&pp.Header, NDIS_OBJECT_TYPE_DEFAULT, 1, sizeof(pp));
    pp.fAllocateNetBuffer = TRUE;
    pp.PoolTag = GPLPV_POOL_TAG;
    xn->nbl_pool = NdisAllocateNetBufferListPool(xn->handle, &pp);
    if (!xn->nbl_pool)
        return NDIS_STATUS_RESOURCES;
    xn->rx = ExAllocatePoolWithTag(win_nonpaged_pool, sizeof(*xn->rx) * XENNET_RX_BUFS, GPLPV_POOL_TAG);
    if (!xn->rx)
        return NDIS_STATUS_RESOURCES;
    memset(xn->rx, 0, sizeof(*xn->rx) * XENNET_RX_BUFS);
    for (int i = 0; i < XENNET_RX_BUFS; i++) {
        struct xennet_rx *r = &xn->rx[i];
        r->buf = ExAllocatePoolWithTag(win_nonpaged_pool, XENNET_RX_BUF_SIZE, GPLPV_POOL_TAG);
        r->mdl = r->buf ? NdisAllocateMdl(xn->handle, r->buf, XENNET_RX_BUF_SIZE) : NULL;
        r->nbl = r->mdl ? NdisAllocateNetBufferAndNetBufferList(xn->nbl_pool, 0, 0, r->mdl, 0, 0) : NULL;
        if (!r->nbl)
            return NDIS_STATUS_RESOURCES;
        r->nbl->MiniportReserved[0] = r;
        r->next_free = xn->rx_free;
        xn->rx_free = r;
        xn->rx_free_count++;
    }
    return NDIS_STATUS_SUCCESS;
}

void xennet_rx_fini(struct xennet *xn)
{
    if (xn->rx) {
        for (int i = 0; i < XENNET_RX_BUFS; i++) {
            struct xennet_rx *r = &xn->rx[i];
            if (r->nbl)
                NdisFreeNetBufferList(r->nbl);
            if (r->mdl)
                NdisFreeMdl(r->mdl);
            if (r->buf)
                ExFreePoolWithTag(r->buf, GPLPV_POOL_TAG);
        }
        ExFreePoolWithTag(xn->rx, GPLPV_POOL_TAG);
        xn->rx = NULL;
    }
    if (xn->nbl_pool)
        NdisFreeNetBufferListPool(xn->nbl_pool);
    xn->nbl_pool = NULL;
}

static struct xennet_rx *xennet_rx_get(struct xennet *xn, unsigned *left)
{
    KIRQL old;
    KeAcquireSpinLock(&xn->rx_lock, &old);
    struct xennet_rx *r = xn->rx_free;
    if (r) {
        xn->rx_free = r->next_free;
        xn->rx_free_count--;
    }
    *left = xn->rx_free_count;
    KeReleaseSpinLock(&xn->rx_lock, old);
    return r;
}

static void xennet_rx_put(struct xennet *xn, struct xennet_rx *r)
{
    KIRQL old;
    KeAcquireSpinLock(&xn->rx_lock, &old);
    r->next_free = xn->rx_free;
    xn->rx_free = r;
    xn->rx_free_count++;
    KeReleaseSpinLock(&xn->rx_lock, old);
}

/* The packet filter the protocols set (OID_GEN_CURRENT_PACKET_FILTER). */
static BOOLEAN xennet_rx_wanted(struct xennet *xn, const UCHAR *dst)
{
    ULONG f = xn->packet_filter;
    if (f & NDIS_PACKET_TYPE_PROMISCUOUS)
        return TRUE;
    if (!(dst[0] & 1))
        return (f & NDIS_PACKET_TYPE_DIRECTED) && !memcmp(dst, xn->mac, 6);
    static const UCHAR bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    if (!memcmp(dst, bcast, 6))
        return (f & NDIS_PACKET_TYPE_BROADCAST) != 0;
    if (f & NDIS_PACKET_TYPE_ALL_MULTICAST)
        return TRUE;
    if (!(f & NDIS_PACKET_TYPE_MULTICAST))
        return FALSE;
    for (ULONG i = 0; i < xn->mcast_count; i++)
        if (!memcmp(dst, xn->mcast[i], 6))
            return TRUE;
    return FALSE;
}

void xennet_rx_frame(void *arg, const struct netfront_rx *f)
{
    struct xennet *xn = arg;
    UCHAR dst[6];
    /* Counted before the state is read (see xennet_send): checking the
     * state first let Pause return while this indication was under way. */
    InterlockedIncrement(&xn->indicated);
    if (xn->state != XENNET_RUNNING || xn->removed || f->len < 14 || f->len > XENNET_RX_BUF_SIZE ||
        netpkt_read(f->frags, f->nfrags, 0, dst, 6) != 6) {
        XENNET_STAT_ADD(xn->st.rx_discards, 1);
        InterlockedDecrement(&xn->indicated);
        return;
    }
    if (!xennet_rx_wanted(xn, dst)) {
        InterlockedDecrement(&xn->indicated);
        return;                               /* filtered: not an error */
    }
    unsigned left;
    struct xennet_rx *r = xennet_rx_get(xn, &left);
    if (!r) {
        XENNET_STAT_ADD(xn->st.rx_nobuf, 1);
        InterlockedDecrement(&xn->indicated);
        return;
    }
    if (netpkt_read(f->frags, f->nfrags, 0, r->buf, f->len) != f->len) {
        xennet_rx_put(xn, r);
        XENNET_STAT_ADD(xn->st.rx_errors, 1);
        InterlockedDecrement(&xn->indicated);
        return;
    }
    PNET_BUFFER nb = r->nbl->FirstNetBuffer;
    nb->DataLength = f->len;
    nb->DataOffset = 0;
    nb->CurrentMdlOffset = 0;
    nb->CurrentMdl = nb->MdlChain;
    r->nbl->Next = NULL;
    r->nbl->Status = NDIS_STATUS_SUCCESS;
    unsigned res = netoffload_rx_result(&xn->caps, f);
    ULONG_PTR ci = 0;
    if (res & NETOFFLOAD_RX_TCP_OK)
        ci |= NDIS_CSUM_RX_TCP_OK;
    if (res & NETOFFLOAD_RX_UDP_OK)
        ci |= NDIS_CSUM_RX_UDP_OK;
    if (res & NETOFFLOAD_RX_TCP_FAILED)
        ci |= NDIS_CSUM_RX_TCP_FAILED;
    if (res & NETOFFLOAD_RX_UDP_FAILED)
        ci |= NDIS_CSUM_RX_UDP_FAILED;
    r->nbl->NetBufferListInfo[TcpIpChecksumNetBufferListInfo] = (PVOID)ci;
    XENNET_STAT_ADD(xn->st.rx_ok, 1);
    XENNET_STAT_ADD(xn->st.rx_bytes, f->len);
    if (!(dst[0] & 1))
        XENNET_STAT_ADD(xn->st.rx_ucast, 1);
    else if (dst[0] == 0xff)
        XENNET_STAT_ADD(xn->st.rx_bcast, 1);
    else
        XENNET_STAT_ADD(xn->st.rx_mcast, 1);
    ULONG flags = KeGetCurrentIrql() == DISPATCH_LEVEL ? NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL : 0;
    if (left < XENNET_RX_LOW) {
        /* NDIS copies the frame before this returns: the buffer is free again */
        NdisMIndicateReceiveNetBufferLists(xn->handle, r->nbl, NDIS_DEFAULT_PORT_NUMBER, 1,
                                           flags | NDIS_RECEIVE_FLAGS_RESOURCES);
        xennet_rx_put(xn, r);
        InterlockedDecrement(&xn->indicated);
        return;
    }
    NdisMIndicateReceiveNetBufferLists(xn->handle, r->nbl, NDIS_DEFAULT_PORT_NUMBER, 1, flags);
}

VOID NTAPI xennet_return(NDIS_HANDLE ctx, PNET_BUFFER_LIST nbl, ULONG flags)
{
    struct xennet *xn = ctx;
    (void)flags;
    while (nbl) {
        PNET_BUFFER_LIST next = nbl->Next;
        nbl->Next = NULL;
        xennet_rx_put(xn, nbl->MiniportReserved[0]);
        InterlockedDecrement(&xn->indicated);
        nbl = next;
    }
}
