/*
 * lxnet_vnet: netfront frames <-> TAP frames with the virtio-net header
 * (legacy layout, host byte order: what tun uses without TUNSETVNETLE/BE).
 * Nothing coming from either side is trusted: netpkt parses the frame
 * before a checksum or GSO field is written.
 */
#include <string.h>

#include <linux/virtio_net.h>

#include "lxnet.h"

int lxnet_vnet_to_tx(uint8_t *pkt, size_t len, struct netpkt_frag *frag, struct netfront_tx *t)
{
    struct virtio_net_hdr h;
    if (len < LXNET_VNET_HDR_LEN + NETPKT_ETH_HLEN || len - LXNET_VNET_HDR_LEN > NETPKT_MAX_FRAME)
        return GP_EINVAL;
    memcpy(&h, pkt, sizeof(h));
    frag->va = pkt + LXNET_VNET_HDR_LEN;
    frag->len = (uint32_t)(len - LXNET_VNET_HDR_LEN);
    memset(t, 0, sizeof(*t));
    t->frags = frag;
    t->nfrags = 1;
    t->len = frag->len;
    if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
        t->flags |= NETFRONT_TX_CSUM;
    switch (h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
    case VIRTIO_NET_HDR_GSO_NONE:
        break;
    case VIRTIO_NET_HDR_GSO_TCPV4:
        t->gso = NETFRONT_GSO_TCPV4;
        break;
    case VIRTIO_NET_HDR_GSO_TCPV6:
        t->gso = NETFRONT_GSO_TCPV6;
        break;
    default:
        return GP_EINVAL;                 /* UFO/USO: never enabled on our TAP */
    }
    if (t->gso != NETFRONT_GSO_NONE) {
        if (h.gso_size == 0)
            return GP_EINVAL;
        t->mss = h.gso_size;
        t->flags |= NETFRONT_TX_CSUM;     /* segments get their own checksums */
    }
    return 0;
}

int lxnet_rx_to_vnet(const struct netfront_rx *fr, uint8_t *out, size_t cap, size_t *out_len)
{
    if (fr->len < NETPKT_ETH_HLEN || fr->len > NETPKT_MAX_FRAME ||
        cap < LXNET_VNET_HDR_LEN + (size_t)fr->len)
        return GP_EINVAL;
    uint8_t *frame = out + LXNET_VNET_HDR_LEN;
    if (netpkt_read(fr->frags, fr->nfrags, 0, frame, fr->len) != fr->len)
        return GP_EINVAL;
    struct virtio_net_hdr h;
    memset(&h, 0, sizeof(h));
    struct netpkt_frag f = { frame, fr->len };
    struct netpkt_info pi;
    bool parsed = netpkt_parse(&f, 1, fr->len, &pi) == 0;
    if (fr->gso != NETFRONT_GSO_NONE && parsed && pi.l4 == NETPKT_PROTO_TCP && !pi.fragment &&
        ((fr->gso == NETFRONT_GSO_TCPV4 && pi.l3 == 4) ||
         (fr->gso == NETFRONT_GSO_TCPV6 && pi.l3 == 6)) && fr->mss &&
        netpkt_csum_partial(&f, 1, &pi) == 0) {
        /* A large TCP frame: the kernel segments it if it has to, and
         * computes the checksums from the pseudo-header sum we left. */
        h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h.gso_type = fr->gso == NETFRONT_GSO_TCPV4 ? VIRTIO_NET_HDR_GSO_TCPV4
                                                   : VIRTIO_NET_HDR_GSO_TCPV6;
        h.gso_size = fr->mss;
        h.hdr_len = (uint16_t)(pi.l4_off + pi.l4_hlen);
        h.csum_start = pi.l4_off;
        h.csum_offset = 16;               /* TCP checksum field */
    } else if (fr->csum == NETFRONT_CSUM_GOOD) {
        h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
    }
    memcpy(out, &h, sizeof(h));
    *out_len = LXNET_VNET_HDR_LEN + fr->len;
    return 0;
}
