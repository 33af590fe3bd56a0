/*
 * netfront_xenbus: the negotiation with netback and the device's
 * lifecycle.  The backend's features are read when it waits for us
 * (InitWait); rings, event channels and our features are written in one
 * transaction that also switches us to Connected (netback connects when
 * it sees that); the backend's state drives disconnects and reconnects.
 */
#include <string.h>

#include "netfront_internal.h"

static int netfront_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "00:16:3e:01:02:03" -> 6 bytes; anything else is refused. */
static int netfront_parse_mac(const char *s, uint8_t mac[6])
{
    for (unsigned i = 0; i < 6; i++) {
        int hi = netfront_hex(s[0]), lo = hi < 0 ? -1 : netfront_hex(s[1]);
        if (lo < 0 || (i < 5 && s[2] != ':') || (i == 5 && s[2] != '\0'))
            return GP_EINVAL;
        mac[i] = (uint8_t)(hi << 4 | lo);
        s += 3;
    }
    return 0;
}

/* The lifecycle's steps (xenbus_frontend_ops); xenbus_life.c decides
 * when they run. */
static void netfront_hold(void *arg)
{
    struct netfront *nf = arg;
    nf->connected = false;
    for (unsigned i = 0; i < nf->nqueues; i++)
        netfront_tx_abandon_ring(&nf->q[i]);   /* the ring is gone */
}

static void netfront_release(void *arg, bool new_domain);
static int netfront_connect_op(void *arg, uint64_t timeout_ns);
static const struct xenbus_frontend_ops netfront_life_ops = {
    .name = "netfront", .hold = netfront_hold,
    .release = netfront_release, .connect = netfront_connect_op,
};

static int netfront_locks_create(struct netfront *nf)
{
    const struct gp_platform *p = nf->plat;
    nf->lock = gp_os_lock_create(p);
    if (!nf->lock)
        return GP_ENOMEM;
    for (unsigned i = 0; i < NETFRONT_MAX_QUEUES; i++) {
        struct netfront_queue *q = &nf->q[i];
        q->nf = nf;
        q->index = i;
        q->active = i == 0;           /* frames sent before the first connect wait here */
        q->tx_ring_ref = q->rx_ring_ref = GP_INVALID_GRANT;
        for (unsigned k = 0; k < NETFRONT_TX_SLOTS; k++)
            q->tx_pages[k].ref = GP_INVALID_GRANT;
        for (unsigned k = 0; k < NETFRONT_RX_SLOTS; k++)
            q->rx_pages[k].ref = GP_INVALID_GRANT;
        q->tx_lock = gp_os_lock_create(p);
        q->rx_lock = gp_os_lock_create(p);
        if (!q->tx_lock || !q->rx_lock)
            return GP_ENOMEM;
    }
    return netfront_ctrl_create(nf);
}

static void netfront_free(struct netfront *nf)
{
    const struct gp_platform *p = nf->plat;
    for (unsigned i = 0; i < NETFRONT_MAX_QUEUES; i++) {
        struct netfront_queue *q = &nf->q[i];
        for (unsigned k = 0; k < NETFRONT_TX_SLOTS; k++)
            if (q->tx_pages[k].va && q->tx_pages[k].ref == GP_INVALID_GRANT)
                gp_os_page_free(p, q->tx_pages[k].va);
        for (unsigned k = 0; k < NETFRONT_RX_SLOTS; k++)
            if (q->rx_pages[k].va && q->rx_pages[k].ref == GP_INVALID_GRANT)
                gp_os_page_free(p, q->rx_pages[k].va);
        if (q->tx_ring_va && q->tx_ring_ref == GP_INVALID_GRANT)
            gp_os_page_free(p, q->tx_ring_va);
        if (q->rx_ring_va && q->rx_ring_ref == GP_INVALID_GRANT)
            gp_os_page_free(p, q->rx_ring_va);
        gp_free(p, q->scratch);
        if (q->tx_lock)
            gp_os_lock_destroy(p, q->tx_lock);
        if (q->rx_lock)
            gp_os_lock_destroy(p, q->rx_lock);
    }
    netfront_ctrl_free(nf);
    if (nf->lock)
        gp_os_lock_destroy(p, nf->lock);
    gp_quarantine_destroy(&nf->quar);    /* what is still mapped is leaked, never reused */
    gp_free(p, nf);
}

