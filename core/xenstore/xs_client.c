/*
 * xs_client: one connection to xenstored over a byte-stream transport.
 * Requests carry a fresh req_id and wait for the reply with that id;
 * several may be in flight from several threads.  The receive side parses
 * the stream (header, then payload) at whatever level the transport calls
 * it, hands replies to their waiters and queues watch events for ordered
 * delivery (xs_watch.c).  A reply that breaks the protocol is counted,
 * logged and dropped; a header whose length is impossible desynchronises
 * the stream, so the requests in flight fail with GP_EPROTO and the parser
 * starts again at the next message.
 */
#include <string.h>

#include "xs_internal.h"

static void xs_rx_handler(void *arg);

static bool xs_known_reply_type(uint32_t type)
{
    return type < XS_TYPE_COUNT;
}

int xs_client_create(const struct gp_platform *p, struct gp_xs_transport *t,
                     struct xs_client **out)
{
    if (!t)
        t = p->xen ? p->xen->xs : NULL;
    if (!t || !t->send || !t->recv || !t->set_rx_handler) {
        GP_ERR(p, "xs: no xenstore transport");
        return GP_ENODEV;
    }
    struct xs_client *c = gp_zalloc(p, sizeof(*c));
    if (!c)
        return GP_ENOMEM;
    c->plat = p;
    c->t = t;
    c->timeout_ns = XS_DEFAULT_TIMEOUT_NS;
    c->next_req_id = 1;
    c->next_token = 1;
    c->lock = gp_os_lock_create(p);
    c->rx_lock = gp_os_lock_create(p);
    c->send_free = gp_os_event_create(p);
    c->resumed = gp_os_event_create(p);
    c->pump_idle = gp_os_event_create(p);
    c->rx_body = gp_zalloc(p, XENSTORE_PAYLOAD_MAX + 1);
    if (!c->lock || !c->rx_lock || !c->send_free || !c->resumed || !c->pump_idle ||
        !c->rx_body) {
        xs_client_destroy(c);
        return GP_ENOMEM;
    }
    t->set_rx_handler(t->ctx, xs_rx_handler, c);
    *out = c;
    /* Bytes may already be waiting (a reconnected ring). */
    xs_rx_handler(c);
    return 0;
}

static void xs_fail_inflight(struct xs_client *c, int err)
{
    /* lock held */
    for (struct xs_req *r = c->inflight; r; r = r->next) {
        if (!r->done) {
            r->done = true;
            r->error = err;
            gp_os_event_signal(c->plat, r->done_event);
        }
    }
}

void xs_client_destroy(struct xs_client *c)
{
    if (!c)
        return;
    const struct gp_platform *p = c->plat;
    if (c->t && c->lock)
        c->t->set_rx_handler(c->t->ctx, NULL, NULL);
    if (c->lock) {
        gp_os_lock_acquire(p, c->lock);
        c->shutdown = true;
        xs_fail_inflight(c, GP_ESHUTDOWN);
        gp_os_lock_release(p, c->lock);
        if (c->resumed)
            gp_os_event_signal(p, c->resumed);
        /* Waiters own their xs_req; give them a moment to leave. */
        for (int i = 0; i < 1000; i++) {
            gp_os_lock_acquire(p, c->lock);
            bool empty = c->inflight == NULL;
            gp_os_lock_release(p, c->lock);
            if (empty)
                break;
            gp_os_event_wait(p, c->send_free, GP_MS(1));
        }
        xs_watch_destroy_all(c);
    }
    if (c->lock)
        gp_os_lock_destroy(p, c->lock);
    if (c->rx_lock)
        gp_os_lock_destroy(p, c->rx_lock);
    if (c->send_free)
        gp_os_event_destroy(p, c->send_free);
    if (c->resumed)
        gp_os_event_destroy(p, c->resumed);
    if (c->pump_idle)
        gp_os_event_destroy(p, c->pump_idle);
    gp_free(p, c->rx_body);
    gp_free(p, c);
}

void xs_client_set_timeout(struct xs_client *c, uint64_t timeout_ns)
{
    c->timeout_ns = timeout_ns;
}

void xs_free(const struct xs_client *c, void *p)
{
    gp_free(c->plat, p);
}

