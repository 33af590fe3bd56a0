/* scsi_disk_io: one SCSI command from the OS to its one completion
 * (struct scsi_disk_cmd in scsi_disk.h).  The OS shell converts its
 * request into a command and the final result back; everything between -
 * the CDB, the blkfront requests a block operation becomes, counting
 * their completions, the sense for a failure - happens here. */
#include "gplpv/scsi_disk.h"

#include <string.h>

#include "gplpv/blkfront_dump.h"
#include "gplpv/errors.h"
#include "scsi_disk_io.h"

/* The final result of a block operation: GOOD with the bytes it moved,
 * or CHECK CONDITION with the sense for err. */
static void sd_io_result(struct scsi_disk_result *r, int err)
{
    if (err)
        scsi_disk_io_failed(r, err);
    else
        r->transferred = r->bytes;
}

static void sd_cmd_complete(struct scsi_disk_cmd *c)
{
    sd_io_result(&c->result, c->status);
    c->done(c->arg, c);
}

/* blkfront's completion, once per request of the command: the first
 * failure is kept, the last completion completes the command. */
static void sd_req_done(void *arg, struct blkfront_req *rq, int status)
{
    struct scsi_disk_cmd *c = arg;
    (void)rq;
    if (status) {
        int none = 0;
        __atomic_compare_exchange_n(&c->status, &none, status, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE);
    }
    if (__atomic_sub_fetch(&c->pending_, 1, __ATOMIC_ACQ_REL) == 0)
        sd_cmd_complete(c);
}

void scsi_disk_submit(const struct scsi_disk *d, struct blkfront *bf, struct scsi_disk_cmd *c)
{
    struct scsi_disk_result *r = &c->result;
    c->status = 0;
    scsi_disk_execute(d, c->cdb, c->cdb_len, c->data, c->data_len, r);
    if (!r->io) {                              /* answered or refused */
        c->done(c->arg, c);
        return;
    }
    const struct blkfront_sg *sg = NULL;
    unsigned nsg = 0;
    if (r->bytes && (r->op == BLKFRONT_READ || r->op == BLKFRONT_WRITE)) {
        if (c->map_data) {
            int err = c->map_data(c->arg, r->bytes, &sg, &nsg);
            if (err) {
                c->status = err;
                sd_cmd_complete(c);
                return;
            }
        } else {
            c->sg_one_ = (struct blkfront_sg){ c->data, r->bytes };
            sg = &c->sg_one_;
            nsg = 1;
        }
    }
    /* One request per UNMAP range, else one: blkfront splits a transfer
     * into ring requests itself and completes it once. */
    unsigned n = r->op == BLKFRONT_DISCARD ? r->nranges : 1;
    c->pending_ = n;
    for (unsigned i = 0; i < n; i++) {         /* c is ours until the last submit */
        struct blkfront_req *q = &c->req_[i];
        memset(q, 0, sizeof(*q));
        q->op = r->op;
        q->sector = r->op == BLKFRONT_DISCARD ? r->ranges[i].sector : r->sector;
        q->nr_sectors = r->op == BLKFRONT_DISCARD ? r->ranges[i].nr_sectors : r->nr_sectors;
        q->sg = sg;
        q->nsg = nsg;
        q->done = sd_req_done;
        q->arg = c;
        int err = blkfront_submit(bf, q);
        if (err)                               /* never queued: counted done here */
            sd_req_done(c, q, err);
    }
}

int scsi_disk_submit_polled(const struct scsi_disk *d, struct blkfront *bf,
                            const struct blkfront_dump_env *env, const uint8_t *cdb,
                            unsigned cdb_len, void *data, uint32_t data_len,
                            struct scsi_disk_result *r)
{
    scsi_disk_execute(d, cdb, cdb_len, data, data_len, r);
    if (!r->io)
        return 0;
    int err = GP_ENOTSUP;                      /* no discard while dumping */
    if (r->op == BLKFRONT_READ || r->op == BLKFRONT_WRITE || r->op == BLKFRONT_FLUSH)
        err = blkfront_dump_io(bf, r->op, r->sector, r->nr_sectors, data, env);
    sd_io_result(r, err);
    return err;
}
