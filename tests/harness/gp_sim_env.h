/* The simulator fixture the device tests and benchmarks start from: one
 * simulated Xen (quiet), dom0 with 512 pages for the backends, guest
 * domain 1 with the pages asked for, the guest's platform and its
 * xenstore client.  gp_sim_env_down takes down whatever was brought up,
 * in the reverse order, so a fixture that failed half-way is torn down
 * the same way. */
#ifndef GP_SIM_ENV_H
#define GP_SIM_ENV_H

#include "gp_test.h"
#include "gplpv/xs.h"
#include "sim.h"

struct gp_sim_env {
    struct sim_xen *x;
    struct sim_domain *d0, *g;
    const struct gp_platform *p;      /* the guest's */
    struct xs_client *xs;             /* the guest's; NULL without one */
};

/* The one fixture of a test program (a program with more uses its own). */
static struct gp_sim_env gp_env;

enum gp_sim_env_flags {
    GP_SIM_ENV_XS = 1,                /* create the guest's xenstore client */
};

/* Returns 0, or -1 with what was brought up left for gp_sim_env_down. */
static inline int gp_sim_env_up(struct gp_sim_env *e, unsigned guest_pages, unsigned flags)
{
    *e = (struct gp_sim_env){ 0 };
    e->x = sim_xen_create(&(struct sim_xen_opts){ .quiet = true });
    e->d0 = sim_domain_create(e->x, 0, 512);
    e->g = sim_domain_create_ex(e->x, 1, &(struct sim_domain_opts){ .max_pages = guest_pages });
    if (!e->d0 || !e->g)
        return -1;
    e->p = sim_domain_platform(e->g);
    if ((flags & GP_SIM_ENV_XS) && xs_client_create(e->p, NULL, &e->xs) != 0) {
        e->xs = NULL;
        return -1;
    }
    return 0;
}

static inline void gp_sim_env_down(struct gp_sim_env *e)
{
    if (e->xs)
        xs_client_destroy(e->xs);
    if (e->g)
        sim_domain_destroy(e->g);
    if (e->d0)
        sim_domain_destroy(e->d0);
    if (e->x)
        sim_xen_destroy(e->x);
    *e = (struct gp_sim_env){ 0 };
}

/* A test program's main on the fixture: brings gp_env up (with the
 * guest's xenstore client), runs the program's tests, takes it down and
 * gives the exit status.  'prog' names the program in the closing line. */
static inline int gp_sim_env_main_named(unsigned guest_pages, void (*run_tests)(void),
                                        const char *prog)
{
    if (gp_sim_env_up(&gp_env, guest_pages, GP_SIM_ENV_XS) != 0)
        return 1;
    run_tests();
    gp_sim_env_down(&gp_env);
    return gp_test_finish_named(prog);
}

#define gp_sim_env_main(guest_pages, run_tests) \
    gp_sim_env_main_named((guest_pages), (run_tests), __FILE__)

#endif
