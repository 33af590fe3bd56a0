/* scsi_disk (core/scsi): every CDB xenvbd gets from StorPort, checked
 * field by field against SBC/SPC, the refusals with their sense data, and
 * a disk driven end to end through scsi_disk_submit - the call xenvbd
 * makes for every SRB - blkfront and the simulated blkback (data verified
 * on the backend's disk): UNMAP's fan-out into several requests, a failure
 * in one of them, an abandon, StorPort-style data maps, each command
 * completed exactly once; and the crash-dump path's polled commands. */
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "blkback/sim_blkback.h"
#include "gp_test.h"
#include "gplpv/blkfront_dump.h"
#include "gplpv/scsi_disk.h"
#include "os/sim_os.h"
#include "sim.h"

static struct blkfront_info disk_info(uint64_t sectors, uint32_t ss)
{
    return (struct blkfront_info){ .sectors = sectors, .sector_size = ss,
                                   .physical_sector_size = ss, .flush = true,
                                   .discard = true, .discard_granularity = 4096 };
}

static void check_sense(const struct scsi_disk_result *r, uint8_t key, uint8_t asc)
{
    CHECK_EQ(r->status, SCSI_STATUS_CHECK_CONDITION);
    CHECK_EQ(r->sense_len, 18);
    CHECK_EQ(r->sense[0], 0x70);
    CHECK_EQ(r->sense[2], key);
    CHECK_EQ(r->sense[12], asc);
    CHECK(!r->io);
}

static void test_inquiry_and_vpd(void)
{
    struct blkfront_info bi = disk_info(1 << 20, 512);
    struct scsi_disk d;
    scsi_disk_init(&d, &bi, 768);
    memcpy(d.vendor, "ACME", 5);
    struct scsi_disk_result r;
    uint8_t buf[256];
    uint8_t inq[6] = { 0x12, 0, 0, 0, 96, 0 };
    memset(buf, 0xee, sizeof(buf));
    scsi_disk_execute(&d, inq, 6, buf, sizeof(buf), &r);
    CHECK_EQ(r.status, SCSI_STATUS_GOOD);
    CHECK_EQ(r.transferred, 36);
    CHECK_EQ(buf[0], 0x00);
    CHECK_EQ(buf[4], 31);
    CHECK(!memcmp(buf + 8, "ACME    ", 8));
    CHECK(!memcmp(buf + 16, "PV Disk         ", 16));
    CHECK(!memcmp(buf + 32, "1.0 ", 4));
    CHECK_EQ(buf[36], 0xee);                         /* nothing past the answer */
    inq[4] = 5;                                      /* allocation length cuts it */
    memset(buf, 0xee, sizeof(buf));
    scsi_disk_execute(&d, inq, 6, buf, sizeof(buf), &r);
    CHECK_EQ(r.transferred, 5);
    CHECK_EQ(buf[5], 0xee);
    inq[4] = 96;                                     /* and so does the buffer */
    scsi_disk_execute(&d, inq, 6, buf, 10, &r);
    CHECK_EQ(r.transferred, 10);

    uint8_t vpd[6] = { 0x12, 1, 0x00, 0, 255, 0 };
    scsi_disk_execute(&d, vpd, 6, buf, sizeof(buf), &r);
    CHECK_EQ(r.status, SCSI_STATUS_GOOD);
    CHECK_EQ(buf[3], 6);
    CHECK(!memcmp(buf + 4, "\x00\x80\x83\xb0\xb1\xb2", 6));
    vpd[2] = 0x80;
    scsi_disk_execute(&d, vpd, 6, buf, sizeof(buf), &r);
    CHECK_EQ(buf[3], 3);
    CHECK(!memcmp(buf + 4, "768", 3));
    vpd[2] = 0x83;
    scsi_disk_execute(&d, vpd, 6, buf, sizeof(buf), &r);
    CHECK_EQ(buf[4], 0x02);
    CHECK_EQ(buf[5], 0x01);
    CHECK(!memcmp(buf + 8, "XEN     vbd-768", 15));
    vpd[2] = 0xb0;
    scsi_disk_execute(&d, vpd, 6, buf, sizeof(buf), &r);
    CHECK_EQ(r.transferred, 64);
    CHECK_EQ(buf[27], SCSI_DISK_MAX_RANGES);         /* max unmap descriptors */
    CHECK_EQ(buf[31], 8);                            /* 4 KiB granularity in 512 B LBAs */
    CHECK_EQ(buf[32], 0x80);                         /* UGAVALID */
    vpd[2] = 0xb2;
    scsi_disk_execute(&d, vpd, 6, buf, sizeof(buf), &r);
    CHECK_EQ(buf[5], 0x80);
    vpd[2] = 0x99;
    scsi_disk_execute(&d, vpd, 6, buf, sizeof(buf), &r);
    check_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x24);
    uint8_t bad[6] = { 0x12, 0, 0x80, 0, 96, 0 };    /* page code without EVPD */
    scsi_disk_execute(&d, bad, 6, buf, sizeof(buf), &r);
    check_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x24);
}

