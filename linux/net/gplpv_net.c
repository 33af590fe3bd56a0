/*
 * gplpv-net: connects the core's netfront to device/vif/<id> from a Linux
 * domU's user space (lxp) and bridges it to a TAP interface: frames the
 * domU's stack sends on the TAP go out through netfront and netback,
 * frames netfront receives go up the TAP.  Checksum offload and TCP GSO
 * are mapped to TAP's virtio-net header (lxnet_vnet.c).
 *
 *   gplpv-net [options] VIF      VIF: an id under device/vif ("0"),
 *                                "device/vif/0", or "auto" (the first)
 *   --tap NAME       the interface name (default gpnet0); its MAC is the vif's
 *   --no-offload     neither TAP nor netfront take checksum offload or GSO
 *   --queues N       netfront queues (default 2)
 *   --ready FILE     create FILE once frames flow
 *   -v / -q          more / less logging
 *
 * It leaves on SIGTERM/SIGINT or when the vif disappears, printing its
 * counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "../common/lxprog.h"
#include "gplpv/log.h"
#include "lxnet.h"
#include "lxp.h"

#define LXNET_MAX_INFLIGHT 512u
#define LXNET_BUF (LXNET_VNET_HDR_LEN + NETPKT_MAX_FRAME + 64u)

struct lxnet_txbuf {
    struct netfront_tx t;
    struct netpkt_frag frag;
    uint8_t data[];
};

struct lxnet {
    struct gp_platform *p;
    struct xs_client *xs;
    struct netfront *nf;
    struct netfront_info info;
    char node[XENBUS_PATH_MAX];
    char tap_name[IFNAMSIZ];
    int tap, stop_fd;
    bool offload;
    pthread_mutex_t lock;
    pthread_cond_t room;
    unsigned inflight;
    uint8_t *rxbuf;                     /* used in the rx callback only (one thread) */
    atomic_ullong tx_frames, tx_bytes, tx_gso, tx_csum, tx_errors, tx_bad;
    atomic_ullong rx_frames, rx_bytes, rx_gso, rx_valid, rx_errors;
    atomic_bool leaving;
    struct xs_watch *gone_watch;
};

static struct lxnet lxnet_m;

static void lxnet_usage(void)
{
    fprintf(stderr, "usage: gplpv-net [--tap NAME] [--no-offload] [--queues N] [--ready FILE]"
                    " [-v|-q] VIF\n");
    exit(2);
}

static void lxnet_leave(const char *why)
{
    struct lxnet *n = &lxnet_m;
    if (atomic_exchange(&n->leaving, true))
        return;
    fprintf(stderr, "gplpv-net: %s: leaving\n", why);
    uint64_t one = 1;
    if (write(n->stop_fd, &one, sizeof(one)) < 0)
        fprintf(stderr, "gplpv-net: stop: %s\n", strerror(errno));
}

static void lxnet_node_changed(void *arg, const char *path, const char *token)
{
    struct lxnet *n = arg;
    (void)path;
    (void)token;
    if (lxprog_node_gone(n->xs, n->node))
        lxnet_leave("the vif was removed");
}

/* [any] netfront received a frame: up the TAP. */
static void lxnet_rx(void *arg, const struct netfront_rx *fr)
{
    struct lxnet *n = arg;
    size_t len = 0;
    if (lxnet_rx_to_vnet(fr, n->rxbuf, LXNET_BUF, &len) != 0) {
        atomic_fetch_add(&n->rx_errors, 1);
        return;
    }
    ssize_t w = write(n->tap, n->rxbuf, len);
    if (w != (ssize_t)len) {
        atomic_fetch_add(&n->rx_errors, 1);
        return;
    }
    atomic_fetch_add(&n->rx_frames, 1);
    atomic_fetch_add(&n->rx_bytes, fr->len);
    if (fr->gso != NETFRONT_GSO_NONE)
        atomic_fetch_add(&n->rx_gso, 1);
    if (fr->csum == NETFRONT_CSUM_GOOD)
        atomic_fetch_add(&n->rx_valid, 1);
}

static void lxnet_tx_done(void *arg, struct netfront_tx *t, int status)
{
    struct lxnet *n = &lxnet_m;
    struct lxnet_txbuf *b = arg;
    (void)t;
    if (status)
        atomic_fetch_add(&n->tx_errors, 1);
    free(b);
    pthread_mutex_lock(&n->lock);
    n->inflight--;
    pthread_cond_signal(&n->room);
    pthread_mutex_unlock(&n->lock);
}

