/*
 * blkfront: the block frontend of the core (xen/io/blkif.h), what xenvbd
 * runs on Windows and linux/blk runs in a Linux domU.
 *
 * Lifecycle: blkfront_create (init: backend found) -> blkfront_connect
 * (negotiate, rings, Connected) -> I/O -> blkfront_suspend /
 * _resume_in_place or _resume_restored (requests in flight are kept and
 * re-issued) -> blkfront_destroy.  A backend that restarts is reconnected
 * without the caller (the xenbus lifecycle, gplpv/xenbus.h).
 * blkfront_abandon gives every request back at once (an OS's bus or LU
 * reset, or a surprise removal before the device is destroyed), whatever
 * the backend does.
 *
 * Requests take any scatter-gather shape (offsets, segments of any size,
 * a list longer than the transfer); data moves through the device's own
 * pool of granted pages (persistent grants when the backend offers them),
 * so the OS buffers are never granted and are touched only within the
 * transfer.  Transfers larger than one ring request are split and
 * completed once, as a whole.  Every response is validated; a backend
 * that breaks the protocol fails the device (all requests complete with
 * GP_EIO), it never crashes it.
 */
#ifndef GPLPV_BLKFRONT_H
#define GPLPV_BLKFRONT_H

#include "gplpv/xenbus.h"

struct blkfront;

enum blkfront_op { BLKFRONT_READ, BLKFRONT_WRITE, BLKFRONT_FLUSH, BLKFRONT_DISCARD };

struct blkfront_sg {
    void *va;
    uint32_t len;
};

/* blkfront's own part of a request it holds (its queue link and how far
 * the request has gone), laid out in core/blkif/blkfront_internal.h:
 * opaque here, for no one else to read or write. */
struct blkfront_req_opaque {
    struct blkfront_req *ptr_;
    uint32_t word_[3];
};

struct blkfront_req {
    enum blkfront_op op;
    uint64_t sector;              /* in 512-byte units */
    uint32_t nr_sectors;          /* transfer / discard length */
    const struct blkfront_sg *sg; /* read/write data (may cover more than the transfer) */
    unsigned nsg;
    bool discard_secure;
    /* Called exactly once: 0, GP_EIO, GP_ENOTSUP, GP_ESHUTDOWN, or the
     * status given to blkfront_abandon. */
    void (*done)(void *arg, struct blkfront_req *r, int status);
    void *arg;
    struct blkfront_req_opaque own_;  /* blkfront's while submitted */
};

struct blkfront_info {
    uint64_t sectors;             /* capacity in sector_size units */
    uint32_t sector_size, physical_sector_size;
    bool readonly, removable, cdrom;
    bool flush, barrier, discard, discard_secure, persistent;
    uint32_t discard_granularity, discard_alignment;
    unsigned max_indirect_segments;   /* 0 = none */
    unsigned ring_pages, ring_slots;  /* per queue */
    unsigned queues;
};

struct blkfront_stats {
    uint64_t requests, ring_requests, notifications, grant_ops, responses;
    uint64_t bad_responses, errors, requeued, bounce_bytes;
    /* Pages the backend kept mapping when we ended their grant: held aside
     * (never reused while mapped) and freed once it lets go. */
    uint64_t pages_quarantined, pages_released;
    unsigned pages_held;
    /* blkfront_abandon: requests given back, and the backend's answers to
     * their ring requests that came later (checked, then dropped). */
    uint64_t abandoned, late_answers;
};

struct blkfront_opts {
    unsigned max_ring_page_order;     /* cap (default 2) */
    unsigned max_indirect_segments;   /* cap (default 256; 0 = never use indirect) */
    bool no_persistent;               /* do not ask for persistent grants */
    unsigned max_queues;              /* cap (default 4) */
    void (*capacity_changed)(void *arg, uint64_t sectors);
    void *arg;
};

int blkfront_create(const struct gp_platform *p, struct xs_client *xs, const char *nodename,
                    const struct blkfront_opts *o, struct blkfront **out);
int blkfront_connect(struct blkfront *bf, uint64_t timeout_ns);
int blkfront_submit(struct blkfront *bf, struct blkfront_req *r);
void blkfront_get_info(struct blkfront *bf, struct blkfront_info *info);
void blkfront_get_stats(struct blkfront *bf, struct blkfront_stats *s);
bool blkfront_is_broken(struct blkfront *bf);
/* Quiesce for save/restore: stop using the ring; requests stay queued. */
void blkfront_suspend(struct blkfront *bf);
/* The suspend was cancelled: carry on with the same rings, re-issuing. */
void blkfront_resume_in_place(struct blkfront *bf);
/* Reconnect in a restored domain (fresh grant table and event channels). */
int blkfront_resume_restored(struct blkfront *bf, uint64_t timeout_ns);
/* [any] Give up every request blkfront holds - on a ring, queued, or
 * waiting for a reconnect: each completes now, exactly once, with `status`
 * (unless a piece of it had already failed: then with that error).  When
 * its done runs, the request, its SG list and its buffers are the caller's
 * again: blkfront never touches them after.  A ring request the backend
 * has not answered keeps its slot and its pool pages (the backend may
 * still write them) until the answer comes, which is validated like any
 * other and dropped, or until the ring is given up.  Returns how many
 * requests completed. */
unsigned blkfront_abandon(struct blkfront *bf, int status);
/* Close with the backend; every request still queued completes with
 * GP_ESHUTDOWN. */
void blkfront_destroy(struct blkfront *bf);

#endif