static void test_read_capacity(void)
{
    struct blkfront_info bi = disk_info((1ull << 33) + 5, 512);
    bi.physical_sector_size = 4096;
    struct scsi_disk d;
    scsi_disk_init(&d, &bi, 1);
    uint8_t buf[32];
    struct scsi_disk_result r;
    uint8_t rc10[10] = { 0x25 };
    scsi_disk_execute(&d, rc10, 10, buf, sizeof(buf), &r);
    CHECK_EQ(r.transferred, 8);
    CHECK(!memcmp(buf, "\xff\xff\xff\xff\x00\x00\x02\x00", 8));   /* too big: use (16) */
    uint8_t rc16[16] = { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32 };
    scsi_disk_execute(&d, rc16, 16, buf, sizeof(buf), &r);
    CHECK_EQ(r.transferred, 32);
    CHECK(!memcmp(buf, "\x00\x00\x00\x02\x00\x00\x00\x04\x00\x00\x02\x00", 12));
    CHECK_EQ(buf[13], 3);                            /* 8 logical per physical */
    CHECK_EQ(buf[14], 0x80);                         /* LBPME */
}

static void test_read_write_decoding(void)
{
    struct blkfront_info bi = disk_info(1000, 4096);
    struct scsi_disk d;
    scsi_disk_init(&d, &bi, 1);
    struct scsi_disk_result r;
    static uint8_t buf[256 * 4096];
    uint8_t w10[10] = { 0x2a, 0, 0, 0, 0x01, 0x02, 0, 0, 3, 0 };       /* LBA 258, 3 blocks */
    scsi_disk_execute(&d, w10, 10, buf, 3 * 4096, &r);
    CHECK(r.io && r.op == BLKFRONT_WRITE);
    CHECK_EQ(r.sector, 258 * 8);
    CHECK_EQ(r.nr_sectors, 24);
    CHECK_EQ(r.bytes, 3 * 4096);
    uint8_t r6[6] = { 0x08, 0, 0, 7, 0, 0 };                            /* count 0 = 256 */
    scsi_disk_execute(&d, r6, 6, buf, sizeof(buf), &r);
    CHECK(r.io && r.op == BLKFRONT_READ);
    CHECK_EQ(r.sector, 56);
    CHECK_EQ(r.nr_sectors, 256 * 8);
    uint8_t r12[12] = { 0xa8, 0, 0, 0, 0, 10, 0, 0, 0, 2 };
    scsi_disk_execute(&d, r12, 12, buf, sizeof(buf), &r);
    CHECK(r.io && r.sector == 80 && r.nr_sectors == 16);
    uint8_t r16[16] = { 0x88, 0, 0, 0, 0, 0, 0, 0, 0x03, 0xe6, 0, 0, 0, 2 };  /* 998 + 2 = end */
    scsi_disk_execute(&d, r16, 16, buf, sizeof(buf), &r);
    CHECK(r.io && r.sector == 998 * 8);
    r16[13] = 3;                                                         /* one past the end */
    scsi_disk_execute(&d, r16, 16, buf, sizeof(buf), &r);
    check_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x21);
    uint8_t huge[16] = { 0x88, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2 };
    scsi_disk_execute(&d, huge, 16, buf, sizeof(buf), &r);               /* LBA + count wraps */
    check_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x21);
    scsi_disk_execute(&d, w10, 10, buf, 3 * 4096 - 1, &r);               /* buffer too short */
    check_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x24);
    uint8_t zero[10] = { 0x28, 0, 0, 0, 0, 5, 0, 0, 0, 0 };
    scsi_disk_execute(&d, zero, 10, NULL, 0, &r);
    CHECK_EQ(r.status, SCSI_STATUS_GOOD);
    CHECK(!r.io);
    d.info.readonly = true;
    scsi_disk_execute(&d, w10, 10, buf, 3 * 4096, &r);
    check_sense(&r, SCSI_SENSE_DATA_PROTECT, 0x27);
    uint8_t sync[10] = { 0x35 };
    scsi_disk_execute(&d, sync, 10, NULL, 0, &r);
    CHECK(r.io && r.op == BLKFRONT_FLUSH);
    d.info.flush = false;
    scsi_disk_execute(&d, sync, 10, NULL, 0, &r);
    CHECK(!r.io && r.status == SCSI_STATUS_GOOD);
    uint8_t weird[10] = { 0xe5 };
    scsi_disk_execute(&d, weird, 10, NULL, 0, &r);
    check_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x20);
    scsi_disk_execute(&d, w10, 6, buf, sizeof(buf), &r);                 /* CDB shorter than its group */
    check_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x20);
}

