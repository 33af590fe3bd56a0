/* netoffload (core/netif): the offloads xennet advertises from the user's
 * settings and the backend, send requests checked against the frame, and
 * the checksum result reported for received frames. */
#include <string.h>

#include "gp_frames.h"
#include "gp_test.h"
#include "gplpv/errors.h"
#include "gplpv/netoffload.h"

static const struct netfront_info nf_info = { .sg = true, .gso_tcpv4 = true, .csum_offload = true,
                                              .max_tx_frame = 65535 };

static void test_resolve_follows_settings(void)
{
    struct netoffload_caps c;
    struct netoffload_config all = { 3, 3, 3, 3, false, true, true };
    netoffload_resolve(&all, &nf_info, &c);
    CHECK_EQ(c.tcp4, NETOFFLOAD_CSUM_TX | NETOFFLOAD_CSUM_RX);
    CHECK_EQ(c.udp6, NETOFFLOAD_CSUM_TX | NETOFFLOAD_CSUM_RX);
    CHECK_EQ(c.lso4_max, 62000);
    CHECK_EQ(c.lso6_max, 62000);
    CHECK(!c.lso_v1);
    /* LSO needs transmit checksum offload: switching that off removes it */
    struct netoffload_config rx_only = { 2, 2, 2, 2, true, true, true };
    netoffload_resolve(&rx_only, &nf_info, &c);
    CHECK_EQ(c.tcp4, NETOFFLOAD_CSUM_RX);
    CHECK_EQ(c.lso4_max, 0);
    CHECK_EQ(c.lso6_max, 0);
    struct netoffload_config v1 = { 1, 0, 0, 0, true, false, false };
    netoffload_resolve(&v1, &nf_info, &c);
    CHECK(c.lso_v1);
    CHECK_EQ(c.lso4_max, 62000);
    CHECK_EQ(c.udp4, 0);
    struct netfront_info small = nf_info;
    small.max_tx_frame = 1514;                       /* backend without SG: no LSO at all */
    netoffload_resolve(&all, &small, &c);
    CHECK_EQ(c.lso4_max, 0);
}

static struct netfront_tx frame_tx(uint8_t *buf, int ipv, int proto, uint32_t payload,
                                   struct netpkt_frag *fr)
{
    uint32_t len = fr_build(buf, ipv, proto, payload, 7, FR_CSUM_PSEUDO, 1);
    fr[0] = (struct netpkt_frag){ buf, 30 };           /* headers split across fragments */
    fr[1] = (struct netpkt_frag){ buf + 30, len - 30 };
    return (struct netfront_tx){ .frags = fr, .nfrags = 2, .len = len };
}

