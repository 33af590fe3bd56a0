/* blkfront's dump path (core/blkif/blkfront_dump.c) against the simulated
 * blkback: polled writes and reads land byte for byte with the normal
 * path's event handler silenced (a crash) and with requests of the normal
 * path still in flight, whose answers are dropped; after a hibernation-
 * style quiesce the normal path goes on using the same ring; the pages
 * follow a backend restart; a backend that breaks the protocol or never
 * answers gives an error, never a hang. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "gp_blkfront_env.h"
#include "gp_test.h"
#include "gplpv/blkfront_dump.h"
#include "os/sim_os.h"

static void stall(void *arg, unsigned us)
{
    (void)arg;
    usleep(us);
}

static const struct blkfront_dump_env env = { stall, NULL, 2000000 };

/* The dump path needs indirect-capable backends here. */
static struct bfe_dev dev_open(unsigned devid)
{
    return bfe_open(devid, &(struct sim_blkback_opts){ .indirect = true }, NULL);
}

static gp_port_t dev_port(struct bfe_dev *d)
{
    char path[64], *v = NULL;
    snprintf(path, sizeof(path), "device/vbd/%u/event-channel", d->devid);
    gp_port_t port = 0;
    if (xs_read(gp_env.xs, XS_TXN_NONE, path, &v, NULL) == 0)
        port = (gp_port_t)strtoul(v, NULL, 10);
    xs_free(gp_env.xs, v);
    return port;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 37 + i * 11 + (i >> 9));
}

static atomic_int normal_calls, normal_status;
static void normal_done(void *arg, struct blkfront_req *r, int status)
{
    (void)arg;
    (void)r;
    atomic_store(&normal_status, status);
    atomic_fetch_add(&normal_calls, 1);
}

/* A crash: the normal path's handler no longer runs and six of its writes
 * are in flight; the dump writes and reads through the same ring. */
static void test_dump_after_a_crash_with_requests_in_flight(void)
{
    struct bfe_dev d = dev_open(2100);
    REQUIRE(d.bf);
    CHECK_EQ(blkfront_dump_enable(d.bf), 0);
    enum { N = 6 };
    static uint8_t nbuf[N][4096];
    static struct blkfront_sg nsg[N];
    static struct blkfront_req nreq[N];
    atomic_store(&normal_calls, 0);
    sim_blkback_hold(d.bb, true);
    for (int i = 0; i < N; i++) {
        fill(nbuf[i], sizeof(nbuf[i]), (unsigned)i);
        nsg[i] = (struct blkfront_sg){ nbuf[i], sizeof(nbuf[i]) };
        nreq[i] = (struct blkfront_req){ .op = BLKFRONT_WRITE, .sector = 100 + (uint64_t)i * 8,
                                         .nr_sectors = 8, .sg = &nsg[i], .nsg = 1,
                                         .done = normal_done };
        CHECK_EQ(blkfront_submit(d.bf, &nreq[i]), 0);
    }
    usleep(20000);
    gp_port_t port = dev_port(&d);
    REQUIRE(port);
    gp_xen_evtchn_mask(gp_env.p, port);             /* interrupts off */
    sim_blkback_hold(d.bb, false);                  /* the old answers arrive, unseen */
    usleep(50000);
    CHECK_EQ(atomic_load(&normal_calls), 0);

    /* 100 sectors: two chunks, the second partial. */
    size_t len = 100 * 512;
    uint8_t *w = malloc(len), *r = malloc(len);
    fill(w, len, 77);
    memset(r, 0xcc, len);
    CHECK_EQ(blkfront_dump_io(d.bf, BLKFRONT_WRITE, 3001, 100, w, &env), 0);
    CHECK(memcmp(sim_blkback_disk(d.bb) + 3001 * 512, w, len) == 0);
    CHECK_EQ(blkfront_dump_io(d.bf, BLKFRONT_READ, 3001, 100, r, &env), 0);
    CHECK(memcmp(r, w, len) == 0);
    CHECK_EQ(blkfront_dump_io(d.bf, BLKFRONT_FLUSH, 0, 0, NULL, &env), 0);
    struct blkfront_dump_stats st;
    blkfront_dump_get_stats(d.bf, &st);
    CHECK_EQ(st.requests, 5);                       /* 2 + 2 + 1 */
    CHECK_EQ(st.stale_responses, N);
    CHECK_EQ(st.errors, 0);
    CHECK_EQ(atomic_load(&normal_calls), 0);        /* those never complete */
    /* Outside the disk, or a write past its end: refused, nothing sent. */
    CHECK_EQ(blkfront_dump_io(d.bf, BLKFRONT_WRITE, 8190, 8, w, &env), GP_ERANGE);
    blkfront_dump_get_stats(d.bf, &st);
    CHECK_EQ(st.requests, 5);
    gp_xen_evtchn_unmask(gp_env.p, port);
    bfe_close(&d);
    CHECK_EQ(atomic_load(&normal_calls), N);        /* failed at destroy, once each */
    CHECK_EQ(atomic_load(&normal_status), GP_ESHUTDOWN);
    free(w);
    free(r);
}