static void put_unmap_desc(uint8_t *p, uint64_t lba, uint32_t n)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(lba >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        p[8 + i] = (uint8_t)(n >> (24 - 8 * i));
}

static void test_unmap_parameter_list(void)
{
    struct blkfront_info bi = disk_info(1000, 512);
    struct scsi_disk d;
    scsi_disk_init(&d, &bi, 1);
    struct scsi_disk_result r;
    uint8_t pl[8 + 16 * 20];
    memset(pl, 0, sizeof(pl));
    pl[3] = 32;                                                          /* two descriptors */
    put_unmap_desc(pl + 8, 10, 20);
    put_unmap_desc(pl + 24, 500, 500);
    uint8_t cdb[10] = { 0x42, 0, 0, 0, 0, 0, 0, 0, 40, 0 };
    scsi_disk_execute(&d, cdb, 10, pl, 40, &r);
    CHECK(r.io && r.op == BLKFRONT_DISCARD);
    CHECK_EQ(r.nranges, 2);
    CHECK(r.ranges[0].sector == 10 && r.ranges[0].nr_sectors == 20);
    CHECK(r.ranges[1].sector == 500 && r.ranges[1].nr_sectors == 500);
    put_unmap_desc(pl + 24, 500, 501);                                   /* past the end */
    scsi_disk_execute(&d, cdb, 10, pl, 40, &r);
    check_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x21);
    pl[3] = 33;                                                          /* not a multiple of 16 */
    scsi_disk_execute(&d, cdb, 10, pl, 40, &r);
    check_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x1a);
    pl[3] = 32;
    scsi_disk_execute(&d, cdb, 10, pl, 20, &r);                          /* list beyond the buffer */
    check_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x1a);
    /* 17 descriptors: more than VPD B0 allows */
    uint8_t cdb2[10] = { 0x42, 0, 0, 0, 0, 0, 0, 0x01, 0x18, 0 };
    uint8_t big[8 + 16 * 17];
    memset(big, 0, sizeof(big));
    big[2] = (16 * 17) >> 8;
    big[3] = (16 * 17) & 0xff;
    scsi_disk_execute(&d, cdb2, 10, big, sizeof(big), &r);
    check_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x26);
    d.info.discard = false;
    scsi_disk_execute(&d, cdb, 10, pl, 40, &r);
    check_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x20);
}

