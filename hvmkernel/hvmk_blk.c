/* hvmkernel: the core's blkfront against the real blkback in dom0 — the
 * data path xenvbd runs on Windows.  Pattern write and read-back across
 * sizes (up to 1 MiB, so indirect requests when offered), flush, discard;
 * SCSI commands through scsi_disk_submit, the call xenvbd makes per SRB. */
#include <string.h>

#include "gplpv/blkfront.h"
#include "gplpv/blkfront_dump.h"
#include "gplpv/log.h"
#include "gplpv/scsi_disk.h"
#include "hvmk.h"
#include "hvmk_platform.h"
#include "hvmk_steps.h"

struct hvmk_io {
    volatile int done;
    volatile int status;
};

static void hvmk_io_done(void *arg, struct blkfront_req *r, int status)
{
    struct hvmk_io *w = arg;
    (void)r;
    w->status = status;
    __atomic_add_fetch(&w->done, 1, __ATOMIC_SEQ_CST);
}

static int hvmk_blk_io(struct blkfront *bf, enum blkfront_op op, uint64_t sector, uint32_t n,
                       void *buf, uint32_t len)
{
    struct hvmk_io w = { 0, 0 };
    struct blkfront_sg sg = { buf, len };
    struct blkfront_req r = { .op = op, .sector = sector, .nr_sectors = n,
                              .sg = buf ? &sg : NULL, .nsg = buf ? 1 : 0,
                              .done = hvmk_io_done, .arg = &w };
    int err = blkfront_submit(bf, &r);
    if (err)
        return err;
    uint64_t deadline = hvmk_now_ns() + 10000000000ull;
    while (!w.done && hvmk_now_ns() < deadline) {
        hvmk_platform_poll();
        hvmk_idle();
    }
    return w.done == 1 ? w.status : GP_ETIMEDOUT;
}

static void hvmk_pattern(uint8_t *p, uint32_t len, unsigned seed)
{
    for (uint32_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seed * 31 + i * 13 + (i >> 9));
}

/* One SCSI command as xenvbd issues an SRB: one scsi_disk_submit, one
 * completion.  The command is static: one that never completes stays the
 * core's, and no other is issued after it. */
struct hvmk_scsi_wait {
    struct scsi_disk_cmd c;
    volatile int done;
};
static struct hvmk_scsi_wait hvmk_scsi;

static void hvmk_scsi_done(void *arg, struct scsi_disk_cmd *c)
{
    struct hvmk_scsi_wait *w = arg;
    (void)c;
    __atomic_add_fetch(&w->done, 1, __ATOMIC_SEQ_CST);
}

/* 0 when the command completed once with GOOD, else why not. */
static int hvmk_scsi_run(struct blkfront *bf, const struct scsi_disk *d, const uint8_t *cdb,
                         void *data, uint32_t len)
{
    struct hvmk_scsi_wait *w = &hvmk_scsi;
    memset(w, 0, sizeof(*w));
    w->c.cdb = cdb;
    w->c.cdb_len = 10;
    w->c.data = data;
    w->c.data_len = len;
    w->c.done = hvmk_scsi_done;
    w->c.arg = w;
    scsi_disk_submit(d, bf, &w->c);
    uint64_t deadline = hvmk_now_ns() + 10000000000ull;
    while (!w->done && hvmk_now_ns() < deadline) {
        hvmk_platform_poll();
        hvmk_idle();
    }
    if (w->done != 1)
        return w->done ? GP_EPROTO : GP_ETIMEDOUT;      /* twice, or never */
    if (w->c.status)
        return w->c.status;
    return w->c.result.status == SCSI_STATUS_GOOD ? 0 : GP_EIO;
}

static void hvmk_cdb10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t blocks)
{
    memset(cdb, 0, 10);
    cdb[0] = op;
    for (int i = 0; i < 4; i++)
        cdb[2 + i] = (uint8_t)(lba >> (24 - 8 * i));
    cdb[7] = (uint8_t)(blocks >> 8);
    cdb[8] = (uint8_t)blocks;
}

static uint32_t hvmk_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* READ CAPACITY (10), WRITE (10) and READ (10) through scsi_disk_submit on
 * the real blkback, each checked against what blkfront says or reads
 * directly: 64 KiB at sector 24576 (no other step uses it). */
