/* blkfront_abandon (core/blkif) against a simulated blkback that holds its
 * answers, as a stalled backend does when the OS resets the bus: every
 * request completes at once, exactly once, with the status given; the
 * backend's late answers are checked and dropped - never copied into the
 * buffers given back, never completed again; the pool pages the backend
 * still holds are not reused before it answers; what was queued never
 * reaches the ring; a reconnect does not re-issue what was given up; and
 * I/O afterwards is correct byte for byte. */
#include <pthread.h>
#include <unistd.h>

#include "gp_blkfront_env.h"
#include "gp_test.h"
#include "os/sim_os.h"

/* ---- requests with a count of completions each ---------------------------------- */
#define MAXREQ 48
static struct blkfront_req reqs[MAXREQ];
static struct blkfront_sg sgs[MAXREQ];
static uint8_t bufs[MAXREQ][400 * 512];
static int calls_of[MAXREQ], status_of[MAXREQ], late_calls;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
/* What a given-back request is left pointing at: if blkfront used it
 * again, it would write here or call on_late. */
static uint8_t trap[8192];
static struct blkfront_sg trap_sg = { trap, sizeof(trap) };

static void on_done(void *arg, struct blkfront_req *r, int status)
{
    (void)arg;
    pthread_mutex_lock(&m);
    if (r >= reqs && r < reqs + MAXREQ) {
        calls_of[r - reqs]++;
        status_of[r - reqs] = status;
    }
    pthread_mutex_unlock(&m);
}

static void on_late(void *arg, struct blkfront_req *r, int status)
{
    (void)arg;
    (void)r;
    (void)status;
    pthread_mutex_lock(&m);
    late_calls++;
    pthread_mutex_unlock(&m);
}

static void counts_reset(void)
{
    memset(calls_of, 0, sizeof(calls_of));
    memset(status_of, 0, sizeof(status_of));
    late_calls = 0;
    memset(trap, 0xee, sizeof(trap));
}

static int submit(struct blkfront *bf, unsigned i, enum blkfront_op op, uint64_t sector,
                  uint32_t n)
{
    sgs[i] = (struct blkfront_sg){ bufs[i], n * 512 };
    bool data = op == BLKFRONT_READ || op == BLKFRONT_WRITE;
    reqs[i] = (struct blkfront_req){ .op = op, .sector = sector, .nr_sectors = n,
                                     .sg = data ? &sgs[i] : NULL, .nsg = data ? 1 : 0,
                                     .done = on_done };
    return blkfront_submit(bf, &reqs[i]);
}

/* Every request in [0, n) completed once with `status`. */
static int completed_once(unsigned n, int status)
{
    int bad = 0;
    pthread_mutex_lock(&m);
    for (unsigned i = 0; i < n; i++)
        bad += calls_of[i] != 1 || status_of[i] != status;
    pthread_mutex_unlock(&m);
    return bad;
}

/* The caller frees what it got back: blkfront must not look at it again. */
static void poison(unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        memset(&reqs[i], 0xcc, sizeof(reqs[i]));
        reqs[i].sg = &trap_sg;
        reqs[i].nsg = 1;
        reqs[i].done = on_late;
        memset(bufs[i], 0xee, sizeof(bufs[i]));
    }
}

static int poison_touched(unsigned n)
{
    int bad = 0;
    for (unsigned i = 0; i < sizeof(trap); i++)
        bad += trap[i] != 0xee;
    for (unsigned i = 0; i < n; i++)
        for (unsigned k = 0; k < sizeof(bufs[i]); k++)
            bad += bufs[i][k] != 0xee;
    pthread_mutex_lock(&m);
    bad += late_calls;
    pthread_mutex_unlock(&m);
    return bad;
}

static unsigned outstanding(struct blkfront *bf)
{
    unsigned n = 0;
    gp_os_lock_acquire(gp_env.p, bf->lock);
    for (unsigned q = 0; q < bf->nqueues; q++)
        n += bf->q[q].outstanding;
    gp_os_lock_release(gp_env.p, bf->lock);
    return n;
}

/* Pool pages of abandoned ring requests that are also on the free list
 * (would be handed to the next request while the backend holds them). */
static unsigned held_pages_reusable(struct blkfront *bf, unsigned *held)
{
    unsigned bad = 0;
    *held = 0;
    gp_os_lock_acquire(gp_env.p, bf->lock);
    for (unsigned q = 0; q < bf->nqueues; q++)
        for (unsigned i = 0; i < bf->q[q].nslots; i++) {
            struct blkfront_shadow *s = &bf->q[q].shadow[i];
            if (!s->in_use || !s->abandoned)
                continue;
            for (unsigned k = 0; k < s->nseg + s->nind; k++) {
                uint16_t pi = k < s->nseg ? s->pages[k] : s->ind[k - s->nseg];
                (*held)++;
                for (unsigned f = 0; f < bf->pool_nfree; f++)
                    bad += bf->pool_free[f] == pi;
            }
        }
    gp_os_lock_release(gp_env.p, bf->lock);
    return bad;
}

