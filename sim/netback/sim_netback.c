/* sim_netback: a netif backend in the simulator's dom0 (see sim_netback.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gplpv/netpkt.h"
#include "gplpv/xs.h"
#include "sim_netback.h"
#include "sim_netback_internal.h"
#include "xenstored/sim_xenstored.h"

#include <xen/io/netif.h>
#include <xen/io/xenbus.h>

/* ---- frame buffers: recycled, as a backend's buffers are ------------------------
 * A malloc and free of 64 KiB per frame makes the C library hand pages back
 * to the kernel and fault them in again: the simulator's cost, not the
 * frontend's, would dominate the benchmark.  Frames up to the largest
 * Ethernet frame come from a shared cache of such buffers. */
#define NB_FRAME_CACHE 128
static pthread_mutex_t nb_cache_m = PTHREAD_MUTEX_INITIALIZER;
static struct nb_frame *nb_cache[NB_FRAME_CACHE];
static unsigned nb_cached;

static struct nb_frame *nb_frame_alloc(uint32_t len)
{
    struct nb_frame *f = NULL;
    if (len <= NETPKT_MAX_FRAME) {
        pthread_mutex_lock(&nb_cache_m);
        if (nb_cached)
            f = nb_cache[--nb_cached];
        pthread_mutex_unlock(&nb_cache_m);
        if (!f)
            f = malloc(sizeof(*f) + NETPKT_MAX_FRAME);
    } else {
        f = malloc(sizeof(*f) + len);
    }
    memset(f, 0, sizeof(*f));
    f->len = len;
    return f;
}

void nb_frame_free(struct nb_frame *f)
{
    if (!f)
        return;
    if (f->len <= NETPKT_MAX_FRAME) {
        pthread_mutex_lock(&nb_cache_m);
        if (nb_cached < NB_FRAME_CACHE) {
            nb_cache[nb_cached++] = f;
            f = NULL;
        }
        pthread_mutex_unlock(&nb_cache_m);
    }
    free(f);
}

/* ---- receive side: frames into the frontend's buffers ------------------------------- */

static void nb_enqueue_locked(struct sim_netback *b, struct nb_frame *f)
{
    if (!b->bk.connected || b->ninbox >= NB_MAX_INBOX) {
        b->st.rx_dropped++;
        nb_frame_free(f);
        return;
    }
    struct nb_queue *q = &b->q[f->queue % b->nq];
    f->next = NULL;
    if (q->in_tail)
        q->in_tail->next = f;
    else
        q->in_head = f;
    q->in_tail = f;
    b->ninbox++;
    sim_back_kick_locked(&b->bk);
}

static struct nb_frame *nb_frame_new(const void *data, uint32_t len)
{
    struct nb_frame *f = nb_frame_alloc(len);
    memcpy(f->data, data, len);
    return f;
}

/* What the receiving frontend gets for a frame sent with these offloads:
 * like Linux, blank checksums and GSO go through to a frontend that takes
 * them; otherwise the backend completes or segments. */
static void nb_deliver(struct sim_netback *dst, struct nb_frame *f)
{
    pthread_mutex_lock(&dst->bk.m);
    bool take_gso = f->gso_type == XEN_NETIF_GSO_TYPE_TCPV4 ? dst->fe_gso4 : dst->fe_gso6;
    struct netpkt_frag fr = { f->data, f->len };
    struct netpkt_info pi;
    bool parsed = netpkt_parse(&fr, 1, f->len, &pi) == 0;
    if (f->gso_type && !take_gso && parsed) {
        unsigned count = 0;
        uint8_t *seg = malloc(NETPKT_MAX_FRAME);
        if (netpkt_gso_count(&pi, f->mss, &count) == 0)
            for (unsigned i = 0; i < count; i++) {
                uint32_t sl = 0;
                if (netpkt_gso_segment(&fr, 1, &pi, f->mss, i, seg, NETPKT_MAX_FRAME, &sl))
                    break;
                struct nb_frame *s = nb_frame_new(seg, sl);
                s->rxflags = SIM_NET_VALIDATED;
                s->queue = f->queue;
                dst->st.segmented++;
                nb_enqueue_locked(dst, s);
            }
        free(seg);
        nb_frame_free(f);
        pthread_mutex_unlock(&dst->bk.m);
        return;
    }
    if ((f->rxflags & SIM_NET_CSUM_BLANK) && dst->fe_no_csum) {
        if (parsed && netpkt_csum_fill(&fr, 1, &pi) == 0)
            dst->st.csum_completed++;
        f->rxflags = SIM_NET_VALIDATED;
    }
    nb_enqueue_locked(dst, f);
    pthread_mutex_unlock(&dst->bk.m);
}

