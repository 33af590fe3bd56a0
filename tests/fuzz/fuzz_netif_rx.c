/* libFuzzer target: arbitrary netif rx and tx responses.  A netfront data
 * path is attached to two ring pages the harness owns; each input puts
 * bytes into the receive buffers (so that frames parse as IP, TCP, UDP
 * or not), sends a few frames, then writes its bytes as the backend's rx
 * responses (ids, offsets, sizes, flags, extra-info slots), tx responses
 * and producer indices, and delivers the event.  Whatever the bytes: no
 * crash, no access outside our buffers (ASan), every fragment handed up
 * lies inside a buffer page, and every frame sent completes exactly once
 * (checked after the device is torn down). */
#include <stdint.h>
#include <string.h>

#include "netif/netfront_internal.h"
#include "gp_fuzz_raw.h"

static void fz_done(void *arg, struct netfront_tx *t, int status)
{
    (void)t; (void)status;
    fz_count(arg);
}

static struct netfront *fz_nf;
static void fz_rx(void *arg, const struct netfront_rx *f)
{
    (void)arg;
    uint32_t total = 0;
    for (unsigned i = 0; i < f->nfrags; i++) {
        if (f->frags[i].len > GP_PAGE_SIZE)
            __builtin_trap();
        const uint8_t *va = f->frags[i].va;
        bool inside = false;
        for (unsigned k = 0; k < NETFRONT_RX_SLOTS && !inside; k++) {
            const uint8_t *pg = fz_nf->q[0].rx_pages[k].va;
            inside = va >= pg && va + f->frags[i].len <= pg + GP_PAGE_SIZE;
        }
        if (!inside)
            __builtin_trap();          /* a fragment outside our buffers */
        total += f->frags[i].len;
    }
    if (total != f->len)
        __builtin_trap();
    static uint8_t copy[NETPKT_MAX_FRAME];
    netpkt_read(f->frags, f->nfrags, 0, copy, f->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_platform_once(4096, false, 2);
    if (size < 3)
        return 0;
    struct netfront_opts o = { .rx_verify_csum = data[0] & 1, .rx = fz_rx };
    if (netfront_attach_raw(&fz_plat, fz_rings[0], fz_rings[1], &o, &fz_nf))
        return 0;
    struct netfront_queue *q = &fz_nf->q[0];
    unsigned ntx = (data[0] >> 1) & 7, nrx = data[1] & 63, ntxr = data[2] & 31;
    size_t off = 3;
    /* buffer contents: the same bytes at the start of the first pages */
    size_t content = size - off < 256 ? size - off : 256;
    for (unsigned k = 0; k < 4; k++)
        memcpy(q->rx_pages[k].va, data + off, content);
    off += content;
    /* frames to send: plain, checksum-offloaded, GSO */
    static uint8_t frame[70000];
    memset(frame, 0, 200);
    frame[12] = 0x08, frame[14] = 0x45, frame[16] = 0x27, frame[17] = 0x10;
    frame[23] = 6, frame[46] = 0x50;
    static struct netpkt_frag fr[8];
    static struct netfront_tx t[8];
    memset(fz_calls, 0, sizeof(fz_calls));
    for (unsigned i = 0; i < ntx; i++) {
        fr[i] = (struct netpkt_frag){ frame, 10014 };
        t[i] = (struct netfront_tx){ .frags = &fr[i], .nfrags = 1, .len = 60 + i * 1400,
                                     .flags = i & 1 ? NETFRONT_TX_CSUM : 0,
                                     .gso = i == 7 ? NETFRONT_GSO_TCPV4 : NETFRONT_GSO_NONE,
                                     .mss = 1400, .done = fz_done, .arg = (void *)(intptr_t)i };
        if (i == 7)
            t[i].len = 10014;
        if (netfront_send(fz_nf, &t[i]) != 0)
            fz_calls[i] = 1;           /* refused synchronously: its completion */
    }
    /* the backend's turn */
    netif_rx_sring_t *rs = fz_rings[1];
    for (unsigned n = 0; n < nrx && off + 8 <= size; n++, off += 8)
        memcpy(&rs->ring[(rs->rsp_prod + n) % NETFRONT_RX_SLOTS].rsp, data + off, 8);
    netif_tx_sring_t *ts = fz_rings[0];
    for (unsigned n = 0; n < ntxr && off + 4 <= size; n++, off += 4)
        memcpy(&ts->ring[(ts->rsp_prod + n) % NETFRONT_TX_SLOTS].rsp, data + off, 4);
    uint8_t extra = off < size ? data[off] : 0;   /* producers may overshoot */
    __atomic_store_n(&rs->rsp_prod, rs->rsp_prod + nrx + (extra & 0x80 ? extra & 0x7f : 0),
                     __ATOMIC_RELEASE);
    __atomic_store_n(&ts->rsp_prod, ts->rsp_prod + ntxr + (extra & 0x40 ? 300 : 0),
                     __ATOMIC_RELEASE);
    netfront_event(q, 0);
    netfront_detach_raw(fz_nf);
    fz_nf = NULL;
    fz_check_once(ntx);                /* a frame completed twice or never */
    memset(fz_rings[0], 0, GP_PAGE_SIZE);
    memset(fz_rings[1], 0, GP_PAGE_SIZE);
    return 0;
}
