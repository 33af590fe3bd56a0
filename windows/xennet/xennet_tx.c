/* xennet transmit: each NET_BUFFER of a NET_BUFFER_LIST becomes one
 * netfront frame (fragments straight from its MDL chain; netfront copies
 * them into its granted pages), with the list's checksum/LSO request
 * checked by the core's netoffload.  The list completes once, when the
 * last of its frames is back. */
#include "xennet.h"

#include <string.h>

#include "gplpv/errors.h"
#include "gplpv/log.h"

/* Per-list state in MiniportReserved: [0] frames outstanding, [1] the
 * first failure, [2..] unused; LSO v1 payload in Scratch. */
#define XENNET_NBL_PENDING(nbl) ((volatile LONG *)&(nbl)->MiniportReserved[0])
#define XENNET_NBL_STATUS(nbl) ((volatile LONG *)&(nbl)->MiniportReserved[1])

NDIS_STATUS xennet_tx_init(struct xennet *xn)
{
    xn->tx = ExAllocatePoolWithTag(win_nonpaged_pool, sizeof(*xn->tx) * XENNET_TX_DESCS, GPLPV_POOL_TAG);
    if (!xn->tx)
        return NDIS_STATUS_RESOURCES;
    memset(xn->tx, 0, sizeof(*xn->tx) * XENNET_TX_DESCS);
    for (int i = 0; i < XENNET_TX_DESCS; i++) {
        xn->tx[i].xn = xn;
        xn->tx[i].next_free = i + 1 < XENNET_TX_DESCS ? &xn->tx[i + 1] : NULL;
    }
    xn->tx_free = &xn->tx[0];
    return NDIS_STATUS_SUCCESS;
}

void xennet_tx_fini(struct xennet *xn)
{
    if (xn->tx)
        ExFreePoolWithTag(xn->tx, GPLPV_POOL_TAG);
    xn->tx = NULL;
}

static struct xennet_tx *xennet_tx_get(struct xennet *xn)
{
    KIRQL old;
    KeAcquireSpinLock(&xn->tx_lock, &old);
    struct xennet_tx *d = xn->tx_free;
    if (d)
        xn->tx_free = d->next_free;
    KeReleaseSpinLock(&xn->tx_lock, old);
    return d;
}

static void xennet_tx_put(struct xennet *xn, struct xennet_tx *d)
{
    KIRQL old;
    KeAcquireSpinLock(&xn->tx_lock, &old);
    d->next_free = xn->tx_free;
    xn->tx_free = d;
    KeReleaseSpinLock(&xn->tx_lock, old);
}

static void xennet_tx_complete_nbl(struct xennet *xn, PNET_BUFFER_LIST nbl)
{
    nbl->Status = (NDIS_STATUS)*XENNET_NBL_STATUS(nbl);
    ULONG_PTR lso = (ULONG_PTR)nbl->NetBufferListInfo[TcpLargeSendNetBufferListInfo];
    if (lso && !NDIS_LSO_IS_V2(lso))   /* LSO v1 reports the payload it sent */
        nbl->NetBufferListInfo[TcpLargeSendNetBufferListInfo] =
            (PVOID)(ULONG_PTR)NDIS_LSO_V1_PAYLOAD((ULONG_PTR)nbl->Scratch);
    else if (lso)                      /* LSO v2: Type says v2, Reserved is 0 */
        nbl->NetBufferListInfo[TcpLargeSendNetBufferListInfo] = (PVOID)NDIS_LSO_V2_COMPLETE;
    nbl->Next = NULL;
    NdisMSendNetBufferListsComplete(xn->handle, nbl,
                                    KeGetCurrentIrql() == DISPATCH_LEVEL
                                        ? NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL : 0);
    InterlockedDecrement(&xn->sends);
}

/* One frame of the list is done (status 0 or a GP_E* code). */
static void xennet_tx_frame_done(struct xennet *xn, PNET_BUFFER_LIST nbl, int status, uint32_t lso_payload)
{
    if (status) {
        NDIS_STATUS ns = status == GP_ESHUTDOWN ? NDIS_STATUS_SEND_ABORTED
                       : status == GP_EINVAL ? NDIS_STATUS_INVALID_DATA : NDIS_STATUS_FAILURE;
        InterlockedCompareExchange(XENNET_NBL_STATUS(nbl), ns, NDIS_STATUS_SUCCESS);
        XENNET_STAT_ADD(xn->st.tx_errors, 1);
    } else if (lso_payload) {
        InterlockedExchangeAdd((volatile LONG *)&nbl->Scratch, (LONG)lso_payload);
    }
    if (InterlockedDecrement(XENNET_NBL_PENDING(nbl)) == 0)
        xennet_tx_complete_nbl(xn, nbl);
}

static void xennet_tx_done(void *arg, struct netfront_tx *t, int status)
{
    struct xennet_tx *d = arg;
    struct xennet *xn = d->xn;
    PNET_BUFFER_LIST nbl = d->nbl;
    uint32_t payload = d->lso_payload;
    if (!status) {
        XENNET_STAT_ADD(xn->st.tx_ok, 1);
        XENNET_STAT_ADD(xn->st.tx_bytes, t->len);
        const uint8_t *dst = t->nfrags && t->frags[0].len ? t->frags[0].va : NULL;
        if (dst && dst[0] == 0xff)
            XENNET_STAT_ADD(xn->st.tx_bcast, 1);
        else if (dst && (dst[0] & 1))
            XENNET_STAT_ADD(xn->st.tx_mcast, 1);
        else
            XENNET_STAT_ADD(xn->st.tx_ucast, 1);
    }
    xennet_tx_put(xn, d);
    xennet_tx_frame_done(xn, nbl, status, payload);
}

