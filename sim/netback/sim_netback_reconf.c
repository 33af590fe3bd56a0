/* sim_netback's restarts and what it offers: the feature keys (written at
 * create, rewritten by sim_netback_reconfigure for the next connect, as a
 * backend on another host offers other things), raw keys for hostile
 * values, a restart that answers the old ring late, and the audit of
 * what a granted page shows beyond the data (XSA-403 class). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gplpv/xs.h"
#include "sim_netback.h"
#include "sim_netback_internal.h"

void nb_write_features(struct sim_netback *b)
{
    /* b->o changes only by sim_netback_reconfigure, from the test's thread */
    sim_back_write(&b->bk, b->bk.be_path, "feature-rx-copy", b->o.no_rx_copy ? "0" : "1");
    sim_back_write(&b->bk, b->bk.be_path, "feature-sg", b->o.no_sg ? "0" : "1");
    sim_back_write(&b->bk, b->bk.be_path, "feature-gso-tcpv4", b->o.no_gso ? "0" : "1");
    sim_back_write(&b->bk, b->bk.be_path, "feature-gso-tcpv6", b->o.no_gso ? "0" : "1");
    sim_back_write(&b->bk, b->bk.be_path, "feature-ipv6-csum-offload", b->o.no_ipv6_csum ? "0" : "1");
    sim_back_write(&b->bk, b->bk.be_path, "feature-no-csum-offload", b->o.no_csum_offload ? "1" : "0");
    sim_back_write(&b->bk, b->bk.be_path, "feature-split-event-channels", b->o.no_split ? "0" : "1");
    sim_back_write(&b->bk, b->bk.be_path, "feature-ctrl-ring", b->o.no_ctrl_ring ? "0" : "1");
    char path[160], v[16];
    snprintf(path, sizeof(path), "%s/multi-queue-max-queues", b->bk.be_path);
    if (b->o.max_queues > 1) {
        snprintf(v, sizeof(v), "%u", b->o.max_queues);
        xs_write_str(b->bk.xs, XS_TXN_NONE, path, v);
    } else {
        xs_rm(b->bk.xs, XS_TXN_NONE, path);
    }
}

/* Not under state_m: it may run inside a late restart (which holds it). */
void sim_netback_reconfigure(struct sim_netback *b, const struct sim_netback_opts *o)
{
    pthread_mutex_lock(&b->bk.m);
    b->o = *o;
    pthread_mutex_unlock(&b->bk.m);
    nb_write_features(b);
}

void sim_netback_write_key(struct sim_netback *b, const char *key, const char *value)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/%s", b->bk.be_path, key);
    if (value)
        xs_write_str(b->bk.xs, XS_TXN_NONE, path, value);
    else
        xs_rm(b->bk.xs, XS_TXN_NONE, path);
}

static void nb_restart(struct sim_netback *b, bool say_closed)
{
    pthread_mutex_lock(&b->bk.state_m);
    if (say_closed)
        sim_back_set_state(&b->bk, XenbusStateClosing);
    pthread_mutex_lock(&b->bk.m);
    nb_disconnect_locked(b);
    sim_back_unlock(&b->bk);
    if (say_closed) {
        sim_back_set_state(&b->bk, XenbusStateClosed);
        usleep(20000);
    }
    sim_back_set_state(&b->bk, XenbusStateInitWait);
    pthread_mutex_unlock(&b->bk.state_m);
}

void sim_netback_restart(struct sim_netback *b)
{
    nb_restart(b, true);
}

void nb_ring_unmap(struct sim_netback *b, gp_grant_ref_t ref, void *va)
{
    if (b->keep_maps && b->nkept < sizeof(b->kept) / sizeof(b->kept[0])) {
        unsigned char *copy = malloc(GP_PAGE_SIZE);
        if (copy) {
            memcpy(copy, va, GP_PAGE_SIZE);
            b->kept[b->nkept++] = (struct nb_kept){ ref, va, copy };
            return;
        }
    }
    sim_gnt_unmap(b->bk.x, 0, b->bk.fe, ref, true);
}

void sim_netback_keep_mappings(struct sim_netback *b, bool keep)
{
    pthread_mutex_lock(&b->bk.m);
    b->keep_maps = keep;
    pthread_mutex_unlock(&b->bk.m);
}

