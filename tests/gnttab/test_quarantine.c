/* gp_quarantine (core/lib): a page whose grant the backend still maps is
 * kept with its ref and never handed back; it is freed once ending the
 * grant succeeds, all are freed after a restore, and destroy leaks (and
 * reports) what is still mapped.  Against the simulated grant table. */
#include "gp_test.h"
#include "lib/quarantine.h"
#include "os/sim_os.h"
#include "sim.h"

static struct sim_xen *x;
static struct sim_domain *d0, *g;
static const struct gp_platform *pg;

struct granted {
    char *va;
    gp_grant_ref_t ref;
    char *mapped;              /* dom0's mapping, or NULL */
};

static struct granted grant_one(bool map)
{
    struct granted r = { 0 };
    uint64_t gfn;
    r.va = gp_os_page_alloc(pg, &gfn);
    if (r.va && gp_xen_grant_access(pg, 0, gfn, false, &r.ref) == 0 && map)
        r.mapped = sim_gnt_map(x, 0, 1, r.ref, true);
    return r;
}

static void test_ended_pages_stay_with_the_caller(void)
{
    struct gp_quarantine q;
    REQUIRE(gp_quarantine_init(&q, pg, "test") == 0);
    struct granted a = grant_one(false);
    REQUIRE(a.va);
    unsigned before = sim_os_pages_in_use(sim_domain_os(g));
    CHECK_EQ(gp_quarantine_end(&q, a.ref, a.va), 0);
    struct gp_quarantine_stats s;
    gp_quarantine_get_stats(&q, &s);
    CHECK(s.quarantined == 0 && s.held == 0);
    CHECK_EQ(sim_os_pages_in_use(sim_domain_os(g)), before);   /* still ours */
    gp_os_page_free(pg, a.va);
    gp_quarantine_destroy(&q);
}

static void test_mapped_pages_held_until_unmapped(void)
{
    struct gp_quarantine q;
    REQUIRE(gp_quarantine_init(&q, pg, "test") == 0);
    sim_os_set_quiet(sim_domain_os(g), true);
    struct granted p[3];
    for (int i = 0; i < 3; i++) {
        p[i] = grant_one(true);
        REQUIRE(p[i].va && p[i].mapped);
    }
    unsigned used = sim_os_pages_in_use(sim_domain_os(g));
    for (int i = 0; i < 3; i++)
        CHECK_EQ(gp_quarantine_end(&q, p[i].ref, p[i].va), GP_EBUSY);
    struct gp_quarantine_stats s;
    gp_quarantine_get_stats(&q, &s);
    CHECK(s.quarantined == 3 && s.held == 3 && s.released == 0);
    CHECK_EQ(gp_quarantine_retry(&q), 3);                      /* still mapped */
    CHECK_EQ(sim_os_pages_in_use(sim_domain_os(g)), used);      /* nothing freed */
    strcpy(p[0].mapped, "the backend still writes here");
    sim_gnt_unmap(x, 0, 1, p[0].ref, true);
    sim_gnt_unmap(x, 0, 1, p[1].ref, true);
    CHECK_EQ(gp_quarantine_retry(&q), 1);
    gp_quarantine_get_stats(&q, &s);
    CHECK(s.held == 1 && s.released == 2);
    CHECK_EQ(sim_os_pages_in_use(sim_domain_os(g)), used - 2);  /* freed once unmapped */
    CHECK(sim_gnt_map(x, 0, 1, p[0].ref, false) == NULL);       /* and their grants ended */
    unsigned errs = sim_os_error_count(sim_domain_os(g));
    gp_quarantine_destroy(&q);                                  /* p[2] is still mapped */
    CHECK_EQ(sim_os_error_count(sim_domain_os(g)), errs + 1);   /* said once */
    CHECK_EQ(sim_os_pages_in_use(sim_domain_os(g)), used - 2);  /* leaked, not reused */
    sim_gnt_unmap(x, 0, 1, p[2].ref, true);
    sim_os_set_quiet(sim_domain_os(g), false);
}

static void test_forget_frees_everything(void)
{
    struct gp_quarantine q;
    REQUIRE(gp_quarantine_init(&q, pg, "test") == 0);
    sim_os_set_quiet(sim_domain_os(g), true);
    struct granted a = grant_one(true);
    REQUIRE(a.mapped);
    unsigned used = sim_os_pages_in_use(sim_domain_os(g));
    CHECK_EQ(gp_quarantine_end(&q, a.ref, a.va), GP_EBUSY);
    gp_quarantine_forget(&q);             /* as after a restore: the refs mean nothing */
    struct gp_quarantine_stats s;
    gp_quarantine_get_stats(&q, &s);
    CHECK(s.held == 0 && s.released == 1);
    CHECK_EQ(sim_os_pages_in_use(sim_domain_os(g)), used - 1);
    gp_quarantine_destroy(&q);
    sim_gnt_unmap(x, 0, 1, a.ref, true);
    sim_os_set_quiet(sim_domain_os(g), false);
}

int main(void)
{
    x = sim_xen_create(&(struct sim_xen_opts){ .quiet = true });
    d0 = sim_domain_create(x, 0, 64);
    g = sim_domain_create(x, 1, 256);
    if (!d0 || !g)
        return 1;
    pg = sim_domain_platform(g);
    GP_TEST_RUN(test_ended_pages_stay_with_the_caller);
    GP_TEST_RUN(test_mapped_pages_held_until_unmapped);
    GP_TEST_RUN(test_forget_frees_everything);
    sim_domain_destroy(g);
    sim_domain_destroy(d0);
    sim_xen_destroy(x);
    return gp_test_finish();
}
