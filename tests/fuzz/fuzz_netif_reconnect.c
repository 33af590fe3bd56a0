/* libFuzzer target: netfront across reconnects to backends whose xenstore
 * answers and geometry come from the input.  One simulated Xen (dom0 and
 * a guest) lives for the whole run; each input makes a netback and a
 * netfront, then for each of up to 3 connections: the backend's feature
 * keys and multi-queue-max-queues as the input says (numbers, 0, huge,
 * negative, or raw bytes), frames of the input's sizes and GSO sent (some
 * held on the rings), then a restart (seen, unseen, or answering the old
 * ring late) to the next configuration.  Whatever the answers: no crash,
 * no access outside our memory (ASan), and after destroy every frame
 * completed exactly once. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "netif/netfront_internal.h"
#include "netback/sim_netback.h"
#include "os/sim_os.h"
#include "sim.h"

static struct sim_xen *fz_x;
static struct sim_domain *fz_d0, *fz_g;
static const struct gp_platform *fz_p;
static struct xs_client *fz_xs;

struct fz_in {
    const uint8_t *d;
    size_t n, at;
};

static uint8_t fz_byte(struct fz_in *in)
{
    return in->at < in->n ? in->d[in->at++] : 0;
}

#define FZ_MAX_FRAMES 96
static struct netfront_tx fz_tx[FZ_MAX_FRAMES];
static struct netpkt_frag fz_fr[FZ_MAX_FRAMES];
static unsigned fz_done_calls[FZ_MAX_FRAMES];
static uint8_t fz_frame[FZ_MAX_FRAMES][9000];

static void fz_done(void *arg, struct netfront_tx *t, int status)
{
    (void)arg;
    (void)status;
    __atomic_fetch_add(&fz_done_calls[t - fz_tx], 1, __ATOMIC_SEQ_CST);
}

static void fz_rx(void *arg, const struct netfront_rx *f)
{
    (void)arg;
    uint32_t total = 0;
    for (unsigned i = 0; i < f->nfrags; i++)
        total += f->frags[i].len;
    if (total != f->len || f->len > NETPKT_MAX_FRAME)
        __builtin_trap();
}

/* A TCP/IPv4 frame of 'payload' bytes (GSO when large and asked for). */
static void fz_make(unsigned i, uint32_t payload, bool gso)
{
    uint8_t *f = fz_frame[i];
    uint32_t len = 14 + 20 + 20 + payload;
    memset(f, 0, 54);
    memcpy(f, "\x00\x16\x3e\x00\x01\x01\x00\x16\x3e\x00\x02\x02\x08\x00", 14);
    f[14] = 0x45;
    f[16] = (uint8_t)((len - 14) >> 8), f[17] = (uint8_t)(len - 14);
    f[22] = 64, f[23] = 6;
    memcpy(f + 26, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
    f[34] = 0x30, f[35] = 0x39, f[37] = 0x50, f[46] = 0x50, f[47] = 0x18;
    for (uint32_t k = 0; k < payload; k++)
        f[54 + k] = (uint8_t)(i * 7 + k);
    fz_fr[i] = (struct netpkt_frag){ f, len };
    fz_tx[i] = (struct netfront_tx){ .frags = &fz_fr[i], .nfrags = 1, .len = len,
                                     .flags = NETFRONT_TX_CSUM, .done = fz_done };
    if (gso && payload > 1000) {
        fz_tx[i].gso = NETFRONT_GSO_TCPV4;
        fz_tx[i].mss = 536;
    }
}

static const char *const fz_keys[] = { "feature-sg", "feature-gso-tcpv4", "feature-gso-tcpv6",
                                       "feature-no-csum-offload", "feature-ipv6-csum-offload",
                                       "feature-split-event-channels", "feature-ctrl-ring",
                                       "feature-rx-copy", "multi-queue-max-queues" };

/* One connection's configuration: options for the simulated backend (what
 * it really does) and raw keys (what it says), both from the input. */
static void fz_configure(struct sim_netback *nb, struct fz_in *in)
{
    uint8_t fl = fz_byte(in), mq = fz_byte(in);
    struct sim_netback_opts o = { .no_ctrl_ring = fl & 1, .no_split = fl & 2, .no_sg = fl & 4,
                                  .no_gso = fl & 8, .no_csum_offload = fl & 16,
                                  .no_ipv6_csum = fl & 32, .no_rx_copy = (fl & 0xc0) == 0xc0 };
    o.max_queues = 1 + mq % 4;
    sim_netback_reconfigure(nb, &o);
    static const char *const counts[] = { NULL, "0", "-1", "99999999999999999999999", "4",
                                          "1", "2", "3", " 2", "0x4", "" };
    if (mq & 0x80)
        sim_netback_write_key(nb, "multi-queue-max-queues", counts[(mq >> 2) % 11]);
    /* raw values for a few keys: whatever bytes the input holds */
    for (unsigned k = fz_byte(in) % 4; k > 0; k--) {
        char v[12];
        unsigned key = fz_byte(in) % (sizeof(fz_keys) / sizeof(fz_keys[0]));
        unsigned len = fz_byte(in) % sizeof(v);
        for (unsigned j = 0; j < len; j++) {
            v[j] = (char)fz_byte(in);
            if (v[j] == 0)
                v[j] = '1';
        }
        v[len] = 0;
        sim_netback_write_key(nb, fz_keys[key], v);
    }
}

static bool fz_connected(struct netfront *nf, uint64_t connects, struct sim_netback *nb)
{
    struct sim_netback_stats st;
    for (int i = 0; i < 200; i++) {
        sim_netback_get_stats(nb, &st);
        if (st.connects >= connects && __atomic_load_n(&nf->connected, __ATOMIC_ACQUIRE))
            return true;
        usleep(500);
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz_x) {
        fz_x = sim_xen_create(&(struct sim_xen_opts){ .quiet = true });
        fz_d0 = sim_domain_create(fz_x, 0, 512);
        fz_g = sim_domain_create_ex(fz_x, 1, &(struct sim_domain_opts){ .max_pages = 16384 });
        fz_p = sim_domain_platform(fz_g);
        if (!fz_d0 || !fz_g || xs_client_create(fz_p, NULL, &fz_xs) != 0)
            __builtin_trap();
        sim_os_set_quiet(sim_domain_os(fz_g), true);
    }
    struct fz_in in = { data, size, 0 };
    memset(fz_done_calls, 0, sizeof(fz_done_calls));
    struct sim_netback *nb = sim_netback_create(fz_x, fz_d0, 1, 0,
                                                &(struct sim_netback_opts){ .max_queues = 4 });
    if (!nb)
        __builtin_trap();
    fz_configure(nb, &in);
    struct netfront *nf = NULL;
    /* our own cap (1 or 2: each queue costs 512 pages to set up), then
     * what the backend offers decides */
    struct netfront_opts fo = { .rx = fz_rx, .max_queues = 1 + (fz_byte(&in) & 1) };
    if (netfront_create(fz_p, fz_xs, "device/vif/0", &fo, &nf) != 0) {
        sim_netback_destroy(nb);
        return 0;
    }
    bool up = netfront_connect(nf, GP_MS(500)) == 0;
    unsigned sent = 0;
    uint64_t connects = up ? 1 : 0;
    unsigned conns = 1 + fz_byte(&in) % 3;
    for (unsigned c = 0; c < conns; c++) {
        uint8_t how = fz_byte(&in);
        bool hold = how & 1;
        sim_netback_hold_tx(nb, hold);
        for (unsigned n = fz_byte(&in) % 33; n > 0 && sent < FZ_MAX_FRAMES; n--) {
            uint32_t payload = ((uint32_t)fz_byte(&in) << 8 | fz_byte(&in)) % 8900;
            fz_make(sent, payload, fz_byte(&in) & 1);
            if (netfront_send(nf, &fz_tx[sent]) != 0)
                fz_done_calls[sent]++;      /* refused: that is its completion */
            sent++;
        }
        if (c + 1 == conns)
            break;
        if ((how >> 1) % 3 == 2 && up && hold) {
            sim_netback_restart_late_begin(nb);
            fz_configure(nb, &in);
            sim_netback_restart_late_end(nb);
        } else {
            /* the configuration is read when the backend comes back */
            fz_configure(nb, &in);
            sim_netback_restart_unseen(nb);
        }
        sim_netback_hold_tx(nb, false);
        connects++;
        up = fz_connected(nf, connects, nb);
        if (!up) {
            struct sim_netback_stats st;
            sim_netback_get_stats(nb, &st);
            connects = st.connects;
        }
    }
    sim_netback_hold_tx(nb, false);
    netfront_destroy(nf);
    for (unsigned i = 0; i < sent; i++)
        if (__atomic_load_n(&fz_done_calls[i], __ATOMIC_SEQ_CST) != 1) {
            fprintf(stderr, "frame %u completed %u times\n", i, fz_done_calls[i]);
            __builtin_trap();
        }
    sim_netback_destroy(nb);
    return 0;
}
