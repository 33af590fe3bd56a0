/*
 * xennet: the NDIS 6 miniport for a Xen vif.  xenpci enumerates each
 * device/vif/<id> as a child (XEN\VIF); xennet gets the core through
 * xenpci's interface and runs the core's netfront under NDIS: sends
 * (NET_BUFFER_LIST chains) become netfront frames, received frames go up
 * as NET_BUFFER_LISTs from a pool of buffers, and the offloads the user
 * enables (checksum, LSO v1/v2) follow the core's netoffload policy.
 */
#ifndef GPLPV_XENNET_H
#define GPLPV_XENNET_H

#include "ndis6_decls.h"
#include "xenpci_interface.h"

#include "gplpv/netfront.h"
#include "gplpv/netoffload.h"

#define XENNET_TX_DESCS 512             /* NET_BUFFERs in flight */
#define XENNET_TX_FRAGS 64              /* MDLs per NET_BUFFER we take */
#define XENNET_RX_BUFS 256
#define XENNET_RX_BUF_SIZE 2048         /* an MTU frame with VLAN tag; rx GSO is not asked for */
#define XENNET_MTU 1500
#define XENNET_MCAST_MAX 32

enum xennet_state { XENNET_PAUSED, XENNET_RUNNING, XENNET_PAUSING, XENNET_HALTED };

struct xennet;

struct xennet_tx {
    struct netfront_tx t;
    struct netpkt_frag frags[XENNET_TX_FRAGS];
    PNET_BUFFER_LIST nbl;
    uint32_t lso_payload;
    struct xennet *xn;
    struct xennet_tx *next_free;
};

struct xennet_rx {
    PUCHAR buf;
    PMDL mdl;
    PNET_BUFFER_LIST nbl;
    struct xennet_rx *next_free;
};

/* Counters for OID_GEN_STATISTICS, bumped from any CPU (64-bit atomics
 * also on x86, where they are cmpxchg8b). */
struct xennet_stats {
    uint64_t tx_ok, tx_bytes, tx_errors, tx_discards;
    uint64_t rx_ok, rx_bytes, rx_errors, rx_discards, rx_nobuf;
    uint64_t rx_ucast, rx_mcast, rx_bcast, tx_ucast, tx_mcast, tx_bcast;
};
#define XENNET_STAT_ADD(field, n) __atomic_fetch_add(&(field), (uint64_t)(n), __ATOMIC_RELAXED)
#define XENNET_STAT(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

struct xennet {
    NDIS_HANDLE handle;
    struct xenpci_interface xi;
    BOOLEAN have_xi;
    struct gp_platform *plat;
    struct netfront *nf;
    struct netfront_info info;
    struct netoffload_config cfg;
    struct netoffload_caps caps;
    BOOLEAN suspend_registered;
    volatile LONG state;                /* enum xennet_state */
    volatile LONG removed;              /* surprise removal */
    volatile LONG sends;                /* NET_BUFFER_LISTs not yet completed */
    volatile LONG tx_busy;              /* MiniportSendNetBufferLists calls under way */
    volatile LONG indicated;            /* receive NBLs up with NDIS */

    KSPIN_LOCK tx_lock;
    struct xennet_tx *tx_free;
    struct xennet_tx *tx;               /* XENNET_TX_DESCS */

    NDIS_HANDLE nbl_pool;
    KSPIN_LOCK rx_lock;
    struct xennet_rx *rx_free;
    struct xennet_rx *rx;               /* XENNET_RX_BUFS */
    unsigned rx_free_count;

    ULONG packet_filter;
    ULONG lookahead;
    UCHAR mac[6], perm_mac[6];
    UCHAR mcast[XENNET_MCAST_MAX][6];
    ULONG mcast_count;
    struct xennet_stats st;
};

extern NDIS_HANDLE xennet_driver_handle;

/* xennet_adapter.c */
NDIS_STATUS NTAPI xennet_initialize(NDIS_HANDLE handle, NDIS_HANDLE driver_ctx,
                                    PNDIS_MINIPORT_INIT_PARAMETERS params);
VOID NTAPI xennet_halt(NDIS_HANDLE ctx, ULONG action);
NDIS_STATUS NTAPI xennet_pause(NDIS_HANDLE ctx, PNDIS_MINIPORT_PAUSE_PARAMETERS params);
NDIS_STATUS NTAPI xennet_restart(NDIS_HANDLE ctx, PNDIS_MINIPORT_RESTART_PARAMETERS params);
VOID NTAPI xennet_shutdown(NDIS_HANDLE ctx, ULONG action);
VOID NTAPI xennet_pnp_event(NDIS_HANDLE ctx, PNET_DEVICE_PNP_EVENT ev);
/* An NDIS object's header: its type, revision and size. */
static inline void xennet_header(NDIS_OBJECT_HEADER *h, UCHAR type, UCHAR revision, USHORT size)
{
    h->Type = type;
    h->Revision = revision;
    h->Size = size;
}

/* NdisMIndicateStatusEx of code with its buffer, from the adapter. */
void xennet_indicate_status(struct xennet *xn, NDIS_STATUS code, void *buf, ULONG size);
void xennet_indicate_link(struct xennet *xn, BOOLEAN up);

/* xennet_tx.c */
NDIS_STATUS xennet_tx_init(struct xennet *xn);
void xennet_tx_fini(struct xennet *xn);
VOID NTAPI xennet_send(NDIS_HANDLE ctx, PNET_BUFFER_LIST nbl, NDIS_PORT_NUMBER port, ULONG flags);
VOID NTAPI xennet_cancel_send(NDIS_HANDLE ctx, PVOID cancel_id);

/* xennet_rx.c */
NDIS_STATUS xennet_rx_init(struct xennet *xn);
void xennet_rx_fini(struct xennet *xn);
void xennet_rx_frame(void *arg, const struct netfront_rx *f);
VOID NTAPI xennet_return(NDIS_HANDLE ctx, PNET_BUFFER_LIST nbl, ULONG flags);

/* xennet_oid.c */
NDIS_STATUS NTAPI xennet_oid_request(NDIS_HANDLE ctx, PNDIS_OID_REQUEST req);
VOID NTAPI xennet_cancel_oid(NDIS_HANDLE ctx, PVOID request_id);
extern const NDIS_OID xennet_supported_oids[];
extern const ULONG xennet_supported_oid_count;
void xennet_offload_describe(const struct xennet *xn, NDIS_OFFLOAD *o);

#endif
