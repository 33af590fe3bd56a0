/* A simulated vif on the fixture of gp_sim_env.h: a netback on dom0 and a
 * netfront on guest 1's device/vif/<devid>, connected. */
#ifndef GP_VIF_H
#define GP_VIF_H

#include <stdio.h>

#include "gp_sim_env.h"
#include "gplpv/netfront.h"
#include "netback/sim_netback.h"

/* *nb is the backend (NULL when it could not be created); *nf the frontend
 * with options fo, connected within 5 s, or NULL. */
static inline void gp_vif_attach(unsigned devid, const struct sim_netback_opts *bo,
                                 const struct netfront_opts *fo, struct sim_netback **nb,
                                 struct netfront **nf)
{
    *nb = sim_netback_create(gp_env.x, gp_env.d0, 1, devid, bo);
    char node[64];
    snprintf(node, sizeof(node), "device/vif/%u", devid);
    if (*nb && netfront_create(gp_env.p, gp_env.xs, node, fo, nf) == 0 &&
        netfront_connect(*nf, GP_S(5)) != 0) {
        netfront_destroy(*nf);
        *nf = NULL;
    }
}

#endif