/* Hibernation: the device is quiesced (blkfront_suspend, as xenpci does
 * before S4) and the dump path writes the image; if the hibernation is
 * cancelled the normal path goes on on the same ring. */
static void test_dump_after_quiesce_then_normal_io_goes_on(void)
{
    struct bfe_dev d = dev_open(2200);
    REQUIRE(d.bf);
    CHECK_EQ(blkfront_dump_enable(d.bf), 0);
    blkfront_suspend(d.bf);
    static uint8_t w[64 * 512], r[64 * 512];
    fill(w, sizeof(w), 5);
    for (int i = 0; i < 40; i++)                     /* the ring turns over several times */
        CHECK_EQ(blkfront_dump_io(d.bf, BLKFRONT_WRITE, 512 + (uint64_t)i * 64, 64, w, &env), 0);
    blkfront_resume_in_place(d.bf);
    struct blkfront_sg sg = { r, sizeof(r) };
    atomic_store(&normal_calls, 0);
    struct blkfront_req rq = { .op = BLKFRONT_READ, .sector = 512 + 39 * 64, .nr_sectors = 64,
                               .sg = &sg, .nsg = 1, .done = normal_done };
    CHECK_EQ(blkfront_submit(d.bf, &rq), 0);
    GP_WAIT_WHILE(atomic_load(&normal_calls) == 0);
    CHECK_EQ(atomic_load(&normal_calls), 1);
    CHECK_EQ(atomic_load(&normal_status), 0);
    CHECK(memcmp(r, w, sizeof(w)) == 0);
    CHECK(!blkfront_is_broken(d.bf));
    bfe_close(&d);
}

/* The backend restarts: the dump pages are granted again with the rings. */
static void test_dump_pages_follow_a_backend_restart(void)
{
    struct bfe_dev d = dev_open(2300);
    REQUIRE(d.bf);
    CHECK_EQ(blkfront_dump_enable(d.bf), 0);
    struct blkfront_stats before;
    blkfront_get_stats(d.bf, &before);
    sim_blkback_restart(d.bb);
    static uint8_t w[8 * 512], r[8 * 512];
    fill(w, sizeof(w), 9);
    /* the reconnect is through once a normal read completes */
    struct blkfront_sg sg = { r, sizeof(r) };
    struct blkfront_req rq = { .op = BLKFRONT_READ, .sector = 40, .nr_sectors = 8, .sg = &sg,
                               .nsg = 1, .done = normal_done };
    atomic_store(&normal_calls, 0);
    CHECK_EQ(blkfront_submit(d.bf, &rq), 0);
    GP_WAIT_WHILE(atomic_load(&normal_calls) == 0);
    CHECK_EQ(atomic_load(&normal_status), 0);
    struct sim_blkback_stats bs;
    sim_blkback_get_stats(d.bb, &bs);
    CHECK_EQ(bs.connects, 2);
    /* then the dump path alone, as at a bug check or for the hibernation
     * file: the normal path is stopped (it shares the ring, unlocked) */
    blkfront_suspend(d.bf);
    CHECK_EQ(blkfront_dump_io(d.bf, BLKFRONT_WRITE, 40, 8, w, &env), 0);
    CHECK_EQ(blkfront_dump_io(d.bf, BLKFRONT_READ, 40, 8, r, &env), 0);
    CHECK(memcmp(r, w, sizeof(w)) == 0);
    blkfront_resume_in_place(d.bf);
    bfe_close(&d);
}

