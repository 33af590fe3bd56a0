/* gplpv-net's mapping between netfront frames and TAP's virtio-net header
 * (linux/net/lxnet_vnet.c): checksum offload and TCP GSO from the stack
 * to netfront, GSO frames and checksum results from netfront to the
 * stack, and the frames either side must refuse. */
#include <linux/virtio_net.h>

#include "../../linux/net/lxnet.h"
#include "gp_test.h"

/* Ethernet + IPv4 + TCP (or UDP) with 'payload' bytes. */
static uint32_t build(uint8_t *f, uint32_t payload, bool udp)
{
    uint32_t l4h = udp ? 8 : 20, iplen = 20 + l4h + payload;
    memset(f, 0, 14 + iplen);
    memset(f, 0x02, 12);
    f[12] = 0x08;
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    ip[2] = (uint8_t)(iplen >> 8);
    ip[3] = (uint8_t)iplen;
    ip[8] = 64;
    ip[9] = udp ? 17 : 6;
    ip[12] = 10, ip[13] = 99, ip[14] = 0, ip[15] = 2;
    ip[16] = 10, ip[17] = 99, ip[18] = 0, ip[19] = 1;
    uint8_t *l4 = ip + 20;
    l4[0] = 0x13, l4[1] = 0x89, l4[2] = 0x9c, l4[3] = 0x40;
    if (udp) {
        l4[4] = (uint8_t)((8 + payload) >> 8);
        l4[5] = (uint8_t)(8 + payload);
    } else {
        l4[12] = 0x50;
        l4[13] = 0x18;
    }
    for (uint32_t i = 0; i < payload; i++)
        l4[l4h + i] = (uint8_t)(i * 7 + 3);
    return 14 + iplen;
}

static void test_tap_to_netfront(void)
{
    static uint8_t pkt[LXNET_VNET_HDR_LEN + 70000];
    uint32_t len = build(pkt + LXNET_VNET_HDR_LEN, 30000, false);
    struct virtio_net_hdr h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                                .gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN,
                                .hdr_len = 54, .gso_size = 1448, .csum_start = 34,
                                .csum_offset = 16 };
    memcpy(pkt, &h, sizeof(h));
    struct netpkt_frag frag;
    struct netfront_tx t;
    CHECK_EQ(lxnet_vnet_to_tx(pkt, LXNET_VNET_HDR_LEN + len, &frag, &t), 0);
    CHECK_EQ(t.len, len);
    CHECK(t.frags == &frag && t.nfrags == 1 && frag.va == pkt + LXNET_VNET_HDR_LEN);
    CHECK_EQ(t.gso, NETFRONT_GSO_TCPV4);
    CHECK_EQ(t.mss, 1448);
    CHECK(t.flags & NETFRONT_TX_CSUM);

    h = (struct virtio_net_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = 0 };
    memcpy(pkt, &h, sizeof(h));
    CHECK_EQ(lxnet_vnet_to_tx(pkt, LXNET_VNET_HDR_LEN + 1514, &frag, &t), 0);
    CHECK_EQ(t.gso, NETFRONT_GSO_NONE);
    CHECK_EQ(t.flags, NETFRONT_TX_CSUM);
    h.flags = 0;
    memcpy(pkt, &h, sizeof(h));
    CHECK_EQ(lxnet_vnet_to_tx(pkt, LXNET_VNET_HDR_LEN + 60, &frag, &t), 0);
    CHECK_EQ(t.flags, 0);

    /* What we never enabled, or cannot honour. */
    h = (struct virtio_net_hdr){ .gso_type = VIRTIO_NET_HDR_GSO_UDP, .gso_size = 1400 };
    memcpy(pkt, &h, sizeof(h));
    CHECK_EQ(lxnet_vnet_to_tx(pkt, LXNET_VNET_HDR_LEN + len, &frag, &t), GP_EINVAL);
    h = (struct virtio_net_hdr){ .gso_type = VIRTIO_NET_HDR_GSO_TCPV6, .gso_size = 0 };
    memcpy(pkt, &h, sizeof(h));
    CHECK_EQ(lxnet_vnet_to_tx(pkt, LXNET_VNET_HDR_LEN + len, &frag, &t), GP_EINVAL);
    CHECK_EQ(lxnet_vnet_to_tx(pkt, LXNET_VNET_HDR_LEN + 13, &frag, &t), GP_EINVAL);
    CHECK_EQ(lxnet_vnet_to_tx(pkt, 5, &frag, &t), GP_EINVAL);
    CHECK_EQ(lxnet_vnet_to_tx(pkt, LXNET_VNET_HDR_LEN + NETPKT_MAX_FRAME + 1, &frag, &t),
             GP_EINVAL);
}

