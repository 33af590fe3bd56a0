/*
 * blkfront_ring: the data path.  Requests wait in a FIFO; each becomes one
 * or more ring requests (direct up to 11 segments, indirect beyond) whose
 * data goes through pool pages; responses are validated, copied back and
 * counted against their parent, which completes once, when all its pieces
 * are back.  A protocol violation fails the device, never the machine.
 */
#include <string.h>

#include "blkfront_internal.h"

#define BLKFRONT_NO_ID 0xffffu

/* ---- pool ----------------------------------------------------------------- */

static int blkfront_page_get(struct blkfront *bf)
{
    return bf->pool_nfree ? bf->pool_free[--bf->pool_nfree] : -1;
}

static void blkfront_page_put(struct blkfront *bf, uint16_t i)
{
    bf->pool_free[bf->pool_nfree++] = i;
}

/* ---- scatter-gather copies --------------------------------------------------- */

/* Copy len bytes between buf and the request's SG list at byte offset off. */
static void blkfront_sg_copy(const struct blkfront_req *r, uint64_t off, void *buf, uint32_t len,
                             bool to_sg)
{
    char *b = buf;
    for (unsigned i = 0; i < r->nsg && len; i++) {
        uint32_t seglen = r->sg[i].len;
        if (off >= seglen) {
            off -= seglen;
            continue;
        }
        uint32_t n = seglen - (uint32_t)off;
        if (n > len)
            n = len;
        char *s = (char *)r->sg[i].va + off;
        if (to_sg)
            memcpy(s, b, n);
        else
            memcpy(b, s, n);
        b += n;
        len -= n;
        off = 0;
    }
}

/* ---- ring ------------------------------------------------------------------------ */

static int blkfront_free_id(struct blkfront *bf, struct blkfront_queue *q)
{
    (void)bf;
    for (unsigned i = 0; i < q->nslots; i++)
        if (!q->shadow[i].in_use)
            return (int)i;
    return -1;
}

static uint32_t blkfront_units(const struct blkfront_req *r)
{
    return (r->op == BLKFRONT_READ || r->op == BLKFRONT_WRITE) ? r->nr_sectors : 1;
}

/* Put one ring request for (parent, off, n) on the ring; false if a
 * resource (slot, id, pages) is missing. */
