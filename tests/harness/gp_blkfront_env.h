/* What the blkfront tests share: the simulator fixture (gp_sim_env.h) and
 * disks, each a sim_blkback in dom0 and a blkfront in the guest on
 * device/vbd/<devid>, connected before the test sees it. */
#ifndef GP_BLKFRONT_ENV_H
#define GP_BLKFRONT_ENV_H

#include <stdio.h>
#include <unistd.h>

#include "blkif/blkfront_internal.h"
#include "blkback/sim_blkback.h"
#include "gp_sim_env.h"
#include "gplpv/blkfront.h"

struct bfe_dev {
    struct sim_blkback *bb;
    struct blkfront *bf;              /* NULL when it did not connect */
    unsigned devid;
};

static inline struct bfe_dev bfe_open(unsigned devid, const struct sim_blkback_opts *bo,
                                      const struct blkfront_opts *fo)
{
    struct bfe_dev d = { .devid = devid };
    d.bb = sim_blkback_create(gp_env.x, gp_env.d0, 1, devid, bo);
    char node[64];
    snprintf(node, sizeof(node), "device/vbd/%u", devid);
    if (d.bb && blkfront_create(gp_env.p, gp_env.xs, node, fo, &d.bf) == 0 &&
        blkfront_connect(d.bf, GP_S(5)) != 0) {
        blkfront_destroy(d.bf);
        d.bf = NULL;
    }
    return d;
}

static inline void bfe_close(struct bfe_dev *d)
{
    blkfront_destroy(d->bf);
    sim_blkback_destroy(d->bb);
}

/* Wait (at most 10 s) until the backend has seen `n` connects and
 * blkfront is connected again. */
static inline bool bfe_wait_connects(struct bfe_dev *d, uint64_t n)
{
    const struct gp_platform *p = gp_env.p;
    for (int i = 0; i < 1000; i++) {
        struct sim_blkback_stats st;
        sim_blkback_get_stats(d->bb, &st);
        gp_os_lock_acquire(p, d->bf->lock);
        bool up = d->bf->connected;
        gp_os_lock_release(p, d->bf->lock);
        if (st.connects >= n && up)
            return true;
        usleep(10000);
    }
    return false;
}

#endif