static bool wait_idle(struct blkfront *bf)
{
    GP_WAIT_WHILE(outstanding(bf));
    usleep(20000);
    return outstanding(bf) == 0;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9) + 1);
}

static int calls(unsigned i)
{
    pthread_mutex_lock(&m);
    int n = calls_of[i];
    pthread_mutex_unlock(&m);
    return n;
}

static bool wait_calls(unsigned i)
{
    GP_WAIT_WHILE(!calls(i));
    return calls(i) == 1;
}

/* A write then a read of n sectors at sector, through fresh requests:
 * true if both succeed and the disk and the read hold the bytes. */
static bool round_trip(struct bfe_dev *d, uint64_t sector, uint32_t n, unsigned seed)
{
    const unsigned w = MAXREQ - 2, r = MAXREQ - 1;
    fill(bufs[w], n * 512, seed);
    memset(bufs[r], 0, n * 512);
    pthread_mutex_lock(&m);
    calls_of[w] = calls_of[r] = 0;
    pthread_mutex_unlock(&m);
    if (submit(d->bf, w, BLKFRONT_WRITE, sector, n) != 0 || !wait_calls(w) || status_of[w])
        return false;
    if (submit(d->bf, r, BLKFRONT_READ, sector, n) != 0 || !wait_calls(r) || status_of[r])
        return false;
    return !memcmp(sim_blkback_disk(d->bb) + sector * 512, bufs[w], n * 512) &&
           !memcmp(bufs[r], bufs[w], n * 512);
}

/* ---- the tests -------------------------------------------------------------------- */

/* Reads, writes and a flush held by the backend, one read split into
 * several ring requests: all given back at once, then the backend
 * answers. */
static void test_abandon_gives_back_every_request_once(void)
{
    for (int persistent = 0; persistent < 2; persistent++) {
        struct bfe_dev d = bfe_open(3000 + (unsigned)persistent,
                                &(struct sim_blkback_opts){ .no_persistent = !persistent }, NULL);
        REQUIRE(d.bf);
        counts_reset();
        fill(sim_blkback_disk(d.bb), 400 * 512, 77);
        struct blkfront_stats s0, s1;
        blkfront_get_stats(d.bf, &s0);
        sim_blkback_hold(d.bb, true);
        CHECK_EQ(submit(d.bf, 0, BLKFRONT_READ, 0, 300), 0);   /* 4 ring requests of <= 88 */
        CHECK_EQ(submit(d.bf, 1, BLKFRONT_WRITE, 1000, 8), 0);
        CHECK_EQ(submit(d.bf, 2, BLKFRONT_READ, 2000, 8), 0);
        CHECK_EQ(submit(d.bf, 3, BLKFRONT_FLUSH, 0, 0), 0);
        CHECK_EQ(submit(d.bf, 4, BLKFRONT_WRITE, 3000, 64), 0);
        CHECK_EQ(submit(d.bf, 5, BLKFRONT_READ, 4000, 1), 0);
        usleep(30000);
        CHECK_EQ(outstanding(d.bf), 9);
        unsigned n = blkfront_abandon(d.bf, GP_ECANCELED);
        CHECK_EQ(n, 6);
        CHECK_EQ(completed_once(6, GP_ECANCELED), 0);
        REQUIRE(completed_once(6, GP_ECANCELED) == 0);   /* else they are still blkfront's */
        unsigned held = 0;
        CHECK_EQ(held_pages_reusable(d.bf, &held), 0);
        CHECK_EQ(held, 38 + 1 + 1 + 8 + 1);               /* the backend still holds them */
        poison(6);
        blkfront_get_stats(d.bf, &s1);
        CHECK_EQ(s1.abandoned - s0.abandoned, 6);
        sim_blkback_hold(d.bb, false);                     /* the late answers */
        CHECK(wait_idle(d.bf));
        CHECK_EQ(poison_touched(6), 0);
        blkfront_get_stats(d.bf, &s1);
        CHECK_EQ(s1.late_answers - s0.late_answers, 9);
        CHECK_EQ(s1.ring_requests - s0.ring_requests, 9);
        CHECK(!blkfront_is_broken(d.bf));
        CHECK(round_trip(&d, 5000, 64, 1));
        CHECK(round_trip(&d, 1000, 8, 2));
        CHECK(!memcmp(sim_blkback_disk(d.bb) + 1000 * 512, bufs[MAXREQ - 1], 8 * 512));
        bfe_close(&d);
    }
}

