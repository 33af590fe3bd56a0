/*
 * netfront_tx: the transmit data path.  Frames wait in a FIFO per queue;
 * each becomes one wire frame (or, with software GSO, one per segment)
 * copied into the queue's granted pages, one ring slot per page, plus an
 * extra-info slot for GSO.  Responses are validated; a frame completes
 * once, when the last of its slots is back.  A backend that breaks the
 * protocol fails the device: every frame completes with GP_EIO.
 */
#include <string.h>

#include "netfront_internal.h"

#define NETFRONT_TX_MAX_PAGES ((NETPKT_MAX_FRAME + GP_PAGE_SIZE - 1) / GP_PAGE_SIZE)

int netfront_tx_pages_alloc(struct netfront_queue *q)
{
    const struct gp_platform *p = q->nf->plat;
    int err = netfront_pages_alloc(q->nf, q->tx_pages, NETFRONT_TX_SLOTS);
    if (err)
        return err;
    if (!q->scratch)
        q->scratch = gp_zalloc(p, NETPKT_MAX_FRAME);
    return q->scratch ? 0 : GP_ENOMEM;
}

void netfront_tx_reset(struct netfront_queue *q)
{
    memset(q->tx_ring_va, 0, GP_PAGE_SIZE);
    SHARED_RING_INIT((netif_tx_sring_t *)q->tx_ring_va);
    FRONT_RING_INIT(&q->tx, (netif_tx_sring_t *)q->tx_ring_va, GP_PAGE_SIZE);
    q->tx_nfree = 0;
    for (unsigned i = NETFRONT_TX_SLOTS; i-- > 0;) {
        q->tx_shadow[i].in_use = false;
        q->tx_shadow[i].parent = NULL;
        q->tx_free[q->tx_nfree++] = (uint16_t)i;
    }
    q->tx_extras = 0;
    q->tx_gone = false;
}

/* ---- building requests --------------------------------------------------------- */

static bool netfront_tx_sw_gso(const struct netfront *nf, const struct netfront_tx *t)
{
    if (t->gso == NETFRONT_GSO_NONE)
        return false;
    if (!nf->info.sg && t->len > GP_PAGE_SIZE)
        return true;
    return t->gso == NETFRONT_GSO_TCPV4 ? !nf->info.gso_tcpv4 : !nf->info.gso_tcpv6;
}

/* Put one wire frame (src, len bytes) on the ring; false when the ring or
 * the pages are short (nothing is consumed then). */
