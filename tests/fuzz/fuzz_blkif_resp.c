/* libFuzzer target: arbitrary blkif responses.  A blkfront data path is
 * attached to a ring page the harness owns; each input submits a few
 * requests of different shapes, then writes its bytes as the backend's
 * responses (ids, operations, statuses, producer index) and delivers the
 * event.  Whatever the bytes: no crash, no access outside our buffers
 * (ASan), and every request completes exactly once (checked after the
 * device is torn down).  With bit 7 of the second byte set the requests
 * are given back first (blkfront_abandon, an OS's reset) and their
 * buffers taken away: the responses may then touch none of them. */
#include <stdint.h>
#include <string.h>

#include "gp_fuzz_blkif.h"
static void fz_late_done(void *arg, struct blkfront_req *r, int status)
{
    (void)arg; (void)r; (void)status;
    __builtin_trap();          /* a request given back completed again */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_platform_once(2048, true, 1);
    if (size < 2)
        return 0;
    struct blkfront *bf = NULL;
    bool persistent = data[0] & 1;
    if (blkfront_attach_raw(&fz_plat, fz_rings[0], 1u << 16, persistent, (data[0] & 2) ? 64 : 0, &bf))
        return 0;
    static uint8_t buf[8][70000];
    static struct blkfront_sg sg[8];
    static struct blkfront_req req[8];
    static const uint32_t sizes[8] = { 1, 8, 16, 100, 130, 1, 8, 64 };
    unsigned nreq = 1 + (data[1] & 7);
    memset(fz_calls, 0, sizeof(fz_calls));
    for (unsigned i = 0; i < nreq; i++) {
        sg[i] = (struct blkfront_sg){ buf[i] + (i * 7) % 13, sizes[i] * 512 + 100 };
        req[i] = (struct blkfront_req){ .op = i % 3 == 2 ? BLKFRONT_WRITE : BLKFRONT_READ,
                                        .sector = i * 200, .nr_sectors = sizes[i],
                                        .sg = &sg[i], .nsg = 1, .done = fz_blkif_done,
                                        .arg = (void *)(intptr_t)i };
        if (i == 5)
            req[i] = (struct blkfront_req){ .op = BLKFRONT_FLUSH, .done = fz_blkif_done,
                                            .arg = (void *)(intptr_t)i };
        if (blkfront_submit(bf, &req[i]) != 0)
            fz_calls[i] = 1;   /* rejected synchronously: counts as its completion */
    }
    if (data[1] & 0x80) {
        blkfront_abandon(bf, GP_ECANCELED);
        fz_check_once(nreq);       /* not given back at once, or twice */
        /* The caller has them back: any later use of a request, its list
         * or its buffer by blkfront lands in the trap (ASan: 1 byte). */
        static uint8_t trap[1];
        static struct blkfront_sg trap_sg = { trap, 1 };
        for (unsigned i = 0; i < nreq; i++)
            req[i] = (struct blkfront_req){ .op = BLKFRONT_READ, .sector = 1, .nr_sectors = 1,
                                            .sg = &trap_sg, .nsg = 1, .done = fz_late_done };
    }
    /* The backend's turn: responses straight from the input. */
    fz_blkif_answer(bf, data, size, 2);
    blkfront_event(&bf->q[0], 0);
    blkfront_detach_raw(bf);
    fz_check_once(nreq);
    memset(fz_rings[0], 0, GP_PAGE_SIZE);
    return 0;
}
