/* netfront (core/netif) against the simulated netback: frames of any
 * fragment layout and size looped back intact, checksum offload and GSO
 * through the backend or in software when it lacks them, rx checksum
 * filling, multi-queue with split event channels, two frontends across a
 * "bridge", every kind of bad rx and tx response, shutdown and backend
 * restart with frames on the ring, tx and rx ring indices across 2^32:
 * each frame completes exactly once. */
#include <pthread.h>
#include <unistd.h>

#include "netif/netfront_internal.h"
#include "gp_frames.h"
#include "gp_sim_env.h"
#include "gp_test.h"
#include "gp_vif.h"
#include "gplpv/netfront.h"

#include <xen/io/netif.h>
#include "netback/sim_netback.h"
#include "sim.h"

#define MAX_RX 512

/* What a frontend received. */
struct inbox {
    pthread_mutex_t m;
    pthread_cond_t c;
    unsigned n;
    uint8_t *data[MAX_RX];
    uint32_t len[MAX_RX];
    enum netfront_gso gso[MAX_RX];
    uint16_t mss[MAX_RX];
    enum netfront_csum csum[MAX_RX];
    unsigned queue_mask;
};

static void inbox_rx(void *arg, const struct netfront_rx *f)
{
    struct inbox *ib = arg;
    pthread_mutex_lock(&ib->m);
    if (ib->n < MAX_RX) {
        uint8_t *d = malloc(f->len);
        netpkt_read(f->frags, f->nfrags, 0, d, f->len);
        ib->data[ib->n] = d;
        ib->len[ib->n] = f->len;
        ib->gso[ib->n] = f->gso;
        ib->mss[ib->n] = f->mss;
        ib->csum[ib->n] = f->csum;
        ib->queue_mask |= 1u << f->queue;
        ib->n++;
    }
    pthread_cond_broadcast(&ib->c);
    pthread_mutex_unlock(&ib->m);
}

static unsigned inbox_wait(struct inbox *ib, unsigned n)
{
    pthread_mutex_lock(&ib->m);
    GP_COND_WAIT_WHILE(&ib->c, &ib->m, 5, ib->n < n);
    unsigned got = ib->n;
    pthread_mutex_unlock(&ib->m);
    return got;
}

static void inbox_clear(struct inbox *ib)
{
    pthread_mutex_lock(&ib->m);
    for (unsigned i = 0; i < ib->n; i++)
        free(ib->data[i]);
    ib->n = 0;
    ib->queue_mask = 0;
    pthread_mutex_unlock(&ib->m);
}

struct vif {
    struct sim_netback *nb;
    struct netfront *nf;
    struct inbox ib;
};

static void vif_open(struct vif *v, unsigned devid, const struct sim_netback_opts *bo,
                     struct netfront_opts fo)
{
    memset(v, 0, sizeof(*v));
    pthread_mutex_init(&v->ib.m, NULL);
    pthread_cond_init(&v->ib.c, NULL);
    fo.rx = inbox_rx;
    fo.arg = &v->ib;
    gp_vif_attach(devid, bo, &fo, &v->nb, &v->nf);
}

static void vif_close(struct vif *v)
{
    netfront_destroy(v->nf);
    sim_netback_destroy(v->nb);
    inbox_clear(&v->ib);
}

/* Completion counting: each frame must complete exactly once. */
struct txw {
    pthread_mutex_t m;
    pthread_cond_t c;
    int calls, errors, last;
};
static struct txw tw = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0 };

static void tx_done(void *arg, struct netfront_tx *t, int status)
{
    struct txw *w = arg;
    (void)t;
    pthread_mutex_lock(&w->m);
    w->calls++;
    w->last = status;
    if (status)
        w->errors++;
    pthread_cond_broadcast(&w->c);
    pthread_mutex_unlock(&w->m);
}

static int tx_wait(int calls)
{
    pthread_mutex_lock(&tw.m);
    GP_COND_WAIT_WHILE(&tw.c, &tw.m, 5, tw.calls < calls);
    int n = tw.calls;
    pthread_mutex_unlock(&tw.m);
    return n;
}

static void tx_reset(void)
{
    pthread_mutex_lock(&tw.m);
    tw.calls = tw.errors = tw.last = 0;
    pthread_mutex_unlock(&tw.m);
}

static struct netfront_tx tx_make(struct netpkt_frag *frags, unsigned n, uint32_t len)
{
    return (struct netfront_tx){ .frags = frags, .nfrags = n, .len = len, .done = tx_done,
                                 .arg = &tw };
}