static void hvmk_step_scsi(struct blkfront *bf, const struct blkfront_info *info, uint8_t *w,
                           uint8_t *r)
{
    char why[200];
    if (!w || !r) {
        hvmk_step_result("blkfront-scsi-commands", false, "no memory");
        return;
    }
    struct scsi_disk d;
    scsi_disk_init(&d, info, 0);
    const uint64_t sector = 24576;
    const uint32_t bytes = 65536, ss = d.info.sector_size;
    const uint32_t lba = (uint32_t)(sector / (ss / 512));
    uint8_t cdb[10], cap[8];
    hvmk_cdb10(cdb, 0x25, 0, 0);
    int ec = hvmk_scsi_run(bf, &d, cdb, cap, sizeof(cap));
    uint64_t last = d.info.sectors ? d.info.sectors - 1 : 0;
    bool cap_ok = !ec && hvmk_be32(cap) == (last > 0xffffffffull ? 0xffffffffu : (uint32_t)last) &&
                  hvmk_be32(cap + 4) == ss;
    /* WRITE (10), then blkfront reads the sectors directly */
    hvmk_pattern(w, bytes, 21);
    memset(r, 0, bytes);
    hvmk_cdb10(cdb, 0x2a, lba, (uint16_t)(bytes / ss));
    int ew = ec ? ec : hvmk_scsi_run(bf, &d, cdb, w, bytes);
    int er = ew ? ew : hvmk_blk_io(bf, BLKFRONT_READ, sector, bytes / 512, r, bytes);
    bool wsame = !ew && !er && !memcmp(w, r, bytes);
    /* blkfront writes other data directly, then READ (10) */
    hvmk_pattern(w, bytes, 22);
    memset(r, 0, bytes);
    int ew2 = er ? er : hvmk_blk_io(bf, BLKFRONT_WRITE, sector, bytes / 512, w, bytes);
    hvmk_cdb10(cdb, 0x28, lba, (uint16_t)(bytes / ss));
    int er2 = ew2 ? ew2 : hvmk_scsi_run(bf, &d, cdb, r, bytes);
    bool rsame = !ew2 && !er2 && !memcmp(w, r, bytes);
    gp_snprintf(why, sizeof(why), "READ CAPACITY(10) %s (%s, %u-byte blocks), WRITE(10) %s: "
                "blkfront read %s (%s); blkfront write %s: READ(10) %s (%s)", gp_strerror(ec),
                cap_ok ? "as blkfront says" : "differs", ss, gp_strerror(ew), gp_strerror(er),
                wsame ? "identical" : "differs", gp_strerror(ew2), gp_strerror(er2),
                rsame ? "identical" : "differs");
    hvmk_printf("hvmk: blkfront: scsi_disk_submit: %s\n", why);
    hvmk_step_result("blkfront-scsi-commands", cap_ok && wsame && rsame, why);
}

