/* netfront against backends that come back different or answer in ways a
 * hostile backend chooses (issue 14): fewer or more queues with frames
 * held on the ones that go, tx answers on a ring already given up, a
 * control ring never answered, a flood of bad rx frames, stale bytes in
 * granted pages, features that flip across restarts.  Every frame
 * completes exactly once and what arrives is intact. */
#include "gp_netfront_env.h"

/* A backend that answers every rx slot badly must not flood the log: the
 * drops are all counted, the warnings about them bounded. */
static void test_rx_drop_flood_is_rate_limited(void)
{
    struct ne_vif v;
    ne_open(&v, 1, NULL, (struct netfront_opts){ 0 });
    REQUIRE(v.nf);
    struct sim_os *os = sim_domain_os(gp_env.g);
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
    for (int i = 0; i < 6000 && st.rx_dropped < N; i++) {
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

/* Wait until the backend took 'n' tx frames off its rings in all. */
static bool wait_backend_tx(struct ne_vif *v, uint64_t n)
{
    struct sim_netback_stats st = { 0 };
    for (int i = 0; i < 1000; i++) {
        sim_netback_get_stats(v->nb, &st);
        if (st.tx_frames >= n)
            return true;
        usleep(2000);
    }
    return false;
}

/* Every frame completed once; those that completed well came back whole. */
static void check_frames(struct ne_vif *v)
{
    CHECK_EQ(ne_wait_completed(v, 10), v->nframes);
    CHECK_EQ(ne_not_once(v), 0);
    unsigned lost = 0;
    for (unsigned i = 0; i < v->nframes; i++)
        if (v->f[i]->status == 0 && !ne_wait_arrived(v, i, 5))
            lost++;
    CHECK_EQ(lost, 0);
    CHECK_EQ(v->rx_bad, 0);
}

/* The backend comes back offering fewer queues (4, then 1), then more
 * again: frames waiting on queues that went move to the ones kept and go
 * out once; those on the rings given up complete as failed, once; the
 * geometry of each connection is the one negotiated. */
static void test_fewer_then_more_queues_keep_every_frame(void)
{
    struct ne_vif v;
    struct sim_netback_opts bo = { .max_queues = 4 };
    ne_open(&v, 2, &bo, (struct netfront_opts){ 0 });
    REQUIRE(v.nf);
    struct netfront_info in;
    netfront_get_info(v.nf, &in);
    CHECK_EQ(in.queues, 4);
    unsigned n = ne_slow() ? 1200 : 1600;     /* more than 4 rings hold: some wait */
    sim_netback_hold_tx(v.nb, true);
    for (unsigned i = 0; i < n; i++)
        CHECK_EQ(ne_send(&v, i & 1 ? 6 : 4, 60 + i % 200, 0), 0);
    bo.max_queues = 1;
    sim_netback_reconfigure(v.nb, &bo);
    sim_netback_restart(v.nb);
    sim_netback_hold_tx(v.nb, false);
    REQUIRE(ne_wait_connects(&v, 2));
    netfront_get_info(v.nf, &in);
    CHECK_EQ(in.queues, 1);
    check_frames(&v);
    struct netfront_stats st;
    netfront_get_stats(v.nf, &st);
    CHECK(st.tx_moved > 0);
    unsigned ok = 0;
    for (unsigned i = 0; i < v.nframes; i++)
        ok += v.f[i]->status == 0;
    CHECK(ok >= n - 4 * 256);                 /* all that waited went out */
    /* and back to four queues, frames waiting on the one queue */
    unsigned first = v.nframes;
    sim_netback_hold_tx(v.nb, true);
    for (unsigned i = 0; i < 400; i++)
        CHECK_EQ(ne_send(&v, 4, 100 + i, 0), 0);
    bo.max_queues = 4;
    sim_netback_reconfigure(v.nb, &bo);
    sim_netback_restart(v.nb);
    sim_netback_hold_tx(v.nb, false);
    REQUIRE(ne_wait_connects(&v, 3));
    netfront_get_info(v.nf, &in);
    CHECK_EQ(in.queues, 4);
    for (unsigned i = 0; i < 200; i++)
        CHECK_EQ(ne_send(&v, 6, 1000 + i, 0), 0);
    check_frames(&v);
    for (unsigned i = first + 400; i < v.nframes; i++)
        CHECK_EQ(v.f[i]->status, 0);
    /* frames held on queues that go, and the device destroyed before the
     * backend comes back: each completes once, none is left */
    sim_netback_hold_tx(v.nb, true);
    for (unsigned i = 0; i < 1200; i++)
        ne_send(&v, 4, 80, 0);
    bo.max_queues = 1;
    sim_netback_reconfigure(v.nb, &bo);
    sim_netback_restart(v.nb);
    netfront_destroy(v.nf);
    v.nf = NULL;
    CHECK_EQ(ne_wait_completed(&v, 1), v.nframes);
    CHECK_EQ(ne_not_once(&v), 0);
    ne_close(&v);
}

/* The backend answers the tx slots of a ring netfront gave up at the
 * restart (it still maps it for a moment): ignored and counted, not a
 * protocol violation; the frames completed once when the ring was given
 * up, and the device carries on. */
static void test_late_tx_answers_on_a_ring_given_up(void)
{
    struct ne_vif v;
    ne_open(&v, 3, NULL, (struct netfront_opts){ .max_queues = 1 });
    REQUIRE(v.nf);
    sim_netback_hold_tx(v.nb, true);
    for (unsigned i = 0; i < 100; i++)
        CHECK_EQ(ne_send(&v, 4, 200, 0), 0);
    REQUIRE(wait_backend_tx(&v, 100));        /* all on the ring, answers held */
    CHECK(sim_netback_restart_late_begin(v.nb));
    struct netfront_stats st = { 0 };
    for (int i = 0; i < 15000 && st.tx_stale_responses < 100 && !netfront_is_broken(v.nf); i++) {
        usleep(2000);
        netfront_get_stats(v.nf, &st);
    }
    sim_netback_restart_late_end(v.nb);
    CHECK(!netfront_is_broken(v.nf));
    CHECK_EQ(st.tx_stale_responses, 100);
    REQUIRE(ne_wait_connects(&v, 2));
    for (unsigned i = 0; i < 20; i++)
        CHECK_EQ(ne_send(&v, 6, 300, 0), 0);
    check_frames(&v);
    unsigned failed = 0;
    for (unsigned i = 0; i < 100; i++)
        failed += v.f[i]->status == GP_EIO;
    CHECK_EQ(failed, 100);                    /* given up with the ring: never sent twice */
    for (unsigned i = 100; i < v.nframes; i++)
        CHECK_EQ(v.f[i]->status, 0);
    ne_close(&v);
}

/* A backend that keeps its mappings of the ring pages across a restart:
 * ending their grants is refused, so the pages go to the quarantine and
 * are never written again while mapped (the new connection gets fresh
 * ring pages, frames still flow); once the backend lets go, the next
 * reconnect ends their grants and frees them. */
static void test_rings_still_mapped_are_never_reused(void)
{
    struct ne_vif v;
    ne_open(&v, 7, &(struct sim_netback_opts){ .max_queues = 2 }, (struct netfront_opts){ 0 });
    REQUIRE(v.nf);
    for (unsigned i = 0; i < 20; i++)
        CHECK_EQ(ne_send(&v, 4, 600, 0), 0);
    CHECK_EQ(ne_wait_completed(&v, 10), 20);
    sim_netback_keep_mappings(v.nb, true);
    sim_netback_restart(v.nb);
    REQUIRE(ne_wait_connects(&v, 2));         /* the old rings are given up by now */
    sim_netback_keep_mappings(v.nb, false);
    sim_netback_snapshot_mappings(v.nb);
    struct netfront_stats st;
    netfront_get_stats(v.nf, &st);
    CHECK_EQ(st.pages_quarantined, 4);        /* tx and rx ring of both queues */
    CHECK_EQ(st.pages_held, 4);
    for (unsigned i = 0; i < 40; i++)         /* traffic on the new rings */
        CHECK_EQ(ne_send(&v, 6, 900, 0), 0);
    check_frames(&v);
    unsigned changed = 99;
    CHECK_EQ(sim_netback_release_mappings(v.nb, &changed), 4);
    CHECK_EQ(changed, 0);                     /* nothing was written into them */
    sim_netback_restart(v.nb);                /* the next reconnect retries them */
    REQUIRE(ne_wait_connects(&v, 3));
    netfront_get_stats(v.nf, &st);
    CHECK_EQ(st.pages_released, 4);
    CHECK_EQ(st.pages_held, 0);
    for (unsigned i = 0; i < 10; i++)
        CHECK_EQ(ne_send(&v, 4, 300, 0), 0);
    check_frames(&v);
    ne_close(&v);
}

/* A backend that never answers control requests: each times out, a few
 * hold their slots, then requests fail at once (GP_EIO, a bounded log)
 * instead of filling the ring for good (GP_EBUSY forever); late answers
 * are counted and never taken for a later request's; answered or
 * reconnected, the control path works again. */
static void test_control_ring_never_answered(void)
{
    struct ne_vif v;
    ne_open(&v, 4, NULL, (struct netfront_opts){ .max_queues = 1 });
    REQUIRE(v.nf);
    struct sim_os *os = sim_domain_os(gp_env.g);
    sim_os_set_quiet(os, true);
    unsigned warn0 = sim_os_warn_count(os), err0 = sim_os_error_count(os);
    sim_netback_ctrl_fault(v.nb, SIM_NET_CTRL_MUTE);
    unsigned timeouts = 0, refused = 0, busy = 0, other = 0;
    for (int i = 0; i < 200; i++) {
        /* refused parameter: a late answer taken for a later request shows as GP_EINVAL */
        int rc = netfront_ctrl_request(v.nf, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, 9, 0, 0,
                                       NULL, 2000000ull);
        timeouts += rc == GP_ETIMEDOUT;
        refused += rc == GP_EIO;
        busy += rc == GP_EBUSY;
        other += rc != GP_ETIMEDOUT && rc != GP_EIO && rc != GP_EBUSY;
    }
    CHECK_EQ(busy, 0);
    CHECK_EQ(other, 0);
    CHECK(timeouts >= 1 && timeouts <= 8);
    CHECK_EQ(timeouts + refused, 200);
    CHECK(sim_os_warn_count(os) - warn0 + sim_os_error_count(os) - err0 <= 24);
    struct netfront_stats st;
    netfront_get_stats(v.nf, &st);
    CHECK_EQ(st.ctrl_timeouts, timeouts);
    /* the backend answers at last: late answers ignored, the path is back */
    sim_netback_ctrl_fault(v.nb, SIM_NET_CTRL_OK);
    int rc = GP_EIO;
    for (int i = 0; i < 200 && rc == GP_EIO; i++) {
        rc = netfront_ctrl_request(v.nf, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
                                   XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0, NULL,
                                   2000000000ull);
        if (rc == GP_EIO)
            usleep(2000);
    }
    CHECK_EQ(rc, 0);
    netfront_get_stats(v.nf, &st);
    CHECK_EQ(st.ctrl_late, timeouts);
    uint32_t d = 0;
    CHECK_EQ(netfront_ctrl_request(v.nf, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0, &d,
                                   2000000000ull), 0);
    CHECK_EQ(d, 128);
    /* muted again until the path fails, then a reconnect: a fresh ring */
    sim_netback_ctrl_fault(v.nb, SIM_NET_CTRL_MUTE);
    for (int i = 0; i < 20; i++)
        netfront_ctrl_request(v.nf, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0, &d,
                              2000000ull);
    CHECK_EQ(netfront_ctrl_request(v.nf, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0, &d,
                                   2000000ull), GP_EIO);
    sim_netback_restart(v.nb);
    REQUIRE(ne_wait_connects(&v, 2));
    CHECK_EQ(netfront_ctrl_request(v.nf, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0, &d,
                                   2000000000ull), 0);
    CHECK(!netfront_is_broken(v.nf));
    sim_os_set_quiet(os, false);
    ne_close(&v);
}

/* XSA-403 class: a tx page granted to the backend shows nothing beyond
 * the frame in it (a longer frame went through the same page before), and
 * the rx buffers a new connection is granted hold nothing of what earlier
 * connections received.  The simulated backend reads the whole pages. */
static void test_granted_pages_show_nothing_beyond_the_data(void)
{
    struct ne_vif v;
    ne_open(&v, 5, &(struct sim_netback_opts){ .audit_stale = true },
            (struct netfront_opts){ .max_queues = 1 });
    REQUIRE(v.nf);
    /* long frames (several pages each), then short ones on the same pages */
    for (unsigned i = 0; i < 40; i++)
        CHECK_EQ(ne_send(&v, 4, 7000 + i * 31, 0), 0);
    CHECK_EQ(ne_wait_completed(&v, 10), v.nframes);
    for (unsigned i = 0; i < 200; i++)
        CHECK_EQ(ne_send(&v, i & 1 ? 6 : 4, 10 + i * 7, 0), 0);
    check_frames(&v);
    struct sim_netback_stats bs;
    sim_netback_get_stats(v.nb, &bs);
    CHECK_EQ(bs.stale_bytes, 0);
    /* the rx buffers got those frames; a new connection must not see them */
    sim_netback_restart(v.nb);
    REQUIRE(ne_wait_connects(&v, 2));
    sim_netback_get_stats(v.nb, &bs);
    CHECK_EQ(bs.stale_bytes, 0);
    CHECK_EQ(ne_send(&v, 4, 500, 0), 0);
    check_frames(&v);
    ne_close(&v);
}

/* ---- every geometry and feature set across restarts, frames streaming ---- */

struct streamer {
    struct ne_vif *v;
    unsigned limit;
    bool stop;
    pthread_t th;
};

static void *stream_main(void *arg)
{
    struct streamer *s = arg;
    unsigned k = 0;
    while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE) && s->v->nframes < s->limit) {
        pthread_mutex_lock(&s->v->m);
        unsigned outstanding = s->v->nframes - s->v->completed;
        pthread_mutex_unlock(&s->v->m);
        if (outstanding > 256) {      /* the backend is away: let it come back */
            usleep(500);
            continue;
        }
        k++;
        int ipv = k & 1 ? 4 : 6;
        if (k % 9 == 0)               /* a GSO frame: whole, or cut by whoever lacks GSO */
            ne_send(s->v, ipv, 6000 + (k * 977) % 14000, 1400);
        else if (k % 5 == 0)          /* several pages: needs scatter-gather */
            ne_send(s->v, ipv, 5000 + (k * 131) % 4000, 0);
        else
            ne_send(s->v, ipv, 1 + (k * 37) % 1400, 0);
        if (k % 16 == 0)
            usleep(200);
    }
    return NULL;
}

