/* xennet's adapter lifecycle: initialize (xenpci's interface, advanced
 * properties, netfront connected, NDIS attributes), pause/restart with
 * every send and receive accounted for, halt, shutdown, surprise removal,
 * and save/restore through xenpci's suspend hooks. */
#include "xennet.h"

#include <string.h>

#include "../platform/win_platform.h"
#include "gplpv/log.h"
#include "gplpv/suspend.h"
#include "gplpv/unplug.h"

static ULONG xennet_read_int(NDIS_HANDLE cfg, PCWSTR name, ULONG def, ULONG max)
{
    UNICODE_STRING key;
    PNDIS_CONFIGURATION_PARAMETER p = NULL;
    NDIS_STATUS st;
    RtlInitUnicodeString(&key, name);
    NdisReadConfiguration(&st, &p, cfg, &key, NdisParameterInteger_6);
    if (st != NDIS_STATUS_SUCCESS || !p || p->ParameterType != NdisParameterInteger_6)
        return def;
    return p->ParameterData.IntegerData <= max ? p->ParameterData.IntegerData : def;
}

/* The standardized advanced properties (keywords of xennet.inf). */
static void xennet_read_config(struct xennet *xn)
{
    NDIS_CONFIGURATION_OBJECT co = {
        .Header = { .Type = NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT, .Revision = 1, .Size = sizeof(co) },
        .NdisHandle = xn->handle,
        .Flags = 0,
    };
    NDIS_HANDLE cfg = NULL;
    struct netoffload_config *c = &xn->cfg;
    /* the defaults, as xennet.inf gives them: checksums both ways, LSO v2 */
    *c = (struct netoffload_config){ .tcp4_csum = 3, .udp4_csum = 3, .tcp6_csum = 3, .udp6_csum = 3,
                                     .lso_v1_ipv4 = false, .lso_v2_ipv4 = true, .lso_v2_ipv6 = true };
    if (NdisOpenConfigurationEx(&co, &cfg) != NDIS_STATUS_SUCCESS)
        return;
    c->tcp4_csum = (uint8_t)xennet_read_int(cfg, L"*TCPChecksumOffloadIPv4", 3, 3);
    c->udp4_csum = (uint8_t)xennet_read_int(cfg, L"*UDPChecksumOffloadIPv4", 3, 3);
    c->tcp6_csum = (uint8_t)xennet_read_int(cfg, L"*TCPChecksumOffloadIPv6", 3, 3);
    c->udp6_csum = (uint8_t)xennet_read_int(cfg, L"*UDPChecksumOffloadIPv6", 3, 3);
    c->lso_v1_ipv4 = xennet_read_int(cfg, L"*LsoV1IPv4", 0, 1) != 0;
    c->lso_v2_ipv4 = xennet_read_int(cfg, L"*LsoV2IPv4", 1, 1) != 0;
    c->lso_v2_ipv6 = xennet_read_int(cfg, L"*LsoV2IPv6", 1, 1) != 0;
    NdisCloseConfiguration(cfg);
}

void xennet_indicate_status(struct xennet *xn, NDIS_STATUS code, void *buf, ULONG size)
{
    NDIS_STATUS_INDICATION si;
    memset(&si, 0, sizeof(si));
    xennet_header(&si.Header, NDIS_OBJECT_TYPE_STATUS_INDICATION,
                  NDIS_STATUS_INDICATION_REVISION_1, sizeof(si));
    si.SourceHandle = xn->handle;
    si.StatusCode = code;
    si.StatusBuffer = buf;
    si.StatusBufferSize = size;
    NdisMIndicateStatusEx(xn->handle, &si);
}

void xennet_indicate_link(struct xennet *xn, BOOLEAN up)
{
    NDIS_LINK_STATE ls;
    memset(&ls, 0, sizeof(ls));
    xennet_header(&ls.Header, NDIS_OBJECT_TYPE_DEFAULT,
                  NDIS_LINK_STATE_REVISION_1, NDIS_SIZEOF_LINK_STATE_REVISION_1);
    ls.MediaConnectState = up ? MediaConnectStateConnected : MediaConnectStateDisconnected;
    ls.MediaDuplexState = MediaDuplexStateFull;
    ls.XmitLinkSpeed = ls.RcvLinkSpeed = up ? 10000000000ull : NDIS_LINK_SPEED_UNKNOWN;
    ls.PauseFunctions = NdisPauseFunctionsUnsupported;
    xennet_indicate_status(xn, NDIS_STATUS_LINK_STATE, &ls, sizeof(ls));
}

static void xennet_suspend(void *arg)
{
    struct xennet *xn = arg;
    if (xn->nf)
        netfront_suspend(xn->nf);
}