void sim_netback_snapshot_mappings(struct sim_netback *b)
{
    pthread_mutex_lock(&b->bk.m);
    for (unsigned i = 0; i < b->nkept; i++)
        memcpy(b->kept[i].copy, b->kept[i].va, GP_PAGE_SIZE);
    pthread_mutex_unlock(&b->bk.m);
}

unsigned sim_netback_release_mappings(struct sim_netback *b, unsigned *changed)
{
    pthread_mutex_lock(&b->bk.m);
    unsigned n = b->nkept;
    *changed = 0;
    for (unsigned i = 0; i < n; i++) {
        struct nb_kept *k = &b->kept[i];
        *changed += memcmp(k->copy, k->va, GP_PAGE_SIZE) != 0;
        sim_gnt_unmap(b->bk.x, 0, b->bk.fe, k->ref, true);
        free(k->copy);
    }
    b->nkept = 0;
    pthread_mutex_unlock(&b->bk.m);
    return n;
}

void sim_netback_restart_unseen(struct sim_netback *b)
{
    nb_restart(b, false);
}

bool sim_netback_restart_late_begin(struct sim_netback *b)
{
    pthread_mutex_lock(&b->bk.state_m);          /* held until _end: no transition runs */
    sim_back_set_state(&b->bk, XenbusStateClosing);
    bool closed = false;
    for (int i = 0; i < 5000 && !closed; i++) {
        long long s = sim_back_read_fe(&b->bk, "state", -1);
        closed = s == XenbusStateClosed || s == XenbusStateClosing;
        if (!closed)
            usleep(1000);
    }
    /* The frontend gave the rings up; we still map them and answer now
     * what we held, as a backend finishing its work on the way out. */
    pthread_mutex_lock(&b->bk.m);
    b->hold_tx = false;
    for (unsigned i = 0; b->bk.connected && i < b->nq; i++)
        nb_tx_flush(b, &b->q[i]);
    pthread_mutex_unlock(&b->bk.m);
    return closed;
}

void sim_netback_restart_late_end(struct sim_netback *b)
{
    pthread_mutex_lock(&b->bk.m);
    nb_disconnect_locked(b);
    sim_back_unlock(&b->bk);
    sim_back_set_state(&b->bk, XenbusStateClosed);
    sim_back_set_state(&b->bk, XenbusStateInitWait);
    pthread_mutex_unlock(&b->bk.state_m);
}

/* ---- the audit: bytes a grant shows beyond the data ---------------------------- */

static unsigned nb_nonzero(const uint8_t *p, unsigned from, unsigned to)
{
    unsigned n = 0;
    for (unsigned i = from; i < to; i++)
        n += p[i] != 0;
    return n;
}

void nb_audit_tx_slot(struct sim_netback *b, gp_grant_ref_t ref, unsigned offset, unsigned size)
{
    if (!b->o.audit_stale)
        return;
    uint8_t page[GP_PAGE_SIZE];
    if (offset > GP_PAGE_SIZE || size > GP_PAGE_SIZE - offset ||
        sim_gnt_copy(b->bk.x, 0, b->bk.fe, ref, 0, page, GP_PAGE_SIZE, false) != 0)
        return;
    b->st.stale_bytes += nb_nonzero(page, 0, offset) +
                         nb_nonzero(page, offset + size, GP_PAGE_SIZE);
}

void nb_audit_rx_posted(struct sim_netback *b, struct nb_queue *q)
{
    if (!b->o.audit_stale)
        return;
    RING_IDX rp = __atomic_load_n(&q->rx.sring->req_prod, __ATOMIC_ACQUIRE);
    if (rp - q->rx.req_cons > RING_SIZE(&q->rx))
        return;
    uint8_t page[GP_PAGE_SIZE];
    for (RING_IDX i = q->rx.req_cons; i != rp; i++) {
        netif_rx_request_t req;
        memcpy(&req, RING_GET_REQUEST(&q->rx, i), sizeof(req));
        if (sim_gnt_copy(b->bk.x, 0, b->bk.fe, req.gref, 0, page, GP_PAGE_SIZE, false) == 0)
            b->st.stale_bytes += nb_nonzero(page, 0, GP_PAGE_SIZE);
    }
}
