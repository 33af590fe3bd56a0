/* sim_blkback: a blkif backend in the simulator's dom0 (see sim_blkback.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gplpv/log.h"
#include "gplpv/xs.h"
#include "sim_blkback_internal.h"
#include "xenstored/sim_xenstored.h"

#include <xen/io/blkif.h>
#include <xen/io/xenbus.h>

static uint64_t bb_rand(struct sim_blkback *b)
{
    b->prng ^= b->prng << 13;
    b->prng ^= b->prng >> 7;
    b->prng ^= b->prng << 17;
    return b->prng;
}

void sim_blkback_write_node(struct sim_blkback *b, const char *dir, const char *key, const char *fmt,
                     unsigned long long v)
{
    char path[160], val[64];
    snprintf(path, sizeof(path), "%s/%s", dir, key);
    snprintf(val, sizeof(val), fmt, v);
    xs_write_str(b->xs, XS_TXN_NONE, path, val);
}

void sim_blkback_set_state(struct sim_blkback *b, enum xenbus_state s)
{
    sim_blkback_write_node(b, b->be_path, "state", "%llu", s);
}

static long long bb_read_fe(struct sim_blkback *b, const char *key, long long def)
{
    char path[160];
    long long v = def;
    snprintf(path, sizeof(path), "%s/%s", b->fe_path, key);
    if (xs_read_int(b->xs, XS_TXN_NONE, path, &v) != 0)
        v = def;
    return v;
}

static long long bb_read_be_state(struct sim_blkback *b)
{
    char path[160];
    long long v = -1;
    snprintf(path, sizeof(path), "%s/state", b->be_path);
    if (xs_read_int(b->xs, XS_TXN_NONE, path, &v) != 0)
        v = -1;
    return v;
}

/* ---- data ---------------------------------------------------------------------- */

static void *bb_persistent_map(struct sim_blkback *b, gp_grant_ref_t ref)
{
    if (ref >= BB_MAX_REFS)
        return NULL;
    if (!b->pmap[ref]) {
        b->pmap[ref] = sim_gnt_map(b->x, 0, b->fe, ref, true);
        if (b->pmap[ref])
            b->st.maps++;
    }
    return b->pmap[ref];
}

static int bb_segment(struct sim_blkback *b, bool write, gp_grant_ref_t ref, unsigned first,
                      unsigned last, uint64_t *sector)
{
    if (first > last || last >= GP_PAGE_SIZE / 512)
        return -1;
    if (b->o.check_stale) {
        if (b->persistent)
            bb_persistent_map(b, ref);
        sim_blkback_check_stale(b, ref, first * 512, (last + 1) * 512);
    }
    uint64_t off = *sector * 512, len = (uint64_t)(last - first + 1) * 512;
    if (off + len > b->disk_bytes)
        return -1;
    int rc = 0;
    if (b->persistent) {
        char *va = bb_persistent_map(b, ref);
        if (!va)
            return -1;
        if (write)
            memcpy(b->disk + off, va + first * 512, len);
        else
            memcpy(va + first * 512, b->disk + off, len);
    } else if (b->keep_data_maps) {       /* hostile: map it and never unmap */
        char *va = sim_gnt_map(b->x, 0, b->fe, ref, !write);
        if (!va)
            return -1;
        sim_blkback_keep(b, ref, va, !write);
        if (write)
            memcpy(b->disk + off, va + first * 512, len);
        else
            memcpy(va + first * 512, b->disk + off, len);
    } else {
        rc = sim_gnt_copy(b->x, 0, b->fe, ref, first * 512, b->disk + off, (unsigned)len, !write);
        b->st.copies++;
    }
    *sector += last - first + 1;
    b->st.segments++;
    return rc ? -1 : 0;
}

static int16_t bb_rw(struct sim_blkback *b, bool write, uint64_t sector,
                     const struct blkif_request_segment *seg, unsigned nseg)
{
    if (write && b->o.readonly)
        return BLKIF_RSP_ERROR;
    if (write)
        b->st.writes++;
    else
        b->st.reads++;
    for (unsigned i = 0; i < nseg; i++)
        if (bb_segment(b, write, seg[i].gref, seg[i].first_sect, seg[i].last_sect, &sector))
            return BLKIF_RSP_ERROR;
    return BLKIF_RSP_OKAY;
}

