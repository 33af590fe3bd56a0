/* sim_netback's connection: the frontend's rings and event channels
 * mapped and bound at Connected, given up at a disconnect; the xenbus
 * transitions; create and destroy (sim_back does what every backend does
 * the same way). */
#include <stdio.h>
#include <stdlib.h>

#include "gplpv/xs.h"
#include "sim_netback.h"
#include "sim_netback_internal.h"

#include <xen/io/netif.h>
#include <xen/io/xenbus.h>

void nb_disconnect_locked(struct sim_netback *b)
{
    if (!b->bk.connected)
        return;
    b->bk.connected = false;
    nb_ctrl_disconnect_locked(b);
    for (unsigned i = 0; i < b->nq; i++) {
        struct nb_queue *q = &b->q[i];
        q->nheld = 0;
        if (q->tx_port)
            sim_back_ports_add(&b->bk.unbind, q->tx_port);
        if (q->rx_port && q->rx_port != q->tx_port)
            sim_back_ports_add(&b->bk.unbind, q->rx_port);
        q->tx_port = q->rx_port = 0;
        if (q->tx_va)
            nb_ring_unmap(b, q->tx_ref, q->tx_va);
        if (q->rx_va)
            nb_ring_unmap(b, q->rx_ref, q->rx_va);
        q->tx_va = q->rx_va = NULL;
        while (q->in_head) {
            struct nb_frame *f = q->in_head;
            q->in_head = f->next;
            nb_frame_free(f);
        }
        q->in_tail = NULL;
    }
    b->ninbox = 0;
}

static int nb_bind(struct sim_netback *b, const char *key, gp_port_t *out)
{
    gp_port_t lport = sim_back_bind_fe_port(&b->bk, key);
    if (!lport)
        return -1;
    *out = lport;
    return gp_xen_evtchn_bind(b->bk.p, lport, sim_back_event, &b->bk) == 0 ? 0 : -1;
}

static int nb_connect_queue(struct sim_netback *b, struct nb_queue *q, const char *pre)
{
    char key[64];
    snprintf(key, sizeof(key), "%stx-ring-ref", pre);
    long long tx = sim_back_read_fe(&b->bk, key, -1);
    snprintf(key, sizeof(key), "%srx-ring-ref", pre);
    long long rx = sim_back_read_fe(&b->bk, key, -1);
    if (tx < 0 || rx < 0)
        return -1;
    q->tx_ref = (gp_grant_ref_t)tx;
    q->rx_ref = (gp_grant_ref_t)rx;
    q->tx_va = sim_gnt_map(b->bk.x, 0, b->bk.fe, q->tx_ref, true);
    q->rx_va = sim_gnt_map(b->bk.x, 0, b->bk.fe, q->rx_ref, true);
    if (!q->tx_va || !q->rx_va)
        return -1;
    BACK_RING_INIT(&q->tx, (netif_tx_sring_t *)q->tx_va, GP_PAGE_SIZE);
    BACK_RING_INIT(&q->rx, (netif_rx_sring_t *)q->rx_va, GP_PAGE_SIZE);
    nb_audit_rx_posted(b, q);
    if (b->split) {
        snprintf(key, sizeof(key), "%sevent-channel-tx", pre);
        if (nb_bind(b, key, &q->tx_port))
            return -1;
        snprintf(key, sizeof(key), "%sevent-channel-rx", pre);
        return nb_bind(b, key, &q->rx_port);
    }
    snprintf(key, sizeof(key), "%sevent-channel", pre);
    if (nb_bind(b, key, &q->tx_port))
        return -1;
    q->rx_port = q->tx_port;
    return 0;
}