static int xennet_resume(void *arg, bool cancelled)
{
    struct xennet *xn = arg;
    if (!xn->nf)
        return 0;                           /* given up by a pause: Restart connects */
    if (cancelled) {
        netfront_resume_in_place(xn->nf);
        return 0;
    }
    return netfront_resume_restored(xn->nf, GP_S(30));
}

static NDIS_STATUS xennet_set_attributes(struct xennet *xn)
{
    NDIS_MINIPORT_ADAPTER_ATTRIBUTES a;
    memset(&a, 0, sizeof(a));
    NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES *r = &a.RegistrationAttributes;
    xennet_header(&r->Header, NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES,
                  NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1,
                  NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1);
    r->MiniportAdapterContext = xn;
    r->AttributeFlags = NDIS_MINIPORT_ATTRIBUTES_HARDWARE_DEVICE | NDIS_MINIPORT_ATTRIBUTES_SURPRISE_REMOVE_OK;
    r->InterfaceType = NdisInterfaceInternal;
    NDIS_STATUS st = NdisMSetMiniportAttributes(xn->handle, &a);
    if (st != NDIS_STATUS_SUCCESS)
        return st;

    memset(&a, 0, sizeof(a));
    NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES *g = &a.GeneralAttributes;
    xennet_header(&g->Header, NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
                  NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_1,
                  NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_1);
    g->MediaType = NdisMedium802_3;
    g->PhysicalMediumType = NdisPhysicalMediumUnspecified;
    g->MtuSize = XENNET_MTU;
    g->MaxXmitLinkSpeed = g->XmitLinkSpeed = g->MaxRcvLinkSpeed = g->RcvLinkSpeed = 10000000000ull;
    g->MediaConnectState = MediaConnectStateConnected;
    g->MediaDuplexState = MediaDuplexStateFull;
    g->LookaheadSize = XENNET_MTU;
    g->MacOptions = NDIS_MAC_OPTION_COPY_LOOKAHEAD_DATA | NDIS_MAC_OPTION_TRANSFERS_NOT_PEND |
                    NDIS_MAC_OPTION_NO_LOOPBACK | NDIS_MAC_OPTION_FULL_DUPLEX;
    g->SupportedPacketFilters = NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_MULTICAST |
                                NDIS_PACKET_TYPE_ALL_MULTICAST | NDIS_PACKET_TYPE_BROADCAST |
                                NDIS_PACKET_TYPE_PROMISCUOUS;
    g->MaxMulticastListSize = XENNET_MCAST_MAX;
    g->MacAddressLength = 6;
    memcpy(g->PermanentMacAddress, xn->perm_mac, 6);
    memcpy(g->CurrentMacAddress, xn->mac, 6);
    g->AccessType = NET_IF_ACCESS_BROADCAST;
    g->DirectionType = NET_IF_DIRECTION_SENDRECEIVE;
    g->ConnectionType = NET_IF_CONNECTION_DEDICATED;
    g->IfType = IF_TYPE_ETHERNET_CSMACD;
    g->IfConnectorPresent = TRUE;
    g->SupportedStatistics = NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_RCV |
        NDIS_STATISTICS_FLAGS_VALID_MULTICAST_FRAMES_RCV | NDIS_STATISTICS_FLAGS_VALID_BROADCAST_FRAMES_RCV |
        NDIS_STATISTICS_FLAGS_VALID_BYTES_RCV | NDIS_STATISTICS_FLAGS_VALID_RCV_DISCARDS |
        NDIS_STATISTICS_FLAGS_VALID_RCV_ERROR | NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_XMIT |
        NDIS_STATISTICS_FLAGS_VALID_MULTICAST_FRAMES_XMIT | NDIS_STATISTICS_FLAGS_VALID_BROADCAST_FRAMES_XMIT |
        NDIS_STATISTICS_FLAGS_VALID_BYTES_XMIT | NDIS_STATISTICS_FLAGS_VALID_XMIT_ERROR |
        NDIS_STATISTICS_FLAGS_VALID_XMIT_DISCARDS;
    g->SupportedPauseFunctions = NdisPauseFunctionsUnsupported;
    g->SupportedOidList = (NDIS_OID *)xennet_supported_oids;
    g->SupportedOidListLength = xennet_supported_oid_count * sizeof(NDIS_OID);
    st = NdisMSetMiniportAttributes(xn->handle, &a);
    if (st != NDIS_STATUS_SUCCESS)
        return st;

    NDIS_OFFLOAD now, hw;
    xennet_offload_describe(xn, &now);
    hw = now;
    memset(&a, 0, sizeof(a));
    NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES *o = &a.OffloadAttributes;
    xennet_header(&o->Header, NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES,
                  NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES_REVISION_1, sizeof(*o));
    o->DefaultOffloadConfiguration = &now;
    o->HardwareOffloadCapabilities = &hw;
    return NdisMSetMiniportAttributes(xn->handle, &a);
}

