/*
 * sim_blkback: the simulator's block backend.  It lives in dom0, sees only
 * what a real blkback sees (the frontend's grant refs, an interdomain event
 * channel, xenstore), serves a memory disk with grant-copy (or persistent
 * mappings when the frontend asks for them), indirect descriptors, flush,
 * barrier and discard, and can inject faults: I/O errors, delays,
 * reordered responses, protocol-breaking responses and restarts.
 * Creating it writes the frontend and backend nodes as `xl block-attach`
 * does.
 */
#ifndef GPLPV_SIM_BLKBACK_H
#define GPLPV_SIM_BLKBACK_H

#include "sim.h"

struct sim_blkback;

struct sim_blkback_opts {
    uint64_t sectors;             /* default 8192 (4 MiB) */
    uint32_t sector_size;         /* default 512 */
    bool no_persistent, no_flush, no_discard, barrier, readonly;
    unsigned max_indirect;        /* 0 = no indirect; default 256 via 'indirect' */
    bool indirect;
    unsigned max_ring_order;      /* default 2 */
    unsigned max_queues;          /* multi-queue-max-queues (default 1: not offered) */
    /* Linux blkback's close: the frontend's Closing is answered with
     * Closing (maps kept); only its Closed unmaps, unmap_delay_us later. */
    bool linux_close;
    bool check_stale;
    /* Written as they are after the features (key, value, ..., NULL): any
     * string a hostile or broken backend may offer. */
    const char *const *raw_nodes;             /* count granted pages with bytes outside the transfer */
    unsigned unmap_delay_us;
};

struct sim_blkback *sim_blkback_create(struct sim_xen *x, struct sim_domain *dom0,
                                       gp_domid_t frontend, unsigned devid,
                                       const struct sim_blkback_opts *o);
void sim_blkback_destroy(struct sim_blkback *b);
uint8_t *sim_blkback_disk(struct sim_blkback *b);

enum sim_blk_corrupt {
    SIM_BLK_OK, SIM_BLK_BAD_ID, SIM_BLK_DUP_ID, SIM_BLK_BAD_OP, SIM_BLK_BAD_STATUS,
    SIM_BLK_EXTRA_RESPONSE,
};
/* The next response breaks the protocol in this way. */
void sim_blkback_corrupt_next(struct sim_blkback *b, enum sim_blk_corrupt c);
void sim_blkback_set_faults(struct sim_blkback *b, uint32_t error_ppm, uint32_t delay_us,
                            bool reorder);
/* Hold responses until released (requests stay in flight). */
void sim_blkback_hold(struct sim_blkback *b, bool hold);
/* The backend goes away (Closing, Closed) and comes back (InitWait). */
/* Adds delta to every ring index, the backend's own and the shared ones
 * (the frontend moves its own): tests start the rings just below 2^32 to
 * show that nothing minds the wrap.  delta must be a multiple of the ring
 * size (slots keep their places) and the rings idle. */
void sim_blkback_shift_ring_indices(struct sim_blkback *b, uint32_t delta);
void sim_blkback_restart(struct sim_blkback *b);
/* A restart whose Closing and Closed the frontend never sees, as when one
 * watch event reads the state only after the backend is back in InitWait. */
void sim_blkback_restart_unseen(struct sim_blkback *b);
/* The backend restarts as a differently configured one (a migration to
 * another host): o gives the new instance's geometry and features (ring
 * order, queues, indirect, persistent, sectors, sector size; other
 * fields too); the disk keeps its bytes. */
#define SIM_BLK_RESTART_UNSEEN 1u     /* Closing/Closed not shown, as restart_unseen */
#define SIM_BLK_RESTART_KEEP_MAPS 2u  /* hostile: the old instance's ring and persistent
                                         maps stay (see sim_blkback_kept) */
void sim_blkback_restart_with(struct sim_blkback *b, const struct sim_blkback_opts *o,
                              unsigned flags);
/* Hostile: grant-copy segments (and indirect pages) are mapped instead and
 * never unmapped, so the frontend's end of access is refused. */
void sim_blkback_keep_data_maps(struct sim_blkback *b, bool keep);
/* The pages the backend keeps mapped (up to max in va); returns how many. */
unsigned sim_blkback_kept(struct sim_blkback *b, void **va, unsigned max);
/* Unmap them all (the backend finally lets go). */
void sim_blkback_release_kept(struct sim_blkback *b);
/* Grow or shrink the disk while connected (re-announces Connected). */
void sim_blkback_resize(struct sim_blkback *b, uint64_t sectors);

struct sim_blkback_stats {
    uint64_t requests, reads, writes, flushes, discards, indirect, segments;
    uint64_t maps, copies, notifications, connects;
    uint64_t stale_pages;         /* check_stale: pages exposing bytes beyond the data */
};
void sim_blkback_get_stats(struct sim_blkback *b, struct sim_blkback_stats *s);

#endif