/* A broken or silent backend: a clear error each time, no hang. */
static void test_dump_bad_or_missing_answers(void)
{
    enum sim_blk_corrupt kinds[] = { SIM_BLK_BAD_ID, SIM_BLK_BAD_OP, SIM_BLK_BAD_STATUS };
    sim_os_set_quiet(sim_domain_os(gp_env.g), true);
    static uint8_t w[8 * 512];
    for (unsigned k = 0; k < 3; k++) {
        struct bfe_dev d = dev_open(2400 + k);
        REQUIRE(d.bf);
        CHECK_EQ(blkfront_dump_enable(d.bf), 0);
        blkfront_suspend(d.bf);
        CHECK_EQ(blkfront_dump_io(d.bf, BLKFRONT_WRITE, 0, 8, w, &env), 0);
        sim_blkback_corrupt_next(d.bb, kinds[k]);
        CHECK_EQ(blkfront_dump_io(d.bf, BLKFRONT_WRITE, 8, 8, w, &env), GP_EPROTO);
        struct blkfront_dump_stats st;
        blkfront_dump_get_stats(d.bf, &st);
        CHECK_EQ(st.errors, 1);
        blkfront_resume_in_place(d.bf);
        bfe_close(&d);
    }
    struct bfe_dev d = dev_open(2500);
    REQUIRE(d.bf);
    CHECK_EQ(blkfront_dump_enable(d.bf), 0);
    blkfront_suspend(d.bf);
    sim_blkback_hold(d.bb, true);
    const struct blkfront_dump_env quick = { stall, NULL, 20000 };
    CHECK_EQ(blkfront_dump_io(d.bf, BLKFRONT_WRITE, 0, 8, w, &quick), GP_ETIMEDOUT);
    sim_blkback_hold(d.bb, false);
    sim_os_set_quiet(sim_domain_os(gp_env.g), false);
    /* The late answer is recognised, by the normal path too: the device
     * goes on (a cancelled hibernation). */
    blkfront_resume_in_place(d.bf);
    usleep(20000);
    atomic_store(&normal_calls, 0);
    struct blkfront_sg sg = { w, sizeof(w) };
    struct blkfront_req rq = { .op = BLKFRONT_READ, .sector = 0, .nr_sectors = 8, .sg = &sg,
                               .nsg = 1, .done = normal_done };
    CHECK_EQ(blkfront_submit(d.bf, &rq), 0);
    GP_WAIT_WHILE(atomic_load(&normal_calls) == 0);
    CHECK_EQ(atomic_load(&normal_status), 0);
    CHECK(!blkfront_is_broken(d.bf));
    bfe_close(&d);
    /* Not enabled: refused. */
    d = dev_open(2600);
    REQUIRE(d.bf);
    CHECK_EQ(blkfront_dump_io(d.bf, BLKFRONT_WRITE, 0, 8, w, &env), GP_ENODEV);
    bfe_close(&d);
}

static void run_tests(void)
{
    GP_TEST_RUN(test_dump_after_a_crash_with_requests_in_flight);
    GP_TEST_RUN(test_dump_after_quiesce_then_normal_io_goes_on);
    GP_TEST_RUN(test_dump_pages_follow_a_backend_restart);
    GP_TEST_RUN(test_dump_bad_or_missing_answers);
}

int main(void)
{
    return gp_sim_env_main(16384, run_tests);
}
