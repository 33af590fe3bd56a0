/* Tests of the simulator's OS services (sim/os). */
#include "gp_test.h"
#include "gplpv/log.h"
#include "os/sim_os.h"

static void test_page_pool_frames(void)
{
    struct sim_os *os = sim_os_create("t", 4, 0x100, true);
    struct gp_platform p;
    REQUIRE(os);
    sim_os_fill(os, &p);
    uint64_t g[5];
    void *va[5];
    for (int i = 0; i < 4; i++) {
        va[i] = gp_os_page_alloc(&p, &g[i]);
        REQUIRE(va[i]);
        CHECK_EQ(g[i], 0x100 + i);
        CHECK(sim_os_gfn_to_va(os, g[i]) == va[i]);
    }
    va[4] = gp_os_page_alloc(&p, &g[4]);
    CHECK(va[4] == NULL);
    CHECK_EQ(sim_os_pages_in_use(os), 4);
    uint64_t g2;
    CHECK(gp_os_va_to_gfn(&p, (char *)va[2] + 100, &g2) && g2 == 0x102);
    for (int i = 0; i < 4; i++)
        gp_os_page_free(&p, va[i]);
    CHECK_EQ(sim_os_pages_in_use(os), 0);
    sim_os_destroy(os);
}

static atomic_int order_errors, ran;
static void work(void *arg)
{
    int n = (int)(intptr_t)arg;
    if (atomic_fetch_add(&ran, 1) != n)
        atomic_fetch_add(&order_errors, 1);
}

static void test_defer_runs_in_order(void)
{
    struct sim_os *os = sim_os_create("t", 0, 0, true);
    struct gp_platform p;
    REQUIRE(os);
    sim_os_fill(os, &p);
    for (int i = 0; i < 100; i++)
        CHECK_EQ(gp_os_defer(&p, work, (void *)(intptr_t)i), 0);
    sim_os_drain(os);
    CHECK_EQ(atomic_load(&ran), 100);
    CHECK_EQ(atomic_load(&order_errors), 0);
    sim_os_destroy(os);
}

static void test_event_timeout_and_signal(void)
{
    struct sim_os *os = sim_os_create("t", 0, 0, true);
    struct gp_platform p;
    REQUIRE(os);
    sim_os_fill(os, &p);
    struct gp_event *e = gp_os_event_create(&p);
    CHECK_EQ(gp_os_event_wait(&p, e, GP_MS(1)), GP_ETIMEDOUT);
    gp_os_event_signal(&p, e);
    CHECK_EQ(gp_os_event_wait(&p, e, GP_MS(1)), 0);
    CHECK_EQ(gp_os_event_wait(&p, e, GP_MS(1)), GP_ETIMEDOUT); /* auto-reset */
    gp_os_event_destroy(&p, e);
    GP_ERR(&p, "an error line %d", 1);
    CHECK_EQ(sim_os_error_count(os), 1);
    sim_os_destroy(os);
}

int main(void)
{
    GP_TEST_RUN(test_page_pool_frames);
    GP_TEST_RUN(test_defer_runs_in_order);
    GP_TEST_RUN(test_event_timeout_and_signal);
    return gp_test_finish();
}