static bool netfront_tx_put(struct netfront_queue *q, struct netfront_tx *t,
                            const struct netpkt_frag *src, unsigned nsrc, uint32_t len,
                            unsigned csum_flags, bool sw_csum, bool gso)
{
    struct netfront *nf = q->nf;
    unsigned npages = (len + GP_PAGE_SIZE - 1) / GP_PAGE_SIZE;
    unsigned nslots = npages + (gso ? 1u : 0u);
    unsigned ring_free = RING_SIZE(&q->tx) - (q->tx.req_prod_pvt - q->tx.rsp_cons);
    if (q->tx_nfree < npages || ring_free < nslots)
        return false;
    uint16_t ids[NETFRONT_TX_MAX_PAGES];
    struct netpkt_frag wire[NETFRONT_TX_MAX_PAGES];
    for (unsigned k = 0; k < npages; k++) {
        ids[k] = q->tx_free[--q->tx_nfree];
        uint32_t chunk = len - k * GP_PAGE_SIZE;
        if (chunk > GP_PAGE_SIZE)
            chunk = GP_PAGE_SIZE;
        struct netfront_page *pg = &q->tx_pages[ids[k]];
        wire[k].va = pg->va;
        wire[k].len = chunk;
        netpkt_read(src, nsrc, k * GP_PAGE_SIZE, wire[k].va, chunk);
        /* The grant shows the backend the whole page: what an earlier,
         * longer frame left beyond this one's data is wiped (XSA-403). */
        if (pg->used > chunk)
            memset((uint8_t *)pg->va + chunk, 0, pg->used - chunk);
        pg->used = chunk;
    }
    if (csum_flags || sw_csum) {
        /* The checksum field is ours to set on our copy: the full checksum
         * when the backend cannot offload it, else the pseudo-header sum
         * a checksum-offloading peer starts from. */
        struct netpkt_info pi;
        if (netpkt_parse(wire, npages, len, &pi) == 0)
            sw_csum ? netpkt_csum_fill(wire, npages, &pi) : netpkt_csum_partial(wire, npages, &pi);
        if (sw_csum)
            netfront_count(nf, &nf->stats.tx_sw_csum, 1);
    }
    for (unsigned k = 0; k < npages; k++) {
        netif_tx_request_t *req = RING_GET_REQUEST(&q->tx, q->tx.req_prod_pvt);
        q->tx.req_prod_pvt++;
        req->gref = q->tx_pages[ids[k]].ref;
        req->offset = 0;
        req->id = ids[k];
        req->size = (uint16_t)(k == 0 ? len : wire[k].len);
        uint16_t flags = k + 1 < npages ? NETTXF_more_data : 0;
        if (k == 0)
            flags |= (uint16_t)csum_flags | (gso ? NETTXF_extra_info : 0);
        req->flags = flags;
        q->tx_shadow[ids[k]].in_use = true;
        q->tx_shadow[ids[k]].parent = t;
        netfront_own(t)->pending++;
        if (k == 0 && gso) {
            netif_extra_info_t *x = (netif_extra_info_t *)RING_GET_REQUEST(&q->tx,
                                                                          q->tx.req_prod_pvt);
            q->tx.req_prod_pvt++;
            memset(x, 0, sizeof(*x));
            x->type = XEN_NETIF_EXTRA_TYPE_GSO;
            x->u.gso.size = t->mss;
            x->u.gso.type = t->gso == NETFRONT_GSO_TCPV4 ? XEN_NETIF_GSO_TYPE_TCPV4
                                                         : XEN_NETIF_GSO_TYPE_TCPV6;
            q->tx_extras++;
        }
    }
    netfront_count(nf, &nf->stats.tx_slots, nslots);
    return true;
}

/* Issue as much of frame t as fits; true when all of it is on the ring. */
static bool netfront_tx_build(struct netfront_queue *q, struct netfront_tx *t)
{
    struct netfront *nf = q->nf;
    struct netfront_tx_own *o = netfront_own(t);
    bool v6 = t->gso == NETFRONT_GSO_TCPV6;
    if (o->seg_next == 0) {
        /* Nothing of it is on the wire yet: decide with the features of
         * the backend connected now (a reconnect may have changed them);
         * once a segment is out, the frame carries on the way it began. */
        o->seg_count = 1;
        o->sw_gso = netfront_tx_sw_gso(nf, t);
        if (t->gso == NETFRONT_GSO_NONE && nf->info.max_tx_frame &&
            t->len > nf->info.max_tx_frame) {
            /* queued for a backend with scatter-gather; this one has none */
            o->status = GP_EIO;
            o->seg_next = 1;
            netfront_count(nf, &nf->stats.tx_errors, 1);
            gp_log_ratelimited(nf->plat, &nf->rl_tx, GP_LOG_WARN,
                               "netfront %s: a %u-byte frame is too large for the backend "
                               "now connected: failed", nf->dev.nodename, t->len);
            return true;
        }
        if (o->sw_gso) {
            struct netpkt_info pi;
            unsigned count = 0;
            if (netpkt_parse(t->frags, t->nfrags, t->len, &pi) != 0 ||
                netpkt_gso_count(&pi, t->mss, &count) != 0)
                count = 0;                  /* checked by netfront_send */
            o->seg_count = count ? count : 1;
        }
    }
    if (o->sw_gso) {
        struct netpkt_info pi;
        if (netpkt_parse(t->frags, t->nfrags, t->len, &pi) != 0)
            return true;
        while (o->seg_next < o->seg_count) {
            uint32_t seg_len = 0;
            if (netpkt_gso_segment(t->frags, t->nfrags, &pi, t->mss, o->seg_next, q->scratch,
                                   NETPKT_MAX_FRAME, &seg_len) != 0) {
                o->status = GP_EINVAL;
                o->seg_next = o->seg_count;
                break;
            }
            struct netpkt_frag s = { q->scratch, seg_len };
            if (!netfront_tx_put(q, t, &s, 1, seg_len, 0, false, false))
                return false;
            netfront_count(nf, &nf->stats.tx_sw_segments, 1);
            o->seg_next++;
        }
        return true;
    }
    bool want_csum = (t->flags & NETFRONT_TX_CSUM) != 0;
    bool offload = v6 ? nf->info.ipv6_csum_offload : nf->info.csum_offload;
    if (want_csum && t->gso == NETFRONT_GSO_NONE) {
        /* The IP version decides which offload applies. */
        struct netpkt_info pi;
        if (netpkt_parse(t->frags, t->nfrags, t->len, &pi) == 0 && pi.l3 == 6)
            offload = nf->info.ipv6_csum_offload;
    }
    bool gso = t->gso != NETFRONT_GSO_NONE;
    /* GSO frames always go with a blank checksum: the backend cuts them
     * and computes each segment's. */
    unsigned csum_flags = (want_csum && offload) || gso
                              ? (NETTXF_csum_blank | NETTXF_data_validated) : 0;
    bool sw_csum = want_csum && !offload && !gso;
    if (sw_csum)
        csum_flags = NETTXF_data_validated;   /* we computed it: the receiver may trust it */
    if (!netfront_tx_put(q, t, t->frags, t->nfrags, t->len, csum_flags, sw_csum, gso))
        return false;
    o->seg_next = 1;
    return true;
}

