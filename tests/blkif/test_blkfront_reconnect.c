/* blkfront (core/blkif) against a simulated blkback that comes back
 * different after a restart, as after a migration to a differently
 * configured host: larger or smaller rings, fewer or more queues, indirect
 * and persistent grants dropped or offered, absurd values; an old instance
 * that keeps its grant mappings; stale bytes a grant exposes.  Every
 * request completes exactly once, with the right data. */
#include <pthread.h>
#include <unistd.h>

#include "gp_blkfront_env.h"
#include "gp_blkfront_wait.h"
#include "gp_test.h"
#include "os/sim_os.h"

static bool slow;

#define MAXREQ 128
static struct blkfront_req reqs[MAXREQ];
static int calls_of[MAXREQ];

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9) + 1);
}

static int io(struct blkfront *bf, enum blkfront_op op, uint64_t sector, uint32_t n, void *buf)
{
    struct bfw w = BFW_INIT_PER_REQ(reqs, calls_of, MAXREQ);
    struct blkfront_sg sg = { buf, n * 512 };
    struct blkfront_req r = { .op = op, .sector = sector, .nr_sectors = n, .sg = &sg, .nsg = 1,
                              .done = bfw_done, .arg = &w };
    int err = blkfront_submit(bf, &r);
    if (err)
        return err;
    if (bfw_wait(&w, 1, 15) != 1)
        return -999;
    usleep(1000);
    return w.calls == 1 ? w.status : -999;
}

/* n writes of `sectors` each, held by the backend; returns after submit. */
static uint8_t *bufs[MAXREQ];
static struct blkfront_sg sgs[MAXREQ];
static void submit_writes(struct bfe_dev *d, struct bfw *w, int n, uint32_t sectors, unsigned seed)
{
    memset(calls_of, 0, sizeof(calls_of));
    for (int i = 0; i < n; i++) {
        bufs[i] = realloc(bufs[i], sectors * 512);
        fill(bufs[i], sectors * 512, seed + (unsigned)i);
        sgs[i] = (struct blkfront_sg){ bufs[i], sectors * 512 };
        reqs[i] = (struct blkfront_req){ .op = BLKFRONT_WRITE, .sector = (uint64_t)i * sectors,
                                         .nr_sectors = sectors, .sg = &sgs[i], .nsg = 1,
                                         .done = bfw_done, .arg = w };
        CHECK_EQ(blkfront_submit(d->bf, &reqs[i]), 0);
    }
}

static int bad_writes(struct bfe_dev *d, int n, uint32_t sectors)
{
    int bad = 0;
    for (int i = 0; i < n; i++)
        bad += memcmp(sim_blkback_disk(d->bb) + (size_t)i * sectors * 512, bufs[i],
                      sectors * 512) != 0;
    return bad;
}

/* Item 1: the ring grows after it shrank (order 2 x1, order 0 x2, order 2
 * x2): every shadow and retry array is sized for the geometry of the
 * connection that uses it (ASan and valgrind watch the indices). */
static void test_ring_grows_after_shrinking(void)
{
    struct bfe_dev d = bfe_open(2000, &(struct sim_blkback_opts){ .indirect = true,
                                                              .max_ring_order = 2 }, NULL);
    REQUIRE(d.bf);
    const struct sim_blkback_opts geo[] = {
        { .indirect = true, .max_ring_order = 0, .max_queues = 2 },
        { .indirect = true, .max_ring_order = 2, .max_queues = 2 },
        { .indirect = true, .max_ring_order = 1, .max_queues = 4 },
        { .indirect = true, .max_ring_order = 2, .max_queues = 1 },
    };
    for (unsigned k = 0; k < 4; k++) {
        struct bfw w = BFW_INIT_PER_REQ(reqs, calls_of, MAXREQ);
        sim_blkback_hold(d.bb, true);
        submit_writes(&d, &w, 100, 16, 40 * k);
        usleep(30000);
        sim_blkback_restart_with(d.bb, &geo[k], 0);
        sim_blkback_hold(d.bb, false);
        CHECK_EQ(bfw_wait(&w, 100, 15), 100);
        CHECK_EQ(w.errors, 0);
        CHECK_EQ(w.twice, 0);
        CHECK_EQ(bad_writes(&d, 100, 16), 0);
        struct blkfront_info in;
        blkfront_get_info(d.bf, &in);
        CHECK_EQ(in.ring_pages, 1u << geo[k].max_ring_order);
        CHECK_EQ(in.queues, geo[k].max_queues ? geo[k].max_queues : 1);
    }
    CHECK(!blkfront_is_broken(d.bf));
    bfe_close(&d);
}