static unsigned nb_rx_available(struct nb_queue *q)
{
    RING_IDX rp = __atomic_load_n(&q->rx.sring->req_prod, __ATOMIC_ACQUIRE);
    unsigned n = rp - q->rx.req_cons;
    return n > RING_SIZE(&q->rx) ? 0 : n;
}

static void nb_rx_rsp(struct nb_queue *q, uint16_t id, uint16_t offset, uint16_t flags,
                      int16_t status)
{
    netif_rx_response_t *r = RING_GET_RESPONSE(&q->rx, q->rx.rsp_prod_pvt);
    q->rx.rsp_prod_pvt++;
    r->id = id;
    r->offset = offset;
    r->flags = flags;
    r->status = status;
}

/* Ring slots a frame needs on the receive ring (data slots, extra info). */
static unsigned nb_frame_slots(const struct nb_frame *f, unsigned *data_slots)
{
    uint32_t chunk_max = f->corrupt == SIM_NET_RX_TOO_MANY_SLOTS ? 64 : GP_PAGE_SIZE;
    unsigned n = (f->len + chunk_max - 1) / chunk_max;
    if (n == 0)
        n = 1;
    if (data_slots)
        *data_slots = n;
    return n + (f->gso_type ? 1u : 0u);
}

/* Put one frame into the frontend's posted buffers; false if there are not
 * enough of them yet (the frame stays first in line). */
static bool nb_rx_one(struct sim_netback *b, struct nb_queue *q, struct nb_frame *f)
{
    enum sim_net_corrupt c = f->corrupt;
    uint32_t chunk_max = c == SIM_NET_RX_TOO_MANY_SLOTS ? 64 : GP_PAGE_SIZE;
    unsigned nslots;
    unsigned need = nb_frame_slots(f, &nslots);
    if (nslots > 1 && !b->fe_sg && c != SIM_NET_RX_TOO_MANY_SLOTS) {
        b->st.rx_dropped++;
        return true;                  /* a frontend without SG gets no large frames */
    }
    if (nb_rx_available(q) < need)
        return false;
    uint32_t off = 0;
    for (unsigned k = 0; k < nslots; k++) {
        netif_rx_request_t req;
        memcpy(&req, RING_GET_REQUEST(&q->rx, q->rx.req_cons), sizeof(req));
        q->rx.req_cons++;
        uint32_t chunk = f->len - off < chunk_max ? f->len - off : chunk_max;
        int16_t status = (int16_t)chunk;
        if (sim_gnt_copy(b->bk.x, 0, b->bk.fe, req.gref, 0, f->data + off, chunk, true) != 0)
            status = NETIF_RSP_ERROR;
        off += chunk;
        uint16_t flags = k + 1 < nslots ? NETRXF_more_data : 0;
        uint16_t offset = 0, id = req.id;
        if (k == 0) {
            if (f->rxflags & SIM_NET_CSUM_BLANK)
                flags |= NETRXF_csum_blank | NETRXF_data_validated;
            else if (f->rxflags & SIM_NET_VALIDATED)
                flags |= NETRXF_data_validated;
            if (f->gso_type)
                flags |= NETRXF_extra_info;
            if (c == SIM_NET_RX_BAD_ID)
                id = (uint16_t)(id + 1);
            if (c == SIM_NET_RX_BAD_OFFSET)
                offset = GP_PAGE_SIZE - 1, status = status < 2 ? 2 : status;
            if (c == SIM_NET_RX_ERROR)
                status = NETIF_RSP_ERROR;
        }
        if (k + 1 == nslots && c == SIM_NET_RX_RUNAWAY)
            flags |= NETRXF_more_data;
        nb_rx_rsp(q, id, offset, flags, status);
        if (k == 0 && f->gso_type) {
            q->rx.req_cons++;          /* the extra slot uses a buffer's place */
            netif_extra_info_t *x =
                (netif_extra_info_t *)RING_GET_RESPONSE(&q->rx, q->rx.rsp_prod_pvt);
            q->rx.rsp_prod_pvt++;
            memset(x, 0, sizeof(*x));
            x->type = XEN_NETIF_EXTRA_TYPE_GSO;
            x->u.gso.size = f->mss;
            x->u.gso.type = (uint8_t)(c == SIM_NET_RX_BAD_GSO ? 7 : f->gso_type);
            b->st.rx_gso++;
        }
    }
    if (c == SIM_NET_RX_BEYOND)
        q->rx.rsp_prod_pvt += 300;
    b->st.rx_frames++;
    b->st.rx_slots += nslots;
    return true;
}