static void xennet_free(struct xennet *xn)
{
    if (xn->suspend_registered)
        xn->xi.unregister_suspend(xn->xi.header.Context, xn);
    if (xn->nf)
        netfront_destroy(xn->nf);           /* every frame in flight completes */
    xennet_tx_fini(xn);
    xennet_rx_fini(xn);
    if (xn->have_xi)
        xn->xi.header.InterfaceDereference(xn->xi.header.Context);
    ExFreePoolWithTag(xn, GPLPV_POOL_TAG);
}

NDIS_STATUS NTAPI xennet_initialize(NDIS_HANDLE handle, NDIS_HANDLE driver_ctx,
                                    PNDIS_MINIPORT_INIT_PARAMETERS params)
{
    (void)driver_ctx;
    (void)params;
    struct xennet *xn = ExAllocatePoolWithTag(win_nonpaged_pool, sizeof(*xn), GPLPV_POOL_TAG);
    if (!xn)
        return NDIS_STATUS_RESOURCES;
    memset(xn, 0, sizeof(*xn));
    xn->handle = handle;
    xn->state = XENNET_PAUSED;
    KeInitializeSpinLock(&xn->tx_lock);
    KeInitializeSpinLock(&xn->rx_lock);
    PDEVICE_OBJECT pdo = NULL, fdo = NULL, next = NULL;
    NdisMGetDeviceProperty(handle, &pdo, &fdo, &next, NULL, NULL);
    if (!next || !NT_SUCCESS(win_xenpci_query(next, &xn->xi, "xennet"))) {
        ExFreePoolWithTag(xn, GPLPV_POOL_TAG);
        return NDIS_STATUS_FAILURE;
    }
    xn->have_xi = TRUE;
    xn->plat = xn->xi.plat;
    if (!(xn->xi.unplugged & UNPLUG_NICS)) {
        GP_WARN(xn->plat, "xennet %s: the emulated NIC was not unplugged at boot (first boot after "
                "installing, or NOGPLPV): the PV NIC stays off until the next boot", xn->xi.path);
        xennet_free(xn);
        return NDIS_STATUS_FAILURE;
    }
    xennet_read_config(xn);
    struct netfront_opts o = { .no_gso = true, .rx = xennet_rx_frame, .arg = xn };
    int err = netfront_create(xn->plat, xn->xi.xs, xn->xi.path, &o, &xn->nf);
    if (!err)
        err = netfront_connect(xn->nf, GP_S(30));
    if (err) {
        GP_ERR(xn->plat, "xennet %s: connecting to the backend failed: %s", xn->xi.path, gp_strerror(err));
        xennet_free(xn);
        return NDIS_STATUS_FAILURE;
    }
    netfront_get_info(xn->nf, &xn->info);
    memcpy(xn->mac, xn->info.mac, 6);
    memcpy(xn->perm_mac, xn->info.mac, 6);
    xn->lookahead = XENNET_MTU;
    netoffload_resolve(&xn->cfg, &xn->info, &xn->caps);
    NDIS_STATUS st = xennet_tx_init(xn);
    if (st == NDIS_STATUS_SUCCESS)
        st = xennet_rx_init(xn);
    if (st == NDIS_STATUS_SUCCESS)
        st = xennet_set_attributes(xn);
    if (st != NDIS_STATUS_SUCCESS) {
        xennet_free(xn);
        return st;
    }
    struct suspend_dev sd = { .suspend = xennet_suspend, .resume = xennet_resume, .arg = xn };
    xn->suspend_registered = xn->xi.register_suspend(xn->xi.header.Context, &sd) == 0;
    GP_INFO(xn->plat, "xennet %s: %02x:%02x:%02x:%02x:%02x:%02x, %u queue(s), LSO %u/%u, csum tx/rx %u",
            xn->xi.path, xn->mac[0], xn->mac[1], xn->mac[2], xn->mac[3], xn->mac[4], xn->mac[5],
            xn->info.queues, xn->caps.lso4_max, xn->caps.lso6_max, xn->caps.tcp4);
    return NDIS_STATUS_SUCCESS;
}

VOID NTAPI xennet_halt(NDIS_HANDLE ctx, ULONG action)
{
    struct xennet *xn = ctx;
    (void)action;
    InterlockedExchange(&xn->state, XENNET_HALTED);
    xennet_free(xn);
}

