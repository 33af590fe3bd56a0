/*
 * gnttab: grant table v1 entries and their free list.  The first
 * GNTTAB_NR_RESERVED_ENTRIES references are left to the toolstack
 * (xenstore, console); the rest form a LIFO free list threaded through a
 * side array, so nothing is stored in the shared entries themselves.
 */
#include <string.h>

#include "gnttab.h"
#include "gplpv/log.h"

#include <xen/xen.h>
#include <xen/grant_table.h>

#define GNTTAB_ENTRIES_PER_FRAME (GP_PAGE_SIZE / sizeof(grant_entry_v1_t))
#define GNTTAB_END_OF_LIST 0xffffffffu

struct gnttab {
    const struct gp_platform *plat;
    struct gp_lock *lock;
    grant_entry_v1_t **frames;
    unsigned nr_frames, nr_entries;
    uint32_t *next_free;             /* per ref: next in the free list */
    uint8_t *used;                   /* per ref: 1 while granted */
    uint32_t free_head;
    struct gnttab_stats stats;
};

static grant_entry_v1_t *gnttab_entry(struct gnttab *g, gp_grant_ref_t ref)
{
    return &g->frames[ref / GNTTAB_ENTRIES_PER_FRAME][ref % GNTTAB_ENTRIES_PER_FRAME];
}

void gnttab_reset(struct gnttab *g)
{
    const struct gp_platform *p = g->plat;
    gp_os_lock_acquire(p, g->lock);
    g->free_head = GNTTAB_END_OF_LIST;
    for (uint32_t ref = g->nr_entries; ref-- > GNTTAB_NR_RESERVED_ENTRIES;) {
        g->next_free[ref] = g->free_head;
        g->free_head = ref;
        g->used[ref] = 0;
    }
    g->stats.in_use = 0;
    g->stats.capacity = g->nr_entries - GNTTAB_NR_RESERVED_ENTRIES;
    gp_os_lock_release(p, g->lock);
}

int gnttab_create(const struct gp_platform *p, void *const *frames, unsigned nr_frames,
                  struct gnttab **out)
{
    if (nr_frames == 0)
        return GP_EINVAL;
    struct gnttab *g = gp_zalloc(p, sizeof(*g));
    if (!g)
        return GP_ENOMEM;
    g->plat = p;
    g->nr_frames = nr_frames;
    g->nr_entries = nr_frames * (unsigned)GNTTAB_ENTRIES_PER_FRAME;
    g->lock = gp_os_lock_create(p);
    g->frames = gp_zalloc(p, nr_frames * sizeof(*g->frames));
    g->next_free = gp_zalloc(p, g->nr_entries * sizeof(uint32_t));
    g->used = gp_zalloc(p, g->nr_entries);
    if (!g->lock || !g->frames || !g->next_free || !g->used) {
        gnttab_destroy(g);
        return GP_ENOMEM;
    }
    for (unsigned i = 0; i < nr_frames; i++)
        g->frames[i] = frames[i];
    gnttab_reset(g);
    *out = g;
    return 0;
}

void gnttab_destroy(struct gnttab *g)
{
    if (!g)
        return;
    const struct gp_platform *p = g->plat;
    if (g->lock)
        gp_os_lock_destroy(p, g->lock);
    gp_free(p, g->frames);
    gp_free(p, g->next_free);
    gp_free(p, g->used);
    gp_free(p, g);
}

int gnttab_grant(struct gnttab *g, gp_domid_t domid, uint64_t gfn, bool readonly,
                 gp_grant_ref_t *ref)
{
    const struct gp_platform *p = g->plat;
    if (gfn > 0xffffffffull) {
        GP_ERR(p, "gnttab: frame %llx does not fit a v1 grant entry", (unsigned long long)gfn);
        return GP_ERANGE;
    }
    gp_os_lock_acquire(p, g->lock);
    uint32_t r = g->free_head;
    if (r == GNTTAB_END_OF_LIST) {
        g->stats.exhausted++;
        gp_os_lock_release(p, g->lock);
        return GP_ENOSPC;
    }
    g->free_head = g->next_free[r];
    g->used[r] = 1;
    g->stats.grants++;
    g->stats.in_use++;
    gp_os_lock_release(p, g->lock);

    grant_entry_v1_t *e = gnttab_entry(g, r);
    GP_WRITE_ONCE(e->frame, (uint32_t)gfn);
    GP_WRITE_ONCE(e->domid, domid);
    gp_wmb();                          /* frame and domid before the flags */
    GP_WRITE_ONCE(e->flags, (uint16_t)(GTF_permit_access | (readonly ? GTF_readonly : 0)));
    *ref = r;
    return 0;
}

int gnttab_end(struct gnttab *g, gp_grant_ref_t ref)
{
    const struct gp_platform *p = g->plat;
    if (ref < GNTTAB_NR_RESERVED_ENTRIES || ref >= g->nr_entries || !g->used[ref]) {
        GP_ERR(p, "gnttab: ending access of ref %u that is not granted", ref);
        return GP_EINVAL;
    }
    grant_entry_v1_t *e = gnttab_entry(g, ref);
    uint16_t flags = GP_READ_ONCE(e->flags);
    for (;;) {
        if (flags & (GTF_reading | GTF_writing)) {
            gp_os_lock_acquire(p, g->lock);
            g->stats.busy_ends++;
            gp_os_lock_release(p, g->lock);
            return GP_EBUSY;
        }
        /* Clear the flags only if Xen did not start a mapping meanwhile. */
        if (__atomic_compare_exchange_n(&e->flags, &flags, 0, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            break;
    }
    gp_os_lock_acquire(p, g->lock);
    g->used[ref] = 0;
    g->next_free[ref] = g->free_head;
    g->free_head = ref;
    g->stats.ends++;
    g->stats.in_use--;
    gp_os_lock_release(p, g->lock);
    return 0;
}

void gnttab_get_stats(struct gnttab *g, struct gnttab_stats *s)
{
    gp_os_lock_acquire(g->plat, g->lock);
    *s = g->stats;
    gp_os_lock_release(g->plat, g->lock);
}
