/* gplpv-net: the core's netfront in a Linux domU's user space, bridged to
 * a TAP interface.  lxnet_vnet.c maps frames between netfront and TAP's
 * virtio-net header (IFF_VNET_HDR): checksum offload and TCP GSO both
 * ways where the two ends allow it. */
#ifndef GPLPV_LINUX_LXNET_H
#define GPLPV_LINUX_LXNET_H

#include <stddef.h>
#include <stdint.h>

#include "gplpv/netfront.h"

#define LXNET_VNET_HDR_LEN 10u          /* struct virtio_net_hdr */

/* A frame read from TAP (virtio-net header + Ethernet frame): fill t's
 * frame, flags, gso and mss (frags must point at one netpkt_frag the
 * caller owns).  GP_EINVAL for a header we cannot honour (UDP
 * fragmentation offload, a GSO size of 0, a frame shorter than 14). */
int lxnet_vnet_to_tx(uint8_t *pkt, size_t len, struct netpkt_frag *frag, struct netfront_tx *t);

/* A frame netfront received: write the virtio-net header and the frame
 * to out (cap bytes), *out_len the total.  A large TCP frame (the
 * backend's GSO) goes up as GSO with a partial checksum; a frame whose
 * checksum the backend vouched for is marked DATA_VALID. */
int lxnet_rx_to_vnet(const struct netfront_rx *fr, uint8_t *out, size_t cap, size_t *out_len);

#endif
