/*
 * netfront_rx: the receive data path.  Every ring slot owns one page,
 * granted once; the backend copies frames into them (rx-copy).  Each
 * response is read once and validated before anything is done with it:
 * its id must be the one posted at that ring index, its data must lie in
 * the page, a frame may not run past the responses produced nor use more
 * slots than netback ever does, extra-info slots must be well formed.  A
 * bad frame is dropped and counted; its slots are posted again.
 */
#include <string.h>

#include "netfront_internal.h"

#define NETFRONT_RX_MASK (NETFRONT_RX_SLOTS - 1)
#define NETFRONT_RX_MAX_EXTRAS 4

int netfront_rx_pages_alloc(struct netfront_queue *q)
{
    return netfront_pages_alloc(q->nf, q->rx_pages, NETFRONT_RX_SLOTS);
}

/* Post the buffer of the next ring index (its page is fixed by the index). */
static void netfront_rx_post(struct netfront_queue *q)
{
    RING_IDX i = q->rx.req_prod_pvt++;
    netif_rx_request_t *req = RING_GET_REQUEST(&q->rx, i);
    req->id = (uint16_t)(i & NETFRONT_RX_MASK);
    req->pad = 0;
    req->gref = q->rx_pages[i & NETFRONT_RX_MASK].ref;
}

void netfront_rx_reset(struct netfront_queue *q)
{
    /* A new connection (perhaps another backend, after a migration) is
     * granted the buffers: what earlier connections received into them
     * is wiped first.  Within one connection a buffer holds only what
     * this backend wrote into it (and checksums we filled from that). */
    for (unsigned i = 0; i < NETFRONT_RX_SLOTS; i++)
        memset(q->rx_pages[i].va, 0, GP_PAGE_SIZE);
    memset(q->rx_ring_va, 0, GP_PAGE_SIZE);
    SHARED_RING_INIT((netif_rx_sring_t *)q->rx_ring_va);
    FRONT_RING_INIT(&q->rx, (netif_rx_sring_t *)q->rx_ring_va, GP_PAGE_SIZE);
    for (unsigned i = 0; i < NETFRONT_RX_SLOTS; i++)
        netfront_rx_post(q);
    q->rx_unposted = 0;
    RING_PUSH_REQUESTS(&q->rx);
}

struct netfront_rx_frame {
    struct netpkt_frag frags[NETFRONT_RX_MAX_SLOTS];
    unsigned nfrags;
    uint32_t len;
    uint16_t flags;                   /* of the first slot */
    enum netfront_gso gso;
    uint16_t mss;
    const char *bad;                  /* why the frame is dropped */
    uint64_t bad_value;
};

static void netfront_rx_bad(struct netfront_rx_frame *f, const char *why, uint64_t v)
{
    if (!f->bad) {
        f->bad = why;
        f->bad_value = v;
    }
}

/* Extra-info slots after the first response; returns the next index. */
static RING_IDX netfront_rx_extras(struct netfront_queue *q, RING_IDX cons, RING_IDX rp,
                                   struct netfront_rx_frame *f)
{
    for (unsigned n = 0;; n++) {
        if (cons == rp) {
            netfront_rx_bad(f, "extra info runs past the responses", n);
            return cons;
        }
        netif_extra_info_t x;
        memcpy(&x, RING_GET_RESPONSE(&q->rx, cons), sizeof(x));   /* read once */
        cons++;
        if (n >= NETFRONT_RX_MAX_EXTRAS) {
            netfront_rx_bad(f, "too many extra info slots", n);
        } else if (x.type == XEN_NETIF_EXTRA_TYPE_GSO) {
            if (x.u.gso.size == 0 || (x.u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4 &&
                                      x.u.gso.type != XEN_NETIF_GSO_TYPE_TCPV6))
                netfront_rx_bad(f, "bad GSO type or size", (uint64_t)x.u.gso.type << 16 |
                                                               x.u.gso.size);
            f->gso = x.u.gso.type == XEN_NETIF_GSO_TYPE_TCPV4 ? NETFRONT_GSO_TCPV4
                                                               : NETFRONT_GSO_TCPV6;
            f->mss = x.u.gso.size;
        } else if (x.type == XEN_NETIF_EXTRA_TYPE_NONE || x.type >= XEN_NETIF_EXTRA_TYPE_MAX) {
            netfront_rx_bad(f, "bad extra info type", x.type);
        }
        if (!(x.flags & XEN_NETIF_EXTRA_FLAG_MORE))
            return cons;
    }
}