/* Frames from the TAP to netfront, until told to stop. */
static void lxnet_pump(struct lxnet *n)
{
    for (;;) {
        pthread_mutex_lock(&n->lock);
        while (n->inflight >= LXNET_MAX_INFLIGHT && !atomic_load(&n->leaving))
            pthread_cond_wait(&n->room, &n->lock);
        pthread_mutex_unlock(&n->lock);
        struct pollfd pf[2] = { { n->tap, POLLIN, 0 }, { n->stop_fd, POLLIN, 0 } };
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pf[1].revents || atomic_load(&n->leaving))
            break;
        struct lxnet_txbuf *b = malloc(sizeof(*b) + LXNET_BUF);
        if (!b)
            break;
        ssize_t len = read(n->tap, b->data, LXNET_BUF);
        if (len < 0 && (errno == EINTR || errno == EAGAIN)) {
            free(b);
            continue;
        }
        if (len <= 0) {
            fprintf(stderr, "gplpv-net: reading %s: %s\n", n->tap_name,
                    len < 0 ? strerror(errno) : "EOF");
            free(b);
            break;
        }
        if (lxnet_vnet_to_tx(b->data, (size_t)len, &b->frag, &b->t) != 0) {
            atomic_fetch_add(&n->tx_bad, 1);
            free(b);
            continue;
        }
        b->t.done = lxnet_tx_done;
        b->t.arg = b;
        bool gso = b->t.gso != NETFRONT_GSO_NONE, csum = b->t.flags & NETFRONT_TX_CSUM;
        uint32_t flen = b->t.len;
        pthread_mutex_lock(&n->lock);
        n->inflight++;
        pthread_mutex_unlock(&n->lock);
        int err = netfront_send(n->nf, &b->t);
        if (err) {
            atomic_fetch_add(&n->tx_bad, 1);
            lxnet_tx_done(b, &b->t, err);
            continue;
        }
        atomic_fetch_add(&n->tx_frames, 1);
        atomic_fetch_add(&n->tx_bytes, flen);
        if (gso)
            atomic_fetch_add(&n->tx_gso, 1);
        if (csum)
            atomic_fetch_add(&n->tx_csum, 1);
    }
}