/* Item 2: the backend comes back with fewer queues; what was held on the
 * queues that are gone moves to those that remain ... */
static void test_requests_move_off_dropped_queues(void)
{
    /* One-page rings: a queue is full at 32, the rest spill to the next. */
    struct bfe_dev d = bfe_open(2010, &(struct sim_blkback_opts){ .max_queues = 4 },
                            &(struct blkfront_opts){ .max_ring_page_order = 0 });
    REQUIRE(d.bf);
    REQUIRE(d.bf->nqueues == 4);
    struct bfw w = BFW_INIT_PER_REQ(reqs, calls_of, MAXREQ);
    sim_blkback_hold(d.bb, true);
    submit_writes(&d, &w, 120, 8, 7);
    usleep(30000);
    gp_os_lock_acquire(gp_env.p, d.bf->lock);
    unsigned on_q3 = d.bf->q[3].outstanding;
    gp_os_lock_release(gp_env.p, d.bf->lock);
    CHECK(on_q3 > 0);
    sim_blkback_restart_with(d.bb, &(struct sim_blkback_opts){ .max_queues = 1,
                                                               .max_ring_order = 0 }, 0);
    sim_blkback_hold(d.bb, false);
    CHECK_EQ(bfw_wait(&w, 120, 15), 120);
    CHECK_EQ(w.errors, 0);
    CHECK_EQ(w.twice, 0);
    CHECK_EQ(bad_writes(&d, 120, 8), 0);
    bfe_close(&d);
}

/* ... and complete (once) when the device is destroyed before they could. */
static void test_requests_of_dropped_queues_complete_on_destroy(void)
{
    /* One-page rings: a queue is full at 32, the rest spill to the next. */
    struct bfe_dev d = bfe_open(2011, &(struct sim_blkback_opts){ .max_queues = 4 },
                            &(struct blkfront_opts){ .max_ring_page_order = 0 });
    REQUIRE(d.bf);
    struct bfw w = BFW_INIT_PER_REQ(reqs, calls_of, MAXREQ);
    sim_blkback_hold(d.bb, true);                 /* the new backend holds them too */
    submit_writes(&d, &w, 120, 8, 9);
    usleep(30000);
    sim_blkback_restart_with(d.bb, &(struct sim_blkback_opts){ .max_queues = 1,
                                                               .max_ring_order = 0 }, 0);
    CHECK(bfe_wait_connects(&d, 2));
    blkfront_destroy(d.bf);
    CHECK_EQ(bfw_wait(&w, 120, 15), 120);
    CHECK_EQ(w.twice, 0);
    sim_blkback_destroy(d.bb);
}

/* Item 3: requests held across a restart are split again for what the new
 * backend offers: no indirect at all, or fewer segments. */
static void test_held_requests_split_for_the_new_backend(void)
{
    const struct { unsigned before, after; uint32_t sectors; } cases[] = {
        { 256, 0, 128 },      /* 16 segments: indirect before, 2 direct after */
        { 256, 16, 256 },     /* 32 segments: 1 indirect before, 2 of 16 after */
    };
    for (unsigned c = 0; c < 2; c++) {
        struct bfe_dev d = bfe_open(2020 + c, &(struct sim_blkback_opts){
                                    .max_indirect = cases[c].before, .sectors = 16384 }, NULL);
        REQUIRE(d.bf);
        struct bfw w = BFW_INIT_PER_REQ(reqs, calls_of, MAXREQ);
        sim_blkback_hold(d.bb, true);
        submit_writes(&d, &w, 24, cases[c].sectors, 100 + c);
        usleep(30000);
        sim_blkback_restart_with(d.bb, &(struct sim_blkback_opts){
                                     .max_indirect = cases[c].after }, 0);
        sim_blkback_hold(d.bb, false);
        CHECK_EQ(bfw_wait(&w, 24, 15), 24);
        CHECK_EQ(w.errors, 0);
        CHECK_EQ(w.twice, 0);
        CHECK_EQ(bad_writes(&d, 24, cases[c].sectors), 0);
        struct blkfront_info in;
        blkfront_get_info(d.bf, &in);
        CHECK_EQ(in.max_indirect_segments, cases[c].after);
        bfe_close(&d);
    }
}

