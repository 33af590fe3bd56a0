/* libFuzzer target: the crash-dump path (blkfront_dump_io) reading
 * arbitrary responses.  A blkfront data path is attached to a ring page
 * the harness owns, some normal requests are put in flight, then a dump
 * write or read runs; the first time it waits, the input's bytes become
 * the backend's answers (ids, operations, statuses, producer index).
 * Whatever the bytes: no crash, no access outside our buffers (ASan), the
 * dump call returns, the normal path can take the ring back afterwards,
 * and every normal request completes exactly once (checked after the
 * device is torn down). */
#include <stdint.h>
#include <string.h>

#include "gp_fuzz_blkif.h"

/* The backend's turn, played the first time the dump path stalls. */
static const uint8_t *fz_data;
static size_t fz_size;
static struct blkfront *fz_bf;
static bool fz_answered;
static void fz_stall(void *arg, unsigned us)
{
    (void)arg; (void)us;
    if (fz_answered)
        return;
    fz_answered = true;
    fz_blkif_answer(fz_bf, fz_data, fz_size, 3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_platform_once(2048, true, 1);
    if (size < 3)
        return 0;
    struct blkfront *bf = NULL;
    if (blkfront_attach_raw(&fz_plat, fz_rings[0], 1u << 16, data[0] & 1, 0, &bf))
        return 0;
    bf->q[0].port = 1;                           /* the dump path wants a channel */
    if (blkfront_dump_enable(bf) != 0) {
        blkfront_detach_raw(bf);
        return 0;
    }
    static uint8_t buf[4][8192];
    static struct blkfront_sg sg[4];
    static struct blkfront_req req[4];
    unsigned nreq = data[1] & 3;
    memset(fz_calls, 0, sizeof(fz_calls));
    for (unsigned i = 0; i < nreq; i++) {
        sg[i] = (struct blkfront_sg){ buf[i], sizeof(buf[i]) };
        req[i] = (struct blkfront_req){ .op = BLKFRONT_WRITE, .sector = i * 64, .nr_sectors = 16,
                                        .sg = &sg[i], .nsg = 1, .done = fz_blkif_done,
                                        .arg = (void *)(intptr_t)i };
        if (blkfront_submit(bf, &req[i]) != 0)
            fz_calls[i] = 1;   /* rejected synchronously: counts as its completion */
    }
    /* The crash: the dump path takes the ring. */
    fz_data = data;
    fz_size = size;
    fz_bf = bf;
    fz_answered = false;
    static uint8_t dump[100 * 512];
    const struct blkfront_dump_env env = { fz_stall, NULL, 50 };
    enum blkfront_op op = (data[2] & 3) == 0 ? BLKFRONT_READ
                          : (data[2] & 3) == 1 ? BLKFRONT_FLUSH : BLKFRONT_WRITE;
    uint32_t n = 1 + data[2] % 100;
    blkfront_dump_io(bf, op, 4000, n, dump, &env);
    /* A cancelled hibernation: the normal path takes the ring back. */
    blkfront_event(&bf->q[0], 0);
    blkfront_detach_raw(bf);
    fz_check_once(nreq);
    memset(fz_rings[0], 0, GP_PAGE_SIZE);
    return 0;
}