void xs_client_get_stats(const struct xs_client *c, struct xs_client_stats *s)
{
    gp_os_lock_acquire(c->plat, c->lock);
    *s = c->stats;
    gp_os_lock_release(c->plat, c->lock);
}

/* ---- sending ------------------------------------------------------------ */

static void xs_unlink_req(struct xs_client *c, struct xs_req *r)
{
    for (struct xs_req **pp = &c->inflight; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            return;
        }
    }
}

/* Wait (lock held on entry and exit) until no other message is being sent
 * and we are not suspended, then own the wire. */
static int xs_acquire_wire(struct xs_client *c)
{
    const struct gp_platform *p = c->plat;
    while (c->sending || c->suspended) {
        if (c->shutdown)
            return GP_ESHUTDOWN;
        struct gp_event *e = c->suspended ? c->resumed : c->send_free;
        gp_os_lock_release(p, c->lock);
        gp_os_event_wait(p, e, GP_MS(1));     /* 1 ms: tolerate missed wakeups */
        gp_os_lock_acquire(p, c->lock);
    }
    if (c->shutdown)
        return GP_ESHUTDOWN;
    c->sending = true;
    return 0;
}

static void xs_release_wire(struct xs_client *c)
{
    c->sending = false;
    gp_os_event_signal(c->plat, c->send_free);
}

int xs_request(struct xs_client *c, uint32_t type, xs_txn_t t, const void *const *parts,
               const uint32_t *lens, unsigned nparts, char **body, uint32_t *len)
{
    const struct gp_platform *p = c->plat;
    uint32_t total = 0;
    for (unsigned i = 0; i < nparts; i++)
        total += lens[i];
    if (total > XENSTORE_PAYLOAD_MAX)
        return GP_E2BIG;

    struct xs_req *r = gp_zalloc(p, sizeof(*r));
    char *msg = gp_zalloc(p, sizeof(struct xsd_sockmsg) + total);
    struct gp_event *ev = gp_os_event_create(p);
    if (!r || !msg || !ev) {
        gp_free(p, r);
        gp_free(p, msg);
        if (ev)
            gp_os_event_destroy(p, ev);
        return GP_ENOMEM;
    }
    r->done_event = ev;
    r->type = type;

    gp_os_lock_acquire(p, c->lock);
    int err = xs_acquire_wire(c);
    if (err) {
        gp_os_lock_release(p, c->lock);
        gp_free(p, msg);
        gp_os_event_destroy(p, ev);
        gp_free(p, r);
        return err;
    }
    r->req_id = c->next_req_id++;
    if (c->next_req_id == 0)
        c->next_req_id = 1;
    r->next = c->inflight;
    c->inflight = r;
    c->stats.requests++;
    gp_os_lock_release(p, c->lock);

    struct xsd_sockmsg hdr = { .type = type, .req_id = r->req_id, .tx_id = t, .len = total };
    memcpy(msg, &hdr, sizeof(hdr));
    uint32_t off = sizeof(hdr);
    for (unsigned i = 0; i < nparts; i++) {
        memcpy(msg + off, parts[i], lens[i]);
        off += lens[i];
    }
    err = c->t->send(c->t->ctx, msg, off);
    gp_free(p, msg);

    gp_os_lock_acquire(p, c->lock);
    xs_release_wire(c);
    if (err) {
        xs_unlink_req(c, r);
        gp_os_lock_release(p, c->lock);
        GP_ERR(p, "xs: sending request type %u failed: %s", type, gp_strerror(err));
        gp_os_event_destroy(p, ev);
        gp_free(p, r);
        return err;
    }
    uint64_t deadline = c->timeout_ns ? gp_os_now_ns(p) + c->timeout_ns : 0;
    while (!r->done) {
        uint64_t wait = GP_MS(10);   /* 10 ms slices: never miss a wakeup */
        if (deadline) {
            uint64_t now = gp_os_now_ns(p);
            if (now >= deadline)
                break;
            if (deadline - now < wait)
                wait = deadline - now;
        }
        gp_os_lock_release(p, c->lock);
        gp_os_event_wait(p, ev, wait);
        /* The transport may not interrupt us (polled platforms). */
        xs_rx_handler(c);
        gp_os_lock_acquire(p, c->lock);
    }
    bool done = r->done;
    xs_unlink_req(c, r);
    if (!done) {
        c->stats.errors++;
        gp_os_lock_release(p, c->lock);
        GP_ERR(p, "xs: request type %u (req_id %u) timed out", type, r->req_id);
        err = GP_ETIMEDOUT;
    } else {
        if (r->error)
            c->stats.errors++;
        gp_os_lock_release(p, c->lock);
        err = r->error;
    }
    gp_os_event_signal(p, c->send_free);   /* destroy() may wait for the list to drain */
    gp_os_event_destroy(p, ev);
    if (!err && body) {
        *body = r->body;
        r->body = NULL;
        if (len)
            *len = r->len;
    }
    gp_free(p, r->body);
    gp_free(p, r);
    return err;
}

