/*
 * netpkt: frame parsing, checksums and software segmentation over
 * scattered fragments (see gplpv/netpkt.h).  Headers are copied into a
 * small local buffer before they are looked at, so a frame whose headers
 * straddle fragments parses like any other, and every field is read once.
 */
#include <string.h>

#include "gplpv/errors.h"
#include "gplpv/netpkt.h"

#define NETPKT_HDR_MAX 256u     /* L2 + L3 (with IPv6 extensions) + L4 headers we parse */

static uint16_t netpkt_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void netpkt_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint32_t netpkt_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void netpkt_put_be32(uint8_t *p, uint32_t v)
{
    netpkt_put_be16(p, (uint16_t)(v >> 16));
    netpkt_put_be16(p + 2, (uint16_t)v);
}

/* Copy len bytes at offset off of the frame out into dst or, when dst is
 * NULL, in from src; the bytes copied (fewer where the frame ends first). */
static uint32_t netpkt_copy(const struct netpkt_frag *f, unsigned n, uint32_t off, uint8_t *dst,
                            const uint8_t *src, uint32_t len)
{
    uint32_t done = 0;
    for (unsigned i = 0; i < n && done < len; i++) {
        if (off >= f[i].len) {
            off -= f[i].len;
            continue;
        }
        uint32_t k = f[i].len - off;
        if (k > len - done)
            k = len - done;
        uint8_t *frag = (uint8_t *)f[i].va + off;
        if (dst)
            memcpy(dst + done, frag, k);
        else
            memcpy(frag, src + done, k);
        done += k;
        off = 0;
    }
    return done;
}

uint32_t netpkt_read(const struct netpkt_frag *f, unsigned n, uint32_t off, void *dst,
                     uint32_t len)
{
    return netpkt_copy(f, n, off, dst, NULL, len);
}

uint32_t netpkt_write(const struct netpkt_frag *f, unsigned n, uint32_t off, const void *src,
                      uint32_t len)
{
    return netpkt_copy(f, n, off, NULL, src, len);
}

static uint16_t netpkt_swap16(uint16_t v)
{
    return (uint16_t)(v << 8 | v >> 8);
}

/* One's-complement addition of 64-bit words: the carry out of bit 63
 * goes back in at bit 0 (RFC 1071's end-around carry). */
static uint64_t netpkt_add64(uint64_t a, uint64_t b)
{
    uint64_t s = a + b;
    return s + (s < b);
}

/* The folded sum of the big-endian 16-bit words of p[0..len) (a last odd
 * byte is a high byte).  Summed 64 bits at a time in host order, in two
 * independent chains, then put into network order: the one's-complement
 * sum does not care about the word size or byte order (RFC 1071). */
static uint16_t netpkt_sum_chunk(const uint8_t *p, uint32_t len)
{
    uint64_t a = 0, b = 0;
    while (len >= 32) {
        uint64_t w[4];
        memcpy(w, p, 32);
        a = netpkt_add64(netpkt_add64(a, w[0]), w[1]);
        b = netpkt_add64(netpkt_add64(b, w[2]), w[3]);
        p += 32;
        len -= 32;
    }
    a = netpkt_add64(a, b);
    /* fold to 32 bits so the 32-bit tail below cannot overflow */
    uint64_t acc = (a & 0xffffffffu) + (a >> 32);
    while (len >= 4) {
        uint32_t w;
        memcpy(&w, p, 4);
        acc += w;
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t w;
        memcpy(&w, p, 2);
        acc += w;
        p += 2;
        len -= 2;
    }
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (len)
        acc += *p;                     /* high byte of a network-order word */
    return netpkt_swap16(netpkt_fold(acc));
#else
    if (len)
        acc += (uint32_t)*p << 8;
    return netpkt_fold(acc);
#endif
}

uint64_t netpkt_sum(const struct netpkt_frag *f, unsigned n, uint32_t off, uint32_t len,
                    uint64_t acc)
{
    uint32_t pos = 0;                  /* bytes summed so far: their parity matters */
    for (unsigned i = 0; i < n && len; i++) {
        if (off >= f[i].len) {
            off -= f[i].len;
            continue;
        }
        uint32_t k = f[i].len - off;
        if (k > len)
            k = len;
        uint16_t s = netpkt_sum_chunk((const uint8_t *)f[i].va + off, k);
        acc += (pos & 1) ? netpkt_swap16(s) : s;
        pos += k;
        len -= k;
        off = 0;
    }
    return acc;
}

