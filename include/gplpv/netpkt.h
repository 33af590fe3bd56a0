/*
 * netpkt: what a NIC driver must know about the frames it moves, written
 * once for every OS: header parsing (Ethernet with up to two VLAN tags,
 * IPv4, IPv6 with extension headers, TCP, UDP), the Internet checksum over
 * frames scattered in fragments of any size and alignment (odd lengths,
 * a fragment holding a single byte), filling or verifying TCP and UDP
 * checksums, and TCP segmentation (GSO done in software).
 *
 * Nothing here trusts the frame: every length in every header is checked
 * against the bytes really there; a malformed frame gives GP_EINVAL.
 */
#ifndef GPLPV_NETPKT_H
#define GPLPV_NETPKT_H

#include <stdbool.h>
#include <stdint.h>

struct netpkt_frag {
    void *va;
    uint32_t len;
};

#define NETPKT_ETH_HLEN 14u
#define NETPKT_MAX_FRAME (65535u + 18u)   /* largest IP datagram + Ethernet and a VLAN tag */
#define NETPKT_PROTO_TCP 6u
#define NETPKT_PROTO_UDP 17u

struct netpkt_info {
    uint8_t l3;            /* 4, 6, or 0: not IP */
    uint8_t l4;            /* NETPKT_PROTO_TCP / _UDP, or another protocol number */
    bool fragment;         /* an IP fragment: no L4 header to act on */
    uint16_t l3_off, l4_off;
    uint16_t l4_hlen;      /* TCP header length (with options), 8 for UDP */
    uint32_t l4_len;       /* L4 header + payload, as the IP header says */
    uint32_t ip_end;       /* l3_off + IP datagram length (Ethernet padding follows) */
};

/* Parse the headers of a frame of 'len' bytes held in f[0..n). */
int netpkt_parse(const struct netpkt_frag *f, unsigned n, uint32_t len, struct netpkt_info *pi);

/* Copy bytes at frame offset 'off' out of / into the fragments; returns
 * the number of bytes copied (less when the frame is shorter). */
uint32_t netpkt_read(const struct netpkt_frag *f, unsigned n, uint32_t off, void *dst,
                     uint32_t len);
uint32_t netpkt_write(const struct netpkt_frag *f, unsigned n, uint32_t off, const void *src,
                      uint32_t len);

/* One's-complement sum of 'len' bytes at offset 'off', added to 'acc'
 * (not folded); 'off' and fragment boundaries may be odd. */
uint64_t netpkt_sum(const struct netpkt_frag *f, unsigned n, uint32_t off, uint32_t len,
                    uint64_t acc);
uint16_t netpkt_fold(uint64_t sum);

/* TCP/UDP checksum of a parsed frame: write the full checksum, write the
 * pseudo-header sum a checksum-offloading peer expects ("partial"), or
 * verify the one present.  GP_EINVAL when the frame is not TCP or UDP
 * over IP (or is a fragment). */
int netpkt_csum_fill(const struct netpkt_frag *f, unsigned n, const struct netpkt_info *pi);
int netpkt_csum_partial(const struct netpkt_frag *f, unsigned n, const struct netpkt_info *pi);
int netpkt_csum_verify(const struct netpkt_frag *f, unsigned n, const struct netpkt_info *pi,
                       bool *ok);

/* TCP segmentation: the number of segments of at most 'mss' payload bytes,
 * and segment 'index' written to 'out' (headers fixed up: IP lengths and
 * id, IPv4 header checksum, TCP sequence number and flags, full TCP
 * checksum).  Returns GP_EINVAL for a frame that is not TCP, GP_ENOSPC if
 * 'cap' is too small. */
int netpkt_gso_count(const struct netpkt_info *pi, uint16_t mss, unsigned *count);
int netpkt_gso_segment(const struct netpkt_frag *f, unsigned n, const struct netpkt_info *pi,
                       uint16_t mss, unsigned index, uint8_t *out, uint32_t cap,
                       uint32_t *out_len);

#endif
