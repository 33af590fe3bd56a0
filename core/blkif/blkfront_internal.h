/* Inside blkfront: the device state shared by the ring data path
 * (blkfront_ring.c) and the xenbus negotiation (blkfront_xenbus.c). */
#ifndef GPLPV_BLKFRONT_INTERNAL_H
#define GPLPV_BLKFRONT_INTERNAL_H

#include "gplpv/blkfront.h"
#include "gplpv/blkfront_dump.h"
#include "gplpv/log.h"
#include "lib/quarantine.h"

#include <xen/io/blkif.h>

#define BLKFRONT_MAX_RING_ORDER 2
#define BLKFRONT_MAX_RING_PAGES (1u << BLKFRONT_MAX_RING_ORDER)
#define BLKFRONT_SECTOR 512u
#define BLKFRONT_SECTORS_PER_PAGE (GP_PAGE_SIZE / BLKFRONT_SECTOR)
#define BLKFRONT_SEGS_PER_INDIRECT_PAGE (GP_PAGE_SIZE / sizeof(struct blkif_request_segment))
#define BLKFRONT_MAX_SEGS 256u         /* per ring request, with indirect pages */

/* What blkfront keeps in a request it holds: the request's opaque part
 * (struct blkfront_req_opaque) seen as these fields.  may_alias: the
 * storage is declared as the opaque struct, and is read and written only
 * through this view. */
struct __attribute__((may_alias)) blkfront_req_own {
    struct blkfront_req *next;    /* the queue of requests not fully issued */
    uint32_t issued;              /* sectors handed to the ring so far */
    uint32_t inflight;            /* ring requests outstanding */
    int status;                   /* the first error */
};
_Static_assert(sizeof(struct blkfront_req_own) <= sizeof(struct blkfront_req_opaque) &&
                   _Alignof(struct blkfront_req_own) <= _Alignof(struct blkfront_req_opaque),
               "struct blkfront_req_opaque must hold struct blkfront_req_own");

static inline struct blkfront_req_own *blkfront_own(struct blkfront_req *r)
{
    return (struct blkfront_req_own *)(void *)&r->own_;
}

struct blkfront_page {
    void *va;
    uint64_t gfn;
    gp_grant_ref_t ref;               /* GP_INVALID_GRANT when not granted */
};

/* One ring request in flight. */
struct blkfront_shadow {
    bool in_use;
    bool dump_answered;               /* its answer was taken by the dump path */
    bool abandoned;                   /* blkfront_abandon gave its parent back:
                                         parent is NULL, the pages wait for the answer */
    uint8_t op;                       /* BLKIF_OP_* put on the ring */
    uint8_t data_op;                  /* READ/WRITE for indirect */
    struct blkfront_req *parent;
    uint32_t sector_off;              /* first sector, relative to parent->sector */
    uint32_t nr_sectors;
    unsigned nseg, nind;
    uint16_t *pages;                  /* pool indices of data pages [BLKFRONT_MAX_SEGS] */
    uint16_t ind[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
};

/* The dump path's own pages (blkfront_dump.c), granted ahead of need. */
struct blkfront_dump_state {
    bool enabled;
    struct blkfront_page page[BLKFRONT_DUMP_PAGES];
    uint64_t seq;                     /* ids of the dump path's requests */
    unsigned answered;                /* queue 0 shadows whose answer the dump path took */
    unsigned unanswered;              /* dump requests given up on (timeout) */
    struct blkfront_dump_stats stats;
};

/* Ids of the dump path's requests: never a shadow index. */
#define BLKFRONT_DUMP_ID_BASE 0x44554d5000000000ull   /* "DUMP" */
#define BLKFRONT_IS_DUMP_ID(id) (((id) >> 32) == (BLKFRONT_DUMP_ID_BASE >> 32))

/* A piece of a request whose ring request was lost with a disconnect. */
struct blkfront_retry {
    struct blkfront_req *parent;
    uint32_t sector_off, nr_sectors;
};

#define BLKFRONT_MAX_QUEUES 4

/* One ring with its event channel (a "queue" in blkif's multi-queue). */
struct blkfront_queue {
    struct blkfront *bf;
    unsigned index;
    void *ring_va[BLKFRONT_MAX_RING_PAGES];
    uint64_t ring_gfn[BLKFRONT_MAX_RING_PAGES];
    gp_grant_ref_t ring_ref[BLKFRONT_MAX_RING_PAGES];
    blkif_front_ring_t ring;
    gp_port_t port;
    struct blkfront_shadow *shadow;   /* [nslots]: sized for this connection's ring */
    unsigned nslots;
    unsigned outstanding;
};

struct blkfront {
    const struct gp_platform *plat;
    struct xs_client *xs;
    struct xenbus_dev dev;
    struct blkfront_opts opts;
    struct gp_lock *lock;
    uint16_t handle;                  /* the vdev id */