uint16_t netpkt_fold(uint64_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* ---- parsing ------------------------------------------------------------------ */

static bool netpkt_ipv6_ext(uint8_t nh)
{
    return nh == 0 || nh == 43 || nh == 60;   /* hop-by-hop, routing, destination options */
}

int netpkt_parse(const struct netpkt_frag *f, unsigned n, uint32_t len, struct netpkt_info *pi)
{
    uint8_t h[NETPKT_HDR_MAX];
    uint32_t have = netpkt_read(f, n, 0, h, len < sizeof(h) ? len : (uint32_t)sizeof(h));
    memset(pi, 0, sizeof(*pi));
    if (have < len && have < sizeof(h))
        return GP_EINVAL;                 /* the fragments hold less than 'len' */
    if (have < NETPKT_ETH_HLEN)
        return GP_EINVAL;
    uint32_t off = 12;
    uint16_t type = netpkt_be16(h + off);
    for (int tags = 0; (type == 0x8100 || type == 0x88a8) && tags < 2; tags++) {
        off += 4;
        if (off + 2 > have)
            return GP_EINVAL;
        type = netpkt_be16(h + off);
    }
    off += 2;
    if (type != 0x0800 && type != 0x86dd)
        return 0;                          /* not IP: nothing more to know */
    pi->l3_off = (uint16_t)off;
    uint8_t proto;
    if (type == 0x0800) {
        if (off + 20 > have || (h[off] >> 4) != 4)
            return GP_EINVAL;
        uint32_t ihl = (h[off] & 15u) * 4;
        uint32_t tot = netpkt_be16(h + off + 2);
        if (ihl < 20 || off + ihl > have || tot < ihl || off + tot > len)
            return GP_EINVAL;
        pi->l3 = 4;
        pi->ip_end = off + tot;
        pi->fragment = (netpkt_be16(h + off + 6) & 0x3fff) != 0;   /* MF or an offset */
        proto = h[off + 9];
        pi->l4_len = tot - ihl;
        off += ihl;
    } else {
        if (off + 40 > have || (h[off] >> 4) != 6)
            return GP_EINVAL;
        uint32_t plen = netpkt_be16(h + off + 4);
        if (plen == 0 || off + 40 + plen > len)
            return GP_EINVAL;              /* jumbograms are not ours to carry */
        pi->l3 = 6;
        pi->ip_end = off + 40 + plen;
        proto = h[off + 6];
        off += 40;
        while (netpkt_ipv6_ext(proto)) {
            if (off + 8 > have)
                return GP_EINVAL;
            uint32_t el = ((uint32_t)h[off + 1] + 1) * 8;
            proto = h[off];
            off += el;
            if (off > pi->ip_end)
                return GP_EINVAL;
        }
        if (proto == 44)
            pi->fragment = true;
        pi->l4_len = pi->ip_end - off;
    }
    pi->l4 = proto;
    pi->l4_off = (uint16_t)off;
    if (pi->fragment)
        return 0;
    if (proto == NETPKT_PROTO_TCP) {
        if (pi->l4_len < 20 || off + 20 > have)
            return GP_EINVAL;
        uint32_t doff = (uint32_t)(h[off + 12] >> 4) * 4;
        if (doff < 20 || doff > pi->l4_len || off + doff > have)
            return GP_EINVAL;
        pi->l4_hlen = (uint16_t)doff;
    } else if (proto == NETPKT_PROTO_UDP) {
        if (pi->l4_len < 8 || off + 8 > have)
            return GP_EINVAL;
        uint32_t ulen = netpkt_be16(h + off + 4);
        if (ulen < 8 || ulen > pi->l4_len)
            return GP_EINVAL;
        pi->l4_len = ulen;                 /* the checksum covers the UDP length */
        pi->l4_hlen = 8;
    }
    return 0;
}

/* ---- checksums -------------------------------------------------------------------- */

static bool netpkt_has_csum(const struct netpkt_info *pi)
{
    return pi->l3 && !pi->fragment &&
           (pi->l4 == NETPKT_PROTO_TCP || pi->l4 == NETPKT_PROTO_UDP) && pi->l4_hlen;
}

static uint32_t netpkt_csum_off(const struct netpkt_info *pi)
{
    return pi->l4_off + (pi->l4 == NETPKT_PROTO_TCP ? 16u : 6u);
}

static uint64_t netpkt_pseudo(const struct netpkt_frag *f, unsigned n,
                              const struct netpkt_info *pi)
{
    uint64_t s = pi->l4 + (uint64_t)pi->l4_len;
    if (pi->l3 == 4)
        return netpkt_sum(f, n, pi->l3_off + 12u, 8, s);
    return netpkt_sum(f, n, pi->l3_off + 8u, 32, s);
}

static int netpkt_csum_store(const struct netpkt_frag *f, unsigned n,
                             const struct netpkt_info *pi, uint16_t v)
{
    uint8_t b[2];
    netpkt_put_be16(b, v);
    return netpkt_write(f, n, netpkt_csum_off(pi), b, 2) == 2 ? 0 : GP_EINVAL;
}

int netpkt_csum_fill(const struct netpkt_frag *f, unsigned n, const struct netpkt_info *pi)
{
    if (!netpkt_has_csum(pi))
        return GP_EINVAL;
    int err = netpkt_csum_store(f, n, pi, 0);
    if (err)
        return err;
    uint64_t s = netpkt_sum(f, n, pi->l4_off, pi->l4_len, netpkt_pseudo(f, n, pi));
    uint16_t c = (uint16_t)~netpkt_fold(s);
    if (c == 0 && pi->l4 == NETPKT_PROTO_UDP)
        c = 0xffff;                        /* 0 means "no checksum" for UDP */
    return netpkt_csum_store(f, n, pi, c);
}

int netpkt_csum_partial(const struct netpkt_frag *f, unsigned n, const struct netpkt_info *pi)
{
    if (!netpkt_has_csum(pi))
        return GP_EINVAL;
    return netpkt_csum_store(f, n, pi, netpkt_fold(netpkt_pseudo(f, n, pi)));
}

int netpkt_csum_verify(const struct netpkt_frag *f, unsigned n, const struct netpkt_info *pi,
                       bool *ok)
{
    if (!netpkt_has_csum(pi))
        return GP_EINVAL;
    if (pi->l4 == NETPKT_PROTO_UDP && pi->l3 == 4) {
        uint8_t b[2];
        netpkt_read(f, n, netpkt_csum_off(pi), b, 2);
        if (!b[0] && !b[1]) {
            *ok = true;                    /* IPv4 UDP without a checksum */
            return 0;
        }
    }
    uint64_t s = netpkt_sum(f, n, pi->l4_off, pi->l4_len, netpkt_pseudo(f, n, pi));
    *ok = netpkt_fold(s) == 0xffff;
    return 0;
}

/* ---- segmentation -------------------------------------------------------------------- */

int netpkt_gso_count(const struct netpkt_info *pi, uint16_t mss, unsigned *count)
{
    if (!netpkt_has_csum(pi) || pi->l4 != NETPKT_PROTO_TCP || mss == 0)
        return GP_EINVAL;
    uint32_t payload = pi->l4_len - pi->l4_hlen;
    *count = payload ? (payload + mss - 1) / mss : 1;
    return 0;
}

int netpkt_gso_segment(const struct netpkt_frag *f, unsigned n, const struct netpkt_info *pi,
                       uint16_t mss, unsigned index, uint8_t *out, uint32_t cap,
                       uint32_t *out_len)
{
    unsigned count;
    int err = netpkt_gso_count(pi, mss, &count);
    if (err)
        return err;
    if (index >= count)
        return GP_EINVAL;
    uint32_t hlen = pi->l4_off + pi->l4_hlen;
    uint32_t payload = pi->l4_len - pi->l4_hlen;
    uint32_t first = index * (uint32_t)mss;
    uint32_t seg = payload - first < mss ? payload - first : mss;
    if (hlen + seg > cap)
        return GP_ENOSPC;
    if (netpkt_read(f, n, 0, out, hlen) != hlen ||
        netpkt_read(f, n, hlen + first, out + hlen, seg) != seg)
        return GP_EINVAL;
    uint8_t *ip = out + pi->l3_off, *tcp = out + pi->l4_off;
    uint32_t l4_len = pi->l4_hlen + seg;
    if (pi->l3 == 4) {
        uint32_t ihl = (ip[0] & 15u) * 4;
        netpkt_put_be16(ip + 2, (uint16_t)(pi->l4_off - pi->l3_off + l4_len));
        netpkt_put_be16(ip + 4, (uint16_t)(netpkt_be16(ip + 4) + index));
        netpkt_put_be16(ip + 10, 0);
        struct netpkt_frag h = { ip, ihl };
        netpkt_put_be16(ip + 10, (uint16_t)~netpkt_fold(netpkt_sum(&h, 1, 0, ihl, 0)));
    } else {
        netpkt_put_be16(ip + 4, (uint16_t)(pi->l4_off - pi->l3_off - 40 + l4_len));
    }
    netpkt_put_be32(tcp + 4, netpkt_be32(tcp + 4) + first);
    if (index + 1 < count)
        tcp[13] &= (uint8_t)~0x09;         /* FIN and PSH only on the last segment */
    if (index > 0)
        tcp[13] &= (uint8_t)~0x80;         /* CWR only on the first */
    struct netpkt_frag o = { out, hlen + seg };
    struct netpkt_info si = *pi;
    si.l4_len = l4_len;
    si.ip_end = hlen + seg;
    err = netpkt_csum_fill(&o, 1, &si);
    if (err)
        return err;
    *out_len = hlen + seg;
    return 0;
}