static void test_loopback_any_layout_intact(void)
{
    struct vif v;
    vif_open(&v, 0, NULL, (struct netfront_opts){ 0 });
    REQUIRE(v.nf);
    tx_reset();
    static uint8_t frame[40][2000];
    static struct netpkt_frag frags[40][40];
    static struct netfront_tx t[40];
    uint32_t lens[40];
    for (unsigned i = 0; i < 40; i++) {
        uint32_t payload = 20 + i * 37;
        lens[i] = fr_build(frame[i] + 1, 4, 17, payload, i, FR_CSUM_FULL, 0);
        /* layouts: one piece at an odd offset, 1-byte pieces up front, many small */
        unsigned n = 0;
        uint32_t off = 0;
        while (off < lens[i]) {
            uint32_t k = (i % 3 == 0) ? lens[i] : (i % 3 == 1) ? (off < 20 ? 1 : 300) : 9;
            if (k > lens[i] - off)
                k = lens[i] - off;
            frags[i][n].va = frame[i] + 1 + off;
            frags[i][n].len = k;
            off += k;
            n++;
            if (n == 39 && off < lens[i]) {
                frags[i][n].va = frame[i] + 1 + off;
                frags[i][n].len = lens[i] - off + 50;   /* longer than the frame */
                off = lens[i];
                n++;
            }
        }
        t[i] = tx_make(frags[i], n, lens[i]);
        CHECK_EQ(netfront_send(v.nf, &t[i]), 0);
    }
    CHECK_EQ(tx_wait(40), 40);
    CHECK_EQ(tw.errors, 0);
    REQUIRE(inbox_wait(&v.ib, 40) == 40);
    bool same = true;
    for (unsigned i = 0; i < 40; i++)
        same &= v.ib.len[i] == lens[i] && memcmp(v.ib.data[i], frame[i] + 1, lens[i]) == 0;
    CHECK(same);
    usleep(20000);
    CHECK_EQ(tw.calls, 40);                    /* nothing completed twice */
    struct netfront_stats st;
    netfront_get_stats(v.nf, &st);
    CHECK_EQ(st.tx_frames, 40);
    CHECK_EQ(st.rx_frames, 40);
    CHECK_EQ(st.grant_ops, 2 * 256 + 2 + 1);   /* granted once, at connect (+ control ring) */
    struct netfront_tx bad = tx_make(frags[0], 1, 10);
    CHECK_EQ(netfront_send(v.nf, &bad), GP_EINVAL);   /* shorter than Ethernet */
    bad = tx_make(frags[0], 1, lens[0] + 100);
    CHECK_EQ(netfront_send(v.nf, &bad), GP_EINVAL);   /* fragments hold less */
    vif_close(&v);
}

/* Send one frame, wait for what comes back on 'rx'. */
static unsigned send_and_collect(struct vif *tx, struct vif *rx, uint8_t *f, uint32_t len,
                                 unsigned flags, enum netfront_gso gso, uint16_t mss,
                                 unsigned expect)
{
    struct netpkt_frag fr = { f, len };
    struct netfront_tx t = tx_make(&fr, 1, len);
    t.flags = flags;
    t.gso = gso;
    t.mss = mss;
    tx_reset();
    inbox_clear(&rx->ib);
    if (netfront_send(tx->nf, &t) != 0 || tx_wait(1) != 1)
        return 0;
    return inbox_wait(&rx->ib, expect);
}

static void test_checksum_offload_every_way(void)
{
    static uint8_t f[2000], ref[2000];
    struct {
        struct sim_netback_opts bo;
        struct netfront_opts fo;
    } cases[] = {
        { { 0 }, { 0 } },                                  /* blank through to us, we fill */
        { { 0 }, { .no_csum_offload = true } },           /* the backend completes */
        { { .no_csum_offload = true }, { 0 } },           /* we compute before sending */
        { { .no_ipv6_csum = true }, { 0 } },              /* IPv6 in software */
    };
    for (unsigned c = 0; c < 4; c++) {
        struct vif v;
        vif_open(&v, 10 + c, &cases[c].bo, cases[c].fo);
        REQUIRE(v.nf);
        bool all = true;
        for (int ipv = 4; ipv <= 6; ipv += 2)
            for (int proto = 6; proto <= 17; proto += 11)
                for (uint32_t payload = 1; payload < 1460; payload += 487) {
                    uint32_t len = fr_build(f, ipv, proto, payload, payload, FR_CSUM_ZERO, 9);
                    fr_build(ref, ipv, proto, payload, payload, FR_CSUM_FULL, 9);
                    if (send_and_collect(&v, &v, f, len, NETFRONT_TX_CSUM, NETFRONT_GSO_NONE,
                                         0, 1) != 1) {
                        all = false;
                        continue;
                    }
                    all &= v.ib.len[0] == len && memcmp(v.ib.data[0], ref, len) == 0;
                    all &= v.ib.csum[0] == NETFRONT_CSUM_GOOD;
                }
        CHECK(all);
        struct netfront_stats st;
        netfront_get_stats(v.nf, &st);
        struct sim_netback_stats bs;
        sim_netback_get_stats(v.nb, &bs);
        if (c == 0)
            CHECK_EQ(st.rx_csum_filled, 12);
        if (c == 1)
            CHECK_EQ(bs.csum_completed, 12);
        if (c == 2)
            CHECK_EQ(st.tx_sw_csum, 6);         /* IPv4 only: IPv6 offload is separate */
        if (c == 3)
            CHECK_EQ(st.tx_sw_csum, 6);
        vif_close(&v);
    }
}