/* Item 4: the old instance keeps its mappings of the ring, the pool and the
 * dump pages across a restart.  None of those pages is written again while
 * mapped (a snapshot taken at the restart still matches after more I/O);
 * they are counted as quarantined, and released once the backend unmaps. */
static void test_pages_still_mapped_are_never_reused(void)
{
    struct bfe_dev d = bfe_open(2030, &(struct sim_blkback_opts){ .max_queues = 2 }, NULL);
    REQUIRE(d.bf);
    CHECK_EQ(blkfront_dump_enable(d.bf), 0);
    static uint8_t buf[65536];
    for (unsigned i = 0; i < 16; i++) {
        fill(buf, sizeof(buf), i);
        CHECK_EQ(io(d.bf, BLKFRONT_WRITE, i * 128, 128, buf), 0);
    }
    sim_os_set_quiet(sim_domain_os(gp_env.g), true);
    sim_blkback_restart_with(d.bb, &(struct sim_blkback_opts){ .max_queues = 2 },
                             SIM_BLK_RESTART_KEEP_MAPS);
    static void *kept[4096];
    unsigned nkept = sim_blkback_kept(d.bb, kept, 4096);
    REQUIRE(nkept > 0 && nkept <= 4096);
    uint8_t *snap = malloc((size_t)nkept * GP_PAGE_SIZE);
    for (unsigned i = 0; i < nkept; i++)
        memcpy(snap + (size_t)i * GP_PAGE_SIZE, kept[i], GP_PAGE_SIZE);
    CHECK(bfe_wait_connects(&d, 2));
    for (unsigned i = 0; i < 16; i++) {
        fill(buf, sizeof(buf), 1000 + i);
        CHECK_EQ(io(d.bf, BLKFRONT_WRITE, i * 128, 128, buf), 0);
        CHECK_EQ(io(d.bf, BLKFRONT_READ, i * 128, 128, buf), 0);
    }
    int changed = 0;
    for (unsigned i = 0; i < nkept; i++)
        changed += memcmp(snap + (size_t)i * GP_PAGE_SIZE, kept[i], GP_PAGE_SIZE) != 0;
    CHECK_EQ(changed, 0);
    free(snap);
    struct blkfront_stats s;
    blkfront_get_stats(d.bf, &s);
    CHECK(s.pages_quarantined >= nkept);
    CHECK_EQ(s.pages_released, 0);
    /* The old instance finally lets go: the next reconnect frees them. */
    sim_blkback_release_kept(d.bb);
    sim_blkback_restart(d.bb);
    CHECK(bfe_wait_connects(&d, 3));
    blkfront_get_stats(d.bf, &s);
    CHECK_EQ(s.pages_released, s.pages_quarantined);
    sim_os_set_quiet(sim_domain_os(gp_env.g), false);
    bfe_close(&d);
}

/* Item 4 (second half): a backend that closes like Linux blkback (Closing
 * answered with Closing, maps dropped only on our Closed, a little later)
 * is never left mapping a page we end: destroy waits for it properly and
 * logs no error. */
static void test_destroy_waits_for_a_linux_like_close(void)
{
    for (unsigned delay = 0; delay < 2; delay++) {
        struct bfe_dev d = bfe_open(2040 + delay, &(struct sim_blkback_opts){
                                    .linux_close = true, .unmap_delay_us = delay * 50000,
                                    .no_persistent = true }, NULL);
        REQUIRE(d.bf);
        static uint8_t buf[4096];
        CHECK_EQ(io(d.bf, BLKFRONT_WRITE, 8, 8, buf), 0);
        unsigned errs = sim_os_error_count(sim_domain_os(gp_env.g));
        blkfront_destroy(d.bf);
        CHECK_EQ(sim_os_error_count(sim_domain_os(gp_env.g)), errs);
        sim_blkback_destroy(d.bb);
    }
}

/* Item 5: without persistent grants, a backend that still maps a page
 * after answering fails the device (as Linux does since XSA-396): the
 * request and every later one complete with an error, once; nothing hangs. */
