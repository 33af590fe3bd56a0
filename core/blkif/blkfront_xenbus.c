/*
 * blkfront_xenbus: the negotiation with blkback and the device's
 * lifecycle.  Backend features are read and validated, our rings, event
 * channel and features are written in one transaction, and the backend's
 * state drives connect, capacity changes and disconnects.
 */
#include <string.h>

#include "blkfront_internal.h"

#include <xen/io/protocols.h>

/* The backend resized the disk while connected. */
static void blkfront_sectors_changed(void *arg, const char *path, const char *token)
{
    struct blkfront *bf = arg;
    (void)path;
    (void)token;
    uint64_t sectors = 0;
    if (!bf->connected ||
        xenbus_read_otherend_u64(&bf->dev, "sectors", 0, UINT64_MAX / 4096, &sectors) != 0 ||
        sectors == bf->info.sectors)
        return;
    GP_INFO(bf->plat, "blkfront %s: capacity %llu -> %llu sectors", bf->dev.nodename,
            (unsigned long long)bf->info.sectors, (unsigned long long)sectors);
    bf->info.sectors = sectors;
    if (bf->opts.capacity_changed)
        bf->opts.capacity_changed(bf->opts.arg, sectors);
}

/* The data path's gate (under the device lock). */
static void blkfront_set_connected(struct blkfront *bf, bool connected)
{
    const struct gp_platform *p = bf->plat;
    gp_os_lock_acquire(p, bf->lock);
    bf->connected = connected;
    gp_os_lock_release(p, bf->lock);
}

/* The lifecycle's steps (xenbus_frontend_ops); xenbus_life.c decides
 * when they run. */
static void blkfront_hold(void *arg)
{
    struct blkfront *bf = arg;
    const struct gp_platform *p = bf->plat;
    gp_os_lock_acquire(p, bf->lock);
    bf->connected = false;
    blkfront_requeue_inflight(bf);         /* the ring is gone: re-issue */
    gp_os_lock_release(p, bf->lock);
}

static void blkfront_release(void *arg, bool new_domain);
static int blkfront_connect_op(void *arg, uint64_t timeout_ns);
static const struct xenbus_frontend_ops blkfront_life_ops = {
    .name = "blkfront", .hold = blkfront_hold,
    .release = blkfront_release, .connect = blkfront_connect_op,
};

int blkfront_create(const struct gp_platform *p, struct xs_client *xs, const char *nodename,
                    const struct blkfront_opts *o, struct blkfront **out)
{
    struct blkfront *bf = gp_zalloc(p, sizeof(*bf));
    if (!bf)
        return GP_ENOMEM;
    bf->plat = p;
    bf->xs = xs;
    if (o)
        bf->opts = *o;
    else {
        bf->opts.max_ring_page_order = BLKFRONT_MAX_RING_ORDER;
        bf->opts.max_indirect_segments = BLKFRONT_MAX_SEGS;
    }
    const char *id = strrchr(nodename, '/');
    uint64_t h = 0;
    for (const char *c = id ? id + 1 : nodename; *c >= '0' && *c <= '9'; c++)
        h = h * 10 + (uint64_t)(*c - '0');
    bf->handle = (uint16_t)h;
    for (unsigned qi = 0; qi < BLKFRONT_MAX_QUEUES; qi++) {
        bf->q[qi].bf = bf;
        bf->q[qi].index = qi;
        for (unsigned i = 0; i < BLKFRONT_MAX_RING_PAGES; i++)
            bf->q[qi].ring_ref[i] = GP_INVALID_GRANT;
    }
    if (!bf->opts.max_queues)
        bf->opts.max_queues = BLKFRONT_MAX_QUEUES;
    bf->lock = gp_os_lock_create(p);
    char owner[XENBUS_PATH_MAX + 16];
    gp_snprintf(owner, sizeof(owner), "blkfront %s", nodename);
    if (!bf->lock || gp_quarantine_init(&bf->quar, p, owner) != 0) {
        if (bf->lock)
            gp_os_lock_destroy(p, bf->lock);
        gp_free(p, bf);
        return GP_ENOMEM;
    }
    int err = xenbus_dev_init(&bf->dev, p, xs, nodename, &blkfront_life_ops, bf);
    if (!err) {
        err = xenbus_dev_reopen(&bf->dev);
        if (err)
            xenbus_dev_teardown(&bf->dev);
    }
    if (err) {
        gp_quarantine_destroy(&bf->quar);
        gp_os_lock_destroy(p, bf->lock);
        gp_free(p, bf);
        return err;
    }
    *out = bf;
    return 0;
}