static bool segments_rebuild(struct inbox *ib, unsigned n, const uint8_t *big, int ipv,
                             uint32_t payload)
{
    uint32_t hl = fr_hdr_len(ipv, 6), got = 0;
    bool ok = true;
    for (unsigned i = 0; i < n; i++) {
        ok &= fr_csum_ok(ib->data[i], ib->len[i], ipv, 6);
        ok &= got + ib->len[i] - hl <= payload &&
              memcmp(ib->data[i] + hl, big + hl + got, ib->len[i] - hl) == 0;
        got += ib->len[i] - hl;
    }
    return ok && got == payload;
}

static void test_gso_through_backend_or_software(void)
{
    uint8_t *big = malloc(70000);
    struct {
        struct sim_netback_opts bo;
        struct netfront_opts fo;
        bool one_gso_frame;
    } cases[] = {
        { { 0 }, { 0 }, true },                          /* GSO frame comes back whole */
        { { 0 }, { .no_gso = true }, false },            /* the backend segments for us */
        { { .no_gso = true }, { 0 }, false },            /* we segment: backend lacks GSO */
        { { .no_sg = true }, { .no_sg = true }, false }, /* no SG: one page at most */
    };
    for (unsigned c = 0; c < 4; c++) {
        struct vif v;
        vif_open(&v, 20 + c, &cases[c].bo, cases[c].fo);
        REQUIRE(v.nf);
        for (int ipv = 4; ipv <= 6; ipv += 2) {
            uint32_t payload = 60000 + (uint32_t)ipv;   /* odd and even lengths */
            uint32_t len = fr_build(big, ipv, 6, payload, 4, FR_CSUM_PSEUDO, 77);
            unsigned segs = (payload + 1447) / 1448;
            unsigned want = cases[c].one_gso_frame ? 1 : segs;
            unsigned got = send_and_collect(&v, &v, big, len, NETFRONT_TX_CSUM,
                                            ipv == 4 ? NETFRONT_GSO_TCPV4 : NETFRONT_GSO_TCPV6,
                                            1448, want);
            CHECK_EQ(got, want);
            CHECK_EQ(tw.errors, 0);
            if (got != want)
                continue;
            if (cases[c].one_gso_frame) {
                CHECK_EQ(v.ib.len[0], len);
                CHECK_EQ(v.ib.gso[0], ipv == 4 ? NETFRONT_GSO_TCPV4 : NETFRONT_GSO_TCPV6);
                CHECK_EQ(v.ib.mss[0], 1448);
                CHECK(fr_csum_ok(v.ib.data[0], len, ipv, 6));
                CHECK(memcmp(v.ib.data[0] + 54 + (ipv == 6 ? 20 : 0), big + 54 + (ipv == 6 ? 20 : 0),
                             payload) == 0);
            } else {
                CHECK(segments_rebuild(&v.ib, got, big, ipv, payload));
            }
        }
        struct netfront_stats st;
        netfront_get_stats(v.nf, &st);
        if (c >= 2)
            CHECK(st.tx_sw_segments > 80);
        else
            CHECK_EQ(st.tx_sw_segments, 0);
        if (c == 3) {
            struct netfront_info in;
            netfront_get_info(v.nf, &in);
            CHECK_EQ(in.max_tx_frame, 4096);
            uint32_t len = fr_build(big, 4, 17, 5000, 1, FR_CSUM_FULL, 0);
            struct netpkt_frag fr = { big, len };
            struct netfront_tx t = tx_make(&fr, 1, len);
            CHECK_EQ(netfront_send(v.nf, &t), GP_EINVAL);   /* too big without SG or GSO */
        }
        vif_close(&v);
    }
    free(big);
}

