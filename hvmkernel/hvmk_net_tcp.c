/* hvmkernel: just enough TCP to talk to dom0's Linux stack through the real
 * netback: a SYN to a closed port (the RST must come back, its checksum
 * right), and one connection that sends a pattern in GSO frames (up to
 * 64 KiB each, cut by netback/Linux), closes its side and reads the peer's
 * answer (a count and CRC of what it got, then the bytes themselves, which
 * Linux may send us as GSO frames).  Go-back-N retransmission on a 1 s
 * timeout; segments are accepted only in order; every checksum checked. */
#include <string.h>

#include "gplpv/log.h"
#include "hvmk.h"
#include "hvmk_net.h"

#define HVMK_TCP_OUR_MSS 1460u
#define HVMK_TCP_MAX_GSO (65535u - 40u)     /* payload of the largest IPv4 datagram */

uint16_t hvmk_tcp_csum(uint32_t src, uint32_t dst, const uint8_t *seg, uint32_t len)
{
    uint64_t pseudo = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) +
                      HVMK_IP_TCP + (uint64_t)len;
    return hvmk_inet_csum(seg, len, pseudo);
}

static uint8_t hvmk_tcp_pattern(uint32_t i)
{
    return (uint8_t)(i * 7u + (i >> 8) * 3u + (i >> 16) + 1u);
}

/* A TCP segment to the peer in n->tx; returns the frame length.  The
 * checksum: mode 0 computed here, 1 left to netfront/the backend
 * (NETFRONT_TX_CSUM), 2 computed and then spoilt. */
static uint32_t hvmk_tcp_build(struct hvmk_net *n, uint16_t sport, uint16_t dport, uint32_t seq,
                               uint32_t ack, uint8_t flags, const uint8_t *opt, uint32_t optlen,
                               const uint8_t *data, uint32_t dlen, unsigned mode)
{
    uint8_t *f = n->tx;
    uint32_t hl = 20 + optlen, l4 = hl + dlen;
    static uint16_t ip_id = 0x4750;
    uint32_t off = hvmk_net_ip_header(n, f, HVMK_IP_TCP, l4, ip_id++, 0x4000 /* DF */);
    uint8_t *t = f + off;
    hvmk_put16(t, sport);
    hvmk_put16(t + 2, dport);
    hvmk_put32(t + 4, seq);
    hvmk_put32(t + 8, ack);
    t[12] = (uint8_t)((hl / 4) << 4);
    t[13] = flags;
    hvmk_put16(t + 14, 65535);
    hvmk_put16(t + 16, 0);
    hvmk_put16(t + 18, 0);
    if (optlen)
        memcpy(t + 20, opt, optlen);
    if (dlen && data)
        memcpy(t + hl, data, dlen);
    if (mode != 1) {
        uint16_t c = hvmk_tcp_csum(n->ip, n->peer_ip, t, l4);
        hvmk_put16(t + 16, mode == 2 ? (uint16_t)(c ^ 0x5a5a) : c);
    }
    return off + l4;
}

/* A TCP segment from the peer between the ports; checks its checksum. */
struct hvmk_tcp_seg {
    uint32_t seq, ack, dlen;
    uint16_t win;
    uint8_t flags;
    const uint8_t *data;
    const uint8_t *opt;
    uint32_t optlen;
    bool csum_ok;
};

static bool hvmk_tcp_parse(struct hvmk_net *n, const struct hvmk_frame *f, uint16_t sport,
                           uint16_t dport, struct hvmk_tcp_seg *s)
{
    struct hvmk_ip_view v;
    if (!hvmk_net_ip_parse(n, f, &v) || v.proto != HVMK_IP_TCP || (v.frag & 0x3fff) ||
        v.l4_len < 20)
        return false;
    const uint8_t *t = f->data + v.l4_off;
    uint32_t hl = (uint32_t)(t[12] >> 4) * 4u;
    if (hl < 20 || hl > v.l4_len || hvmk_get16(t) != sport || hvmk_get16(t + 2) != dport)
        return false;
    s->seq = hvmk_get32(t + 4);
    s->ack = hvmk_get32(t + 8);
    s->flags = t[13];
    s->win = hvmk_get16(t + 14);
    s->opt = t + 20;
    s->optlen = hl - 20;
    s->data = t + hl;
    s->dlen = v.l4_len - hl;
    s->csum_ok = hvmk_tcp_csum(n->peer_ip, n->ip, t, v.l4_len) == 0;
    return true;
}