/* What blkback publishes before we connect (InitWait): the ring size and
 * the queues.  Any number is accepted and clamped to what we support (a
 * backend may offer more than we take); what is not a number is refused. */
static int blkfront_read_capped(struct blkfront *bf, const char *key, uint64_t def,
                                uint64_t ours, uint64_t most, uint64_t *v)
{
    int err = xenbus_read_otherend_u64(&bf->dev, key, def, UINT64_MAX, v);
    if (!err && *v > ours)
        *v = ours;
    if (!err && *v > most)
        *v = most;
    return err;
}

static int blkfront_read_ring_order(struct blkfront *bf)
{
    uint64_t order = 0, queues = 1;
    int err = blkfront_read_capped(bf, "max-ring-page-order", 0, bf->opts.max_ring_page_order,
                                   BLKFRONT_MAX_RING_ORDER, &order);
    if (err)
        return err;
    bf->info.ring_pages = 1u << order;
    err = blkfront_read_capped(bf, "multi-queue-max-queues", 1, bf->opts.max_queues,
                               BLKFRONT_MAX_QUEUES, &queues);
    if (err)
        return err;
    bf->nqueues = queues ? (unsigned)queues : 1;
    bf->info.queues = bf->nqueues;
    return 0;
}

/* What blkback publishes when it connects (Linux writes its features in
 * connect()); everything is bounded. */
static int blkfront_read_features(struct blkfront *bf)
{
    struct xenbus_dev *d = &bf->dev;
    struct blkfront_info *in = &bf->info;
    uint64_t ind = 0;
    int err = xenbus_read_otherend_u64(d, "feature-max-indirect-segments", 0, UINT64_MAX, &ind);
    if (err)
        return err;
    unsigned cap = bf->opts.max_indirect_segments;
    if (cap > BLKFRONT_MAX_SEGS)
        cap = BLKFRONT_MAX_SEGS;
    if (ind > BLKFRONT_MAX_SEGS)
        ind = BLKFRONT_MAX_SEGS;
    in->max_indirect_segments = ind > BLKIF_MAX_SEGMENTS_PER_REQUEST ? (unsigned)ind : 0;
    if (in->max_indirect_segments > cap)
        in->max_indirect_segments = cap > BLKIF_MAX_SEGMENTS_PER_REQUEST ? cap : 0;
    in->persistent = !bf->opts.no_persistent && xenbus_otherend_feature(d, "feature-persistent");
    bf->segs_per_req = in->max_indirect_segments ? in->max_indirect_segments
                                                 : BLKIF_MAX_SEGMENTS_PER_REQUEST;
    in->flush = xenbus_otherend_feature(d, "feature-flush-cache");
    in->barrier = xenbus_otherend_feature(d, "feature-barrier");
    in->discard = xenbus_otherend_feature(d, "feature-discard");
    if (in->discard) {
        uint64_t g = 0, a = 0;
        xenbus_read_otherend_u64(d, "discard-granularity", 0, UINT32_MAX, &g);
        xenbus_read_otherend_u64(d, "discard-alignment", 0, UINT32_MAX, &a);
        in->discard_granularity = (uint32_t)g;
        in->discard_alignment = (uint32_t)a;
        in->discard_secure = xenbus_otherend_feature(d, "discard-secure");
    }
    return 0;
}