static void test_mode_sense_and_cdrom(void)
{
    struct blkfront_info bi = disk_info(1000, 512);
    struct scsi_disk d;
    scsi_disk_init(&d, &bi, 1);
    struct scsi_disk_result r;
    uint8_t buf[64];
    uint8_t ms6[6] = { 0x1a, 0x08, 0x3f, 0, 64, 0 };
    scsi_disk_execute(&d, ms6, 6, buf, sizeof(buf), &r);
    CHECK_EQ(r.transferred, 24);
    CHECK_EQ(buf[0], 23);
    CHECK_EQ(buf[2], 0);                                                 /* writable */
    CHECK_EQ(buf[4], 0x08);
    CHECK_EQ(buf[6], 0x04);                                              /* WCE: flush offered */
    uint8_t ms10[10] = { 0x5a, 0x08, 0x08, 0, 0, 0, 0, 0, 64, 0 };
    d.info.readonly = true;
    scsi_disk_execute(&d, ms10, 10, buf, sizeof(buf), &r);
    CHECK_EQ(r.transferred, 28);
    CHECK_EQ(buf[3], 0x80);                                              /* WP */
    ms6[2] = 0x1c;
    scsi_disk_execute(&d, ms6, 6, buf, sizeof(buf), &r);
    check_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x24);

    struct blkfront_info ci = disk_info(300000, 2048);
    ci.cdrom = true;
    ci.discard = false;
    struct scsi_disk cd;
    scsi_disk_init(&cd, &ci, 5632);
    uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 };
    scsi_disk_execute(&cd, inq, 6, buf, sizeof(buf), &r);
    CHECK_EQ(buf[0], 0x05);
    CHECK_EQ(buf[1], 0x80);
    CHECK(!memcmp(buf + 16, "PV CDROM", 8));
    uint8_t toc[10] = { 0x43, 0, 0, 0, 0, 0, 0, 0, 20, 0 };
    scsi_disk_execute(&cd, toc, 10, buf, sizeof(buf), &r);
    CHECK_EQ(r.transferred, 20);
    CHECK_EQ(buf[6], 1);
    CHECK_EQ(buf[14], 0xaa);
    CHECK(!memcmp(buf + 16, "\x00\x04\x93\xe0", 4));                     /* lead-out at 300000 */
    toc[1] = 2;                                                          /* MSF */
    scsi_disk_execute(&cd, toc, 10, buf, sizeof(buf), &r);
    CHECK(buf[9] == 0 && buf[10] == 2 && buf[11] == 0);                  /* track 1 at 00:02:00 */
    uint8_t w10[10] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
    scsi_disk_execute(&cd, w10, 10, buf, sizeof(buf), &r);
    check_sense(&r, SCSI_SENSE_DATA_PROTECT, 0x27);
    uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 16, 0, 0, 1, 0 };
    static uint8_t big[2048];
    scsi_disk_execute(&cd, r10, 10, big, sizeof(big), &r);
    CHECK(r.io && r.sector == 64 && r.nr_sectors == 4);
    uint8_t gc[10] = { 0x46, 0, 0, 0, 0, 0, 0, 0, 8, 0 };
    scsi_disk_execute(&cd, gc, 10, buf, sizeof(buf), &r);
    CHECK_EQ(buf[7], 0x08);
    scsi_disk_execute(&d, gc, 10, buf, sizeof(buf), &r);                 /* a disk has no profile */
    check_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x20);
}

/* ---- end to end: scsi_disk_submit -> blkfront -> simulated blkback --------- */
struct rig {
    struct sim_xen *x;
    struct sim_domain *d0, *g;
    struct xs_client *xs;
    struct sim_blkback *bb;
    struct blkfront *bf;
    struct scsi_disk d;
};

static void rig_open(struct rig *t, uint64_t sectors)
{
    memset(t, 0, sizeof(*t));
    t->x = sim_xen_create(&(struct sim_xen_opts){ .quiet = true });
    t->d0 = sim_domain_create(t->x, 0, 512);
    t->g = sim_domain_create_ex(t->x, 1, &(struct sim_domain_opts){ .max_pages = 16384 });
    REQUIRE(t->d0 && t->g);
    const struct gp_platform *p = sim_domain_platform(t->g);
    REQUIRE(xs_client_create(p, NULL, &t->xs) == 0);
    t->bb = sim_blkback_create(t->x, t->d0, 1, 768, &(struct sim_blkback_opts){ .sectors = sectors });
    REQUIRE(t->bb && blkfront_create(p, t->xs, "device/vbd/768", NULL, &t->bf) == 0);
    REQUIRE(blkfront_connect(t->bf, GP_S(5)) == 0);
    struct blkfront_info bi;
    blkfront_get_info(t->bf, &bi);
    scsi_disk_init(&t->d, &bi, 768);
}

