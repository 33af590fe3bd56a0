/* What the blkif fuzz targets on the raw platform (gp_fuzz_raw.h) share:
 * the completion callback that counts each request's completions, and the
 * backend's turn played from the input's bytes. */
#ifndef GP_FUZZ_BLKIF_H
#define GP_FUZZ_BLKIF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "blkif/blkfront_internal.h"
#include "gp_fuzz_raw.h"

static inline void fz_blkif_done(void *arg, struct blkfront_req *r, int status)
{
    (void)r; (void)status;
    fz_count(arg);
}

/* The input's bytes from off on, as up to 64 responses on queue 0's ring
 * (fz_rings[0]), then the producer index published; a last byte with bit 7
 * set makes the producer overshoot by that much. */
static inline void fz_blkif_answer(struct blkfront *bf, const uint8_t *data, size_t size,
                                   size_t off)
{
    blkif_sring_t *s = fz_rings[0];
    unsigned n = 0;
    while (off + sizeof(blkif_response_t) <= size && n < 64) {
        blkif_response_t r;
        memcpy(&r, data + off, sizeof(r));
        s->ring[(s->rsp_prod + n) % RING_SIZE(&bf->q[0].ring)].rsp = r;
        off += sizeof(r);
        n++;
    }
    uint32_t extra = off < size ? data[off] : 0;   /* producer may also overshoot */
    __atomic_store_n(&s->rsp_prod, s->rsp_prod + n + (extra & 0x80 ? extra : 0), __ATOMIC_RELEASE);
}

#endif
