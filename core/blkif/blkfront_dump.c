/*
 * blkfront_dump: the polled path for crash dumps and the hibernation file
 * (see gplpv/blkfront_dump.h).  It shares the first queue's ring with the
 * normal path - same producer and consumer indices, so that a cancelled
 * hibernation leaves a ring the normal path goes on using - and touches
 * only its own pre-granted pages.  No lock is taken: when it runs, the
 * processor that may hold blkfront's lock is stopped for good.
 */
#include <string.h>

#include "blkfront_internal.h"

int blkfront_dump_grant(struct blkfront *bf)
{
    if (!bf->dump.enabled)
        return 0;
    return blkfront_pages_grant(bf, bf->dump.page, BLKFRONT_DUMP_PAGES, NULL);
}

void blkfront_dump_forget_grants(struct blkfront *bf)
{
    if (!bf->dump.enabled)
        return;
    for (unsigned i = 0; i < BLKFRONT_DUMP_PAGES; i++)
        bf->dump.page[i].ref = GP_INVALID_GRANT;
}

void blkfront_dump_end(struct blkfront *bf)
{
    const struct gp_platform *p = bf->plat;
    if (!bf->dump.enabled)
        return;
    for (unsigned i = 0; i < BLKFRONT_DUMP_PAGES; i++) {
        struct blkfront_page *pg = &bf->dump.page[i];
        /* Still mapped by the backend: the quarantine keeps the page, and
         * a fresh one takes its place (the dump path never allocates). */
        if (gp_quarantine_withdraw(&bf->quar, &pg->ref, &pg->va) != 0) {
            pg->va = gp_os_page_alloc(p, &pg->gfn);
            if (!pg->va)
                bf->dump.enabled = false;
        }
    }
}

void blkfront_dump_free(struct blkfront *bf)
{
    const struct gp_platform *p = bf->plat;
    for (unsigned i = 0; i < BLKFRONT_DUMP_PAGES; i++)
        if (bf->dump.page[i].va && bf->dump.page[i].ref == GP_INVALID_GRANT)
            gp_os_page_free(p, bf->dump.page[i].va);
    memset(&bf->dump, 0, sizeof(bf->dump));
}

int blkfront_dump_enable(struct blkfront *bf)
{
    const struct gp_platform *p = bf->plat;
    if (bf->dump.enabled)
        return 0;
    for (unsigned i = 0; i < BLKFRONT_DUMP_PAGES; i++) {
        struct blkfront_page *pg = &bf->dump.page[i];
        pg->ref = GP_INVALID_GRANT;
        pg->va = gp_os_page_alloc(p, &pg->gfn);
        if (!pg->va) {
            blkfront_dump_free(bf);
            return GP_ENOMEM;
        }
    }
    bf->dump.enabled = true;
    bf->dump.seq = BLKFRONT_DUMP_ID_BASE;
    int err = bf->q[0].port ? blkfront_dump_grant(bf) : 0;   /* else at connect */
    if (err) {
        blkfront_dump_end(bf);
        blkfront_dump_free(bf);
        GP_ERR(p, "blkfront %s: granting the dump pages failed: %s", bf->dev.nodename,
               gp_strerror(err));
    }
    return err;
}

void blkfront_dump_get_stats(struct blkfront *bf, struct blkfront_dump_stats *s)
{
    *s = bf->dump.stats;
}

static int blkfront_dump_fail(struct blkfront *bf, int err, const char *why, uint64_t a,
                              uint64_t b)
{
    bf->dump.stats.errors++;
    GP_ERR(bf->plat, "blkfront %s: dump I/O: %s (%llu, %llu)", bf->dev.nodename, why,
           (unsigned long long)a, (unsigned long long)b);
    return err;
}

/* Take what the backend answered; *got once the answer to our request
 * `id` (pending: one is outstanding) is among it. */