static void test_rx_checksum_and_malformed_frames(void)
{
    struct vif v;
    vif_open(&v, 30, NULL, (struct netfront_opts){ .rx_verify_csum = true });
    REQUIRE(v.nf);
    static uint8_t f[9000], ref[9000];
    /* blank checksum with garbage in the field, multi-slot, odd lengths */
    unsigned n = 0;
    bool ok = true;
    for (uint32_t payload = 4001; payload < 8200; payload += 1001, n++) {
        uint32_t len = fr_build(f, n & 1 ? 6 : 4, 6, payload, n, FR_CSUM_ZERO, 3);
        fr_build(ref, n & 1 ? 6 : 4, 6, payload, n, FR_CSUM_FULL, 3);
        f[fr_csum_off(n & 1 ? 6 : 4, 6)] = 0xab;
        sim_netback_inject(v.nb, f, len, SIM_NET_CSUM_BLANK, 0, 0);
        ok &= inbox_wait(&v.ib, n + 1) == n + 1 && memcmp(v.ib.data[n], ref, len) == 0 &&
              v.ib.csum[n] == NETFRONT_CSUM_GOOD;
    }
    CHECK(ok);
    /* a bad checksum the backend did not vouch for is reported as bad */
    uint32_t len = fr_build(f, 4, 17, 333, 1, FR_CSUM_FULL, 0);
    f[len - 1] ^= 1;
    sim_netback_inject(v.nb, f, len, 0, 0, 0);
    REQUIRE(inbox_wait(&v.ib, n + 1) == n + 1);
    CHECK_EQ(v.ib.csum[n], NETFRONT_CSUM_BAD);
    n++;
    /* malformed frames with offloads are dropped and counted */
    len = fr_build(f, 4, 6, 100, 1, FR_CSUM_ZERO, 0);
    f[14 + 20 + 12] = 0x30;                               /* TCP header 12 bytes */
    sim_netback_inject(v.nb, f, len, SIM_NET_CSUM_BLANK, 0, 0);
    len = fr_build(f, 4, 6, 100, 1, FR_CSUM_ZERO, 0);
    f[16] = 0xff;                                         /* IP length past the frame */
    sim_netback_inject(v.nb, f, len, SIM_NET_CSUM_BLANK, 1, 1448);
    len = fr_build(f, 4, 17, 100, 1, FR_CSUM_ZERO, 0);
    sim_netback_inject(v.nb, f, len, 0, 1, 1448);         /* "GSO" UDP */
    len = fr_build(f, 4, 6, 100, 1, FR_CSUM_FULL, 0);
    sim_netback_inject(v.nb, f, len, 0, 0, 0);            /* then a good one */
    CHECK_EQ(inbox_wait(&v.ib, n + 1), n + 1);
    CHECK(v.ib.len[n] == len && memcmp(v.ib.data[n], f, len) == 0);
    struct netfront_stats st;
    netfront_get_stats(v.nf, &st);
    CHECK_EQ(st.rx_dropped, 3);
    CHECK(!netfront_is_broken(v.nf));
    vif_close(&v);
}

static void test_bad_rx_responses_drop_the_frame(void)
{
    struct vif v;
    vif_open(&v, 40, NULL, (struct netfront_opts){ 0 });
    REQUIRE(v.nf);
    static uint8_t f[3000];
    enum sim_net_corrupt kinds[] = { SIM_NET_RX_BAD_ID, SIM_NET_RX_BAD_OFFSET, SIM_NET_RX_ERROR,
                                     SIM_NET_RX_BAD_GSO, SIM_NET_RX_TOO_MANY_SLOTS,
                                     SIM_NET_RX_RUNAWAY };
    unsigned good = 0;
    for (unsigned k = 0; k < 6; k++) {
        uint32_t len = fr_build(f, 4, 6, 1400, k, FR_CSUM_FULL, 0);
        sim_netback_corrupt_next(v.nb, kinds[k]);
        sim_netback_inject(v.nb, f, len, 0, kinds[k] == SIM_NET_RX_BAD_GSO ? 1 : 0, 1000);
        usleep(20000);
        sim_netback_inject(v.nb, f, len, 0, 0, 0);        /* the next one gets through */
        good++;
        CHECK_EQ(inbox_wait(&v.ib, good), good);
        CHECK(v.ib.len[good - 1] == len && memcmp(v.ib.data[good - 1], f, len) == 0);
    }
    struct netfront_stats st;
    netfront_get_stats(v.nf, &st);
    CHECK_EQ(st.rx_dropped, 6);
    CHECK(!netfront_is_broken(v.nf));
    /* responses beyond the buffers posted: nothing can be trusted any more */
    uint32_t len = fr_build(f, 4, 6, 100, 1, FR_CSUM_FULL, 0);
    sim_netback_corrupt_next(v.nb, SIM_NET_RX_BEYOND);
    sim_netback_inject(v.nb, f, len, 0, 0, 0);
    GP_WAIT_WHILE(!netfront_is_broken(v.nf));
    CHECK(netfront_is_broken(v.nf));
    struct netpkt_frag fr = { f, len };
    struct netfront_tx t = tx_make(&fr, 1, len);
    CHECK_EQ(netfront_send(v.nf, &t), GP_EIO);
    vif_close(&v);
}

static void test_bad_tx_responses_fail_safely(void)
{
    enum sim_net_corrupt kinds[] = { SIM_NET_TX_BAD_ID, SIM_NET_TX_EXTRA_RESPONSE,
                                     SIM_NET_TX_BAD_STATUS };
    static uint8_t f[1600];
    for (unsigned k = 0; k < 3; k++) {
        struct vif v;
        vif_open(&v, 50 + k, NULL, (struct netfront_opts){ 0 });
        REQUIRE(v.nf);
        tx_reset();
        uint32_t len = fr_build(f, 4, 17, 1000, 1, FR_CSUM_FULL, 0);
        struct netpkt_frag fr = { f, len };
        struct netfront_tx t[8];
        sim_netback_hold_tx(v.nb, true);
        for (int i = 0; i < 8; i++) {
            t[i] = tx_make(&fr, 1, len);
            CHECK_EQ(netfront_send(v.nf, &t[i]), 0);
        }
        usleep(20000);
        sim_netback_corrupt_next(v.nb, kinds[k]);
        sim_netback_hold_tx(v.nb, false);
        CHECK_EQ(tx_wait(8), 8);
        GP_WAIT_WHILE(!netfront_is_broken(v.nf));
        CHECK(netfront_is_broken(v.nf));
        usleep(20000);
        CHECK_EQ(tw.calls, 8);                 /* every frame once, failed or sent */
        vif_close(&v);
    }
}

