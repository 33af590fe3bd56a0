/* Inside netfront: the device state shared by the transmit path
 * (netfront_tx.c), the receive path (netfront_rx.c) and the xenbus
 * negotiation (netfront_xenbus.c). */
#ifndef GPLPV_NETFRONT_INTERNAL_H
#define GPLPV_NETFRONT_INTERNAL_H

#include "gplpv/log.h"
#include "gplpv/netfront.h"
#include "lib/quarantine.h"
#include "lib/ratelimit.h"

#include <xen/io/netif.h>

#define NETFRONT_MAX_QUEUES 4
#define NETFRONT_TX_SLOTS __CONST_RING_SIZE(netif_tx, GP_PAGE_SIZE)   /* 256 */
#define NETFRONT_RX_SLOTS __CONST_RING_SIZE(netif_rx, GP_PAGE_SIZE)   /* 256 */
/* The most slots of one received frame (netback never uses more). */
#define NETFRONT_RX_MAX_SLOTS XEN_NETIF_NR_SLOTS_MIN
#define NETFRONT_NO_ID 0xffffu

/* What netfront keeps in a frame it holds: the frame's opaque part
 * (struct netfront_tx_opaque) seen as these fields.  may_alias: the
 * storage is declared as the opaque struct, and is read and written only
 * through this view. */
struct __attribute__((may_alias)) netfront_tx_own {
    struct netfront_tx *next;         /* the queue it waits in, or a list to complete */
    unsigned pending;                 /* slots on the ring */
    unsigned seg_next, seg_count;     /* wire frames issued / to issue (software GSO) */
    bool sw_gso;                      /* segmented here: decided until the first is issued */
    int status;                       /* the first error */
};
_Static_assert(sizeof(struct netfront_tx_own) <= sizeof(struct netfront_tx_opaque) &&
                   _Alignof(struct netfront_tx_own) <= _Alignof(struct netfront_tx_opaque),
               "struct netfront_tx_opaque must hold struct netfront_tx_own");

static inline struct netfront_tx_own *netfront_own(struct netfront_tx *t)
{
    return (struct netfront_tx_own *)(void *)&t->own_;
}

struct netfront_page {
    void *va;
    uint64_t gfn;
    gp_grant_ref_t ref;               /* GP_INVALID_GRANT when not granted */
    uint32_t used;                    /* tx: bytes from the start that may hold an earlier
                                       * frame (zeroed beyond each new frame's data) */
};

/* One tx slot in flight; the id is the index of its page. */
struct netfront_tx_shadow {
    struct netfront_tx *parent;
    bool in_use;
};

struct netfront_queue {
    struct netfront *nf;
    unsigned index;
    bool active;                      /* under tx_lock: one of the queues connected (q[0]
                                       * always); frames go only to active queues */

    /* transmit */
    struct gp_lock *tx_lock;
    void *tx_ring_va;
    uint64_t tx_ring_gfn;
    gp_grant_ref_t tx_ring_ref;
    netif_tx_front_ring_t tx;
    gp_port_t tx_port;
    struct netfront_page tx_pages[NETFRONT_TX_SLOTS];
    struct netfront_tx_shadow tx_shadow[NETFRONT_TX_SLOTS];
    uint16_t tx_free[NETFRONT_TX_SLOTS];
    unsigned tx_nfree;
    unsigned tx_extras;               /* extra-info slots awaiting their NULL response */
    bool tx_gone;                     /* the ring was given up (restart): whatever the
                                       * backend still answers on it is ignored */
    struct netfront_tx *wait_head, *wait_tail;   /* frames waiting for slots */
    struct netfront_tx *orphans;      /* finished without a slot, to complete unlocked */
    uint8_t *scratch;                 /* one software-made segment */

    /* receive */
    struct gp_lock *rx_lock;
    void *rx_ring_va;
    uint64_t rx_ring_gfn;
    gp_grant_ref_t rx_ring_ref;
    netif_rx_front_ring_t rx;
    gp_port_t rx_port;                /* == tx_port without split event channels */
    struct netfront_page rx_pages[NETFRONT_RX_SLOTS];   /* page of ring index i & mask */
    unsigned rx_unposted;             /* slots consumed, their buffers not yet posted */
};