    /* negotiated */
    struct blkfront_info info;
    unsigned segs_per_req;            /* max data pages per ring request */

    bool connected, broken;           /* connected: the data path's gate (the lifecycle: dev.life) */
    struct xs_watch *sectors_watch;   /* capacity changes */
    struct blkfront_queue q[BLKFRONT_MAX_QUEUES];
    unsigned nqueues;

    /* page pool */
    struct blkfront_page *pool;
    unsigned pool_size;
    uint16_t *pool_free;
    unsigned pool_nfree;

    /* Pages whose grant the backend would not give back (lib/quarantine.h). */
    struct gp_quarantine quar;

    /* waiting work: pieces lost with a disconnect (any queue may take
     * them; split again for the backend of the moment), then the FIFO */
    struct blkfront_retry *retry;     /* [retry_cap] >= nretry + slots of all queues */
    unsigned nretry, retry_cap;
    struct blkfront_req *queue_head, *queue_tail;
    struct blkfront_stats stats;

    struct blkfront_dump_state dump;
};

/* blkfront_ring.c (lock held unless noted) */
int blkfront_ring_alloc(struct blkfront_queue *q);
/* End the ring's grants (pages still mapped go to the quarantine); the
 * pages ended stay for the next connection (a resume from hibernation
 * cannot allocate). */
void blkfront_ring_end(struct blkfront_queue *q);
void blkfront_ring_free(struct blkfront_queue *q);   /* end, then free the pages */
void blkfront_ring_reset(struct blkfront_queue *q);  /* front ring on fresh shared pages */
void blkfront_event(void *arg, gp_port_t port);     /* [any], arg = queue; takes the lock */
void blkfront_kick(struct blkfront *bf);            /* takes the lock */
/* Move everything in flight to the retry list (disconnect). */
void blkfront_requeue_inflight(struct blkfront *bf);
/* A piece of r came back (or is given up); true when r is complete. */
bool blkfront_piece_done(struct blkfront_req *r, int status);

/* blkfront_cancel.c (lock not held) */
/* Fail all queued/in-flight requests with 'status': the device is broken
 * or going away, its rings are not read again. */
void blkfront_fail_all(struct blkfront *bf, int status);
/* Grant the backend each page not granted yet (refs left GP_INVALID_GRANT
 * stay so on failure); *granted (if given) counts the new grants. */
int blkfront_pages_grant(struct blkfront *bf, struct blkfront_page *pages, unsigned n,
                         unsigned *granted);
int blkfront_pool_grant_all(struct blkfront *bf);
/* [passive] Not connected: end every pool grant (pages still mapped go to
 * the quarantine, their slots are left empty) and zero the pages kept. */
void blkfront_pool_end_all(struct blkfront *bf);
/* [passive] Not connected: at least n slots (up to the pool's limit), a
 * page in each, all free. */
int blkfront_pool_prepare(struct blkfront *bf, unsigned n);
/* [passive] Not connected: shadows of each queue sized for nslots (queues
 * beyond nqueues freed) and room to re-issue everything in flight. */
int blkfront_shadows_size(struct blkfront *bf, unsigned nslots);
void blkfront_shadows_free(struct blkfront *bf);

/* blkfront_dump.c: the dump pages follow the device's connections. */
int blkfront_dump_grant(struct blkfront *bf);        /* [passive] after the rings are set up */
void blkfront_dump_forget_grants(struct blkfront *bf); /* restored domain: the refs mean nothing */
void blkfront_dump_end(struct blkfront *bf);         /* with the pool's grants */
void blkfront_dump_free(struct blkfront *bf);        /* destroy */

/* blkfront_attach.c: set up the data path on a ring page without xenbus
 * (for the fuzz target and data-path tests); the platform's Xen services
 * are used for grants and notifications as usual. */
int blkfront_attach_raw(const struct gp_platform *p, void *ring_page, uint64_t sectors,
                        bool persistent, unsigned max_indirect, struct blkfront **out);
void blkfront_detach_raw(struct blkfront *bf);

#endif
