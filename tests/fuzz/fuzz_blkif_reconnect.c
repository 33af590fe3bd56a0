/* libFuzzer target: a block backend that comes back different.  One
 * simulated Xen (dom0 with sim_blkback, a guest running blkfront) serves
 * every input.  The input chooses the first backend's geometry, a batch
 * of requests held in flight, then up to four restarts, each with a new
 * ring order, queue count, indirect and persistent offer, what the
 * backend's xenstore nodes say (numbers of any size, or not numbers at
 * all), whether the old instance keeps its grant mappings, whether the
 * restart is seen, and whether answers are released in between.
 * Whatever the input: no crash, no access outside our buffers (ASan),
 * every request completes exactly once, and a write that succeeded is on
 * the disk. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blkif/blkfront_internal.h"
#include "blkback/sim_blkback.h"
#include "gplpv/blkfront.h"
#include "os/sim_os.h"
#include "sim.h"

static struct sim_xen *fz_x;
static struct sim_domain *fz_d0, *fz_g;
static const struct gp_platform *fz_p;
static struct xs_client *fz_xs;

enum { FZ_REQS = 12, FZ_SECTORS = 4096 };
static const uint32_t fz_sizes[8] = { 1, 8, 15, 16, 96, 128, 200, 256 };

struct fz_in {
    const uint8_t *d;
    size_t n, off;
};

static uint8_t fz_byte(struct fz_in *in)
{
    return in->off < in->n ? in->d[in->off++] : 0;
}

static uint64_t fz_u64(struct fz_in *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | fz_byte(in);
    return v;
}

static int fz_calls[FZ_REQS], fz_status[FZ_REQS];
static void fz_done(void *arg, struct blkfront_req *r, int status)
{
    (void)r;
    intptr_t i = (intptr_t)arg;
    __atomic_fetch_add(&fz_calls[i], 1, __ATOMIC_SEQ_CST);
    fz_status[i] = status;
}

static void fz_init(void)
{
    fz_x = sim_xen_create(&(struct sim_xen_opts){ .quiet = true });
    fz_d0 = sim_domain_create(fz_x, 0, 512);
    fz_g = sim_domain_create_ex(fz_x, 1, &(struct sim_domain_opts){ .max_pages = 16384 });
    if (!fz_x || !fz_d0 || !fz_g)
        abort();
    fz_p = sim_domain_platform(fz_g);
    bool quiet = !getenv("FZ_VERBOSE");     /* FZ_VERBOSE=1: the guest's log on stderr */
    sim_os_set_quiet(sim_domain_os(fz_g), quiet);
    sim_os_set_quiet(sim_domain_os(fz_d0), quiet);
    if (xs_client_create(fz_p, NULL, &fz_xs) != 0)
        abort();
}

/* A value for one of the backend's geometry nodes: a number of any size,
 * or (rarely) something that is not a number. */
static void fz_raw_value(struct fz_in *in, char *buf, size_t len)
{
    uint8_t how = fz_byte(in);
    uint64_t v = fz_u64(in);
    if (how % 16 == 15)
        snprintf(buf, len, "%c%llx", "x- 0"[how / 16 % 4], (unsigned long long)v);
    else if (how % 4 == 0)
        snprintf(buf, len, "%llu", (unsigned long long)v);
    else
        snprintf(buf, len, "%llu", (unsigned long long)(v % 300));
}

static void fz_geometry(struct fz_in *in, struct sim_blkback_opts *o, const char **raw,
                        char vals[3][32])
{
    uint8_t a = fz_byte(in), b = fz_byte(in);
    *o = (struct sim_blkback_opts){ .sectors = FZ_SECTORS,
                                    .max_ring_order = a % 3,
                                    .max_queues = 1u + (a / 3) % 4,
                                    .max_indirect = b % 4 == 0 ? 0 : (b % 4 == 1 ? 16 : 256),
                                    .no_persistent = b & 4 };
    static const char *const keys[3] = { "max-ring-page-order", "multi-queue-max-queues",
                                         "feature-max-indirect-segments" };
    unsigned n = 0;
    for (unsigned k = 0; k < 3; k++) {
        if (!(b & (8u << k)))
            continue;
        fz_raw_value(in, vals[k], 32);
        raw[n++] = keys[k];
        raw[n++] = vals[k];
    }
    raw[n] = NULL;
    o->raw_nodes = n ? raw : NULL;
}

/* Until blkfront is connected, or the backend refused the connection
 * (Closing or Closed after a restart that ended in InitWait). */