static int nb_connect_locked(struct sim_netback *b)
{
    if (sim_back_read_fe(&b->bk, "request-rx-copy", 0) != 1)
        return -1;
    long long nq = sim_back_read_fe(&b->bk, "multi-queue-num-queues", 1);
    if (nq < 1 || nq > (long long)(b->o.max_queues ? b->o.max_queues : 1))
        return -1;
    b->nq = (unsigned)nq;
    char key[64];
    snprintf(key, sizeof(key), "%sevent-channel-tx", nq > 1 ? "queue-0/" : "");
    b->split = !b->o.no_split && sim_back_read_fe(&b->bk, key, -1) > 0;
    b->fe_sg = sim_back_read_fe(&b->bk, "feature-sg", 0) == 1;
    b->fe_gso4 = b->fe_sg && sim_back_read_fe(&b->bk, "feature-gso-tcpv4", 0) == 1;
    b->fe_gso6 = b->fe_sg && sim_back_read_fe(&b->bk, "feature-gso-tcpv6", 0) == 1;
    b->fe_no_csum = sim_back_read_fe(&b->bk, "feature-no-csum-offload", 0) == 1;
    b->bk.connected = true;              /* so that a failure below unwinds all */
    for (unsigned i = 0; i < b->nq; i++) {
        char pre[24] = "";
        if (b->nq > 1)
            snprintf(pre, sizeof(pre), "queue-%u/", i);
        b->q[i].b = b;
        b->q[i].index = i;
        if (nb_connect_queue(b, &b->q[i], pre) != 0) {
            nb_disconnect_locked(b);
            return -1;
        }
    }
    if (nb_ctrl_connect_locked(b) != 0) {
        nb_disconnect_locked(b);
        return -1;
    }
    b->st.connects++;
    return 0;
}

static void nb_fe_transition(void *dev)
{
    struct sim_netback *b = dev;
    long long s = sim_back_read_fe(&b->bk, "state", -1);
    pthread_mutex_lock(&b->bk.m);
    if (s == XenbusStateConnected && !b->bk.connected) {
        int rc = nb_connect_locked(b);
        sim_back_unlock(&b->bk);                 /* a failed connect's ports close here */
        sim_back_set_state(&b->bk, rc == 0 ? XenbusStateConnected : XenbusStateClosing);
        return;
    }
    if ((s == XenbusStateClosing || s == XenbusStateClosed) && b->bk.connected) {
        nb_disconnect_locked(b);
        sim_back_unlock(&b->bk);
        sim_back_set_state(&b->bk, XenbusStateClosed);
        return;
    }
    pthread_mutex_unlock(&b->bk.m);
    if (s == XenbusStateInitialising)
        sim_back_set_state(&b->bk, XenbusStateInitWait);
}

static void nb_disconnect(void *dev)
{
    nb_disconnect_locked(dev);
}

/* The backend's transitions (a frontend change, a restart, a restore) run
 * one at a time (sim_back) and each reads the frontend's state when it
 * runs: a restart never lands between reading 'Connected' and mapping the
 * rings. */
static const struct sim_back_ops nb_ops = { nb_fe_transition, nb_disconnect };

struct sim_netback *sim_netback_create(struct sim_xen *x, struct sim_domain *dom0,
                                       gp_domid_t frontend, unsigned devid,
                                       const struct sim_netback_opts *o)
{
    struct sim_netback *b = calloc(1, sizeof(*b));
    if (o)
        b->o = *o;
    if (sim_back_init(&b->bk, x, dom0, frontend, devid, "vif", &nb_ops, b) != 0) {
        free(b);
        return NULL;
    }
    char handle[16], mac[24];
    snprintf(mac, sizeof(mac), "00:16:3e:00:%02x:%02x", frontend & 0xff, devid & 0xff);
    snprintf(handle, sizeof(handle), "%u", devid);
    /* What the toolstack writes. */
    sim_back_announce(&b->bk, (const char *const[]){ "mac", mac, "handle", handle, NULL },
                      (const char *const[]){ "mac", mac, NULL });
    nb_write_features(b);
    if (sim_back_start(&b->bk, nb_main) != 0) {
        sim_netback_destroy(b);
        return NULL;
    }
    return b;
}

void sim_netback_destroy(struct sim_netback *b)
{
    if (!b)
        return;
    sim_back_stop(&b->bk);
    unsigned changed;
    sim_netback_release_mappings(b, &changed);   /* kept ones: let go at last */
    sim_back_fini(&b->bk);
    for (unsigned i = 0; i < NB_MAX_QUEUES; i++)
        free(b->q[i].held);
    free(b);
}