static int16_t bb_indirect(struct sim_blkback *b, const blkif_request_indirect_t *r)
{
    b->st.indirect++;
    unsigned nseg = r->nr_segments;
    unsigned per = GP_PAGE_SIZE / sizeof(struct blkif_request_segment);
    if (!b->o.max_indirect || nseg == 0 || nseg > b->o.max_indirect ||
        (r->indirect_op != BLKIF_OP_READ && r->indirect_op != BLKIF_OP_WRITE))
        return BLKIF_RSP_ERROR;
    unsigned npages = (nseg + per - 1) / per;
    if (npages > BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST)
        return BLKIF_RSP_ERROR;
    struct blkif_request_segment *segs = malloc(nseg * sizeof(*segs));
    for (unsigned k = 0; k < npages; k++) {
        unsigned n = nseg - k * per < per ? nseg - k * per : per;
        void *va = b->keep_data_maps ? sim_gnt_map(b->x, 0, b->fe, r->indirect_grefs[k], false)
                                     : NULL;
        if (va)
            sim_blkback_keep(b, r->indirect_grefs[k], va, false);
        if (b->o.check_stale)
            sim_blkback_check_stale(b, r->indirect_grefs[k], 0, n * (unsigned)sizeof(*segs));
        if (sim_gnt_copy(b->x, 0, b->fe, r->indirect_grefs[k], 0, segs + k * per,
                         n * (unsigned)sizeof(*segs), false)) {
            free(segs);
            return BLKIF_RSP_ERROR;
        }
    }
    int16_t st = bb_rw(b, r->indirect_op == BLKIF_OP_WRITE, r->sector_number, segs, nseg);
    free(segs);
    return st;
}

static int16_t bb_handle(struct sim_blkback *b, const blkif_request_t *req, uint8_t *op_out)
{
    b->st.requests++;
    *op_out = req->operation;
    if (b->error_ppm && bb_rand(b) % 1000000 < b->error_ppm)
        return BLKIF_RSP_ERROR;
    switch (req->operation) {
    case BLKIF_OP_READ:
    case BLKIF_OP_WRITE:
        if (req->nr_segments == 0 || req->nr_segments > BLKIF_MAX_SEGMENTS_PER_REQUEST)
            return BLKIF_RSP_ERROR;
        return bb_rw(b, req->operation == BLKIF_OP_WRITE, req->sector_number, req->seg,
                     req->nr_segments);
    case BLKIF_OP_INDIRECT:
        return bb_indirect(b, (const blkif_request_indirect_t *)req);
    case BLKIF_OP_FLUSH_DISKCACHE:
        b->st.flushes++;
        return b->o.no_flush ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_OKAY;
    case BLKIF_OP_WRITE_BARRIER:
        b->st.flushes++;
        return b->o.barrier ? BLKIF_RSP_OKAY : BLKIF_RSP_EOPNOTSUPP;
    case BLKIF_OP_DISCARD: {
        const blkif_request_discard_t *d = (const blkif_request_discard_t *)req;
        b->st.discards++;
        if (b->o.no_discard)
            return BLKIF_RSP_EOPNOTSUPP;
        uint64_t off = d->sector_number * 512, len = d->nr_sectors * 512;
        if (off > b->disk_bytes || len > b->disk_bytes - off)
            return BLKIF_RSP_ERROR;
        memset(b->disk + off, 0, len);
        return BLKIF_RSP_OKAY;
    }
    default:
        return BLKIF_RSP_ERROR;
    }
}

static void bb_put_response(struct bb_queue *q, uint64_t id, uint8_t op, int16_t status)
{
    blkif_response_t *r = RING_GET_RESPONSE(&q->ring, q->ring.rsp_prod_pvt);
    r->id = id;
    r->operation = op;
    r->status = status;
    q->ring.rsp_prod_pvt++;
}