static bool blkfront_build(struct blkfront *bf, struct blkfront_queue *q, struct blkfront_req *r,
                           uint32_t off, uint32_t n)
{
    const struct gp_platform *p = bf->plat;
    if (RING_FULL(&q->ring))
        return false;
    int id = blkfront_free_id(bf, q);
    if (id < 0)
        return false;
    struct blkfront_shadow *s = &q->shadow[id];
    blkif_request_t *req = RING_GET_REQUEST(&q->ring, q->ring.req_prod_pvt);

    if (r->op == BLKFRONT_FLUSH || r->op == BLKFRONT_DISCARD) {
        memset(req, 0, sizeof(*req));
        *s = (struct blkfront_shadow){ .in_use = true, .parent = r, .pages = s->pages };
        if (r->op == BLKFRONT_DISCARD) {
            blkif_request_discard_t *d = (blkif_request_discard_t *)req;
            d->operation = BLKIF_OP_DISCARD;
            d->flag = r->discard_secure && bf->info.discard_secure ? BLKIF_DISCARD_SECURE : 0;
            d->handle = bf->handle;
            d->id = (uint64_t)id;
            d->sector_number = r->sector;
            d->nr_sectors = r->nr_sectors;
            s->op = BLKIF_OP_DISCARD;
        } else {
            req->operation = bf->info.flush ? BLKIF_OP_FLUSH_DISKCACHE : BLKIF_OP_WRITE_BARRIER;
            req->handle = bf->handle;
            req->id = (uint64_t)id;
            req->sector_number = r->sector;
            s->op = req->operation;
        }
        s->data_op = s->op;
        q->ring.req_prod_pvt++;
        q->outstanding++;
        bf->stats.ring_requests++;
        return true;
    }

    unsigned nseg = (n + BLKFRONT_SECTORS_PER_PAGE - 1) / BLKFRONT_SECTORS_PER_PAGE;
    unsigned nind = nseg > BLKIF_MAX_SEGMENTS_PER_REQUEST
                        ? (nseg + BLKFRONT_SEGS_PER_INDIRECT_PAGE - 1) / BLKFRONT_SEGS_PER_INDIRECT_PAGE
                        : 0;
    if (bf->pool_nfree < nseg + nind)
        return false;
    bool write = r->op == BLKFRONT_WRITE;
    *s = (struct blkfront_shadow){ .in_use = true, .parent = r, .sector_off = off,
                                   .nr_sectors = n, .nseg = nseg, .nind = nind,
                                   .pages = s->pages };
    s->data_op = write ? BLKIF_OP_WRITE : BLKIF_OP_READ;
    s->op = nind ? BLKIF_OP_INDIRECT : s->data_op;
    /* Zeroed whole, padding included: no byte of our stack reaches the ring. */
    struct blkif_request_segment segs[BLKIF_MAX_SEGMENTS_PER_REQUEST];
    memset(segs, 0, sizeof(segs));
    for (unsigned i = 0; i < nseg; i++) {
        uint16_t pi = (uint16_t)blkfront_page_get(bf);
        struct blkfront_page *pg = &bf->pool[pi];
        s->pages[i] = pi;
        uint32_t sec = n - i * BLKFRONT_SECTORS_PER_PAGE;
        if (sec > BLKFRONT_SECTORS_PER_PAGE)
            sec = BLKFRONT_SECTORS_PER_PAGE;
        if (write) {
            blkfront_sg_copy(r, (uint64_t)(off + i * BLKFRONT_SECTORS_PER_PAGE) * BLKFRONT_SECTOR,
                             pg->va, sec * BLKFRONT_SECTOR, false);
            bf->stats.bounce_bytes += sec * BLKFRONT_SECTOR;
        }
        /* The grant covers the whole page: what lies beyond this transfer
         * (an earlier one's data) is not the backend's to read. */
        if (sec < BLKFRONT_SECTORS_PER_PAGE)
            memset((char *)pg->va + sec * BLKFRONT_SECTOR, 0,
                   GP_PAGE_SIZE - sec * BLKFRONT_SECTOR);
        if (pg->ref == GP_INVALID_GRANT) {      /* not persistent: grant for this request */
            if (gp_xen_grant_access(p, bf->dev.otherend_id, pg->gfn, write, &pg->ref) != 0)
                pg->ref = GP_INVALID_GRANT;
            bf->stats.grant_ops++;
        }
        if (i < BLKIF_MAX_SEGMENTS_PER_REQUEST) {   /* direct; indirect lists are filled below */
            segs[i].gref = pg->ref;
            segs[i].first_sect = 0;
            segs[i].last_sect = (uint8_t)(sec - 1);
        }
    }
    if (!nind) {
        memset(req, 0, sizeof(*req));
        req->operation = s->op;
        req->nr_segments = (uint8_t)nseg;
        req->handle = bf->handle;
        req->id = (uint64_t)id;
        req->sector_number = r->sector + off;
        memcpy(req->seg, segs, nseg * sizeof(segs[0]));
    } else {
        blkif_request_indirect_t *ind = (blkif_request_indirect_t *)req;
        memset(ind, 0, sizeof(*ind));
        ind->operation = BLKIF_OP_INDIRECT;
        ind->indirect_op = s->data_op;
        ind->nr_segments = (uint16_t)nseg;
        ind->id = (uint64_t)id;
        ind->sector_number = r->sector + off;
        ind->handle = bf->handle;
        for (unsigned k = 0; k < nind; k++) {
            uint16_t pi = (uint16_t)blkfront_page_get(bf);
            struct blkfront_page *pg = &bf->pool[pi];
            s->ind[k] = pi;
            if (pg->ref == GP_INVALID_GRANT) {
                if (gp_xen_grant_access(p, bf->dev.otherend_id, pg->gfn, true, &pg->ref) != 0)
                    pg->ref = GP_INVALID_GRANT;
                bf->stats.grant_ops++;
            }
            ind->indirect_grefs[k] = pg->ref;
            struct blkif_request_segment *list = pg->va;
            /* The whole page is granted: nothing but this list in it (an
             * earlier, longer list, or padding). */
            memset(list, 0, GP_PAGE_SIZE);
            for (unsigned j = 0; j < BLKFRONT_SEGS_PER_INDIRECT_PAGE; j++) {
                unsigned i = k * (unsigned)BLKFRONT_SEGS_PER_INDIRECT_PAGE + j;
                if (i >= nseg)
                    break;
                uint32_t sec = n - i * BLKFRONT_SECTORS_PER_PAGE;
                if (sec > BLKFRONT_SECTORS_PER_PAGE)
                    sec = BLKFRONT_SECTORS_PER_PAGE;
                list[j].gref = bf->pool[s->pages[i]].ref;
                list[j].last_sect = (uint8_t)(sec - 1);
            }
        }
    }
    q->ring.req_prod_pvt++;
    q->outstanding++;
    bf->stats.ring_requests++;
    return true;
}

