/* The simulated hypervisor's memory operations: add-to-physmap for
 * shared_info and grant frames, and the balloon's decrease-reservation /
 * populate-physmap on the domain's page pool. */
#include <errno.h>
#include <string.h>

#include "hv_internal.h"
#include "os/sim_os.h"

#include <xen/memory.h>

void *hv_gfn_to_va(struct sim_domain *d, uint64_t gfn)
{
    if (gfn < HV_BASE_GFN || gfn >= HV_BASE_GFN + d->opts.max_pages)
        return NULL;
    if (d->unpopulated[gfn - HV_BASE_GFN])
        return NULL;
    return sim_os_gfn_to_va(d->os, gfn);
}

/* The page at gpfn, for a call that names domid: 0 with *va, or -EPERM
 * (another domain) or -EINVAL (no page there). */
static long hv_own_page(struct sim_domain *d, domid_t domid, uint64_t gpfn, void **va)
{
    if (domid != DOMID_SELF && domid != d->domid)
        return -EPERM;
    *va = hv_gfn_to_va(d, gpfn);
    return *va ? 0 : -EINVAL;
}

static long hv_add_to_physmap(struct sim_domain *d, struct xen_add_to_physmap *a)
{
    void *va;
    long err = hv_own_page(d, a->domid, a->gpfn, &va);
    if (err)
        return err;
    switch (a->space) {
    case XENMAPSPACE_shared_info:
        if (a->idx != 0)
            return -EINVAL;
        memset(va, 0, GP_PAGE_SIZE);
        d->shi = va;
        return 0;
    case XENMAPSPACE_grant_table:
        if (a->idx >= HV_MAX_GRANT_FRAMES)
            return -EINVAL;
        memset(va, 0, GP_PAGE_SIZE);
        d->gframes[a->idx] = va;
        if (a->idx + 1 > d->nr_gframes)
            d->nr_gframes = (unsigned)a->idx + 1;
        return 0;
    default:
        return -ENOSYS;
    }
}

/* Xen's page (shared_info, a grant frame) or RAM taken off a gfn: the gfn
 * is a hole until populate_physmap puts RAM there again. */
static long hv_remove_from_physmap(struct sim_domain *d, struct xen_remove_from_physmap *r)
{
    void *va;
    long err = hv_own_page(d, r->domid, r->gpfn, &va);
    if (err)
        return err;
    if (va == d->shi)
        d->shi = NULL;
    for (unsigned i = 0; i < d->nr_gframes; i++)
        if (d->gframes[i] == va)
            d->gframes[i] = NULL;
    memset(va, 0xdd, GP_PAGE_SIZE);
    d->unpopulated[r->gpfn - HV_BASE_GFN] = 1;
    d->tot_pages--;
    return 0;
}

static long hv_reservation(struct sim_domain *d, int cmd, struct xen_memory_reservation *r)
{
    if (r->domid != DOMID_SELF && r->domid != d->domid)
        return -EPERM;
    if (r->extent_order != 0)
        return -EINVAL;
    xen_pfn_t *list;   /* a guest handle is a pointer, bare or wrapped */
    memcpy(&list, &r->extent_start, sizeof(list));
    long done = 0;
    for (xen_ulong_t i = 0; i < r->nr_extents; i++) {
        if (hv_fault(d->x, SIM_FAULT_HYPERCALL_FAIL))
            break;                                  /* partial success */
        uint64_t gfn = list[i];
        if (gfn < HV_BASE_GFN || gfn >= HV_BASE_GFN + d->opts.max_pages)
            break;
        uint8_t *un = &d->unpopulated[gfn - HV_BASE_GFN];
        void *va = sim_os_gfn_to_va(d->os, gfn);
        if (cmd == XENMEM_decrease_reservation) {
            if (*un)
                break;
            memset(va, 0xdd, GP_PAGE_SIZE);          /* poison: nobody may use it now */
            *un = 1;
            d->tot_pages--;
        } else {
            if (!*un || d->tot_pages >= d->opts.max_pages)
                break;
            memset(va, 0, GP_PAGE_SIZE);
            *un = 0;
            d->tot_pages++;
        }
        done++;
    }
    return done;
}

long hv_memory_op(struct sim_domain *d, int cmd, void *arg)
{
    switch (cmd) {
    case XENMEM_add_to_physmap:
        return hv_add_to_physmap(d, arg);
    case XENMEM_remove_from_physmap:
        return hv_remove_from_physmap(d, arg);
    case XENMEM_decrease_reservation:
    case XENMEM_populate_physmap:
        return hv_reservation(d, cmd, arg);
    case XENMEM_current_reservation:
        return d->tot_pages;
    case XENMEM_maximum_reservation:
        return d->opts.max_pages;
    default:
        return -ENOSYS;
    }
}

unsigned sim_domain_tot_pages(struct sim_domain *d)
{
    pthread_mutex_lock(&d->x->lock);
    unsigned n = d->tot_pages;
    pthread_mutex_unlock(&d->x->lock);
    return n;
}

bool sim_domain_gfn_populated(struct sim_domain *d, uint64_t gfn)
{
    pthread_mutex_lock(&d->x->lock);
    bool ok = gfn >= HV_BASE_GFN && gfn < HV_BASE_GFN + d->opts.max_pages &&
              !d->unpopulated[gfn - HV_BASE_GFN];
    pthread_mutex_unlock(&d->x->lock);
    return ok;
}
