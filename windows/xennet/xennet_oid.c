/* xennet's OIDs: what NDIS 6 still asks a miniport (statistics, filters,
 * addresses, offload parameters), answered from the adapter's state. */
#include "xennet.h"

#include <string.h>

#include "gplpv/log.h"

const NDIS_OID xennet_supported_oids[] = {
    OID_GEN_SUPPORTED_LIST, OID_GEN_HARDWARE_STATUS, OID_GEN_MEDIA_SUPPORTED, OID_GEN_MEDIA_IN_USE,
    OID_GEN_PHYSICAL_MEDIUM, OID_GEN_MAXIMUM_LOOKAHEAD, OID_GEN_CURRENT_LOOKAHEAD,
    OID_GEN_MAXIMUM_FRAME_SIZE, OID_GEN_MAXIMUM_TOTAL_SIZE, OID_GEN_LINK_SPEED,
    OID_GEN_TRANSMIT_BUFFER_SPACE, OID_GEN_RECEIVE_BUFFER_SPACE, OID_GEN_TRANSMIT_BLOCK_SIZE,
    OID_GEN_RECEIVE_BLOCK_SIZE, OID_GEN_VENDOR_ID, OID_GEN_VENDOR_DESCRIPTION,
    OID_GEN_VENDOR_DRIVER_VERSION, OID_GEN_DRIVER_VERSION, OID_GEN_CURRENT_PACKET_FILTER,
    OID_GEN_MAC_OPTIONS, OID_GEN_MEDIA_CONNECT_STATUS, OID_GEN_MAXIMUM_SEND_PACKETS,
    OID_GEN_XMIT_OK, OID_GEN_RCV_OK, OID_GEN_XMIT_ERROR, OID_GEN_RCV_ERROR, OID_GEN_RCV_NO_BUFFER,
    OID_GEN_STATISTICS, OID_GEN_INTERRUPT_MODERATION, OID_802_3_PERMANENT_ADDRESS,
    OID_802_3_CURRENT_ADDRESS, OID_802_3_MULTICAST_LIST, OID_802_3_MAXIMUM_LIST_SIZE,
    OID_TCP_OFFLOAD_PARAMETERS, OID_OFFLOAD_ENCAPSULATION, OID_PNP_SET_POWER, OID_PNP_QUERY_POWER,
};
const ULONG xennet_supported_oid_count = sizeof(xennet_supported_oids) / sizeof(xennet_supported_oids[0]);

/* One direction of one IP version's checksum offload (ntddndis.h gives
 * each its own anonymous structure, so a function cannot take them):
 * options supported (ip_opts names IPv4's or IPv6's field), the TCP and
 * UDP checksums as caps tcp and udp have the direction's bit. */
#define XENNET_CSUM_DESCRIBE(d, ip_opts, tcp, udp, bit)          \
    do {                                                       \
        (d).Encapsulation = NDIS_ENCAPSULATION_IEEE_802_3;     \
        (d).ip_opts = NDIS_OFFLOAD_SUPPORTED;                  \
        (d).TcpOptionsSupported = NDIS_OFFLOAD_SUPPORTED;      \
        (d).TcpChecksum = ((tcp) & (bit)) != 0;                \
        (d).UdpChecksum = ((udp) & (bit)) != 0;                \
    } while (0)