static int blkfront_read_disk(struct blkfront *bf)
{
    struct xenbus_dev *d = &bf->dev;
    uint64_t sectors = 0, ssize = 0, pss = 0, info = 0;
    int err = xenbus_read_otherend_u64(d, "sectors", 0, UINT64_MAX / 4096, &sectors);
    if (!err)
        err = xenbus_read_otherend_u64(d, "sector-size", 512, 4096, &ssize);
    if (!err)
        err = xenbus_read_otherend_u64(d, "physical-sector-size", ssize, 1u << 20, &pss);
    if (!err)
        err = xenbus_read_otherend_u64(d, "info", 0, UINT32_MAX, &info);
    if (err)
        return err;
    if (ssize < 512 || (ssize & (ssize - 1))) {
        GP_ERR(bf->plat, "blkfront %s: sector-size %llu is not a power of two >= 512",
               d->nodename, (unsigned long long)ssize);
        return GP_EINVAL;
    }
    if (bf->info.sector_size && (bf->info.sector_size != ssize || bf->info.sectors != sectors))
        GP_WARN(bf->plat, "blkfront %s: the disk came back different: %llu sectors of %llu bytes "
                          "(was %llu of %u); requests beyond its end fail",
                d->nodename, (unsigned long long)sectors, (unsigned long long)ssize,
                (unsigned long long)bf->info.sectors, bf->info.sector_size);
    bf->info.sectors = sectors;
    bf->info.sector_size = (uint32_t)ssize;
    bf->info.physical_sector_size = (uint32_t)pss;
    bf->info.cdrom = info & VDISK_CDROM;
    bf->info.removable = info & VDISK_REMOVABLE;
    bf->info.readonly = info & VDISK_READONLY;
    return 0;
}

struct blkfront_txn {
    struct blkfront *bf;
};

/* Keys an earlier connection may have left with other values or layout
 * (ring size, queue count): removed in the transaction that writes ours. */
static int blkfront_rm_stale(struct blkfront *bf, xs_txn_t t)
{
    static const char *const keys[] = { "ring-page-order", "num-ring-pages", "event-channel",
                                        "multi-queue-num-queues", "protocol", "feature-persistent" };
    static const char *const prefixes[] = { "ring-ref", "queue-" };
    return xenbus_rm_stale(&bf->dev, t, keys, sizeof(keys) / sizeof(keys[0]), prefixes, 2);
}

static int blkfront_write_front(struct xs_client *xs, xs_txn_t t, void *arg)
{
    struct blkfront *bf = arg;
    struct xenbus_dev *d = &bf->dev;
    (void)xs;
    int err = blkfront_rm_stale(bf, t);
    unsigned order = 0;
    while ((1u << order) < bf->info.ring_pages)
        order++;
    if (!err && order)
        err = xenbus_printf(d, t, "ring-page-order", "%u", order);
    if (!err && bf->nqueues > 1)
        err = xenbus_printf(d, t, "multi-queue-num-queues", "%u", bf->nqueues);
    for (unsigned qi = 0; !err && qi < bf->nqueues; qi++) {
        struct blkfront_queue *q = &bf->q[qi];
        char prefix[16] = "";
        if (bf->nqueues > 1)
            gp_snprintf(prefix, sizeof(prefix), "queue-%u/", qi);
        char key[40];
        for (unsigned i = 0; !err && i < bf->info.ring_pages; i++) {
            if (order)
                gp_snprintf(key, sizeof(key), "%sring-ref%u", prefix, i);
            else
                gp_snprintf(key, sizeof(key), "%sring-ref", prefix);
            err = xenbus_printf(d, t, key, "%u", q->ring_ref[i]);
        }
        gp_snprintf(key, sizeof(key), "%sevent-channel", prefix);
        if (!err)
            err = xenbus_printf(d, t, key, "%u", q->port);
    }
    if (!err)
        err = xenbus_printf(d, t, "protocol", "%s", XEN_IO_PROTO_ABI_NATIVE);
    if (!err)
        err = xenbus_printf(d, t, "feature-persistent", "%u", bf->opts.no_persistent ? 0u : 1u);
    if (!err)
        err = xenbus_switch_state(d, t, XenbusStateInitialised);
    return err;
}

