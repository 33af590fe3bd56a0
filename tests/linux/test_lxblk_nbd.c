/* gplpv-blk's NBD server (linux/blk/lxblk_nbd.c) over blkfront and the
 * simulated blkback: this test plays the kernel's nbd driver on the other
 * end of a socket pair.  Data integrity, many requests in flight answered
 * in any order with their handles, flush, trim, refusals that keep the
 * stream going, disconnect, and a broken stream. */
#include <arpa/inet.h>
#include <endian.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/nbd.h>

#include "../../linux/blk/lxblk.h"
#include "../../linux/common/lxio.h"
#include "blkback/sim_blkback.h"
#include "gp_sim_env.h"
#include "gp_test.h"

struct rig {
    struct sim_blkback *bb;
    struct lxblk b;
    int k;                        /* the "kernel" end */
    pthread_t server;
    int rc;
};

static void *serve(void *arg)
{
    struct rig *r = arg;
    r->rc = lxblk_nbd_serve(&r->b);
    return NULL;
}

static bool rig_open(struct rig *r, unsigned devid, const struct sim_blkback_opts *bo)
{
    memset(r, 0, sizeof(*r));
    r->bb = sim_blkback_create(gp_env.x, gp_env.d0, 1, devid, bo);
    char node[64];
    snprintf(node, sizeof(node), "device/vbd/%u", devid);
    if (!r->bb || blkfront_create(gp_env.p, gp_env.xs, node, NULL, &r->b.bf) != 0 ||
        blkfront_connect(r->b.bf, GP_S(5)) != 0)
        return false;
    blkfront_get_info(r->b.bf, &r->b.info);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return false;
    r->b.plat = gp_env.p;
    r->b.sock = sv[0];
    r->k = sv[1];
    pthread_mutex_init(&r->b.lock, NULL);
    pthread_mutex_init(&r->b.tx_lock, NULL);
    pthread_cond_init(&r->b.drained, NULL);
    return pthread_create(&r->server, NULL, serve, r) == 0;
}

/* Our end closed, the server joined (unless it was already), and the
 * rig taken down. */
static void rig_end(struct rig *r, bool joined)
{
    close(r->k);
    if (!joined)
        pthread_join(r->server, NULL);
    close(r->b.sock);
    blkfront_destroy(r->b.bf);
    sim_blkback_destroy(r->bb);
}

static void put_req(struct rig *r, uint32_t type, uint64_t handle, uint64_t from, uint32_t len,
                    const void *data)
{
    unsigned char q[28];
    uint32_t v = htonl(NBD_REQUEST_MAGIC);
    memcpy(q, &v, 4);
    v = htonl(type);
    memcpy(q + 4, &v, 4);
    memcpy(q + 8, &handle, 8);
    uint64_t f = htobe64(from);
    memcpy(q + 16, &f, 8);
    v = htonl(len);
    memcpy(q + 24, &v, 4);
    CHECK(write(r->k, q, sizeof(q)) == (ssize_t)sizeof(q));
    if (data && len)
        CHECK(write(r->k, data, len) == (ssize_t)len);
}

static bool read_full(int fd, void *buf, size_t len)
{
    return lxio_full(fd, buf, len, false) == 0;
}

