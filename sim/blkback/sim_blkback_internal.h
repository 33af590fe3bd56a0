/* Inside sim_blkback: the state shared by the backend proper
 * (sim_blkback.c) and its restarts and hostile behaviour
 * (sim_blkback_restart.c). */
#ifndef GPLPV_SIM_BLKBACK_INTERNAL_H
#define GPLPV_SIM_BLKBACK_INTERNAL_H

#include <pthread.h>

#include "back/sim_back.h"
#include "sim_blkback.h"

#include <xen/io/blkif.h>
#include <xen/io/xenbus.h>

#define BB_MAX_REFS 16384
#define BB_MAX_RING_PAGES 4

struct bb_rsp {
    uint64_t id;
    uint8_t op;
    int16_t status;
};

#define BB_MAX_QUEUES 4
_Static_assert(SIM_BACK_MAX_PORTS >= BB_MAX_QUEUES, "a port per queue");

struct bb_queue {
    struct sim_blkback *b;
    blkif_back_ring_t ring;
    void *ring_va[BB_MAX_RING_PAGES];
    gp_grant_ref_t ring_refs[BB_MAX_RING_PAGES];
    gp_port_t port;
    struct bb_rsp *held;              /* responses not yet on the ring */
    unsigned nheld, held_cap;
};

struct bb_kept {
    gp_grant_ref_t ref;
    void *va;
    bool write;
};

struct sim_blkback {
    struct sim_back bk;              /* xenstore, state, worker, locks (m, state_m) */
    struct sim_blkback_opts o;
    uint8_t *disk;
    uint64_t disk_bytes;

    struct bb_queue q[BB_MAX_QUEUES];
    unsigned nq;
    unsigned ring_pages;
    bool persistent;
    void **pmap;                     /* persistent mappings by ref */

    /* faults */
    uint32_t error_ppm, delay_us;
    bool reorder, hold;
    enum sim_blk_corrupt corrupt;
    uint64_t prng;
    struct sim_blkback_stats st;

    /* hostile: mappings kept across a restart, or after a response */
    bool keep_maps;                  /* a disconnect keeps ring and persistent maps */
    bool keep_data_maps;             /* grant-copy segments are mapped and kept instead */
    struct bb_kept *kept;
    unsigned nkept, kept_cap;
};


void sim_blkback_write_node(struct sim_blkback *b, const char *dir, const char *key,
                            const char *fmt, unsigned long long v);
/* Act on the frontend's state as it is now (state_m held). */
void sim_blkback_fe_transition(struct sim_blkback *b);
/* The features a new instance offers (before InitWait), from b->o. */
void sim_blkback_write_features(struct sim_blkback *b);
/* b->m held; counts a page holding bytes outside [from, to). */
void sim_blkback_check_stale(struct sim_blkback *b, gp_grant_ref_t ref, unsigned from, unsigned to);
/* b->m held */
void sim_blkback_disconnect_locked(struct sim_blkback *b);
/* A mapping the backend keeps (hostile): b->m held. */
void sim_blkback_keep(struct sim_blkback *b, gp_grant_ref_t ref, void *va, bool write);

#endif