static int blkfront_setup(struct blkfront *bf)
{
    const struct gp_platform *p = bf->plat;
    int err = blkfront_read_ring_order(bf);
    if (err)
        return err;
    /* Multi-page rings need pages contiguous in our address space. */
    for (unsigned qi = 0; !err && qi < bf->nqueues; qi++)
        err = blkfront_ring_alloc(&bf->q[qi]);
    if (err == GP_EAGAIN) {
        for (unsigned qi = 0; qi < bf->nqueues; qi++)
            blkfront_ring_free(&bf->q[qi]);
        bf->info.ring_pages = 1;
        err = 0;
        for (unsigned qi = 0; !err && qi < bf->nqueues; qi++)
            err = blkfront_ring_alloc(&bf->q[qi]);
    }
    if (err)
        return err;
    bf->info.ring_slots = __CONST_RING_SIZE(blkif, GP_PAGE_SIZE) * bf->info.ring_pages;
    /* Sized for the most a backend may offer; the request size is set
     * once the backend's features are known. */
    bf->segs_per_req = BLKFRONT_MAX_SEGS;
    /* Every array follows this connection's geometry, which may differ
     * from the last one's (a backend restarted elsewhere). */
    err = blkfront_shadows_size(bf, bf->info.ring_slots);
    if (!err) {
        unsigned n = bf->info.ring_slots * bf->nqueues * BLKIF_MAX_SEGMENTS_PER_REQUEST;
        if (n < BLKFRONT_MAX_SEGS + BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST + 1)
            n = BLKFRONT_MAX_SEGS + BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST + 1;
        err = blkfront_pool_prepare(bf, n);
    }
    if (err)
        return err;
    for (unsigned qi = 0; qi < bf->nqueues; qi++) {
        struct blkfront_queue *q = &bf->q[qi];
        blkfront_ring_reset(q);
        for (unsigned i = 0; i < bf->info.ring_pages; i++) {
            err = gp_xen_grant_access(p, bf->dev.otherend_id, q->ring_gfn[i], false,
                                  &q->ring_ref[i]);
            if (err)
                return err;
        }
        err = gp_xen_evtchn_alloc_unbound(p, bf->dev.otherend_id, &q->port);
        if (!err)
            err = gp_xen_evtchn_bind(p, q->port, blkfront_event, q);
        if (err)
            return err;
    }
    err = blkfront_dump_grant(bf);
    if (err)
        return err;
    return xs_txn_run(bf->xs, 10, blkfront_write_front, bf);
}

/* Unbind, end every grant (pages still mapped go to the quarantine); the
 * pages ended stay for the next connection. */
static void blkfront_teardown_rings(struct blkfront *bf)
{
    const struct gp_platform *p = bf->plat;
    for (unsigned qi = 0; qi < BLKFRONT_MAX_QUEUES; qi++)
        if (bf->q[qi].port) {
            gp_xen_evtchn_unbind(p, bf->q[qi].port);
            bf->q[qi].port = 0;
        }
    blkfront_pool_end_all(bf);
    blkfront_dump_end(bf);
    for (unsigned qi = 0; qi < BLKFRONT_MAX_QUEUES; qi++)
        blkfront_ring_end(&bf->q[qi]);
    gp_quarantine_retry(&bf->quar);      /* what earlier backends let go meanwhile */
}

int blkfront_connect(struct blkfront *bf, uint64_t timeout_ns)
{
    const struct gp_platform *p = bf->plat;
    int err = xenbus_life_wait_offer(&bf->dev, timeout_ns);
    if (err)
        return err;
    err = blkfront_setup(bf);
    if (err) {
        GP_ERR(p, "blkfront %s: setting up the rings failed: %s", bf->dev.nodename,
               gp_strerror(err));
        blkfront_teardown_rings(bf);
        return err;
    }
    err = xenbus_life_wait_connected(&bf->dev, timeout_ns);
    if (!err)
        err = blkfront_read_disk(bf);
    if (!err)
        err = blkfront_read_features(bf);
    if (!err && bf->info.persistent)
        err = blkfront_pool_grant_all(bf);
    if (err) {
        blkfront_teardown_rings(bf);
        return err;
    }
    err = xenbus_switch_state(&bf->dev, XS_TXN_NONE, XenbusStateConnected);
    if (err)
        return err;
    blkfront_set_connected(bf, true);
    xenbus_life_connected(&bf->dev);
    if (!bf->sectors_watch) {
        char path[XENBUS_PATH_MAX + 16];
        gp_snprintf(path, sizeof(path), "%s/sectors", bf->dev.otherend);
        if (xs_watch_add(bf->xs, path, blkfront_sectors_changed, bf, &bf->sectors_watch) != 0)
            bf->sectors_watch = NULL;
    }
    GP_INFO(p, "blkfront %s: %llu sectors of %u bytes, %u queue(s) of %u ring page(s), "
               "indirect %u, persistent %d, flush %d, discard %d", bf->dev.nodename,
            (unsigned long long)bf->info.sectors, bf->info.sector_size, bf->nqueues,
            bf->info.ring_pages,
            bf->info.max_indirect_segments, bf->info.persistent, bf->info.flush,
            bf->info.discard);
    blkfront_kick(bf);
    return 0;
}