int netfront_create(const struct gp_platform *p, struct xs_client *xs, const char *nodename,
                    const struct netfront_opts *o, struct netfront **out)
{
    struct netfront *nf = gp_zalloc(p, sizeof(*nf));
    if (!nf)
        return GP_ENOMEM;
    nf->plat = p;
    nf->xs = xs;
    netfront_ratelimits_init(nf);
    if (o)
        nf->opts = *o;
    if (!nf->opts.max_queues || nf->opts.max_queues > NETFRONT_MAX_QUEUES)
        nf->opts.max_queues = NETFRONT_MAX_QUEUES;
    if (nf->opts.no_sg)
        nf->opts.no_gso = true;          /* large frames need several rx slots */
    char owner[XENBUS_PATH_MAX + 16];
    gp_snprintf(owner, sizeof(owner), "netfront %s", nodename);
    int err = gp_quarantine_init(&nf->quar, p, owner);
    if (!err)
        err = netfront_locks_create(nf);
    if (err) {
        netfront_free(nf);
        return err;
    }
    err = xenbus_dev_init(&nf->dev, p, xs, nodename, &netfront_life_ops, nf);
    if (err) {
        netfront_free(nf);
        return err;
    }
    char path[XENBUS_PATH_MAX + 8], *mac = NULL;
    gp_snprintf(path, sizeof(path), "%s/mac", nodename);
    err = xs_read(xs, XS_TXN_NONE, path, &mac, NULL);
    if (!err && netfront_parse_mac(mac, nf->info.mac) != 0) {
        GP_ERR(p, "netfront %s: mac '%.20s' is not a MAC address", nodename, mac);
        err = GP_EINVAL;
    } else if (err) {
        GP_ERR(p, "netfront %s: no mac: %s", nodename, gp_strerror(err));
    }
    if (mac)
        xs_free(xs, mac);
    /* A previous instance (a driver reloaded, or restarted with other
     * settings) left the node Closed: the backend waits in Closed until
     * the frontend is Initialising again, then offers InitWait. */
    if (!err)
        err = xenbus_dev_reopen(&nf->dev);
    if (err) {
        xenbus_dev_teardown(&nf->dev);
        netfront_free(nf);
        return err;
    }
    *out = nf;
    return 0;
}

/* ---- negotiation ----------------------------------------------------------------- */

static int netfront_read_features(struct netfront *nf)
{
    struct xenbus_dev *d = &nf->dev;
    struct netfront_info *in = &nf->info;
    if (!xenbus_otherend_feature(d, "feature-rx-copy")) {
        GP_ERR(nf->plat, "netfront %s: backend cannot copy to us (feature-rx-copy)",
               d->nodename);
        return GP_ENOTSUP;
    }
    in->sg = xenbus_otherend_feature(d, "feature-sg");
    in->gso_tcpv4 = in->sg && xenbus_otherend_feature(d, "feature-gso-tcpv4");
    in->gso_tcpv6 = in->sg && xenbus_otherend_feature(d, "feature-gso-tcpv6");
    in->csum_offload = !xenbus_otherend_feature(d, "feature-no-csum-offload");
    in->ipv6_csum_offload = xenbus_otherend_feature(d, "feature-ipv6-csum-offload");
    in->split_event_channels = !nf->opts.no_split_event_channels &&
                               xenbus_otherend_feature(d, "feature-split-event-channels");
    /* Any count is taken: none, 0 or something unreadable is one queue,
     * more than we do is what we do (never a reason not to connect). */
    uint64_t queues = 1;
    int err = xenbus_read_otherend_u64(d, "multi-queue-max-queues", 1, UINT64_MAX, &queues);
    if (err || queues == 0) {
        GP_WARN(nf->plat, "netfront %s: backend's multi-queue-max-queues is unusable (%s): "
                          "one queue", d->nodename, err ? gp_strerror(err) : "0");
        queues = 1;
    }
    if (queues > nf->opts.max_queues)
        queues = nf->opts.max_queues;
    in->queues = (unsigned)queues;
    in->tx_ring_slots = NETFRONT_TX_SLOTS;
    in->rx_ring_slots = NETFRONT_RX_SLOTS;
    in->max_tx_frame = in->sg ? NETPKT_MAX_FRAME : GP_PAGE_SIZE;
    return 0;
}