static void nb_rx_service(struct sim_netback *b, struct nb_queue *q)
{
    bool any = false;
    for (;;) {
        while (q->in_head) {
            struct nb_frame *f = q->in_head;
            if (!nb_rx_one(b, q, f))
                break;
            q->in_head = f->next;
            if (!q->in_head)
                q->in_tail = NULL;
            b->ninbox--;
            nb_frame_free(f);
            any = true;
        }
        if (!q->in_head)
            break;
        /* Short of buffers: ask to be told when there are enough for the
         * frame in line (not on every buffer posted), then look again. */
        unsigned need = nb_frame_slots(q->in_head, NULL);
        q->rx.sring->req_event = q->rx.req_cons + need;
        xen_mb();
        if (nb_rx_available(q) < need)
            break;
    }
    if (!any)
        return;
    int notify;
    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&q->rx, notify);
    if (notify) {
        b->st.notifications++;
        gp_xen_evtchn_notify(b->bk.p, q->rx_port);
    }
}

/* ---- transmit side: frames out of the frontend's pages ------------------------------- */

static void nb_tx_answer(struct nb_queue *q, uint16_t id, int16_t status)
{
    if (q->nheld == q->held_cap) {
        q->held_cap = q->held_cap ? 2 * q->held_cap : 64;
        q->held = realloc(q->held, q->held_cap * sizeof(*q->held));
    }
    q->held[q->nheld++] = (struct nb_tx_rsp){ id, status };
}

void nb_tx_flush(struct sim_netback *b, struct nb_queue *q)
{
    if (b->hold_tx || !q->nheld)
        return;
    for (unsigned i = 0; i < q->nheld; i++) {
        struct nb_tx_rsp r = q->held[i];
        enum sim_net_corrupt c = b->corrupt;
        if (c == SIM_NET_TX_BAD_ID || c == SIM_NET_TX_BAD_STATUS ||
            c == SIM_NET_TX_EXTRA_RESPONSE)
            b->corrupt = SIM_NET_OK;
        if (c == SIM_NET_TX_BAD_ID && r.status != NETIF_RSP_NULL)
            r.id = 999;
        if (c == SIM_NET_TX_BAD_STATUS && r.status != NETIF_RSP_NULL)
            r.status = 3;
        netif_tx_response_t *rsp = RING_GET_RESPONSE(&q->tx, q->tx.rsp_prod_pvt);
        q->tx.rsp_prod_pvt++;
        rsp->id = r.id;
        rsp->status = r.status;
        if (c == SIM_NET_TX_EXTRA_RESPONSE) {
            rsp = RING_GET_RESPONSE(&q->tx, q->tx.rsp_prod_pvt);
            q->tx.rsp_prod_pvt++;
            rsp->id = r.id;
            rsp->status = NETIF_RSP_OKAY;
        }
    }
    q->nheld = 0;
    int notify;
    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&q->tx, notify);
    if (notify) {
        b->st.notifications++;
        gp_xen_evtchn_notify(b->bk.p, q->tx_port);
    }
}