void xennet_offload_describe(const struct xennet *xn, NDIS_OFFLOAD *o)
{
    const struct netoffload_caps *c = &xn->caps;
    memset(o, 0, sizeof(*o));
    xennet_header(&o->Header, NDIS_OBJECT_TYPE_OFFLOAD,
                  NDIS_OFFLOAD_REVISION_1, NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_1);
    XENNET_CSUM_DESCRIBE(o->Checksum.IPv4Transmit, IpOptionsSupported, c->tcp4, c->udp4,
                         NETOFFLOAD_CSUM_TX);
    XENNET_CSUM_DESCRIBE(o->Checksum.IPv4Receive, IpOptionsSupported, c->tcp4, c->udp4,
                         NETOFFLOAD_CSUM_RX);
    XENNET_CSUM_DESCRIBE(o->Checksum.IPv6Transmit, IpExtensionHeadersSupported, c->tcp6, c->udp6,
                         NETOFFLOAD_CSUM_TX);
    XENNET_CSUM_DESCRIBE(o->Checksum.IPv6Receive, IpExtensionHeadersSupported, c->tcp6, c->udp6,
                         NETOFFLOAD_CSUM_RX);
    if (c->lso4_max && c->lso_v1) {
        o->LsoV1.IPv4.Encapsulation = NDIS_ENCAPSULATION_IEEE_802_3;
        o->LsoV1.IPv4.MaxOffLoadSize = c->lso4_max;
        o->LsoV1.IPv4.MinSegmentCount = c->lso_min_segments;
        o->LsoV1.IPv4.TcpOptions = NDIS_OFFLOAD_SUPPORTED;
        o->LsoV1.IPv4.IpOptions = NDIS_OFFLOAD_SUPPORTED;
    } else if (c->lso4_max) {
        o->LsoV2.IPv4.Encapsulation = NDIS_ENCAPSULATION_IEEE_802_3;
        o->LsoV2.IPv4.MaxOffLoadSize = c->lso4_max;
        o->LsoV2.IPv4.MinSegmentCount = c->lso_min_segments;
    }
    if (c->lso6_max) {
        o->LsoV2.IPv6.Encapsulation = NDIS_ENCAPSULATION_IEEE_802_3;
        o->LsoV2.IPv6.MaxOffLoadSize = c->lso6_max;
        o->LsoV2.IPv6.MinSegmentCount = c->lso_min_segments;
        o->LsoV2.IPv6.IpExtensionHeadersSupported = NDIS_OFFLOAD_SUPPORTED;
        o->LsoV2.IPv6.TcpOptionsSupported = NDIS_OFFLOAD_SUPPORTED;
    }
}

/* OID_TCP_OFFLOAD_PARAMETERS: 0 = no change, 1 = off, 2 = transmit, 3 =
 * receive, 4 = both (checksums); 1 = off, 2 = on (LSO). */
static void xennet_offload_apply(uint8_t param, uint8_t *csum)
{
    if (param >= 1 && param <= 4)
        *csum = (uint8_t)(param - 1);
}

static NDIS_STATUS xennet_set_offload(struct xennet *xn, const NDIS_OFFLOAD_PARAMETERS *p)
{
    struct netoffload_config *c = &xn->cfg;
    xennet_offload_apply(p->TCPIPv4Checksum, &c->tcp4_csum);
    xennet_offload_apply(p->UDPIPv4Checksum, &c->udp4_csum);
    xennet_offload_apply(p->TCPIPv6Checksum, &c->tcp6_csum);
    xennet_offload_apply(p->UDPIPv6Checksum, &c->udp6_csum);
    if (p->LsoV1)
        c->lso_v1_ipv4 = p->LsoV1 == NDIS_OFFLOAD_PARAMETERS_LSOV1_ENABLED;
    if (p->LsoV2IPv4)
        c->lso_v2_ipv4 = p->LsoV2IPv4 == NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED;
    if (p->LsoV2IPv6)
        c->lso_v2_ipv6 = p->LsoV2IPv6 == NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED;
    netoffload_resolve(c, &xn->info, &xn->caps);
    NDIS_OFFLOAD now;
    xennet_offload_describe(xn, &now);
    xennet_indicate_status(xn, NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG, &now, sizeof(now));
    return NDIS_STATUS_SUCCESS;
}