static void rig_close(struct rig *t)
{
    blkfront_destroy(t->bf);
    sim_blkback_destroy(t->bb);
    xs_client_destroy(t->xs);
    sim_domain_destroy(t->g);
    sim_domain_destroy(t->d0);
    sim_xen_destroy(t->x);
}

/* A command and its completions (counted: there must be one). */
struct cmd {
    struct scsi_disk_cmd c;
    atomic_int calls;
};

static void cmd_done(void *arg, struct scsi_disk_cmd *c)
{
    struct cmd *w = arg;
    CHECK(c == &w->c);
    atomic_fetch_add(&w->calls, 1);
}

typedef int map_fn(void *arg, uint32_t bytes, const struct blkfront_sg **sg, unsigned *nsg);

static void cmd_submit(struct rig *t, struct cmd *w, map_fn *map, const uint8_t *cdb, unsigned len,
                       void *data, uint32_t data_len)
{
    memset(w, 0, sizeof(*w));
    w->c.cdb = cdb;
    w->c.cdb_len = len;
    w->c.data = data;
    w->c.data_len = data_len;
    w->c.map_data = map;
    w->c.done = cmd_done;
    w->c.arg = w;
    scsi_disk_submit(&t->d, t->bf, &w->c);
}

/* Wait for the one completion, give the SCSI status. */
static uint8_t cmd_wait(struct cmd *w)
{
    GP_WAIT_WHILE(atomic_load(&w->calls) == 0);
    CHECK_EQ(atomic_load(&w->calls), 1);
    return w->c.result.status;
}

static uint8_t run(struct rig *t, const uint8_t *cdb, unsigned len, void *data, uint32_t data_len)
{
    static struct cmd w;
    cmd_submit(t, &w, NULL, cdb, len, data, data_len);
    return cmd_wait(&w);
}

static void test_end_to_end_through_blkfront(void)
{
    struct rig t;
    rig_open(&t, 16384);
    uint8_t cap[8], rc10[10] = { 0x25 };
    CHECK_EQ(run(&t, rc10, 10, cap, 8), SCSI_STATUS_GOOD);
    CHECK(!memcmp(cap, "\x00\x00\x3f\xff\x00\x00\x02\x00", 8));
    static uint8_t out[64 * 512], in[64 * 512];
    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)(i * 13 + (i >> 9));
    uint8_t w10[10] = { 0x2a, 0, 0, 0, 0x10, 0x00, 0, 0, 64, 0 };        /* LBA 4096 */
    CHECK_EQ(run(&t, w10, 10, out, sizeof(out)), SCSI_STATUS_GOOD);
    CHECK(!memcmp(sim_blkback_disk(t.bb) + 4096 * 512, out, sizeof(out)));
    uint8_t r16[16] = { 0x88, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x00, 0, 0, 0, 64 };
    CHECK_EQ(run(&t, r16, 16, in, sizeof(in)), SCSI_STATUS_GOOD);
    CHECK(!memcmp(in, out, sizeof(in)));
    uint8_t sync[10] = { 0x35 };
    CHECK_EQ(run(&t, sync, 10, NULL, 0), SCSI_STATUS_GOOD);
    uint8_t pl[24] = { 0, 22, 0, 16 };
    put_unmap_desc(pl + 8, 4100, 8);
    uint8_t unmap[10] = { 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0 };
    CHECK_EQ(run(&t, unmap, 10, pl, sizeof(pl)), SCSI_STATUS_GOOD);
    static const uint8_t zero[8 * 512];
    CHECK(!memcmp(sim_blkback_disk(t.bb) + 4100 * 512, zero, sizeof(zero)));
    CHECK(!memcmp(sim_blkback_disk(t.bb) + 4096 * 512, out, 4 * 512));  /* neighbours kept */
    uint8_t past[10] = { 0x28, 0, 0, 0, 0x3f, 0xff, 0, 0, 2, 0 };        /* last LBA + 1 */
    CHECK_EQ(run(&t, past, 10, in, sizeof(in)), SCSI_STATUS_CHECK_CONDITION);
    rig_close(&t);
}