struct blkfront *hvmk_step_blkfront(struct gp_platform *plat, struct xs_client *xs)
{
    char **ids = NULL;
    unsigned n = 0;
    char why[160];
    if (xs_directory(xs, XS_TXN_NONE, "device/vbd", &ids, &n) != 0 || n == 0) {
        hvmk_step_result("blkfront-connect", false, "no device/vbd in xenstore");
        return NULL;
    }
    /* The first writable disk (the CD we booted from is a vbd too). */
    char node[64];
    struct blkfront *bf = NULL;
    struct blkfront_info info = { 0 };
    int err = GP_ENODEV;
    for (unsigned i = 0; i < n; i++) {
        gp_snprintf(node, sizeof(node), "device/vbd/%s", ids[i]);
        err = blkfront_create(plat, xs, node, NULL, &bf);
        if (!err)
            err = blkfront_connect(bf, GP_S(20));
        if (!err)
            blkfront_get_info(bf, &info);
        if (!err && !info.readonly && !info.cdrom)
            break;
        if (bf)
            blkfront_destroy(bf);
        bf = NULL;
        if (!err)
            err = GP_ENODEV;
    }
    xs_free(xs, ids);
    gp_snprintf(why, sizeof(why), "%s: %s, %llu sectors of %u, ring %u page(s), indirect %u, "
                "persistent %d, flush %d, discard %d", node, gp_strerror(err),
                (unsigned long long)info.sectors, info.sector_size, info.ring_pages,
                info.max_indirect_segments, info.persistent, info.flush, info.discard);
    hvmk_printf("hvmk: blkfront: %s\n", why);
    hvmk_step_result("blkfront-connect", err == 0, why);
    if (err) {
        if (bf)
            blkfront_destroy(bf);
        return NULL;
    }
    uint32_t len = 1u << 20;
    uint8_t *wbuf = hvmk_malloc(len + 64), *rbuf = hvmk_malloc(len + 64);
    bool ok = wbuf && rbuf;
    unsigned sizes[] = { 512, 4096, 65536, 1u << 20 };
    for (unsigned k = 0; ok && k < 4; k++) {
        uint32_t sz = sizes[k];
        uint8_t *w = wbuf + 5, *r = rbuf + 3;    /* buffers at odd offsets */
        hvmk_pattern(w, sz, k + 1);
        memset(r, 0, sz);
        uint64_t sector = 2048 + (uint64_t)k * 4096;
        int e1 = hvmk_blk_io(bf, BLKFRONT_WRITE, sector, sz / 512, w, sz);
        int e2 = hvmk_blk_io(bf, BLKFRONT_READ, sector, sz / 512, r, sz);
        if (e1 || e2 || memcmp(w, r, sz) != 0) {
            gp_snprintf(why, sizeof(why), "%u bytes at sector %llu: write %s, read %s, data %s",
                        sz, (unsigned long long)sector, gp_strerror(e1), gp_strerror(e2),
                        memcmp(w, r, sz) ? "differs" : "ok");
            ok = false;
        }
    }
    if (ok)
        gp_snprintf(why, sizeof(why), "512 B .. 1 MiB written and read back identical");
    hvmk_step_result("blkfront-write-read-verify", ok, why);
    err = hvmk_blk_io(bf, BLKFRONT_FLUSH, 0, 0, NULL, 0);
    hvmk_step_result("blkfront-flush", err == 0, gp_strerror(err));
    if (info.discard) {
        err = hvmk_blk_io(bf, BLKFRONT_DISCARD, 2048, 8, NULL, 0);
        hvmk_step_result("blkfront-discard", err == 0, gp_strerror(err));
    } else {
        hvmk_printf("hvmk: blkfront: backend offers no discard\n");
    }
    hvmk_step_scsi(bf, &info, wbuf, rbuf);
    err = blkfront_dump_enable(bf);
    ok = !err && hvmk_blk_dump_check(bf, 30000, 7, true, why, sizeof(why));
    if (err)
        gp_snprintf(why, sizeof(why), "blkfront_dump_enable: %s", gp_strerror(err));
    hvmk_printf("hvmk: blkfront: dump path: %s\n", why);
    hvmk_step_result("blkfront-dump-path-interrupts-off", ok, why);
    struct blkfront_stats st;
    blkfront_get_stats(bf, &st);
    hvmk_printf("hvmk: blkfront: %llu requests, %llu ring requests, %llu notifications, "
                "%llu grant ops\n", (unsigned long long)st.requests,
                (unsigned long long)st.ring_requests, (unsigned long long)st.notifications,
                (unsigned long long)st.grant_ops);
    hvmk_mfree(wbuf);
    hvmk_mfree(rbuf);
    return bf;                       /* kept for the save/restore step */
}

static void hvmk_dump_stall(void *arg, unsigned us)
{
    (void)arg;
    hvmk_delay_us(us);
}

/* The crash-dump/hibernation path xenvbd's dump instance takes: with
 * interrupts off (no upcall), 100 sectors written, read back and flushed
 * through blkfront_dump_io against the real blkback.  `quiesce` first as
 * xenpci does before S4; then the normal path reads the same sectors on
 * the same ring. */
