/*
 * blkfront_pool: what blkfront allocates for a connection - the pool of
 * data pages, the rings, the shadows of each queue and the retry list -
 * sized again on every connect for the geometry that backend offers, and
 * given back with care: a page whose grant the backend still maps goes to
 * the quarantine (lib/quarantine.h), never back into use.
 */
#include <string.h>

#include "blkfront_internal.h"

#define BLKFRONT_POOL_MAX 2048u

int blkfront_pages_grant(struct blkfront *bf, struct blkfront_page *pages, unsigned n,
                         unsigned *granted)
{
    const struct gp_platform *p = bf->plat;
    for (unsigned i = 0; i < n; i++) {
        struct blkfront_page *pg = &pages[i];
        if (pg->ref != GP_INVALID_GRANT || !pg->va)
            continue;
        int err = gp_xen_grant_access(p, bf->dev.otherend_id, pg->gfn, false, &pg->ref);
        if (err) {
            pg->ref = GP_INVALID_GRANT;
            return err;
        }
        if (granted)
            (*granted)++;
    }
    return 0;
}

int blkfront_pool_grant_all(struct blkfront *bf)
{
    unsigned granted = 0;
    int err = blkfront_pages_grant(bf, bf->pool, bf->pool_size, &granted);
    bf->stats.grant_ops += granted;
    return err;
}

void blkfront_pool_end_all(struct blkfront *bf)
{
    for (unsigned i = 0; i < bf->pool_size; i++) {
        struct blkfront_page *pg = &bf->pool[i];
        if (pg->ref != GP_INVALID_GRANT) {
            bf->stats.grant_ops++;
            /* A page still mapped goes to the quarantine; the slot is refilled. */
            (void)gp_quarantine_withdraw(&bf->quar, &pg->ref, &pg->va);
        }
        /* The next backend may be another domain: it sees nothing of the
         * data that went through this one. */
        if (pg->va)
            memset(pg->va, 0, GP_PAGE_SIZE);
    }
}

int blkfront_pool_prepare(struct blkfront *bf, unsigned n)
{
    const struct gp_platform *p = bf->plat;
    if (n > BLKFRONT_POOL_MAX)
        n = BLKFRONT_POOL_MAX;
    if (n > bf->pool_size) {
        struct blkfront_page *pool = gp_zalloc(p, n * sizeof(*pool));
        uint16_t *free_list = gp_zalloc(p, n * sizeof(uint16_t));
        if (!pool || !free_list) {
            gp_free(p, pool);
            gp_free(p, free_list);
            return bf->pool_size ? 0 : GP_ENOMEM;   /* a smaller pool still works */
        }
        if (bf->pool_size)
            memcpy(pool, bf->pool, bf->pool_size * sizeof(*pool));
        for (unsigned i = bf->pool_size; i < n; i++)
            pool[i] = (struct blkfront_page){ .ref = GP_INVALID_GRANT };
        gp_os_lock_acquire(p, bf->lock);
        struct blkfront_page *old_pool = bf->pool;
        uint16_t *old_free = bf->pool_free;
        bf->pool = pool;
        bf->pool_free = free_list;
        bf->pool_size = n;
        gp_os_lock_release(p, bf->lock);
        gp_free(p, old_pool);
        gp_free(p, old_free);
    }
    unsigned live = 0;
    for (unsigned i = 0; i < bf->pool_size; i++) {
        struct blkfront_page *pg = &bf->pool[i];
        if (!pg->va) {
            pg->ref = GP_INVALID_GRANT;
            pg->va = gp_os_page_alloc(p, &pg->gfn);
        }
        live += pg->va != NULL;
    }
    gp_os_lock_acquire(p, bf->lock);
    bf->pool_nfree = 0;
    for (unsigned i = 0; i < bf->pool_size; i++)
        if (bf->pool[i].va)
            bf->pool_free[bf->pool_nfree++] = (uint16_t)i;
    gp_os_lock_release(p, bf->lock);
    /* One largest request must always fit, or it would wait forever. */
    return live >= BLKFRONT_MAX_SEGS + BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST ? 0 : GP_ENOMEM;
}

static void blkfront_shadow_free(struct blkfront *bf, struct blkfront_queue *q)
{
    const struct gp_platform *p = bf->plat;
    for (unsigned i = 0; q->shadow && i < q->nslots; i++)
        gp_free(p, q->shadow[i].pages);
    gp_free(p, q->shadow);
    q->shadow = NULL;
    q->nslots = 0;
}