/* Move waiting frames onto the ring; tx_lock held.  Returns whether the
 * backend must be notified. */
static bool netfront_tx_fill(struct netfront_queue *q)
{
    struct netfront *nf = q->nf;
    RING_IDX before = q->tx.req_prod_pvt;
    while (q->wait_head && nf->connected && !nf->broken) {
        struct netfront_tx *t = q->wait_head;
        struct netfront_tx_own *o = netfront_own(t);
        if (!netfront_tx_build(q, t))
            break;
        q->wait_head = o->next;
        if (!q->wait_head)
            q->wait_tail = NULL;
        o->next = NULL;
        if (o->pending == 0) {       /* nothing of it reached the ring: done now */
            o->next = q->orphans;
            q->orphans = t;
        }
    }
    if (q->tx.req_prod_pvt == before)
        return false;
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->tx, notify);
    return notify != 0;
}

static void netfront_tx_complete(struct netfront_tx *done)
{
    /* callers hold no lock */
    while (done) {
        struct netfront_tx *t = done;
        done = netfront_own(t)->next;
        netfront_own(t)->next = NULL;
        t->done(t->arg, t, netfront_own(t)->status);
    }
}

static void netfront_tx_notify(struct netfront_queue *q)
{
    const struct gp_platform *p = q->nf->plat;
    netfront_count(q->nf, &q->nf->stats.tx_notifications, 1);
    gp_xen_evtchn_notify(p, q->tx_port);
}

/* Fill the ring from the waiting frames and release tx_lock; then, unlocked,
 * notify the backend if it must look and complete the frames that finished
 * without a slot. */
static void netfront_tx_fill_unlock(struct netfront_queue *q)
{
    bool notify = netfront_tx_fill(q);
    struct netfront_tx *orphans = q->orphans;
    q->orphans = NULL;
    gp_os_lock_release(q->nf->plat, q->tx_lock);
    if (notify)
        netfront_tx_notify(q);
    netfront_tx_complete(orphans);
}

void netfront_tx_kick(struct netfront_queue *q)
{
    gp_os_lock_acquire(q->nf->plat, q->tx_lock);
    netfront_tx_fill_unlock(q);
}

int netfront_tx_queue_frame(struct netfront_queue *q, struct netfront_tx *t)
{
    const struct gp_platform *p = q->nf->plat;
    gp_os_lock_acquire(p, q->tx_lock);
    if (q->nf->broken) {
        gp_os_lock_release(p, q->tx_lock);
        return GP_EIO;
    }
    if (!q->active) {                 /* a reconnect dropped this queue meanwhile */
        gp_os_lock_release(p, q->tx_lock);
        return GP_EAGAIN;
    }
    if (q->wait_tail)
        netfront_own(q->wait_tail)->next = t;
    else
        q->wait_head = t;
    q->wait_tail = t;
    netfront_tx_fill_unlock(q);
    return 0;
}

/* ---- responses ------------------------------------------------------------------- */

