/* hvmkernel's small network stack over the core's netfront, enough to talk
 * to dom0's Linux stack through the real netback: a receive queue filled
 * from netfront's rx callback, synchronous transmit, an ARP responder,
 * Ethernet/ARP/IPv4/ICMP/TCP framing and a minimal TCP sender/receiver
 * (hvmk_net_tcp.c).  Nothing received is trusted: every length is checked
 * against the bytes really there. */
#ifndef HVMK_NET_H
#define HVMK_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "gplpv/netfront.h"

#define HVMK_NET_RXQ 128                /* frames waiting for the test loop */
#define HVMK_ETH_ARP 0x0806
#define HVMK_ETH_IP 0x0800
#define HVMK_IP_ICMP 1
#define HVMK_IP_TCP 6

#define HVMK_TCP_FIN 0x01
#define HVMK_TCP_SYN 0x02
#define HVMK_TCP_RST 0x04
#define HVMK_TCP_PSH 0x08
#define HVMK_TCP_ACK 0x10

struct gp_platform;
struct xs_client;

/* A received frame, owned by the queue until the next hvmk_net_recv. */
struct hvmk_frame {
    uint8_t *data;
    uint32_t len;
    enum netfront_csum csum;
    enum netfront_gso gso;
    uint16_t mss;
};

struct hvmk_net_slot {
    uint8_t *buf;                         /* allocated for the frame by the rx callback */
    uint32_t len;
    enum netfront_csum csum;
    enum netfront_gso gso;
    uint16_t mss;
};

struct hvmk_net {
    struct netfront *nf;
    struct xs_client *xs;
    char node[64];
    struct netfront_info info;
    uint8_t mac[6], peer_mac[6];
    uint32_t ip, peer_ip;                 /* host order */
    bool peer_mac_known;
    /* receive queue: the rx callback produces, the test loop consumes */
    struct hvmk_net_slot rxq[HVMK_NET_RXQ];
    unsigned rx_head, rx_tail;            /* free-running, atomics */
    bool rx_holding;                      /* the consumer holds slot rx_head */
    unsigned rx_dropped, rx_big, rx_gso, arp_answered;
    uint32_t rx_largest;
    uint8_t *tx;                          /* one frame being built */
};

/* ---- hvmk_net_io.c ----------------------------------------------------- */
/* Create and connect the netfront of 'node' (opts.rx is ours; the caller's
 * other options are kept). */
int hvmk_net_open(const struct gp_platform *p, struct xs_client *xs, const char *node,
                  const struct netfront_opts *o, uint32_t ip, uint32_t peer_ip,
                  struct hvmk_net **out);
void hvmk_net_close(struct hvmk_net *n);
/* Send one frame and wait for its completion: 0 or the netfront status. */
int hvmk_net_send(struct hvmk_net *n, const void *frame, uint32_t len, unsigned flags,
                  enum netfront_gso gso, uint16_t mss);
/* The next frame that is not an ARP request for us (those are answered
 * here), or false at 'deadline_ns'. */
bool hvmk_net_recv(struct hvmk_net *n, struct hvmk_frame *f, uint64_t deadline_ns);

/* Frame building and checking (network byte order in frames). */
uint16_t hvmk_get16(const uint8_t *p);
uint32_t hvmk_get32(const uint8_t *p);
void hvmk_put16(uint8_t *p, uint16_t v);
void hvmk_put32(uint8_t *p, uint32_t v);
uint16_t hvmk_inet_csum(const void *p, uint32_t len, uint64_t acc);
uint32_t hvmk_crc32(uint32_t crc, const void *p, uint32_t len);
/* Ethernet + IPv4 header for 'l4_len' bytes of 'proto'; returns 34. */
uint32_t hvmk_net_ip_header(struct hvmk_net *n, uint8_t *f, uint8_t proto, uint32_t l4_len,
                            uint16_t id, uint16_t frag);
/* A well-formed IPv4 frame from the peer to us: offset of its payload and
 * its length, protocol, id and fragment field; false otherwise. */
struct hvmk_ip_view {
    uint32_t l4_off, l4_len;
    uint8_t proto;
    uint16_t id, frag;
};
bool hvmk_net_ip_parse(struct hvmk_net *n, const struct hvmk_frame *f, struct hvmk_ip_view *v);
/* ARP request for the peer's IP; fills peer_mac from the reply. */
bool hvmk_net_arp(struct hvmk_net *n, char *why, unsigned wlen);

/* ---- hvmk_net_tcp.c ---------------------------------------------------- */
/* TCP checksum (with the pseudo-header) of segment 'seg' of 'len' bytes
 * between the two addresses, as it must be stored. */
uint16_t hvmk_tcp_csum(uint32_t src, uint32_t dst, const uint8_t *seg, uint32_t len);
/* A SYN to a closed port: the RST (checksum verified) must come back.
 * mode 0: full checksum by us; 1: checksum offload (csum_blank);
 * 2: a wrong checksum, nothing may come back. */
bool hvmk_net_tcp_syn_rst(struct hvmk_net *n, unsigned mode, uint16_t port, char *why,
                          unsigned wlen);
/* Connect to the peer's 'port', send 'total' bytes of a pattern in GSO
 * frames, close our side, and read the peer's answer: "<bytes> <crc32>\n"
 * followed by the same bytes back; all checked. */
bool hvmk_net_tcp_exchange(struct hvmk_net *n, uint16_t port, uint32_t total, char *why,
                           unsigned wlen);

#endif