/* One frame from the tx ring; NULL if it was bad (answered with errors). */
static struct nb_frame *nb_tx_one(struct sim_netback *b, struct nb_queue *q, RING_IDX rp)
{
    netif_tx_request_t slots[NB_MAX_SLOTS + 1];
    unsigned n = 0, extras = 0;
    netif_extra_info_t gso;
    memset(&gso, 0, sizeof(gso));
    bool bad = false, more = true;
    while (more && q->tx.req_cons != rp) {
        netif_tx_request_t r;
        memcpy(&r, RING_GET_REQUEST(&q->tx, q->tx.req_cons), sizeof(r));
        q->tx.req_cons++;
        if (n <= NB_MAX_SLOTS)
            slots[n] = r;
        n++;
        more = r.flags & NETTXF_more_data;
        if (n == 1 && (r.flags & NETTXF_extra_info)) {
            bool xmore = true;
            while (xmore && q->tx.req_cons != rp) {
                netif_extra_info_t x;
                memcpy(&x, RING_GET_REQUEST(&q->tx, q->tx.req_cons), sizeof(x));
                q->tx.req_cons++;
                extras++;
                if (x.type == XEN_NETIF_EXTRA_TYPE_GSO)
                    gso = x;
                xmore = x.flags & XEN_NETIF_EXTRA_FLAG_MORE;
            }
        }
    }
    if (more || n > NB_MAX_SLOTS)
        bad = true;
    uint32_t total = slots[0].size, rest = 0;
    for (unsigned i = 1; !bad && i < n; i++)
        rest += slots[i].size;
    if (!bad && (rest >= total || total < 14))
        bad = true;
    struct nb_frame *f = NULL;
    if (!bad) {
        f = nb_frame_alloc(total);        /* every byte is copied in below */
        uint32_t off = 0;
        for (unsigned i = 0; i < n && !bad; i++) {
            uint32_t size = i == 0 ? total - rest : slots[i].size;
            nb_audit_tx_slot(b, slots[i].gref, slots[i].offset, size);
            if (slots[i].offset + size > GP_PAGE_SIZE ||
                sim_gnt_copy(b->bk.x, 0, b->bk.fe, slots[i].gref, slots[i].offset, f->data + off,
                             size, false) != 0)
                bad = true;
            off += size;
        }
    }
    if (b->fail_tx)
        bad = true;
    unsigned answered = n > NB_MAX_SLOTS ? NB_MAX_SLOTS : n;
    for (unsigned i = 0; i < answered; i++) {
        nb_tx_answer(q, slots[i].id, bad ? NETIF_RSP_ERROR : NETIF_RSP_OKAY);
        if (i == 0)
            for (unsigned k = 0; k < extras; k++)
                nb_tx_answer(q, 0, NETIF_RSP_NULL);
    }
    b->st.tx_slots += n + extras;
    if (bad) {
        b->st.tx_errors++;
        nb_frame_free(f);
        return NULL;
    }
    b->st.tx_frames++;
    if (slots[0].flags & NETTXF_csum_blank) {
        f->rxflags = SIM_NET_CSUM_BLANK;
        b->st.tx_csum_blank++;
    } else if (slots[0].flags & NETTXF_data_validated) {
        f->rxflags = SIM_NET_VALIDATED;
    }
    if (gso.type == XEN_NETIF_EXTRA_TYPE_GSO && gso.u.gso.size) {
        f->gso_type = gso.u.gso.type;
        f->mss = gso.u.gso.size;
        b->st.tx_gso++;
    }
    f->queue = q->index;
    return f;
}

static struct nb_frame *nb_tx_service(struct sim_netback *b, struct nb_queue *q)
{
    struct nb_frame *out = NULL, **tail = &out;
    int more;
    do {
        RING_IDX rp = __atomic_load_n(&q->tx.sring->req_prod, __ATOMIC_ACQUIRE);
        if (rp - q->tx.req_cons > RING_SIZE(&q->tx)) {
            fprintf(stderr, "sim_netback: frontend tx request index broken\n");
            return out;
        }
        while (q->tx.req_cons != rp) {
            struct nb_frame *f = nb_tx_one(b, q, rp);
            if (f) {
                *tail = f;
                tail = &f->next;
            }
        }
        RING_FINAL_CHECK_FOR_REQUESTS(&q->tx, more);
    } while (more);
    nb_tx_flush(b, q);
    return out;
}