static void bb_emit(struct sim_blkback *b, struct bb_queue *q, const struct bb_rsp *rsp)
{
    struct bb_rsp r = *rsp;
    enum sim_blk_corrupt c = b->corrupt;
    b->corrupt = SIM_BLK_OK;
    switch (c) {
    case SIM_BLK_BAD_ID: r.id = 100000 + r.id; break;
    case SIM_BLK_BAD_OP: r.op = 77; break;
    case SIM_BLK_BAD_STATUS: r.status = 5; break;
    default: break;
    }
    bb_put_response(q, r.id, r.op, r.status);
    if (c == SIM_BLK_DUP_ID)
        bb_put_response(q, r.id, r.op, r.status);
    if (c == SIM_BLK_EXTRA_RESPONSE)
        bb_put_response(q, 4242, BLKIF_OP_READ, 0);
}

/* Take all requests, answer them; called with b->m held. */
static bool bb_service(struct sim_blkback *b, struct bb_queue *q)
{
    bool any = false;
    int more;
    do {
        RING_IDX rp = __atomic_load_n(&q->ring.sring->req_prod, __ATOMIC_ACQUIRE);
        if (rp - q->ring.req_cons > RING_SIZE(&q->ring)) {
            fprintf(stderr, "sim_blkback: frontend request index broken\n");
            return any;
        }
        while (q->ring.req_cons != rp) {
            blkif_request_t req;
            memcpy(&req, RING_GET_REQUEST(&q->ring, q->ring.req_cons), sizeof(req));
            q->ring.req_cons++;
            uint8_t op;
            int16_t st = bb_handle(b, &req, &op);
            if (q->nheld == q->held_cap) {
                q->held_cap = q->held_cap ? 2 * q->held_cap : 64;
                q->held = realloc(q->held, q->held_cap * sizeof(*q->held));
            }
            q->held[q->nheld++] = (struct bb_rsp){ req.id, op, st };
            any = true;
        }
        RING_FINAL_CHECK_FOR_REQUESTS(&q->ring, more);
    } while (more);
    return any;
}

static void bb_flush_responses(struct sim_blkback *b, struct bb_queue *q)
{
    if (b->hold || !q->nheld)
        return;
    for (unsigned i = 0; i < q->nheld; i++)
        bb_emit(b, q, &q->held[b->reorder ? q->nheld - 1 - i : i]);
    q->nheld = 0;
    int notify;
    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&q->ring, notify);
    if (notify) {
        b->st.notifications++;
        gp_xen_evtchn_notify(b->p, q->port);
    }
}

static void *bb_main(void *arg)
{
    struct sim_blkback *b = arg;
    pthread_mutex_lock(&b->m);
    while (!b->stop) {
        while (!b->kick && !b->stop)
            pthread_cond_wait(&b->c, &b->m);
        b->kick = false;
        if (b->stop || !b->connected)
            continue;
        if (b->delay_us) {
            pthread_mutex_unlock(&b->m);
            usleep(b->delay_us);
            pthread_mutex_lock(&b->m);
            if (!b->connected)
                continue;
        }
        for (unsigned i = 0; i < b->nq; i++) {
            bb_service(b, &b->q[i]);
            bb_flush_responses(b, &b->q[i]);
        }
    }
    pthread_mutex_unlock(&b->m);
    return NULL;
}

static void bb_event(void *arg, gp_port_t port)
{
    struct sim_blkback *b = ((struct bb_queue *)arg)->b;
    (void)port;
    pthread_mutex_lock(&b->m);
    b->kick = true;
    pthread_cond_signal(&b->c);
    pthread_mutex_unlock(&b->m);
}

/* ---- connection ----------------------------------------------------------------- */

/* Releases b->m, then closes the ports a disconnect gave up. */
void sim_blkback_unlock(struct sim_blkback *b)
{
    sim_back_unlock_and_close(&b->m, &b->unbind, b->p);
}

void sim_blkback_disconnect_locked(struct sim_blkback *b)
{
    if (!b->connected)
        return;
    b->connected = false;
    for (unsigned qi = 0; qi < b->nq; qi++) {
        struct bb_queue *q = &b->q[qi];
        q->nheld = 0;
        if (q->port)
            sim_back_ports_add(&b->unbind, q->port);
        q->port = 0;
        for (unsigned i = 0; i < b->ring_pages; i++) {
            if (q->ring_va[i] && b->keep_maps)
                sim_blkback_keep(b, q->ring_refs[i], q->ring_va[i], true);
            else if (q->ring_va[i])
                sim_gnt_unmap(b->x, 0, b->fe, q->ring_refs[i], true);
        }
        memset(q->ring_va, 0, sizeof(q->ring_va));
    }
    for (unsigned r = 0; r < BB_MAX_REFS; r++)
        if (b->pmap[r]) {
            if (b->keep_maps)
                sim_blkback_keep(b, r, b->pmap[r], true);
            else
                sim_gnt_unmap(b->x, 0, b->fe, r, true);
            b->pmap[r] = NULL;
        }
}

