/* Tests of the core's own formatter and error mapping. */
#include "gp_test.h"
#include "gplpv/log.h"

static void test_fmt_integers(void)
{
    char b[64];
    gp_snprintf(b, sizeof b, "%d %u %x %X %5d|%-4u|%03d", -42, 42u, 255u, 255u, 7, 3u, 5);
    CHECK_STR(b, "-42 42 ff FF     7|3   |005");
    gp_snprintf(b, sizeof b, "%lld %llu %zu %lx", -9000000000LL, 18000000000ULL, (size_t)12, 0xabcUL);
    CHECK_STR(b, "-9000000000 18000000000 12 abc");
    gp_snprintf(b, sizeof b, "%hhu %hd", 300, 70000);
    CHECK_STR(b, "44 4464");
}

static void test_fmt_strings_and_truncation(void)
{
    char b[8];
    int n = gp_snprintf(b, sizeof b, "%s/%s", "device", "vbd");
    CHECK_EQ(n, 10);
    CHECK_STR(b, "device/");
    char c[32];
    gp_snprintf(c, sizeof c, "[%.3s][%5s][%-3s][%c%%]", "abcdef", "ab", "x", 'z');
    CHECK_STR(c, "[abc][   ab][x  ][z%]");
    const char *volatile nothing = 0;
    gp_snprintf(c, sizeof c, "%s", nothing);
    CHECK_STR(c, "(null)");
}

static void test_errors_map(void)
{
    CHECK_EQ(gp_error_from_xs("ENOENT"), GP_ENOENT);
    CHECK_EQ(gp_error_from_xs("EAGAIN"), GP_EAGAIN);
    CHECK_EQ(gp_error_from_xs("EQUOTA"), GP_EQUOTA);
    CHECK_EQ(gp_error_from_xs("bogus"), GP_EPROTO);
    CHECK_STR(gp_strerror(GP_EACCES), "EACCES");
    CHECK_EQ(gp_error_from_xen(-12), GP_ENOMEM);
    CHECK_EQ(gp_error_from_xen(-9999), GP_EIO);
}

int main(void)
{
    GP_TEST_RUN(test_fmt_integers);
    GP_TEST_RUN(test_fmt_strings_and_truncation);
    GP_TEST_RUN(test_errors_map);
    return gp_test_finish();
}