int xs_request_str(struct xs_client *c, uint32_t type, xs_txn_t t, const char *arg,
                   char **body, uint32_t *len)
{
    const void *parts[1] = { arg };
    uint32_t lens[1] = { (uint32_t)strlen(arg) + 1 };
    return xs_request(c, type, t, parts, lens, 1, body, len);
}

/* ---- receiving ------------------------------------------------------------ */

/* A complete message is in rx_hdr/rx_body.  rx_lock held. */
static void xs_rx_message(struct xs_client *c)
{
    const struct gp_platform *p = c->plat;
    struct xsd_sockmsg h = c->rx_hdr;
    char *payload = c->rx_body;
    payload[h.len] = 0;

    if (h.type == XS_WATCH_EVENT) {
        xs_watch_event_arrived(c, payload, h.len);
        return;
    }
    gp_os_lock_acquire(p, c->lock);
    c->stats.replies++;
    struct xs_req *r = c->inflight;
    while (r && (r->req_id != h.req_id || r->done))
        r = r->next;
    if (!r) {
        c->stats.malformed++;
        gp_os_lock_release(p, c->lock);
        GP_ERR(p, "xs: reply with unknown req_id %u (type %u, %u bytes) dropped", h.req_id,
               h.type, h.len);
        return;
    }
    int error = 0;
    if (h.type == XS_ERROR) {
        if (h.len == 0 || payload[h.len - 1] != 0 || memchr(payload, 0, h.len) != payload + h.len - 1) {
            c->stats.malformed++;
            GP_ERR(p, "xs: malformed error reply to req_id %u", h.req_id);
            error = GP_EPROTO;
        } else {
            error = gp_error_from_xs(payload);
        }
    } else if (h.type != r->type) {
        c->stats.malformed++;
        GP_ERR(p, "xs: reply type %u to a request of type %u (req_id %u)", h.type, r->type,
               h.req_id);
        error = GP_EPROTO;
    }
    if (!error) {
        char *copy = gp_zalloc(p, h.len + 1);
        if (!copy) {
            error = GP_ENOMEM;
        } else {
            memcpy(copy, payload, h.len);
            r->body = copy;
            r->len = h.len;
        }
    }
    r->error = error;
    r->done = true;
    gp_os_event_signal(p, r->done_event);
    gp_os_lock_release(p, c->lock);
}

static void xs_rx_desync(struct xs_client *c, const char *why)
{
    const struct gp_platform *p = c->plat;
    GP_ERR(p, "xs: %s (type %u, req_id %u, len %u): failing requests in flight", why,
           c->rx_hdr.type, c->rx_hdr.req_id, c->rx_hdr.len);
    /* Drop everything already received: the next message starts afresh. */
    char sink[256];
    while (c->t->recv(c->t->ctx, sink, sizeof(sink)) > 0)
        ;
    c->rx_hdr_got = 0;
    c->rx_body_got = 0;
    gp_os_lock_acquire(p, c->lock);
    c->stats.malformed++;
    xs_fail_inflight(c, GP_EPROTO);
    gp_os_lock_release(p, c->lock);
}