static int netfront_queue_setup(struct netfront *nf, struct netfront_queue *q)
{
    const struct gp_platform *p = nf->plat;
    if (!q->tx_ring_va)
        q->tx_ring_va = gp_os_page_alloc(p, &q->tx_ring_gfn);
    if (!q->rx_ring_va)
        q->rx_ring_va = gp_os_page_alloc(p, &q->rx_ring_gfn);
    if (!q->tx_ring_va || !q->rx_ring_va)
        return GP_ENOMEM;
    int err = netfront_tx_pages_alloc(q);
    if (!err)
        err = netfront_rx_pages_alloc(q);
    /* Granted once: the backend only reads what we send, writes what we receive. */
    if (!err)
        err = netfront_pages_grant(nf, q->tx_pages, NETFRONT_TX_SLOTS, true);
    if (!err)
        err = netfront_pages_grant(nf, q->rx_pages, NETFRONT_RX_SLOTS, false);
    if (err)
        return err;
    netfront_tx_reset(q);
    netfront_rx_reset(q);
    struct netfront_page rings[2] = { { q->tx_ring_va, q->tx_ring_gfn, q->tx_ring_ref, 0 },
                                      { q->rx_ring_va, q->rx_ring_gfn, q->rx_ring_ref, 0 } };
    err = netfront_pages_grant(nf, rings, 2, false);
    q->tx_ring_ref = rings[0].ref;
    q->rx_ring_ref = rings[1].ref;
    if (err)
        return err;
    gp_domid_t be = nf->dev.otherend_id;
    if (nf->info.split_event_channels) {
        err = gp_xen_evtchn_alloc_unbound(p, be, &q->tx_port);
        if (!err)
            err = gp_xen_evtchn_alloc_unbound(p, be, &q->rx_port);
        if (!err)
            err = gp_xen_evtchn_bind(p, q->tx_port, netfront_event_tx, q);
        if (!err)
            err = gp_xen_evtchn_bind(p, q->rx_port, netfront_event_rx, q);
    } else {
        err = gp_xen_evtchn_alloc_unbound(p, be, &q->tx_port);
        q->rx_port = q->tx_port;
        if (!err)
            err = gp_xen_evtchn_bind(p, q->tx_port, netfront_event, q);
    }
    return err;
}

/* Ring and channel keys an earlier connection left (another instance,
 * other queue or channel settings): the backend would take them for ours,
 * so they go in the same transaction that writes the new ones. */
static int netfront_rm_stale(struct netfront *nf, xs_txn_t t)
{
    static const char *const keys[] = { "tx-ring-ref", "rx-ring-ref", "event-channel",
                                        "event-channel-tx", "event-channel-rx",
                                        "multi-queue-num-queues", "ctrl-ring-ref",
                                        "event-channel-ctrl" };
    static const char *const prefixes[] = { "queue-" };
    return xenbus_rm_stale(&nf->dev, t, keys, sizeof(keys) / sizeof(keys[0]), prefixes, 1);
}

