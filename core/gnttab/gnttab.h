/*
 * gnttab: the guest's grant table, version 1, as the bus driver keeps it.
 * The frames are mapped by the HVM bring-up (XENMAPSPACE_grant_table);
 * this module owns the entries: a free list of references, entries
 * written in the order the ABI requires (frame and domid, barrier, then
 * flags), and end-of-access that refuses to recycle an entry the other
 * domain still reads or writes.
 */
#ifndef GPLPV_GNTTAB_H
#define GPLPV_GNTTAB_H

#include "gplpv/platform.h"

struct gnttab;

struct gnttab_stats {
    uint64_t grants, ends, busy_ends, exhausted;
    unsigned in_use, capacity;
};

/* frames[i] is the va of grant frame i (512 v1 entries each). */
int gnttab_create(const struct gp_platform *p, void *const *frames, unsigned nr_frames,
                  struct gnttab **out);
void gnttab_destroy(struct gnttab *g);
/* After a restore: the same frames were re-mapped; every entry is free. */
void gnttab_reset(struct gnttab *g);

int gnttab_grant(struct gnttab *g, gp_domid_t domid, uint64_t gfn, bool readonly,
                 gp_grant_ref_t *ref);
/* GP_EBUSY while the other domain has the page mapped (entry kept). */
int gnttab_end(struct gnttab *g, gp_grant_ref_t ref);
void gnttab_get_stats(struct gnttab *g, struct gnttab_stats *s);

#endif
