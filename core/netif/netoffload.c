/* netoffload: offload policy (see netoffload.h). */
#include "gplpv/netoffload.h"

#include "gplpv/errors.h"

#define NETOFFLOAD_LSO_MAX 62000u      /* leaves room for headers below 64 KiB */
#define NETOFFLOAD_LSO_MIN_SEGMENTS 2u
#define NETOFFLOAD_MSS_MIN 88u         /* smaller MSS values are refused (RFC 6691 floor) */

static uint8_t netoffload_csum(uint8_t setting)
{
    return (uint8_t)(setting & (NETOFFLOAD_CSUM_TX | NETOFFLOAD_CSUM_RX));
}

void netoffload_resolve(const struct netoffload_config *c, const struct netfront_info *nf,
                        struct netoffload_caps *out)
{
    out->tcp4 = netoffload_csum(c->tcp4_csum);
    out->udp4 = netoffload_csum(c->udp4_csum);
    out->tcp6 = netoffload_csum(c->tcp6_csum);
    out->udp6 = netoffload_csum(c->udp6_csum);
    uint32_t max = nf->max_tx_frame < NETOFFLOAD_LSO_MAX ? nf->max_tx_frame : NETOFFLOAD_LSO_MAX;
    /* LSO needs transmit checksum offload of the same family (the OS
     * leaves the segments' checksums to us). */
    bool v4 = (c->lso_v1_ipv4 || c->lso_v2_ipv4) && (out->tcp4 & NETOFFLOAD_CSUM_TX);
    bool v6 = c->lso_v2_ipv6 && (out->tcp6 & NETOFFLOAD_CSUM_TX);
    out->lso4_max = v4 && max > 1514 ? max : 0;
    out->lso6_max = v6 && max > 1514 ? max : 0;
    out->lso_v1 = c->lso_v1_ipv4 && !c->lso_v2_ipv4;
    out->lso_min_segments = NETOFFLOAD_LSO_MIN_SEGMENTS;
}

int netoffload_tx_prepare(const struct netoffload_caps *caps, const struct netoffload_tx_request *req,
                          struct netfront_tx *t, uint32_t *lso_payload)
{
    *lso_payload = 0;
    t->flags = 0;
    t->gso = NETFRONT_GSO_NONE;
    t->mss = 0;
    if (req->ip_csum)
        return GP_EINVAL;                  /* never offered: the OS must not ask */
    if (!req->tcp_csum && !req->udp_csum && !req->lso_mss)
        return 0;
    struct netpkt_info pi;
    int err = netpkt_parse(t->frags, t->nfrags, t->len, &pi);
    if (err || (pi.l3 != 4 && pi.l3 != 6) || pi.fragment)
        return GP_EINVAL;
    bool v4 = pi.l3 == 4;
    if (req->lso_mss) {
        uint32_t max = v4 ? caps->lso4_max : caps->lso6_max;
        if (!max || pi.l4 != NETPKT_PROTO_TCP || req->lso_mss < NETOFFLOAD_MSS_MIN ||
            req->lso_mss > 0xffffu || t->len > max + pi.l4_off + pi.l4_hlen)
            return GP_EINVAL;
        uint32_t hdrs = (uint32_t)pi.l4_off + pi.l4_hlen;
        if (pi.ip_end < hdrs)
            return GP_EINVAL;
        *lso_payload = pi.ip_end - hdrs;
        t->gso = v4 ? NETFRONT_GSO_TCPV4 : NETFRONT_GSO_TCPV6;
        t->mss = (uint16_t)req->lso_mss;
        t->flags |= NETFRONT_TX_CSUM;
        return 0;
    }
    uint8_t cap = req->tcp_csum ? (v4 ? caps->tcp4 : caps->tcp6) : (v4 ? caps->udp4 : caps->udp6);
    uint8_t want = req->tcp_csum ? NETPKT_PROTO_TCP : NETPKT_PROTO_UDP;
    if (!(cap & NETOFFLOAD_CSUM_TX) || pi.l4 != want)
        return GP_EINVAL;
    t->flags |= NETFRONT_TX_CSUM;
    return 0;
}

unsigned netoffload_rx_result(const struct netoffload_caps *caps, const struct netfront_rx *f)
{
    if (f->csum == NETFRONT_CSUM_UNKNOWN)
        return 0;
    struct netpkt_info pi;
    if (netpkt_parse(f->frags, f->nfrags, f->len, &pi) || pi.fragment || (pi.l3 != 4 && pi.l3 != 6))
        return 0;
    bool v4 = pi.l3 == 4;
    uint8_t cap;
    unsigned ok, bad;
    if (pi.l4 == NETPKT_PROTO_TCP) {
        cap = v4 ? caps->tcp4 : caps->tcp6;
        ok = NETOFFLOAD_RX_TCP_OK;
        bad = NETOFFLOAD_RX_TCP_FAILED;
    } else if (pi.l4 == NETPKT_PROTO_UDP) {
        cap = v4 ? caps->udp4 : caps->udp6;
        ok = NETOFFLOAD_RX_UDP_OK;
        bad = NETOFFLOAD_RX_UDP_FAILED;
    } else {
        return 0;
    }
    if (!(cap & NETOFFLOAD_CSUM_RX))
        return 0;
    return f->csum == NETFRONT_CSUM_GOOD ? ok : bad;
}