/* One reply: its error and handle; data (len bytes) follows for reads. */
static bool get_reply(struct rig *r, uint32_t *error, uint64_t *handle)
{
    uint32_t h[4];
    if (!read_full(r->k, h, sizeof(h)))
        return false;
    CHECK_EQ(ntohl(h[0]), NBD_REPLY_MAGIC);
    *error = ntohl(h[1]);
    memcpy(handle, &h[2], 8);
    return true;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

static void test_write_read_flush_trim(void)
{
    struct rig r;
    REQUIRE(rig_open(&r, 768, &(struct sim_blkback_opts){ .indirect = true }));
    CHECK(lxblk_nbd_flags(&r.b.info) & NBD_FLAG_SEND_FLUSH);
    CHECK(lxblk_nbd_flags(&r.b.info) & NBD_FLAG_SEND_TRIM);
    static uint8_t w[300 * 1024], rd[300 * 1024];
    fill(w, sizeof(w), 5);
    uint32_t err;
    uint64_t h;
    put_req(&r, NBD_CMD_WRITE, 0x1111, 4096, sizeof(w), w);
    REQUIRE(get_reply(&r, &err, &h));
    CHECK_EQ(err, 0);
    CHECK_EQ(h, 0x1111);
    CHECK(memcmp(sim_blkback_disk(r.bb) + 4096, w, sizeof(w)) == 0);
    put_req(&r, NBD_CMD_READ, 0x2222, 4096, sizeof(rd), NULL);
    REQUIRE(get_reply(&r, &err, &h));
    CHECK_EQ(err, 0);
    CHECK_EQ(h, 0x2222);
    REQUIRE(read_full(r.k, rd, sizeof(rd)));
    CHECK(memcmp(rd, w, sizeof(w)) == 0);
    put_req(&r, NBD_CMD_FLUSH, 0x3333, 0, 0, NULL);
    REQUIRE(get_reply(&r, &err, &h));
    CHECK_EQ(err, 0);
    CHECK_EQ(h, 0x3333);
    put_req(&r, NBD_CMD_TRIM, 0x4444, 4096, 8192, NULL);
    REQUIRE(get_reply(&r, &err, &h));
    CHECK_EQ(err, 0);
    CHECK_EQ(sim_blkback_disk(r.bb)[4096], 0);
    CHECK_EQ(sim_blkback_disk(r.bb)[4096 + 8192], w[8192]);
    struct sim_blkback_stats st;
    sim_blkback_get_stats(r.bb, &st);
    CHECK_EQ(st.flushes, 1);
    CHECK_EQ(st.discards, 1);
    CHECK_EQ(atomic_load(&r.b.c.reads), 1);
    CHECK_EQ(atomic_load(&r.b.c.writes), 1);
    put_req(&r, NBD_CMD_DISC, 0x5555, 0, 0, NULL);
    pthread_join(r.server, NULL);
    CHECK_EQ(r.rc, 0);
    r.server = pthread_self();          /* joined */
    rig_end(&r, true);
}

static void test_many_in_flight_any_order(void)
{
    struct rig r;
    REQUIRE(rig_open(&r, 769, &(struct sim_blkback_opts){ .indirect = true, .sectors = 16384 }));
    sim_blkback_set_faults(r.bb, 0, 200, true);       /* delayed, reordered */
    enum { N = 64, SZ = 8192 };
    static uint8_t bufs[N][SZ];
    for (unsigned i = 0; i < N; i++) {
        fill(bufs[i], SZ, 100 + i);
        put_req(&r, NBD_CMD_WRITE, 1000 + i, (uint64_t)i * SZ, SZ, bufs[i]);
    }
    unsigned seen[N] = { 0 }, errors = 0;
    for (unsigned k = 0; k < N; k++) {
        uint32_t err;
        uint64_t h;
        REQUIRE(get_reply(&r, &err, &h));
        errors += err != 0;
        if (h >= 1000 && h < 1000 + N)
            seen[h - 1000]++;
    }
    CHECK_EQ(errors, 0);
    for (unsigned i = 0; i < N; i++) {
        CHECK_EQ(seen[i], 1);
        CHECK(memcmp(sim_blkback_disk(r.bb) + (size_t)i * SZ, bufs[i], SZ) == 0);
    }
    /* Reads in flight together, each answered with its own data. */
    for (unsigned i = 0; i < 8; i++)
        put_req(&r, NBD_CMD_READ, 2000 + i, (uint64_t)i * SZ, SZ, NULL);
    static uint8_t rd[SZ];
    for (unsigned k = 0; k < 8; k++) {
        uint32_t err;
        uint64_t h;
        REQUIRE(get_reply(&r, &err, &h));
        CHECK_EQ(err, 0);
        REQUIRE(h >= 2000 && h < 2008);
        REQUIRE(read_full(r.k, rd, SZ));
        CHECK(memcmp(rd, bufs[h - 2000], SZ) == 0);
    }
    sim_blkback_set_faults(r.bb, 0, 0, false);
    rig_end(&r, false);
}

static void test_refusals_keep_the_stream(void)
{
    struct rig r;
    REQUIRE(rig_open(&r, 770, &(struct sim_blkback_opts){ .no_discard = true }));
    CHECK(!(lxblk_nbd_flags(&r.b.info) & NBD_FLAG_SEND_TRIM));
    uint32_t err;
    uint64_t h;
    static uint8_t w[1024];
    put_req(&r, NBD_CMD_WRITE, 1, 100, 512, w);                       /* unaligned */
    REQUIRE(get_reply(&r, &err, &h));
    CHECK_EQ(err, 22);
    put_req(&r, NBD_CMD_READ, 2, 8192ull * 512, 512, NULL);           /* past the end */
    REQUIRE(get_reply(&r, &err, &h));
    CHECK_EQ(err, 22);
    CHECK_EQ(h, 2);
    put_req(&r, NBD_CMD_TRIM, 3, 0, 4096, NULL);                      /* not offered */
    REQUIRE(get_reply(&r, &err, &h));
    CHECK_EQ(err, 95);
    put_req(&r, 77, 4, 0, 0, NULL);                                   /* unknown command */
    REQUIRE(get_reply(&r, &err, &h));
    CHECK_EQ(err, 22);
    CHECK_EQ(h, 4);
    fill(w, 1024, 9);
    put_req(&r, NBD_CMD_WRITE, 5, 1024, 1024, w);                     /* still served */
    REQUIRE(get_reply(&r, &err, &h));
    CHECK_EQ(err, 0);
    CHECK_EQ(h, 5);
    CHECK(memcmp(sim_blkback_disk(r.bb) + 1024, w, 1024) == 0);
    CHECK_EQ(atomic_load(&r.b.c.refused), 4);
    rig_end(&r, false);
}

static void test_bad_magic_ends_the_stream(void)
{
    struct rig r;
    REQUIRE(rig_open(&r, 771, NULL));
    unsigned char junk[28];
    memset(junk, 0x41, sizeof(junk));
    CHECK(write(r.k, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
    pthread_join(r.server, NULL);
    CHECK_EQ(r.rc, GP_EPROTO);
    rig_end(&r, true);
}

static void test_oversized_write_ends_the_stream(void)
{
    struct rig r;
    REQUIRE(rig_open(&r, 772, NULL));
    /* Past the end and larger than the kernel ever sends: the payload
     * cannot be skipped safely, the stream ends. */
    put_req(&r, NBD_CMD_WRITE, 9, 0, 64u << 20, NULL);
    pthread_join(r.server, NULL);
    CHECK_EQ(r.rc, GP_EPROTO);
    rig_end(&r, true);
}

static void run_tests(void)
{
    GP_TEST_RUN(test_write_read_flush_trim);
    GP_TEST_RUN(test_many_in_flight_any_order);
    GP_TEST_RUN(test_refusals_keep_the_stream);
    GP_TEST_RUN(test_bad_magic_ends_the_stream);
    GP_TEST_RUN(test_oversized_write_ends_the_stream);
}

int main(void)
{
    return gp_sim_env_main(16384, run_tests);
}