static void test_netfront_to_tap(void)
{
    static uint8_t frame[70000], out[LXNET_VNET_HDR_LEN + 70000], ref[70000];
    uint32_t len = build(frame, 20000, false);
    /* Two fragments split at an odd offset. */
    struct netpkt_frag fr[2] = { { frame, 777 }, { frame + 777, len - 777 } };
    struct netfront_rx rx = { .frags = fr, .nfrags = 2, .len = len, .gso = NETFRONT_GSO_TCPV4,
                              .mss = 1448, .csum = NETFRONT_CSUM_GOOD };
    size_t n = 0;
    CHECK_EQ(lxnet_rx_to_vnet(&rx, out, sizeof(out), &n), 0);
    CHECK_EQ(n, LXNET_VNET_HDR_LEN + len);
    struct virtio_net_hdr h;
    memcpy(&h, out, sizeof(h));
    CHECK_EQ(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    CHECK_EQ(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
    CHECK_EQ(h.gso_size, 1448);
    CHECK_EQ(h.csum_start, 34);
    CHECK_EQ(h.csum_offset, 16);
    CHECK_EQ(h.hdr_len, 54);
    /* The frame is ours but for the TCP checksum: the pseudo-header sum. */
    memcpy(ref, frame, len);
    struct netpkt_frag rf = { ref, len };
    struct netpkt_info pi;
    REQUIRE(netpkt_parse(&rf, 1, len, &pi) == 0);
    REQUIRE(netpkt_csum_partial(&rf, 1, &pi) == 0);
    CHECK(memcmp(out + LXNET_VNET_HDR_LEN, ref, len) == 0);
    CHECK(memcmp(out + LXNET_VNET_HDR_LEN, frame, 50) == 0);

    /* An MTU frame the backend vouched for, and one it did not. */
    len = build(frame, 1000, false);
    struct netpkt_frag one = { frame, len };
    rx = (struct netfront_rx){ .frags = &one, .nfrags = 1, .len = len,
                               .csum = NETFRONT_CSUM_GOOD };
    CHECK_EQ(lxnet_rx_to_vnet(&rx, out, sizeof(out), &n), 0);
    memcpy(&h, out, sizeof(h));
    CHECK_EQ(h.flags, VIRTIO_NET_HDR_F_DATA_VALID);
    CHECK_EQ(h.gso_type, 0);
    CHECK(memcmp(out + LXNET_VNET_HDR_LEN, frame, len) == 0);
    rx.csum = NETFRONT_CSUM_UNKNOWN;
    CHECK_EQ(lxnet_rx_to_vnet(&rx, out, sizeof(out), &n), 0);
    memcpy(&h, out, sizeof(h));
    CHECK_EQ(h.flags, 0);

    /* "GSO" on a UDP frame is not taken as such. */
    len = build(frame, 3000, true);
    one.len = len;
    rx = (struct netfront_rx){ .frags = &one, .nfrags = 1, .len = len, .gso = NETFRONT_GSO_TCPV4,
                               .mss = 1448 };
    CHECK_EQ(lxnet_rx_to_vnet(&rx, out, sizeof(out), &n), 0);
    memcpy(&h, out, sizeof(h));
    CHECK_EQ(h.gso_type, 0);
    CHECK_EQ(h.flags, 0);
    CHECK(memcmp(out + LXNET_VNET_HDR_LEN, frame, len) == 0);

    /* No room, or a frame shorter than its fragments say. */
    CHECK_EQ(lxnet_rx_to_vnet(&rx, out, LXNET_VNET_HDR_LEN + len - 1, &n), GP_EINVAL);
    rx.len = len + 10;
    CHECK_EQ(lxnet_rx_to_vnet(&rx, out, sizeof(out), &n), GP_EINVAL);
    rx.len = 10;
    CHECK_EQ(lxnet_rx_to_vnet(&rx, out, sizeof(out), &n), GP_EINVAL);
}

int main(void)
{
    GP_TEST_RUN(test_tap_to_netfront);
    GP_TEST_RUN(test_netfront_to_tap);
    return gp_test_finish();
}