static void test_refused_end_of_access_fails_the_device(void)
{
    struct bfe_dev d = bfe_open(2050, &(struct sim_blkback_opts){ .no_persistent = true }, NULL);
    REQUIRE(d.bf);
    static uint8_t buf[8192];
    CHECK_EQ(io(d.bf, BLKFRONT_WRITE, 0, 16, buf), 0);
    sim_os_set_quiet(sim_domain_os(gp_env.g), true);
    unsigned errs = sim_os_error_count(sim_domain_os(gp_env.g));
    sim_blkback_keep_data_maps(d.bb, true);
    struct bfw w = BFW_INIT_PER_REQ(reqs, calls_of, MAXREQ);
    int accepted = 0, refused = 0;
    memset(calls_of, 0, sizeof(calls_of));
    for (int i = 0; i < 64; i++) {
        sgs[i] = (struct blkfront_sg){ buf, 16 * 512 };
        reqs[i] = (struct blkfront_req){ .op = BLKFRONT_WRITE, .sector = (uint64_t)i * 16,
                                         .nr_sectors = 16, .sg = &sgs[i], .nsg = 1,
                                         .done = bfw_done, .arg = &w };
        int err = blkfront_submit(d.bf, &reqs[i]);
        if (err == 0)
            accepted++;
        else
            refused += err == GP_EIO;            /* once the device has failed */
    }
    CHECK_EQ(accepted + refused, 64);
    CHECK_EQ(bfw_wait(&w, accepted, 15), accepted);
    CHECK(w.errors > 0);
    CHECK_EQ(w.twice, 0);
    CHECK(blkfront_is_broken(d.bf));
    unsigned logged = sim_os_error_count(sim_domain_os(gp_env.g)) - errs;
    CHECK(logged >= 1 && logged <= 2);          /* said once, not per page */
    CHECK_EQ(io(d.bf, BLKFRONT_WRITE, 0, 16, buf), GP_EIO);
    sim_blkback_keep_data_maps(d.bb, false);
    sim_blkback_release_kept(d.bb);
    sim_os_set_quiet(sim_domain_os(gp_env.g), false);
    bfe_close(&d);
}

/* Item 6: a granted page exposes nothing beyond the data it carries: a
 * short write or read after a full one leaves no earlier bytes in the
 * rest of its page, nor in an indirect page past its segment list. */
static void test_no_stale_bytes_beyond_the_transfer(void)
{
    for (unsigned persistent = 0; persistent < 2; persistent++) {
        struct bfe_dev d = bfe_open(2060 + persistent, &(struct sim_blkback_opts){
                                    .check_stale = true, .indirect = true,
                                    .no_persistent = !persistent }, NULL);
        REQUIRE(d.bf);
        static uint8_t big[256 * 512], small[3 * 512];
        fill(big, sizeof(big), 5);
        fill(small, sizeof(small), 6);
        for (int i = 0; i < 4; i++) {
            CHECK_EQ(io(d.bf, BLKFRONT_WRITE, 0, 256, big), 0);      /* full pages, indirect */
            CHECK_EQ(io(d.bf, BLKFRONT_WRITE, 512, 3, small), 0);    /* part of one page */
            CHECK_EQ(io(d.bf, BLKFRONT_READ, 0, 256, big), 0);
            CHECK_EQ(io(d.bf, BLKFRONT_WRITE, 600, 96, big), 0);     /* 12 segments: indirect */
            CHECK_EQ(io(d.bf, BLKFRONT_READ, 512, 1, small), 0);
        }
        struct sim_blkback_stats st;
        sim_blkback_get_stats(d.bb, &st);
        CHECK_EQ(st.stale_pages, 0);
        CHECK(st.indirect > 0);
        bfe_close(&d);
    }
}

/* Item 7: a backend offering absurd values (ring order 99, 100000 queues,
 * 2^32 indirect segments, 0 queues) is clamped to what we support, not
 * refused; a restart that changes capacity is reported and I/O goes on. */
