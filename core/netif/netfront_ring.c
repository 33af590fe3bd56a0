/*
 * netfront_ring: what the transmit and receive paths share: the event
 * channel handlers (one port for both rings, or one each with split event
 * channels), granting the queues' pages, failing the device, counters.
 */
#include <string.h>

#include "netfront_internal.h"

void netfront_count(struct netfront *nf, uint64_t *counter, uint64_t n)
{
    (void)nf;
    __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

void netfront_ratelimits_init(struct netfront *nf)
{
    nf->rl_rx = (struct gp_ratelimit)NETFRONT_RATELIMIT;
    nf->rl_tx = (struct gp_ratelimit)NETFRONT_RATELIMIT;
    nf->rl_ctrl = (struct gp_ratelimit)NETFRONT_RATELIMIT;
}

void netfront_fatal(struct netfront *nf, const char *why, uint64_t a, uint64_t b)
{
    netfront_count(nf, &nf->stats.bad_responses, 1);
    if (__atomic_exchange_n(&nf->broken, true, __ATOMIC_ACQ_REL))
        return;
    GP_ERR(nf->plat, "netfront %s: backend broke the protocol (%s: %llu, %llu): device failed",
           nf->dev.nodename, why, (unsigned long long)a, (unsigned long long)b);
}

static bool netfront_live(struct netfront *nf)
{
    return !__atomic_load_n(&nf->broken, __ATOMIC_ACQUIRE);
}

void netfront_event(void *arg, gp_port_t port)
{
    struct netfront_queue *q = arg;
    (void)port;
    netfront_count(q->nf, &q->nf->stats.events, 1);
    if (!netfront_live(q->nf))
        return;
    netfront_tx_event(q);
    if (netfront_live(q->nf))
        netfront_rx_event(q);
}

/* Split event channels: one ring's port. */
static void netfront_event_one(struct netfront_queue *q,
                               void (*ring_event)(struct netfront_queue *q))
{
    netfront_count(q->nf, &q->nf->stats.events, 1);
    if (netfront_live(q->nf))
        ring_event(q);
}

void netfront_event_tx(void *arg, gp_port_t port)
{
    (void)port;
    netfront_event_one(arg, netfront_tx_event);
}

void netfront_event_rx(void *arg, gp_port_t port)
{
    (void)port;
    netfront_event_one(arg, netfront_rx_event);
}

/* Allocate the missing pages of n (zeroed: the backend reads whole pages);
 * they are not granted yet and hold no earlier frame. */
int netfront_pages_alloc(struct netfront *nf, struct netfront_page *pg, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (pg[i].va)
            continue;
        pg[i].ref = GP_INVALID_GRANT;
        pg[i].va = gp_os_page_alloc(nf->plat, &pg[i].gfn);
        if (!pg[i].va)
            return GP_ENOMEM;
        memset(pg[i].va, 0, GP_PAGE_SIZE);
        pg[i].used = 0;
    }
    return 0;
}

int netfront_pages_grant(struct netfront *nf, struct netfront_page *pg, unsigned n,
                         bool readonly)
{
    const struct gp_platform *p = nf->plat;
    for (unsigned i = 0; i < n; i++) {
        if (pg[i].ref != GP_INVALID_GRANT)
            continue;
        int err = gp_xen_grant_access(p, nf->dev.otherend_id, pg[i].gfn, readonly,
                                  &pg[i].ref);
        if (err) {
            pg[i].ref = GP_INVALID_GRANT;
            return err;
        }
        netfront_count(nf, &nf->stats.grant_ops, 1);
    }
    return 0;
}

/* End the grants of n pages.  A page the backend still maps is never
 * reused: it goes to the quarantine (retried at each reconnect and before
 * destroy, freed only once its grant ends) and its slot is left empty, so
 * that the next setup allocates a fresh page for it. */
void netfront_pages_end(struct netfront *nf, struct netfront_page *pg, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (pg[i].ref == GP_INVALID_GRANT)
            continue;
        netfront_count(nf, &nf->stats.grant_ops, 1);
        if (gp_quarantine_withdraw(&nf->quar, &pg[i].ref, &pg[i].va) != 0)
            pg[i].used = 0;               /* the quarantine has the page */
    }
}
