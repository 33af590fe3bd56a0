/* scsi_disk (core/scsi): every CDB xenvbd gets from StorPort, checked
 * field by field against SBC/SPC, the refusals with their sense data, and
 * a disk driven end to end through SCSI commands, blkfront and the
 * simulated blkback (data verified on the backend's disk). */
#include <pthread.h>
#include <string.h>

#include "blkback/sim_blkback.h"
#include "gp_test.h"
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

/* ---- end to end: SCSI commands -> blkfront -> simulated blkback ------------ */
struct done {
    pthread_mutex_t m;
    pthread_cond_t c;
    int calls, status;
};

static void done_cb(void *arg, struct blkfront_req *rq, int status)
{
    struct done *w = arg;
    (void)rq;
    pthread_mutex_lock(&w->m);
    w->calls++;
    w->status = status;
    pthread_cond_broadcast(&w->c);
    pthread_mutex_unlock(&w->m);
}

/* What xenvbd does with a result: submit it and report the status. */
static uint8_t run(struct blkfront *bf, const struct scsi_disk *d, const uint8_t *cdb,
                   unsigned len, void *data, uint32_t data_len)
{
    struct scsi_disk_result r;
    scsi_disk_execute(d, cdb, len, data, data_len, &r);
    if (!r.io)
        return r.status;
    unsigned n = r.op == BLKFRONT_DISCARD ? r.nranges : 1;
    for (unsigned i = 0; i < n; i++) {
        struct blkfront_sg sg = { data, r.bytes };
        struct blkfront_req rq = { .op = r.op, .sector = r.sector, .nr_sectors = r.nr_sectors,
                                   .sg = &sg, .nsg = r.bytes ? 1 : 0, .done = done_cb };
        if (r.op == BLKFRONT_DISCARD) {
            rq.sector = r.ranges[i].sector;
            rq.nr_sectors = r.ranges[i].nr_sectors;
            rq.nsg = 0;
        }
        struct done w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
        rq.arg = &w;
        if (blkfront_submit(bf, &rq) != 0)
            return 0xff;
        pthread_mutex_lock(&w.m);
        while (w.calls == 0)
            pthread_cond_wait(&w.c, &w.m);
        pthread_mutex_unlock(&w.m);
        if (w.status) {
            scsi_disk_io_failed(&r, w.status);
            return r.status;
        }
    }
    return SCSI_STATUS_GOOD;
}

static void test_end_to_end_through_blkfront(void)
{
    struct sim_xen *x = sim_xen_create(&(struct sim_xen_opts){ .quiet = true });
    struct sim_domain *d0 = sim_domain_create(x, 0, 512);
    struct sim_domain *g = sim_domain_create_ex(x, 1, &(struct sim_domain_opts){ .max_pages = 16384 });
    REQUIRE(d0 && g);
    const struct gp_platform *p = sim_domain_platform(g);
    struct xs_client *xs = NULL;
    REQUIRE(xs_client_create(p, NULL, &xs) == 0);
    struct sim_blkback *bb = sim_blkback_create(x, d0, 1, 768, &(struct sim_blkback_opts){ .sectors = 16384 });
    struct blkfront *bf = NULL;
    REQUIRE(bb && blkfront_create(p, xs, "device/vbd/768", NULL, &bf) == 0);
    REQUIRE(blkfront_connect(bf, GP_S(5)) == 0);
    struct blkfront_info bi;
    blkfront_get_info(bf, &bi);
    struct scsi_disk d;
    scsi_disk_init(&d, &bi, 768);

    uint8_t cap[8], rc10[10] = { 0x25 };
    CHECK_EQ(run(bf, &d, rc10, 10, cap, 8), SCSI_STATUS_GOOD);
    CHECK(!memcmp(cap, "\x00\x00\x3f\xff\x00\x00\x02\x00", 8));
    static uint8_t out[64 * 512], in[64 * 512];
    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)(i * 13 + (i >> 9));
    uint8_t w10[10] = { 0x2a, 0, 0, 0, 0x10, 0x00, 0, 0, 64, 0 };        /* LBA 4096 */
    CHECK_EQ(run(bf, &d, w10, 10, out, sizeof(out)), SCSI_STATUS_GOOD);
    CHECK(!memcmp(sim_blkback_disk(bb) + 4096 * 512, out, sizeof(out)));
    uint8_t r16[16] = { 0x88, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x00, 0, 0, 0, 64 };
    CHECK_EQ(run(bf, &d, r16, 16, in, sizeof(in)), SCSI_STATUS_GOOD);
    CHECK(!memcmp(in, out, sizeof(in)));
    uint8_t sync[10] = { 0x35 };
    CHECK_EQ(run(bf, &d, sync, 10, NULL, 0), SCSI_STATUS_GOOD);
    uint8_t pl[24] = { 0, 22, 0, 16 };
    put_unmap_desc(pl + 8, 4100, 8);
    uint8_t unmap[10] = { 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0 };
    CHECK_EQ(run(bf, &d, unmap, 10, pl, sizeof(pl)), SCSI_STATUS_GOOD);
    static const uint8_t zero[8 * 512];
    CHECK(!memcmp(sim_blkback_disk(bb) + 4100 * 512, zero, sizeof(zero)));
    CHECK(!memcmp(sim_blkback_disk(bb) + 4096 * 512, out, 4 * 512));    /* neighbours kept */
    uint8_t past[10] = { 0x28, 0, 0, 0, 0x3f, 0xff, 0, 0, 2, 0 };        /* last LBA + 1 */
    CHECK_EQ(run(bf, &d, past, 10, in, sizeof(in)), SCSI_STATUS_CHECK_CONDITION);
    blkfront_destroy(bf);
    sim_blkback_destroy(bb);
    xs_client_destroy(xs);
    sim_domain_destroy(g);
    sim_domain_destroy(d0);
    sim_xen_destroy(x);
}

int main(void)
{
    GP_TEST_RUN(test_inquiry_and_vpd);
    GP_TEST_RUN(test_read_capacity);
    GP_TEST_RUN(test_read_write_decoding);
    GP_TEST_RUN(test_unmap_parameter_list);
    GP_TEST_RUN(test_mode_sense_and_cdrom);
    GP_TEST_RUN(test_end_to_end_through_blkfront);
    return gp_test_finish();
}