static void xs_rx_handler(void *arg)
{
    struct xs_client *c = arg;
    const struct gp_platform *p = c->plat;
    gp_os_lock_acquire(p, c->rx_lock);
    for (;;) {
        long n;
        if (c->rx_hdr_got < sizeof(c->rx_hdr)) {
            n = c->t->recv(c->t->ctx, (char *)&c->rx_hdr + c->rx_hdr_got,
                           sizeof(c->rx_hdr) - c->rx_hdr_got);
            if (n <= 0)
                break;
            c->rx_hdr_got += (uint32_t)n;
            if (c->rx_hdr_got < sizeof(c->rx_hdr))
                continue;
            if (c->rx_hdr.len > XENSTORE_PAYLOAD_MAX) {
                xs_rx_desync(c, "reply longer than XENSTORE_PAYLOAD_MAX");
                continue;
            }
            c->rx_body_got = 0;
        }
        if (c->rx_body_got < c->rx_hdr.len) {
            n = c->t->recv(c->t->ctx, c->rx_body + c->rx_body_got,
                           c->rx_hdr.len - c->rx_body_got);
            if (n <= 0)
                break;
            c->rx_body_got += (uint32_t)n;
            if (c->rx_body_got < c->rx_hdr.len)
                continue;
        }
        /* Whole message. */
        c->rx_hdr_got = 0;
        if (!xs_known_reply_type(c->rx_hdr.type)) {
            gp_os_lock_acquire(p, c->lock);
            c->stats.malformed++;
            gp_os_lock_release(p, c->lock);
            GP_ERR(p, "xs: message of unknown type %u (req_id %u, %u bytes) dropped",
                   c->rx_hdr.type, c->rx_hdr.req_id, c->rx_hdr.len);
            continue;
        }
        xs_rx_message(c);
    }
    gp_os_lock_release(p, c->rx_lock);
}

/* ---- suspend / resume ------------------------------------------------------- */

void xs_client_hold_watches(struct xs_client *c)
{
    const struct gp_platform *p = c->plat;
    /* The watch callbacks (the balloon, control requests, device watches):
     * none may start, and the one running finishes - with the client still
     * usable, since it may be waiting for a reply. */
    gp_os_lock_acquire(p, c->lock);
    c->pump_hold = true;
    for (int i = 0; i < 10000 && c->pump_current; i++) {
        gp_os_lock_release(p, c->lock);
        gp_os_event_wait(p, c->pump_idle, GP_MS(1));
        gp_os_lock_acquire(p, c->lock);
    }
    if (c->pump_current)
        GP_WARN(p, "xs: a watch callback still runs after 10 s: suspending anyway");
    gp_os_lock_release(p, c->lock);
}

void xs_client_suspend(struct xs_client *c)
{
    const struct gp_platform *p = c->plat;
    xs_client_hold_watches(c);
    gp_os_lock_acquire(p, c->lock);
    c->suspended = true;
    /* Let the requests already on the wire get their replies. */
    for (int i = 0; i < 5000 && (c->inflight || c->sending); i++) {
        gp_os_lock_release(p, c->lock);
        gp_os_event_wait(p, c->send_free, GP_MS(1));
        xs_rx_handler(c);
        gp_os_lock_acquire(p, c->lock);
    }
    gp_os_lock_release(p, c->lock);
    /* Let go of the transport: it may be freed across a restore. */
    c->t->set_rx_handler(c->t->ctx, NULL, NULL);
}

int xs_client_resume(struct xs_client *c, struct gp_xs_transport *t)
{
    const struct gp_platform *p = c->plat;
    gp_os_lock_acquire(p, c->rx_lock);
    if (t)
        c->t = t;          /* the old one is not touched: it may be gone */
    c->rx_hdr_got = 0;
    c->rx_body_got = 0;
    gp_os_lock_release(p, c->rx_lock);
    c->t->set_rx_handler(c->t->ctx, xs_rx_handler, c);
    gp_os_lock_acquire(p, c->lock);
    xs_fail_inflight(c, GP_ECANCELED);    /* replies lost with the old connection */
    c->suspended = false;
    c->pump_hold = false;
    bool pending = c->ev_head && !c->pump_scheduled;
    if (pending)
        c->pump_scheduled = true;
    gp_os_lock_release(p, c->lock);
    if (pending && gp_os_defer(p, xs_watch_pump_run, c) != 0) {
        gp_os_lock_acquire(p, c->lock);
        c->pump_scheduled = false;
        gp_os_lock_release(p, c->lock);
    }
    gp_os_event_signal(p, c->resumed);
    return xs_watch_reregister_all(c);
}