/* 20+ restarts, each to another backend: queues 1, 2, 4 x control ring on
 * or off x split event channels or one x offloads (SG, GSO, checksum) or
 * none, every combination once, with frames streaming out and back all
 * along.  Every frame completes exactly once; what arrives is intact (a
 * frame the backend took but dropped at its restart may not arrive); the
 * frames of the last, quiet, connection all arrive. */
static void test_every_geometry_and_feature_across_restarts(void)
{
    struct ne_vif *v = calloc(1, sizeof(*v));
    ne_open(v, 6, &(struct sim_netback_opts){ .max_queues = 4 }, (struct netfront_opts){ 0 });
    REQUIRE(v->nf);
    static struct streamer st;
    memset(&st, 0, sizeof(st));
    st.v = v;
    st.limit = ne_slow() ? 1500 : 7000;
    alarm(600);
    REQUIRE(pthread_create(&st.th, NULL, stream_main, &st) == 0);
    static const unsigned queues[3] = { 1, 2, 4 };
    unsigned rounds = 24, wrong_info = 0, ctrl_bad = 0;
    for (unsigned r = 0; r < rounds; r++) {
        unsigned nq = queues[r % 3];
        bool ctrl = (r / 3) & 1, split = (r / 6) & 1, offloads = (r / 12) & 1;
        struct sim_netback_opts bo = { .max_queues = nq, .no_ctrl_ring = !ctrl,
                                       .no_split = !split, .no_sg = !offloads,
                                       .no_gso = !offloads, .no_csum_offload = !offloads,
                                       .no_ipv6_csum = !offloads };
        sim_netback_reconfigure(v->nb, &bo);
        sim_netback_restart(v->nb);
        REQUIRE(ne_wait_connects(v, r + 2));
        struct netfront_info in;
        netfront_get_info(v->nf, &in);
        wrong_info += in.queues != nq || in.ctrl_ring != ctrl ||
                      in.split_event_channels != split || in.sg != offloads ||
                      in.gso_tcpv4 != offloads || in.csum_offload != offloads;
        if (ctrl) {
            uint32_t d = 0;
            ctrl_bad += netfront_ctrl_request(v->nf, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE,
                                              0, 0, 0, &d, 2000000000ull) != 0 || d != 128;
        } else {
            ctrl_bad += netfront_ctrl_request(v->nf, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE,
                                              0, 0, 0, NULL, 2000000000ull) != GP_ENOTSUP;
        }
        usleep(ne_slow() ? 20000 : 5000);     /* frames flow on this connection */
    }
    __atomic_store_n(&st.stop, true, __ATOMIC_RELEASE);
    pthread_join(st.th, NULL);
    CHECK_EQ(wrong_info, 0);
    CHECK_EQ(ctrl_bad, 0);
    CHECK_EQ(ne_wait_completed(v, 30), v->nframes);
    CHECK_EQ(ne_not_once(v), 0);
    /* the quiet end: everything sent now arrives, whole */
    unsigned first = v->nframes;
    for (unsigned i = 0; i < 64; i++)
        CHECK_EQ(ne_send(v, i & 1 ? 6 : 4, 100 + i * 101, i % 4 == 0 ? 1400 : 0), 0);
    CHECK_EQ(ne_wait_completed(v, 10), v->nframes);
    unsigned arrived = 0, sent_ok = 0;
    for (unsigned i = first; i < v->nframes; i++)
        arrived += v->f[i]->status == 0 && ne_wait_arrived(v, i, 5);
    CHECK_EQ(arrived, 64);
    for (unsigned i = 0; i < first; i++)
        sent_ok += v->f[i]->status == 0;
    pthread_mutex_lock(&v->m);
    unsigned bad = v->rx_bad, unknown = v->rx_unknown, rx = v->rx_frames;
    unsigned whole = 0;
    for (unsigned i = 0; i < first; i++)
        whole += v->f[i]->rx_bytes == v->f[i]->payload;
    pthread_mutex_unlock(&v->m);
    CHECK_EQ(bad, 0);
    CHECK_EQ(unknown, 0);
    CHECK(rx > 0);
    CHECK(sent_ok > first / 2);
    CHECK(whole > sent_ok / 2);
    CHECK(!netfront_is_broken(v->nf));
    struct netfront_stats ns;
    netfront_get_stats(v->nf, &ns);
    CHECK(ns.tx_moved > 0);
    alarm(0);
    ne_close(v);
    free(v);
}