static const char *hvmk_csum_name(enum netfront_csum c)
{
    return c == NETFRONT_CSUM_GOOD ? "good" : c == NETFRONT_CSUM_BAD ? "bad" : "unknown";
}

bool hvmk_net_tcp_syn_rst(struct hvmk_net *n, unsigned mode, uint16_t port, char *why,
                          unsigned wlen)
{
    static const uint8_t mss_opt[4] = { 2, 4, HVMK_TCP_OUR_MSS >> 8, HVMK_TCP_OUR_MSS & 255 };
    uint16_t sport = (uint16_t)(40000 + mode);
    uint32_t iss = 0x10000000u * (mode + 1) + 0x1234;
    uint32_t len = hvmk_tcp_build(n, sport, port, iss, 0, HVMK_TCP_SYN, mss_opt, 4, NULL, 0,
                                  mode);
    int err = hvmk_net_send(n, n->tx, len, mode == 1 ? NETFRONT_TX_CSUM : 0, NETFRONT_GSO_NONE,
                            0);
    if (err) {
        gp_snprintf(why, wlen, "send: %s", gp_strerror(err));
        return false;
    }
    uint64_t deadline = hvmk_now_ns() + (mode == 2 ? 1500000000ull : 3000000000ull);
    struct hvmk_frame f;
    while (hvmk_net_recv(n, &f, deadline)) {
        struct hvmk_tcp_seg s;
        if (!hvmk_tcp_parse(n, &f, port, sport, &s))
            continue;
        if (mode == 2) {
            gp_snprintf(why, wlen, "a SYN with a bad checksum was answered (flags %x)",
                        s.flags);
            return false;
        }
        bool ok = (s.flags & (HVMK_TCP_RST | HVMK_TCP_ACK)) == (HVMK_TCP_RST | HVMK_TCP_ACK) &&
                  s.ack == iss + 1 && s.csum_ok && f.csum != NETFRONT_CSUM_BAD;
        gp_snprintf(why, wlen, "flags %x ack %s, TCP checksum %s (netfront: %s), %u-byte frame",
                    s.flags, s.ack == iss + 1 ? "ok" : "WRONG", s.csum_ok ? "valid" : "INVALID",
                    hvmk_csum_name(f.csum), f.len);
        return ok;
    }
    if (mode == 2) {
        gp_snprintf(why, wlen, "dropped by dom0 (no answer in 1.5 s)");
        return true;
    }
    gp_snprintf(why, wlen, "no RST within 3 s");
    return false;
}

/* ---- one connection ------------------------------------------------------ */

struct hvmk_tcp {
    struct hvmk_net *n;
    uint16_t sport, dport;
    uint32_t iss, snd_una, snd_nxt, snd_end;   /* snd_end: seq after our data */
    uint32_t snd_wnd;
    uint16_t peer_mss;
    uint32_t rcv_nxt;
    bool fin_sent, fin_rcvd, reset;
    uint8_t *rbuf;
    uint32_t rlen, rcap;
    unsigned gso_frames, frames, retransmits, bad_csum, acks;
    uint32_t largest_gso;
};

static int hvmk_tcp_send_ack(struct hvmk_tcp *c, uint8_t flags)
{
    uint32_t len = hvmk_tcp_build(c->n, c->sport, c->dport, c->snd_nxt, c->rcv_nxt, flags, NULL,
                                  0, NULL, 0, 1);
    c->acks++;
    return hvmk_net_send(c->n, c->n->tx, len, NETFRONT_TX_CSUM, NETFRONT_GSO_NONE, 0);
}

