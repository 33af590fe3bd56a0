/*
 * lxblk_nbd: the NBD transmission phase (the kernel's nbd driver on the
 * other end of a socket pair, set up with the NBD ioctls: no handshake).
 * Every request is checked (magic, command, alignment, range) before it
 * becomes a blkfront request; replies go back as blkfront completes them,
 * in any order, matched by the kernel through the handle we echo.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/nbd.h>

#include "../common/lxio.h"
#include "lxblk.h"

#define LXBLK_REQ_LEN 28u            /* magic, type, handle[8], from, len */
#define LXBLK_MAX_LEN (32u << 20)    /* the kernel's nbd sends at most 32 MiB */

struct lxblk_io {
    struct blkfront_req r;
    struct blkfront_sg sg;
    struct lxblk *b;
    uint32_t cmd, len;
    char handle[8];
    char *buf;
};

unsigned lxblk_nbd_flags(const struct blkfront_info *info)
{
    unsigned f = NBD_FLAG_HAS_FLAGS;
    if (info->readonly)
        f |= NBD_FLAG_READ_ONLY;
    if (info->flush || info->barrier)
        f |= NBD_FLAG_SEND_FLUSH;
    if (info->discard)
        f |= NBD_FLAG_SEND_TRIM;
    return f;
}

static int lxblk_read_full(int fd, void *buf, size_t len)
{
    int r = lxio_full(fd, buf, len, false);
    return r == 0 ? 0 : r > 0 ? GP_ESHUTDOWN : GP_EIO;
}

static int lxblk_errno_of(int status)
{
    switch (status) {
    case 0: return 0;
    case GP_ENOTSUP: return EOPNOTSUPP;
    case GP_EINVAL: return EINVAL;
    case GP_EROFS: return EPERM;
    case GP_ENOSPC: return ENOSPC;
    case GP_ESHUTDOWN: return ESHUTDOWN;
    default: return EIO;
    }
}

static void lxblk_reply(struct lxblk *b, const char handle[8], int status, const void *data,
                        uint32_t len)
{
    uint32_t hdr[4];
    hdr[0] = htonl(NBD_REPLY_MAGIC);
    hdr[1] = htonl((uint32_t)lxblk_errno_of(status));
    memcpy(&hdr[2], handle, 8);
    struct iovec iov[2] = { { hdr, 16 }, { (void *)data, status ? 0 : len } };
    size_t total = 16 + iov[1].iov_len;
    int iovcnt = iov[1].iov_len ? 2 : 1;
    pthread_mutex_lock(&b->tx_lock);
    size_t sent = 0;
    while (sent < total) {
        ssize_t n = writev(b->sock, iov, iovcnt);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "gplpv-blk: error: replying to the kernel: %s\n", strerror(errno));
            break;
        }
        sent += (size_t)n;
        /* Advance past what went out. */
        size_t k = (size_t)n;
        for (int i = 0; i < iovcnt && k; i++) {
            size_t t = k < iov[i].iov_len ? k : iov[i].iov_len;
            iov[i].iov_base = (char *)iov[i].iov_base + t;
            iov[i].iov_len -= t;
            k -= t;
        }
    }
    pthread_mutex_unlock(&b->tx_lock);
}

static void lxblk_put(struct lxblk *b)
{
    pthread_mutex_lock(&b->lock);
    if (--b->inflight == 0)
        pthread_cond_broadcast(&b->drained);
    pthread_mutex_unlock(&b->lock);
}

static void lxblk_done(void *arg, struct blkfront_req *r, int status)
{
    struct lxblk_io *io = arg;
    struct lxblk *b = io->b;
    (void)r;
    if (status) {
        atomic_fetch_add(&b->c.errors, 1);
        if (b->verbose)
            fprintf(stderr, "gplpv-blk: command %u at sector %llu: %s\n", io->cmd,
                    (unsigned long long)io->r.sector, gp_strerror(status));
    } else if (io->cmd == NBD_CMD_READ) {
        atomic_fetch_add(&b->c.bytes_read, io->len);
    } else if (io->cmd == NBD_CMD_WRITE) {
        atomic_fetch_add(&b->c.bytes_written, io->len);
    }
    lxblk_reply(b, io->handle, status, io->buf, io->cmd == NBD_CMD_READ ? io->len : 0);
    free(io->buf);
    free(io);
    lxblk_put(b);
}