/* The backend's queue count is whatever it writes: 0, huge or not a
 * number must not keep the device from connecting (one queue, or our
 * cap), and frames go through each time. */
static void test_hostile_queue_counts_still_connect(void)
{
    struct ne_vif v;
    ne_open(&v, 7, &(struct sim_netback_opts){ .max_queues = 4 }, (struct netfront_opts){ 0 });
    REQUIRE(v.nf);
    sim_os_set_quiet(sim_domain_os(gp_env.g), true);
    static const struct { const char *said; unsigned real, want; } cases[] = {
        { "0", 1, 1 }, { "99999999999", 4, 4 }, { "lots", 1, 1 }, { "-3", 1, 1 }, { "2", 2, 2 },
    };
    for (unsigned c = 0; c < 5; c++) {
        sim_netback_reconfigure(v.nb, &(struct sim_netback_opts){ .max_queues = cases[c].real });
        sim_netback_write_key(v.nb, "multi-queue-max-queues", cases[c].said);
        sim_netback_restart(v.nb);
        CHECK(ne_wait_connects(&v, c + 2));
        struct netfront_info in;
        netfront_get_info(v.nf, &in);
        CHECK_EQ(in.queues, cases[c].want);
        for (unsigned i = 0; i < 8; i++)
            CHECK_EQ(ne_send(&v, 4, 100 + i, 0), 0);
        unsigned last = v.nframes - 1;
        CHECK(ne_wait_arrived(&v, last, 5));
    }
    sim_os_set_quiet(sim_domain_os(gp_env.g), false);
    check_frames(&v);
    ne_close(&v);
}

