/*
 * scsi_disk: the SCSI disk (and CD-ROM) a vbd presents to an OS that
 * speaks SCSI (StorPort on Windows).  It turns a CDB into either an
 * answer filled in right away (INQUIRY and its VPD pages, READ CAPACITY,
 * MODE SENSE, REPORT LUNS, ...) or the block operation blkfront performs
 * (read, write, flush, discard), and builds sense data for everything it
 * refuses.  Only the CDB and the data buffer the OS gave are read; every
 * length, LBA range and parameter list is checked first.  No OS calls:
 * the Windows shell only moves the result into its SRB.
 */
#ifndef GPLPV_SCSI_DISK_H
#define GPLPV_SCSI_DISK_H

#include <stdbool.h>
#include <stdint.h>

#include "gplpv/blkfront.h"

/* SCSI status codes and sense keys (SPC). */
#define SCSI_STATUS_GOOD            0x00
#define SCSI_STATUS_CHECK_CONDITION 0x02
#define SCSI_SENSE_NO_SENSE        0x0
#define SCSI_SENSE_NOT_READY       0x2
#define SCSI_SENSE_MEDIUM_ERROR    0x3
#define SCSI_SENSE_HARDWARE_ERROR  0x4
#define SCSI_SENSE_ILLEGAL_REQUEST 0x5
#define SCSI_SENSE_DATA_PROTECT    0x7
#define SCSI_SENSE_ABORTED_COMMAND 0xb

#define SCSI_DISK_MAX_RANGES 16   /* UNMAP block descriptors taken per command */

struct scsi_disk {
    struct blkfront_info info;    /* geometry and features from blkfront */
    char vendor[9];               /* INQUIRY branding (space padded on output) */
    char product[17];
    char revision[5];
    char serial[21];              /* unit serial number (VPD 0x80) */
    uint64_t id;                  /* device identifier (VPD 0x83), e.g. the vbd id */
};

struct scsi_disk_range {
    uint64_t sector;              /* 512-byte units, as blkfront takes them */
    uint32_t nr_sectors;
};

struct scsi_disk_result {
    uint8_t status;               /* SCSI_STATUS_* */
    uint8_t sense[18];            /* fixed-format sense data when CHECK CONDITION */
    unsigned sense_len;
    uint32_t transferred;         /* bytes of data filled in (inline answers) */
    /* When io is true the command is a block operation for blkfront: */
    bool io;
    enum blkfront_op op;
    uint64_t sector;              /* 512-byte units */
    uint32_t nr_sectors;
    uint32_t bytes;               /* data bytes the operation moves */
    unsigned nranges;             /* discard: the ranges (sector/nr_sectors unused) */
    struct scsi_disk_range ranges[SCSI_DISK_MAX_RANGES];
};

/* Set the defaults (vendor "Xen", product "PV Disk"/"PV CDROM", revision
 * "1.0") for a disk with this geometry. */
void scsi_disk_init(struct scsi_disk *d, const struct blkfront_info *info, uint64_t id);

/* Execute one CDB.  data/data_len: the OS's data buffer (data out for
 * writes and parameter lists, data in for answers).  Always fills r. */
void scsi_disk_execute(const struct scsi_disk *d, const uint8_t *cdb, unsigned cdb_len,
                       void *data, uint32_t data_len, struct scsi_disk_result *r);

/* Fill r with CHECK CONDITION and fixed-format sense (key, ASC, ASCQ). */
void scsi_disk_sense(struct scsi_disk_result *r, uint8_t key, uint8_t asc, uint8_t ascq);

/*
 * One command from the OS to its completion (scsi_disk_io.c): the CDB
 * decoded, an answer filled in or the block operation split into
 * blkfront requests (one per UNMAP range), their completions counted,
 * sense data built for a failure, and `done` called exactly once with the
 * final result.  The caller fills the fields above `result` and owns the
 * storage (a StorPort SRB extension: no allocation on this path); the
 * core owns the whole struct from scsi_disk_submit until `done` runs.
 */
struct scsi_disk_cmd {
    const uint8_t *cdb;
    unsigned cdb_len;
    void *data;                   /* the OS's buffer (answers, data out, parameter lists) */
    uint32_t data_len;
    /* Optional: where the `bytes` a read or write moves really are, when
     * not at `data` (Windows: StorPort's scatter/gather list).  Called at
     * most once, from inside scsi_disk_submit, before any block request
     * goes out; a GP_E* error completes the command with that status. */
    int (*map_data)(void *arg, uint32_t bytes, const struct blkfront_sg **sg, unsigned *nsg);
    /* [any] The one completion: from inside scsi_disk_submit for answers
     * and refusals, else from blkfront's completion of the last request. */
    void (*done)(void *arg, struct scsi_disk_cmd *c);
    void *arg;
    /* When done runs: the SCSI status, sense and byte count ... */
    struct scsi_disk_result result;
    /* ... and 0, or the GP_E* error that failed it (map_data's, or the
     * first of its blkfront requests to fail, e.g. blkfront_abandon's). */
    int status;
    /* owned by the core while submitted */
    struct blkfront_sg sg_one_;
    struct blkfront_req req_[SCSI_DISK_MAX_RANGES];
    unsigned pending_;
};

/* [any] Execute c's CDB against disk d on blkfront bf: c->done runs
 * exactly once, from inside the call or from blkfront's completion. */
void scsi_disk_submit(const struct scsi_disk *d, struct blkfront *bf, struct scsi_disk_cmd *c);

struct blkfront_dump_env;
/* The same for the crash-dump path (no interrupts): block operations go
 * through blkfront_dump_io and complete before this returns, UNMAP is
 * refused.  Fills r; returns 0 or the GP_E* error of the block operation. */
int scsi_disk_submit_polled(const struct scsi_disk *d, struct blkfront *bf,
                            const struct blkfront_dump_env *env, const uint8_t *cdb,
                            unsigned cdb_len, void *data, uint32_t data_len,
                            struct scsi_disk_result *r);

#endif