/* More than the ring holds: requests queued behind it and one split over
 * several slots are given back too, and none of them reaches the ring
 * later. */
static void test_abandon_takes_queued_requests(void)
{
    struct bfe_dev d = bfe_open(3010, NULL, &(struct blkfront_opts){ .max_ring_page_order = 0 });
    REQUIRE(d.bf);
    counts_reset();
    sim_blkback_hold(d.bb, true);
    CHECK_EQ(submit(d.bf, 0, BLKFRONT_READ, 0, 400), 0);     /* 5 ring requests */
    for (unsigned i = 1; i < 40; i++)
        CHECK_EQ(submit(d.bf, i, i % 2 ? BLKFRONT_WRITE : BLKFRONT_READ, 500 + 8 * i, 8), 0);
    usleep(30000);
    gp_os_lock_acquire(gp_env.p, d.bf->lock);
    bool queued = d.bf->queue_head != NULL;
    gp_os_lock_release(gp_env.p, d.bf->lock);
    CHECK(queued);                                  /* 44 pieces, 32 slots */
    struct sim_blkback_stats b0, b1;
    sim_blkback_get_stats(d.bb, &b0);
    CHECK_EQ(blkfront_abandon(d.bf, GP_ECANCELED), 40);
    CHECK_EQ(completed_once(40, GP_ECANCELED), 0);
    REQUIRE(completed_once(40, GP_ECANCELED) == 0);
    poison(40);
    sim_blkback_hold(d.bb, false);
    CHECK(wait_idle(d.bf));
    sim_blkback_get_stats(d.bb, &b1);
    CHECK_EQ(b1.requests, b0.requests);            /* nothing given back was sent after */
    CHECK_EQ(poison_touched(40), 0);
    CHECK(!blkfront_is_broken(d.bf));
    CHECK(round_trip(&d, 700, 64, 3));
    bfe_close(&d);
}

/* The backend restarts after the reset: the ring requests given up go
 * with the old ring, none is re-issued, none completes again. */
static void test_reconnect_does_not_reissue_abandoned(void)
{
    struct bfe_dev d = bfe_open(3020, NULL, NULL);
    REQUIRE(d.bf);
    counts_reset();
    sim_blkback_hold(d.bb, true);
    for (unsigned i = 0; i < 6; i++)
        CHECK_EQ(submit(d.bf, i, i % 2 ? BLKFRONT_WRITE : BLKFRONT_READ, 100 + 16 * i, 16), 0);
    usleep(30000);
    CHECK_EQ(blkfront_abandon(d.bf, GP_ECANCELED), 6);
    REQUIRE(completed_once(6, GP_ECANCELED) == 0);
    poison(6);
    struct sim_blkback_stats b0, b1;
    sim_blkback_get_stats(d.bb, &b0);
    sim_blkback_restart(d.bb);
    bool up = false;
    for (int i = 0; i < 500 && !up; i++) {
        sim_blkback_get_stats(d.bb, &b1);
        gp_os_lock_acquire(gp_env.p, d.bf->lock);
        up = d.bf->connected && b1.connects > b0.connects;
        gp_os_lock_release(gp_env.p, d.bf->lock);
        if (!up)
            usleep(10000);
    }
    CHECK(up);
    sim_blkback_hold(d.bb, false);
    CHECK(wait_idle(d.bf));
    sim_blkback_get_stats(d.bb, &b1);
    CHECK_EQ(b1.requests, b0.requests);
    CHECK_EQ(poison_touched(6), 0);
    CHECK(!blkfront_is_broken(d.bf));
    CHECK(round_trip(&d, 100, 16, 4));
    bfe_close(&d);
}

/* Nothing held: nothing to give back, and I/O goes on. */
static void test_abandon_with_nothing_outstanding(void)
{
    struct bfe_dev d = bfe_open(3030, NULL, NULL);
    REQUIRE(d.bf);
    counts_reset();
    CHECK_EQ(blkfront_abandon(d.bf, GP_ECANCELED), 0);
    CHECK(round_trip(&d, 10, 8, 5));
    CHECK_EQ(blkfront_abandon(d.bf, GP_ECANCELED), 0);
    bfe_close(&d);
}

static void run_tests(void)
{
    GP_TEST_RUN(test_abandon_gives_back_every_request_once);
    GP_TEST_RUN(test_abandon_takes_queued_requests);
    GP_TEST_RUN(test_reconnect_does_not_reissue_abandoned);
    GP_TEST_RUN(test_abandon_with_nothing_outstanding);
}

int main(void)
{
    return gp_sim_env_main(16384, run_tests);
}
