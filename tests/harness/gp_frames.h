/*
 * gp_frames.h - test frames for the network tests, built and checked here
 * independently of core/netif/netpkt.c: Ethernet + IPv4 (20-byte header)
 * or IPv6 (40-byte header, no extensions) + TCP (20 bytes) or UDP, with a
 * payload pattern, and a plain byte-by-byte reference checksum.
 */
#ifndef GP_FRAMES_H
#define GP_FRAMES_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum fr_csum { FR_CSUM_ZERO, FR_CSUM_FULL, FR_CSUM_PSEUDO };

static inline uint32_t fr_l3_len(int ipv)
{
    return ipv == 4 ? 20u : 40u;
}

static inline uint32_t fr_l4_hlen(int proto)
{
    return proto == 6 ? 20u : 8u;
}

static inline uint32_t fr_hdr_len(int ipv, int proto)
{
    return 14 + fr_l3_len(ipv) + fr_l4_hlen(proto);
}

/* Reference one's-complement sum: bytes taken in pairs, big-endian. */
static inline uint32_t fr_sum(const uint8_t *p, uint32_t n, uint32_t acc)
{
    for (uint32_t i = 0; i < n; i++)
        acc += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
    return acc;
}

static inline uint16_t fr_fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

static inline uint32_t fr_pseudo(const uint8_t *f, int ipv, int proto, uint32_t l4_len)
{
    uint32_t s = proto + l4_len;
    if (ipv == 4)
        return fr_sum(f + 14 + 12, 8, s);
    return fr_sum(f + 14 + 8, 32, s);
}

static inline uint32_t fr_csum_off(int ipv, int proto)
{
    return 14 + fr_l3_len(ipv) + (proto == 6 ? 16u : 6u);
}

/* Build a frame with 'payload' bytes of pattern 'seed'; returns its length. */
static inline uint32_t fr_build(uint8_t *f, int ipv, int proto, uint32_t payload, unsigned seed,
                                enum fr_csum mode, uint32_t seq)
{
    uint32_t l3 = fr_l3_len(ipv), l4h = fr_l4_hlen(proto), l4_len = l4h + payload;
    memset(f, 0, 14 + l3 + l4h);
    memcpy(f, "\x00\x16\x3e\x00\x01\x01\x00\x16\x3e\x00\x02\x02", 12);
    uint8_t *ip = f + 14, *l4 = ip + l3;
    if (ipv == 4) {
        f[12] = 0x08, f[13] = 0x00;
        ip[0] = 0x45;
        uint32_t tot = l3 + l4_len;
        ip[2] = (uint8_t)(tot >> 8), ip[3] = (uint8_t)tot;
        ip[4] = 0x12, ip[5] = 0x34;
        ip[8] = 64;
        ip[9] = (uint8_t)proto;
        memcpy(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
        uint16_t hc = (uint16_t)~fr_fold(fr_sum(ip, 20, 0));
        ip[10] = (uint8_t)(hc >> 8), ip[11] = (uint8_t)hc;
    } else {
        f[12] = 0x86, f[13] = 0xdd;
        ip[0] = 0x60;
        ip[4] = (uint8_t)(l4_len >> 8), ip[5] = (uint8_t)l4_len;
        ip[6] = (uint8_t)proto;
        ip[7] = 64;
        for (int i = 0; i < 16; i++)
            ip[8 + i] = (uint8_t)(0x20 + i), ip[24 + i] = (uint8_t)(0x40 + i);
    }
    l4[0] = 0x30, l4[1] = 0x39, l4[2] = 0x00, l4[3] = 0x50;
    if (proto == 6) {
        l4[4] = (uint8_t)(seq >> 24), l4[5] = (uint8_t)(seq >> 16);
        l4[6] = (uint8_t)(seq >> 8), l4[7] = (uint8_t)seq;
        l4[12] = 0x50;
        l4[13] = 0x18;                       /* ACK PSH */
        l4[14] = 0xff, l4[15] = 0xff;
    } else {
        l4[4] = (uint8_t)(l4_len >> 8), l4[5] = (uint8_t)l4_len;
    }
    for (uint32_t i = 0; i < payload; i++)
        l4[l4h + i] = (uint8_t)(seed * 151 + i * 13 + (i >> 8));
    uint32_t co = fr_csum_off(ipv, proto);
    uint16_t c = 0;
    if (mode == FR_CSUM_FULL) {
        c = (uint16_t)~fr_fold(fr_sum(l4, l4_len, fr_pseudo(f, ipv, proto, l4_len)));
        if (c == 0 && proto == 17)
            c = 0xffff;
    } else if (mode == FR_CSUM_PSEUDO) {
        c = fr_fold(fr_pseudo(f, ipv, proto, l4_len));
    }
    f[co] = (uint8_t)(c >> 8), f[co + 1] = (uint8_t)c;
    return 14 + l3 + l4_len;
}

/* Is the TCP/UDP checksum of a frame built by fr_build (possibly changed
 * in transit) right? */
static inline bool fr_csum_ok(const uint8_t *f, uint32_t len, int ipv, int proto)
{
    uint32_t l4_off = 14 + fr_l3_len(ipv);
    if (len < l4_off + fr_l4_hlen(proto))
        return false;
    uint32_t l4_len = len - l4_off;
    return fr_fold(fr_sum(f + l4_off, l4_len, fr_pseudo(f, ipv, proto, l4_len))) == 0xffff;
}

#endif