static int bb_connect_queue(struct sim_blkback *b, struct bb_queue *q, const char *prefix,
                            long long order)
{
    for (unsigned i = 0; i < b->ring_pages; i++) {
        char key[48];
        if (order)
            snprintf(key, sizeof(key), "%sring-ref%u", prefix, i);
        else
            snprintf(key, sizeof(key), "%sring-ref", prefix);
        long long ref = bb_read_fe(b, key, -1);
        if (ref < 0)
            return -1;
        q->ring_refs[i] = (gp_grant_ref_t)ref;
        q->ring_va[i] = sim_gnt_map(b->x, 0, b->fe, q->ring_refs[i], true);
        if (!q->ring_va[i] ||
            (i && (char *)q->ring_va[i] != (char *)q->ring_va[0] + i * GP_PAGE_SIZE)) {
            fprintf(stderr, "sim_blkback: cannot map ring page %u\n", i);
            return -1;
        }
    }
    BACK_RING_INIT(&q->ring, (blkif_sring_t *)q->ring_va[0], GP_PAGE_SIZE * b->ring_pages);
    char key[48];
    snprintf(key, sizeof(key), "%sevent-channel", prefix);
    long long port = bb_read_fe(b, key, -1);
    gp_port_t lport;
    if (port <= 0 || sim_evtchn_bind_interdomain(b->x, 0, b->fe, (gp_port_t)port, &lport) != 0)
        return -1;
    q->port = lport;
    gp_xen_evtchn_bind(b->p, lport, bb_event, q);
    return 0;
}

static int bb_connect_locked(struct sim_blkback *b)
{
    long long order = bb_read_fe(b, "ring-page-order", 0);
    if (order < 0 || order > (long long)b->o.max_ring_order)
        return -1;
    b->ring_pages = 1u << order;
    long long nq = bb_read_fe(b, "multi-queue-num-queues", 1);
    if (nq < 1 || nq > (long long)(b->o.max_queues ? b->o.max_queues : 1))
        return -1;
    b->nq = (unsigned)nq;
    b->persistent = !b->o.no_persistent && bb_read_fe(b, "feature-persistent", 0) == 1;
    b->connected = true;                     /* so that a failure below unwinds all */
    for (unsigned qi = 0; qi < b->nq; qi++) {
        char prefix[24] = "";
        if (b->nq > 1)
            snprintf(prefix, sizeof(prefix), "queue-%u/", qi);
        b->q[qi].b = b;
        if (bb_connect_queue(b, &b->q[qi], prefix, order) != 0) {
            sim_blkback_disconnect_locked(b);
            return -1;
        }
    }
    b->st.connects++;
    return 0;
}

