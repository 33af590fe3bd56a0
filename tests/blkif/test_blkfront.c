/* blkfront (core/blkif) against the simulated blkback: data integrity for
 * any scatter-gather shape, splitting, indirect and direct requests,
 * persistent grants, flush and discard, queue depth, capacity change,
 * backend restart with requests in flight, injected I/O errors, every
 * kind of protocol-breaking response, and ring indices across 2^32. */
#include <pthread.h>
#include <unistd.h>

#include "gp_blkfront_env.h"
#include "gp_blkfront_wait.h"
#include "gp_test.h"
#include "os/sim_os.h"

/* Synchronous I/O helper: returns the status, or -999 if done was not
 * called exactly once within 10 s. */
static int io(struct blkfront *bf, enum blkfront_op op, uint64_t sector, uint32_t n,
              const struct blkfront_sg *sg, unsigned nsg)
{
    struct bfw w = BFW_INIT;
    struct blkfront_req r = { .op = op, .sector = sector, .nr_sectors = n, .sg = sg, .nsg = nsg,
                              .done = bfw_done, .arg = &w };
    int err = blkfront_submit(bf, &r);
    if (err)
        return err;
    if (bfw_wait(&w, 1, 10) != 1)
        return -999;
    usleep(1000);
    return w.calls == 1 ? w.status : -999;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

static void test_odd_scatter_gather_round_trip(void)
{
    struct bfe_dev d = bfe_open(768, &(struct sim_blkback_opts){ .indirect = true }, NULL);
    REQUIRE(d.bf);
    /* 8 sectors through three segments starting at odd offsets; the list
     * is longer than the transfer and its tail must stay untouched. */
    static uint8_t a[200], b[3000], c[2000];
    memset(c, 0xee, sizeof(c));
    fill(a, sizeof(a), 1);
    fill(b, sizeof(b), 2);
    fill(c, 1096 + 13, 3);
    struct blkfront_sg sg[3] = { { a + 13, 150 }, { b + 1, 2846 }, { c + 13, 1900 } };
    CHECK_EQ(io(d.bf, BLKFRONT_WRITE, 100, 8, sg, 3), 0);
    uint8_t expect[4096];
    memcpy(expect, a + 13, 150);
    memcpy(expect + 150, b + 1, 2846);
    memcpy(expect + 2996, c + 13, 1100);
    CHECK(memcmp(sim_blkback_disk(d.bb) + 100 * 512, expect, 4096) == 0);
    static uint8_t r1[777], r2[5000];
    memset(r2, 0x5a, sizeof(r2));
    struct blkfront_sg rs[2] = { { r1 + 3, 700 }, { r2 + 5, 4000 } };
    CHECK_EQ(io(d.bf, BLKFRONT_READ, 100, 8, rs, 2), 0);
    CHECK(memcmp(r1 + 3, expect, 700) == 0);
    CHECK(memcmp(r2 + 5, expect + 700, 3396) == 0);
    bool tail_ok = true;
    for (size_t i = 5 + 3396; i < sizeof(r2); i++)
        tail_ok &= r2[i] == 0x5a;
    CHECK(tail_ok);                            /* nothing written past the transfer */
    CHECK_EQ(io(d.bf, BLKFRONT_READ, 8190, 8, rs, 2), GP_ERANGE);
    CHECK_EQ(io(d.bf, BLKFRONT_READ, 0, 16, rs, 2), GP_EINVAL);   /* list too short */
    bfe_close(&d);
}

static void test_large_transfers_split_direct_and_indirect(void)
{
    size_t len = 1100 * 512;                   /* > 256 segments: several ring requests */
    uint8_t *buf = malloc(len), *back = malloc(len);
    fill(buf, len, 9);
    for (int ind = 0; ind < 2; ind++) {
        struct bfe_dev d = bfe_open(800 + ind, &(struct sim_blkback_opts){ .indirect = ind == 1 }, NULL);
        REQUIRE(d.bf);
        struct blkfront_sg sg = { buf, (uint32_t)len };
        CHECK_EQ(io(d.bf, BLKFRONT_WRITE, 7, 1100, &sg, 1), 0);
        CHECK(memcmp(sim_blkback_disk(d.bb) + 7 * 512, buf, len) == 0);
        memset(back, 0, len);
        struct blkfront_sg bs = { back, (uint32_t)len };
        CHECK_EQ(io(d.bf, BLKFRONT_READ, 7, 1100, &bs, 1), 0);
        CHECK(memcmp(back, buf, len) == 0);
        struct sim_blkback_stats st;
        sim_blkback_get_stats(d.bb, &st);
        if (ind)
            CHECK(st.indirect >= 2);
        else
            CHECK(st.indirect == 0 && st.reads >= 1100 / 88);
        bfe_close(&d);
    }
    free(buf);
    free(back);
}

static void test_persistent_grants_no_grant_ops_in_steady_state(void)
{
    for (int persistent = 0; persistent < 2; persistent++) {
        struct bfe_dev d = bfe_open(900 + persistent,
                                &(struct sim_blkback_opts){ .no_persistent = !persistent }, NULL);
        REQUIRE(d.bf);
        struct blkfront_info info;
        blkfront_get_info(d.bf, &info);
        CHECK_EQ(info.persistent, persistent);
        static uint8_t buf[65536];
        struct blkfront_sg sg = { buf, sizeof(buf) };
        io(d.bf, BLKFRONT_WRITE, 0, 128, &sg, 1);
        struct blkfront_stats s0, s1;
        blkfront_get_stats(d.bf, &s0);
        for (int i = 0; i < 20; i++)
            CHECK_EQ(io(d.bf, i % 2 ? BLKFRONT_READ : BLKFRONT_WRITE, 128 * (unsigned)i, 128, &sg, 1), 0);
        blkfront_get_stats(d.bf, &s1);
        if (persistent)
            CHECK_EQ(s1.grant_ops - s0.grant_ops, 0);
        else
            CHECK(s1.grant_ops - s0.grant_ops >= 20 * 16);
        bfe_close(&d);
    }
}

static void test_flush_discard(void)
{
    struct bfe_dev d = bfe_open(1000, NULL, NULL);
    REQUIRE(d.bf);
    static uint8_t buf[8192];
    memset(buf, 0xab, sizeof(buf));
    struct blkfront_sg sg = { buf, sizeof(buf) };
    CHECK_EQ(io(d.bf, BLKFRONT_WRITE, 64, 16, &sg, 1), 0);
    CHECK_EQ(io(d.bf, BLKFRONT_FLUSH, 0, 0, NULL, 0), 0);
    CHECK_EQ(io(d.bf, BLKFRONT_DISCARD, 64, 8, NULL, 0), 0);
    CHECK_EQ(sim_blkback_disk(d.bb)[64 * 512], 0);
    CHECK_EQ(sim_blkback_disk(d.bb)[72 * 512], 0xab);
    struct sim_blkback_stats st;
    sim_blkback_get_stats(d.bb, &st);
    CHECK_EQ(st.flushes, 1);
    CHECK_EQ(st.discards, 1);
    bfe_close(&d);
    struct bfe_dev n = bfe_open(1001, &(struct sim_blkback_opts){ .no_discard = true, .no_flush = true }, NULL);
    REQUIRE(n.bf);
    CHECK_EQ(io(n.bf, BLKFRONT_DISCARD, 0, 8, NULL, 0), GP_ENOTSUP);
    CHECK_EQ(io(n.bf, BLKFRONT_FLUSH, 0, 0, NULL, 0), 0);      /* nothing to flush */
    bfe_close(&n);
}

static void test_queue_depth_each_completes_once(void)
{
    struct bfe_dev d = bfe_open(1100, &(struct sim_blkback_opts){ .indirect = true }, NULL);
    REQUIRE(d.bf);
    sim_blkback_set_faults(d.bb, 0, 0, true);            /* responses out of order */
    enum { N = 96 };
    static uint8_t bufs[N][4096];
    static struct blkfront_sg sgs[N];
    static struct blkfront_req reqs[N];
    struct bfw w = BFW_INIT;
    for (int i = 0; i < N; i++) {
        fill(bufs[i], 4096, (unsigned)i + 50);
        sgs[i] = (struct blkfront_sg){ bufs[i], 4096 };
        reqs[i] = (struct blkfront_req){ .op = BLKFRONT_WRITE, .sector = (uint64_t)i * 8,
                                         .nr_sectors = 8, .sg = &sgs[i], .nsg = 1,
                                         .done = bfw_done, .arg = &w };
        CHECK_EQ(blkfront_submit(d.bf, &reqs[i]), 0);
    }
    CHECK_EQ(bfw_wait(&w, N, 10), N);
    usleep(20000);
    CHECK_EQ(w.calls, N);
    int bad = 0;
    for (int i = 0; i < N; i++)
        bad += memcmp(sim_blkback_disk(d.bb) + i * 4096, bufs[i], 4096) != 0;
    CHECK_EQ(bad, 0);
    bfe_close(&d);
}

static void test_multi_queue_spreads_and_survives_restart(void)
{
    struct bfe_dev d = bfe_open(1150, &(struct sim_blkback_opts){ .indirect = true, .max_queues = 4 },
                            NULL);
    REQUIRE(d.bf);
    struct blkfront_info info;
    blkfront_get_info(d.bf, &info);
    CHECK_EQ(info.queues, 4);
    char *v = NULL;
    xs_read(gp_env.xs, XS_TXN_NONE, "device/vbd/1150/multi-queue-num-queues", &v, NULL);
    CHECK_STR(v, "4");
    xs_free(gp_env.xs, v);
    enum { N = 64 };
    static uint8_t bufs[N][8192];
    static struct blkfront_sg sgs[N];
    static struct blkfront_req reqs[N];
    for (int round = 0; round < 2; round++) {
        struct bfw w = BFW_INIT;
        if (round == 1)
            sim_blkback_hold(d.bb, true);
        for (int i = 0; i < N; i++) {
            fill(bufs[i], sizeof(bufs[i]), (unsigned)(i + 1000 * round));
            sgs[i] = (struct blkfront_sg){ bufs[i], sizeof(bufs[i]) };
            reqs[i] = (struct blkfront_req){ .op = BLKFRONT_WRITE, .sector = (uint64_t)i * 16,
                                             .nr_sectors = 16, .sg = &sgs[i], .nsg = 1,
                                             .done = bfw_done, .arg = &w };
            CHECK_EQ(blkfront_submit(d.bf, &reqs[i]), 0);
        }
        if (round == 1) {                      /* in flight on every queue: restart */
            usleep(30000);
            sim_blkback_restart(d.bb);
            sim_blkback_hold(d.bb, false);
        }
        CHECK_EQ(bfw_wait(&w, N, 10), N);
        usleep(20000);
        CHECK_EQ(w.calls, N);
        CHECK_EQ(w.status, 0);
        int bad = 0;
        for (int i = 0; i < N; i++)
            bad += memcmp(sim_blkback_disk(d.bb) + i * 8192, bufs[i], 8192) != 0;
        CHECK_EQ(bad, 0);
    }
    struct sim_blkback_stats st;
    sim_blkback_get_stats(d.bb, &st);
    CHECK_EQ(st.connects, 2);
    bfe_close(&d);
}

static void test_io_errors_complete_with_eio(void)
{
    struct bfe_dev d = bfe_open(1200, NULL, NULL);
    REQUIRE(d.bf);
    sim_blkback_set_faults(d.bb, 1000000, 0, false);     /* every request fails */
    static uint8_t buf[4096];
    struct blkfront_sg sg = { buf, sizeof(buf) };
    CHECK_EQ(io(d.bf, BLKFRONT_READ, 0, 8, &sg, 1), GP_EIO);
    sim_blkback_set_faults(d.bb, 0, 0, false);
    CHECK(!blkfront_is_broken(d.bf));
    CHECK_EQ(io(d.bf, BLKFRONT_READ, 0, 8, &sg, 1), 0);
    bfe_close(&d);
}

static void test_bad_responses_fail_the_device_safely(void)
{
    enum sim_blk_corrupt kinds[] = { SIM_BLK_BAD_ID, SIM_BLK_DUP_ID, SIM_BLK_BAD_OP,
                                     SIM_BLK_BAD_STATUS, SIM_BLK_EXTRA_RESPONSE };
    sim_os_set_quiet(sim_domain_os(gp_env.g), true);
    for (unsigned k = 0; k < 5; k++) {
        struct bfe_dev d = bfe_open(1300 + k, NULL, NULL);
        REQUIRE(d.bf);
        static uint8_t buf[4096];
        struct blkfront_sg sg = { buf, sizeof(buf) };
        CHECK_EQ(io(d.bf, BLKFRONT_READ, 0, 8, &sg, 1), 0);
        unsigned errs = sim_os_error_count(sim_domain_os(gp_env.g));
        sim_blkback_corrupt_next(d.bb, kinds[k]);
        int st = io(d.bf, BLKFRONT_READ, 8, 8, &sg, 1);
        CHECK(st == GP_EIO || (kinds[k] == SIM_BLK_EXTRA_RESPONSE && st == 0) ||
              (kinds[k] == SIM_BLK_DUP_ID && st == 0));
        usleep(20000);
        CHECK(blkfront_is_broken(d.bf));
        CHECK(sim_os_error_count(sim_domain_os(gp_env.g)) > errs);
        CHECK_EQ(io(d.bf, BLKFRONT_READ, 0, 8, &sg, 1), GP_EIO);
        bfe_close(&d);
    }
}

static atomic_ullong new_capacity;
static void on_capacity(void *arg, uint64_t sectors)
{
    (void)arg;
    atomic_store(&new_capacity, sectors);
}

static void test_capacity_change_reported(void)
{
    struct blkfront_opts fo = { .max_ring_page_order = 2, .max_indirect_segments = 256,
                                .capacity_changed = on_capacity };
    struct bfe_dev d = bfe_open(1400, NULL, &fo);
    REQUIRE(d.bf);
    sim_blkback_resize(d.bb, 16384);
    GP_WAIT_WHILE(atomic_load(&new_capacity) != 16384);
    CHECK_EQ(atomic_load(&new_capacity), 16384);
    static uint8_t buf[4096];
    struct blkfront_sg sg = { buf, sizeof(buf) };
    CHECK_EQ(io(d.bf, BLKFRONT_WRITE, 16000, 8, &sg, 1), 0);
    bfe_close(&d);
}

static void restart_with_requests_in_flight(unsigned id, void (*restart)(struct sim_blkback *))
{
    struct bfe_dev d = bfe_open(id, &(struct sim_blkback_opts){ .indirect = true }, NULL);
    REQUIRE(d.bf);
    enum { N = 20 };
    static uint8_t bufs[N][8192];
    static struct blkfront_sg sgs[N];
    static struct blkfront_req reqs[N];
    struct bfw w = BFW_INIT;
    sim_blkback_hold(d.bb, true);                        /* answers withheld ... */
    for (int i = 0; i < N; i++) {
        fill(bufs[i], sizeof(bufs[i]), (unsigned)i + 300);
        sgs[i] = (struct blkfront_sg){ bufs[i], sizeof(bufs[i]) };
        reqs[i] = (struct blkfront_req){ .op = BLKFRONT_WRITE, .sector = 2000 + (uint64_t)i * 16,
                                         .nr_sectors = 16, .sg = &sgs[i], .nsg = 1,
                                         .done = bfw_done, .arg = &w };
        CHECK_EQ(blkfront_submit(d.bf, &reqs[i]), 0);
    }
    usleep(50000);
    CHECK_EQ(w.calls, 0);
    restart(d.bb);                                       /* ... and the backend goes away */
    sim_blkback_hold(d.bb, false);
    CHECK_EQ(bfw_wait(&w, N, 10), N);                        /* re-issued after the reconnect */
    usleep(20000);
    CHECK_EQ(w.calls, N);
    CHECK_EQ(w.status, 0);
    int bad = 0;
    for (int i = 0; i < N; i++)
        bad += memcmp(sim_blkback_disk(d.bb) + (2000 + i * 16) * 512, bufs[i], 8192) != 0;
    CHECK_EQ(bad, 0);
    struct sim_blkback_stats st;
    sim_blkback_get_stats(d.bb, &st);
    CHECK_EQ(st.connects, 2);
    bfe_close(&d);
}

static void test_backend_restart_with_requests_in_flight(void)
{
    restart_with_requests_in_flight(1500, sim_blkback_restart);
}

/* The backend restarts and the frontend sees only InitWait (its watch read
 * the state once the backend was back): still a loss, still reconnected. */
static void test_backend_restart_seen_only_as_initwait(void)
{
    restart_with_requests_in_flight(1501, sim_blkback_restart_unseen);
}

/* A new blkfront on a node an earlier one left Closed, with other queue
 * and ring settings: the node is reopened and none of the earlier keys
 * (queue-N/, ring-refN, multi-queue-num-queues) is left for the backend. */
static void test_new_instance_on_a_closed_node(void)
{
    struct bfe_dev d = bfe_open(1616, &(struct sim_blkback_opts){ .max_queues = 4 }, NULL);
    REQUIRE(d.bf);
    struct blkfront_info in;
    blkfront_get_info(d.bf, &in);
    CHECK(in.queues == 4 && in.ring_pages == 4);
    blkfront_destroy(d.bf);
    d.bf = NULL;
    REQUIRE(blkfront_create(gp_env.p, gp_env.xs, "device/vbd/1616",
                            &(struct blkfront_opts){ .max_queues = 1, .max_ring_page_order = 0 },
                            &d.bf) == 0);
    CHECK_EQ(blkfront_connect(d.bf, GP_S(5)), 0);
    blkfront_get_info(d.bf, &in);
    CHECK(in.queues == 1 && in.ring_pages == 1);
    char *v = NULL;
    CHECK_EQ(xs_read(gp_env.xs, XS_TXN_NONE, "device/vbd/1616/queue-0/ring-ref", &v, NULL), GP_ENOENT);
    CHECK_EQ(xs_read(gp_env.xs, XS_TXN_NONE, "device/vbd/1616/multi-queue-num-queues", &v, NULL), GP_ENOENT);
    CHECK_EQ(xs_read(gp_env.xs, XS_TXN_NONE, "device/vbd/1616/ring-ref0", &v, NULL), GP_ENOENT);
    CHECK_EQ(xs_read(gp_env.xs, XS_TXN_NONE, "device/vbd/1616/ring-ref", &v, NULL), 0);
    xs_free(gp_env.xs, v);
    static uint8_t buf[8192], back[8192];
    fill(buf, sizeof(buf), 9);
    struct blkfront_sg sg = { buf, sizeof(buf) }, sb = { back, sizeof(back) };
    CHECK_EQ(io(d.bf, BLKFRONT_WRITE, 64, 16, &sg, 1), 0);
    CHECK_EQ(io(d.bf, BLKFRONT_READ, 64, 16, &sb, 1), 0);
    CHECK(!memcmp(buf, back, sizeof(buf)));
    bfe_close(&d);
}

/* Destroyed while a reconnect is on its way: nothing runs on the freed
 * device afterwards (ASan and valgrind watch). */
static void test_destroy_while_reconnecting(void)
{
    for (int round = 0; round < 5; round++) {
        struct bfe_dev d = bfe_open(1700, NULL, NULL);
        REQUIRE(d.bf);
        sim_blkback_restart(d.bb);
        usleep((useconds_t)(round * 2000));
        bfe_close(&d);
    }
    usleep(100000);
}

/* Writes submitted without pause from another thread, so the backend's
 * event handler runs all the time, while the backend restarts again and
 * again (a restart can land while the last one's reconnect is under way).
 * Every write completes once and successfully, the disk holds what each
 * slot wrote last, and nothing hangs (SIGALRM ends a hang). */
enum { STREAM_SLOTS = 32 };
struct stream {
    struct blkfront *bf;
    uint8_t buf[STREAM_SLOTS][4096];
    struct blkfront_sg sg[STREAM_SLOTS];
    struct blkfront_req req[STREAM_SLOTS];
    unsigned gen[STREAM_SLOTS];
    bool busy[STREAM_SLOTS], stop;
    unsigned sent, done, failed;
};

static void stream_done(void *arg, struct blkfront_req *r, int status)
{
    struct stream *st = arg;
    if (status)
        __atomic_fetch_add(&st->failed, 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&st->done, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&st->busy[r - st->req], false, __ATOMIC_RELEASE);
}

static void restart_backend(void *backend)
{
    sim_blkback_restart(backend);
}

static void *stream_main(void *arg)
{
    struct stream *st = arg;
    while (!__atomic_load_n(&st->stop, __ATOMIC_ACQUIRE)) {
        for (unsigned i = 0; i < STREAM_SLOTS; i++) {
            if (__atomic_load_n(&st->busy[i], __ATOMIC_ACQUIRE))
                continue;
            st->busy[i] = true;
            st->gen[i]++;
            fill(st->buf[i], sizeof(st->buf[i]), i * 1000 + st->gen[i]);
            st->sg[i] = (struct blkfront_sg){ st->buf[i], sizeof(st->buf[i]) };
            st->req[i] = (struct blkfront_req){ .op = BLKFRONT_WRITE, .sector = i * 8ull,
                                                .nr_sectors = 8, .sg = &st->sg[i], .nsg = 1,
                                                .done = stream_done, .arg = st };
            if (blkfront_submit(st->bf, &st->req[i]) == 0)
                st->sent++;
            else
                st->busy[i] = false;
        }
        usleep(100);
    }
    return NULL;
}

static void test_backend_restarts_under_a_stream_of_events(void)
{
    struct bfe_dev d = bfe_open(1750, NULL, NULL);
    REQUIRE(d.bf);
    static struct stream st;
    memset(&st, 0, sizeof(st));
    st.bf = d.bf;
    alarm(120);
    gp_restart_storm(stream_main, &st, &st.stop, restart_backend, d.bb);
    GP_WAIT_WHILE(__atomic_load_n(&st.done, __ATOMIC_SEQ_CST) < st.sent);
    alarm(0);
    CHECK(st.sent > 0);
    CHECK_EQ(__atomic_load_n(&st.done, __ATOMIC_SEQ_CST), st.sent);
    CHECK_EQ(st.failed, 0);
    int bad = 0;
    for (unsigned i = 0; i < STREAM_SLOTS; i++)
        bad += memcmp(sim_blkback_disk(d.bb) + i * 4096, st.buf[i], 4096) != 0;
    CHECK_EQ(bad, 0);
    bfe_close(&d);
}

/* Users of PV drivers have seen them hang after 2^32 I/Os: ring indices
 * are free-running 32-bit counters.  Every ring starts 1024 slots below
 * the wrap (a multiple of the ring size: slots keep their places) and
 * enough requests, answered out of order on two full queues, carry it across;
 * each completes once, the data is read back equal. */
static void test_ring_indices_cross_2_32(void)
{
    struct bfe_dev d = bfe_open(1190, &(struct sim_blkback_opts){ .indirect = true, .max_queues = 2 },
                            &(struct blkfront_opts){ .max_ring_page_order = 0 });
    REQUIRE(d.bf);
    REQUIRE(d.bf->nqueues == 2);
    const uint32_t delta = 0u - 1024u;
    gp_os_lock_acquire(gp_env.p, d.bf->lock);
    sim_blkback_shift_ring_indices(d.bb, delta);
    for (unsigned i = 0; i < d.bf->nqueues; i++) {
        d.bf->q[i].ring.req_prod_pvt += delta;
        d.bf->q[i].ring.rsp_cons += delta;
    }
    gp_os_lock_release(gp_env.p, d.bf->lock);
    CHECK(d.bf->q[0].ring.req_prod_pvt >= 0xfffffc00u);
    sim_blkback_set_faults(d.bb, 0, 0, true);            /* responses out of order */
    enum { N = 64, ROUNDS = 20 };             /* 64 in flight fill both 32-slot rings */
    static uint8_t out[N][4096], in[N][4096];
    static struct blkfront_sg sgs[N];
    static struct blkfront_req reqs[N];
    int calls = 0, bad_status = 0, bad_data = 0;
    for (int round = 0; round < ROUNDS && calls == round * 2 * N; round++) {
        for (int phase = 0; phase < 2; phase++) {
            struct bfw w = BFW_INIT;
            sim_blkback_hold(d.bb, true);
            for (int i = 0; i < N; i++) {
                if (phase == 0)
                    fill(out[i], 4096, (unsigned)(round * N + i));
                else
                    memset(in[i], 0, 4096);
                sgs[i] = (struct blkfront_sg){ phase == 0 ? out[i] : in[i], 4096 };
                reqs[i] = (struct blkfront_req){
                    .op = phase == 0 ? BLKFRONT_WRITE : BLKFRONT_READ,
                    .sector = (uint64_t)((round % 3) * N + i) * 8, .nr_sectors = 8,
                    .sg = &sgs[i], .nsg = 1, .done = bfw_done, .arg = &w };
                if (blkfront_submit(d.bf, &reqs[i]) != 0)
                    bad_status++;
            }
            sim_blkback_hold(d.bb, false);
            calls += bfw_wait(&w, N, 10);
            bad_status += w.status != 0;
        }
        for (int i = 0; i < N; i++)
            bad_data += memcmp(out[i], in[i], 4096) != 0;
    }
    usleep(20000);
    CHECK_EQ(calls, ROUNDS * 2 * N);
    CHECK_EQ(bad_status, 0);
    CHECK_EQ(bad_data, 0);
    for (unsigned i = 0; i < d.bf->nqueues; i++) {   /* each ring went across */
        CHECK(d.bf->q[i].ring.req_prod_pvt < 0x10000u);
    }
    CHECK(!blkfront_is_broken(d.bf));
    bfe_close(&d);
}

static void run_tests(void)
{
    GP_TEST_RUN(test_odd_scatter_gather_round_trip);
    GP_TEST_RUN(test_large_transfers_split_direct_and_indirect);
    GP_TEST_RUN(test_persistent_grants_no_grant_ops_in_steady_state);
    GP_TEST_RUN(test_flush_discard);
    GP_TEST_RUN(test_queue_depth_each_completes_once);
    GP_TEST_RUN(test_multi_queue_spreads_and_survives_restart);
    GP_TEST_RUN(test_io_errors_complete_with_eio);
    GP_TEST_RUN(test_bad_responses_fail_the_device_safely);
    GP_TEST_RUN(test_capacity_change_reported);
    GP_TEST_RUN(test_backend_restart_with_requests_in_flight);
    GP_TEST_RUN(test_backend_restart_seen_only_as_initwait);
    GP_TEST_RUN(test_new_instance_on_a_closed_node);
    GP_TEST_RUN(test_destroy_while_reconnecting);
    GP_TEST_RUN(test_backend_restarts_under_a_stream_of_events);
    GP_TEST_RUN(test_ring_indices_cross_2_32);
}

int main(void)
{
    return gp_sim_env_main(16384, run_tests);
}