/* Next piece of work: retries first, then the queue.  Lock held. */
static bool blkfront_build_next(struct blkfront *bf, struct blkfront_queue *q)
{
    uint32_t max = bf->segs_per_req * BLKFRONT_SECTORS_PER_PAGE;
    if (bf->nretry) {
        /* Lost with a disconnect, perhaps on a queue that is gone, perhaps
         * built for a backend that offered more: split again for this one. */
        struct blkfront_retry *rt = &bf->retry[bf->nretry - 1];
        struct blkfront_req *r = rt->parent;
        bool data = r->op == BLKFRONT_READ || r->op == BLKFRONT_WRITE;
        uint32_t n = data && rt->nr_sectors > max ? max : rt->nr_sectors;
        if (!blkfront_build(bf, q, r, rt->sector_off, n))
            return false;
        if (n == rt->nr_sectors) {
            bf->nretry--;
        } else {                                /* the rest stays a piece of its own */
            rt->sector_off += n;
            rt->nr_sectors -= n;
            blkfront_own(r)->inflight++;
        }
        return true;
    }
    struct blkfront_req *r = bf->queue_head;
    if (!r)
        return false;
    struct blkfront_req_own *o = blkfront_own(r);
    uint32_t total = blkfront_units(r);
    uint32_t n = 1;
    if (r->op == BLKFRONT_READ || r->op == BLKFRONT_WRITE) {
        n = total - o->issued;
        if (n > max)
            n = max;
    }
    if (!blkfront_build(bf, q, r, o->issued, n))
        return false;
    o->issued += n;
    o->inflight++;
    if (o->issued == total) {
        bf->queue_head = o->next;
        if (!bf->queue_head)
            bf->queue_tail = NULL;
    }
    return true;
}

void blkfront_kick(struct blkfront *bf)
{
    const struct gp_platform *p = bf->plat;
    gp_port_t notify_ports[BLKFRONT_MAX_QUEUES];
    unsigned nnotify = 0;
    gp_os_lock_acquire(p, bf->lock);
    bool built[BLKFRONT_MAX_QUEUES] = { false };
    /* Spread the work over the queues, one ring request each in turn. */
    for (bool progress = true; progress && bf->connected && !bf->broken;) {
        progress = false;
        for (unsigned i = 0; i < bf->nqueues; i++)
            if (blkfront_build_next(bf, &bf->q[i]))
                progress = built[i] = true;
    }
    for (unsigned i = 0; i < bf->nqueues; i++) {
        struct blkfront_queue *q = &bf->q[i];
        int notify = 0;
        if (built[i])
            RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->ring, notify);
        if (notify) {
            bf->stats.notifications++;
            notify_ports[nnotify++] = q->port;
        }
    }
    gp_os_lock_release(p, bf->lock);
    for (unsigned i = 0; i < nnotify; i++)
        gp_xen_evtchn_notify(p, notify_ports[i]);
}