/* An UNMAP parameter list of n 8-block ranges at the given LBAs. */
static uint32_t unmap_list(uint8_t *pl, const uint64_t *lba, unsigned n, uint8_t *cdb)
{
    uint32_t len = 8 + 16 * n;
    memset(pl, 0, len);
    pl[1] = (uint8_t)(len - 2);
    pl[3] = (uint8_t)(16 * n);
    for (unsigned i = 0; i < n; i++)
        put_unmap_desc(pl + 8 + 16 * i, lba[i], 8);
    memset(cdb, 0, 10);
    cdb[0] = 0x42;
    cdb[8] = (uint8_t)len;
    return len;
}

static bool zeroed(struct rig *t, uint64_t lba)
{
    static const uint8_t zero[8 * 512];
    return !memcmp(sim_blkback_disk(t->bb) + lba * 512, zero, sizeof(zero));
}

/* An UNMAP of four ranges is four blkfront requests: the command
 * completes once, only after the last of them. */
static void test_unmap_fan_out_completes_once(void)
{
    struct rig t;
    rig_open(&t, 16384);
    const uint64_t lba[4] = { 100, 200, 300, 400 };
    memset(sim_blkback_disk(t.bb), 0xab, 500 * 512);
    uint8_t pl[8 + 16 * 4], cdb[10];
    uint32_t len = unmap_list(pl, lba, 4, cdb);
    sim_blkback_hold(t.bb, true);                  /* answers held: requests stay in flight */
    static struct cmd w;
    cmd_submit(&t, &w, NULL, cdb, 10, pl, len);
    struct sim_blkback_stats st;
    GP_WAIT_WHILE((sim_blkback_get_stats(t.bb, &st), st.discards < 4));
    CHECK_EQ(st.discards, 4);
    CHECK_EQ(atomic_load(&w.calls), 0);            /* none answered: no completion */
    sim_blkback_hold(t.bb, false);
    CHECK_EQ(cmd_wait(&w), SCSI_STATUS_GOOD);
    CHECK_EQ(w.c.status, 0);
    CHECK_EQ(w.c.result.transferred, 0);
    for (unsigned i = 0; i < 4; i++)
        CHECK(zeroed(&t, lba[i]));
    CHECK_EQ(sim_blkback_disk(t.bb)[108 * 512], 0xab);                  /* neighbours kept */
    rig_close(&t);
    CHECK_EQ(atomic_load(&w.calls), 1);            /* still once after destroy */
}

/* One of three requests refused (the disk shrank under a scsi_disk that
 * still has the old size): one completion, after the other two, with the
 * sense for that failure. */
static void test_one_failed_request_fails_the_command_once(void)
{
    struct rig t;
    rig_open(&t, 16384);
    sim_blkback_resize(t.bb, 8192);
    struct blkfront_info bi;
    GP_WAIT_WHILE((blkfront_get_info(t.bf, &bi), bi.sectors != 8192));
    REQUIRE(bi.sectors == 8192);
    memset(sim_blkback_disk(t.bb), 0xab, 300 * 512);
    const uint64_t lba[3] = { 10000, 100, 200 };  /* the first one past the new end */
    uint8_t pl[8 + 16 * 3], cdb[10];
    uint32_t len = unmap_list(pl, lba, 3, cdb);
    static struct cmd w;
    cmd_submit(&t, &w, NULL, cdb, 10, pl, len);
    CHECK_EQ(cmd_wait(&w), SCSI_STATUS_CHECK_CONDITION);
    CHECK_EQ(w.c.status, GP_ERANGE);
    check_sense(&w.c.result, SCSI_SENSE_HARDWARE_ERROR, 0x44);
    CHECK(zeroed(&t, 100) && zeroed(&t, 200));    /* the others were done first */
    uint8_t r10[10] = { 0x28, 0, 0, 0, 0x27, 0x10, 0, 0, 8, 0 };       /* LBA 10000: one request */
    static uint8_t in[8 * 512];
    CHECK_EQ(run(&t, r10, 10, in, sizeof(in)), SCSI_STATUS_CHECK_CONDITION);
    rig_close(&t);
    CHECK_EQ(atomic_load(&w.calls), 1);
}

/* blkfront_abandon (an OS's reset) while the backend holds the answers:
 * each command completes once with that status; the late answers that
 * follow complete nothing. */
