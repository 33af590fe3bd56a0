/* gp_ratelimit (core/lib/gp_ratelimit.c): a burst per interval, the next
 * message after a quiet spell counts what was held back, time going
 * across the 64-bit clock's values a monotonic clock gives. */
#include "gp_test.h"
#include "lib/ratelimit.h"

static void test_burst_then_quiet_then_count(void)
{
    struct gp_ratelimit rl = GP_RATELIMIT_INIT(GP_US(1), 3);
    uint32_t held = 99;
    unsigned let = 0;
    for (int i = 0; i < 50; i++)
        let += gp_ratelimit_allow(&rl, 5000 + (uint64_t)i, &held);
    CHECK_EQ(let, 3);
    CHECK(gp_ratelimit_allow(&rl, 6000, &held));    /* a new window */
    CHECK_EQ(held, 47);
    CHECK(gp_ratelimit_allow(&rl, 6001, &held));
    CHECK_EQ(held, 0);
    CHECK(gp_ratelimit_allow(&rl, 6002, &held));
    CHECK(!gp_ratelimit_allow(&rl, 6999, &held));
    /* millions of refusals do not wrap the counters into letting one through */
    unsigned extra = 0;
    for (int i = 0; i < 2000000; i++)
        extra += gp_ratelimit_allow(&rl, 6500, NULL);
    CHECK_EQ(extra, 0);
    CHECK(gp_ratelimit_allow(&rl, 8000, &held));
    CHECK_EQ(held, 2000001);
}

static void test_starts_at_time_zero(void)
{
    struct gp_ratelimit rl = GP_RATELIMIT_INIT(10, 1);
    CHECK(gp_ratelimit_allow(&rl, 0, NULL));
    CHECK(!gp_ratelimit_allow(&rl, 9, NULL));
    CHECK(gp_ratelimit_allow(&rl, 10, NULL));
}

int main(void)
{
    GP_TEST_RUN(test_burst_then_quiet_then_count);
    GP_TEST_RUN(test_starts_at_time_zero);
    return gp_test_finish();
}