/* Answers on a ring given up by a restart (tx_lock held): the frames they
 * belonged to completed when the ring was given up and their slots are
 * free, so they answer nothing; they are counted and skipped unread, never
 * taken for a protocol violation (a backend going away finishes what it
 * had in hand).  Nothing is written to the ring any more. */
static void netfront_tx_stale(struct netfront_queue *q)
{
    struct netfront *nf = q->nf;
    RING_IDX rp = __atomic_load_n(&q->tx.sring->rsp_prod, __ATOMIC_ACQUIRE);
    RING_IDX n = rp - q->tx.rsp_cons;
    if (n == 0 || n > RING_SIZE(&q->tx))
        return;                       /* nothing, or nonsense: the ring is gone anyway */
    q->tx.rsp_cons = rp;
    netfront_count(nf, &nf->stats.tx_stale_responses, n);
    gp_log_ratelimited(nf->plat, &nf->rl_tx, GP_LOG_INFO,
                       "netfront %s: queue %u: %u answer(s) on the tx ring given up at the "
                       "restart: ignored", nf->dev.nodename, q->index, (unsigned)n);
}

void netfront_tx_event(struct netfront_queue *q)
{
    struct netfront *nf = q->nf;
    const struct gp_platform *p = nf->plat;
    struct netfront_tx *done = NULL, **done_tail = &done;
    bool fatal = false;
    gp_os_lock_acquire(p, q->tx_lock);
    if (q->tx_gone) {
        netfront_tx_stale(q);
        gp_os_lock_release(p, q->tx_lock);
        return;
    }
    int more = 0;
    do {
        RING_IDX rp = __atomic_load_n(&q->tx.sring->rsp_prod, __ATOMIC_ACQUIRE);
        RING_IDX cons = q->tx.rsp_cons;
        if (rp - cons > q->tx.req_prod_pvt - cons) {
            netfront_fatal(nf, "tx responses beyond requests", rp - cons,
                           q->tx.req_prod_pvt - cons);
            fatal = true;
            break;
        }
        for (; cons != rp; cons++) {
            netif_tx_response_t rsp;
            memcpy(&rsp, RING_GET_RESPONSE(&q->tx, cons), sizeof(rsp));   /* read once */
            if (rsp.status == NETIF_RSP_NULL) {
                if (q->tx_extras == 0) {
                    netfront_fatal(nf, "tx NULL response without an extra slot", cons, 0);
                    fatal = true;
                    break;
                }
                q->tx_extras--;
                continue;
            }
            if (rsp.id >= NETFRONT_TX_SLOTS || !q->tx_shadow[rsp.id].in_use) {
                netfront_fatal(nf, "tx response with an unknown or duplicate id", rsp.id, 0);
                fatal = true;
                break;
            }
            if (rsp.status != NETIF_RSP_OKAY && rsp.status != NETIF_RSP_ERROR &&
                rsp.status != NETIF_RSP_DROPPED) {
                netfront_fatal(nf, "tx response with a bad status", rsp.id,
                               (uint16_t)rsp.status);
                fatal = true;
                break;
            }
            struct netfront_tx_shadow *s = &q->tx_shadow[rsp.id];
            struct netfront_tx *t = s->parent;
            struct netfront_tx_own *o = netfront_own(t);
            s->in_use = false;
            s->parent = NULL;
            q->tx_free[q->tx_nfree++] = rsp.id;
            if (rsp.status != NETIF_RSP_OKAY && o->status == 0) {
                o->status = GP_EIO;
                netfront_count(nf, &nf->stats.tx_errors, 1);
            }
            if (--o->pending == 0 && o->seg_next >= o->seg_count) {
                netfront_count(nf, &nf->stats.tx_frames, 1);
                *done_tail = t;
                done_tail = &o->next;
            }
        }
        q->tx.rsp_cons = cons;
        if (fatal)
            break;
        /* Completions are not urgent: ask to be woken when half of what is
         * outstanding is done, not for every response (fewer interrupts). */
        RING_IDX outstanding = q->tx.req_prod_pvt - cons;
        q->tx.sring->rsp_event = cons + (outstanding >> 1) + 1;
        xen_mb();
        more = RING_HAS_UNCONSUMED_RESPONSES(&q->tx);
    } while (more);
    bool notify = !fatal && netfront_tx_fill(q);
    *done_tail = q->orphans;
    q->orphans = NULL;
    gp_os_lock_release(p, q->tx_lock);
    if (notify)
        netfront_tx_notify(q);
    netfront_tx_complete(done);
    if (fatal)
        for (unsigned i = 0; i < nf->nqueues; i++)
            netfront_tx_fail_all(&nf->q[i], GP_EIO);
}