static void test_abandoned_commands_complete_once(void)
{
    struct rig t;
    rig_open(&t, 16384);
    const uint64_t lba[3] = { 100, 200, 300 };
    uint8_t pl[8 + 16 * 3], cdb[10];
    uint32_t len = unmap_list(pl, lba, 3, cdb);
    static uint8_t in[8 * 512];
    uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 50, 0, 0, 8, 0 };
    sim_blkback_hold(t.bb, true);
    static struct cmd unmap, read;
    cmd_submit(&t, &unmap, NULL, cdb, 10, pl, len);
    cmd_submit(&t, &read, NULL, r10, 10, in, sizeof(in));
    struct sim_blkback_stats st;
    GP_WAIT_WHILE((sim_blkback_get_stats(t.bb, &st), st.discards < 3 || st.reads < 1));
    CHECK_EQ(atomic_load(&unmap.calls) + atomic_load(&read.calls), 0);
    CHECK_EQ(blkfront_abandon(t.bf, GP_ESHUTDOWN), 4);                 /* 3 + 1 requests */
    CHECK_EQ(atomic_load(&unmap.calls), 1);
    CHECK_EQ(atomic_load(&read.calls), 1);
    CHECK_EQ(unmap.c.status, GP_ESHUTDOWN);
    CHECK_EQ(read.c.status, GP_ESHUTDOWN);
    check_sense(&unmap.c.result, SCSI_SENSE_ABORTED_COMMAND, 0x00);
    check_sense(&read.c.result, SCSI_SENSE_ABORTED_COMMAND, 0x00);
    sim_blkback_hold(t.bb, false);
    struct blkfront_stats bs;
    GP_WAIT_WHILE((blkfront_get_stats(t.bf, &bs), bs.late_answers < 4));
    CHECK_EQ(bs.late_answers, 4);
    CHECK_EQ(atomic_load(&unmap.calls), 1);
    CHECK_EQ(atomic_load(&read.calls), 1);
    rig_close(&t);
}

/* map_data: where a transfer's bytes are (StorPort's scatter/gather list
 * on Windows), asked once, for reads and writes only. */
static uint8_t piece[3][4096];
static struct blkfront_sg pieces[3] = { { piece[0], 512 }, { piece[1], 2048 }, { piece[2], 4096 } };
static atomic_int map_calls;
static int map_error;
static uint32_t map_bytes;

static int map_pieces(void *arg, uint32_t bytes, const struct blkfront_sg **sg, unsigned *nsg)
{
    (void)arg;
    atomic_fetch_add(&map_calls, 1);
    map_bytes = bytes;
    *sg = pieces;
    *nsg = 3;
    return map_error;
}

static void test_map_data_places_the_transfer(void)
{
    struct rig t;
    rig_open(&t, 16384);
    static uint8_t sysva[6 * 512];                 /* what the OS's address would show */
    static struct cmd w;
    for (unsigned i = 0; i < 3; i++)
        memset(piece[i], 0x10 + (int)i, sizeof(piece[i]));
    uint8_t w10[10] = { 0x2a, 0, 0, 0, 0, 64, 0, 0, 6, 0 };            /* 6 blocks at 64 */
    cmd_submit(&t, &w, map_pieces, w10, 10, sysva, sizeof(sysva));
    CHECK_EQ(cmd_wait(&w), SCSI_STATUS_GOOD);
    CHECK_EQ(atomic_load(&map_calls), 1);
    CHECK_EQ(map_bytes, 6 * 512);
    CHECK_EQ(w.c.result.transferred, 6 * 512);
    const uint8_t *disk = sim_blkback_disk(t.bb) + 64 * 512;
    CHECK(disk[0] == 0x10 && disk[511] == 0x10 && disk[512] == 0x11 && disk[2559] == 0x11);
    CHECK(disk[2560] == 0x12 && disk[3071] == 0x12);                     /* cut at the transfer */
    uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 }, buf[36];
    cmd_submit(&t, &w, map_pieces, inq, 6, buf, sizeof(buf));
    CHECK_EQ(cmd_wait(&w), SCSI_STATUS_GOOD);
    CHECK_EQ(w.c.result.transferred, 36);
    CHECK_EQ(atomic_load(&map_calls), 1);          /* an answer maps nothing */
    struct sim_blkback_stats before, after;
    sim_blkback_get_stats(t.bb, &before);
    map_error = GP_EAGAIN;
    uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 64, 0, 0, 6, 0 };
    cmd_submit(&t, &w, map_pieces, r10, 10, sysva, sizeof(sysva));
    CHECK_EQ(cmd_wait(&w), SCSI_STATUS_CHECK_CONDITION);
    CHECK_EQ(w.c.status, GP_EAGAIN);
    sim_blkback_get_stats(t.bb, &after);
    CHECK_EQ(after.requests, before.requests);     /* refused before any request */
    map_error = 0;
    rig_close(&t);
}

