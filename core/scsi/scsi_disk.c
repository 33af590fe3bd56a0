/* scsi_disk: CDBs to answers or blkfront operations (see scsi_disk.h).
 * Field positions follow SBC-3/SPC-4 (disks) and MMC (the CD-ROM subset). */
#include "gplpv/scsi_disk.h"

#include <string.h>

#include "gplpv/errors.h"
#include "scsi_disk_io.h"

/* ASC/ASCQ pairs used here. */
#define ASC_INVALID_OPCODE      0x20
#define ASC_LBA_OUT_OF_RANGE    0x21
#define ASC_INVALID_FIELD_CDB   0x24
#define ASC_INVALID_FIELD_PARAM 0x26
#define ASC_WRITE_PROTECTED     0x27
#define ASC_PARAM_LIST_LENGTH   0x1a
#define ASC_INTERNAL_FAILURE    0x44
#define ASC_COMMAND_ABORTED     0x00   /* with ABORTED COMMAND: no additional info */
#define ASC_INCOMPATIBLE_MEDIUM 0x30

#define SCSI_DISK_MAX_TRANSFER (1u << 24)  /* bytes per command we admit */

static uint32_t sd_be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t sd_be32(const uint8_t *p) { return sd_be16(p) << 16 | sd_be16(p + 2); }
static uint64_t sd_be64(const uint8_t *p) { return (uint64_t)sd_be32(p) << 32 | sd_be32(p + 4); }
static void sd_put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void sd_put32(uint8_t *p, uint32_t v) { sd_put16(p, v >> 16); sd_put16(p + 2, v); }
static void sd_put64(uint8_t *p, uint64_t v) { sd_put32(p, (uint32_t)(v >> 32)); sd_put32(p + 4, (uint32_t)v); }

static void sd_padded(uint8_t *dst, const char *src, size_t n)
{
    size_t l = strlen(src);
    memset(dst, ' ', n);
    memcpy(dst, src, l < n ? l : n);
}

void scsi_disk_sense(struct scsi_disk_result *r, uint8_t key, uint8_t asc, uint8_t ascq)
{
    r->io = false;
    r->status = SCSI_STATUS_CHECK_CONDITION;
    memset(r->sense, 0, sizeof(r->sense));
    r->sense[0] = 0x70;                  /* current error, fixed format */
    r->sense[2] = key;
    r->sense[7] = 10;                    /* additional sense length */
    r->sense[12] = asc;
    r->sense[13] = ascq;
    r->sense_len = 18;
    r->transferred = 0;
}

void scsi_disk_io_failed(struct scsi_disk_result *r, int status)
{
    if (status == GP_ENOTSUP)
        scsi_disk_sense(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
    else if (status == GP_ESHUTDOWN || status == GP_ETIMEDOUT)
        scsi_disk_sense(r, SCSI_SENSE_ABORTED_COMMAND, ASC_COMMAND_ABORTED, 0);
    else
        scsi_disk_sense(r, SCSI_SENSE_HARDWARE_ERROR, ASC_INTERNAL_FAILURE, 0);
}

void scsi_disk_init(struct scsi_disk *d, const struct blkfront_info *info, uint64_t id)
{
    memset(d, 0, sizeof(*d));
    d->info = *info;
    if (d->info.sector_size < 512 || d->info.sector_size % 512)
        d->info.sector_size = 512;
    memcpy(d->vendor, "Xen", 4);
    memcpy(d->product, info->cdrom ? "PV CDROM" : "PV Disk", info->cdrom ? 9 : 8);
    memcpy(d->revision, "1.0", 4);
    d->id = id;
    /* serial: the id in decimal */
    char tmp[21];
    int n = 0;
    uint64_t v = id;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < 20);
    for (int i = 0; i < n; i++)
        d->serial[i] = tmp[n - 1 - i];
}

/* Copy an answer built in 'buf' into the OS buffer, cut to the
 * allocation length and the buffer. */
