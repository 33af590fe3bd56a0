/* netfront's control ring (xen/io/netif.h, feature-ctrl-ring): set up at
 * connect when the backend offers it, one request at a time, every
 * response checked against the request it must answer. */
#include <string.h>

#include "netfront_internal.h"

int netfront_ctrl_create(struct netfront *nf)
{
    const struct gp_platform *p = nf->plat;
    struct netfront_ctrl *c = &nf->ctrl;
    c->page.ref = GP_INVALID_GRANT;
    c->lock = gp_os_lock_create(p);
    c->done = gp_os_event_create(p);
    return c->lock && c->done ? 0 : GP_ENOMEM;
}

void netfront_ctrl_free(struct netfront *nf)
{
    const struct gp_platform *p = nf->plat;
    struct netfront_ctrl *c = &nf->ctrl;
    if (c->page.va && c->page.ref == GP_INVALID_GRANT)   /* a page still granted stays */
        gp_os_page_free(p, c->page.va);
    if (c->lock)
        gp_os_lock_destroy(p, c->lock);
    if (c->done)
        gp_os_event_destroy(p, c->done);
    memset(c, 0, sizeof(*c));
}

/* A response with this id answers a request that timed out (lock held). */
static bool netfront_ctrl_take_lost(struct netfront_ctrl *c, uint16_t id)
{
    for (unsigned i = 0; i < c->nlost; i++)
        if (c->lost_id[i] == id) {
            c->lost_id[i] = c->lost_id[--c->nlost];
            return true;
        }
    return false;
}

/* Once every slot is answered, no answer can be late any more (lock held). */
static void netfront_ctrl_settle(struct netfront_ctrl *c)
{
    if (c->ring.rsp_cons == c->ring.req_prod_pvt)
        c->nlost = 0;
}

/* [any] The backend answered (or says it did). */
static void netfront_ctrl_event(void *arg, gp_port_t port)
{
    struct netfront *nf = arg;
    const struct gp_platform *p = nf->plat;
    struct netfront_ctrl *c = &nf->ctrl;
    (void)port;
    gp_os_lock_acquire(p, c->lock);
    for (;;) {
        RING_IDX rp = GP_READ_ONCE(c->ring.sring->rsp_prod);
        gp_rmb();
        if (rp - c->ring.rsp_cons > c->ring.req_prod_pvt - c->ring.rsp_cons) {
            gp_os_lock_release(p, c->lock);
            netfront_fatal(nf, "control responses beyond the requests", rp, c->ring.req_prod_pvt);
            return;
        }
        while (c->ring.rsp_cons != rp) {
            struct xen_netif_ctrl_response r;
            memcpy(&r, RING_GET_RESPONSE(&c->ring, c->ring.rsp_cons), sizeof(r));  /* read once */
            c->ring.rsp_cons++;
            if (!c->busy || c->answered || r.id != c->id || r.type != c->type) {
                if (netfront_ctrl_take_lost(c, r.id)) {
                    netfront_count(nf, &nf->stats.ctrl_late, 1);
                    gp_log_ratelimited(p, &nf->rl_ctrl, GP_LOG_INFO,
                                       "netfront %s: late answer to timed-out control request "
                                       "id %u: ignored", nf->dev.nodename, r.id);
                } else {
                    netfront_count(nf, &nf->stats.bad_responses, 1);
                    gp_log_ratelimited(p, &nf->rl_ctrl, GP_LOG_WARN,
                                       "netfront %s: control response id %u type %u answers "
                                       "nothing waiting: ignored", nf->dev.nodename, r.id, r.type);
                }
                netfront_ctrl_settle(c);
                continue;
            }
            c->status = r.status;
            c->data = r.data;
            c->answered = true;
            gp_os_event_signal(p, c->done);
        }
        int more = 0;
        RING_FINAL_CHECK_FOR_RESPONSES(&c->ring, more);
        if (!more)
            break;
    }
    gp_os_lock_release(p, c->lock);
}

int netfront_ctrl_setup(struct netfront *nf)
{
    const struct gp_platform *p = nf->plat;
    struct netfront_ctrl *c = &nf->ctrl;
    nf->info.ctrl_ring = false;
    if (nf->opts.no_ctrl_ring || !xenbus_otherend_feature(&nf->dev, "feature-ctrl-ring"))
        return 0;
    if (!c->page.va)
        c->page.va = gp_os_page_alloc(p, &c->page.gfn);
    if (!c->page.va)
        return GP_ENOMEM;
    xen_netif_ctrl_sring_t *s = c->page.va;
    memset(s, 0, GP_PAGE_SIZE);           /* a new backend sees nothing of the last one's */
    SHARED_RING_INIT(s);
    FRONT_RING_INIT(&c->ring, s, GP_PAGE_SIZE);
    int err = netfront_pages_grant(nf, &c->page, 1, false);
    if (!err)
        err = gp_xen_evtchn_alloc_unbound(p, nf->dev.otherend_id, &c->port);
    if (!err)
        err = gp_xen_evtchn_bind(p, c->port, netfront_ctrl_event, nf);
    if (err)
        return err;
    gp_os_lock_acquire(p, c->lock);
    c->busy = c->answered = false;
    c->nlost = 0;                         /* a fresh ring: every slot free */
    gp_os_lock_release(p, c->lock);
    c->up = true;
    nf->info.ctrl_ring = true;
    return 0;
}