void blkfront_shadows_free(struct blkfront *bf)
{
    for (unsigned qi = 0; qi < BLKFRONT_MAX_QUEUES; qi++)
        blkfront_shadow_free(bf, &bf->q[qi]);
    gp_free(bf->plat, bf->retry);
    bf->retry = NULL;
    bf->retry_cap = 0;
}

int blkfront_shadows_size(struct blkfront *bf, unsigned nslots)
{
    const struct gp_platform *p = bf->plat;
    /* Nothing is in flight (requeued before a reconnect): the arrays of the
     * last connection can go; queues that no longer exist lose theirs. */
    for (unsigned qi = 0; qi < BLKFRONT_MAX_QUEUES; qi++) {
        struct blkfront_queue *q = &bf->q[qi];
        if (qi >= bf->nqueues || q->nslots != nslots)
            blkfront_shadow_free(bf, q);
        if (qi >= bf->nqueues || q->shadow)
            continue;
        struct blkfront_shadow *sh = gp_zalloc(p, nslots * sizeof(*sh));
        if (!sh)
            return GP_ENOMEM;
        q->shadow = sh;
        q->nslots = nslots;
        for (unsigned i = 0; i < nslots; i++) {
            sh[i].pages = gp_zalloc(p, BLKFRONT_MAX_SEGS * sizeof(uint16_t));
            if (!sh[i].pages)
                return GP_ENOMEM;
        }
    }
    /* Everything this connection may have in flight can be requeued. */
    unsigned need = bf->nretry + nslots * bf->nqueues;
    if (need > bf->retry_cap) {
        struct blkfront_retry *r = gp_zalloc(p, need * sizeof(*r));
        if (!r)
            return GP_ENOMEM;
        gp_os_lock_acquire(p, bf->lock);
        if (bf->nretry)
            memcpy(r, bf->retry, bf->nretry * sizeof(*r));
        struct blkfront_retry *old = bf->retry;
        bf->retry = r;
        bf->retry_cap = need;
        gp_os_lock_release(p, bf->lock);
        gp_free(p, old);
    }
    return 0;
}

/* ---- rings ------------------------------------------------------------------------ */

int blkfront_ring_alloc(struct blkfront_queue *q)
{
    struct blkfront *bf = q->bf;
    const struct gp_platform *p = bf->plat;
    unsigned pages = bf->info.ring_pages;
    for (unsigned i = 0; i < pages; i++) {
        if (!q->ring_va[i])
            q->ring_va[i] = gp_os_page_alloc(p, &q->ring_gfn[i]);
        if (!q->ring_va[i])
            return GP_ENOMEM;
    }
    /* Pages of the ring must be contiguous in our address space for the
     * ring macros: they are, when allocated as one block; otherwise use a
     * single page. */
    for (unsigned i = 1; i < pages; i++)
        if ((char *)q->ring_va[i] != (char *)q->ring_va[0] + i * GP_PAGE_SIZE)
            return GP_EAGAIN;
    return 0;
}

void blkfront_ring_end(struct blkfront_queue *q)
{
    struct blkfront *bf = q->bf;
    /* Still mapped (a backend that has not let go): the quarantine keeps
     * the page until it does; it is never a ring again. */
    for (unsigned i = 0; i < BLKFRONT_MAX_RING_PAGES; i++)
        (void)gp_quarantine_withdraw(&bf->quar, &q->ring_ref[i], &q->ring_va[i]);
}

void blkfront_ring_free(struct blkfront_queue *q)
{
    const struct gp_platform *p = q->bf->plat;
    blkfront_ring_end(q);
    for (unsigned i = 0; i < BLKFRONT_MAX_RING_PAGES; i++) {
        if (q->ring_va[i])
            gp_os_page_free(p, q->ring_va[i]);
        q->ring_va[i] = NULL;
    }
}

void blkfront_ring_reset(struct blkfront_queue *q)
{
    struct blkfront *bf = q->bf;
    blkif_sring_t *s = q->ring_va[0];
    memset(s, 0, GP_PAGE_SIZE * bf->info.ring_pages);
    SHARED_RING_INIT(s);
    FRONT_RING_INIT(&q->ring, s, GP_PAGE_SIZE * bf->info.ring_pages);
    q->outstanding = 0;
    for (unsigned i = 0; i < q->nslots; i++)
        q->shadow[i].in_use = false;
}