static int blkfront_dump_reap(struct blkfront *bf, bool pending, uint64_t id, uint8_t op,
                              bool *got)
{
    struct blkfront_queue *q = &bf->q[0];
    RING_IDX rp = GP_READ_ONCE(q->ring.sring->rsp_prod);
    gp_rmb();
    RING_IDX avail = rp - q->ring.rsp_cons;
    unsigned expected = q->outstanding - bf->dump.answered + bf->dump.unanswered + pending;
    if (avail > expected)
        return blkfront_dump_fail(bf, GP_EPROTO, "responses beyond requests", avail, expected);
    int status = 0;
    while (q->ring.rsp_cons != rp) {
        blkif_response_t rsp;
        memcpy(&rsp, RING_GET_RESPONSE(&q->ring, q->ring.rsp_cons), sizeof(rsp));
        q->ring.rsp_cons++;
        if (pending && rsp.id == id && !*got) {
            *got = true;
            if (rsp.operation != op)
                return blkfront_dump_fail(bf, GP_EPROTO, "wrong operation", rsp.operation, op);
            if (rsp.status == BLKIF_RSP_OKAY)
                status = 0;
            else if (rsp.status == BLKIF_RSP_ERROR)
                status = blkfront_dump_fail(bf, GP_EIO, "backend error", id, 0);
            else if (rsp.status == BLKIF_RSP_EOPNOTSUPP)
                status = blkfront_dump_fail(bf, GP_ENOTSUP, "not supported", op, 0);
            else
                return blkfront_dump_fail(bf, GP_EPROTO, "bad status",
                                          (uint64_t)(int64_t)rsp.status, id);
        } else if (BLKFRONT_IS_DUMP_ID(rsp.id) && bf->dump.unanswered) {
            bf->dump.unanswered--;                  /* late: given up on before */
        } else if (rsp.id < q->nslots && q->shadow && q->shadow[rsp.id].in_use &&
                   !q->shadow[rsp.id].dump_answered) {
            /* The normal path's, from before the dump began: it completes
             * only if the device is torn down (a crash never gets there). */
            q->shadow[rsp.id].dump_answered = true;
            bf->dump.answered++;
            bf->dump.stats.stale_responses++;
        } else {
            return blkfront_dump_fail(bf, GP_EPROTO, "unknown or duplicate id", rsp.id,
                                      rsp.operation);
        }
    }
    return status;
}

static int blkfront_dump_one(struct blkfront *bf, uint8_t op, uint64_t sector, uint32_t n,
                             const struct blkfront_dump_env *env)
{
    struct blkfront_queue *q = &bf->q[0];
    const struct gp_platform *p = bf->plat;
    uint64_t waited = 0;
    /* A free slot: the normal path's requests may fill the ring. */
    while (RING_FULL(&q->ring)) {
        bool none = false;
        int err = blkfront_dump_reap(bf, false, 0, op, &none);
        if (err)
            return err;
        if (!RING_FULL(&q->ring))
            break;
        if (waited >= env->timeout_us)
            return blkfront_dump_fail(bf, GP_ETIMEDOUT, "no free ring slot", waited, 0);
        env->stall_us(env->arg, 10);
        waited += 10;
    }
    uint64_t id = ++bf->dump.seq;
    blkif_request_t *req = RING_GET_REQUEST(&q->ring, q->ring.req_prod_pvt);
    memset(req, 0, sizeof(*req));
    req->operation = op;
    req->handle = bf->handle;
    req->id = id;
    req->sector_number = sector;
    unsigned nseg = (n + BLKFRONT_SECTORS_PER_PAGE - 1) / BLKFRONT_SECTORS_PER_PAGE;
    req->nr_segments = (uint8_t)nseg;
    for (unsigned i = 0; i < nseg; i++) {
        uint32_t sec = n - i * BLKFRONT_SECTORS_PER_PAGE;
        if (sec > BLKFRONT_SECTORS_PER_PAGE)
            sec = BLKFRONT_SECTORS_PER_PAGE;
        req->seg[i].gref = bf->dump.page[i].ref;
        req->seg[i].first_sect = 0;
        req->seg[i].last_sect = (uint8_t)(sec - 1);
    }
    q->ring.req_prod_pvt++;
    int notify = 0;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->ring, notify);
    (void)notify;   /* always: the backend may wait on an index the normal path left */
    gp_xen_evtchn_notify(p, q->port);
    bf->dump.stats.requests++;
    bf->dump.stats.notifications++;
    for (waited = 0;; waited += 10) {
        bool got = false;
        int err = blkfront_dump_reap(bf, true, id, op, &got);
        if (got || err)
            return err;
        if (waited >= env->timeout_us) {
            bf->dump.unanswered++;                  /* its answer may still come */
            return blkfront_dump_fail(bf, GP_ETIMEDOUT, "no answer", id, waited);
        }
        env->stall_us(env->arg, 10);
    }
}