int netfront_ctrl_write_keys(struct netfront *nf, xs_txn_t t)
{
    struct netfront_ctrl *c = &nf->ctrl;
    if (!c->up)
        return 0;
    int err = xenbus_printf(&nf->dev, t, "ctrl-ring-ref", "%u", c->page.ref);
    if (!err)
        err = xenbus_printf(&nf->dev, t, "event-channel-ctrl", "%u", c->port);
    return err;
}

static void netfront_ctrl_wake_waiter(struct netfront *nf)
{
    const struct gp_platform *p = nf->plat;
    struct netfront_ctrl *c = &nf->ctrl;
    gp_os_lock_acquire(p, c->lock);
    if (c->busy && !c->answered)
        gp_os_event_signal(p, c->done);   /* it sees the ring gone and gives up */
    gp_os_lock_release(p, c->lock);
}

/* The ring is no longer usable: a request waiting on it gives up. */
static void netfront_ctrl_down(struct netfront *nf)
{
    struct netfront_ctrl *c = &nf->ctrl;
    bool was_up = c->up;
    c->up = false;
    nf->info.ctrl_ring = false;
    if (was_up)
        netfront_ctrl_wake_waiter(nf);
}

void netfront_ctrl_teardown(struct netfront *nf)
{
    const struct gp_platform *p = nf->plat;
    struct netfront_ctrl *c = &nf->ctrl;
    netfront_ctrl_down(nf);
    if (c->port)
        gp_xen_evtchn_unbind(p, c->port);
    c->port = 0;
    if (c->page.va)
        netfront_pages_end(nf, &c->page, 1);
}

void netfront_ctrl_forget(struct netfront *nf)
{
    struct netfront_ctrl *c = &nf->ctrl;
    netfront_ctrl_down(nf);
    c->port = 0;
    c->page.ref = GP_INVALID_GRANT;
}

static int netfront_ctrl_status(uint32_t status)
{
    switch (status) {
    case XEN_NETIF_CTRL_STATUS_SUCCESS: return 0;
    case XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED: return GP_ENOTSUP;
    case XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER: return GP_EINVAL;
    case XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW: return GP_ENOSPC;
    default: return GP_EIO;
    }
}

int netfront_ctrl_request(struct netfront *nf, uint16_t type, uint32_t d0, uint32_t d1,
                          uint32_t d2, uint32_t *data, uint64_t timeout_ns)
{
    const struct gp_platform *p = nf->plat;
    struct netfront_ctrl *c = &nf->ctrl;
    if (data)
        *data = 0;
    if (netfront_is_broken(nf))
        return GP_EIO;
    gp_os_lock_acquire(p, c->lock);
    if (!c->up || !nf->connected || c->busy) {
        bool busy = c->busy;
        gp_os_lock_release(p, c->lock);
        return busy ? GP_EBUSY : GP_ENOTSUP;
    }
    if (c->nlost >= NETFRONT_CTRL_MAX_LOST || RING_FULL(&c->ring)) {
        /* The backend leaves requests unanswered: refuse rather than fill
         * the ring with more; answers to them, or a reconnect (a fresh
         * ring), bring the control path back. */
        unsigned lost = c->nlost;
        gp_os_lock_release(p, c->lock);
        gp_log_ratelimited(p, &nf->rl_ctrl, GP_LOG_ERROR,
                           "netfront %s: backend left %u control request(s) unanswered: "
                           "control requests fail until it answers or reconnects",
                           nf->dev.nodename, lost);
        return GP_EIO;
    }
    c->busy = true;
    c->answered = false;
    c->id = (uint16_t)(c->id + 1);
    c->type = type;
    struct xen_netif_ctrl_request *rq = RING_GET_REQUEST(&c->ring, c->ring.req_prod_pvt);
    rq->id = c->id;
    uint16_t id = c->id;
    rq->type = type;
    rq->data[0] = d0;
    rq->data[1] = d1;
    rq->data[2] = d2;
    c->ring.req_prod_pvt++;
    int notify = 0;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&c->ring, notify);
    gp_port_t port = c->port;
    gp_os_lock_release(p, c->lock);
    if (notify)
        gp_xen_evtchn_notify(p, port);
    uint64_t deadline = gp_os_now_ns(p) + timeout_ns;
    int err = GP_ETIMEDOUT;
    for (;;) {
        gp_os_lock_acquire(p, c->lock);
        bool answered = c->answered, up = c->up;
        uint32_t status = c->status, value = c->data;
        gp_os_lock_release(p, c->lock);
        if (answered) {
            err = netfront_ctrl_status(status);
            if (!err && data)
                *data = value;
            break;
        }
        if (!up) {
            err = GP_EIO;                  /* disconnected meanwhile */
            break;
        }
        uint64_t now = gp_os_now_ns(p);
        if (now >= deadline)
            break;
        gp_os_event_wait(p, c->done, deadline - now);
    }
    gp_os_lock_acquire(p, c->lock);
    if (err == GP_ETIMEDOUT && !c->answered && c->nlost < NETFRONT_CTRL_MAX_LOST &&
        c->ring.rsp_cons != c->ring.req_prod_pvt)
        c->lost_id[c->nlost++] = id;     /* its slot stays taken until answered */
    c->busy = false;
    gp_os_lock_release(p, c->lock);
    if (err == GP_ETIMEDOUT) {
        netfront_count(nf, &nf->stats.ctrl_timeouts, 1);
        gp_log_ratelimited(p, &nf->rl_ctrl, GP_LOG_WARN,
                           "netfront %s: control request type %u id %u unanswered",
                           nf->dev.nodename, type, id);
    }
    return err;
}