/* A vif (devid) with 300 frames sent while its backend holds them. */
static void open_with_300_held(struct vif *v, unsigned devid, struct netfront_tx *t,
                               struct netpkt_frag *fr, uint32_t len)
{
    vif_open(v, devid, NULL, (struct netfront_opts){ 0 });
    REQUIRE(v->nf);
    tx_reset();
    sim_netback_hold_tx(v->nb, true);
    for (int i = 0; i < 300; i++) {
        t[i] = tx_make(fr, 1, len);
        CHECK_EQ(netfront_send(v->nf, &t[i]), 0);
    }
}

static void test_shutdown_and_restart_with_frames_on_the_ring(void)
{
    static uint8_t f[1600];
    uint32_t len = fr_build(f, 4, 17, 1000, 1, FR_CSUM_FULL, 0);
    struct netpkt_frag fr = { f, len };
    struct netfront_tx t[300];
    /* Shutdown: frames held on the ring and waiting behind a full ring. */
    struct vif v;
    open_with_300_held(&v, 60, t, &fr, len);
    usleep(20000);
    netfront_destroy(v.nf);
    v.nf = NULL;
    CHECK_EQ(tw.calls, 300);
    sim_netback_destroy(v.nb);
    inbox_clear(&v.ib);
    /* Restart: frames on the ring (the backend may have sent them) complete
     * as failed, never twice on the wire; those waiting go once it is back. */
    open_with_300_held(&v, 61, t, &fr, len);
    CHECK_EQ(inbox_wait(&v.ib, 256), 256);   /* the backend sent what was on the ring */
    sim_netback_restart(v.nb);
    sim_netback_hold_tx(v.nb, false);
    CHECK_EQ(tx_wait(300), 300);
    CHECK_EQ(tw.errors, 256);
    CHECK_EQ(inbox_wait(&v.ib, 300), 300);
    usleep(50000);
    CHECK_EQ(tw.calls, 300);
    CHECK_EQ(v.ib.n, 300);                   /* nothing duplicated */
    /* and the device is usable afterwards */
    tx_reset();
    inbox_clear(&v.ib);
    t[0] = tx_make(&fr, 1, len);
    CHECK_EQ(netfront_send(v.nf, &t[0]), 0);
    CHECK_EQ(tx_wait(1), 1);
    CHECK_EQ(inbox_wait(&v.ib, 1), 1);
    vif_close(&v);
}

/* The backend restarts and the frontend sees only InitWait (its watch read
 * the state once the backend was back): still a loss, still reconnected,
 * and frames go out again. */
static void test_backend_restart_seen_only_as_initwait(void)
{
    static uint8_t f[1600];
    uint32_t len = fr_build(f, 4, 17, 600, 1, FR_CSUM_FULL, 0);
    struct netpkt_frag fr = { f, len };
    struct netfront_tx t[8];
    struct vif v;
    vif_open(&v, 62, NULL, (struct netfront_opts){ 0 });
    REQUIRE(v.nf);
    tx_reset();
    sim_netback_restart_unseen(v.nb);
    struct sim_netback_stats st = { 0 };
    for (int i = 0; i < 1000 && st.connects < 2; i++) {
        usleep(10000);
        sim_netback_get_stats(v.nb, &st);
    }
    CHECK_EQ(st.connects, 2);
    for (int i = 0; i < 8; i++) {
        t[i] = tx_make(&fr, 1, len);
        CHECK_EQ(netfront_send(v.nf, &t[i]), 0);
    }
    CHECK_EQ(tx_wait(8), 8);
    CHECK_EQ(inbox_wait(&v.ib, 8), 8);
    CHECK_EQ(tw.errors, 0);
    vif_close(&v);
}

