/*
 * gp_test.h - the test harness every test program under tests/ uses.
 *
 *   static void test_ring_wraps(void) { CHECK(x == 1); CHECK_EQ(a, b); }
 *   int main(void) { GP_TEST_RUN(test_ring_wraps); ...; return gp_test_finish(); }
 *
 * Each test prints "ok <name>" or "FAIL <name>" with the failed checks;
 * gp_test_finish prints "<program>: N passed, N failed" and returns the
 * exit status.  scripts/run-tests adds up all programs and prints the
 * closing "N passed, N failed" line.  REQUIRE stops the current test.
 */
#ifndef GP_TEST_H
#define GP_TEST_H

#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int gp_test_failed_checks;
static int gp_test_passed, gp_test_failed;
static jmp_buf gp_test_jmp;
static const char *gp_test_current = "?";

static inline void gp_test_fail(const char *file, int line, const char *what)
{
    atomic_fetch_add(&gp_test_failed_checks, 1);
    fprintf(stderr, "  check failed in %s at %s:%d: %s\n", gp_test_current, file, line, what);
    fflush(stderr);
}

#define CHECK(cond)                                                     \
    do {                                                                \
        if (!(cond))                                                    \
            gp_test_fail(__FILE__, __LINE__, #cond);                    \
    } while (0)

#define REQUIRE(cond)                                                   \
    do {                                                                \
        if (!(cond)) {                                                  \
            gp_test_fail(__FILE__, __LINE__, #cond);                    \
            longjmp(gp_test_jmp, 1);                                    \
        }                                                               \
    } while (0)

#define CHECK_EQ(a, b)                                                  \
    do {                                                                \
        long long gp_a_ = (long long)(a), gp_b_ = (long long)(b);       \
        if (gp_a_ != gp_b_) {                                           \
            char gp_m_[256];                                            \
            snprintf(gp_m_, sizeof gp_m_, "%s == %s (%lld != %lld)",    \
                     #a, #b, gp_a_, gp_b_);                             \
            gp_test_fail(__FILE__, __LINE__, gp_m_);                    \
        }                                                               \
    } while (0)

#define CHECK_STR(a, b)                                                 \
    do {                                                                \
        const char *gp_a_ = (a), *gp_b_ = (b);                          \
        if (!gp_a_ || !gp_b_ || strcmp(gp_a_, gp_b_) != 0) {            \
            char gp_m_[512];                                            \
            snprintf(gp_m_, sizeof gp_m_, "%s == %s (\"%s\" != \"%s\")",\
                     #a, #b, gp_a_ ? gp_a_ : "(null)",                  \
                     gp_b_ ? gp_b_ : "(null)");                         \
            gp_test_fail(__FILE__, __LINE__, gp_m_);                    \
        }                                                               \
    } while (0)

/* GP_TEST_ONLY=<name> runs that test alone (to repeat one under valgrind). */
static inline void gp_test_run_one(const char *name, void (*fn)(void))
{
    const char *only = getenv("GP_TEST_ONLY");
    if (only && *only && strcmp(only, name) != 0)
        return;
    gp_test_current = name;
    atomic_store(&gp_test_failed_checks, 0);
    if (setjmp(gp_test_jmp) == 0)
        fn();
    if (atomic_load(&gp_test_failed_checks) == 0) {
        gp_test_passed++;
        printf("ok %s\n", name);
    } else {
        gp_test_failed++;
        printf("FAIL %s\n", name);
    }
    fflush(stdout);
}

#define GP_TEST_RUN(fn) gp_test_run_one(#fn, fn)

static inline int gp_test_finish_named(const char *prog)
{
    printf("%s: %d passed, %d failed\n", prog, gp_test_passed, gp_test_failed);
    fflush(stdout);
    return gp_test_failed ? 1 : 0;
}

#define gp_test_finish() gp_test_finish_named(__FILE__)

/* Waits while cond holds (polled every millisecond) for at most
 * GP_TEST_WAIT_MS.  What other threads do is waited for by its effect,
 * never by a fixed time: on a machine running at a tenth of its speed a
 * test may be slow, never wrong.  The check after the wait says whether
 * the effect came. */
#define GP_TEST_WAIT_MS 30000
#define GP_WAIT_WHILE(cond)                                                     \
    do {                                                                        \
        for (int gp_wait_ms_ = 0; gp_wait_ms_ < GP_TEST_WAIT_MS && (cond); gp_wait_ms_++) \
            usleep(1000);                                                       \
    } while (0)

/* The same for a thread that holds mutex m and is woken through c: waits
 * while cond holds, for at most secs seconds. */
#define GP_COND_WAIT_WHILE(c, m, secs, cond)                                    \
    do {                                                                        \
        struct timespec gp_wait_ts_;                                            \
        clock_gettime(CLOCK_REALTIME, &gp_wait_ts_);                            \
        gp_wait_ts_.tv_sec += (secs);                                           \
        while ((cond) && pthread_cond_timedwait((c), (m), &gp_wait_ts_) == 0)   \
            ;                                                                   \
    } while (0)

/* A backend restarted 60 times, 1 to 5 ms apart, while stream(arg) runs on
 * a thread of its own; then *stop is set and the thread joined. */
static inline void gp_restart_storm(void *(*stream)(void *), void *arg, bool *stop,
                                    void (*restart)(void *), void *backend)
{
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, stream, arg) == 0);
    for (int round = 0; round < 60; round++) {
        restart(backend);
        usleep((useconds_t)(1000 + (round % 5) * 1000));
    }
    __atomic_store_n(stop, true, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
}

#endif
