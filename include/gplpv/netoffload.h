/*
 * netoffload: the NIC's offload policy, between what the OS asks and what
 * netfront can do.  xennet (NDIS) uses it for the advanced properties it
 * advertises, for turning a send's per-frame offload request into a
 * netfront_tx, and for the checksum result it reports with a received
 * frame.  No OS types: NDIS's flag layouts stay in the Windows shell.
 *
 * What netfront does in software when the backend lacks it (checksums,
 * segmentation) can still be offered to the OS; what nobody does here -
 * the IPv4 header checksum - is never offered.
 */
#ifndef GPLPV_NETOFFLOAD_H
#define GPLPV_NETOFFLOAD_H

#include "gplpv/netfront.h"

/* The user's settings (NDIS' standardized keywords: checksum 0 = off,
 * 1 = transmit, 2 = receive, 3 = both; LSO 0/1). */
struct netoffload_config {
    uint8_t tcp4_csum, udp4_csum, tcp6_csum, udp6_csum;
    bool lso_v1_ipv4, lso_v2_ipv4, lso_v2_ipv6;
};

#define NETOFFLOAD_CSUM_TX 1u
#define NETOFFLOAD_CSUM_RX 2u

/* What the NIC advertises and does. */
struct netoffload_caps {
    uint8_t tcp4, udp4, tcp6, udp6;     /* NETOFFLOAD_CSUM_* bits */
    uint32_t lso4_max, lso6_max;        /* largest TCP payload + headers; 0 = no LSO */
    uint32_t lso_min_segments;
    bool lso_v1;                        /* IPv4 LSO offered as version 1 (else v2) */
};

void netoffload_resolve(const struct netoffload_config *c, const struct netfront_info *nf,
                        struct netoffload_caps *out);

/* A frame the OS hands us with its offload request. */
struct netoffload_tx_request {
    bool tcp_csum, udp_csum;            /* L4 checksum left for us */
    bool ip_csum;                       /* IPv4 header checksum left for us (never offered) */
    uint32_t lso_mss;                   /* 0 = not a large send */
};

/* Fill t->flags, t->gso and t->mss for this frame (its fragments already
 * in t->frags/t->nfrags/t->len), checking the request against the frame
 * and the capabilities.  For a large send *lso_payload receives the TCP
 * payload bytes it carries (what LSO v1 reports back to the OS), else 0.
 * 0, or GP_EINVAL (a request the frame cannot carry - LSO on a non-TCP
 * frame, an MSS too small, an offload not offered). */
int netoffload_tx_prepare(const struct netoffload_caps *caps, const struct netoffload_tx_request *req,
                          struct netfront_tx *t, uint32_t *lso_payload);

/* The checksum result to report with a received frame. */
#define NETOFFLOAD_RX_TCP_OK     0x1u
#define NETOFFLOAD_RX_UDP_OK     0x2u
#define NETOFFLOAD_RX_TCP_FAILED 0x4u
#define NETOFFLOAD_RX_UDP_FAILED 0x8u
unsigned netoffload_rx_result(const struct netoffload_caps *caps, const struct netfront_rx *f);

#endif