static void test_multi_queue_split_channels_and_two_frontends(void)
{
    struct vif a, b;
    vif_open(&a, 70, &(struct sim_netback_opts){ .max_queues = 4 }, (struct netfront_opts){ 0 });
    vif_open(&b, 71, NULL, (struct netfront_opts){ .no_gso = true });
    REQUIRE(a.nf && b.nf);
    struct netfront_info in;
    netfront_get_info(a.nf, &in);
    CHECK_EQ(in.queues, 4);
    CHECK(in.split_event_channels);
    sim_netback_link(a.nb, b.nb);
    /* 64 flows from a to b: spread over a's queues, all arrive */
    static uint8_t f[64][200];
    struct netpkt_frag fr[64];
    struct netfront_tx t[64];
    tx_reset();
    for (unsigned i = 0; i < 64; i++) {
        uint32_t len = fr_build(f[i], 4, 17, 100, i, FR_CSUM_FULL, 0);
        f[i][14 + 20 + 1] = (uint8_t)i;       /* source port: one flow each */
        f[i][14 + 20 + 6] = f[i][14 + 20 + 7] = 0;   /* UDP checksum off */
        fr[i] = (struct netpkt_frag){ f[i], len };
        t[i] = tx_make(&fr[i], 1, len);
        CHECK_EQ(netfront_send(a.nf, &t[i]), 0);
    }
    CHECK_EQ(tx_wait(64), 64);
    CHECK_EQ(inbox_wait(&b.ib, 64), 64);
    CHECK_EQ(a.ib.n, 0);
    struct sim_netback_stats sa;
    sim_netback_get_stats(a.nb, &sa);
    CHECK_EQ(sa.tx_frames, 64);
    /* a GSO frame from a reaches b (which takes no GSO) as segments */
    uint8_t *big = malloc(70000);
    uint32_t payload = 30001;
    uint32_t len = fr_build(big, 6, 6, payload, 2, FR_CSUM_PSEUDO, 5);
    unsigned segs = (payload + 1447) / 1448;
    CHECK_EQ(send_and_collect(&a, &b, big, len, NETFRONT_TX_CSUM, NETFRONT_GSO_TCPV6, 1448,
                              segs), segs);
    CHECK(segments_rebuild(&b.ib, segs, big, 6, payload));
    free(big);
    vif_close(&a);
    vif_close(&b);
}

/* A driver instance closes and a new one (reloaded, or restarted with
 * other settings) takes the node the old one left Closed: the backend
 * waits in Closed until the frontend is Initialising again, and must not
 * find the old instance's queues and channels (stale keys) there. */
static void test_new_instance_on_a_closed_node(void)
{
    struct vif v;
    vif_open(&v, 80, &(struct sim_netback_opts){ .max_queues = 4 }, (struct netfront_opts){ 0 });
    REQUIRE(v.nf);
    struct netfront_info in;
    netfront_get_info(v.nf, &in);
    CHECK(in.queues == 4 && in.split_event_channels);
    netfront_destroy(v.nf);
    v.nf = NULL;
    struct netfront_opts fo = { .no_csum_offload = true, .no_gso = true, .max_queues = 1,
                                .no_split_event_channels = true, .rx = inbox_rx,
                                .arg = &v.ib };
    REQUIRE(netfront_create(gp_env.p, gp_env.xs, "device/vif/80", &fo, &v.nf) == 0);
    CHECK_EQ(netfront_connect(v.nf, GP_S(3)), 0);
    static uint8_t f[400];
    uint32_t len = fr_build(f, 4, 17, 300, 3, FR_CSUM_FULL, 0);
    CHECK_EQ(send_and_collect(&v, &v, f, len, 0, NETFRONT_GSO_NONE, 0, 1), 1);
    CHECK(v.ib.n == 1 && v.ib.len[0] == len && memcmp(v.ib.data[0], f, len) == 0);
    /* and back to four queues with split channels */
    netfront_destroy(v.nf);
    fo.max_queues = 0;
    fo.no_split_event_channels = false;
    REQUIRE(netfront_create(gp_env.p, gp_env.xs, "device/vif/80", &fo, &v.nf) == 0);
    CHECK_EQ(netfront_connect(v.nf, GP_S(3)), 0);
    netfront_get_info(v.nf, &in);
    CHECK(in.queues == 4 && in.split_event_channels);
    inbox_clear(&v.ib);
    CHECK_EQ(send_and_collect(&v, &v, f, len, 0, NETFRONT_GSO_NONE, 0, 1), 1);
    vif_close(&v);
}

/* The control ring: requests answered, refusals mapped, responses that
 * answer nothing ignored and counted, an unanswered request timing out,
 * a backend restart, and no control ring where it is not offered. */