static void sd_answer(struct scsi_disk_result *r, void *data, uint32_t data_len, uint32_t alloc,
                      const uint8_t *buf, uint32_t len)
{
    uint32_t n = len;
    if (n > alloc)
        n = alloc;
    if (n > data_len)
        n = data_len;
    if (n && data)
        memcpy(data, buf, n);
    r->status = SCSI_STATUS_GOOD;
    r->transferred = n;
}

static uint8_t sd_type(const struct scsi_disk *d)
{
    return d->info.cdrom ? 0x05 : 0x00;
}

static void sd_inquiry(const struct scsi_disk *d, const uint8_t *cdb, void *data, uint32_t data_len,
                       struct scsi_disk_result *r)
{
    uint8_t b[96];
    uint32_t alloc = sd_be16(cdb + 3);
    memset(b, 0, sizeof(b));
    b[0] = sd_type(d);
    if (!(cdb[1] & 1)) {
        if (cdb[2]) {
            scsi_disk_sense(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB, 0);
            return;
        }
        b[1] = (d->info.removable || d->info.cdrom) ? 0x80 : 0;
        b[2] = 0x05;                     /* SPC-3 */
        b[3] = 0x12;                     /* HiSup, response data format 2 */
        b[4] = 36 - 5;
        b[7] = 0x02;                     /* CmdQue */
        sd_padded(b + 8, d->vendor, 8);
        sd_padded(b + 16, d->product, 16);
        sd_padded(b + 32, d->revision, 4);
        sd_answer(r, data, data_len, alloc, b, 36);
        return;
    }
    uint32_t len;
    b[1] = cdb[2];
    switch (cdb[2]) {
    case 0x00: {                         /* supported VPD pages */
        static const uint8_t disk_pages[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 };
        unsigned n = d->info.cdrom ? 3 : sizeof(disk_pages);
        memcpy(b + 4, disk_pages, n);
        b[3] = (uint8_t)n;
        len = 4 + n;
        break;
    }
    case 0x80: {                         /* unit serial number */
        size_t n = strlen(d->serial);
        memcpy(b + 4, d->serial, n);
        b[3] = (uint8_t)n;
        len = 4 + (uint32_t)n;
        break;
    }
    case 0x83: {                         /* device identification: T10 vendor ID based */
        uint8_t *ds = b + 4;
        ds[0] = 0x02;                    /* code set ASCII */
        ds[1] = 0x01;                    /* association LU, type T10 vendor ID */
        sd_padded(ds + 4, "XEN", 8);
        memcpy(ds + 12, "vbd-", 4);
        size_t n = strlen(d->serial);
        memcpy(ds + 16, d->serial, n);
        ds[3] = (uint8_t)(12 + n);
        b[3] = (uint8_t)(4 + ds[3]);
        len = 4 + b[3];
        break;
    }
    case 0xb0: {                         /* block limits */
        if (d->info.cdrom)
            goto bad_page;
        uint32_t per_req = SCSI_DISK_MAX_TRANSFER / d->info.sector_size;
        b[3] = 0x3c;
        sd_put32(b + 8, per_req);        /* maximum transfer length */
        sd_put32(b + 12, 128 * 1024 / d->info.sector_size);
        if (d->info.discard) {
            uint32_t gran = d->info.discard_granularity / d->info.sector_size;
            sd_put32(b + 20, 0xffffffffu);               /* max unmap LBA count */
            sd_put32(b + 24, SCSI_DISK_MAX_RANGES);      /* max unmap descriptors */
            sd_put32(b + 28, gran ? gran : 1);
            uint32_t align = d->info.discard_alignment / d->info.sector_size;
            sd_put32(b + 32, 0x80000000u | (align & 0x7fffffffu));
        }
        len = 64;
        break;
    }
    case 0xb1:                           /* block device characteristics */
        if (d->info.cdrom)
            goto bad_page;
        b[3] = 0x3c;
        sd_put16(b + 4, 1);              /* non-rotating medium */
        len = 64;
        break;
    case 0xb2:                           /* logical block provisioning */
        if (d->info.cdrom)
            goto bad_page;
        b[3] = 4;
        b[5] = d->info.discard ? 0x80 : 0;   /* LBPU: UNMAP supported */
        b[6] = d->info.discard ? 2 : 0;      /* thin provisioned */
        len = 8;
        break;
    default:
    bad_page:
        scsi_disk_sense(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB, 0);
        return;
    }
    b[0] = sd_type(d);
    sd_answer(r, data, data_len, alloc, b, len);
}

