/*
 * gplpv-blk: connects the core's blkfront to device/vbd/<id> from a
 * Linux domU's user space (lxp: /dev/xen/{xenbus,evtchn,gntalloc}) and
 * serves the disk to the domU kernel as /dev/nbdN.
 *
 *   gplpv-blk [options] VBD      VBD: an id under device/vbd ("51712"),
 *                                "device/vbd/51712", or "auto" (the first)
 *   --nbd DEV        the NBD device (default /dev/nbd0)
 *   --ready FILE     create FILE once the block device is usable
 *   --check          no NBD: write, read back and compare a few patterns
 *   --no-persistent, --no-indirect, --ring-order N, --queues N
 *   -v / -q          more / less logging
 *
 * It leaves on SIGTERM/SIGINT or when the vbd disappears from xenstore
 * (xl block-detach): the NBD device is disconnected, blkfront closed, and
 * the counters are printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/nbd.h>

#include "../common/lxprog.h"
#include "gplpv/log.h"
#include "lxblk.h"
#include "lxp.h"

struct lxblk_main {
    struct lxblk b;
    struct gp_platform *p;
    struct xs_client *xs;
    char node[XENBUS_PATH_MAX];
    const char *nbd_path, *ready;
    int nbd_fd;
    pthread_t doit;
    int doit_rc;
    atomic_bool leaving;
    struct xs_watch *gone_watch;
};

static struct lxblk_main lxblk_m;

static void lxblk_usage(void)
{
    fprintf(stderr, "usage: gplpv-blk [--nbd /dev/nbdN] [--ready FILE] [--check] [--no-persistent]\n"
                    "                 [--no-indirect] [--ring-order N] [--queues N] [-v|-q] VBD\n");
    exit(2);
}

static void lxblk_leave(const char *why)
{
    struct lxblk_main *m = &lxblk_m;
    if (atomic_exchange(&m->leaving, true))
        return;
    fprintf(stderr, "gplpv-blk: %s: disconnecting %s\n", why, m->nbd_path);
    if (m->nbd_fd >= 0)
        ioctl(m->nbd_fd, NBD_DISCONNECT);
    if (m->b.sock >= 0)
        shutdown(m->b.sock, SHUT_RD);
}

/* The vbd node went away (xl block-detach): leave. */
static void lxblk_node_changed(void *arg, const char *path, const char *token)
{
    struct lxblk_main *m = arg;
    (void)path;
    (void)token;
    if (lxprog_node_gone(m->xs, m->node))
        lxblk_leave("the vbd was removed");
}

static void *lxblk_doit(void *arg)
{
    struct lxblk_main *m = arg;
    m->doit_rc = ioctl(m->nbd_fd, NBD_DO_IT) < 0 ? errno : 0;
    return NULL;
}

struct lxblk_wait {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool done;
    int status;
};

static void lxblk_check_done(void *arg, struct blkfront_req *r, int status)
{
    struct lxblk_wait *w = arg;
    (void)r;
    pthread_mutex_lock(&w->m);
    w->done = true;
    w->status = status;
    pthread_cond_signal(&w->c);
    pthread_mutex_unlock(&w->m);
}

static int lxblk_check_io(struct blkfront *bf, enum blkfront_op op, uint64_t sector, void *buf,
                          uint32_t len)
{
    struct lxblk_wait w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0 };
    struct blkfront_sg sg = { buf, len };
    struct blkfront_req r = { .op = op, .sector = sector, .nr_sectors = len / 512,
                              .sg = &sg, .nsg = 1, .done = lxblk_check_done, .arg = &w };
    int err = blkfront_submit(bf, &r);
    if (err)
        return err;
    pthread_mutex_lock(&w.m);
    while (!w.done)
        pthread_cond_wait(&w.c, &w.m);
    pthread_mutex_unlock(&w.m);
    return w.status;
}