static void test_absurd_geometry_is_clamped(void)
{
    struct bfe_dev d = bfe_open(2070, &(struct sim_blkback_opts){ .indirect = true }, NULL);
    REQUIRE(d.bf);
    sim_os_set_quiet(sim_domain_os(gp_env.g), true);
    const char *vals[][6] = {
        { "max-ring-page-order", "99", "multi-queue-max-queues", "100000",
          "feature-max-indirect-segments", "4294967296" },
        { "max-ring-page-order", "3", "multi-queue-max-queues", "0",
          "feature-max-indirect-segments", "12" },
        { "max-ring-page-order", "banana", "multi-queue-max-queues", "-1",
          "feature-max-indirect-segments", "" } };
    for (unsigned k = 0; k < 3; k++) {
        const char *raw[7] = { vals[k][0], vals[k][1], vals[k][2], vals[k][3], vals[k][4],
                               vals[k][5], NULL };
        sim_blkback_restart_with(d.bb, &(struct sim_blkback_opts){
                                     .indirect = true, .max_ring_order = 2, .max_queues = 4,
                                     .raw_nodes = raw }, 0);
        bool up = bfe_wait_connects(&d, 2 + k);
        if (k == 2) {
            /* Not numbers: refused (a clear error), I/O held, device not broken. */
            CHECK(!blkfront_is_broken(d.bf));
            continue;
        }
        CHECK(up);
        struct blkfront_info in;
        blkfront_get_info(d.bf, &in);
        CHECK(in.ring_pages >= 1 && in.ring_pages <= 4);
        CHECK(in.queues >= 1 && in.queues <= 4);
        CHECK(in.max_indirect_segments <= 256);
        static uint8_t buf[128 * 512], back[128 * 512];
        fill(buf, sizeof(buf), 20 + k);
        CHECK_EQ(io(d.bf, BLKFRONT_WRITE, 64, 128, buf), 0);
        CHECK_EQ(io(d.bf, BLKFRONT_READ, 64, 128, back), 0);
        CHECK(memcmp(buf, back, sizeof(buf)) == 0);
    }
    sim_os_set_quiet(sim_domain_os(gp_env.g), false);
    bfe_close(&d);
}

/* Every combination of queues (1, 2, 4), ring order (0, 1, 2), indirect
 * (off, on) and persistent grants (off, on), one per restart, while
 * writes and reads stream from another thread: each completes once, every
 * read returns what the last write to its slot wrote. */
enum { SLOTS = 24 };
struct stream {
    struct blkfront *bf;
    uint8_t *buf[SLOTS];
    uint8_t *expect[SLOTS];
    uint32_t sectors[SLOTS];
    struct blkfront_sg sg[SLOTS];
    struct blkfront_req req[SLOTS];
    unsigned gen[SLOTS];
    bool busy[SLOTS], reading[SLOTS], stop;
    unsigned sent, done, failed, twice, bad_data;
};

static void stream_done(void *arg, struct blkfront_req *r, int status)
{
    struct stream *st = arg;
    unsigned i = (unsigned)(r - st->req);
    if (!__atomic_load_n(&st->busy[i], __ATOMIC_ACQUIRE))
        __atomic_fetch_add(&st->twice, 1, __ATOMIC_SEQ_CST);
    if (status)
        __atomic_fetch_add(&st->failed, 1, __ATOMIC_SEQ_CST);
    else if (st->reading[i] && memcmp(st->buf[i], st->expect[i], st->sectors[i] * 512) != 0)
        __atomic_fetch_add(&st->bad_data, 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&st->done, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&st->busy[i], false, __ATOMIC_RELEASE);
}

static void *stream_main(void *arg)
{
    struct stream *st = arg;
    while (!__atomic_load_n(&st->stop, __ATOMIC_ACQUIRE)) {
        for (unsigned i = 0; i < SLOTS; i++) {
            if (__atomic_load_n(&st->busy[i], __ATOMIC_ACQUIRE))
                continue;
            bool read = st->gen[i] % 2 == 1;       /* write, read back, write ... */
            st->gen[i]++;
            if (!read)
                fill(st->expect[i], st->sectors[i] * 512, i * 1000 + st->gen[i]);
            memcpy(st->buf[i], st->expect[i], st->sectors[i] * 512);
            if (read)
                memset(st->buf[i], 0, st->sectors[i] * 512);
            st->reading[i] = read;
            st->busy[i] = true;
            st->sg[i] = (struct blkfront_sg){ st->buf[i], st->sectors[i] * 512 };
            st->req[i] = (struct blkfront_req){ .op = read ? BLKFRONT_READ : BLKFRONT_WRITE,
                                                .sector = i * 512ull,
                                                .nr_sectors = st->sectors[i],
                                                .sg = &st->sg[i], .nsg = 1,
                                                .done = stream_done, .arg = st };
            if (blkfront_submit(st->bf, &st->req[i]) == 0) {
                __atomic_fetch_add(&st->sent, 1, __ATOMIC_SEQ_CST);
            } else {
                st->busy[i] = false;
                st->gen[i] -= 1;
            }
        }
        usleep(200);
    }
    return NULL;
}