static void stall(void *arg, unsigned us) { (void)arg; usleep(us); }

/* The crash-dump path: the same commands, polled through blkfront_dump. */
static void test_polled_commands(void)
{
    struct rig t;
    rig_open(&t, 16384);
    REQUIRE(blkfront_dump_enable(t.bf) == 0);
    const struct blkfront_dump_env env = { stall, NULL, 2000000 };
    static uint8_t out[100 * 512], in[100 * 512];
    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)(i * 7 + (i >> 9));
    struct scsi_disk_result r;
    blkfront_suspend(t.bf);                        /* quiesced, as before S4 */
    uint8_t w10[10] = { 0x2a, 0, 0, 0, 0x0b, 0xb9, 0, 0, 100, 0 };     /* LBA 3001 */
    CHECK_EQ(scsi_disk_submit_polled(&t.d, t.bf, &env, w10, 10, out, sizeof(out), &r), 0);
    CHECK(r.status == SCSI_STATUS_GOOD && r.transferred == sizeof(out));
    CHECK(!memcmp(sim_blkback_disk(t.bb) + 3001 * 512, out, sizeof(out)));
    uint8_t r10[10] = { 0x28, 0, 0, 0, 0x0b, 0xb9, 0, 0, 100, 0 };
    CHECK_EQ(scsi_disk_submit_polled(&t.d, t.bf, &env, r10, 10, in, sizeof(in), &r), 0);
    CHECK(r.status == SCSI_STATUS_GOOD && !memcmp(in, out, sizeof(in)));
    uint8_t sync[10] = { 0x35 };
    CHECK_EQ(scsi_disk_submit_polled(&t.d, t.bf, &env, sync, 10, NULL, 0, &r), 0);
    CHECK_EQ(r.status, SCSI_STATUS_GOOD);
    const uint64_t lba[1] = { 3001 };
    uint8_t pl[24], cdb[10];
    uint32_t len = unmap_list(pl, lba, 1, cdb);
    CHECK_EQ(scsi_disk_submit_polled(&t.d, t.bf, &env, cdb, 10, pl, len, &r), GP_ENOTSUP);
    check_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x20);                   /* no discard while dumping */
    CHECK(!memcmp(sim_blkback_disk(t.bb) + 3001 * 512, out, sizeof(out)));
    uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 }, buf[36];
    CHECK_EQ(scsi_disk_submit_polled(&t.d, t.bf, &env, inq, 6, buf, sizeof(buf), &r), 0);
    CHECK_EQ(r.transferred, 36);
    blkfront_resume_in_place(t.bf);
    CHECK_EQ(run(&t, r10, 10, in, sizeof(in)), SCSI_STATUS_GOOD);      /* the normal path goes on */
    CHECK(!memcmp(in, out, sizeof(in)));
    rig_close(&t);
}

int main(void)
{
    GP_TEST_RUN(test_inquiry_and_vpd);
    GP_TEST_RUN(test_read_capacity);
    GP_TEST_RUN(test_read_write_decoding);
    GP_TEST_RUN(test_unmap_parameter_list);
    GP_TEST_RUN(test_mode_sense_and_cdrom);
    GP_TEST_RUN(test_end_to_end_through_blkfront);
    GP_TEST_RUN(test_unmap_fan_out_completes_once);
    GP_TEST_RUN(test_one_failed_request_fails_the_command_once);
    GP_TEST_RUN(test_abandoned_commands_complete_once);
    GP_TEST_RUN(test_map_data_places_the_transfer);
    GP_TEST_RUN(test_polled_commands);
    return gp_test_finish();
}