/* --check: patterns of 512 B to 1 MiB written and read back directly. */
static int lxblk_check(struct lxblk_main *m)
{
    uint32_t sizes[] = { 512, 4096, 65536, 1u << 20 };
    char *w = malloc((1u << 20) + 16), *r = malloc((1u << 20) + 16);
    int bad = 0;
    for (unsigned k = 0; w && r && k < 4; k++) {
        uint32_t sz = sizes[k];
        uint64_t sector = 2048 + (uint64_t)k * 4096;
        if ((sector + sz / 512) > m->b.info.sectors)
            break;
        for (uint32_t i = 0; i < sz; i++)
            w[i + 3] = (char)(k * 31 + i * 7 + (i >> 9));
        memset(r + 5, 0, sz);
        int e1 = lxblk_check_io(m->b.bf, BLKFRONT_WRITE, sector, w + 3, sz);
        int e2 = lxblk_check_io(m->b.bf, BLKFRONT_READ, sector, r + 5, sz);
        bool same = memcmp(w + 3, r + 5, sz) == 0;
        printf("gplpv-blk: check %u bytes at sector %llu: write %s, read %s, data %s\n", sz,
               (unsigned long long)sector, gp_strerror(e1), gp_strerror(e2),
               same ? "identical" : "DIFFERS");
        bad += e1 || e2 || !same;
    }
    free(w);
    free(r);
    return bad ? GP_EIO : 0;
}