static int blkfront_connect_op(void *arg, uint64_t timeout_ns)
{
    return blkfront_connect(arg, timeout_ns);
}

int blkfront_submit(struct blkfront *bf, struct blkfront_req *r)
{
    const struct gp_platform *p = bf->plat;
    *blkfront_own(r) = (struct blkfront_req_own){ .next = NULL };
    uint64_t cap512 = bf->info.sectors * (bf->info.sector_size / BLKFRONT_SECTOR);
    switch (r->op) {
    case BLKFRONT_READ:
    case BLKFRONT_WRITE: {
        uint64_t have = 0;
        for (unsigned i = 0; i < r->nsg; i++)
            have += r->sg[i].len;
        if (r->nr_sectors == 0 || have < (uint64_t)r->nr_sectors * BLKFRONT_SECTOR)
            return GP_EINVAL;
        if (r->sector >= cap512 || r->nr_sectors > cap512 - r->sector)
            return GP_ERANGE;
        if (r->op == BLKFRONT_WRITE && bf->info.readonly)
            return GP_EROFS;
        break;
    }
    case BLKFRONT_DISCARD:
        if (!bf->info.discard)
            return GP_ENOTSUP;
        if (r->nr_sectors == 0 || r->sector >= cap512 || r->nr_sectors > cap512 - r->sector)
            return GP_ERANGE;
        break;
    case BLKFRONT_FLUSH:
        if (!bf->info.flush && !bf->info.barrier) {
            r->done(r->arg, r, 0);      /* no cache to flush: writes are already stable */
            return 0;
        }
        break;
    default:
        return GP_EINVAL;
    }
    gp_os_lock_acquire(p, bf->lock);
    if (bf->broken) {
        gp_os_lock_release(p, bf->lock);
        return GP_EIO;
    }
    bf->stats.requests++;
    if (bf->queue_tail)
        blkfront_own(bf->queue_tail)->next = r;
    else
        bf->queue_head = r;
    bf->queue_tail = r;
    gp_os_lock_release(p, bf->lock);
    blkfront_kick(bf);
    return 0;
}

void blkfront_get_info(struct blkfront *bf, struct blkfront_info *info)
{
    *info = bf->info;
}

void blkfront_get_stats(struct blkfront *bf, struct blkfront_stats *s)
{
    struct gp_quarantine_stats qs;
    gp_quarantine_get_stats(&bf->quar, &qs);
    gp_os_lock_acquire(bf->plat, bf->lock);
    *s = bf->stats;
    gp_os_lock_release(bf->plat, bf->lock);
    s->pages_quarantined = qs.quarantined;
    s->pages_released = qs.released;
    s->pages_held = qs.held;
}

bool blkfront_is_broken(struct blkfront *bf)
{
    return bf->broken;
}

void blkfront_suspend(struct blkfront *bf)
{
    /* Stop using the ring; what is in flight stays there: if the suspend
     * is cancelled the backend still answers it. */
    blkfront_set_connected(bf, false);
    xenbus_life_suspend(&bf->dev);
}

void blkfront_resume_in_place(struct blkfront *bf)
{
    blkfront_set_connected(bf, true);
    xenbus_life_resume_in_place(&bf->dev);
    for (unsigned qi = 0; qi < bf->nqueues; qi++)
        blkfront_event(&bf->q[qi], bf->q[qi].port);   /* answers that came while suspended */
}

