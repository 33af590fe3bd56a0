/* sim_netback's insides, shared by its files (sim_netback.c: the data
 * rings; sim_netback_conn.c: the connection; sim_netback_ctrl.c: the
 * control ring; sim_netback_reconf.c: features and restarts). */
#ifndef GPLPV_SIM_NETBACK_INTERNAL_H
#define GPLPV_SIM_NETBACK_INTERNAL_H

#include <pthread.h>

#include "back/sim_back.h"
#include "sim_netback.h"

#include <xen/io/netif.h>
#include <xen/io/xenbus.h>

/* The control ring (feature-ctrl-ring): hash settings as Linux netback
 * keeps them, for the requests the frontend may make. */
struct nb_ctrl {
    bool up;
    xen_netif_ctrl_back_ring_t ring;
    void *va;
    gp_grant_ref_t ref;
    gp_port_t port;
    uint32_t hash_flags, hash_alg, mapping_size;
    enum sim_net_ctrl_fault fault;
    struct xen_netif_ctrl_response held[64];   /* SIM_NET_CTRL_MUTE */
    unsigned nheld;
};

#define NB_MAX_QUEUES 4
_Static_assert(SIM_BACK_MAX_PORTS >= 2 * NB_MAX_QUEUES + 1, "tx, rx per queue and ctrl");
#define NB_MAX_SLOTS 18               /* XEN_NETBK_LEGACY_SLOTS_MAX */
#define NB_MAX_INBOX 2048

struct nb_frame {
    struct nb_frame *next;
    uint32_t len;
    unsigned rxflags;                 /* SIM_NET_* */
    unsigned gso_type;
    uint16_t mss;
    unsigned queue;
    enum sim_net_corrupt corrupt;
    uint8_t data[];
};

struct nb_tx_rsp {
    uint16_t id;
    int16_t status;
};

struct nb_queue {
    struct sim_netback *b;
    unsigned index;
    netif_tx_back_ring_t tx;
    netif_rx_back_ring_t rx;
    void *tx_va, *rx_va;
    gp_grant_ref_t tx_ref, rx_ref;
    gp_port_t tx_port, rx_port;
    struct nb_frame *in_head, *in_tail;   /* frames for our frontend */
    struct nb_tx_rsp *held;
    unsigned nheld, held_cap;
};

struct sim_netback {
    struct sim_back bk;               /* xenstore, state, worker, locks (m, state_m) */
    struct sim_netback_opts o;
    struct nb_queue q[NB_MAX_QUEUES];
    unsigned nq, ninbox;
    bool split, fe_sg, fe_gso4, fe_gso6, fe_no_csum;
    struct sim_netback *peer;
    bool hold_tx, fail_tx;
    enum sim_net_corrupt corrupt;
    struct sim_netback_stats st;
    struct nb_ctrl ctrl;              /* the control ring, when the frontend set one up */
    /* keep_maps: a disconnect keeps its ring mappings (a backend that does
     * not let go); each kept page's ref and mapping, and a copy of what it
     * held then, to see that nothing is written into it afterwards */
    bool keep_maps;
    struct nb_kept { gp_grant_ref_t ref; void *va; unsigned char *copy; } kept[2 * NB_MAX_QUEUES * 4];
    unsigned nkept;
};
/* Keep (under keep_maps) or unmap one ring mapping at a disconnect (b->m held). */
void nb_ring_unmap(struct sim_netback *b, gp_grant_ref_t ref, void *va);

void nb_disconnect_locked(struct sim_netback *b);
/* sim_netback.c: the worker (arg: the backend), and a frame given back. */
void *nb_main(void *arg);
void nb_frame_free(struct nb_frame *f);
void nb_tx_flush(struct sim_netback *b, struct nb_queue *q);

/* sim_netback_reconf.c: what the backend offers (written at create and by
 * sim_netback_reconfigure), restarts */
void nb_write_features(struct sim_netback *b);
/* With audit_stale: count non-zero bytes of a tx slot's page outside its
 * data, and of the rx buffers posted at connect (b->m held). */
void nb_audit_tx_slot(struct sim_netback *b, gp_grant_ref_t ref, unsigned offset, unsigned size);
void nb_audit_rx_posted(struct sim_netback *b, struct nb_queue *q);

/* sim_netback_ctrl.c (b->m held) */
int nb_ctrl_connect_locked(struct sim_netback *b);
void nb_ctrl_disconnect_locked(struct sim_netback *b);
void nb_ctrl_service_locked(struct sim_netback *b);

#endif