/* ---- disconnects -------------------------------------------------------------- */

/* Detach every frame on the ring (tx_lock held); they are returned as a
 * list with their slots released. */
static struct netfront_tx *netfront_tx_take_inflight(struct netfront_queue *q)
{
    struct netfront_tx *list = NULL;
    for (unsigned i = 0; i < NETFRONT_TX_SLOTS; i++) {
        struct netfront_tx_shadow *s = &q->tx_shadow[i];
        if (!s->in_use)
            continue;
        struct netfront_tx *t = s->parent;
        struct netfront_tx_own *o = netfront_own(t);
        s->in_use = false;
        s->parent = NULL;
        q->tx_free[q->tx_nfree++] = (uint16_t)i;
        if (o->pending == 0)
            continue;                 /* already listed */
        o->pending = 0;
        /* a frame still in the wait list (software GSO half issued) stays
         * there and carries on with its remaining segments */
        if (o->seg_next >= o->seg_count) {
            o->next = list;
            list = t;
        }
    }
    q->tx_extras = 0;
    return list;
}

void netfront_tx_abandon_ring(struct netfront_queue *q)
{
    const struct gp_platform *p = q->nf->plat;
    gp_os_lock_acquire(p, q->tx_lock);
    struct netfront_tx *list = netfront_tx_take_inflight(q);
    q->tx_gone = true;
    for (struct netfront_tx *t = q->wait_head; t; t = netfront_own(t)->next) {
        struct netfront_tx_own *o = netfront_own(t);
        if (o->seg_next > 0 && o->status == 0)
            o->status = GP_EIO;       /* some of its segments may be lost */
    }
    gp_os_lock_release(p, q->tx_lock);
    /* The backend may have sent them or not: sending them again could
     * duplicate them on the wire, so they complete as failed (the OS's
     * protocols retransmit what was lost). */
    while (list) {
        struct netfront_tx *t = list;
        list = netfront_own(t)->next;
        netfront_own(t)->next = NULL;
        netfront_count(q->nf, &q->nf->stats.tx_errors, 1);
        t->done(t->arg, t, GP_EIO);
    }
}

void netfront_tx_fail_all(struct netfront_queue *q, int status)
{
    const struct gp_platform *p = q->nf->plat;
    gp_os_lock_acquire(p, q->tx_lock);
    struct netfront_tx *list = netfront_tx_take_inflight(q);
    struct netfront_tx *w = q->wait_head;
    q->wait_head = q->wait_tail = NULL;
    gp_os_lock_release(p, q->tx_lock);
    while (w) {
        struct netfront_tx *t = w;
        w = netfront_own(t)->next;
        netfront_own(t)->next = list;
        list = t;
    }
    while (list) {
        struct netfront_tx *t = list;
        list = netfront_own(t)->next;
        netfront_own(t)->next = NULL;
        t->done(t->arg, t, status);
    }
}

struct netfront_tx *netfront_tx_set_active(struct netfront_queue *q, bool active)
{
    const struct gp_platform *p = q->nf->plat;
    struct netfront_tx *list = NULL;
    gp_os_lock_acquire(p, q->tx_lock);
    q->active = active || q->index == 0;
    if (!q->active) {
        list = q->wait_head;
        q->wait_head = q->wait_tail = NULL;
    }
    gp_os_lock_release(p, q->tx_lock);
    return list;
}

void netfront_tx_adopt(struct netfront_queue *q, struct netfront_tx *list)
{
    const struct gp_platform *p = q->nf->plat;
    unsigned n = 0;
    gp_os_lock_acquire(p, q->tx_lock);
    while (list) {
        struct netfront_tx *t = list;
        list = netfront_own(t)->next;
        netfront_own(t)->next = NULL;
        if (q->wait_tail)
            netfront_own(q->wait_tail)->next = t;
        else
            q->wait_head = t;
        q->wait_tail = t;
        n++;
    }
    gp_os_lock_release(p, q->tx_lock);
    netfront_count(q->nf, &q->nf->stats.tx_moved, n);
}