static NDIS_STATUS xennet_query(struct xennet *xn, PNDIS_OID_REQUEST req)
{
    union {
        ULONG u32;
        ULONG64 u64;
        NDIS_STATISTICS_INFO stats;
        NDIS_INTERRUPT_MODERATION_PARAMETERS im;
        UCHAR mac[6];
    } v;
    const void *src = &v;
    ULONG len = sizeof(ULONG);
    static const char vendor[] = "Xen PV network (gplpv)";
    memset(&v, 0, sizeof(v));
    switch (req->DATA.QUERY_INFORMATION.Oid) {
    case OID_GEN_SUPPORTED_LIST:
        src = xennet_supported_oids;
        len = sizeof(xennet_supported_oids);
        break;
    case OID_GEN_HARDWARE_STATUS: v.u32 = NdisHardwareStatusReady; break;
    case OID_GEN_MEDIA_SUPPORTED:
    case OID_GEN_MEDIA_IN_USE: v.u32 = NdisMedium802_3; break;
    case OID_GEN_PHYSICAL_MEDIUM: v.u32 = NdisPhysicalMediumUnspecified; break;
    case OID_GEN_MAXIMUM_LOOKAHEAD:
    case OID_GEN_MAXIMUM_FRAME_SIZE: v.u32 = XENNET_MTU; break;
    case OID_GEN_CURRENT_LOOKAHEAD: v.u32 = xn->lookahead; break;
    case OID_GEN_MAXIMUM_TOTAL_SIZE:
    case OID_GEN_TRANSMIT_BLOCK_SIZE:
    case OID_GEN_RECEIVE_BLOCK_SIZE: v.u32 = XENNET_MTU + 14; break;
    case OID_GEN_LINK_SPEED: v.u32 = 100000000; break;          /* 10 Gb/s in 100 b/s */
    case OID_GEN_TRANSMIT_BUFFER_SPACE: v.u32 = XENNET_TX_DESCS * (XENNET_MTU + 14); break;
    case OID_GEN_RECEIVE_BUFFER_SPACE: v.u32 = XENNET_RX_BUFS * XENNET_RX_BUF_SIZE; break;
    case OID_GEN_VENDOR_ID: v.u32 = 0x00163e;  break;             /* Xen's OUI */
    case OID_GEN_VENDOR_DESCRIPTION:
        src = vendor;
        len = sizeof(vendor);
        break;
    case OID_GEN_VENDOR_DRIVER_VERSION: v.u32 = 0x00010000; break;
    case OID_GEN_DRIVER_VERSION: v.u32 = 0x0600; break;          /* NDIS 6.0 */
    case OID_GEN_CURRENT_PACKET_FILTER: v.u32 = xn->packet_filter; break;
    case OID_GEN_MAC_OPTIONS:
        v.u32 = NDIS_MAC_OPTION_COPY_LOOKAHEAD_DATA | NDIS_MAC_OPTION_TRANSFERS_NOT_PEND |
                NDIS_MAC_OPTION_NO_LOOPBACK | NDIS_MAC_OPTION_FULL_DUPLEX;
        break;
    case OID_GEN_MEDIA_CONNECT_STATUS: v.u32 = NdisMediaStateConnected; break;
    case OID_GEN_MAXIMUM_SEND_PACKETS: v.u32 = XENNET_TX_DESCS; break;
    case OID_GEN_XMIT_OK: v.u64 = XENNET_STAT(xn->st.tx_ok); len = 8; break;
    case OID_GEN_RCV_OK: v.u64 = XENNET_STAT(xn->st.rx_ok); len = 8; break;
    case OID_GEN_XMIT_ERROR: v.u64 = XENNET_STAT(xn->st.tx_errors); len = 8; break;
    case OID_GEN_RCV_ERROR: v.u64 = XENNET_STAT(xn->st.rx_errors); len = 8; break;
    case OID_GEN_RCV_NO_BUFFER: v.u64 = XENNET_STAT(xn->st.rx_nobuf); len = 8; break;
    case OID_GEN_STATISTICS:
        xennet_header(&v.stats.Header, NDIS_OBJECT_TYPE_DEFAULT,
                      NDIS_STATISTICS_INFO_REVISION_1, NDIS_SIZEOF_STATISTICS_INFO_REVISION_1);
        v.stats.SupportedStatistics = 0x003f87ffu & ~0x00007800u;
        v.stats.ifInDiscards = XENNET_STAT(xn->st.rx_discards) + XENNET_STAT(xn->st.rx_nobuf);
        v.stats.ifInErrors = XENNET_STAT(xn->st.rx_errors);
        v.stats.ifHCInOctets = XENNET_STAT(xn->st.rx_bytes);
        v.stats.ifHCInUcastPkts = XENNET_STAT(xn->st.rx_ucast);
        v.stats.ifHCInMulticastPkts = XENNET_STAT(xn->st.rx_mcast);
        v.stats.ifHCInBroadcastPkts = XENNET_STAT(xn->st.rx_bcast);
        v.stats.ifHCOutOctets = XENNET_STAT(xn->st.tx_bytes);
        v.stats.ifHCOutUcastPkts = XENNET_STAT(xn->st.tx_ucast);
        v.stats.ifHCOutMulticastPkts = XENNET_STAT(xn->st.tx_mcast);
        v.stats.ifHCOutBroadcastPkts = XENNET_STAT(xn->st.tx_bcast);
        v.stats.ifOutErrors = XENNET_STAT(xn->st.tx_errors);
        v.stats.ifOutDiscards = XENNET_STAT(xn->st.tx_discards);
        len = sizeof(v.stats);
        break;
    case OID_GEN_INTERRUPT_MODERATION:
        xennet_header(&v.im.Header, NDIS_OBJECT_TYPE_DEFAULT,
                      NDIS_INTERRUPT_MODERATION_PARAMETERS_REVISION_1,
                      NDIS_SIZEOF_INTERRUPT_MODERATION_PARAMETERS_REVISION_1);
        v.im.InterruptModeration = NdisInterruptModerationNotSupported;
        len = sizeof(v.im);
        break;
    case OID_802_3_PERMANENT_ADDRESS: memcpy(v.mac, xn->perm_mac, 6); len = 6; break;
    case OID_802_3_CURRENT_ADDRESS: memcpy(v.mac, xn->mac, 6); len = 6; break;
    case OID_802_3_MULTICAST_LIST:
        src = xn->mcast;
        len = xn->mcast_count * 6;
        break;
    case OID_802_3_MAXIMUM_LIST_SIZE: v.u32 = XENNET_MCAST_MAX; break;
    case OID_PNP_QUERY_POWER: len = 0; break;
    default:
        return NDIS_STATUS_NOT_SUPPORTED;
    }
    if (req->DATA.QUERY_INFORMATION.InformationBufferLength < len) {
        req->DATA.QUERY_INFORMATION.BytesNeeded = len;
        return NDIS_STATUS_BUFFER_TOO_SHORT;
    }
    if (len)
        memcpy(req->DATA.QUERY_INFORMATION.InformationBuffer, src, len);
    req->DATA.QUERY_INFORMATION.BytesWritten = len;
    return NDIS_STATUS_SUCCESS;
}