/* Wait (PASSIVE_LEVEL) until *count is 0, up to ms milliseconds. */
static BOOLEAN xennet_wait_zero(volatile LONG *count, unsigned ms)
{
    LARGE_INTEGER one;
    one.QuadPart = -10000;
    for (unsigned i = 0; *count; i++) {
        if (i == ms)
            return FALSE;
        KeDelayExecutionThread(KernelMode, FALSE, &one);
    }
    return TRUE;
}

/* A backend that does not answer for this long while we pause loses the
 * connection: Windows pauses adapters on the way to sleep and bug-checks
 * (0x9F) when that stalls; Restart connects again. */
#define XENNET_PAUSE_WAIT_MS 2000

/* Wait until NDIS holds nothing of ours: no send pending with netfront,
 * no receive NBL up the stack.  Sends the backend keeps past the bound
 * complete (NDIS_STATUS_SEND_ABORTED) by giving the connection up:
 * netfront_destroy completes every frame it holds, on the ring or
 * waiting, exactly once. */
static void xennet_drain(struct xennet *xn)
{
    if (xennet_wait_zero(&xn->sends, XENNET_PAUSE_WAIT_MS)) {
        xennet_wait_zero(&xn->indicated, ~0u);
        return;
    }
    /* calls into MiniportSendNetBufferLists end quickly (they never wait):
     * none may use netfront while it goes */
    xennet_wait_zero(&xn->tx_busy, ~0u);
    GP_WARN(xn->plat, "xennet %s: the backend kept %ld sends for %u ms while pausing: "
            "disconnecting (they complete as aborted); restart connects again", xn->xi.path,
            xn->sends, XENNET_PAUSE_WAIT_MS);
    struct netfront *nf = xn->nf;
    xn->nf = NULL;
    if (nf)
        netfront_destroy(nf);
    xennet_wait_zero(&xn->sends, ~0u);
    xennet_wait_zero(&xn->indicated, ~0u);
}

NDIS_STATUS NTAPI xennet_pause(NDIS_HANDLE ctx, PNDIS_MINIPORT_PAUSE_PARAMETERS params)
{
    struct xennet *xn = ctx;
    (void)params;
    InterlockedExchange(&xn->state, XENNET_PAUSING);
    xennet_drain(xn);
    InterlockedExchange(&xn->state, XENNET_PAUSED);
    return NDIS_STATUS_SUCCESS;
}

/* After a pause gave the connection up: a fresh netfront on the same node. */
static NDIS_STATUS xennet_reconnect(struct xennet *xn)
{
    struct netfront_opts o = { .no_gso = true, .rx = xennet_rx_frame, .arg = xn };
    struct netfront *nf = NULL;
    int err = netfront_create(xn->plat, xn->xi.xs, xn->xi.path, &o, &nf);
    if (!err)
        err = netfront_connect(nf, GP_S(30));
    if (err) {
        GP_ERR(xn->plat, "xennet %s: connecting again failed: %s", xn->xi.path, gp_strerror(err));
        if (nf)
            netfront_destroy(nf);
        return NDIS_STATUS_FAILURE;
    }
    netfront_get_info(nf, &xn->info);
    netoffload_resolve(&xn->cfg, &xn->info, &xn->caps);
    xn->nf = nf;
    return NDIS_STATUS_SUCCESS;
}

NDIS_STATUS NTAPI xennet_restart(NDIS_HANDLE ctx, PNDIS_MINIPORT_RESTART_PARAMETERS params)
{
    struct xennet *xn = ctx;
    (void)params;
    if (!xn->removed && !xn->nf && xennet_reconnect(xn) != NDIS_STATUS_SUCCESS)
        return NDIS_STATUS_FAILURE;
    if (xn->removed || netfront_is_broken(xn->nf))
        return NDIS_STATUS_FAILURE;
    InterlockedExchange(&xn->state, XENNET_RUNNING);
    xennet_indicate_link(xn, TRUE);
    return NDIS_STATUS_SUCCESS;
}

/* May run at any IRQL up to HIGH_LEVEL (bug check): never waits. */
VOID NTAPI xennet_shutdown(NDIS_HANDLE ctx, ULONG action)
{
    struct xennet *xn = ctx;
    (void)action;
    InterlockedExchange(&xn->state, XENNET_HALTED);
}

VOID NTAPI xennet_pnp_event(NDIS_HANDLE ctx, PNET_DEVICE_PNP_EVENT ev)
{
    struct xennet *xn = ctx;
    if (ev && ev->DevicePnPEvent == NdisDevicePnPEventSurpriseRemoved) {
        InterlockedExchange(&xn->removed, 1);
        GP_WARN(xn->plat, "xennet %s: surprise removal", xn->xi.path);
    }
}