/* A GSO frame half cut in software (the backend had no GSO, the ring
 * filled up mid-frame) when the backend comes back with GSO: its
 * remaining segments go as segments, it is not sent again whole (which
 * would duplicate what already went). */
static void test_half_segmented_frame_across_a_gso_flip(void)
{
    struct ne_vif v;
    struct sim_netback_opts bo = { .no_gso = true };
    ne_open(&v, 8, &bo, (struct netfront_opts){ .max_queues = 1 });
    REQUIRE(v.nf);
    sim_netback_hold_tx(v.nb, true);
    for (unsigned i = 0; i < 230; i++)
        CHECK_EQ(ne_send(&v, 4, 60, 0), 0);
    CHECK_EQ(ne_send(&v, 4, 30000, 536), 0);   /* 56 segments: 26 fit, 30 wait */
    REQUIRE(wait_backend_tx(&v, 256));
    bo.no_gso = false;
    sim_netback_reconfigure(v.nb, &bo);
    sim_netback_restart(v.nb);
    sim_netback_hold_tx(v.nb, false);
    REQUIRE(ne_wait_connects(&v, 2));
    CHECK_EQ(ne_send(&v, 4, 100, 0), 0);
    CHECK_EQ(ne_wait_completed(&v, 10), v.nframes);
    CHECK(ne_wait_arrived(&v, v.nframes - 1, 5));
    CHECK_EQ(ne_not_once(&v), 0);
    CHECK_EQ(v.f[230]->status, GP_EIO);         /* some of it may be lost */
    pthread_mutex_lock(&v.m);
    CHECK_EQ(v.rx_bad, 0);                      /* and nothing of it twice */
    /* At least the 30 segments that waited arrive: 29 of 536 bytes and the
     * last, short one (30000 = 55 * 536 + 520), so 30000 - 26 * 536 bytes.
     * The 26 on the ring when it restarted may arrive too, or be lost. */
    CHECK(v.f[230]->rx_bytes >= 30000 - 26 * 536 && v.f[230]->rx_bytes <= 30000);
    pthread_mutex_unlock(&v.m);
    ne_close(&v);
}

static void run_tests(void)
{
    GP_TEST_RUN(test_rx_drop_flood_is_rate_limited);
    GP_TEST_RUN(test_fewer_then_more_queues_keep_every_frame);
    GP_TEST_RUN(test_late_tx_answers_on_a_ring_given_up);
    GP_TEST_RUN(test_rings_still_mapped_are_never_reused);
    GP_TEST_RUN(test_control_ring_never_answered);
    GP_TEST_RUN(test_granted_pages_show_nothing_beyond_the_data);
    GP_TEST_RUN(test_hostile_queue_counts_still_connect);
    GP_TEST_RUN(test_half_segmented_frame_across_a_gso_flip);
    GP_TEST_RUN(test_every_geometry_and_feature_across_restarts);
}

int main(void)
{
    return gp_sim_env_main(32768, run_tests);
}