static bool hvmk_seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

/* Take in one segment of the established connection. */
static void hvmk_tcp_input(struct hvmk_tcp *c, const struct hvmk_frame *f)
{
    struct hvmk_tcp_seg s;
    if (!hvmk_tcp_parse(c->n, f, c->dport, c->sport, &s))
        return;
    if (!s.csum_ok) {
        c->bad_csum++;
        return;
    }
    if (s.flags & HVMK_TCP_RST) {
        c->reset = true;
        return;
    }
    if ((s.flags & HVMK_TCP_ACK) && !hvmk_seq_lt(s.ack, c->snd_una) &&
        !hvmk_seq_lt(c->snd_nxt, s.ack)) {
        c->snd_una = s.ack;
        c->snd_wnd = s.win;
    }
    bool ack = false;
    if (s.dlen) {
        ack = true;
        if (s.seq == c->rcv_nxt && c->rlen + s.dlen <= c->rcap) {
            memcpy(c->rbuf + c->rlen, s.data, s.dlen);
            c->rlen += s.dlen;
            c->rcv_nxt += s.dlen;
        }
    }
    if ((s.flags & HVMK_TCP_FIN) && s.seq + s.dlen == c->rcv_nxt) {
        c->rcv_nxt++;
        c->fin_rcvd = true;
        ack = true;
    }
    if (ack)
        hvmk_tcp_send_ack(c, HVMK_TCP_ACK);
}

/* Send our data from snd_nxt as far as the window allows (one frame). */
static int hvmk_tcp_output(struct hvmk_tcp *c)
{
    uint32_t in_flight = c->snd_nxt - c->snd_una;
    uint32_t room = c->snd_wnd > in_flight ? c->snd_wnd - in_flight : 0;
    uint32_t left = c->snd_end - c->snd_nxt;
    uint32_t len = left < room ? left : room;
    if (len > HVMK_TCP_MAX_GSO)
        len = HVMK_TCP_MAX_GSO;
    if (len < left && len > c->peer_mss)
        len -= len % c->peer_mss;              /* whole segments, but the last */
    if (len == 0 || (len < c->peer_mss && len < left))
        return 0;                              /* wait for the window to open */
    uint8_t *f = c->n->tx;
    uint32_t off = c->snd_nxt - c->iss - 1;
    uint32_t flen = hvmk_tcp_build(c->n, c->sport, c->dport, c->snd_nxt, c->rcv_nxt,
                                   HVMK_TCP_ACK | (len == left ? HVMK_TCP_PSH : 0), NULL, 0,
                                   NULL, 0, 1);
    /* the payload goes in place, then the lengths are fixed up */
    uint8_t *ip = f + 14;
    for (uint32_t i = 0; i < len; i++)
        f[flen + i] = hvmk_tcp_pattern(off + i);
    hvmk_put16(ip + 2, (uint16_t)(hvmk_get16(ip + 2) + len));
    hvmk_put16(ip + 10, 0);
    hvmk_put16(ip + 10, hvmk_inet_csum(ip, 20, 0));
    bool gso = len > c->peer_mss;
    int err = hvmk_net_send(c->n, f, flen + len, NETFRONT_TX_CSUM,
                            gso ? NETFRONT_GSO_TCPV4 : NETFRONT_GSO_NONE, gso ? c->peer_mss : 0);
    if (err)
        return err;
    c->frames++;
    if (gso) {
        c->gso_frames++;
        if (len > c->largest_gso)
            c->largest_gso = len;
    }
    c->snd_nxt += len;
    return 0;
}

