/* libFuzzer target: arbitrary CDBs and data buffers against scsi_disk (the
 * SCSI layer between StorPort and blkfront).  Input: 2 bytes of disk shape
 * (sector size, flags), up to 16 bytes of CDB, the rest the data buffer.
 * Whatever the bytes: no crash, no access outside the buffer (ASan), an
 * answer never longer than the buffer, a block operation always inside the
 * disk and never moving more than the buffer holds, sense data whenever
 * the status is not GOOD. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gplpv/scsi_disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
    if (len < 3)
        return 0;
    uint8_t shape = in[0], cdb_len = (uint8_t)(in[1] % 17);
    in += 2;
    len -= 2;
    if (cdb_len > len)
        cdb_len = (uint8_t)len;
    struct blkfront_info bi = {
        .sectors = 1u << (10 + (shape & 7)),
        .sector_size = (shape & 8) ? 4096 : 512,
        .physical_sector_size = 4096,
        .readonly = shape & 16, .cdrom = shape & 32, .discard = shape & 64, .flush = shape & 128,
        .discard_granularity = 4096,
    };
    struct scsi_disk d;
    scsi_disk_init(&d, &bi, shape);
    uint32_t data_len = (uint32_t)(len - cdb_len);
    uint8_t *data = data_len ? malloc(data_len) : NULL;   /* exact size: ASan sees overruns */
    if (data)
        memcpy(data, in + cdb_len, data_len);
    struct scsi_disk_result r;
    scsi_disk_execute(&d, cdb_len ? in : NULL, cdb_len, data, data_len, &r);
    if (r.transferred > data_len)
        abort();
    if (r.status != SCSI_STATUS_GOOD && (r.sense_len != 18 || r.io))
        abort();
    if (r.io) {
        uint64_t limit = d.info.sectors * (d.info.sector_size / 512);
        if (r.op == BLKFRONT_READ || r.op == BLKFRONT_WRITE) {
            if (r.sector + r.nr_sectors > limit || r.bytes > data_len ||
                r.bytes != r.nr_sectors * 512u)
                abort();
        } else if (r.op == BLKFRONT_DISCARD) {
            if (!r.nranges || r.nranges > SCSI_DISK_MAX_RANGES)
                abort();
            for (unsigned i = 0; i < r.nranges; i++)
                if (r.ranges[i].sector + r.ranges[i].nr_sectors > limit)
                    abort();
        }
    }
    free(data);
    return 0;
}