/* The control ring (netfront_ctrl.c): one request at a time. */
struct netfront_ctrl {
    bool up;
    struct netfront_page page;
    xen_netif_ctrl_front_ring_t ring;
    gp_port_t port;
    struct gp_lock *lock;
    struct gp_event *done;
    bool busy, answered;              /* under lock */
    uint16_t id, type;                /* of the request waiting */
    uint32_t status, data;
    /* Requests that timed out and still hold a slot (the backend may yet
     * answer them: such an answer is late, never taken for a later
     * request's); at NETFRONT_CTRL_MAX_LOST the control path refuses
     * requests until they are answered or the ring is reset (reconnect). */
    uint16_t lost_id[4];
    unsigned nlost;
};
#define NETFRONT_CTRL_MAX_LOST 4

struct netfront {
    const struct gp_platform *plat;
    struct xs_client *xs;
    struct xenbus_dev dev;
    struct netfront_opts opts;
    struct gp_lock *lock;             /* state and stats */

    struct netfront_info info;
    bool connected, broken;           /* connected: the data path's gate (the lifecycle: dev.life) */
    struct netfront_queue q[NETFRONT_MAX_QUEUES];
    unsigned nqueues;
    unsigned next_queue;              /* round robin for transmit */
    struct netfront_stats stats;
    struct gp_quarantine quar;        /* pages the backend still maps (lib/quarantine.h) */
    struct netfront_ctrl ctrl;
    /* What a backend can provoke at will is logged through these. */
    struct gp_ratelimit rl_rx, rl_tx, rl_ctrl;
};

/* At most 10 such messages per 10 s per device and kind. */
#define NETFRONT_RATELIMIT GP_RATELIMIT_INIT(GP_S(10), 10)
void netfront_ratelimits_init(struct netfront *nf);

/* netfront_tx.c (queue's tx_lock taken inside unless noted) */
int netfront_tx_pages_alloc(struct netfront_queue *q);
void netfront_tx_reset(struct netfront_queue *q);      /* fresh ring, all ids free */
void netfront_tx_event(struct netfront_queue *q);
void netfront_tx_kick(struct netfront_queue *q);
/* The queue is (not) among those connected; frames waiting on a queue
 * that goes are taken off it (returned as a list, in order). */
struct netfront_tx *netfront_tx_set_active(struct netfront_queue *q, bool active);
/* Append a list of waiting frames (from a queue that went) to q. */
void netfront_tx_adopt(struct netfront_queue *q, struct netfront_tx *list);
/* Complete every frame queued or on the ring with 'status'. */
void netfront_tx_fail_all(struct netfront_queue *q, int status);
/* The ring is gone (backend restart, restore): frames on it complete with
 * GP_EIO (they may have been sent: never twice); waiting frames stay. */
void netfront_tx_abandon_ring(struct netfront_queue *q);
int netfront_tx_queue_frame(struct netfront_queue *q, struct netfront_tx *t);

/* netfront_rx.c */
int netfront_rx_pages_alloc(struct netfront_queue *q);
void netfront_rx_reset(struct netfront_queue *q);      /* fresh ring, all buffers posted */
void netfront_rx_event(struct netfront_queue *q);

/* netfront_ctrl.c */
int netfront_ctrl_create(struct netfront *nf);          /* lock and event */
void netfront_ctrl_free(struct netfront *nf);
int netfront_ctrl_setup(struct netfront *nf);           /* at connect, if offered */
int netfront_ctrl_write_keys(struct netfront *nf, xs_txn_t t);
void netfront_ctrl_teardown(struct netfront *nf);
void netfront_ctrl_forget(struct netfront *nf);         /* restored domain: grant and port gone */

/* netfront_ring.c: pages, grants and the event handlers shared by both paths */
void netfront_event(void *arg, gp_port_t port);        /* [any], arg = queue */
void netfront_event_tx(void *arg, gp_port_t port);
void netfront_event_rx(void *arg, gp_port_t port);
int netfront_pages_alloc(struct netfront *nf, struct netfront_page *pg, unsigned n);
int netfront_pages_grant(struct netfront *nf, struct netfront_page *pg, unsigned n,
                         bool readonly);
void netfront_pages_end(struct netfront *nf, struct netfront_page *pg, unsigned n);
void netfront_fatal(struct netfront *nf, const char *why, uint64_t a, uint64_t b);
void netfront_count(struct netfront *nf, uint64_t *counter, uint64_t n);

/* netfront_attach.c: the data path on caller-provided ring pages without
 * xenbus (for the fuzz target). */
int netfront_attach_raw(const struct gp_platform *p, void *tx_ring, void *rx_ring,
                        const struct netfront_opts *o, struct netfront **out);
void netfront_detach_raw(struct netfront *nf);

#endif
