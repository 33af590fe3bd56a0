/* Grant table v1 (core/gnttab) as the simulated hypervisor enforces it:
 * maps and copies follow the entries, end of access is refused while the
 * backend has the page mapped, revoked grants cannot be used. */
#include "gp_test.h"
#include "gnttab/gnttab.h"
#include "gplpv/hvm.h"
#include "os/sim_os.h"
#include "sim.h"

static struct sim_xen *x;
static struct sim_domain *d0, *g;
static const struct gp_platform *pg;

static void test_map_end_busy_then_free(void)
{
    uint64_t gfn;
    char *page = gp_os_page_alloc(pg, &gfn);
    REQUIRE(page);
    strcpy(page, "granted data");
    gp_grant_ref_t ref;
    REQUIRE(gp_xen_grant_access(pg, 0, gfn, false, &ref) == 0);
    char *m = sim_gnt_map(x, 0, 1, ref, true);
    REQUIRE(m);
    CHECK_STR(m, "granted data");
    strcpy(m, "written by dom0");
    CHECK_STR(page, "written by dom0");
    CHECK_EQ(gp_xen_grant_end(pg, ref), GP_EBUSY);     /* still mapped */
    sim_gnt_unmap(x, 0, 1, ref, true);
    CHECK_EQ(gp_xen_grant_end(pg, ref), 0);
    CHECK(sim_gnt_map(x, 0, 1, ref, false) == NULL);          /* revoked */
    CHECK_EQ(gp_xen_grant_end(pg, ref), GP_EINVAL);     /* not granted any more */
    gp_os_page_free(pg, page);
}

static void test_readonly_and_wrong_domain(void)
{
    uint64_t gfn;
    char *page = gp_os_page_alloc(pg, &gfn);
    gp_grant_ref_t ref;
    REQUIRE(gp_xen_grant_access(pg, 0, gfn, true, &ref) == 0);
    CHECK(sim_gnt_map(x, 0, 1, ref, true) == NULL);           /* read-only grant */
    char buf[8] = "abc";
    CHECK_EQ(sim_gnt_copy(x, 0, 1, ref, 0, buf, 4, true), GP_EACCES);
    CHECK_EQ(sim_gnt_copy(x, 0, 1, ref, 100, buf, 4, false), 0);
    CHECK(sim_gnt_map(x, 2, 1, ref, false) == NULL);          /* granted to dom0 only */
    CHECK_EQ(sim_gnt_copy(x, 0, 1, ref, 4090, buf, 8, false), GP_EINVAL);
    CHECK_EQ(gp_xen_grant_end(pg, ref), 0);
    gp_os_page_free(pg, page);
}

static void test_exhaustion_and_reuse(void)
{
    struct gnttab *gt = hvm_gnttab(sim_domain_hvm(g));
    struct gnttab_stats st;
    gnttab_get_stats(gt, &st);
    unsigned cap = st.capacity - st.in_use;
    gp_grant_ref_t *refs = calloc(cap + 1, sizeof(*refs));
    unsigned n = 0;
    while (n <= cap && gnttab_grant(gt, 0, 0x1234, true, &refs[n]) == 0)
        n++;
    CHECK_EQ(n, cap);
    gp_grant_ref_t extra;
    CHECK_EQ(gnttab_grant(gt, 0, 0x1234, true, &extra), GP_ENOSPC);
    for (unsigned i = 0; i < n; i++)
        CHECK_EQ(gnttab_end(gt, refs[i]), 0);
    CHECK_EQ(gnttab_grant(gt, 0, 0x1234, true, &extra), 0);
    CHECK_EQ(gnttab_end(gt, extra), 0);
    CHECK_EQ(gnttab_grant(gt, 0, 1ull << 40, true, &extra), GP_ERANGE);
    free(refs);
}

int main(void)
{
    x = sim_xen_create(&(struct sim_xen_opts){ .quiet = true });
    d0 = sim_domain_create(x, 0, 256);
    g = sim_domain_create(x, 1, 512);
    if (!d0 || !g)
        return 1;
    pg = sim_domain_platform(g);
    sim_os_set_quiet(sim_domain_os(g), true);
    GP_TEST_RUN(test_map_end_busy_then_free);
    GP_TEST_RUN(test_readonly_and_wrong_domain);
    GP_TEST_RUN(test_exhaustion_and_reuse);
    sim_domain_destroy(g);
    sim_domain_destroy(d0);
    sim_xen_destroy(x);
    return gp_test_finish();
}