void *nb_main(void *arg)
{
    struct sim_netback *b = arg;
    pthread_mutex_lock(&b->bk.m);
    while (sim_back_wait_kick_locked(&b->bk)) {
        struct nb_frame *out = NULL;
        for (unsigned i = 0; i < b->nq; i++) {
            struct nb_frame *f = nb_tx_service(b, &b->q[i]);
            while (f) {
                struct nb_frame *nx = f->next;
                f->next = out;
                out = f;
                f = nx;
            }
        }
        for (unsigned i = 0; i < b->nq; i++)
            nb_rx_service(b, &b->q[i]);
        nb_ctrl_service_locked(b);
        struct sim_netback *dst = b->peer ? b->peer : b;
        /* reverse back to ring order, then switch (without our lock) */
        struct nb_frame *ordered = NULL;
        while (out) {
            struct nb_frame *nx = out->next;
            out->next = ordered;
            ordered = out;
            out = nx;
        }
        pthread_mutex_unlock(&b->bk.m);
        while (ordered) {
            struct nb_frame *nx = ordered->next;
            if (b->o.sink)
                nb_frame_free(ordered);
            else
                nb_deliver(dst, ordered);
            ordered = nx;
        }
        pthread_mutex_lock(&b->bk.m);
    }
    pthread_mutex_unlock(&b->bk.m);
    return NULL;
}

void sim_netback_link(struct sim_netback *a, struct sim_netback *b)
{
    pthread_mutex_lock(&a->bk.m);
    a->peer = b;
    pthread_mutex_unlock(&a->bk.m);
    pthread_mutex_lock(&b->bk.m);
    b->peer = a;
    pthread_mutex_unlock(&b->bk.m);
}

void sim_netback_corrupt_next(struct sim_netback *b, enum sim_net_corrupt c)
{
    pthread_mutex_lock(&b->bk.m);
    b->corrupt = c;
    pthread_mutex_unlock(&b->bk.m);
}

void sim_netback_hold_tx(struct sim_netback *b, bool hold)
{
    pthread_mutex_lock(&b->bk.m);
    b->hold_tx = hold;
    for (unsigned i = 0; !hold && b->bk.connected && i < b->nq; i++)
        nb_tx_flush(b, &b->q[i]);
    pthread_mutex_unlock(&b->bk.m);
}

void sim_netback_shift_ring_indices(struct sim_netback *b, uint32_t delta)
{
    pthread_mutex_lock(&b->bk.m);
    for (unsigned i = 0; b->bk.connected && i < b->nq; i++) {
        SIM_BACK_RING_SHIFT(&b->q[i].tx, delta);
        SIM_BACK_RING_SHIFT(&b->q[i].rx, delta);
    }
    pthread_mutex_unlock(&b->bk.m);
}

void sim_netback_fail_tx(struct sim_netback *b, bool fail)
{
    pthread_mutex_lock(&b->bk.m);
    b->fail_tx = fail;
    pthread_mutex_unlock(&b->bk.m);
}

void sim_netback_inject(struct sim_netback *b, const void *frame, uint32_t len, unsigned flags,
                        unsigned gso_type, uint16_t mss)
{
    struct nb_frame *f = nb_frame_new(frame, len);
    f->rxflags = flags;
    f->gso_type = gso_type;
    f->mss = mss;
    pthread_mutex_lock(&b->bk.m);
    enum sim_net_corrupt c = b->corrupt;
    if (c >= SIM_NET_RX_BAD_ID && c <= SIM_NET_RX_BEYOND) {
        f->corrupt = c;
        b->corrupt = SIM_NET_OK;
    }
    nb_enqueue_locked(b, f);
    pthread_mutex_unlock(&b->bk.m);
}

void sim_netback_get_stats(struct sim_netback *b, struct sim_netback_stats *s)
{
    pthread_mutex_lock(&b->bk.m);
    *s = b->st;
    pthread_mutex_unlock(&b->bk.m);
}