/* Give up the rings before a reconnect (blkfront_hold took the requests
 * off them). */
static void blkfront_release(void *arg, bool new_domain)
{
    struct blkfront *bf = arg;
    if (new_domain) {
        /* A restored domain has a fresh grant table and no event channels:
         * the old refs and port mean nothing (and may be reused), and the
         * old backend's mappings went with the old domain. */
        for (unsigned i = 0; i < bf->pool_size; i++)
            bf->pool[i].ref = GP_INVALID_GRANT;
        blkfront_dump_forget_grants(bf);
        for (unsigned qi = 0; qi < BLKFRONT_MAX_QUEUES; qi++) {
            bf->q[qi].port = 0;
            for (unsigned i = 0; i < BLKFRONT_MAX_RING_PAGES; i++)
                bf->q[qi].ring_ref[i] = GP_INVALID_GRANT;
        }
        gp_quarantine_forget(&bf->quar);
        blkfront_pool_end_all(bf);           /* zeroes what the next backend will see */
    } else {
        /* The backend may be another domain now, with another geometry:
         * every grant is ended and the rings go; what it still maps is
         * quarantined (blkfront_teardown_rings). */
        blkfront_teardown_rings(bf);
    }
    if (bf->sectors_watch)
        xs_watch_remove(bf->xs, bf->sectors_watch);
    bf->sectors_watch = NULL;
}

int blkfront_resume_restored(struct blkfront *bf, uint64_t timeout_ns)
{
    return xenbus_life_resume(&bf->dev, true, timeout_ns);
}

/* Close with a backend that may map our pages (xenbus_dev_close: Closing,
 * wait for it to leave Connected, Closed, wait for Closed), then its
 * grants can be ended.  Linux blkback and QEMU unmap only on our Closed. */
static void blkfront_close_backend(struct blkfront *bf)
{
    uint64_t s = XenbusStateUnknown;
    if (xenbus_read_otherend_u64(&bf->dev, "state", XenbusStateUnknown, UINT64_MAX, &s) != 0)
        s = XenbusStateUnknown;
    bool may_map = s == XenbusStateInitialised || s == XenbusStateConnected ||
                   s == XenbusStateClosing;
    if (!may_map)             /* InitWait (a fresh instance), Closed, gone: nothing mapped */
        return;
    xenbus_dev_close(&bf->dev, GP_S(5));
}

void blkfront_destroy(struct blkfront *bf)
{
    if (!bf)
        return;
    const struct gp_platform *p = bf->plat;
    xenbus_life_close(&bf->dev);            /* a reconnect in progress finishes first */
    if (bf->sectors_watch)
        xs_watch_remove(bf->xs, bf->sectors_watch);
    bf->sectors_watch = NULL;
    blkfront_close_backend(bf);
    blkfront_set_connected(bf, false);
    blkfront_fail_all(bf, GP_ESHUTDOWN);
    xenbus_switch_state(&bf->dev, XS_TXN_NONE, XenbusStateClosed);
    xenbus_dev_teardown(&bf->dev);
    blkfront_teardown_rings(bf);
    for (unsigned qi = 0; qi < BLKFRONT_MAX_QUEUES; qi++)
        blkfront_ring_free(&bf->q[qi]);
    /* Linux blkback may unmap a little after it said Closed (requests it
     * still had in flight, its purge work): give it a second, then what
     * is still mapped is a backend fault, logged and leaked, never reused. */
    gp_quarantine_settle(&bf->quar, 100, GP_MS(10));
    gp_quarantine_destroy(&bf->quar);
    blkfront_dump_free(bf);
    for (unsigned i = 0; i < bf->pool_size; i++)
        if (bf->pool[i].va)
            gp_os_page_free(p, bf->pool[i].va);
    blkfront_shadows_free(bf);
    gp_free(p, bf->pool);
    gp_free(p, bf->pool_free);
    gp_os_lock_destroy(p, bf->lock);
    gp_free(p, bf);
}