void sim_blkback_fe_transition(struct sim_blkback *b)
{
    long long s = bb_read_fe(b, "state", -1);
    pthread_mutex_lock(&b->m);
    if (s == XenbusStateInitialised && !b->connected) {
        if (bb_connect_locked(b) == 0) {
            pthread_mutex_unlock(&b->m);
            sim_blkback_write_node(b, b->be_path, "sectors", "%llu", b->o.sectors);
            sim_blkback_write_node(b, b->be_path, "sector-size", "%llu", b->o.sector_size);
            sim_blkback_write_node(b, b->be_path, "physical-sector-size", "%llu", b->o.sector_size);
            sim_blkback_write_node(b, b->be_path, "info", "%llu", b->o.readonly ? VDISK_READONLY : 0);
            sim_blkback_write_node(b, b->be_path, "feature-persistent", "%llu", b->persistent ? 1 : 0);
            sim_blkback_set_state(b, XenbusStateConnected);
            return;
        }
        sim_blkback_unlock(b);                        /* a failed connect's ports close here */
        sim_blkback_set_state(b, XenbusStateClosing);
        return;
    }
    if (s == XenbusStateClosing && b->connected && b->o.linux_close) {
        /* Linux blkback answers Closing with Closing and keeps its maps
         * until the frontend says Closed. */
        pthread_mutex_unlock(&b->m);
        sim_blkback_set_state(b, XenbusStateClosing);
        return;
    }
    if (s == XenbusStateClosed && b->connected && b->o.linux_close && b->o.unmap_delay_us) {
        /* ... and may unmap a little later (a deferred purge). */
        pthread_mutex_unlock(&b->m);
        usleep(b->o.unmap_delay_us);
        pthread_mutex_lock(&b->m);
    }
    if ((s == XenbusStateClosing || s == XenbusStateClosed) && b->connected) {
        sim_blkback_disconnect_locked(b);
        sim_blkback_unlock(b);
        sim_blkback_set_state(b, XenbusStateClosed);
        return;
    }
    if (s == XenbusStateInitialising && !b->connected) {
        pthread_mutex_unlock(&b->m);
        sim_blkback_set_state(b, XenbusStateInitWait);
        return;
    }
    pthread_mutex_unlock(&b->m);
    /* A connect that failed left us Closing: the frontend's Closed is
     * answered with Closed, as Linux blkback does. */
    if (s == XenbusStateClosed && bb_read_be_state(b) == XenbusStateClosing)
        sim_blkback_set_state(b, XenbusStateClosed);
}

/* The backend's transitions (a frontend change, a restart, a restore) run
 * one at a time and each reads the frontend's state when it runs, as the
 * xenwatch thread serialises a Linux backend's: a restart never lands
 * between reading 'Initialised' and mapping the rings, so the backend never
 * says InitWait while it still maps a ring. */
static void bb_fe_changed(void *arg, const char *path, const char *token)
{
    struct sim_blkback *b = arg;
    (void)path;
    (void)token;
    pthread_mutex_lock(&b->state_m);
    sim_blkback_fe_transition(b);
    pthread_mutex_unlock(&b->state_m);
}

/* The toolstack's save/restore: the old backend instance goes away with
 * the old domain; the new one waits in InitWait for the restored frontend. */
static void bb_restore_hook(void *arg, gp_domid_t domid, enum sim_restore_phase phase)
{
    struct sim_blkback *b = arg;
    if (domid != b->fe)
        return;
    pthread_mutex_lock(&b->state_m);
    if (phase == SIM_RESTORE_BEFORE) {
        pthread_mutex_lock(&b->m);
        sim_blkback_disconnect_locked(b);
        sim_blkback_unlock(b);
        sim_blkback_set_state(b, XenbusStateClosed);
    } else {
        sim_blkback_set_state(b, XenbusStateInitWait);
    }
    pthread_mutex_unlock(&b->state_m);
}

