/*
 * xs_ring: a gp_xs_transport over the xenstore shared page.  Indices are
 * free-running; each side reads the other's index once, checks that it
 * is within one ring of its own, and masks only when indexing.  Messages
 * longer than the ring stream through it in pieces.
 */
#include <string.h>

#include "gplpv/log.h"
#include "xs_ring.h"

#include <xen/io/xs_wire.h>

struct xs_ring {
    struct gp_xs_transport t;
    const struct gp_platform *plat;
    struct xenstore_domain_interface *intf;
    gp_port_t port;
    struct gp_event *space;          /* signalled on every event-channel kick */
    gp_work_fn rx_fn;
    void *rx_arg;
    bool broken;
};

static void xs_ring_kick(void *arg, gp_port_t port)
{
    struct xs_ring *r = arg;
    (void)port;
    gp_os_event_signal(r->plat, r->space);
    gp_work_fn fn = r->rx_fn;
    if (fn)
        fn(r->rx_arg);
}

static void xs_ring_broken(struct xs_ring *r, const char *which, uint32_t prod, uint32_t cons)
{
    if (!r->broken)
        GP_ERR(r->plat, "xs_ring: %s indices out of range (prod %u, cons %u): ring unusable",
               which, prod, cons);
    r->broken = true;
}

static int xs_ring_send(void *ctx, const void *buf, size_t len)
{
    struct xs_ring *r = ctx;
    const struct gp_platform *p = r->plat;
    const char *src = buf;
    uint64_t stalled_since = 0;
    while (len > 0) {
        if (r->broken)
            return GP_EIO;
        uint32_t cons = GP_READ_ONCE(r->intf->req_cons);
        uint32_t prod = GP_READ_ONCE(r->intf->req_prod);
        gp_mb();
        if (prod - cons > XENSTORE_RING_SIZE) {
            xs_ring_broken(r, "request", prod, cons);
            return GP_EIO;
        }
        uint32_t space = XENSTORE_RING_SIZE - (prod - cons);
        if (space == 0) {
            uint64_t now = gp_os_now_ns(p);
            if (!stalled_since)
                stalled_since = now;
            else if (now - stalled_since > GP_S(30)) {
                GP_ERR(p, "xs_ring: xenstored has not consumed requests for 30 s");
                return GP_ETIMEDOUT;
            }
            gp_os_event_wait(p, r->space, GP_MS(1));
            continue;
        }
        stalled_since = 0;
        uint32_t off = MASK_XENSTORE_IDX(prod);
        uint32_t chunk = XENSTORE_RING_SIZE - off;
        if (chunk > space)
            chunk = space;
        if (chunk > len)
            chunk = (uint32_t)len;
        memcpy(r->intf->req + off, src, chunk);
        gp_wmb();                      /* data before the index */
        GP_WRITE_ONCE(r->intf->req_prod, prod + chunk);
        gp_xen_evtchn_notify(p, r->port);
        src += chunk;
        len -= chunk;
    }
    return 0;
}

static long xs_ring_recv(void *ctx, void *buf, size_t len)
{
    struct xs_ring *r = ctx;
    const struct gp_platform *p = r->plat;
    if (r->broken)
        return GP_EIO;
    uint32_t cons = GP_READ_ONCE(r->intf->rsp_cons);
    uint32_t prod = GP_READ_ONCE(r->intf->rsp_prod);
    gp_rmb();                          /* index before the data */
    if (prod - cons > XENSTORE_RING_SIZE) {
        xs_ring_broken(r, "response", prod, cons);
        return GP_EIO;
    }
    uint32_t avail = prod - cons;
    size_t done = 0;
    while (avail > 0 && done < len) {
        uint32_t off = MASK_XENSTORE_IDX(cons);
        uint32_t chunk = XENSTORE_RING_SIZE - off;
        if (chunk > avail)
            chunk = avail;
        if (chunk > len - done)
            chunk = (uint32_t)(len - done);
        memcpy((char *)buf + done, r->intf->rsp + off, chunk);
        done += chunk;
        cons += chunk;
        avail -= chunk;
    }
    if (done) {
        gp_mb();                       /* data read before the slot is given back */
        GP_WRITE_ONCE(r->intf->rsp_cons, cons);
        gp_xen_evtchn_notify(p, r->port);
    }
    return (long)done;
}

static void xs_ring_set_rx_handler(void *ctx, gp_work_fn fn, void *arg)
{
    struct xs_ring *r = ctx;
    r->rx_fn = NULL;
    gp_wmb();
    r->rx_arg = arg;
    gp_wmb();
    r->rx_fn = fn;
}

int xs_ring_create(const struct gp_platform *p, void *ring_page, gp_port_t port,
                   struct gp_xs_transport **out)
{
    if (!ring_page || port == GP_INVALID_PORT) {
        GP_ERR(p, "xs_ring: no xenstore page or event channel");
        return GP_ENODEV;
    }
    struct xs_ring *r = gp_zalloc(p, sizeof(*r));
    if (!r)
        return GP_ENOMEM;
    r->plat = p;
    r->intf = ring_page;
    r->port = port;
    r->space = gp_os_event_create(p);
    if (!r->space) {
        gp_free(p, r);
        return GP_ENOMEM;
    }
    r->t.ctx = r;
    r->t.send = xs_ring_send;
    r->t.recv = xs_ring_recv;
    r->t.set_rx_handler = xs_ring_set_rx_handler;
    int err = gp_xen_evtchn_bind(p, port, xs_ring_kick, r);
    if (err) {
        GP_ERR(p, "xs_ring: binding event channel %u: %s", port, gp_strerror(err));
        gp_os_event_destroy(p, r->space);
        gp_free(p, r);
        return err;
    }
    *out = &r->t;
    return 0;
}

void xs_ring_destroy(struct gp_xs_transport *t)
{
    if (!t)
        return;
    struct xs_ring *r = t->ctx;
    const struct gp_platform *p = r->plat;
    /* The channel is the domain's (the toolstack made it, HVM_PARAM_STORE_
     * EVTCHN names it): closing it would leave the next driver loaded in
     * this domain without xenstore, and hand its number to the next
     * EVTCHNOP_alloc_unbound.  Only our handler goes. */
    if (p->xen->evtchn_release)
        gp_xen_evtchn_release(p, r->port);
    else
        gp_xen_evtchn_unbind(p, r->port);
    gp_os_event_destroy(p, r->space);
    gp_free(p, r);
}

int xs_ring_reconnect(struct gp_xs_transport *t, void *ring_page, gp_port_t port)
{
    struct xs_ring *r = t->ctx;
    const struct gp_platform *p = r->plat;
    if (!ring_page || port == GP_INVALID_PORT) {
        GP_ERR(p, "xs_ring: no xenstore page or event channel to reconnect to");
        return GP_ENODEV;
    }
    r->intf = ring_page;
    r->port = port;
    /* A fresh page: whatever broke the old one (indices out of range) is
     * gone with it; a new page that is just as bad is found again by the
     * same checks on its first use. */
    r->broken = false;
    int err = gp_xen_evtchn_bind(p, port, xs_ring_kick, r);
    if (err)
        GP_ERR(p, "xs_ring: binding event channel %u: %s", port, gp_strerror(err));
    return err;
}