static int lxnet_tap_open(struct lxnet *n)
{
    n->tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (n->tap < 0) {
        fprintf(stderr, "gplpv-net: /dev/net/tun: %s (is tun loaded?)\n", strerror(errno));
        return GP_ENODEV;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", n->tap_name);
    int hdr = LXNET_VNET_HDR_LEN;
    if (ioctl(n->tap, TUNSETIFF, &ifr) < 0 || ioctl(n->tap, TUNSETVNETHDRSZ, &hdr) < 0) {
        fprintf(stderr, "gplpv-net: creating %s: %s\n", n->tap_name, strerror(errno));
        return GP_EIO;
    }
    /* What the kernel may hand us: only what netfront can pass on (it
     * does checksums and segmentation in software when netback cannot). */
    unsigned off = n->offload ? TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN : 0;
    if (ioctl(n->tap, TUNSETOFFLOAD, off) < 0) {
        fprintf(stderr, "gplpv-net: TUNSETOFFLOAD: %s\n", strerror(errno));
        return GP_EIO;
    }
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return GP_EIO;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", n->tap_name);
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    memcpy(ifr.ifr_hwaddr.sa_data, n->info.mac, 6);
    int rc = ioctl(s, SIOCSIFHWADDR, &ifr);
    close(s);
    if (rc < 0) {
        fprintf(stderr, "gplpv-net: setting the MAC of %s: %s\n", n->tap_name, strerror(errno));
        return GP_EIO;
    }
    return 0;
}

static void lxnet_report(struct lxnet *n)
{
    struct netfront_stats s;
    struct lxp_stats ps;
    netfront_get_stats(n->nf, &s);
    lxp_get_stats(n->p, &ps);
    printf("gplpv-net: tap: tx_frames=%llu tx_mib=%llu tx_gso=%llu tx_csum_offload=%llu "
           "tx_errors=%llu tx_refused=%llu rx_frames=%llu rx_mib=%llu rx_gso=%llu "
           "rx_validated=%llu rx_errors=%llu\n",
           (unsigned long long)n->tx_frames, (unsigned long long)(n->tx_bytes >> 20),
           (unsigned long long)n->tx_gso, (unsigned long long)n->tx_csum,
           (unsigned long long)n->tx_errors, (unsigned long long)n->tx_bad,
           (unsigned long long)n->rx_frames, (unsigned long long)(n->rx_bytes >> 20),
           (unsigned long long)n->rx_gso, (unsigned long long)n->rx_valid,
           (unsigned long long)n->rx_errors);
    printf("gplpv-net: netfront: tx %llu frames %llu slots %llu sw-segments %llu sw-csum "
           "%llu errors; rx %llu frames %llu slots %llu csum-filled %llu csum-bad %llu dropped; "
           "%llu bad responses\n",
           (unsigned long long)s.tx_frames, (unsigned long long)s.tx_slots,
           (unsigned long long)s.tx_sw_segments, (unsigned long long)s.tx_sw_csum,
           (unsigned long long)s.tx_errors, (unsigned long long)s.rx_frames,
           (unsigned long long)s.rx_slots, (unsigned long long)s.rx_csum_filled,
           (unsigned long long)s.rx_csum_bad, (unsigned long long)s.rx_dropped,
           (unsigned long long)s.bad_responses);
    printf("gplpv-net: platform: %llu gntalloc pages, %llu grants, %llu rebacks, %llu events, "
           "%llu notifies, %u errors logged\n", (unsigned long long)ps.pages,
           (unsigned long long)ps.grants, (unsigned long long)ps.rebacks,
           (unsigned long long)ps.events, (unsigned long long)ps.notifies, ps.errors);
}

int main(int argc, char **argv)
{
    struct lxnet *n = &lxnet_m;
    struct lxp_opts po = { .name = "gplpv-net", .level = GP_LOG_INFO };
    struct netfront_opts no = { .max_queues = 2 };
    const char *vif = NULL, *ready = NULL;
    snprintf(n->tap_name, sizeof(n->tap_name), "gpnet0");
    n->offload = true;
    n->tap = n->stop_fd = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--tap") && more)
            snprintf(n->tap_name, sizeof(n->tap_name), "%s", argv[++i]);
        else if (!strcmp(a, "--no-offload"))
            n->offload = false;
        else if (!strcmp(a, "--queues") && more)
            no.max_queues = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--ready") && more)
            ready = argv[++i];
        else if (!strcmp(a, "-v"))
            po.level = GP_LOG_DEBUG;
        else if (!strcmp(a, "-q"))
            po.level = GP_LOG_WARN;
        else if (a[0] != '-' && !vif)
            vif = a;
        else
            lxnet_usage();
    }
    if (!vif)
        lxnet_usage();
    setvbuf(stdout, NULL, _IOLBF, 0);
    lxprog_signals(lxnet_leave);
    pthread_mutex_init(&n->lock, NULL);
    pthread_cond_init(&n->room, NULL);
    n->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    n->rxbuf = malloc(LXNET_BUF);
    if (n->stop_fd < 0 || !n->rxbuf)
        return 1;

    gp_domid_t peer;
    if (lxprog_open(&po, "vif", vif, &n->p, &n->xs, n->node, sizeof(n->node), &peer) != 0)
        return 1;
    int err;
    no.no_gso = no.no_csum_offload = !n->offload;
    no.rx = lxnet_rx;
    no.arg = n;
    err = netfront_create(n->p, n->xs, n->node, &no, &n->nf);
    if (!err) {
        netfront_get_info(n->nf, &n->info);     /* the MAC, for the TAP */
        err = lxnet_tap_open(n);
    }
    if (!err)
        err = netfront_connect(n->nf, GP_S(30));
    if (err) {
        fprintf(stderr, "gplpv-net: %s: %s\n", n->node, gp_strerror(err));
        if (n->nf)
            netfront_destroy(n->nf);
        lxp_close(n->p, n->xs);
        return 1;
    }
    netfront_get_info(n->nf, &n->info);
    const struct netfront_info *in = &n->info;
    printf("gplpv-net: %s connected to backend domain %u as %s, mac "
           "%02x:%02x:%02x:%02x:%02x:%02x, %u queue(s), backend takes sg %d gso4 %d gso6 %d "
           "csum %d csum6 %d, offloads %s\n", n->node, peer, n->tap_name, in->mac[0], in->mac[1],
           in->mac[2], in->mac[3], in->mac[4], in->mac[5], in->queues, in->sg, in->gso_tcpv4,
           in->gso_tcpv6, in->csum_offload, in->ipv6_csum_offload, n->offload ? "on" : "off");
    xs_watch_add(n->xs, n->node, lxnet_node_changed, n, &n->gone_watch);
    lxprog_ready(ready);
    lxnet_pump(n);
    if (n->gone_watch)
        xs_watch_remove(n->xs, n->gone_watch);
    lxnet_report(n);
    netfront_destroy(n->nf);
    close(n->tap);
    lxp_close(n->p, n->xs);
    printf("gplpv-net: %s closed\n", n->node);
    return 0;
}