/* ---- completion -------------------------------------------------------------------- */

/* The pages of a piece the backend answered go back to the pool.  Without
 * persistent grants each is ended first; one the backend still maps goes
 * to the quarantine and false is returned: as Linux since XSA-396, the
 * device is then failed (a backend keeping our pages is not to be fed
 * more of them).  reissue: the ring is gone (disconnect); the grants are
 * ended at the reconnect, when the backend has let go (blkfront_pool_end_all). */
static bool blkfront_release_pages(struct blkfront *bf, struct blkfront_shadow *s, bool reissue)
{
    bool ok = true;
    for (unsigned i = 0; i < s->nseg + s->nind; i++) {
        uint16_t pi = i < s->nseg ? s->pages[i] : s->ind[i - s->nseg];
        struct blkfront_page *pg = &bf->pool[pi];
        if (!reissue && !bf->info.persistent && pg->ref != GP_INVALID_GRANT) {
            bf->stats.grant_ops++;
            if (gp_quarantine_withdraw(&bf->quar, &pg->ref, &pg->va) != 0) {
                ok = false;               /* the slot gets a new page at the next connect */
                continue;
            }
        }
        blkfront_page_put(bf, pi);
    }
    s->nseg = s->nind = 0;
    return ok;
}

bool blkfront_piece_done(struct blkfront_req *r, int status)
{
    struct blkfront_req_own *o = blkfront_own(r);
    if (status && !o->status)
        o->status = status;
    o->inflight--;
    return o->inflight == 0 && o->issued == blkfront_units(r);
}

static void blkfront_fatal(struct blkfront *bf, const char *why, uint64_t a, uint64_t b)
{
    if (!bf->broken)
        GP_ERR(bf->plat, "blkfront %s: backend broke the protocol (%s: %llu, %llu): device failed",
               bf->dev.nodename, why, (unsigned long long)a, (unsigned long long)b);
    bf->broken = true;
    bf->stats.bad_responses++;
}

/* As Linux since XSA-396: a backend keeping our page after answering is
 * not to be fed more of them. */
static void blkfront_kept_page(struct blkfront *bf)
{
    if (!bf->broken)
        GP_ERR(bf->plat, "blkfront %s: the backend still maps a page after answering its "
               "request: device failed", bf->dev.nodename);
    bf->broken = true;
}