static int lxblk_nbd_start(struct lxblk_main *m)
{
    int sv[2];
    m->nbd_fd = open(m->nbd_path, O_RDWR | O_CLOEXEC);
    if (m->nbd_fd < 0) {
        fprintf(stderr, "gplpv-blk: %s: %s (is nbd loaded?)\n", m->nbd_path, strerror(errno));
        return GP_ENODEV;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return GP_ENOMEM;
    m->b.sock = sv[0];
    const struct blkfront_info *in = &m->b.info;
    ioctl(m->nbd_fd, NBD_CLEAR_SOCK);
    if (ioctl(m->nbd_fd, NBD_SET_BLKSIZE, (unsigned long)in->sector_size) < 0 ||
        ioctl(m->nbd_fd, NBD_SET_SIZE_BLOCKS, (unsigned long)in->sectors) < 0 ||
        ioctl(m->nbd_fd, NBD_SET_FLAGS, (unsigned long)lxblk_nbd_flags(in)) < 0 ||
        ioctl(m->nbd_fd, NBD_SET_SOCK, (unsigned long)sv[1]) < 0) {
        fprintf(stderr, "gplpv-blk: setting up %s: %s\n", m->nbd_path, strerror(errno));
        return GP_EIO;
    }
    if (pthread_create(&m->doit, NULL, lxblk_doit, m) != 0)
        return GP_ENOMEM;
    /* The device is usable once the kernel started it and gave it its
     * capacity: sysfs "pid" appears a moment before "size" is set. */
    const char *base = strrchr(m->nbd_path, '/');
    char pidpath[128], sizepath[128];
    snprintf(pidpath, sizeof(pidpath), "/sys/block/%s/pid", base ? base + 1 : m->nbd_path);
    snprintf(sizepath, sizeof(sizepath), "/sys/block/%s/size", base ? base + 1 : m->nbd_path);
    unsigned long long want = in->sectors * (in->sector_size / 512u);
    for (int i = 0; i < 3000; i++) {
        struct stat st;
        unsigned long long have = 0;
        FILE *f = stat(pidpath, &st) == 0 ? fopen(sizepath, "r") : NULL;
        if (f) {
            if (fscanf(f, "%llu", &have) != 1)
                have = 0;
            fclose(f);
        }
        if (have && have == want)
            return 0;
        struct timespec ts = { 0, 10000000 };
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "gplpv-blk: %s did not start\n", m->nbd_path);
    return GP_ETIMEDOUT;
}

static void lxblk_report(struct lxblk_main *m)
{
    struct lxblk_counters *c = &m->b.c;
    struct blkfront_stats bs;
    struct lxp_stats ps;
    blkfront_get_stats(m->b.bf, &bs);
    lxp_get_stats(m->p, &ps);
    printf("gplpv-blk: nbd: %llu reads (%llu MiB), %llu writes (%llu MiB), %llu flushes, "
           "%llu discards, %llu errors, %llu refused\n",
           (unsigned long long)c->reads, (unsigned long long)(c->bytes_read >> 20),
           (unsigned long long)c->writes, (unsigned long long)(c->bytes_written >> 20),
           (unsigned long long)c->flushes, (unsigned long long)c->discards,
           (unsigned long long)c->errors, (unsigned long long)c->refused);
    printf("gplpv-blk: blkfront: %llu requests, %llu ring requests, %llu notifications, "
           "%llu grant ops, %llu responses, %llu bad responses, %llu requeued\n",
           (unsigned long long)bs.requests, (unsigned long long)bs.ring_requests,
           (unsigned long long)bs.notifications, (unsigned long long)bs.grant_ops,
           (unsigned long long)bs.responses, (unsigned long long)bs.bad_responses,
           (unsigned long long)bs.requeued);
    printf("gplpv-blk: platform: %llu gntalloc pages, %llu grants, %llu ends, %llu rebacks, "
           "%llu events, %llu notifies, %u errors logged\n",
           (unsigned long long)ps.pages, (unsigned long long)ps.grants,
           (unsigned long long)ps.grant_ends, (unsigned long long)ps.rebacks,
           (unsigned long long)ps.events, (unsigned long long)ps.notifies, ps.errors);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    struct lxblk_main *m = &lxblk_m;
    struct blkfront_opts bo = { .max_ring_page_order = 2, .max_indirect_segments = 256,
                                .max_queues = 4 };
    struct lxp_opts po = { .name = "gplpv-blk", .level = GP_LOG_INFO };
    bool check = false;
    const char *vbd = NULL;
    m->nbd_path = "/dev/nbd0";
    m->nbd_fd = -1;
    m->b.sock = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--nbd") && more)
            m->nbd_path = argv[++i];
        else if (!strcmp(a, "--ready") && more)
            m->ready = argv[++i];
        else if (!strcmp(a, "--check"))
            check = true;
        else if (!strcmp(a, "--no-persistent"))
            bo.no_persistent = true;
        else if (!strcmp(a, "--no-indirect"))
            bo.max_indirect_segments = 0;
        else if (!strcmp(a, "--ring-order") && more)
            bo.max_ring_page_order = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--queues") && more)
            bo.max_queues = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "-v"))
            po.level = GP_LOG_DEBUG;
        else if (!strcmp(a, "-q"))
            po.level = GP_LOG_WARN;
        else if (a[0] != '-' && !vbd)
            vbd = a;
        else
            lxblk_usage();
    }
    if (!vbd)
        lxblk_usage();
    setvbuf(stdout, NULL, _IOLBF, 0);
    lxprog_signals(lxblk_leave);
    gp_domid_t peer;
    if (lxprog_open(&po, "vbd", vbd, &m->p, &m->xs, m->node, sizeof(m->node), &peer) != 0)
        return 1;
    pthread_mutex_init(&m->b.lock, NULL);
    pthread_mutex_init(&m->b.tx_lock, NULL);
    pthread_cond_init(&m->b.drained, NULL);
    m->b.plat = m->p;
    m->b.verbose = po.level >= GP_LOG_DEBUG;
    int err = blkfront_create(m->p, m->xs, m->node, &bo, &m->b.bf);
    if (!err)
        err = blkfront_connect(m->b.bf, GP_S(30));
    if (err) {
        fprintf(stderr, "gplpv-blk: %s: connecting: %s\n", m->node, gp_strerror(err));
        if (m->b.bf)
            blkfront_destroy(m->b.bf);
        lxp_close(m->p, m->xs);
        return 1;
    }
    blkfront_get_info(m->b.bf, &m->b.info);
    const struct blkfront_info *in = &m->b.info;
    printf("gplpv-blk: %s connected to backend domain %u: %llu sectors of %u bytes%s, "
           "%u queue(s) of %u ring page(s), indirect %u, persistent %d, flush %d, "
           "discard %d\n", m->node, peer, (unsigned long long)in->sectors, in->sector_size,
           in->readonly ? " (read-only)" : "", in->queues, in->ring_pages,
           in->max_indirect_segments, in->persistent, in->flush, in->discard);
    int rc = 0;
    if (check) {
        rc = lxblk_check(m) ? 1 : 0;
    } else {
        xs_watch_add(m->xs, m->node, lxblk_node_changed, m, &m->gone_watch);
        err = lxblk_nbd_start(m);
        if (!err) {
            printf("gplpv-blk: serving %s as %s\n", m->node, m->nbd_path);
            lxprog_ready(m->ready);
            err = lxblk_nbd_serve(&m->b);
            if (err)
                fprintf(stderr, "gplpv-blk: NBD stream: %s\n", gp_strerror(err));
            lxblk_leave("the kernel disconnected");
            /* Every request is answered: closing our end ends the
             * kernel's receive side, and NBD_DO_IT returns. */
            shutdown(m->b.sock, SHUT_RDWR);
            pthread_join(m->doit, NULL);
            ioctl(m->nbd_fd, NBD_CLEAR_QUE);
            ioctl(m->nbd_fd, NBD_CLEAR_SOCK);
        }
        rc = err ? 1 : 0;
        if (m->gone_watch)
            xs_watch_remove(m->xs, m->gone_watch);
    }
    lxblk_report(m);
    blkfront_destroy(m->b.bf);
    lxp_close(m->p, m->xs);
    printf("gplpv-blk: %s closed\n", m->node);
    return rc;
}