static bool hvmk_tcp_connect(struct hvmk_tcp *c, char *why, unsigned wlen)
{
    static const uint8_t mss_opt[4] = { 2, 4, HVMK_TCP_OUR_MSS >> 8, HVMK_TCP_OUR_MSS & 255 };
    for (int attempt = 0; attempt < 5; attempt++) {
        uint32_t len = hvmk_tcp_build(c->n, c->sport, c->dport, c->iss, 0, HVMK_TCP_SYN,
                                      mss_opt, 4, NULL, 0, 1);
        int err = hvmk_net_send(c->n, c->n->tx, len, NETFRONT_TX_CSUM, NETFRONT_GSO_NONE, 0);
        if (err) {
            gp_snprintf(why, wlen, "SYN: %s", gp_strerror(err));
            return false;
        }
        uint64_t deadline = hvmk_now_ns() + 1000000000ull;
        struct hvmk_frame f;
        while (hvmk_net_recv(c->n, &f, deadline)) {
            struct hvmk_tcp_seg s;
            if (!hvmk_tcp_parse(c->n, &f, c->dport, c->sport, &s) || !s.csum_ok)
                continue;
            if (s.flags & HVMK_TCP_RST) {
                gp_snprintf(why, wlen, "connection refused (is the listener up?)");
                return false;
            }
            if ((s.flags & (HVMK_TCP_SYN | HVMK_TCP_ACK)) != (HVMK_TCP_SYN | HVMK_TCP_ACK) ||
                s.ack != c->iss + 1)
                continue;
            c->peer_mss = 536;
            for (uint32_t i = 0; i + 1 < s.optlen;) {
                uint8_t kind = s.opt[i];
                if (kind == 0)
                    break;
                if (kind == 1) {
                    i++;
                    continue;
                }
                uint8_t olen = s.opt[i + 1];
                if (olen < 2 || i + olen > s.optlen)
                    break;
                if (kind == 2 && olen == 4)
                    c->peer_mss = hvmk_get16(s.opt + i + 2);
                i += olen;
            }
            if (c->peer_mss < 536 || c->peer_mss > HVMK_TCP_OUR_MSS)
                c->peer_mss = c->peer_mss < 536 ? 536 : HVMK_TCP_OUR_MSS;
            c->snd_una = c->snd_nxt = c->iss + 1;
            c->snd_end += c->snd_nxt;
            c->snd_wnd = s.win;
            c->rcv_nxt = s.seq + 1;
            return hvmk_tcp_send_ack(c, HVMK_TCP_ACK) == 0;
        }
    }
    gp_snprintf(why, wlen, "no SYN-ACK to 5 SYNs");
    return false;
}

/* Run the connection until our data and FIN are acknowledged and the
 * peer's FIN came, or the deadline. */
static bool hvmk_tcp_run(struct hvmk_tcp *c, uint64_t deadline, char *why, unsigned wlen)
{
    uint32_t progress_una = c->snd_una;
    uint64_t progress_at = hvmk_now_ns();
    for (;;) {
        /* Done once both sides' data and FINs are acknowledged: a RST after
         * that (our go-back-N resent a segment, on a slow machine, to a peer
         * that had closed) ends nothing that was still open. */
        if (c->fin_sent && c->snd_una == c->snd_end + 1 && c->fin_rcvd)
            return true;
        if (c->reset)
            break;
        bool data_done = c->snd_una == c->snd_end;
        if (data_done && !c->fin_sent) {
            if (hvmk_tcp_send_ack(c, HVMK_TCP_FIN | HVMK_TCP_ACK) != 0)
                break;
            c->snd_nxt++;
            c->fin_sent = true;
        }
        if (!c->fin_sent && c->snd_nxt != c->snd_end && hvmk_tcp_output(c) != 0)
            break;
        uint64_t now = hvmk_now_ns();
        if (now >= deadline)
            break;
        struct hvmk_frame f;
        while (hvmk_net_recv(c->n, &f, now + 20000000ull)) {
            hvmk_tcp_input(c, &f);
            if (__atomic_load_n(&c->n->rx_tail, __ATOMIC_ACQUIRE) == c->n->rx_head + 1)
                break;                 /* queue drained: go and send */
        }
        if (c->snd_una != progress_una) {
            progress_una = c->snd_una;
            progress_at = hvmk_now_ns();
        } else if (c->snd_una != c->snd_nxt && hvmk_now_ns() - progress_at > 1000000000ull) {
            /* nothing acknowledged for 1 s: go back and send again */
            c->retransmits++;
            if (c->fin_sent && c->snd_una == c->snd_end) {
                c->snd_nxt = c->snd_end;
                hvmk_tcp_send_ack(c, HVMK_TCP_FIN | HVMK_TCP_ACK);
                c->snd_nxt++;
            } else {
                c->snd_nxt = c->snd_una;
                c->fin_sent = false;
            }
            progress_at = hvmk_now_ns();
        }
    }
    gp_snprintf(why, wlen, "%s: %u of %u bytes acknowledged, fin sent %d received %d, "
                "%u bytes received", c->reset ? "reset by the peer" : "stalled",
                c->snd_una - c->iss - 1, c->snd_end - c->iss - 1, c->fin_sent, c->fin_rcvd,
                c->rlen);
    return false;
}