static int netfront_write_front(struct xs_client *xs, xs_txn_t t, void *arg)
{
    struct netfront *nf = arg;
    struct xenbus_dev *d = &nf->dev;
    (void)xs;
    int err = netfront_rm_stale(nf, t);
    if (!err && nf->nqueues > 1)
        err = xenbus_printf(d, t, "multi-queue-num-queues", "%u", nf->nqueues);
    for (unsigned i = 0; !err && i < nf->nqueues; i++) {
        struct netfront_queue *q = &nf->q[i];
        char pre[24] = "", key[64];
        if (nf->nqueues > 1)
            gp_snprintf(pre, sizeof(pre), "queue-%u/", i);
        gp_snprintf(key, sizeof(key), "%stx-ring-ref", pre);
        err = xenbus_printf(d, t, key, "%u", q->tx_ring_ref);
        gp_snprintf(key, sizeof(key), "%srx-ring-ref", pre);
        if (!err)
            err = xenbus_printf(d, t, key, "%u", q->rx_ring_ref);
        if (nf->info.split_event_channels) {
            gp_snprintf(key, sizeof(key), "%sevent-channel-tx", pre);
            if (!err)
                err = xenbus_printf(d, t, key, "%u", q->tx_port);
            gp_snprintf(key, sizeof(key), "%sevent-channel-rx", pre);
            if (!err)
                err = xenbus_printf(d, t, key, "%u", q->rx_port);
        } else {
            gp_snprintf(key, sizeof(key), "%sevent-channel", pre);
            if (!err)
                err = xenbus_printf(d, t, key, "%u", q->tx_port);
        }
    }
    const struct netfront_opts *o = &nf->opts;
    if (!err)
        err = netfront_ctrl_write_keys(nf, t);
    if (!err)
        err = xenbus_printf(d, t, "request-rx-copy", "1");
    if (!err)
        err = xenbus_printf(d, t, "feature-rx-notify", "1");
    if (!err)
        err = xenbus_printf(d, t, "feature-sg", "%u", o->no_sg ? 0u : 1u);
    if (!err)
        err = xenbus_printf(d, t, "feature-gso-tcpv4", "%u", o->no_gso ? 0u : 1u);
    if (!err)
        err = xenbus_printf(d, t, "feature-gso-tcpv6", "%u", o->no_gso ? 0u : 1u);
    if (!err)
        err = xenbus_printf(d, t, "feature-no-csum-offload", "%u", o->no_csum_offload ? 1u : 0u);
    if (!err)
        err = xenbus_printf(d, t, "feature-ipv6-csum-offload", "%u",
                            o->no_csum_offload ? 0u : 1u);
    if (!err)
        err = xenbus_switch_state(d, t, XenbusStateConnected);
    return err;
}

/* The queues of this connection are q[0..n-1]: frames waiting on queues
 * that go move to the ones kept (in order, each once: those that were on
 * the rings completed when the rings were given up); nqueues changes only
 * after the move, and a send that still picked a queue that went is
 * refused by it and goes to q[0], after the frames moved there. */
static void netfront_queues_resize(struct netfront *nf, unsigned n)
{
    for (unsigned i = 0; i < NETFRONT_MAX_QUEUES; i++) {
        struct netfront_tx *moved = netfront_tx_set_active(&nf->q[i], i < n);
        if (moved)
            netfront_tx_adopt(&nf->q[i % n], moved);
    }
    __atomic_store_n(&nf->nqueues, n, __ATOMIC_RELEASE);
}

/* Every queue that ever had rings (a later connection may have fewer). */
static void netfront_teardown_rings(struct netfront *nf)
{
    const struct gp_platform *p = nf->plat;
    netfront_ctrl_teardown(nf);
    for (unsigned i = 0; i < NETFRONT_MAX_QUEUES; i++) {
        struct netfront_queue *q = &nf->q[i];
        if (q->tx_port)
            gp_xen_evtchn_unbind(p, q->tx_port);
        if (q->rx_port && q->rx_port != q->tx_port)
            gp_xen_evtchn_unbind(p, q->rx_port);
        q->tx_port = q->rx_port = 0;
        netfront_pages_end(nf, q->tx_pages, NETFRONT_TX_SLOTS);
        netfront_pages_end(nf, q->rx_pages, NETFRONT_RX_SLOTS);
        struct netfront_page rings[2] = { { q->tx_ring_va, q->tx_ring_gfn, q->tx_ring_ref, 0 },
                                          { q->rx_ring_va, q->rx_ring_gfn, q->rx_ring_ref, 0 } };
        netfront_pages_end(nf, rings, 2);
        q->tx_ring_va = rings[0].va;
        q->rx_ring_va = rings[1].va;
        q->tx_ring_ref = rings[0].ref;
        q->rx_ring_ref = rings[1].ref;
    }
}