void blkfront_event(void *arg, gp_port_t port)
{
    struct blkfront_queue *q = arg;
    struct blkfront *bf = q->bf;
    const struct gp_platform *p = bf->plat;
    (void)port;
    struct blkfront_req *done_head = NULL, **done_tail = &done_head;
    bool fail = false;
    gp_os_lock_acquire(p, bf->lock);
    if (!bf->connected || bf->broken) {
        gp_os_lock_release(p, bf->lock);
        return;
    }
    int more;
    do {
        RING_IDX rp = GP_READ_ONCE(q->ring.sring->rsp_prod);
        gp_rmb();
        RING_IDX avail = rp - q->ring.rsp_cons;
        unsigned late_dump = q->index == 0 ? bf->dump.unanswered : 0;
        if (avail > q->outstanding + late_dump) {
            blkfront_fatal(bf, "responses beyond requests", avail, q->outstanding);
            break;
        }
        while (q->ring.rsp_cons != rp) {
            blkif_response_t rsp;
            memcpy(&rsp, RING_GET_RESPONSE(&q->ring, q->ring.rsp_cons), sizeof(rsp));
            q->ring.rsp_cons++;
            bf->stats.responses++;
            if (q->index == 0 && bf->dump.unanswered && BLKFRONT_IS_DUMP_ID(rsp.id)) {
                bf->dump.unanswered--;          /* the dump path gave up on it */
                continue;
            }
            if (rsp.id >= q->nslots || !q->shadow[rsp.id].in_use) {
                blkfront_fatal(bf, "unknown or duplicate id", rsp.id, rsp.operation);
                break;
            }
            struct blkfront_shadow *s = &q->shadow[rsp.id];
            if (rsp.operation != s->op && rsp.operation != s->data_op) {
                blkfront_fatal(bf, "wrong operation", rsp.operation, s->op);
                break;
            }
            if (rsp.status != BLKIF_RSP_OKAY && rsp.status != BLKIF_RSP_ERROR &&
                rsp.status != BLKIF_RSP_EOPNOTSUPP) {
                blkfront_fatal(bf, "bad status", (uint64_t)(int64_t)rsp.status, rsp.id);
                break;
            }
            int status = rsp.status == BLKIF_RSP_OKAY ? 0
                         : rsp.status == BLKIF_RSP_EOPNOTSUPP ? GP_ENOTSUP : GP_EIO;
            if (status)
                bf->stats.errors++;
            struct blkfront_req *r = s->parent;
            if (s->abandoned) {
                /* Given back by blkfront_abandon: only the pages are ours
                 * still (ended and freed as for any answer). */
                if (!blkfront_release_pages(bf, s, false))
                    blkfront_kept_page(bf);
                s->in_use = s->abandoned = false;
                q->outstanding--;
                bf->stats.late_answers++;
                if (bf->broken)
                    break;
                continue;
            }
            if (!status && s->data_op == BLKIF_OP_READ) {
                for (unsigned i = 0; i < s->nseg; i++) {
                    uint32_t sec = s->nr_sectors - i * BLKFRONT_SECTORS_PER_PAGE;
                    if (sec > BLKFRONT_SECTORS_PER_PAGE)
                        sec = BLKFRONT_SECTORS_PER_PAGE;
                    blkfront_sg_copy(r, (uint64_t)(s->sector_off + i * BLKFRONT_SECTORS_PER_PAGE) *
                                            BLKFRONT_SECTOR,
                                     bf->pool[s->pages[i]].va, sec * BLKFRONT_SECTOR, true);
                }
                bf->stats.bounce_bytes += (uint64_t)s->nr_sectors * BLKFRONT_SECTOR;
            }
            if (!blkfront_release_pages(bf, s, false)) {
                blkfront_kept_page(bf);
                status = GP_EIO;
            }
            s->in_use = false;
            q->outstanding--;
            if (blkfront_piece_done(r, status)) {
                *done_tail = r;
                done_tail = &blkfront_own(r)->next;
                blkfront_own(r)->next = NULL;
            }
            if (bf->broken)
                break;
        }
        if (bf->broken)
            break;
        RING_FINAL_CHECK_FOR_RESPONSES(&q->ring, more);
    } while (more);
    fail = bf->broken;
    gp_os_lock_release(p, bf->lock);
    for (struct blkfront_req *r = done_head, *n; r; r = n) {
        n = blkfront_own(r)->next;
        r->done(r->arg, r, blkfront_own(r)->status);
    }
    if (fail)
        blkfront_fail_all(bf, GP_EIO);
    else
        blkfront_kick(bf);
}

void blkfront_requeue_inflight(struct blkfront *bf)
{
    for (unsigned qi = 0; qi < BLKFRONT_MAX_QUEUES; qi++) {
        struct blkfront_queue *q = &bf->q[qi];
        for (unsigned i = 0; q->shadow && i < q->nslots; i++) {
            struct blkfront_shadow *s = &q->shadow[i];
            if (!s->in_use)
                continue;
            if (s->abandoned) {                     /* given back: nothing to re-issue */
                blkfront_release_pages(bf, s, true);
                s->in_use = s->abandoned = false;
                continue;
            }
            if (bf->nretry == bf->retry_cap) {      /* cannot be: sized at connect */
                blkfront_fatal(bf, "no room to requeue", bf->nretry, qi);
                continue;                           /* blkfront_fail_all completes it */
            }
            bf->retry[bf->nretry++] = (struct blkfront_retry){ .parent = s->parent,
                                                               .sector_off = s->sector_off,
                                                               .nr_sectors = s->nr_sectors };
            blkfront_release_pages(bf, s, true);
            s->in_use = false;
            bf->stats.requeued++;
        }
        q->outstanding = 0;
    }
    bf->dump.answered = 0;
}
