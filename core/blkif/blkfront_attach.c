/*
 * blkfront_attach: the ring data path alone, on a one-page ring the caller
 * owns, with no xenstore negotiation — the split that lets the response
 * path be fuzzed and tested without a backend (the caller plays it).
 */
#include <string.h>

#include "blkfront_internal.h"

int blkfront_attach_raw(const struct gp_platform *p, void *ring_page, uint64_t sectors,
                        bool persistent, unsigned max_indirect, struct blkfront **out)
{
    struct blkfront *bf = gp_zalloc(p, sizeof(*bf));
    if (!bf)
        return GP_ENOMEM;
    bf->plat = p;
    bf->lock = gp_os_lock_create(p);
    bf->info.ring_pages = 1;
    bf->info.ring_slots = __CONST_RING_SIZE(blkif, GP_PAGE_SIZE);
    bf->info.sectors = sectors;
    bf->info.sector_size = BLKFRONT_SECTOR;
    bf->info.persistent = persistent;
    bf->info.flush = bf->info.discard = true;
    bf->info.max_indirect_segments = max_indirect;
    bf->segs_per_req = max_indirect ? max_indirect : BLKIF_MAX_SEGMENTS_PER_REQUEST;
    struct blkfront_queue *q = &bf->q[0];
    bf->nqueues = 1;
    q->bf = bf;
    q->ring_va[0] = ring_page;
    q->ring_ref[0] = GP_INVALID_GRANT;
    strcpy(bf->dev.nodename, "raw");
    unsigned n = bf->segs_per_req + BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST + 1;
    if (n < 64)
        n = 64;
    q->shadow = gp_zalloc(p, bf->info.ring_slots * sizeof(*q->shadow));
    q->nslots = q->shadow ? bf->info.ring_slots : 0;
    bf->retry_cap = bf->info.ring_slots;
    bf->retry = gp_zalloc(p, bf->retry_cap * sizeof(*bf->retry));
    bf->pool = gp_zalloc(p, n * sizeof(*bf->pool));
    bf->pool_free = gp_zalloc(p, n * sizeof(uint16_t));
    bool ok = bf->lock && gp_quarantine_init(&bf->quar, p, "blkfront raw") == 0 && q->shadow &&
              bf->retry && bf->pool && bf->pool_free;
    for (unsigned i = 0; ok && i < bf->info.ring_slots; i++) {
        q->shadow[i].pages = gp_zalloc(p, BLKFRONT_MAX_SEGS * sizeof(uint16_t));
        ok = q->shadow[i].pages != NULL;
    }
    for (unsigned i = 0; ok && i < n; i++) {
        bf->pool[i].ref = GP_INVALID_GRANT;
        bf->pool[i].va = gp_os_page_alloc(p, &bf->pool[i].gfn);
        ok = bf->pool[i].va != NULL;
        if (ok) {
            bf->pool_size++;
            bf->pool_free[bf->pool_nfree++] = (uint16_t)i;
        }
    }
    if (ok && persistent)
        ok = blkfront_pool_grant_all(bf) == 0;
    if (!ok) {
        blkfront_detach_raw(bf);
        return GP_ENOMEM;
    }
    blkfront_ring_reset(q);
    bf->connected = true;
    *out = bf;
    return 0;
}

void blkfront_detach_raw(struct blkfront *bf)
{
    const struct gp_platform *p = bf->plat;
    bf->connected = false;
    blkfront_fail_all(bf, GP_ESHUTDOWN);
    blkfront_dump_end(bf);
    blkfront_dump_free(bf);
    for (unsigned i = 0; i < bf->pool_size; i++) {
        struct blkfront_page *pg = &bf->pool[i];
        (void)gp_quarantine_withdraw(&bf->quar, &pg->ref, &pg->va);
        if (pg->va)
            gp_os_page_free(p, pg->va);
    }
    gp_quarantine_destroy(&bf->quar);
    blkfront_shadows_free(bf);
    gp_free(p, bf->pool);
    gp_free(p, bf->pool_free);
    if (bf->lock)
        gp_os_lock_destroy(p, bf->lock);
    gp_free(p, bf);
}