int blkfront_dump_io(struct blkfront *bf, enum blkfront_op op, uint64_t sector,
                     uint32_t nr_sectors, void *buf, const struct blkfront_dump_env *env)
{
    struct blkfront_queue *q = &bf->q[0];
    if (!bf->dump.enabled || !q->ring.sring || !q->port || bf->broken)
        return GP_ENODEV;
    for (unsigned i = 0; i < BLKFRONT_DUMP_PAGES; i++)
        if (bf->dump.page[i].ref == GP_INVALID_GRANT || !bf->dump.page[i].va)
            return GP_ENODEV;
    if (op == BLKFRONT_FLUSH) {
        if (bf->info.flush)
            return blkfront_dump_one(bf, BLKIF_OP_FLUSH_DISKCACHE, 0, 0, env);
        if (bf->info.barrier)
            return blkfront_dump_one(bf, BLKIF_OP_WRITE_BARRIER, 0, 0, env);
        return 0;                              /* nothing cached to flush */
    }
    if (op != BLKFRONT_READ && op != BLKFRONT_WRITE)
        return GP_ENOTSUP;
    uint64_t cap512 = bf->info.sectors * (bf->info.sector_size / BLKFRONT_SECTOR);
    if (nr_sectors == 0 || sector >= cap512 || nr_sectors > cap512 - sector)
        return GP_ERANGE;
    if (op == BLKFRONT_WRITE && bf->info.readonly)
        return GP_EROFS;
    uint8_t *b = buf;
    while (nr_sectors) {
        uint32_t n = nr_sectors < BLKFRONT_DUMP_CHUNK_SECTORS ? nr_sectors
                                                              : BLKFRONT_DUMP_CHUNK_SECTORS;
        uint32_t bytes = n * BLKFRONT_SECTOR;
        if (bytes % GP_PAGE_SIZE)            /* nothing of an earlier transfer shown */
            memset((char *)bf->dump.page[bytes / GP_PAGE_SIZE].va + bytes % GP_PAGE_SIZE, 0,
                   GP_PAGE_SIZE - bytes % GP_PAGE_SIZE);
        for (uint32_t off = 0; op == BLKFRONT_WRITE && off < bytes; off += GP_PAGE_SIZE)
            memcpy(bf->dump.page[off / GP_PAGE_SIZE].va, b + off,
                   bytes - off < GP_PAGE_SIZE ? bytes - off : GP_PAGE_SIZE);
        int err = blkfront_dump_one(bf, op == BLKFRONT_WRITE ? BLKIF_OP_WRITE : BLKIF_OP_READ,
                                    sector, n, env);
        if (err)
            return err;
        for (uint32_t off = 0; op == BLKFRONT_READ && off < bytes; off += GP_PAGE_SIZE)
            memcpy(b + off, bf->dump.page[off / GP_PAGE_SIZE].va,
                   bytes - off < GP_PAGE_SIZE ? bytes - off : GP_PAGE_SIZE);
        b += bytes;
        sector += n;
        nr_sectors -= n;
    }
    return 0;
}