bool hvmk_blk_dump_check(struct blkfront *bf, uint64_t sector, unsigned seed, bool quiesce,
                         char *why, size_t len)
{
    const uint32_t n = 100, bytes = n * 512;
    const struct blkfront_dump_env env = { hvmk_dump_stall, NULL, 10000000 };
    uint8_t *w = hvmk_malloc(bytes), *r = hvmk_malloc(bytes), *back = hvmk_malloc(bytes);
    if (!w || !r || !back) {
        hvmk_mfree(w);
        hvmk_mfree(r);
        hvmk_mfree(back);
        gp_snprintf(why, len, "no memory");
        return false;
    }
    hvmk_pattern(w, bytes, seed);
    memset(r, 0, bytes);
    if (quiesce)
        blkfront_suspend(bf);
    uint64_t flags = hvmk_irq_save();
    int e1 = blkfront_dump_io(bf, BLKFRONT_WRITE, sector, n, w, &env);
    int e2 = e1 ? e1 : blkfront_dump_io(bf, BLKFRONT_READ, sector, n, r, &env);
    int e3 = e2 ? e2 : blkfront_dump_io(bf, BLKFRONT_FLUSH, 0, 0, NULL, &env);
    hvmk_irq_restore(flags);
    if (quiesce)
        blkfront_resume_in_place(bf);
    int e4 = hvmk_blk_io(bf, BLKFRONT_READ, sector, n, back, bytes);
    struct blkfront_dump_stats st;
    blkfront_dump_get_stats(bf, &st);
    bool same = !memcmp(w, r, bytes), normal_same = !memcmp(w, back, bytes);
    gp_snprintf(why, len, "interrupts off: write %s, read %s (%s), flush %s; %llu dump requests, "
                "%llu notifications; then the normal path read %s (%s)", gp_strerror(e1),
                gp_strerror(e2), same ? "identical" : "differs", gp_strerror(e3),
                (unsigned long long)st.requests, (unsigned long long)st.notifications,
                gp_strerror(e4), normal_same ? "identical" : "differs");
    hvmk_mfree(w);
    hvmk_mfree(r);
    hvmk_mfree(back);
    return !e1 && !e2 && !e3 && !e4 && same && normal_same;
}

/* Writes in flight across `xl save` + `xl restore`. */
#define HVMK_SR_N 16
#define HVMK_SR_LEN 65536
static struct hvmk_io hvmk_sr_io[HVMK_SR_N];
static struct blkfront_req hvmk_sr_req[HVMK_SR_N];
static struct blkfront_sg hvmk_sr_sg[HVMK_SR_N];
static uint8_t *hvmk_sr_buf;

int hvmk_blk_start_writes(struct blkfront *bf, unsigned round)
{
    if (!hvmk_sr_buf)
        hvmk_sr_buf = hvmk_malloc(HVMK_SR_N * HVMK_SR_LEN);
    if (!hvmk_sr_buf)
        return GP_ENOMEM;
    for (unsigned i = 0; i < HVMK_SR_N; i++) {
        uint8_t *b = hvmk_sr_buf + i * HVMK_SR_LEN;
        hvmk_pattern(b, HVMK_SR_LEN, 100 + i + round * HVMK_SR_N);   /* new data each round */
        hvmk_sr_io[i] = (struct hvmk_io){ 0, 0 };
        hvmk_sr_sg[i] = (struct blkfront_sg){ b, HVMK_SR_LEN };
        hvmk_sr_req[i] = (struct blkfront_req){ .op = BLKFRONT_WRITE,
                                                .sector = 40000 + (uint64_t)i * 128,
                                                .nr_sectors = HVMK_SR_LEN / 512,
                                                .sg = &hvmk_sr_sg[i], .nsg = 1,
                                                .done = hvmk_io_done, .arg = &hvmk_sr_io[i] };
        int err = blkfront_submit(bf, &hvmk_sr_req[i]);
        if (err)
            return err;
    }
    return 0;
}

/* After the restore: every write completed exactly once, and the disk holds them. */
bool hvmk_blk_check_writes(struct blkfront *bf, char *why, size_t len)
{
    uint64_t deadline = hvmk_now_ns() + 30000000000ull;
    unsigned done = 0, bad = 0, twice = 0, errors = 0;
    for (;;) {
        done = twice = errors = 0;
        for (unsigned i = 0; i < HVMK_SR_N; i++) {
            done += hvmk_sr_io[i].done >= 1;
            twice += hvmk_sr_io[i].done > 1;
            errors += hvmk_sr_io[i].status != 0;
        }
        if (done == HVMK_SR_N || hvmk_now_ns() > deadline)
            break;
        hvmk_platform_poll();
        hvmk_idle();
    }
    uint8_t *r = hvmk_malloc(HVMK_SR_LEN);
    for (unsigned i = 0; r && i < HVMK_SR_N; i++) {
        int e = hvmk_blk_io(bf, BLKFRONT_READ, 40000 + (uint64_t)i * 128, HVMK_SR_LEN / 512, r,
                            HVMK_SR_LEN);
        if (e || memcmp(r, hvmk_sr_buf + i * HVMK_SR_LEN, HVMK_SR_LEN) != 0)
            bad++;
    }
    hvmk_mfree(r);
    gp_snprintf(why, len, "%u/%u writes completed (%u twice, %u errors), %u differ on disk",
                done, HVMK_SR_N, twice, errors, bad);
    return done == HVMK_SR_N && !twice && !errors && !bad;
}