/* The NET_BUFFER's bytes as fragments of its MDL chain. */
static int xennet_tx_frags(PNET_BUFFER nb, struct xennet_tx *d)
{
    PMDL mdl = nb->CurrentMdl;
    ULONG off = nb->CurrentMdlOffset, left = nb->DataLength;
    unsigned n = 0;
    while (left && mdl) {
        ULONG bytes = MmGetMdlByteCount(mdl);
        if (off < bytes) {
            if (n == XENNET_TX_FRAGS)
                return GP_EINVAL;
            PUCHAR va = MmGetSystemAddressForMdlSafe(mdl, (MM_PAGE_PRIORITY)(NormalPagePriority | win_mdl_nx));
            if (!va)
                return GP_ENOMEM;
            ULONG take = bytes - off < left ? bytes - off : left;
            d->frags[n++] = (struct netpkt_frag){ va + off, take };
            left -= take;
        }
        off = 0;
        mdl = mdl->Next;
    }
    if (left)
        return GP_EINVAL;                    /* the chain is shorter than DataLength */
    d->t.frags = d->frags;
    d->t.nfrags = n;
    d->t.len = nb->DataLength;
    return 0;
}

static void xennet_tx_nbl(struct xennet *xn, PNET_BUFFER_LIST nbl)
{
    ULONG count = 0;
    for (PNET_BUFFER nb = nbl->FirstNetBuffer; nb; nb = nb->Next)
        count++;
    *XENNET_NBL_STATUS(nbl) = NDIS_STATUS_SUCCESS;
    nbl->Scratch = NULL;
    /* One count more than frames while we walk the list: a frame that
     * completes meanwhile must not complete the list under our feet. */
    *XENNET_NBL_PENDING(nbl) = (LONG)count + 1;
    ULONG_PTR csum = (ULONG_PTR)nbl->NetBufferListInfo[TcpIpChecksumNetBufferListInfo];
    ULONG_PTR lso = (ULONG_PTR)nbl->NetBufferListInfo[TcpLargeSendNetBufferListInfo];
    struct netoffload_tx_request req = {
        .tcp_csum = (csum & NDIS_CSUM_TX_TCP) != 0,
        .udp_csum = (csum & NDIS_CSUM_TX_UDP) != 0,
        .ip_csum = (csum & NDIS_CSUM_TX_IP_HEADER) != 0,
        .lso_mss = NDIS_LSO_MSS(lso),
    };
    for (PNET_BUFFER nb = nbl->FirstNetBuffer; nb; nb = nb->Next) {
        struct xennet_tx *d = xennet_tx_get(xn);
        if (!d) {
            XENNET_STAT_ADD(xn->st.tx_discards, 1);
            xennet_tx_frame_done(xn, nbl, GP_ENOMEM, 0);
            continue;
        }
        memset(&d->t, 0, sizeof(d->t));
        d->nbl = nbl;
        int err = xennet_tx_frags(nb, d);
        if (!err)
            err = netoffload_tx_prepare(&xn->caps, &req, &d->t, &d->lso_payload);
        if (!err) {
            d->t.done = xennet_tx_done;
            d->t.arg = d;
            err = netfront_send(xn->nf, &d->t);   /* done() is called once if this returns 0 */
        }
        if (err) {
            xennet_tx_put(xn, d);
            xennet_tx_frame_done(xn, nbl, err, 0);
        }
    }
    xennet_tx_frame_done(xn, nbl, 0, 0);       /* the walk's own count */
}

VOID NTAPI xennet_send(NDIS_HANDLE ctx, PNET_BUFFER_LIST nbl, NDIS_PORT_NUMBER port, ULONG flags)
{
    struct xennet *xn = ctx;
    (void)port;
    (void)flags;
    /* Counted before the state is read (both are full barriers, as are
     * Pause's write of the state and its read of the counts): a Pause
     * either sees this call and waits for it, or this call sees Pausing.
     * Checking the state first let Pause return while a send was still
     * on its way to netfront. */
    InterlockedIncrement(&xn->tx_busy);
    while (nbl) {
        PNET_BUFFER_LIST next = nbl->Next;
        nbl->Next = NULL;
        InterlockedIncrement(&xn->sends);
        if (xn->state != XENNET_RUNNING || xn->removed) {
            nbl->Status = xn->removed ? NDIS_STATUS_ADAPTER_REMOVED : NDIS_STATUS_PAUSED;
            NdisMSendNetBufferListsComplete(xn->handle, nbl,
                                            KeGetCurrentIrql() == DISPATCH_LEVEL
                                                ? NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL : 0);
            InterlockedDecrement(&xn->sends);
        } else {
            xennet_tx_nbl(xn, nbl);
        }
        nbl = next;
    }
    InterlockedDecrement(&xn->tx_busy);
}

/* Frames handed to netfront are on their way; nothing waits to cancel. */
VOID NTAPI xennet_cancel_send(NDIS_HANDLE ctx, PVOID cancel_id)
{
    (void)ctx;
    (void)cancel_id;
}