static NDIS_STATUS xennet_set(struct xennet *xn, PNDIS_OID_REQUEST req)
{
    const void *buf = req->DATA.SET_INFORMATION.InformationBuffer;
    ULONG len = req->DATA.SET_INFORMATION.InformationBufferLength;
    ULONG need = 0;
    NDIS_STATUS st = NDIS_STATUS_SUCCESS;
    switch (req->DATA.SET_INFORMATION.Oid) {
    case OID_GEN_CURRENT_PACKET_FILTER:
        need = sizeof(ULONG);
        if (len >= need)
            xn->packet_filter = *(const ULONG *)buf;
        break;
    case OID_GEN_CURRENT_LOOKAHEAD:
        need = sizeof(ULONG);
        if (len >= need)
            xn->lookahead = *(const ULONG *)buf <= XENNET_MTU ? *(const ULONG *)buf : XENNET_MTU;
        break;
    case OID_802_3_MULTICAST_LIST:
        if (len % 6)
            return NDIS_STATUS_INVALID_LENGTH;
        if (len / 6 > XENNET_MCAST_MAX)
            return NDIS_STATUS_MULTICAST_FULL;
        memcpy(xn->mcast, buf, len);
        xn->mcast_count = len / 6;
        break;
    case OID_TCP_OFFLOAD_PARAMETERS:
        need = NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_1;
        if (len >= need)
            st = xennet_set_offload(xn, buf);
        break;
    case OID_OFFLOAD_ENCAPSULATION: {
        need = sizeof(NDIS_OFFLOAD_ENCAPSULATION);
        const NDIS_OFFLOAD_ENCAPSULATION *e = buf;
        if (len >= need && ((e->IPv4.Enabled == NDIS_OFFLOAD_SET_ON &&
                             e->IPv4.EncapsulationType != NDIS_ENCAPSULATION_IEEE_802_3) ||
                            (e->IPv6.Enabled == NDIS_OFFLOAD_SET_ON &&
                             e->IPv6.EncapsulationType != NDIS_ENCAPSULATION_IEEE_802_3)))
            st = NDIS_STATUS_INVALID_PARAMETER;
        break;
    }
    case OID_PNP_SET_POWER:
    case OID_GEN_INTERRUPT_MODERATION:
    case OID_GEN_NETWORK_LAYER_ADDRESSES:
    case OID_GEN_TRANSPORT_HEADER_OFFSET:
        break;
    default:
        return NDIS_STATUS_NOT_SUPPORTED;
    }
    if (len < need) {
        req->DATA.SET_INFORMATION.BytesNeeded = need;
        return NDIS_STATUS_INVALID_LENGTH;
    }
    req->DATA.SET_INFORMATION.BytesRead = len;
    return st;
}

NDIS_STATUS NTAPI xennet_oid_request(NDIS_HANDLE ctx, PNDIS_OID_REQUEST req)
{
    struct xennet *xn = ctx;
    switch (req->RequestType) {
    case NdisRequestQueryInformation:
    case NdisRequestQueryStatistics:
        return xennet_query(xn, req);
    case NdisRequestSetInformation:
        return xennet_set(xn, req);
    default:
        return NDIS_STATUS_NOT_SUPPORTED;
    }
}

/* Every request completes synchronously: nothing to cancel. */
VOID NTAPI xennet_cancel_oid(NDIS_HANDLE ctx, PVOID request_id)
{
    (void)ctx;
    (void)request_id;
}
