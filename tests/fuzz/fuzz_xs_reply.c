/* libFuzzer target: arbitrary bytes as the xenstore reply stream.  Each
 * input answers one XS_READ (the first header's req_id is patched to the
 * request's when the input's first byte is odd, so matching replies are
 * explored too); whatever the bytes, the client must neither crash nor
 * overrun, and must return either a value or an error. */
#include <stdint.h>
#include <string.h>

#include "gplpv/xs.h"
#include "os/sim_os.h"

#include <xen/io/xs_wire.h>

static struct sim_os *fz_os;
static struct gp_platform fz_plat;
static const uint8_t *fz_data;
static size_t fz_len, fz_off;
static uint32_t fz_req_id;
static gp_work_fn fz_rx;
static void *fz_rx_arg;
static int fz_patch;

static int fz_send(void *ctx, const void *buf, size_t len)
{
    (void)ctx;
    struct xsd_sockmsg h;
    if (len >= sizeof(h)) {
        memcpy(&h, buf, sizeof(h));
        fz_req_id = h.req_id;
    }
    return 0;
}

static long fz_recv(void *ctx, void *buf, size_t len)
{
    (void)ctx;
    size_t n = fz_len - fz_off;
    if (n > len)
        n = len;
    memcpy(buf, fz_data + fz_off, n);
    /* Patch the req_id of the first header (bytes 4..7) as it is read. */
    for (size_t i = 0; fz_patch && i < n; i++) {
        size_t pos = fz_off + i;
        if (pos >= 4 && pos < 8)
            ((uint8_t *)buf)[i] = (uint8_t)(fz_req_id >> (8 * (pos - 4)));
    }
    fz_off += n;
    return (long)n;
}

static void fz_set_rx(void *ctx, gp_work_fn fn, void *arg)
{
    (void)ctx;
    fz_rx = fn;
    fz_rx_arg = arg;
}

static struct gp_xs_transport fz_t = { NULL, fz_send, fz_recv, fz_set_rx };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz_os) {
        fz_os = sim_os_create("fuzz", 4, 0x10, true);
        sim_os_fill(fz_os, &fz_plat);
    }
    if (size < 1)
        return 0;
    fz_patch = data[0] & 1;
    fz_data = data + 1;
    fz_len = size - 1;
    fz_off = 0;
    struct xs_client *c = NULL;
    if (xs_client_create(&fz_plat, &fz_t, &c) != 0)
        return 0;
    xs_client_set_timeout(c, GP_US(200));          /* 200 us: the stream ends quickly */
    char *v = NULL;
    size_t len = 0;
    if (xs_read(c, XS_TXN_NONE, "/fuzz", &v, &len) == 0) {
        if (strlen(v) > len)
            __builtin_trap();                  /* NUL-termination promise broken */
        xs_free(c, v);
    }
    xs_client_destroy(c);
    sim_os_drain(fz_os);
    return 0;
}
