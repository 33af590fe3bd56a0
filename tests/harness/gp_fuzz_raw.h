/* What the fuzz targets that drive a frontend's data path directly share:
 * a platform of sim_os's OS services whose notifications go nowhere (and
 * whose grants, when asked for, always succeed), set up once per process
 * with the ring pages the harness owns; and a count of each request's
 * completions, which must end at exactly one. */
#ifndef GP_FUZZ_RAW_H
#define GP_FUZZ_RAW_H

#include <stdbool.h>
#include <stdint.h>

#include "os/sim_os.h"

#define FZ_MAX_RINGS 2
#define FZ_MAX_REQS 8

static struct sim_os *fz_os;
static struct gp_platform fz_plat;
static struct gp_xen fz_xen;          /* the Xen services: grants and notifications */
static void *fz_rings[FZ_MAX_RINGS];
static gp_grant_ref_t fz_next_ref = 8;
static int fz_calls[FZ_MAX_REQS];

static inline int fz_grant(void *ctx, gp_domid_t d, uint64_t gfn, bool ro, gp_grant_ref_t *ref)
{
    (void)ctx; (void)d; (void)gfn; (void)ro;
    *ref = fz_next_ref++;
    return 0;
}

static inline int fz_end(void *ctx, gp_grant_ref_t ref) { (void)ctx; (void)ref; return 0; }
static inline void fz_notify(void *ctx, gp_port_t port) { (void)ctx; (void)port; }

/* Once per process: fz_plat over a sim_os of os_pages pages, and nrings
 * ring pages in fz_rings. */
static inline void fz_platform_once(unsigned os_pages, bool raw_grants, unsigned nrings)
{
    if (fz_os)
        return;
    fz_os = sim_os_create("fuzz", os_pages, 0x10, true);
    sim_os_fill(fz_os, &fz_plat);
    if (raw_grants) {
        fz_xen.grant_access = fz_grant;
        fz_xen.grant_end = fz_end;
    }
    fz_xen.evtchn_notify = fz_notify;
    fz_plat.xen = &fz_xen;
    for (unsigned i = 0; i < nrings && i < FZ_MAX_RINGS; i++) {
        uint64_t gfn;
        fz_rings[i] = gp_os_page_alloc(&fz_plat, &gfn);
    }
}

/* Request number 'arg' completed once more. */
static inline void fz_count(void *arg)
{
    fz_calls[(intptr_t)arg]++;
}

/* Every one of the first n requests completed exactly once, or a trap. */
static inline void fz_check_once(unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (fz_calls[i] != 1)
            __builtin_trap();      /* a request completed twice or never */
}

#endif