int netfront_connect(struct netfront *nf, uint64_t timeout_ns)
{
    const struct gp_platform *p = nf->plat;
    int err = xenbus_life_wait_offer(&nf->dev, timeout_ns);
    if (err)
        return err;
    err = netfront_read_features(nf);
    if (!err)
        netfront_queues_resize(nf, nf->info.queues);
    for (unsigned i = 0; !err && i < nf->nqueues; i++)
        err = netfront_queue_setup(nf, &nf->q[i]);
    if (!err)
        err = netfront_ctrl_setup(nf);
    if (!err)
        err = xs_txn_run(nf->xs, 10, netfront_write_front, nf);
    if (err) {
        GP_ERR(p, "netfront %s: setting up the rings failed: %s", nf->dev.nodename,
               gp_strerror(err));
        netfront_teardown_rings(nf);
        return err;
    }
    err = xenbus_life_wait_connected(&nf->dev, timeout_ns);
    if (err) {
        netfront_teardown_rings(nf);
        return err;
    }
    nf->connected = true;
    xenbus_life_connected(&nf->dev);
    const uint8_t *m = nf->info.mac;
    GP_INFO(p, "netfront %s: mac %02x:%02x:%02x:%02x:%02x:%02x, %u queue(s), sg %d, "
               "gso v4 %d v6 %d, csum offload v4 %d v6 %d, split event channels %d",
            nf->dev.nodename, m[0], m[1], m[2], m[3], m[4], m[5], nf->nqueues, nf->info.sg,
            nf->info.gso_tcpv4, nf->info.gso_tcpv6, nf->info.csum_offload,
            nf->info.ipv6_csum_offload, nf->info.split_event_channels);
    for (unsigned i = 0; i < nf->nqueues; i++) {
        gp_xen_evtchn_notify(p, nf->q[i].rx_port);   /* buffers are posted */
        netfront_tx_kick(&nf->q[i]);                      /* frames held over */
    }
    return 0;
}

static int netfront_connect_op(void *arg, uint64_t timeout_ns)
{
    return netfront_connect(arg, timeout_ns);
}

/* ---- frames ------------------------------------------------------------------------ */

static unsigned netfront_pick_queue(struct netfront *nf, const struct netfront_tx *t)
{
    unsigned nq = __atomic_load_n(&nf->nqueues, __ATOMIC_ACQUIRE);
    if (nq <= 1)
        return 0;
    /* One flow stays on one queue (keeps its frames in order). */
    uint8_t h[64] = { 0 };
    uint32_t n = netpkt_read(t->frags, t->nfrags, 0, h, t->len < 64 ? t->len : 64);
    uint32_t hash = 2166136261u;
    for (uint32_t i = 12; i < n; i++)
        hash = (hash ^ h[i]) * 16777619u;
    return hash % nq;
}

int netfront_send(struct netfront *nf, struct netfront_tx *t)
{
    *netfront_own(t) = (struct netfront_tx_own){ .next = NULL };
    uint64_t have = 0;
    for (unsigned i = 0; i < t->nfrags; i++)
        have += t->frags[i].len;
    if (t->len < NETPKT_ETH_HLEN || have < t->len || t->len > NETPKT_MAX_FRAME)
        return GP_EINVAL;
    if (t->gso == NETFRONT_GSO_NONE) {
        if (nf->info.max_tx_frame && t->len > nf->info.max_tx_frame)
            return GP_EINVAL;
    } else {
        struct netpkt_info pi;
        unsigned count;
        if (t->gso != NETFRONT_GSO_TCPV4 && t->gso != NETFRONT_GSO_TCPV6)
            return GP_EINVAL;
        if (t->mss == 0 || netpkt_parse(t->frags, t->nfrags, t->len, &pi) != 0 ||
            netpkt_gso_count(&pi, t->mss, &count) != 0 ||
            pi.l3 != (t->gso == NETFRONT_GSO_TCPV4 ? 4 : 6))
            return GP_EINVAL;
    }
    if (nf->broken)
        return GP_EIO;
    int err = netfront_tx_queue_frame(&nf->q[netfront_pick_queue(nf, t)], t);
    if (err == GP_EAGAIN)             /* that queue went in a reconnect: q[0] always stays */
        err = netfront_tx_queue_frame(&nf->q[0], t);
    return err;
}