bool hvmk_net_tcp_exchange(struct hvmk_net *n, uint16_t port, uint32_t total, char *why,
                           unsigned wlen)
{
    struct hvmk_tcp c = { .n = n, .sport = 43210, .dport = port, .iss = 0x6a5c0000u,
                          .snd_end = total };
    c.rcap = total + 64;
    c.rbuf = hvmk_malloc(c.rcap);
    if (!c.rbuf) {
        gp_snprintf(why, wlen, "no memory");
        return false;
    }
    bool ok = hvmk_tcp_connect(&c, why, wlen);
    uint64_t t0 = hvmk_now_ns();
    if (ok)
        ok = hvmk_tcp_run(&c, t0 + 60000000000ull, why, wlen);
    uint64_t ms = (hvmk_now_ns() - t0) / 1000000;
    if (ok) {
        /* "<bytes> <crc32 in hex>\n" then the bytes back */
        uint32_t crc = 0;
        for (uint32_t i = 0; i < total; i++) {
            uint8_t b = hvmk_tcp_pattern(i);
            crc = hvmk_crc32(crc, &b, 1);
        }
        char expect[40];
        gp_snprintf(expect, sizeof(expect), "%u %08x\n", total, crc);
        uint32_t hlen = (uint32_t)strlen(expect);
        bool head_ok = c.rlen >= hlen && memcmp(c.rbuf, expect, hlen) == 0;
        uint32_t back = c.rlen >= hlen ? c.rlen - hlen : 0, bad = 0;
        for (uint32_t i = 0; i < back && i < total; i++)
            bad += c.rbuf[hlen + i] != hvmk_tcp_pattern(i);
        ok = head_ok && back == total && bad == 0 && c.bad_csum == 0;
        char got[40] = "";
        uint32_t k = c.rlen < hlen ? c.rlen : hlen;
        if (k && c.rbuf[k - 1] == '\n')
            k--;
        for (uint32_t i = 0; i < k && i + 1 < sizeof(got); i++)
            got[i] = (c.rbuf[i] >= 32 && c.rbuf[i] < 127) ? (char)c.rbuf[i] : '.';
        gp_snprintf(why, wlen, "%u B sent in %u frames (%u GSO, largest %u B, mss %u, %u "
                    "retransmits); dom0 counted '%s' (%s); %u B back, %u differ; %u bad "
                    "checksums; %llu ms", total, c.frames, c.gso_frames, c.largest_gso,
                    c.peer_mss, c.retransmits, got, head_ok ? "= ours" : "MISMATCH", back, bad,
                    c.bad_csum, (unsigned long long)ms);
    }
    hvmk_mfree(c.rbuf);
    return ok;
}
