/* netfront against backends that come back different or answer in ways a
 * hostile backend chooses (issue 14): fewer or more queues with frames
 * held on the ones that go, tx answers on a ring already given up, a
 * control ring never answered, a flood of bad rx frames, stale bytes in
 * granted pages, features that flip across restarts.  Every frame
 * completes exactly once and what arrives is intact. */
#include "netfront_env.h"

/* A backend that answers every rx slot badly must not flood the log: the
 * drops are all counted, the warnings about them bounded. */
static void test_rx_drop_flood_is_rate_limited(void)
{
    struct ne_vif v;
    ne_open(&v, 1, NULL, (struct netfront_opts){ 0 });
    REQUIRE(v.nf);
    struct sim_os *os = sim_domain_os(ne_g);
    sim_os_set_quiet(os, true);
    unsigned warn0 = sim_os_warn_count(os);
    static uint8_t f[200];
    uint32_t len = fr_build(f, 4, 6, 100, 1, FR_CSUM_FULL, 0);
    enum { N = 300 };
    for (unsigned i = 0; i < N; i++) {
        sim_netback_corrupt_next(v.nb, i & 1 ? SIM_NET_RX_BAD_ID : SIM_NET_RX_BAD_OFFSET);
        sim_netback_inject(v.nb, f, len, 0, 0, 0);
    }
    struct netfront_stats st = { 0 };
    for (int i = 0; i < 500 && st.rx_dropped < N; i++) {
        usleep(5000);
        netfront_get_stats(v.nf, &st);
    }
    CHECK_EQ(st.rx_dropped, N);
    unsigned warned = sim_os_warn_count(os) - warn0;
    CHECK(warned >= 1);
    CHECK(warned <= 12);              /* 10 per 10 s, and the line counting the rest */
    CHECK(!netfront_is_broken(v.nf));
    sim_os_set_quiet(os, false);
    ne_close(&v);
}

int main(void)
{
    if (ne_setup() != 0)
        return 1;
    GP_TEST_RUN(test_rx_drop_flood_is_rate_limited);
    ne_teardown();
    return gp_test_finish();
}