/* Turn one checked request into a blkfront request (or answer it). */
static int lxblk_take(struct lxblk *b, uint32_t cmd, const char handle[8], uint64_t from,
                      uint32_t len)
{
    const uint64_t cap = b->info.sectors * (b->info.sector_size ? b->info.sector_size : 512);
    bool data = cmd == NBD_CMD_READ || cmd == NBD_CMD_WRITE;
    int refuse = 0;
    if (data || cmd == NBD_CMD_TRIM) {
        if ((from | len) % 512 || from > cap || len > cap - from || len == 0 ||
            (data && len > LXBLK_MAX_LEN))
            refuse = GP_EINVAL;
        else if (cmd != NBD_CMD_READ && b->info.readonly)
            refuse = GP_EROFS;
        else if (cmd == NBD_CMD_TRIM && !b->info.discard)
            refuse = GP_ENOTSUP;
    }
    /* A write's payload follows the request even when we refuse it: a
     * refused one is read and dropped (one beyond what the kernel ever
     * sends means the stream cannot be followed any more). */
    if (refuse && cmd == NBD_CMD_WRITE) {
        if (len > LXBLK_MAX_LEN) {
            fprintf(stderr, "gplpv-blk: error: a write of %u bytes: stream lost\n", len);
            return GP_EPROTO;
        }
        char sink[4096];
        for (uint32_t left = len; left;) {
            uint32_t k = left < sizeof(sink) ? left : (uint32_t)sizeof(sink);
            int err = lxblk_read_full(b->sock, sink, k);
            if (err)
                return err;
            left -= k;
        }
    }
    struct lxblk_io *io = calloc(1, sizeof(*io));
    if (!io)
        return GP_ENOMEM;
    io->b = b;
    io->cmd = cmd;
    io->len = len;
    memcpy(io->handle, handle, 8);
    if (data && !refuse) {
        io->buf = malloc(len);
        if (!io->buf) {
            free(io);
            return GP_ENOMEM;
        }
        if (cmd == NBD_CMD_WRITE) {
            int err = lxblk_read_full(b->sock, io->buf, len);
            if (err) {
                free(io->buf);
                free(io);
                return err;
            }
        }
    }
    pthread_mutex_lock(&b->lock);
    b->inflight++;
    pthread_mutex_unlock(&b->lock);
    /* A flush to a backend without a write cache: nothing to do. */
    if (refuse || (cmd == NBD_CMD_FLUSH && !b->info.flush && !b->info.barrier)) {
        if (refuse)
            atomic_fetch_add(&b->c.refused, 1);
        lxblk_done(io, &io->r, refuse);
        return 0;
    }
    io->sg = (struct blkfront_sg){ io->buf, len };
    io->r = (struct blkfront_req){ .sector = from / 512, .nr_sectors = len / 512,
                                   .sg = data ? &io->sg : NULL, .nsg = data ? 1 : 0,
                                   .done = lxblk_done, .arg = io };
    switch (cmd) {
    case NBD_CMD_READ:
        io->r.op = BLKFRONT_READ;
        atomic_fetch_add(&b->c.reads, 1);
        break;
    case NBD_CMD_WRITE:
        io->r.op = BLKFRONT_WRITE;
        atomic_fetch_add(&b->c.writes, 1);
        break;
    case NBD_CMD_FLUSH:
        io->r.op = BLKFRONT_FLUSH;
        io->r.sector = 0;
        io->r.nr_sectors = 0;
        atomic_fetch_add(&b->c.flushes, 1);
        break;
    default:
        io->r.op = BLKFRONT_DISCARD;
        atomic_fetch_add(&b->c.discards, 1);
        break;
    }
    int err = blkfront_submit(b->bf, &io->r);
    if (err)
        lxblk_done(io, &io->r, err);     /* refused at once: answered here */
    return 0;
}

int lxblk_nbd_serve(struct lxblk *b)
{
    int rc = 0;
    for (;;) {
        unsigned char req[LXBLK_REQ_LEN];
        int err = lxblk_read_full(b->sock, req, sizeof(req));
        if (err) {
            if (err != GP_ESHUTDOWN)
                rc = err;
            break;
        }
        uint32_t magic, type, len;
        uint64_t from;
        memcpy(&magic, req, 4);
        memcpy(&type, req + 4, 4);
        memcpy(&from, req + 16, 8);
        memcpy(&len, req + 24, 4);
        magic = ntohl(magic);
        type = ntohl(type);
        from = be64toh(from);
        len = ntohl(len);
        if (magic != NBD_REQUEST_MAGIC) {
            fprintf(stderr, "gplpv-blk: error: request with magic 0x%08x: stream lost\n", magic);
            rc = GP_EPROTO;
            break;
        }
        uint32_t cmd = type & 0xffff;
        if (cmd == NBD_CMD_DISC)
            break;
        if (cmd > NBD_CMD_TRIM) {
            /* Unknown command without payload: refuse it, keep the stream. */
            atomic_fetch_add(&b->c.refused, 1);
            lxblk_reply(b, (const char *)req + 8, GP_EINVAL, NULL, 0);
            continue;
        }
        err = lxblk_take(b, cmd, (const char *)req + 8, from, len);
        if (err) {
            rc = err == GP_ESHUTDOWN ? 0 : err;
            break;
        }
    }
    /* Every request taken is answered before we return. */
    pthread_mutex_lock(&b->lock);
    while (b->inflight)
        pthread_cond_wait(&b->drained, &b->lock);
    pthread_mutex_unlock(&b->lock);
    return rc;
}