/* Gather one frame starting at 'cons'; returns the index after it. */
static RING_IDX netfront_rx_gather(struct netfront_queue *q, RING_IDX cons, RING_IDX rp,
                                   struct netfront_rx_frame *f)
{
    memset(f, 0, sizeof(*f));
    for (unsigned slot = 0;; slot++) {
        RING_IDX idx = cons++;
        netif_rx_response_t rsp;
        memcpy(&rsp, RING_GET_RESPONSE(&q->rx, idx), sizeof(rsp));   /* read once */
        if (slot == 0)
            f->flags = rsp.flags;
        if (rsp.id != (idx & NETFRONT_RX_MASK))
            netfront_rx_bad(f, "rx response id is not the one posted", rsp.id);
        else if (rsp.status < 0)
            netfront_rx_bad(f, "backend reports an rx error", (uint16_t)rsp.status);
        else if ((uint32_t)rsp.offset + (uint32_t)rsp.status > GP_PAGE_SIZE)
            netfront_rx_bad(f, "rx data outside the page", (uint64_t)rsp.offset << 16 |
                                                            (uint16_t)rsp.status);
        else if (slot >= NETFRONT_RX_MAX_SLOTS)
            netfront_rx_bad(f, "frame uses too many slots", slot + 1);
        else if (!f->bad) {
            f->frags[f->nfrags].va = (uint8_t *)q->rx_pages[idx & NETFRONT_RX_MASK].va +
                                     rsp.offset;
            f->frags[f->nfrags].len = (uint32_t)rsp.status;
            f->nfrags++;
            f->len += (uint32_t)rsp.status;
        }
        if (slot == 0 && (rsp.flags & NETRXF_extra_info))
            cons = netfront_rx_extras(q, cons, rp, f);
        if (!(rsp.flags & NETRXF_more_data))
            return cons;
        if (cons == rp) {
            netfront_rx_bad(f, "frame runs past the responses", slot + 1);
            return cons;
        }
    }
}

/* Checksum and GSO state of a well-formed frame; false drops it. */
static bool netfront_rx_finish(struct netfront *nf, struct netfront_rx_frame *f,
                               struct netfront_rx *out)
{
    out->frags = f->frags;
    out->nfrags = f->nfrags;
    out->len = f->len;
    out->gso = f->gso;
    out->mss = f->mss;
    out->csum = NETFRONT_CSUM_UNKNOWN;
    if (f->len < NETPKT_ETH_HLEN || f->len > NETPKT_MAX_FRAME) {
        netfront_rx_bad(f, "bad frame length", f->len);
        return false;
    }
    bool blank = f->flags & NETRXF_csum_blank;
    bool need_parse = blank || f->gso != NETFRONT_GSO_NONE || nf->opts.rx_verify_csum;
    struct netpkt_info pi;
    if (need_parse && netpkt_parse(f->frags, f->nfrags, f->len, &pi) != 0) {
        if (blank || f->gso != NETFRONT_GSO_NONE) {
            netfront_rx_bad(f, "malformed frame with offloads", f->len);
            return false;
        }
        return true;                  /* the OS will make of it what it can */
    }
    if (f->gso != NETFRONT_GSO_NONE &&
        (pi.l4 != NETPKT_PROTO_TCP || pi.fragment || !pi.l4_hlen ||
         pi.l3 != (f->gso == NETFRONT_GSO_TCPV4 ? 4 : 6))) {
        netfront_rx_bad(f, "GSO frame is not TCP of its IP version", pi.l4);
        return false;
    }
    if (blank) {
        /* The sender left the checksum to be done: do it, the OS expects
         * a complete frame. */
        if (netpkt_csum_fill(f->frags, f->nfrags, &pi) != 0) {
            netfront_rx_bad(f, "blank checksum on a frame that is not TCP or UDP", pi.l4);
            return false;
        }
        netfront_count(nf, &nf->stats.rx_csum_filled, 1);
        out->csum = NETFRONT_CSUM_GOOD;
    } else if (f->flags & NETRXF_data_validated) {
        out->csum = NETFRONT_CSUM_GOOD;
    } else if (nf->opts.rx_verify_csum) {
        bool ok = false;
        if (netpkt_csum_verify(f->frags, f->nfrags, &pi, &ok) == 0) {
            out->csum = ok ? NETFRONT_CSUM_GOOD : NETFRONT_CSUM_BAD;
            if (!ok)
                netfront_count(nf, &nf->stats.rx_csum_bad, 1);
        }
    }
    return true;
}