static bool fz_wait_connected(struct blkfront *bf, unsigned ms)
{
    for (unsigned i = 0; i < ms; i++) {
        gp_os_lock_acquire(fz_p, bf->lock);
        bool up = bf->connected;
        gp_os_lock_release(fz_p, bf->lock);
        if (up)
            return true;
        long long st = 0;
        if (i > 2 && xs_read_int(fz_xs, XS_TXN_NONE, "/local/domain/0/backend/vbd/1/51712/state",
                                 &st) == 0 && (st == XenbusStateClosing || st == XenbusStateClosed))
            return false;
        usleep(1000);
    }
    return false;
}

static bool fz_all_done(unsigned nreq)
{
    for (unsigned i = 0; i < nreq; i++)
        if (!__atomic_load_n(&fz_calls[i], __ATOMIC_SEQ_CST))
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz_x)
        fz_init();
    struct fz_in in = { data, size, 0 };
    const char *raw[7];
    char vals[3][32];
    struct sim_blkback_opts o;
    fz_geometry(&in, &o, raw, vals);
    o.raw_nodes = NULL;                       /* the first backend connects */
    struct sim_blkback *bb = sim_blkback_create(fz_x, fz_d0, 1, 51712, &o);
    struct blkfront *bf = NULL;
    if (!bb)
        abort();
    if (blkfront_create(fz_p, fz_xs, "device/vbd/51712", NULL, &bf) != 0 ||
        blkfront_connect(bf, GP_S(2)) != 0) {
        blkfront_destroy(bf);
        sim_blkback_destroy(bb);
        return 0;
    }
    static uint8_t buf[FZ_REQS][256 * 512];
    static struct blkfront_sg sg[FZ_REQS];
    static struct blkfront_req req[FZ_REQS];
    unsigned nreq = 1 + fz_byte(&in) % FZ_REQS;
    memset(fz_calls, 0, sizeof(fz_calls));
    sim_blkback_hold(bb, true);
    for (unsigned i = 0; i < nreq; i++) {
        uint8_t k = fz_byte(&in);
        uint32_t n = fz_sizes[k % 8];
        bool write = k & 8;
        memset(buf[i], (int)(0x11 * (i + 1)), n * 512);
        sg[i] = (struct blkfront_sg){ buf[i], n * 512 };
        req[i] = (struct blkfront_req){ .op = write ? BLKFRONT_WRITE : BLKFRONT_READ,
                                        .sector = i * 256ull, .nr_sectors = n, .sg = &sg[i],
                                        .nsg = 1, .done = fz_done, .arg = (void *)(intptr_t)i };
        if (k % 32 == 31)
            req[i] = (struct blkfront_req){ .op = BLKFRONT_FLUSH, .done = fz_done,
                                            .arg = (void *)(intptr_t)i };
        if (blkfront_submit(bf, &req[i]) != 0)
            fz_calls[i]++;                    /* refused at once: its completion */
    }
    unsigned rounds = fz_byte(&in) % 5;
    bool kept = false;
    for (unsigned r = 0; r < rounds; r++) {
        fz_geometry(&in, &o, raw, vals);
        uint8_t f = fz_byte(&in);
        unsigned flags = (f & 1 ? SIM_BLK_RESTART_UNSEEN : 0) |
                         (f & 2 ? SIM_BLK_RESTART_KEEP_MAPS : 0);
        kept |= f & 2;
        sim_blkback_restart_with(bb, &o, flags);
        if (f & 4)
            sim_blkback_hold(bb, false);      /* some answers come between restarts */
        fz_wait_connected(bf, 100);
        if (f & 4)
            sim_blkback_hold(bb, true);
    }
    sim_blkback_hold(bb, false);
    if (fz_wait_connected(bf, 150))
        for (unsigned i = 0; i < 500 && !fz_all_done(nreq); i++)
            usleep(1000);
    if (kept)
        sim_blkback_release_kept(bb);         /* or destroy waits a second for them */
    blkfront_destroy(bf);
    for (unsigned i = 0; i < nreq; i++) {
        if (__atomic_load_n(&fz_calls[i], __ATOMIC_SEQ_CST) != 1) {
            fprintf(stderr, "request %u completed %d times\n", i, fz_calls[i]);
            abort();
        }
        if (req[i].op == BLKFRONT_WRITE && fz_status[i] == 0 &&
            memcmp(sim_blkback_disk(bb) + req[i].sector * 512, buf[i],
                   req[i].nr_sectors * 512) != 0) {
            fprintf(stderr, "write %u succeeded but the disk differs\n", i);
            abort();
        }
    }
    sim_blkback_destroy(bb);
    return 0;
}
