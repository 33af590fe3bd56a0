/* The xennet scenarios of the winhost stage: the signed x64 xennet.sys
 * loaded beside xenpci, bound by the host's NDIS (wh_ndis*.c) to
 * xenpci's XEN\VIF child, run against the simulated netback (which loops
 * every transmitted frame back to the same frontend). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wh_ndis.h"
#include "wh_scn.h"
#include "netback/sim_netback.h"
#include "sim.h"



#define OID_GEN_CURRENT_PACKET_FILTER 0x0001010e
#define OID_802_3_PERMANENT_ADDRESS 0x01010101
#define OID_802_3_CURRENT_ADDRESS 0x01010102
#define OID_GEN_STATISTICS 0x00020106
#define OID_TCP_OFFLOAD_PARAMETERS 0xfc01020c
#define NDIS_STATUS_ADAPTER_REMOVED ((int32_t)0xC0010018)

static const uint8_t our_mac[6] = { 0x00, 0x16, 0x3e, 0x00, 0x01, 0x00 };   /* domain 1, vif 0 */
static const uint8_t peer_mac[6] = { 0x00, 0x16, 0x3e, 0xaa, 0xbb, 0xcc };

static struct wh_bus bus;
static struct wh_image net_img;
static struct wh_driver_object *net_drv;

/* xennet loaded, added to the NIC's PDO (vif) and started. */
static bool net_attach(struct wh_child *vif)
{
    if (!vif)
        return false;
    net_drv = wh_load_service(&net_img, wh_sibling("xennet.sys"), wh_lab.allowed_path, "xennet");
    CHECK(net_drv, "xennet.sys loads and its DriverEntry (NdisMRegisterMiniportDriver) succeeds");
    if (!net_drv)
        return false;
    wh_ndis_image = &net_img;
    NTSTATUS_ st = ((wh_add_device_fn)net_drv->DriverExtension->AddDevice)(net_drv, vif->pdo);
    CHECK(st == WH_STATUS_SUCCESS, "AddDevice on the NIC's PDO: 0x%08x", (unsigned)st);
    st = wh_pnp_minor(vif->pdo, WH_IRP_MN_START_DEVICE, NULL);
    CHECK(st == WH_STATUS_SUCCESS, "START (MiniportInitializeEx connects netfront, then "
          "MiniportRestart): 0x%08x", (unsigned)st);
    CHECK(wh_ndis_ad.state == WH_NDIS_RUNNING, "the adapter is Running (state %d)", wh_ndis_ad.state);
    return st == WH_STATUS_SUCCESS && wh_ndis_ad.state == WH_NDIS_RUNNING;
}

/* xenpci booted, xennet loaded, added to the NIC's PDO and started. */
static bool net_up(void)
{
    return net_attach(wh_boot_child(&bus, "XEN\\VIF", "the NIC"));
}

/* The NIC's stack and the bus removed (REMOVE halts the adapter), xennet
 * and xenpci unloaded: nothing left. */
static void net_down(void)
{
    wh_pnp_remove_all(&bus);
    if (net_drv) {
        if (net_drv->DriverUnload)
            ((wh_unload_fn)net_drv->DriverUnload)(net_drv);
        if (wh_ndis_objects_left(true))
            wh_violation("xennet unload", "NDIS objects left");
        wh_ndis_image = NULL;
        wh_pe_unload(&net_img);
    }
    wh_pnp_unload(&bus);
}

static void set_filter(uint32_t f)
{
    uint32_t done = 0;
    int32_t st = wh_ndis_oid(true, OID_GEN_CURRENT_PACKET_FILTER, &f, 4, &done);
    CHECK(st == 0, "set OID_GEN_CURRENT_PACKET_FILTER: 0x%08x", (unsigned)st);
}

/* net_up, then the packet filter set to DIRECTED | BROADCAST: the adapter,
 * or NULL. */
static struct wh_ndis_adapter *net_up_receiving(void)
{
    if (!net_up())
        return NULL;
    set_filter(0x9);
    return &wh_ndis_ad;
}