static void test_every_geometry_across_restarts_with_io_streaming(void)
{
    struct bfe_dev d = bfe_open(2080, &(struct sim_blkback_opts){ .sectors = SLOTS * 512 }, NULL);
    REQUIRE(d.bf);
    static struct stream st;
    memset(&st, 0, sizeof(st));
    st.bf = d.bf;
    for (unsigned i = 0; i < SLOTS; i++) {
        st.sectors[i] = 8 * (1 + (i * 7) % 40);       /* 1 to 40 pages: direct and indirect */
        st.buf[i] = malloc(st.sectors[i] * 512);
        st.expect[i] = malloc(st.sectors[i] * 512);
    }
    alarm(600);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, stream_main, &st) == 0);
    static const unsigned queues[3] = { 1, 2, 4 };
    unsigned restarts = 0;
    /* 36 combinations; the order mixes growing and shrinking in each. */
    for (unsigned c = 0; c < 36; c++) {
        unsigned k = (c * 17) % 36;
        struct sim_blkback_opts o = { .sectors = SLOTS * 512,
                                      .max_queues = queues[k % 3],
                                      .max_ring_order = (k / 3) % 3,
                                      .indirect = (k / 9) % 2,
                                      .no_persistent = (k / 18) % 2 == 0 };
        unsigned before = __atomic_load_n(&st.done, __ATOMIC_SEQ_CST);
        sim_blkback_restart_with(d.bb, &o, c % 3 == 2 ? SIM_BLK_RESTART_UNSEEN : 0);
        restarts++;
        bool up = bfe_wait_connects(&d, restarts + 1);
        CHECK(up);
        for (int i = 0; i < 6000 && __atomic_load_n(&st.done, __ATOMIC_SEQ_CST) <
                                        before + (slow ? SLOTS / 2 : 2 * SLOTS); i++)
            usleep(5000);
        struct blkfront_info in;
        blkfront_get_info(d.bf, &in);
        CHECK_EQ(in.queues, o.max_queues);
        CHECK_EQ(in.ring_pages, 1u << o.max_ring_order);
        CHECK_EQ(in.persistent, !o.no_persistent);
        CHECK_EQ(in.max_indirect_segments, o.indirect ? 256u : 0u);
    }
    __atomic_store_n(&st.stop, true, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    for (int i = 0; i < 3000 && __atomic_load_n(&st.done, __ATOMIC_SEQ_CST) < st.sent; i++)
        usleep(10000);
    alarm(0);
    CHECK(restarts >= 20);
    CHECK(st.sent > 36 * SLOTS / 2);
    CHECK_EQ(__atomic_load_n(&st.done, __ATOMIC_SEQ_CST), st.sent);
    CHECK_EQ(st.failed, 0);
    CHECK_EQ(st.twice, 0);
    CHECK_EQ(st.bad_data, 0);
    CHECK(!blkfront_is_broken(d.bf));
    bfe_close(&d);
    for (unsigned i = 0; i < SLOTS; i++) {
        free(st.buf[i]);
        free(st.expect[i]);
    }
}

static void run_tests(void)
{
    GP_TEST_RUN(test_ring_grows_after_shrinking);
    GP_TEST_RUN(test_requests_move_off_dropped_queues);
    GP_TEST_RUN(test_requests_of_dropped_queues_complete_on_destroy);
    GP_TEST_RUN(test_held_requests_split_for_the_new_backend);
    GP_TEST_RUN(test_pages_still_mapped_are_never_reused);
    GP_TEST_RUN(test_destroy_waits_for_a_linux_like_close);
    GP_TEST_RUN(test_refused_end_of_access_fails_the_device);
    GP_TEST_RUN(test_no_stale_bytes_beyond_the_transfer);
    GP_TEST_RUN(test_absurd_geometry_is_clamped);
    GP_TEST_RUN(test_every_geometry_across_restarts_with_io_streaming);
    for (unsigned i = 0; i < MAXREQ; i++)
        free(bufs[i]);
}

int main(void)
{
    slow = getenv("GP_TEST_SLOW") != NULL;
    return gp_sim_env_main(32768, run_tests);
}
