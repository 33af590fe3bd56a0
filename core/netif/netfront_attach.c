/*
 * netfront_attach: the data paths alone, on one-page rings the caller
 * owns, with no xenstore negotiation: the split that lets the receive and
 * transmit response paths be fuzzed without a backend (the caller plays
 * it).  The backend is assumed to offer everything (SG, GSO, offloads).
 */
#include <string.h>

#include "netfront_internal.h"

int netfront_attach_raw(const struct gp_platform *p, void *tx_ring, void *rx_ring,
                        const struct netfront_opts *o, struct netfront **out)
{
    struct netfront *nf = gp_zalloc(p, sizeof(*nf));
    if (!nf)
        return GP_ENOMEM;
    nf->plat = p;
    netfront_ratelimits_init(nf);
    if (o)
        nf->opts = *o;
    strcpy(nf->dev.nodename, "raw");
    nf->lock = gp_os_lock_create(p);
    struct netfront_queue *q = &nf->q[0];
    q->nf = nf;
    q->active = true;
    q->tx_lock = gp_os_lock_create(p);
    q->rx_lock = gp_os_lock_create(p);
    q->tx_ring_va = tx_ring;
    q->rx_ring_va = rx_ring;
    q->tx_ring_ref = q->rx_ring_ref = GP_INVALID_GRANT;
    nf->nqueues = 1;
    struct netfront_info *in = &nf->info;
    in->sg = in->gso_tcpv4 = in->gso_tcpv6 = in->csum_offload = in->ipv6_csum_offload = true;
    in->queues = 1;
    in->tx_ring_slots = NETFRONT_TX_SLOTS;
    in->rx_ring_slots = NETFRONT_RX_SLOTS;
    in->max_tx_frame = NETPKT_MAX_FRAME;
    int err = nf->lock && q->tx_lock && q->rx_lock ? 0 : GP_ENOMEM;
    if (!err)
        err = netfront_tx_pages_alloc(q);
    if (!err)
        err = netfront_rx_pages_alloc(q);
    if (err) {
        netfront_detach_raw(nf);
        return err;
    }
    netfront_tx_reset(q);
    netfront_rx_reset(q);
    nf->connected = true;
    *out = nf;
    return 0;
}

void netfront_detach_raw(struct netfront *nf)
{
    const struct gp_platform *p = nf->plat;
    struct netfront_queue *q = &nf->q[0];
    nf->connected = false;
    if (q->tx_lock && q->rx_lock)
        netfront_tx_fail_all(q, GP_ESHUTDOWN);
    for (unsigned k = 0; k < NETFRONT_TX_SLOTS; k++)
        if (q->tx_pages[k].va)
            gp_os_page_free(p, q->tx_pages[k].va);
    for (unsigned k = 0; k < NETFRONT_RX_SLOTS; k++)
        if (q->rx_pages[k].va)
            gp_os_page_free(p, q->rx_pages[k].va);
    gp_free(p, q->scratch);
    if (q->tx_lock)
        gp_os_lock_destroy(p, q->tx_lock);
    if (q->rx_lock)
        gp_os_lock_destroy(p, q->rx_lock);
    if (nf->lock)
        gp_os_lock_destroy(p, nf->lock);
    gp_free(p, nf);
}