void netfront_get_info(struct netfront *nf, struct netfront_info *info)
{
    *info = nf->info;
}

void netfront_get_stats(struct netfront *nf, struct netfront_stats *s)
{
    const uint64_t *src = (const uint64_t *)&nf->stats;
    uint64_t *dst = (uint64_t *)s;
    for (size_t i = 0; i < sizeof(*s) / sizeof(uint64_t); i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
    struct gp_quarantine_stats qs;
    gp_quarantine_get_stats(&nf->quar, &qs);
    s->pages_quarantined = qs.quarantined;
    s->pages_released = qs.released;
    s->pages_held = qs.held;
}

bool netfront_is_broken(struct netfront *nf)
{
    return __atomic_load_n(&nf->broken, __ATOMIC_ACQUIRE);
}

/* ---- suspend, resume, close ------------------------------------------------------ */

void netfront_suspend(struct netfront *nf)
{
    nf->connected = false;             /* frames wait; the rings stay as they are */
    xenbus_life_suspend(&nf->dev);
}

void netfront_resume_in_place(struct netfront *nf)
{
    nf->connected = true;
    xenbus_life_resume_in_place(&nf->dev);
    for (unsigned i = 0; i < nf->nqueues; i++) {
        netfront_event(&nf->q[i], nf->q[i].tx_port);   /* what came while suspended */
        netfront_tx_kick(&nf->q[i]);
    }
}

/* Give up the rings before a reconnect (netfront_hold failed the frames
 * that were on them). */
static void netfront_release(void *arg, bool new_domain)
{
    struct netfront *nf = arg;
    if (new_domain) {
        /* A restored domain has a fresh grant table and no event channels;
         * the old backend's mappings went with the old domain. */
        netfront_ctrl_forget(nf);
        gp_quarantine_forget(&nf->quar);
        for (unsigned i = 0; i < nf->nqueues; i++) {
            struct netfront_queue *q = &nf->q[i];
            q->tx_port = q->rx_port = 0;
            q->tx_ring_ref = q->rx_ring_ref = GP_INVALID_GRANT;
            for (unsigned k = 0; k < NETFRONT_TX_SLOTS; k++)
                q->tx_pages[k].ref = GP_INVALID_GRANT;
            for (unsigned k = 0; k < NETFRONT_RX_SLOTS; k++)
                q->rx_pages[k].ref = GP_INVALID_GRANT;
        }
    } else {
        netfront_teardown_rings(nf);
    }
    gp_quarantine_retry(&nf->quar);      /* what earlier backends let go meanwhile */
}

int netfront_resume_restored(struct netfront *nf, uint64_t timeout_ns)
{
    return xenbus_life_resume(&nf->dev, true, timeout_ns);
}

void netfront_destroy(struct netfront *nf)
{
    if (!nf)
        return;
    xenbus_life_close(&nf->dev);            /* a reconnect in progress finishes first */
    bool was_connected = nf->connected;
    if (was_connected) {
        xenbus_dev_close(&nf->dev, GP_S(5));  /* grants end once it unmapped */
        for (unsigned i = 0; i < nf->nqueues; i++)
            netfront_tx_event(&nf->q[i]);      /* frames the backend answered */
    }
    nf->connected = false;
    /* every queue, not only this connection's: none may keep a frame */
    for (unsigned i = 0; i < NETFRONT_MAX_QUEUES; i++)
        netfront_tx_fail_all(&nf->q[i], GP_ESHUTDOWN);
    xenbus_switch_state(&nf->dev, XS_TXN_NONE, XenbusStateClosed);
    xenbus_dev_teardown(&nf->dev);
    netfront_teardown_rings(nf);
    /* A backend may unmap a little after it said Closed: give it a second. */
    gp_quarantine_settle(&nf->quar, 100, GP_MS(10));
    netfront_free(nf);
}
