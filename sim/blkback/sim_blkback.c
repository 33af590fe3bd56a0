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
    char val[64];
    snprintf(val, sizeof(val), fmt, v);
    sim_back_write(&b->bk, dir, key, val);
}

static long long bb_read_be_state(struct sim_blkback *b)
{
    char path[160];
    long long v = -1;
    snprintf(path, sizeof(path), "%s/state", b->bk.be_path);
    if (xs_read_int(b->bk.xs, XS_TXN_NONE, path, &v) != 0)
        v = -1;
    return v;
}

/* ---- data ---------------------------------------------------------------------- */

static void *bb_persistent_map(struct sim_blkback *b, gp_grant_ref_t ref)
{
    if (ref >= BB_MAX_REFS)
        return NULL;
    if (!b->pmap[ref]) {
        b->pmap[ref] = sim_gnt_map(b->bk.x, 0, b->bk.fe, ref, true);
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
        char *va = sim_gnt_map(b->bk.x, 0, b->bk.fe, ref, !write);
        if (!va)
            return -1;
        sim_blkback_keep(b, ref, va, !write);
        if (write)
            memcpy(b->disk + off, va + first * 512, len);
        else
            memcpy(va + first * 512, b->disk + off, len);
    } else {
        rc = sim_gnt_copy(b->bk.x, 0, b->bk.fe, ref, first * 512, b->disk + off, (unsigned)len, !write);
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
        void *va = b->keep_data_maps ? sim_gnt_map(b->bk.x, 0, b->bk.fe, r->indirect_grefs[k], false)
                                     : NULL;
        if (va)
            sim_blkback_keep(b, r->indirect_grefs[k], va, false);
        if (b->o.check_stale)
            sim_blkback_check_stale(b, r->indirect_grefs[k], 0, n * (unsigned)sizeof(*segs));
        if (sim_gnt_copy(b->bk.x, 0, b->bk.fe, r->indirect_grefs[k], 0, segs + k * per,
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

/* Take all requests, answer them; called with b->bk.m held. */
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
        gp_xen_evtchn_notify(b->bk.p, q->port);
    }
}

static void *bb_main(void *arg)
{
    struct sim_blkback *b = arg;
    pthread_mutex_lock(&b->bk.m);
    while (sim_back_wait_kick_locked(&b->bk)) {
        if (b->delay_us) {
            pthread_mutex_unlock(&b->bk.m);
            usleep(b->delay_us);
            pthread_mutex_lock(&b->bk.m);
            if (!b->bk.connected)
                continue;
        }
        for (unsigned i = 0; i < b->nq; i++) {
            bb_service(b, &b->q[i]);
            bb_flush_responses(b, &b->q[i]);
        }
    }
    pthread_mutex_unlock(&b->bk.m);
    return NULL;
}

/* ---- connection ----------------------------------------------------------------- */

void sim_blkback_disconnect_locked(struct sim_blkback *b)
{
    if (!b->bk.connected)
        return;
    b->bk.connected = false;
    for (unsigned qi = 0; qi < b->nq; qi++) {
        struct bb_queue *q = &b->q[qi];
        q->nheld = 0;
        if (q->port)
            sim_back_ports_add(&b->bk.unbind, q->port);
        q->port = 0;
        for (unsigned i = 0; i < b->ring_pages; i++) {
            if (q->ring_va[i] && b->keep_maps)
                sim_blkback_keep(b, q->ring_refs[i], q->ring_va[i], true);
            else if (q->ring_va[i])
                sim_gnt_unmap(b->bk.x, 0, b->bk.fe, q->ring_refs[i], true);
        }
        memset(q->ring_va, 0, sizeof(q->ring_va));
    }
    for (unsigned r = 0; r < BB_MAX_REFS; r++)
        if (b->pmap[r]) {
            if (b->keep_maps)
                sim_blkback_keep(b, r, b->pmap[r], true);
            else
                sim_gnt_unmap(b->bk.x, 0, b->bk.fe, r, true);
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
        long long ref = sim_back_read_fe(&b->bk, key, -1);
        if (ref < 0)
            return -1;
        q->ring_refs[i] = (gp_grant_ref_t)ref;
        q->ring_va[i] = sim_gnt_map(b->bk.x, 0, b->bk.fe, q->ring_refs[i], true);
        if (!q->ring_va[i] ||
            (i && (char *)q->ring_va[i] != (char *)q->ring_va[0] + i * GP_PAGE_SIZE)) {
            fprintf(stderr, "sim_blkback: cannot map ring page %u\n", i);
            return -1;
        }
    }
    BACK_RING_INIT(&q->ring, (blkif_sring_t *)q->ring_va[0], GP_PAGE_SIZE * b->ring_pages);
    char key[48];
    snprintf(key, sizeof(key), "%sevent-channel", prefix);
    gp_port_t lport = sim_back_bind_fe_port(&b->bk, key);
    if (!lport)
        return -1;
    q->port = lport;
    gp_xen_evtchn_bind(b->bk.p, lport, sim_back_event, &b->bk);
    return 0;
}

static int bb_connect_locked(struct sim_blkback *b)
{
    long long order = sim_back_read_fe(&b->bk, "ring-page-order", 0);
    if (order < 0 || order > (long long)b->o.max_ring_order)
        return -1;
    b->ring_pages = 1u << order;
    long long nq = sim_back_read_fe(&b->bk, "multi-queue-num-queues", 1);
    if (nq < 1 || nq > (long long)(b->o.max_queues ? b->o.max_queues : 1))
        return -1;
    b->nq = (unsigned)nq;
    b->persistent = !b->o.no_persistent && sim_back_read_fe(&b->bk, "feature-persistent", 0) == 1;
    b->bk.connected = true;                     /* so that a failure below unwinds all */
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
    long long s = sim_back_read_fe(&b->bk, "state", -1);
    pthread_mutex_lock(&b->bk.m);
    if (s == XenbusStateInitialised && !b->bk.connected) {
        if (bb_connect_locked(b) == 0) {
            pthread_mutex_unlock(&b->bk.m);
            sim_blkback_write_node(b, b->bk.be_path, "sectors", "%llu", b->o.sectors);
            sim_blkback_write_node(b, b->bk.be_path, "sector-size", "%llu", b->o.sector_size);
            sim_blkback_write_node(b, b->bk.be_path, "physical-sector-size", "%llu", b->o.sector_size);
            sim_blkback_write_node(b, b->bk.be_path, "info", "%llu", b->o.readonly ? VDISK_READONLY : 0);
            sim_blkback_write_node(b, b->bk.be_path, "feature-persistent", "%llu", b->persistent ? 1 : 0);
            sim_back_set_state(&b->bk, XenbusStateConnected);
            return;
        }
        sim_back_unlock(&b->bk);                        /* a failed connect's ports close here */
        sim_back_set_state(&b->bk, XenbusStateClosing);
        return;
    }
    if (s == XenbusStateClosing && b->bk.connected && b->o.linux_close) {
        /* Linux blkback answers Closing with Closing and keeps its maps
         * until the frontend says Closed. */
        pthread_mutex_unlock(&b->bk.m);
        sim_back_set_state(&b->bk, XenbusStateClosing);
        return;
    }
    if (s == XenbusStateClosed && b->bk.connected && b->o.linux_close && b->o.unmap_delay_us) {
        /* ... and may unmap a little later (a deferred purge). */
        pthread_mutex_unlock(&b->bk.m);
        usleep(b->o.unmap_delay_us);
        pthread_mutex_lock(&b->bk.m);
    }
    if ((s == XenbusStateClosing || s == XenbusStateClosed) && b->bk.connected) {
        sim_blkback_disconnect_locked(b);
        sim_back_unlock(&b->bk);
        sim_back_set_state(&b->bk, XenbusStateClosed);
        return;
    }
    if (s == XenbusStateInitialising && !b->bk.connected) {
        pthread_mutex_unlock(&b->bk.m);
        sim_back_set_state(&b->bk, XenbusStateInitWait);
        return;
    }
    pthread_mutex_unlock(&b->bk.m);
    /* A connect that failed left us Closing: the frontend's Closed is
     * answered with Closed, as Linux blkback does. */
    if (s == XenbusStateClosed && bb_read_be_state(b) == XenbusStateClosing)
        sim_back_set_state(&b->bk, XenbusStateClosed);
}

/* The backend's transitions (a frontend change, a restart, a restore) run
 * one at a time (sim_back) and each reads the frontend's state when it
 * runs: a restart never lands between reading 'Initialised' and mapping
 * the rings, so the backend never says InitWait while it still maps a
 * ring. */
static void bb_fe_transition(void *dev)
{
    sim_blkback_fe_transition(dev);
}

static void bb_disconnect_locked(void *dev)
{
    sim_blkback_disconnect_locked(dev);
}

static const struct sim_back_ops bb_ops = { bb_fe_transition, bb_disconnect_locked };

struct sim_blkback *sim_blkback_create(struct sim_xen *x, struct sim_domain *dom0,
                                       gp_domid_t frontend, unsigned devid,
                                       const struct sim_blkback_opts *o)
{
    struct sim_blkback *b = calloc(1, sizeof(*b));
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
    if (sim_back_init(&b->bk, x, dom0, frontend, devid, "vbd", &bb_ops, b) != 0) {
        free(b->disk);
        free(b->pmap);
        free(b);
        return NULL;
    }
    /* What the toolstack writes. */
    char vdev[16];
    snprintf(vdev, sizeof(vdev), "%u", devid);
    sim_back_announce(&b->bk, (const char *const[]){ "virtual-device", vdev, NULL }, NULL);
    sim_blkback_write_features(b);
    /* Children written above inherit the directory's permissions. */
    if (sim_back_start(&b->bk, bb_main) != 0) {
        sim_blkback_destroy(b);
        return NULL;
    }
    return b;
}

void sim_blkback_destroy(struct sim_blkback *b)
{
    if (!b)
        return;
    sim_back_stop(&b->bk);
    sim_back_fini(&b->bk);
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
    pthread_mutex_lock(&b->bk.m);
    b->hold = hold;
    for (unsigned i = 0; !hold && b->bk.connected && i < b->nq; i++)
        bb_flush_responses(b, &b->q[i]);
    pthread_mutex_unlock(&b->bk.m);
}

