/* gplpv-blk: the core's blkfront in a Linux domU's user space, serving
 * device/vbd/<id> to the kernel as an NBD block device (lxblk_nbd.c). */
#ifndef GPLPV_LINUX_LXBLK_H
#define GPLPV_LINUX_LXBLK_H

#include <pthread.h>
#include <stdatomic.h>

#include "gplpv/blkfront.h"

struct lxblk_counters {
    atomic_ullong reads, writes, flushes, discards, bytes_read, bytes_written, errors;
    atomic_ullong refused;                 /* requests we answered with an error ourselves */
};

struct lxblk {
    const struct gp_platform *plat;
    struct blkfront *bf;
    struct blkfront_info info;
    int sock;                              /* our end of the NBD socket */
    pthread_mutex_t tx_lock;               /* one reply at a time on the socket */
    pthread_mutex_t lock;
    pthread_cond_t drained;
    unsigned inflight;
    bool verbose;
    struct lxblk_counters c;
};

/* Serve NBD requests arriving on b->sock until the kernel disconnects
 * (NBD_CMD_DISC) or the socket closes; returns once every request taken
 * has been answered.  0, or a negative GP_E* for a broken stream. */
int lxblk_nbd_serve(struct lxblk *b);
/* NBD transmission flags for what the device offers. */
unsigned lxblk_nbd_flags(const struct blkfront_info *info);

#endif
