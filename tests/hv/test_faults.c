/* The core under the simulated hypervisor's fault injection: lost,
 * spurious and delayed event notifications and delayed xenstore replies
 * must not lose or hang xenstore requests over the ring. */
#include "gp_test.h"
#include "gplpv/xs.h"
#include "os/sim_os.h"
#include "sim.h"

static void test_xenstore_survives_lost_and_spurious_events(void)
{
    struct sim_xen *x = sim_xen_create(&(struct sim_xen_opts){ .quiet = true, .seed = 5 });
    struct sim_domain *g = sim_domain_create(x, 4, 256);
    REQUIRE(g);
    const struct gp_platform *p = sim_domain_platform(g);
    struct xs_client *c = NULL;
    REQUIRE(xs_client_create(p, NULL, &c) == 0);
    sim_fault_set(x, SIM_FAULT_NOTIFY_LOSE, 300000);       /* 30 % of notifications lost */
    sim_fault_set(x, SIM_FAULT_NOTIFY_SPURIOUS, 200000);   /* 20 % extra upcalls */
    sim_fault_set(x, SIM_FAULT_NOTIFY_DELAY_US, 300);
    sim_fault_set(x, SIM_FAULT_XS_DELAY_US, 500);
    int bad = 0;
    int n = getenv("GP_TEST_SLOW") ? 30 : 200;
    for (int i = 0; i < n; i++) {
        char val[16], *v = NULL;
        snprintf(val, sizeof(val), "%d", i);
        if (xs_write_str(c, XS_TXN_NONE, "f/k", val) != 0 ||
            xs_read(c, XS_TXN_NONE, "f/k", &v, NULL) != 0 || strcmp(v, val) != 0)
            bad++;
        xs_free(c, v);
    }
    for (int f = 0; f < SIM_FAULT_COUNT; f++)
        sim_fault_set(x, (enum sim_fault)f, 0);
    CHECK_EQ(bad, 0);
    xs_client_destroy(c);
    sim_domain_destroy(g);
    sim_xen_destroy(x);
}

int main(void)
{
    GP_TEST_RUN(test_xenstore_survives_lost_and_spurious_events);
    return gp_test_finish();
}