static void test_tx_requests_checked_against_frame(void)
{
    struct netoffload_caps c;
    struct netoffload_config all = { 3, 3, 3, 3, false, true, true };
    netoffload_resolve(&all, &nf_info, &c);
    static uint8_t buf[70000];
    struct netpkt_frag fr[2];
    uint32_t pay = 99;
    struct netfront_tx t = frame_tx(buf, 4, NETPKT_PROTO_TCP, 1000, fr);
    CHECK_EQ(netoffload_tx_prepare(&c, &(struct netoffload_tx_request){ .tcp_csum = true }, &t, &pay), 0);
    CHECK_EQ(t.flags, NETFRONT_TX_CSUM);
    CHECK_EQ(t.gso, NETFRONT_GSO_NONE);
    CHECK_EQ(pay, 0);
    /* UDP checksum asked for a TCP frame: refused */
    CHECK_EQ(netoffload_tx_prepare(&c, &(struct netoffload_tx_request){ .udp_csum = true }, &t, &pay), GP_EINVAL);
    /* IPv4 header checksum is never offered */
    CHECK_EQ(netoffload_tx_prepare(&c, &(struct netoffload_tx_request){ .ip_csum = true }, &t, &pay), GP_EINVAL);
    /* nothing asked: nothing set */
    CHECK_EQ(netoffload_tx_prepare(&c, &(struct netoffload_tx_request){ 0 }, &t, &pay), 0);
    CHECK_EQ(t.flags, 0);
    struct netfront_tx big = frame_tx(buf, 6, NETPKT_PROTO_TCP, 60000, fr);
    CHECK_EQ(netoffload_tx_prepare(&c, &(struct netoffload_tx_request){ .lso_mss = 1440 }, &big, &pay), 0);
    CHECK_EQ(big.gso, NETFRONT_GSO_TCPV6);
    CHECK_EQ(big.mss, 1440);
    CHECK_EQ(pay, 60000);                              /* the TCP payload LSO v1 reports */
    CHECK_EQ(big.flags, NETFRONT_TX_CSUM);
    CHECK_EQ(netoffload_tx_prepare(&c, &(struct netoffload_tx_request){ .lso_mss = 40 }, &big, &pay), GP_EINVAL);
    struct netfront_tx udp = frame_tx(buf, 4, NETPKT_PROTO_UDP, 3000, fr);
    CHECK_EQ(netoffload_tx_prepare(&c, &(struct netoffload_tx_request){ .lso_mss = 1460 }, &udp, &pay), GP_EINVAL);
    struct netoffload_config no_lso = { 3, 3, 3, 3, false, false, false };
    netoffload_resolve(&no_lso, &nf_info, &c);
    struct netfront_tx big4 = frame_tx(buf, 4, NETPKT_PROTO_TCP, 20000, fr);
    CHECK_EQ(netoffload_tx_prepare(&c, &(struct netoffload_tx_request){ .lso_mss = 1460 }, &big4, &pay), GP_EINVAL);
    /* a garbage frame never gets offload flags */
    memset(buf, 0xff, 64);
    struct netpkt_frag g = { buf, 64 };
    struct netfront_tx bad = { .frags = &g, .nfrags = 1, .len = 64 };
    CHECK_EQ(netoffload_tx_prepare(&c, &(struct netoffload_tx_request){ .tcp_csum = true }, &bad, &pay), GP_EINVAL);
}

static void test_rx_result(void)
{
    struct netoffload_caps c;
    struct netoffload_config all = { 3, 3, 3, 3, false, true, true };
    netoffload_resolve(&all, &nf_info, &c);
    static uint8_t buf[2000];
    uint32_t len = fr_build(buf, 4, NETPKT_PROTO_UDP, 500, 3, FR_CSUM_FULL, 1);
    struct netpkt_frag f = { buf, len };
    struct netfront_rx r = { .frags = &f, .nfrags = 1, .len = len, .csum = NETFRONT_CSUM_GOOD };
    CHECK_EQ(netoffload_rx_result(&c, &r), NETOFFLOAD_RX_UDP_OK);
    r.csum = NETFRONT_CSUM_BAD;
    CHECK_EQ(netoffload_rx_result(&c, &r), NETOFFLOAD_RX_UDP_FAILED);
    r.csum = NETFRONT_CSUM_UNKNOWN;
    CHECK_EQ(netoffload_rx_result(&c, &r), 0);
    len = fr_build(buf, 6, NETPKT_PROTO_TCP, 500, 3, FR_CSUM_FULL, 1);
    f.len = r.len = len;
    r.csum = NETFRONT_CSUM_GOOD;
    CHECK_EQ(netoffload_rx_result(&c, &r), NETOFFLOAD_RX_TCP_OK);
    struct netoffload_config tx_only = { 1, 1, 1, 1, false, false, false };
    netoffload_resolve(&tx_only, &nf_info, &c);          /* receive offload off: no claim */
    CHECK_EQ(netoffload_rx_result(&c, &r), 0);
}

int main(void)
{
    GP_TEST_RUN(test_resolve_follows_settings);
    GP_TEST_RUN(test_tx_requests_checked_against_frame);
    GP_TEST_RUN(test_rx_result);
    return gp_test_finish();
}