void netfront_rx_event(struct netfront_queue *q)
{
    struct netfront *nf = q->nf;
    const struct gp_platform *p = nf->plat;
    bool notify_backend = false, fatal = false;
    gp_os_lock_acquire(p, q->rx_lock);
    int more = 0;
    do {
        RING_IDX rp = __atomic_load_n(&q->rx.sring->rsp_prod, __ATOMIC_ACQUIRE);
        RING_IDX cons = q->rx.rsp_cons;
        if (rp - cons > q->rx.req_prod_pvt - cons) {
            netfront_fatal(nf, "rx responses beyond the buffers posted", rp - cons,
                           q->rx.req_prod_pvt - cons);
            fatal = true;
            break;
        }
        while (cons != rp) {
            struct netfront_rx_frame f;
            RING_IDX next = netfront_rx_gather(q, cons, rp, &f);
            struct netfront_rx out;
            out.queue = q->index;
            if (!f.bad && netfront_rx_finish(nf, &f, &out) && nf->opts.rx) {
                netfront_count(nf, &nf->stats.rx_frames, 1);
                nf->opts.rx(nf->opts.arg, &out);
            } else if (f.bad) {
                netfront_count(nf, &nf->stats.rx_dropped, 1);
                /* The backend chooses how many: a bounded log, every drop counted. */
                gp_log_ratelimited(p, &nf->rl_rx, GP_LOG_WARN,
                                   "netfront %s: rx frame dropped: %s (%llu)", nf->dev.nodename,
                                   f.bad, (unsigned long long)f.bad_value);
            }
            netfront_count(nf, &nf->stats.rx_slots, next - cons);
            q->rx_unposted += next - cons;    /* their pages are ours again */
            cons = next;
        }
        q->rx.rsp_cons = cons;
        /* Post buffers back in batches (each batch may wake the backend),
         * at once when the backend runs short. */
        if (q->rx_unposted >= NETFRONT_RX_SLOTS / 4 ||
            q->rx.req_prod_pvt - cons < NETFRONT_RX_SLOTS / 2) {
            for (; q->rx_unposted; q->rx_unposted--)
                netfront_rx_post(q);
        }
        int notify;
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->rx, notify);
        notify_backend |= notify != 0;
        RING_FINAL_CHECK_FOR_RESPONSES(&q->rx, more);
    } while (more);
    gp_os_lock_release(p, q->rx_lock);
    if (notify_backend && !fatal) {
        netfront_count(nf, &nf->stats.rx_notifications, 1);
        gp_xen_evtchn_notify(p, q->rx_port);
    }
    if (fatal)
        for (unsigned i = 0; i < nf->nqueues; i++)
            netfront_tx_fail_all(&nf->q[i], GP_EIO);
}
