/* What every simulated xenbus backend (sim_blkback, sim_netback) does
 * the same way: its xenstore client on dom0's own xenstored link, the
 * toolstack's nodes for a new device, its state node, one worker thread
 * woken by "kick", and the xenbus transitions serialised under state_m
 * (a frontend state change, a restore) as Linux's xenwatch thread
 * serialises a backend's.  A device embeds struct sim_back and gives the
 * two steps that differ: act on the frontend's state, and disconnect. */
#ifndef GPLPV_SIM_BACK_H
#define GPLPV_SIM_BACK_H

#include <pthread.h>

#include "sim.h"

#include <xen/io/xenbus.h>

struct xs_client;
struct xs_watch;
struct gp_xs_transport;

struct sim_back_ops {
    /* Act on the frontend's state as it is now (state_m held). */
    void (*fe_transition)(void *dev);
    /* Give up the rings (m held); ports go to unbind. */
    void (*disconnect_locked)(void *dev);
};

struct sim_back {
    struct sim_xen *x;
    struct sim_domain *dom0;
    const struct gp_platform *p;      /* dom0's */
    struct xs_client *xs;
    struct gp_xs_transport *xs_link;  /* our own connection to xenstored */
    gp_domid_t fe;
    unsigned devid;
    char fe_path[96], be_path[96];

    pthread_mutex_t m;
    pthread_mutex_t state_m;          /* one xenbus transition at a time */
    pthread_cond_t c;
    pthread_t thread;
    bool stop, kick, connected;
    struct xs_watch *fe_watch;
    struct sim_back_ports unbind;     /* given up by a disconnect: sim_back_unlock closes them */

    const struct sim_back_ops *ops;
    void *dev;                        /* the device embedding this */
};

/* Fills k for device 'type' ("vbd", "vif") devid of domain 'frontend',
 * with its locks and its xenstore client: 0, or -1 (nothing to undo). */
int sim_back_init(struct sim_back *k, struct sim_xen *x, struct sim_domain *dom0,
                  gp_domid_t frontend, unsigned devid, const char *type,
                  const struct sim_back_ops *ops, void *dev);
/* What the toolstack writes for a new device: the frontend's backend,
 * backend-id, then fe_keys (key, value pairs, NULL-ended) and state
 * Initialising, the frontend's permissions; the backend's frontend,
 * permissions, frontend-id, then be_keys. */
void sim_back_announce(struct sim_back *k, const char *const *fe_keys, const char *const *be_keys);
/* Says InitWait, starts the worker thread and follows the frontend's
 * state and restores: 0, or -1 (then the device destroys itself). */
int sim_back_start(struct sim_back *k, void *(*worker)(void *));
/* Stops following, wakes the worker with 'stop', joins it, and
 * disconnects (the ports given up closed). */
void sim_back_stop(struct sim_back *k);
/* After the device's last disconnect: the backend directory removed, the
 * xenstore client and the locks gone. */
void sim_back_fini(struct sim_back *k);

void sim_back_write(struct sim_back *k, const char *dir, const char *key, const char *val);
void sim_back_set_state(struct sim_back *k, enum xenbus_state s);
/* The frontend's key as a number, def if absent or not one. */
long long sim_back_read_fe(struct sim_back *k, const char *key, long long def);
/* m held: wakes the worker. */
void sim_back_kick_locked(struct sim_back *k);
/* The frontend's event channel named by its key, bound to a port of ours
 * (interdomain): that port, or 0. */
gp_port_t sim_back_bind_fe_port(struct sim_back *k, const char *key);
/* The worker's wait (m held): false once it must stop, true when kicked
 * while connected. */
bool sim_back_wait_kick_locked(struct sim_back *k);
/* The event channel handler of every port a backend binds (arg: k). */
void sim_back_event(void *arg, gp_port_t port);
/* Releases m, then closes the ports a disconnect gave up. */
void sim_back_unlock(struct sim_back *k);

#endif
