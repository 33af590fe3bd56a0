/* The simulated hypervisor's grant tables: guests place v1 grant frames
 * with add-to-physmap; backends map and copy through sim_gnt_* which
 * check the entries and set GTF_reading/GTF_writing as Xen does. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hv_internal.h"

#include <xen/grant_table.h>

long hv_grant_table_op(struct sim_domain *d, int cmd, void *arg, unsigned count)
{
    if (cmd == GNTTABOP_query_size && count == 1) {
        struct gnttab_query_size *q = arg;
        q->nr_frames = d->nr_gframes;
        q->max_nr_frames = HV_MAX_GRANT_FRAMES;
        q->status = GNTST_okay;
        return 0;
    }
    return -ENOSYS;
}

void hv_gnttab_reset(struct sim_domain *d)
{
    for (unsigned i = 0; i < HV_MAX_GRANT_FRAMES; i++) {
        if (d->gframes[i])
            memset(d->gframes[i], 0, GP_PAGE_SIZE);
        d->gframes[i] = NULL;
    }
    d->nr_gframes = 0;
    memset(d->map_readers, 0, HV_MAX_GRANT_FRAMES * HV_ENTRIES_PER_FRAME * sizeof(uint16_t));
    memset(d->map_writers, 0, HV_MAX_GRANT_FRAMES * HV_ENTRIES_PER_FRAME * sizeof(uint16_t));
}

static grant_entry_v1_t *hv_entry(struct sim_domain *g, gp_grant_ref_t ref)
{
    unsigned f = ref / HV_ENTRIES_PER_FRAME;
    if (f >= HV_MAX_GRANT_FRAMES || !g->gframes[f])
        return NULL;
    return (grant_entry_v1_t *)g->gframes[f] + ref % HV_ENTRIES_PER_FRAME;
}

static void *hv_gnt_map_locked(struct sim_xen *x, gp_domid_t mapper, gp_domid_t granter,
                               gp_grant_ref_t ref, bool write)
{
    struct sim_domain *g = hv_domain(x, granter);
    grant_entry_v1_t *e = g ? hv_entry(g, ref) : NULL;
    if (!e)
        return NULL;
    uint16_t flags = __atomic_load_n(&e->flags, __ATOMIC_SEQ_CST);
    for (;;) {
        if ((flags & GTF_type_mask) != GTF_permit_access || e->domid != mapper ||
            (write && (flags & GTF_readonly)))
            return NULL;
        uint16_t nf = (uint16_t)(flags | GTF_reading | (write ? GTF_writing : 0));
        if (__atomic_compare_exchange_n(&e->flags, &flags, nf, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            break;
    }
    void *va = hv_gfn_to_va(g, e->frame);
    if (!va) {
        /* Not a frame of the granter: undo our flags. */
        if (!g->map_readers[ref])
            __atomic_fetch_and(&e->flags, (uint16_t)~GTF_reading, __ATOMIC_SEQ_CST);
        if (write && !g->map_writers[ref])
            __atomic_fetch_and(&e->flags, (uint16_t)~GTF_writing, __ATOMIC_SEQ_CST);
        return NULL;
    }
    g->map_readers[ref]++;
    if (write)
        g->map_writers[ref]++;
    return va;
}

static void hv_gnt_unmap_locked(struct sim_xen *x, gp_domid_t granter, gp_grant_ref_t ref,
                                bool write)
{
    struct sim_domain *g = hv_domain(x, granter);
    grant_entry_v1_t *e = g ? hv_entry(g, ref) : NULL;
    if (!e || !g->map_readers[ref]) {
        fprintf(stderr, "sim_hv: unmap of dom%u ref %u that is not mapped\n", granter, ref);
        return;
    }
    if (write && g->map_writers[ref] && --g->map_writers[ref] == 0)
        __atomic_fetch_and(&e->flags, (uint16_t)~GTF_writing, __ATOMIC_SEQ_CST);
    if (--g->map_readers[ref] == 0)
        __atomic_fetch_and(&e->flags, (uint16_t)~GTF_reading, __ATOMIC_SEQ_CST);
}

void *sim_gnt_map(struct sim_xen *x, gp_domid_t mapper, gp_domid_t granter, gp_grant_ref_t ref,
                  bool write)
{
    pthread_mutex_lock(&x->lock);
    void *va = hv_gnt_map_locked(x, mapper, granter, ref, write);
    pthread_mutex_unlock(&x->lock);
    return va;
}

void sim_gnt_unmap(struct sim_xen *x, gp_domid_t mapper, gp_domid_t granter, gp_grant_ref_t ref,
                   bool write)
{
    (void)mapper;
    pthread_mutex_lock(&x->lock);
    hv_gnt_unmap_locked(x, granter, ref, write);
    pthread_mutex_unlock(&x->lock);
}

int sim_gnt_copy(struct sim_xen *x, gp_domid_t mapper, gp_domid_t granter, gp_grant_ref_t ref,
                 unsigned offset, void *local, unsigned len, bool to_grant)
{
    if (offset > GP_PAGE_SIZE || len > GP_PAGE_SIZE - offset)
        return GP_EINVAL;
    pthread_mutex_lock(&x->lock);
    char *va = hv_gnt_map_locked(x, mapper, granter, ref, to_grant);
    if (!va) {
        pthread_mutex_unlock(&x->lock);
        return GP_EACCES;
    }
    /* The copy runs outside the hypervisor lock (like Xen, which holds
     * only the grant's own reference while it copies): GTF_reading /
     * GTF_writing stay set meanwhile, so the granter cannot end access. */
    pthread_mutex_unlock(&x->lock);
    if (to_grant)
        memcpy(va + offset, local, len);
    else
        memcpy(local, va + offset, len);
    pthread_mutex_lock(&x->lock);
    hv_gnt_unmap_locked(x, granter, ref, to_grant);
    pthread_mutex_unlock(&x->lock);
    return 0;
}