static void sd_read_capacity(const struct scsi_disk *d, bool sixteen, const uint8_t *cdb,
                             void *data, uint32_t data_len, struct scsi_disk_result *r)
{
    uint8_t b[32];
    memset(b, 0, sizeof(b));
    uint64_t last = d->info.sectors ? d->info.sectors - 1 : 0;
    if (!sixteen) {
        sd_put32(b, last > 0xffffffffull ? 0xffffffffu : (uint32_t)last);
        sd_put32(b + 4, d->info.sector_size);
        sd_answer(r, data, data_len, 8, b, 8);
        return;
    }
    sd_put64(b, last);
    sd_put32(b + 8, d->info.sector_size);
    unsigned exp = 0;
    uint32_t phys = d->info.physical_sector_size;
    while (phys > d->info.sector_size << exp && exp < 15)
        exp++;
    b[13] = (uint8_t)exp;
    if (d->info.discard)
        b[14] = 0x80;                    /* LBPME */
    sd_answer(r, data, data_len, sd_be32(cdb + 10), b, 32);
}

/* LBA + count in sector_size units -> the blkfront operation. */
static void sd_rw(const struct scsi_disk *d, bool write, uint64_t lba, uint32_t count,
                  uint32_t data_len, struct scsi_disk_result *r)
{
    if (write && (d->info.readonly || d->info.cdrom)) {
        scsi_disk_sense(r, SCSI_SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED, 0);
        return;
    }
    if (lba > d->info.sectors || count > d->info.sectors - lba) {
        scsi_disk_sense(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
        return;
    }
    uint64_t bytes = (uint64_t)count * d->info.sector_size;
    if (bytes > SCSI_DISK_MAX_TRANSFER || bytes > data_len) {
        scsi_disk_sense(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB, 0);
        return;
    }
    r->status = SCSI_STATUS_GOOD;
    if (!count)
        return;                          /* nothing to move: GOOD */
    uint32_t per = d->info.sector_size / 512;
    r->io = true;
    r->op = write ? BLKFRONT_WRITE : BLKFRONT_READ;
    r->sector = lba * per;
    r->nr_sectors = count * per;
    r->bytes = (uint32_t)bytes;
}

static void sd_unmap(const struct scsi_disk *d, const uint8_t *cdb, const void *data,
                     uint32_t data_len, struct scsi_disk_result *r)
{
    if (!d->info.discard || d->info.cdrom) {
        scsi_disk_sense(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
        return;
    }
    if (d->info.readonly) {
        scsi_disk_sense(r, SCSI_SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED, 0);
        return;
    }
    uint32_t plen = sd_be16(cdb + 7);
    if (plen == 0) {
        r->status = SCSI_STATUS_GOOD;    /* no parameter list: nothing to do */
        return;
    }
    if (plen < 8 || plen > data_len || !data) {
        scsi_disk_sense(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH, 0);
        return;
    }
    const uint8_t *p = data;
    uint32_t desc_len = sd_be16(p + 2);
    if (desc_len % 16 || 8 + desc_len > plen) {
        scsi_disk_sense(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH, 0);
        return;
    }
    unsigned n = desc_len / 16;
    if (n > SCSI_DISK_MAX_RANGES) {
        scsi_disk_sense(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_PARAM, 0);
        return;
    }
    uint32_t per = d->info.sector_size / 512;
    r->nranges = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t lba = sd_be64(p + 8 + 16 * i);
        uint32_t count = sd_be32(p + 16 + 16 * i);
        if (lba > d->info.sectors || count > d->info.sectors - lba) {
            scsi_disk_sense(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
            return;
        }
        if (!count)
            continue;
        if ((uint64_t)count * per > 0xffffffffull) {
            scsi_disk_sense(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_PARAM, 0);
            return;
        }
        r->ranges[r->nranges].sector = lba * per;
        r->ranges[r->nranges].nr_sectors = count * per;
        r->nranges++;
    }
    r->status = SCSI_STATUS_GOOD;
    if (r->nranges) {
        r->io = true;
        r->op = BLKFRONT_DISCARD;
    }
}

/* MODE SENSE (6) and (10): the caching page (write cache on when the
 * backend can flush), no block descriptors, WP for read-only media. */
static void sd_mode_sense(const struct scsi_disk *d, bool ten, const uint8_t *cdb, void *data,
                          uint32_t data_len, struct scsi_disk_result *r)
{
    uint8_t b[64];
    unsigned page = cdb[2] & 0x3f, pc = cdb[2] >> 6;
    if (pc == 3) {
        scsi_disk_sense(r, SCSI_SENSE_ILLEGAL_REQUEST, 0x39, 0);   /* saving not supported */
        return;
    }
    if (page != 0x08 && page != 0x3f) {
        scsi_disk_sense(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB, 0);
        return;
    }
    memset(b, 0, sizeof(b));
    unsigned hdr = ten ? 8 : 4;
    uint8_t *pg = b + hdr;
    pg[0] = 0x08;
    pg[1] = 0x12;
    if (pc != 1 && d->info.flush)        /* changeable values: none */
        pg[2] = 0x04;                    /* WCE */
    uint32_t len = hdr + 20;
    uint8_t wp = (d->info.readonly || d->info.cdrom) ? 0x80 : 0;
    if (ten) {
        sd_put16(b, len - 2);
        b[3] = wp;
        sd_answer(r, data, data_len, sd_be16(cdb + 7), b, len);
    } else {
        b[0] = (uint8_t)(len - 1);
        b[2] = wp;
        sd_answer(r, data, data_len, cdb[4], b, len);
    }
}

static void sd_read_toc(const struct scsi_disk *d, const uint8_t *cdb, void *data, uint32_t data_len,
                        struct scsi_disk_result *r)
{
    uint8_t b[20];
    bool msf = cdb[1] & 0x02;
    if ((cdb[2] & 0x0f) != 0 || !d->info.cdrom) {
        scsi_disk_sense(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB, 0);
        return;
    }
    memset(b, 0, sizeof(b));
    sd_put16(b, 18);
    b[2] = 1;
    b[3] = 1;
    uint64_t lbas[2] = { 0, d->info.sectors };
    uint8_t tracks[2] = { 1, 0xaa };
    for (int i = 0; i < 2; i++) {
        uint8_t *t = b + 4 + 8 * i;
        t[1] = 0x14;                     /* ADR 1, data track */
        t[2] = tracks[i];
        if (msf) {
            uint64_t f = lbas[i] + 150;
            t[5] = (uint8_t)(f / (75 * 60));
            t[6] = (uint8_t)(f / 75 % 60);
            t[7] = (uint8_t)(f % 75);
        } else {
            sd_put32(t + 4, lbas[i] > 0xffffffffull ? 0xffffffffu : (uint32_t)lbas[i]);
        }
    }
    sd_answer(r, data, data_len, sd_be16(cdb + 7), b, 20);
}

void scsi_disk_execute(const struct scsi_disk *d, const uint8_t *cdb, unsigned cdb_len,
                       void *data, uint32_t data_len, struct scsi_disk_result *r)
{
    memset(r, 0, sizeof(*r));
    static const uint8_t group_len[8] = { 6, 10, 10, 0, 16, 12, 0, 0 };
    if (!cdb || cdb_len < 6 || cdb_len < group_len[cdb[0] >> 5]) {
        scsi_disk_sense(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
        return;
    }
    if (!data)
        data_len = 0;
    switch (cdb[0]) {
    case 0x00:                           /* TEST UNIT READY */
    case 0x1b:                           /* START STOP UNIT */
    case 0x1e:                           /* PREVENT ALLOW MEDIUM REMOVAL */
    case 0x16:                           /* RESERVE (6) */
    case 0x17:                           /* RELEASE (6) */
        r->status = SCSI_STATUS_GOOD;
        return;
    case 0x03: {                         /* REQUEST SENSE: nothing pending */
        uint8_t b[18] = { 0x70, 0, 0, 0, 0, 0, 0, 10 };
        sd_answer(r, data, data_len, cdb[4], b, 18);
        return;
    }
    case 0x12:
        sd_inquiry(d, cdb, data, data_len, r);
        return;
    case 0x25:
        sd_read_capacity(d, false, cdb, data, data_len, r);
        return;
    case 0x9e:
        if ((cdb[1] & 0x1f) == 0x10) {
            sd_read_capacity(d, true, cdb, data, data_len, r);
            return;
        }
        break;
    case 0x08:                           /* READ (6) / WRITE (6) */
    case 0x0a: {
        uint32_t count = cdb[4] ? cdb[4] : 256;
        sd_rw(d, cdb[0] == 0x0a, ((uint32_t)(cdb[1] & 0x1f) << 16) | sd_be16(cdb + 2), count,
              data_len, r);
        return;
    }
    case 0x28:
    case 0x2a:
        sd_rw(d, cdb[0] == 0x2a, sd_be32(cdb + 2), sd_be16(cdb + 7), data_len, r);
        return;
    case 0xa8:
    case 0xaa:
        sd_rw(d, cdb[0] == 0xaa, sd_be32(cdb + 2), sd_be32(cdb + 6), data_len, r);
        return;
    case 0x88:
    case 0x8a:
        sd_rw(d, cdb[0] == 0x8a, sd_be64(cdb + 2), sd_be32(cdb + 10), data_len, r);
        return;
    case 0x2f:                           /* VERIFY (10) / (16): range check only */
    case 0x8f: {
        uint64_t lba = cdb[0] == 0x2f ? sd_be32(cdb + 2) : sd_be64(cdb + 2);
        uint32_t count = cdb[0] == 0x2f ? sd_be16(cdb + 7) : sd_be32(cdb + 10);
        if (lba > d->info.sectors || count > d->info.sectors - lba)
            scsi_disk_sense(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
        else
            r->status = SCSI_STATUS_GOOD;
        return;
    }
    case 0x35:                           /* SYNCHRONIZE CACHE (10) / (16) */
    case 0x91:
        r->status = SCSI_STATUS_GOOD;
        if (d->info.flush || d->info.barrier) {
            r->io = true;
            r->op = BLKFRONT_FLUSH;
        }
        return;
    case 0x42:
        sd_unmap(d, cdb, data, data_len, r);
        return;
    case 0x1a:
        sd_mode_sense(d, false, cdb, data, data_len, r);
        return;
    case 0x5a:
        sd_mode_sense(d, true, cdb, data, data_len, r);
        return;
    case 0xa0: {                         /* REPORT LUNS: LUN 0 only */
        uint8_t b[16] = { 0, 0, 0, 8 };
        sd_answer(r, data, data_len, sd_be32(cdb + 6), b, 16);
        return;
    }
    case 0x43:
        sd_read_toc(d, cdb, data, data_len, r);
        return;
    case 0x46:                           /* GET CONFIGURATION: CD-ROM profile current */
        if (d->info.cdrom) {
            uint8_t b[8] = { 0, 0, 0, 4, 0, 0, 0, 0x08 };
            sd_answer(r, data, data_len, sd_be16(cdb + 7), b, 8);
            return;
        }
        break;
    default:
        break;
    }
    scsi_disk_sense(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
}