static void test_control_ring(void)
{
    struct vif v;
    vif_open(&v, 90, NULL, (struct netfront_opts){ 0 });
    REQUIRE(v.nf);
    struct netfront_info in;
    netfront_get_info(v.nf, &in);
    CHECK(in.ctrl_ring);
    uint32_t d = 0;
    /* like Linux netback: no hash flags until an algorithm is chosen */
    CHECK_EQ(netfront_ctrl_request(v.nf, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, &d,
                                   2000000000ull), GP_ENOTSUP);
    CHECK_EQ(netfront_ctrl_request(v.nf, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
                                   XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0, NULL,
                                   2000000000ull), 0);
    CHECK_EQ(netfront_ctrl_request(v.nf, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, &d,
                                   2000000000ull), 0);
    CHECK_EQ(d, XEN_NETIF_CTRL_HASH_TYPE_IPV4 | XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP |
                    XEN_NETIF_CTRL_HASH_TYPE_IPV6 | XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP);
    CHECK_EQ(netfront_ctrl_request(v.nf, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, 9, 0, 0, NULL,
                                   2000000000ull), GP_EINVAL);
    CHECK_EQ(netfront_ctrl_request(v.nf, XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING, 0, 0, 0, NULL,
                                   2000000000ull), GP_ENOTSUP);
    struct netfront_stats s0, s1;
    netfront_get_stats(v.nf, &s0);
    sim_netback_ctrl_fault(v.nb, SIM_NET_CTRL_BAD_ID);      /* answers another request */
    CHECK_EQ(netfront_ctrl_request(v.nf, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0, &d,
                                   200000000ull), GP_ETIMEDOUT);
    sim_netback_ctrl_fault(v.nb, SIM_NET_CTRL_BAD_TYPE);
    CHECK_EQ(netfront_ctrl_request(v.nf, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0, &d,
                                   200000000ull), GP_ETIMEDOUT);
    sim_netback_ctrl_fault(v.nb, SIM_NET_CTRL_SILENT);
    CHECK_EQ(netfront_ctrl_request(v.nf, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0, &d,
                                   200000000ull), GP_ETIMEDOUT);
    netfront_get_stats(v.nf, &s1);
    CHECK_EQ(s1.bad_responses - s0.bad_responses, 2);
    CHECK(!netfront_is_broken(v.nf));                       /* the data path carries on */
    CHECK_EQ(netfront_ctrl_request(v.nf, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0, &d,
                                   2000000000ull), 0);
    CHECK_EQ(d, 128);
    sim_netback_restart(v.nb);             /* backend goes and comes back: netfront reconnects */
    int rc = GP_ENOTSUP;
    for (int i = 0; i < 500 && rc != 0; i++) {
        rc = netfront_ctrl_request(v.nf, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
                                   XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0, NULL,
                                   2000000000ull);
        if (rc)
            usleep(10000);
    }
    CHECK_EQ(rc, 0);                       /* the control ring is back too */
    vif_close(&v);
    vif_open(&v, 91, &(struct sim_netback_opts){ .no_ctrl_ring = true }, (struct netfront_opts){ 0 });
    REQUIRE(v.nf);
    netfront_get_info(v.nf, &in);
    CHECK(!in.ctrl_ring);
    CHECK_EQ(netfront_ctrl_request(v.nf, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, &d,
                                   2000000000ull), GP_ENOTSUP);
    vif_close(&v);
}

/* Destroyed while a reconnect is on its way (backend restarted a moment
 * before): the reconnect finishes or gives up first, nothing runs on the
 * freed device (ASan and valgrind watch). */
static void test_destroy_while_reconnecting(void)
{
    for (int round = 0; round < 5; round++) {
        struct vif v;
        vif_open(&v, 92, NULL, (struct netfront_opts){ 0 });
        REQUIRE(v.nf);
        sim_netback_restart(v.nb);
        usleep((useconds_t)(round * 2000));
        vif_close(&v);
    }
    usleep(100000);                        /* time for anything left behind to run */
}

/* Frames sent without pause from another thread, so the backend's event
 * handler runs all the time, while the backend restarts again and again.
 * Closing a port waits for its running handler; a backend that closed its
 * ports holding the lock that handler takes hung here (seen once in CI).
 * Every frame completes, once, and nothing hangs (SIGALRM ends a hang). */
enum { FLOOD_SLOTS = 64 };
struct flood {
    struct netfront *nf;
    struct netpkt_frag fr;
    struct netfront_tx t[FLOOD_SLOTS];
    bool busy[FLOOD_SLOTS], stop;
    unsigned sent, done;
};

static void flood_done(void *arg, struct netfront_tx *t, int status)
{
    struct flood *f = arg;
    (void)status;
    __atomic_fetch_add(&f->done, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&f->busy[t - f->t], false, __ATOMIC_RELEASE);
}

static void restart_backend(void *backend)
{
    sim_netback_restart(backend);
}

static void *flood_main(void *arg)
{
    struct flood *f = arg;
    while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
        for (unsigned i = 0; i < FLOOD_SLOTS; i++) {
            if (__atomic_load_n(&f->busy[i], __ATOMIC_ACQUIRE))
                continue;
            f->busy[i] = true;
            f->t[i] = (struct netfront_tx){ .frags = &f->fr, .nfrags = 1, .len = f->fr.len,
                                            .done = flood_done, .arg = f };
            if (netfront_send(f->nf, &f->t[i]) == 0)
                f->sent++;
            else
                f->busy[i] = false;
        }
        usleep(100);
    }
    return NULL;
}