struct sim_blkback *sim_blkback_create(struct sim_xen *x, struct sim_domain *dom0,
                                       gp_domid_t frontend, unsigned devid,
                                       const struct sim_blkback_opts *o)
{
    struct sim_blkback *b = calloc(1, sizeof(*b));
    b->x = x;
    b->dom0 = dom0;
    b->p = sim_domain_platform(dom0);
    b->fe = frontend;
    b->devid = devid;
    if (o)
        b->o = *o;
    if (!b->o.sectors)
        b->o.sectors = 8192;
    if (!b->o.sector_size)
        b->o.sector_size = 512;
    if (b->o.indirect && !b->o.max_indirect)
        b->o.max_indirect = 256;
    if (!b->o.max_ring_order && !(o && o->max_ring_order))
        b->o.max_ring_order = 2;
    b->prng = 0x9e3779b97f4a7c15ull ^ devid;
    b->disk_bytes = b->o.sectors * b->o.sector_size;
    b->disk = calloc(1, b->disk_bytes);
    b->pmap = calloc(BB_MAX_REFS, sizeof(void *));
    pthread_mutex_init(&b->m, NULL);
    pthread_mutex_init(&b->state_m, NULL);
    pthread_cond_init(&b->c, NULL);
    b->xs_link = sim_xenstored_direct(sim_xen_xenstored(x), 0);
    if (xs_client_create(b->p, b->xs_link, &b->xs) != 0) {
        free(b->disk);
        free(b->pmap);
        free(b);
        return NULL;
    }
    snprintf(b->fe_path, sizeof(b->fe_path), "/local/domain/%u/device/vbd/%u", frontend, devid);
    snprintf(b->be_path, sizeof(b->be_path), "/local/domain/0/backend/vbd/%u/%u", frontend, devid);
    /* What the toolstack writes. */
    char val[96];
    snprintf(val, sizeof(val), "%s", b->be_path);
    sim_blkback_write_node(b, b->fe_path, "backend-id", "%llu", 0);
    char p2[160];
    snprintf(p2, sizeof(p2), "%s/backend", b->fe_path);
    xs_write_str(b->xs, XS_TXN_NONE, p2, val);
    sim_blkback_write_node(b, b->fe_path, "virtual-device", "%llu", devid);
    sim_blkback_write_node(b, b->fe_path, "state", "%llu", XenbusStateInitialising);
    char owner[16], rd[16];
    snprintf(owner, sizeof(owner), "n%u", frontend);
    const char *fe_perms[2] = { owner, "r0" };
    snprintf(p2, sizeof(p2), "%s", b->fe_path);
    xs_set_perms(b->xs, XS_TXN_NONE, p2, fe_perms, 2);
    snprintf(p2, sizeof(p2), "%s/state", b->fe_path);
    xs_set_perms(b->xs, XS_TXN_NONE, p2, fe_perms, 2);
    snprintf(rd, sizeof(rd), "r%u", frontend);
    const char *be_perms[2] = { "n0", rd };
    snprintf(p2, sizeof(p2), "%s/frontend", b->be_path);
    xs_write_str(b->xs, XS_TXN_NONE, p2, b->fe_path);
    xs_set_perms(b->xs, XS_TXN_NONE, b->be_path, be_perms, 2);
    sim_blkback_write_node(b, b->be_path, "frontend-id", "%llu", frontend);
    sim_blkback_write_features(b);
    sim_blkback_set_state(b, XenbusStateInitWait);
    /* Children written above inherit the directory's permissions. */
    pthread_create(&b->thread, NULL, bb_main, b);
    sim_xen_add_restore_hook(x, bb_restore_hook, b);
    snprintf(p2, sizeof(p2), "%s/state", b->fe_path);
    if (xs_watch_add(b->xs, p2, bb_fe_changed, b, &b->fe_watch) != 0) {
        sim_blkback_destroy(b);
        return NULL;
    }
    return b;
}

void sim_blkback_destroy(struct sim_blkback *b)
{
    if (!b)
        return;
    sim_xen_remove_restore_hook(b->x, bb_restore_hook, b);
    if (b->fe_watch)
        xs_watch_remove(b->xs, b->fe_watch);
    pthread_mutex_lock(&b->m);
    b->stop = true;
    pthread_cond_signal(&b->c);
    pthread_mutex_unlock(&b->m);
    pthread_join(b->thread, NULL);
    pthread_mutex_lock(&b->m);
    sim_blkback_disconnect_locked(b);
    sim_blkback_unlock(b);
    xs_rm(b->xs, XS_TXN_NONE, b->be_path);
    xs_client_destroy(b->xs);
    sim_xenstored_direct_close(sim_xen_xenstored(b->x), b->xs_link);
    pthread_cond_destroy(&b->c);
    pthread_mutex_destroy(&b->m);
    pthread_mutex_destroy(&b->state_m);
    sim_blkback_release_kept(b);
    for (unsigned i = 0; i < BB_MAX_QUEUES; i++)
        free(b->q[i].held);
    free(b->pmap);
    free(b->disk);
    free(b);
}

uint8_t *sim_blkback_disk(struct sim_blkback *b)
{
    return b->disk;
}

void sim_blkback_hold(struct sim_blkback *b, bool hold)
{
    pthread_mutex_lock(&b->m);
    b->hold = hold;
    for (unsigned i = 0; !hold && b->connected && i < b->nq; i++)
        bb_flush_responses(b, &b->q[i]);
    pthread_mutex_unlock(&b->m);
}