/* ---- frames ---------------------------------------------------------------------- */
static uint16_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)(p[n - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* An Ethernet + IPv4 + TCP (proto 6) or UDP (17) frame with a payload of
 * n bytes (pattern from seed); IP header checksum filled in, the L4
 * checksum left 0 (the offload fills it). */
static uint32_t mk_frame(uint8_t *f, const uint8_t *dst, uint8_t proto, uint32_t n, uint8_t seed)
{
    uint32_t l4 = proto == 6 ? 20 : 8, tot = 20 + l4 + n;
    memset(f, 0, 14 + tot);
    memcpy(f, dst, 6);
    memcpy(f + 6, peer_mac, 6);
    f[12] = 0x08;
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    ip[2] = (uint8_t)(tot >> 8);
    ip[3] = (uint8_t)tot;
    ip[8] = 64;
    ip[9] = proto;
    memcpy(ip + 12, (uint8_t[]){ 10, 0, 0, 2 }, 4);
    memcpy(ip + 16, (uint8_t[]){ 10, 0, 0, 1 }, 4);
    uint16_t c = (uint16_t)~csum_add(0, ip, 20);
    ip[10] = (uint8_t)(c >> 8);
    ip[11] = (uint8_t)c;
    uint8_t *t = ip + 20;
    t[0] = 0x30;                                  /* ports 12345 -> 80 */
    t[1] = 0x39;
    t[3] = 80;
    if (proto == 6) {
        t[12] = 0x50;                             /* header 20 bytes */
        t[13] = 0x18;                             /* PSH ACK */
        t[15] = 0xff;
    } else {
        t[4] = (uint8_t)((8 + n) >> 8);
        t[5] = (uint8_t)(8 + n);
    }
    for (uint32_t i = 0; i < n; i++)
        t[l4 + i] = (uint8_t)(seed + i * 13);
    return 14 + tot;
}

/* The TCP/UDP checksum of an IPv4 frame verifies. */
static bool l4_csum_ok(const uint8_t *f, uint32_t len)
{
    const uint8_t *ip = f + 14;
    uint32_t tot = (uint32_t)(ip[2] << 8 | ip[3]);
    if (len < 14 + tot || tot < 28)
        return false;
    uint8_t ph[12];
    memcpy(ph, ip + 12, 8);
    ph[8] = 0;
    ph[9] = ip[9];
    ph[10] = (uint8_t)((tot - 20) >> 8);
    ph[11] = (uint8_t)(tot - 20);
    uint32_t s = csum_add(0, ph, 12);
    return csum_add(s, ip + 20, tot - 20) == 0xffff;
}

/* The received frame equal to f apart from the L4 checksum (the offload's). */
static struct wh_ndis_frame *received(const uint8_t *f, uint32_t len, uint8_t proto)
{
    unsigned ck = 14 + 20 + (proto == 6 ? 16 : 6);
    for (unsigned i = 0; i < wh_ndis_ad.nframes && i < WH_NDIS_MAX_FRAMES; i++) {
        struct wh_ndis_frame *r = &wh_ndis_ad.frames[i];
        if (r->len == len && !memcmp(r->data, f, ck) && !memcmp(r->data + ck + 2, f + ck + 2, len - ck - 2))
            return r;
    }
    return NULL;
}

static struct wh_nbl *one(const uint8_t *f, uint32_t len, uint32_t mdl_max)
{
    return wh_ndis_nbl(&f, &len, 1, mdl_max);
}

/* 'count' UDP frames of 200 bytes (seeds seed0...) in one chain of NBLs
 * (n), sent while netback holds its tx answers. */
static void send_held(uint8_t (*f)[300], struct wh_nbl **n, int count, uint8_t seed0)
{
    for (int i = 0; i < count; i++) {
        uint32_t l = mk_frame(f[i], our_mac, 17, 200, (uint8_t)(seed0 + i));
        n[i] = one(f[i], l, 4096);
        if (i)
            n[i - 1]->Next = n[i];
    }
    sim_netback_hold_tx(wh_lab.nic, true);
    wh_ndis_send(n[0]);
}

/* ---- for the scenarios of the other files: xennet beside them on one bus -------------- */
/* xennet loaded, added to b's NIC PDO and started, the packet filter set. */
bool wh_net_start(struct wh_bus *b)
{
    struct wh_child *vif = wh_child(b, "XEN\\VIF");
    CHECK(vif, "the NIC is reported");
    if (!net_attach(vif))
        return false;
    set_filter(0x9);
    return true;
}

/* One UDP frame sent and netback's loop-back of it indicated, intact. */
bool wh_net_echo(uint8_t seed)
{
    static uint8_t f[256];
    uint32_t len = mk_frame(f, our_mac, 17, 100, seed);
    unsigned before = wh_ndis_ad.nframes;
    struct wh_nbl *n = one(f, len, 4096);
    wh_ndis_send(n);
    bool sent = wh_ndis_wait_sends(30000) && wh_ndis_nbl_completed(n) && n->Status == 0;
    bool back = sent && wh_ndis_wait_frames(before + 1, 30000) && received(f, len, 17);
    wh_ndis_nbl_free(n);
    return back;
}

bool wh_ndis_ad_running(void)
{
    return wh_ndis_ad.state == WH_NDIS_RUNNING;
}

/* After the bus was removed: xennet unloaded, nothing of it left. */
void wh_net_unload(void)
{
    if (!net_drv)
        return;
    if (net_drv->DriverUnload)
        ((wh_unload_fn)net_drv->DriverUnload)(net_drv);
    if (wh_ndis_objects_left(true))
        wh_violation("xennet unload", "NDIS objects left");
    wh_ndis_image = NULL;
    wh_pe_unload(&net_img);
    net_drv = NULL;
}

/* ---- xennet initializes over netback and reports its MAC ---------------------------- */
void scenario_xennet_init(void)
{
    if (!net_up())
        return;
    struct wh_ndis_adapter *ad = &wh_ndis_ad;
    CHECK(!memcmp(ad->perm_mac, our_mac, 6) && !memcmp(ad->cur_mac, our_mac, 6),
          "the general attributes carry the MAC xenstore gives (00:16:3e:00:01:00)");
    CHECK(ad->mtu == 1500 && ad->oid_list_len >= 4, "MTU %u, %u bytes of supported OIDs", ad->mtu,
          ad->oid_list_len);
    CHECK(ad->offload_set, "offload attributes set");
    uint8_t mac[6] = { 0 };
    uint32_t done = 0;
    int32_t st = wh_ndis_oid(false, OID_802_3_CURRENT_ADDRESS, mac, 6, &done);
    CHECK(st == 0 && done == 6 && !memcmp(mac, our_mac, 6), "OID_802_3_CURRENT_ADDRESS: 0x%08x",
          (unsigned)st);
    st = wh_ndis_oid(false, OID_802_3_PERMANENT_ADDRESS, mac, 6, &done);
    CHECK(st == 0 && !memcmp(mac, our_mac, 6), "OID_802_3_PERMANENT_ADDRESS: 0x%08x", (unsigned)st);
    st = wh_ndis_oid(false, OID_802_3_CURRENT_ADDRESS, mac, 4, &done);
    CHECK(st == (int32_t)0xC0010016, "a 4-byte buffer is NDIS_STATUS_BUFFER_TOO_SHORT: 0x%08x",
          (unsigned)st);
    set_filter(0x9);                              /* DIRECTED | BROADCAST */
    uint32_t f = 0;
    st = wh_ndis_oid(false, OID_GEN_CURRENT_PACKET_FILTER, &f, 4, &done);
    CHECK(st == 0 && f == 0x9, "the packet filter reads back 0x%x", f);
    CHECK(ad->link_up_indications >= 1, "MiniportRestart indicated the link up");
    /* NDIS_OFFLOAD_PARAMETERS revision 1: LSO v2 for IPv4 off (1) */
    uint8_t op[20] = { 0x80, 1, 20 };
    op[11] = 1;
    unsigned ind = ad->offload_config_indications;
    st = wh_ndis_oid(true, OID_TCP_OFFLOAD_PARAMETERS, op, sizeof(op), &done);
    CHECK(st == 0 && ad->offload_config_indications == ind + 1, "OID_TCP_OFFLOAD_PARAMETERS set "
          "(0x%08x) and the new configuration indicated", (unsigned)st);
    net_down();
}

/* ---- sends with offloads reach netback; netback's frames are indicated -------------- */
void scenario_xennet_data(void)
{
    struct wh_ndis_adapter *ad = net_up_receiving();
    if (!ad)
        return;
    static uint8_t a[128], b[3][1200], c[600], d[3200];
    uint32_t la = mk_frame(a, our_mac, 17, 60, 1);
    const uint8_t *bp[3];
    uint32_t lb[3];
    for (int i = 0; i < 3; i++) {
        lb[i] = mk_frame(b[i], our_mac, 6, 900 + 100 * (uint32_t)i, (uint8_t)(20 + i));
        bp[i] = b[i];
    }
    uint32_t lc = mk_frame(c, our_mac, 17, 500, 40);
    uint32_t ld = mk_frame(d, our_mac, 6, 3000, 60);
    struct wh_nbl *na = one(a, la, 4096);
    struct wh_nbl *nb = wh_ndis_nbl(bp, lb, 3, 100);   /* 3 NET_BUFFERs over 100-byte MDLs */
    struct wh_nbl *nc = one(c, lc, 256);
    nc->NetBufferListInfo[WH_NBL_CSUM] = (void *)(uintptr_t)(1 | 8);   /* IsIPv4 | UdpChecksum */
    struct wh_nbl *nd = one(d, ld, 1000);
    nd->NetBufferListInfo[WH_NBL_LSO] = (void *)(uintptr_t)(1000 | (34u << 20) | WH_LSO_V2_TYPE);
    na->Next = nb;
    nb->Next = nc;
    nc->Next = nd;
    struct sim_netback_stats s0, s1;
    sim_netback_get_stats(wh_lab.nic, &s0);
    wh_ndis_send(na);
    CHECK(wh_ndis_wait_sends(30000), "every NBL completed (%u outstanding)", ad->sends_outstanding);
    struct wh_nbl *all[4] = { na, nb, nc, nd };
    for (int i = 0; i < 4; i++)
        CHECK(wh_ndis_nbl_completed(all[i]) && all[i]->Status == 0, "NBL %d completed with 0x%08x", i,
              (unsigned)all[i]->Status);
    /* 1 + 3 + 1 frames, and the LSO frame as 3 segments of 1000 bytes */
    CHECK(wh_ndis_wait_frames(8, 30000), "8 frames came back (%u)", ad->nframes);
    sim_netback_get_stats(wh_lab.nic, &s1);
    CHECK(s1.tx_frames - s0.tx_frames == 6, "netback took 6 frames (%llu)",
          (unsigned long long)(s1.tx_frames - s0.tx_frames));
    CHECK(s1.tx_gso - s0.tx_gso == 1, "the LSO v2 frame reached netback as one GSO frame");
    CHECK(s1.tx_csum_blank - s0.tx_csum_blank >= 1, "the checksum-offloaded frames reached netback "
          "with a blank checksum (%llu)", (unsigned long long)(s1.tx_csum_blank - s0.tx_csum_blank));
    CHECK(received(a, la, 17), "the plain frame came back intact");
    for (int i = 0; i < 3; i++)
        CHECK(received(b[i], lb[i], 6), "NET_BUFFER %d of the multi-buffer NBL came back intact", i);
    struct wh_ndis_frame *rc = received(c, lc, 17);
    CHECK(rc && l4_csum_ok(rc->data, rc->len), "the UDP frame came back with its checksum filled in");
    unsigned segs = 0;
    uint8_t payload[3000];
    for (unsigned i = 0; i < ad->nframes && i < WH_NDIS_MAX_FRAMES; i++) {
        struct wh_ndis_frame *r = &ad->frames[i];
        if (r->len != 14 + 40 + 1000 || r->data[14 + 9] != 6)
            continue;
        uint32_t seq = (uint32_t)(r->data[38] << 24 | r->data[39] << 16 | r->data[40] << 8 | r->data[41]);
        if (seq % 1000 == 0 && seq < 3000 && l4_csum_ok(r->data, r->len)) {
            memcpy(payload + seq, r->data + 54, 1000);
            segs++;
        }
    }
    CHECK(segs == 3 && !memcmp(payload, d + 54, 3000), "the LSO v2 frame came back as 3 segments "
          "with valid checksums carrying its payload (%u)", segs);
    for (int i = 0; i < 4; i++)
        wh_ndis_nbl_free(all[i]);
    uint64_t stats[19] = { 0 };                    /* NDIS_STATISTICS_INFO revision 1: 152 bytes */
    uint32_t done = 0;
    int32_t st = wh_ndis_oid(false, OID_GEN_STATISTICS, stats, 152, &done);
    CHECK(st == 0 && done == 152 && stats[8] == 6 && stats[4] >= 8, "OID_GEN_STATISTICS: 0x%08x, "
          "%u bytes, %llu unicast frames out, %llu in", (unsigned)st, done,
          (unsigned long long)stats[8], (unsigned long long)stats[4]);
    /* frames from the wire: to us, broadcast, and to another MAC (filtered) */
    unsigned before = ad->nframes;
    uint8_t w[3][200];
    uint32_t lw = mk_frame(w[0], our_mac, 17, 100, 90);
    mk_frame(w[1], (const uint8_t[]){ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 17, 100, 91);
    mk_frame(w[2], peer_mac, 17, 100, 92);
    for (int i = 0; i < 3; i++)
        sim_netback_inject(wh_lab.nic, w[i], lw, 0, 0, 0);
    CHECK(wh_ndis_wait_frames(before + 2, 30000), "the injected frames to us and to all were indicated");
    usleep(20000);
    CHECK(ad->nframes == before + 2, "the frame to another MAC was filtered (%u indicated)",
          ad->nframes - before);
    for (int i = 0; i < 30000 && ad->rx_held; i++)
        usleep(1000);
    CHECK(ad->rx_held == 0 && ad->rx_returned + ad->rx_resources == ad->rx_indicated,
          "every indication returned (%u indicated, %u returned, %u copied at once)", ad->rx_indicated,
          ad->rx_returned, ad->rx_resources);
    net_down();
}

/* ---- Pause with sends in flight, an indication racing Pause, Restart ------------------ */
static void *release_later(void *arg)
{
    usleep(100000);
    sim_netback_hold_tx(arg, false);
    return NULL;
}

static volatile int race_pause_returned;

/* On the DPC thread, inside xennet's receive path (its first spin lock):
 * Pause runs now, and we wait (bounded) to see whether it returns before
 * this indication is counted.  A negative check: the 0.3 s can only let a
 * slow machine miss the race, never fail a correct driver. */
static void race_hook(void)
{
    for (int i = 0; i < 300 && !__atomic_load_n(&race_pause_returned, __ATOMIC_ACQUIRE); i++)
        usleep(1000);
}

static void *pause_thread(void *arg)
{
    (void)arg;
    wh_thread_enter();
    int r = wh_ndis_pause(5000);
    __atomic_store_n(&race_pause_returned, r == 0 ? 1 : -1, __ATOMIC_RELEASE);
    return NULL;
}

void scenario_xennet_pause(void)
{
    struct wh_ndis_adapter *ad = net_up_receiving();
    if (!ad)
        return;
    uint8_t f[8][300];
    struct wh_nbl *n[8];
    send_held(f, n, 8, 0);
    usleep(20000);
    CHECK(ad->sends_outstanding == 8, "netback holds the 8 sends (%u outstanding)", ad->sends_outstanding);
    pthread_t t;
    pthread_create(&t, NULL, release_later, wh_lab.nic);
    int r = wh_ndis_pause(5000);
    pthread_join(t, NULL);
    CHECK(r == 0 && ad->sends_outstanding == 0, "Pause completed once the held sends completed");
    for (int i = 0; i < 8; i++)
        CHECK(wh_ndis_nbl_completed(n[i]), "NBL %d completed", i);
    CHECK(wh_ndis_restart() == 0, "Restart");
    for (int i = 0; i < 8; i++)
        wh_ndis_nbl_free(n[i]);
    /* an indication under way when Pause starts */
    for (int i = 0; i < 30000 && ad->rx_held; i++)
        usleep(1000);
    unsigned before = ad->rx_indicated;
    race_pause_returned = 0;
    wh_ndis_arm_lock_hook(race_hook);
    pthread_t p;
    uint8_t w[300];
    uint32_t lw = mk_frame(w, our_mac, 17, 200, 77);
    /* Pause starts when the receive path is inside xennet (the hook), and
     * the hook lets it run to its end before the frame goes on */
    sim_netback_inject(wh_lab.nic, w, lw, 0, 0, 0);
    for (int i = 0; i < 30000 && wh_ndis_lock_hook; i++)
        usleep(1000);
    CHECK(!wh_ndis_lock_hook, "the receive path reached xennet");
    pthread_create(&p, NULL, pause_thread, NULL);
    pthread_join(p, NULL);
    CHECK(race_pause_returned == 1, "Pause completed with a receive under way");
    /* the frame is indicated either before Pause completed or after (the
     * violation): wait for it before anything restarts the adapter */
    for (int i = 0; i < 30000 && ad->rx_indicated == before; i++)
        usleep(1000);
    CHECK(ad->rx_indicated == before + 1, "the frame was indicated (%u)", ad->rx_indicated - before);
    CHECK(!wh_violation_seen("while the adapter is Paused"), "nothing indicated after Pause completed "
          "(%u indication(s) since)", ad->rx_indicated - before);
    CHECK(wh_ndis_restart() == 0, "Restart after the race");
    /* sends work again after Restart */
    uint32_t l = mk_frame(f[0], our_mac, 17, 200, 99);
    struct wh_nbl *again = one(f[0], l, 4096);
    unsigned frames = ad->nframes;
    wh_ndis_send(again);
    CHECK(wh_ndis_wait_sends(30000) && again->Status == 0, "a send after Restart completes");
    CHECK(wh_ndis_wait_frames(frames + 1, 30000), "and comes back");
    wh_ndis_nbl_free(again);
    net_down();
}

/* ---- surprise removal: NdisDevicePnPEventSurpriseRemoved, sends refused ---------------- */
void scenario_xennet_surprise(void)
{
    if (!net_up())
        return;
    struct wh_child *vif = wh_child(&bus, "XEN\\VIF");
    wh_pnp_minor(vif->pdo, WH_IRP_MN_SURPRISE_REMOVAL, NULL);
    uint8_t f[300];
    uint32_t l = mk_frame(f, our_mac, 17, 200, 5);
    struct wh_nbl *n = one(f, l, 4096);
    wh_ndis_send(n);
    CHECK(wh_ndis_wait_sends(30000), "the send after surprise removal completed");
    CHECK(n->Status == NDIS_STATUS_ADAPTER_REMOVED, "it completed with NDIS_STATUS_ADAPTER_REMOVED "
          "(0x%08x): the miniport took NdisDevicePnPEventSurpriseRemoved (2)", (unsigned)n->Status);
    wh_ndis_nbl_free(n);
    net_down();
}

/* ---- the NIC disabled (REMOVE of its stack: Halt) and enabled again --------------------- */
void scenario_xennet_restart(void)
{
    if (!net_up_receiving())
        return;
    CHECK(wh_net_echo(1), "a frame goes round before the disable");
    struct wh_child *vif = wh_child(&bus, "XEN\\VIF");
    NTSTATUS_ st = wh_pnp_minor(vif->pdo, WH_IRP_MN_REMOVE_DEVICE, NULL);
    CHECK(st == WH_STATUS_SUCCESS, "REMOVE of the NIC's stack (disable): 0x%08x", (unsigned)st);
    CHECK(wh_ndis_ad.state == WH_NDIS_HALTED, "MiniportHaltEx ran (state %d)", wh_ndis_ad.state);
    CHECK(wh_device_exists(vif->pdo), "the NIC's PDO stays: it is still in BusRelations");
    if (!wh_device_exists(vif->pdo) || wh_ndis_ad.state != WH_NDIS_HALTED) {
        net_down();
        return;
    }
    st = ((wh_add_device_fn)net_drv->DriverExtension->AddDevice)(net_drv, vif->pdo);
    CHECK(st == WH_STATUS_SUCCESS, "AddDevice again (enable): 0x%08x", (unsigned)st);
    st = wh_pnp_minor(vif->pdo, WH_IRP_MN_START_DEVICE, NULL);
    CHECK(st == WH_STATUS_SUCCESS && wh_ndis_ad.state == WH_NDIS_RUNNING,
          "START again: MiniportInitializeEx connects netfront again (0x%08x, state %d)",
          (unsigned)st, wh_ndis_ad.state);
    if (st == WH_STATUS_SUCCESS && wh_ndis_ad.state == WH_NDIS_RUNNING) {
        set_filter(0x9);
        CHECK(wh_net_echo(2), "a frame goes round after the enable");
    }
    /* the unload's leak check covers both of the adapter's lives */
    net_down();
}

/* ---- Pause on a backend that never answers: bounded, then Restart ---------------------- */
void scenario_xennet_dead(void)
{
    struct wh_ndis_adapter *ad = net_up_receiving();
    if (!ad)
        return;
    uint8_t f[4][300];
    struct wh_nbl *n[4];
    send_held(f, n, 4, 30);                        /* the backend never answers */
    int r = wh_ndis_pause(10000);
    CHECK(r == 0, "Pause completed within 10 s although the backend never answered");
    if (r)
        return;
    for (int i = 0; i < 4; i++)
        CHECK(wh_ndis_nbl_completed(n[i]) && n[i]->Status != 0, "NBL %d completed (0x%08x), as "
              "not sent", i, (unsigned)n[i]->Status);
    sim_netback_hold_tx(wh_lab.nic, false);        /* the backend is back */
    CHECK(wh_ndis_restart() == 0, "Restart connects again");
    uint32_t l = mk_frame(f[0], our_mac, 17, 200, 44);
    struct wh_nbl *again = one(f[0], l, 4096);
    unsigned frames = ad->nframes;
    wh_ndis_send(again);
    CHECK(wh_ndis_wait_sends(30000) && again->Status == 0, "a send after Restart completes (0x%08x)",
          (unsigned)again->Status);
    CHECK(wh_ndis_wait_frames(frames + 1, 30000), "and comes back");
    for (int i = 0; i < 4; i++)
        wh_ndis_nbl_free(n[i]);
    wh_ndis_nbl_free(again);
    net_down();
}

/* ---- (f) Windows 7: no NonPagedPoolNx (a pool type it does not know:
 * the host reports it), xenpci and xennet up on NonPagedPool, hypercalls
 * by instruction all the same. */
void scenario_windows7(void)
{
    if (!net_up())
        return;
    CHECK(wh_pool_exec_allocs > 0 && wh_pool_nx_allocs == 0, "Windows 7: %u NonPagedPool "
          "allocations, %u NonPagedPoolNx", wh_pool_exec_allocs, wh_pool_nx_allocs);
    struct sim_hypercall_stats hs;
    sim_domain_hypercall_stats(wh_m.dom, &hs);
    CHECK(hs.msr_writes == 0 && hs.by_page == 0 && hs.by_vmcall + hs.by_vmmcall > 10,
          "hypercalls by instruction (%lu), no page (MSR written %u time(s))",
          hs.by_vmcall + hs.by_vmmcall, hs.msr_writes);
    net_down();
}
