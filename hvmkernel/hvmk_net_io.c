/* hvmkernel network I/O over the core's netfront: the receive queue the rx
 * callback fills (from the event-channel upcall), synchronous transmit,
 * the ARP responder and request, and IPv4 framing helpers. */
#include <string.h>

#include "gplpv/log.h"
#include "gplpv/netpkt.h"
#include "hvmk.h"
#include "hvmk_net.h"
#include "hvmk_platform.h"

static volatile uint32_t hvmk_net_rx_lock_word;

uint16_t hvmk_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t hvmk_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void hvmk_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void hvmk_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* The Internet checksum to store over p[0..len), 'acc' adding 16-bit
 * network-order words (a pseudo-header) as host values. */
uint16_t hvmk_inet_csum(const void *p, uint32_t len, uint64_t acc)
{
    struct netpkt_frag f = { (void *)(uintptr_t)p, len };
    return (uint16_t)~netpkt_fold(netpkt_sum(&f, 1, 0, len, acc));
}

static uint32_t hvmk_crc_table[256];

/* CRC-32 as zlib and busybox crc32 compute it (reflected 0xEDB88320). */
uint32_t hvmk_crc32(uint32_t crc, const void *p, uint32_t len)
{
    if (!hvmk_crc_table[1]) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
            hvmk_crc_table[i] = c;
        }
    }
    const uint8_t *b = p;
    crc = ~crc;
    for (uint32_t i = 0; i < len; i++)
        crc = hvmk_crc_table[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- receive ----------------------------------------------------------- */

/* [any] netfront's rx callback: copy the frame into the queue (the heap
 * allocator is safe here: it runs with interrupts off). */
static void hvmk_net_rx(void *arg, const struct netfront_rx *fr)
{
    struct hvmk_net *n = arg;
    uint8_t *buf = fr->len <= NETPKT_MAX_FRAME ? hvmk_malloc(fr->len) : NULL;
    uint64_t fl = hvmk_irq_save();
    while (__atomic_exchange_n(&hvmk_net_rx_lock_word, 1, __ATOMIC_ACQUIRE))
        __asm__ volatile("pause");
    unsigned head = __atomic_load_n(&n->rx_head, __ATOMIC_ACQUIRE);
    unsigned tail = n->rx_tail;
    if (tail - head >= HVMK_NET_RXQ || !buf) {
        n->rx_dropped++;
    } else {
        struct hvmk_net_slot *s = &n->rxq[tail % HVMK_NET_RXQ];
        s->buf = buf;
        buf = NULL;
        s->len = netpkt_read(fr->frags, fr->nfrags, 0, s->buf, fr->len);
        s->csum = fr->csum;
        s->gso = fr->gso;
        s->mss = fr->mss;
        if (fr->len > n->rx_largest)
            n->rx_largest = fr->len;
        if (fr->len > 1514)
            n->rx_big++;
        if (fr->gso != NETFRONT_GSO_NONE)
            n->rx_gso++;
        __atomic_store_n(&n->rx_tail, tail + 1, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&hvmk_net_rx_lock_word, 0, __ATOMIC_RELEASE);
    hvmk_irq_restore(fl);
    hvmk_mfree(buf);
}

static const uint8_t hvmk_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* An ARP request for our address: answer it; true if the frame was one. */
/* An ARP frame of ours (60 bytes, zeroed) to 'dst' for Ethernet/IPv4:
 * operation 'op' (1 request, 2 reply), our MAC and IP as the sender; the
 * target's addresses are left to the caller.  Returns the ARP payload. */
static uint8_t *hvmk_net_arp_frame(struct hvmk_net *n, uint8_t r[60], const uint8_t *dst,
                                   uint16_t op)
{
    memset(r, 0, 60);
    memcpy(r, dst, 6);
    memcpy(r + 6, n->mac, 6);
    hvmk_put16(r + 12, HVMK_ETH_ARP);
    uint8_t *a = r + 14;
    hvmk_put16(a, 1);
    hvmk_put16(a + 2, HVMK_ETH_IP);
    a[4] = 6;
    a[5] = 4;
    hvmk_put16(a + 6, op);
    memcpy(a + 8, n->mac, 6);
    hvmk_put32(a + 14, n->ip);
    return a;
}

static bool hvmk_net_arp_answer(struct hvmk_net *n, const uint8_t *f, uint32_t len)
{
    if (len < 42 || hvmk_get16(f + 12) != HVMK_ETH_ARP)
        return false;
    const uint8_t *a = f + 14;
    if (hvmk_get16(a) != 1 || hvmk_get16(a + 2) != HVMK_ETH_IP || a[4] != 6 || a[5] != 4 ||
        hvmk_get16(a + 6) != 1 || hvmk_get32(a + 24) != n->ip)
        return false;
    uint8_t r[60];
    uint8_t *ra = hvmk_net_arp_frame(n, r, a + 8, 2);
    memcpy(ra + 18, a + 8, 10);          /* their hardware and protocol address */
    hvmk_net_send(n, r, sizeof(r), 0, NETFRONT_GSO_NONE, 0);
    n->arp_answered++;
    return true;
}

bool hvmk_net_recv(struct hvmk_net *n, struct hvmk_frame *f, uint64_t deadline_ns)
{
    for (;;) {
        if (n->rx_holding) {
            struct hvmk_net_slot *done = &n->rxq[n->rx_head % HVMK_NET_RXQ];
            hvmk_mfree(done->buf);
            done->buf = NULL;
            __atomic_store_n(&n->rx_head, n->rx_head + 1, __ATOMIC_RELEASE);
            n->rx_holding = false;
        }
        while (__atomic_load_n(&n->rx_tail, __ATOMIC_ACQUIRE) == n->rx_head) {
            if (hvmk_now_ns() >= deadline_ns)
                return false;
            hvmk_platform_poll();
            hvmk_idle();
        }
        struct hvmk_net_slot *s = &n->rxq[n->rx_head % HVMK_NET_RXQ];
        n->rx_holding = true;
        if (hvmk_net_arp_answer(n, s->buf, s->len))
            continue;
        f->data = s->buf;
        f->len = s->len;
        f->csum = s->csum;
        f->gso = s->gso;
        f->mss = s->mss;
        return true;
    }
}

/* ---- transmit ------------------------------------------------------------ */

struct hvmk_net_txw {
    struct netfront_tx t;
    struct netpkt_frag frag;
    volatile int done;
    volatile int status;
};

static void hvmk_net_tx_done(void *arg, struct netfront_tx *t, int status)
{
    struct hvmk_net_txw *w = arg;
    (void)t;
    w->status = status;
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
}

int hvmk_net_send(struct hvmk_net *n, const void *frame, uint32_t len, unsigned flags,
                  enum netfront_gso gso, uint16_t mss)
{
    /* On the heap: a frame that never completes keeps its descriptor. */
    struct hvmk_net_txw *w = hvmk_malloc(sizeof(*w));
    if (!w)
        return GP_ENOMEM;
    w->frag.va = (void *)(uintptr_t)frame;
    w->frag.len = len;
    w->t = (struct netfront_tx){ .frags = &w->frag, .nfrags = 1, .len = len, .flags = flags,
                                 .gso = gso, .mss = mss, .done = hvmk_net_tx_done, .arg = w };
    int err = netfront_send(n->nf, &w->t);
    if (err) {
        hvmk_mfree(w);
        return err;
    }
    uint64_t deadline = hvmk_now_ns() + 5000000000ull;
    while (!__atomic_load_n(&w->done, __ATOMIC_ACQUIRE) && hvmk_now_ns() < deadline) {
        hvmk_platform_poll();
        hvmk_idle();
    }
    if (!__atomic_load_n(&w->done, __ATOMIC_ACQUIRE))
        return GP_ETIMEDOUT;             /* w stays allocated: netfront still owns it */
    err = w->status;
    hvmk_mfree(w);
    return err;
}

/* ---- IPv4 and ARP ------------------------------------------------------ */

uint32_t hvmk_net_ip_header(struct hvmk_net *n, uint8_t *f, uint8_t proto, uint32_t l4_len,
                            uint16_t id, uint16_t frag)
{
    memcpy(f, n->peer_mac_known ? n->peer_mac : hvmk_bcast, 6);
    memcpy(f + 6, n->mac, 6);
    hvmk_put16(f + 12, HVMK_ETH_IP);
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    ip[1] = 0;
    hvmk_put16(ip + 2, (uint16_t)(20 + l4_len));
    hvmk_put16(ip + 4, id);
    hvmk_put16(ip + 6, frag);
    ip[8] = 64;
    ip[9] = proto;
    hvmk_put16(ip + 10, 0);
    hvmk_put32(ip + 12, n->ip);
    hvmk_put32(ip + 16, n->peer_ip);
    hvmk_put16(ip + 10, hvmk_inet_csum(ip, 20, 0));
    return 34;
}

bool hvmk_net_ip_parse(struct hvmk_net *n, const struct hvmk_frame *f, struct hvmk_ip_view *v)
{
    const uint8_t *p = f->data;
    if (f->len < 34 || hvmk_get16(p + 12) != HVMK_ETH_IP || memcmp(p, n->mac, 6) != 0)
        return false;
    const uint8_t *ip = p + 14;
    unsigned ihl = (ip[0] & 15u) * 4u;
    uint32_t total = hvmk_get16(ip + 2);
    if ((ip[0] >> 4) != 4 || ihl < 20 || total < ihl || total > f->len - 14)
        return false;
    if (hvmk_inet_csum(ip, ihl, 0) != 0)     /* a valid header sums to 0xffff */
        return false;
    if (hvmk_get32(ip + 12) != n->peer_ip || hvmk_get32(ip + 16) != n->ip)
        return false;
    v->l4_off = 14 + ihl;
    v->l4_len = total - ihl;
    v->proto = ip[9];
    v->id = hvmk_get16(ip + 4);
    v->frag = hvmk_get16(ip + 6);
    return true;
}

bool hvmk_net_arp(struct hvmk_net *n, char *why, unsigned wlen)
{
    uint8_t r[60];
    uint8_t *a = hvmk_net_arp_frame(n, r, hvmk_bcast, 1);
    hvmk_put32(a + 24, n->peer_ip);
    for (int attempt = 0; attempt < 5; attempt++) {
        int err = hvmk_net_send(n, r, sizeof(r), 0, NETFRONT_GSO_NONE, 0);
        if (err) {
            gp_snprintf(why, wlen, "sending the ARP request: %s", gp_strerror(err));
            return false;
        }
        uint64_t deadline = hvmk_now_ns() + 1000000000ull;
        struct hvmk_frame f;
        while (hvmk_net_recv(n, &f, deadline)) {
            const uint8_t *p = f.data, *ra = p + 14;
            if (f.len < 42 || hvmk_get16(p + 12) != HVMK_ETH_ARP || hvmk_get16(ra + 6) != 2)
                continue;
            if (hvmk_get16(ra) != 1 || hvmk_get16(ra + 2) != HVMK_ETH_IP || ra[4] != 6 ||
                ra[5] != 4 || hvmk_get32(ra + 14) != n->peer_ip)
                continue;
            bool to_us = memcmp(p, n->mac, 6) == 0 && memcmp(ra + 18, n->mac, 6) == 0 &&
                         hvmk_get32(ra + 24) == n->ip;
            bool sane = memcmp(p + 6, ra + 8, 6) == 0 && !(ra[8] & 1);
            if (!to_us || !sane) {
                gp_snprintf(why, wlen, "ARP reply not addressed to us or inconsistent");
                return false;
            }
            memcpy(n->peer_mac, ra + 8, 6);
            n->peer_mac_known = true;
            const uint8_t *m = n->peer_mac;
            gp_snprintf(why, wlen, "%u.%u.%u.%u is at %02x:%02x:%02x:%02x:%02x:%02x "
                        "(after %d request(s))", n->peer_ip >> 24, (n->peer_ip >> 16) & 255,
                        (n->peer_ip >> 8) & 255, n->peer_ip & 255, m[0], m[1], m[2], m[3],
                        m[4], m[5], attempt + 1);
            return true;
        }
    }
    gp_snprintf(why, wlen, "no ARP reply to 5 requests");
    return false;
}

/* ---- open and close -------------------------------------------------- */

void hvmk_net_close(struct hvmk_net *n)
{
    if (!n)
        return;
    if (n->nf)
        netfront_destroy(n->nf);
    for (unsigned i = 0; i < HVMK_NET_RXQ; i++)
        hvmk_mfree(n->rxq[i].buf);       /* the frames still queued */
    hvmk_mfree(n->tx);
    hvmk_mfree(n);
}

int hvmk_net_open(const struct gp_platform *p, struct xs_client *xs, const char *node,
                  const struct netfront_opts *o, uint32_t ip, uint32_t peer_ip,
                  struct hvmk_net **out)
{
    struct hvmk_net *n = hvmk_malloc(sizeof(*n));
    if (!n)
        return GP_ENOMEM;
    n->ip = ip;
    n->peer_ip = peer_ip;
    n->xs = xs;
    gp_snprintf(n->node, sizeof(n->node), "%s", node);
    n->tx = hvmk_malloc(NETPKT_MAX_FRAME);
    if (!n->tx) {
        hvmk_net_close(n);
        return GP_ENOMEM;
    }
    struct netfront_opts opts = { 0 };
    if (o)
        opts = *o;
    opts.rx = hvmk_net_rx;
    opts.arg = n;
    int err = netfront_create(p, xs, node, &opts, &n->nf);
    if (!err)
        err = netfront_connect(n->nf, GP_S(20));
    if (err) {
        hvmk_net_close(n);
        return err;
    }
    netfront_get_info(n->nf, &n->info);
    memcpy(n->mac, n->info.mac, 6);
    *out = n;
    return 0;
}