static void test_backend_restarts_under_a_stream_of_events(void)
{
    static uint8_t frame[1600];
    struct vif v;
    vif_open(&v, 93, NULL, (struct netfront_opts){ .max_queues = 1 });
    REQUIRE(v.nf);
    static struct flood f;
    memset(&f, 0, sizeof(f));
    f.nf = v.nf;
    f.fr = (struct netpkt_frag){ frame, fr_build(frame, 4, 17, 200, 1, FR_CSUM_FULL, 0) };
    alarm(120);
    gp_restart_storm(flood_main, &f, &f.stop, restart_backend, v.nb);
    GP_WAIT_WHILE(__atomic_load_n(&f.done, __ATOMIC_SEQ_CST) < f.sent);
    alarm(0);
    CHECK(f.sent > 0);
    CHECK_EQ(__atomic_load_n(&f.done, __ATOMIC_SEQ_CST), f.sent);
    vif_close(&v);
}

/* Ring indices are free-running 32-bit counters (users have seen PV
 * drivers hang after 2^32 I/Os).  Both rings start 512 slots below the
 * wrap (a multiple of the ring size: slots and the rx buffers posted in
 * them keep their places) and 768 looped-back frames, some crossing a
 * page, carry tx and rx across it; every frame arrives intact, once. */
static void test_ring_indices_cross_2_32(void)
{
    struct vif v;
    vif_open(&v, 7, NULL, (struct netfront_opts){ .max_queues = 1 });
    REQUIRE(v.nf);
    const uint32_t delta = 0u - 512u;
    struct netfront_queue *q = &v.nf->q[0];
    gp_os_lock_acquire(gp_env.p, q->tx_lock);
    gp_os_lock_acquire(gp_env.p, q->rx_lock);
    sim_netback_shift_ring_indices(v.nb, delta);
    q->tx.req_prod_pvt += delta;
    q->tx.rsp_cons += delta;
    q->rx.req_prod_pvt += delta;
    q->rx.rsp_cons += delta;
    gp_os_lock_release(gp_env.p, q->rx_lock);
    gp_os_lock_release(gp_env.p, q->tx_lock);
    enum { N = 64, ROUNDS = 12 };
    static uint8_t frame[N][2 * 4096];
    static struct netpkt_frag frags[N];
    static struct netfront_tx t[N];
    uint32_t lens[N];
    unsigned sent = 0, arrived = 0, same = 0;
    for (unsigned round = 0; round < ROUNDS && arrived == sent; round++) {
        tx_reset();
        inbox_clear(&v.ib);
        for (unsigned i = 0; i < N; i++) {
            unsigned k = round * N + i;
            uint32_t off = (k % 5 == 0) ? 4096 - 700 : 1 + k % 300;   /* some cross a page */
            lens[i] = fr_build(frame[i] + off, 4, 17, 18 + (k * 97) % 1450, k, FR_CSUM_FULL, 0);
            frags[i] = (struct netpkt_frag){ frame[i] + off, lens[i] };
            t[i] = tx_make(&frags[i], 1, lens[i]);
            if (netfront_send(v.nf, &t[i]) == 0)
                sent++;
        }
        tx_wait(N);
        unsigned got = inbox_wait(&v.ib, N);
        arrived += got;
        for (unsigned i = 0; i < got && i < N; i++)
            same += v.ib.len[i] == lens[i] && memcmp(v.ib.data[i], frags[i].va, lens[i]) == 0;
    }
    usleep(20000);
    CHECK_EQ(sent, N * ROUNDS);
    CHECK_EQ(arrived, N * ROUNDS);
    CHECK_EQ(same, N * ROUNDS);
    CHECK_EQ(tw.calls, N);                     /* the last round's, each once */
    CHECK_EQ(tw.errors, 0);
    struct netfront_stats st;
    netfront_get_stats(v.nf, &st);
    CHECK_EQ(st.rx_dropped, 0);
    CHECK_EQ(st.bad_responses, 0);
    CHECK(q->tx.req_prod_pvt < 0x10000u);       /* both rings went across */
    CHECK(q->rx.rsp_cons < 0x10000u);
    vif_close(&v);
}

static void run_tests(void)
{
    GP_TEST_RUN(test_loopback_any_layout_intact);
    GP_TEST_RUN(test_checksum_offload_every_way);
    GP_TEST_RUN(test_gso_through_backend_or_software);
    GP_TEST_RUN(test_rx_checksum_and_malformed_frames);
    GP_TEST_RUN(test_bad_rx_responses_drop_the_frame);
    GP_TEST_RUN(test_bad_tx_responses_fail_safely);
    GP_TEST_RUN(test_shutdown_and_restart_with_frames_on_the_ring);
    GP_TEST_RUN(test_multi_queue_split_channels_and_two_frontends);
    GP_TEST_RUN(test_new_instance_on_a_closed_node);
    GP_TEST_RUN(test_control_ring);
    GP_TEST_RUN(test_backend_restart_seen_only_as_initwait);
    GP_TEST_RUN(test_destroy_while_reconnecting);
    GP_TEST_RUN(test_backend_restarts_under_a_stream_of_events);
    GP_TEST_RUN(test_ring_indices_cross_2_32);
}

int main(void)
{
    return gp_sim_env_main(16384, run_tests);
}
