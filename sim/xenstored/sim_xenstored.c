/* sim_xenstored: connections (shared ring pages and direct byte streams)
 * and the worker thread that moves bytes, runs requests and flushes
 * replies and watch events.  Request semantics live in xsd_ops.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xsd_internal.h"

void xsd_buf_append(struct xsd_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n)
            cap *= 2;
        b->data = realloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void xsd_buf_consume(struct xsd_buf *b, size_t n)
{
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void xsd_out_consume(struct xsd_conn *c, size_t n)
{
    xsd_buf_consume(&c->out, n);
    size_t k = 0;
    for (size_t i = 0; i < c->nqueued; i++) {
        /* the header precedes the payload: delivery began if it did */
        if (c->queued[i].off - sizeof(struct xsd_sockmsg) < n)
            continue;
        c->queued[k].off = c->queued[i].off - n;
        c->queued[k++].len = c->queued[i].len;
    }
    c->nqueued = k;
}

uint64_t xsd_rand(struct sim_xenstored *s)
{
    /* xorshift64* */
    s->prng ^= s->prng >> 12;
    s->prng ^= s->prng << 25;
    s->prng ^= s->prng >> 27;
    return s->prng * 2685821657736338717ull;
}

static void xsd_wake(struct sim_xenstored *s)
{
    s->work = true;
    pthread_cond_signal(&s->cond);
}

/* ---- ring connections ------------------------------------------------------ */

static bool xsd_ring_pull(struct xsd_conn *c)
{
    struct xenstore_domain_interface *r = c->ring;
    uint32_t cons = __atomic_load_n(&r->req_cons, __ATOMIC_RELAXED);
    uint32_t prod = __atomic_load_n(&r->req_prod, __ATOMIC_ACQUIRE);
    if (prod - cons > XENSTORE_RING_SIZE) {
        fprintf(stderr, "sim_xenstored: dom%u request ring indices broken (%u/%u)\n", c->domid,
                prod, cons);
        c->dead = true;
        return false;
    }
    if (prod == cons)
        return false;
    while (cons != prod) {
        uint32_t off = MASK_XENSTORE_IDX(cons);
        uint32_t n = XENSTORE_RING_SIZE - off;
        if (n > prod - cons)
            n = prod - cons;
        xsd_buf_append(&c->in, r->req + off, n);
        cons += n;
    }
    __atomic_store_n(&r->req_cons, cons, __ATOMIC_RELEASE);
    return true;
}

static bool xsd_ring_push(struct xsd_conn *c)
{
    struct xenstore_domain_interface *r = c->ring;
    uint32_t cons = __atomic_load_n(&r->rsp_cons, __ATOMIC_ACQUIRE);
    uint32_t prod = __atomic_load_n(&r->rsp_prod, __ATOMIC_RELAXED);
    if (prod - cons > XENSTORE_RING_SIZE) {
        fprintf(stderr, "sim_xenstored: dom%u response ring indices broken\n", c->domid);
        c->dead = true;
        return false;
    }
    size_t done = 0;
    while (done < c->out.len && prod - cons < XENSTORE_RING_SIZE) {
        uint32_t off = MASK_XENSTORE_IDX(prod);
        size_t n = XENSTORE_RING_SIZE - off;
        if (n > XENSTORE_RING_SIZE - (prod - cons))
            n = XENSTORE_RING_SIZE - (prod - cons);
        if (n > c->out.len - done)
            n = c->out.len - done;
        memcpy(r->rsp + off, c->out.data + done, n);
        done += n;
        prod += (uint32_t)n;
    }
    if (!done)
        return false;
    __atomic_store_n(&r->rsp_prod, prod, __ATOMIC_RELEASE);
    xsd_out_consume(c, done);
    return true;
}

/* ---- the worker ---------------------------------------------------------------- */

static uint64_t xsd_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static bool xsd_run_requests(struct sim_xenstored *s, struct xsd_conn *c)
{
    bool any = false;
    while (c->in.len >= sizeof(struct xsd_sockmsg)) {
        /* Injected delay: the request waits, nothing else does. */
        if (s->delay_us) {
            uint64_t now = xsd_now_us();
            if (!c->hold_until) {
                c->hold_until = now + xsd_rand(s) % s->delay_us;
            }
            if (now < c->hold_until)
                break;
            c->hold_until = 0;
        }
        struct xsd_sockmsg h;
        memcpy(&h, c->in.data, sizeof(h));
        if (h.len > XENSTORE_PAYLOAD_MAX) {
            fprintf(stderr, "sim_xenstored: dom%u sent a %u-byte payload: input dropped\n",
                    c->domid, h.len);
            c->in.len = 0;
            break;
        }
        if (c->in.len < sizeof(h) + h.len)
            break;
        char *payload = malloc(h.len + 1);
        memcpy(payload, c->in.data + sizeof(h), h.len);
        payload[h.len] = 0;
        xsd_buf_consume(&c->in, sizeof(h) + h.len);
        xsd_process(s, c, &h, payload);
        free(payload);
        any = true;
    }
    return any;
}

struct xsd_call {
    void (*fn)(void *);
    void *arg;
};

static void *xsd_worker(void *arg)
{
    struct sim_xenstored *s = arg;
    struct xsd_call *calls = NULL;
    unsigned cap = 0;
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        s->work = false;
        unsigned ncalls = 0;
        for (struct xsd_conn *c = s->conns; c; c = c->next) {
            if (c->dead)
                continue;
            if (c->is_ring && xsd_ring_pull(c))
                c->kick = true;               /* request space freed: tell the guest */
            xsd_run_requests(s, c);
        }
        /* Flush after all requests ran: their watch events went anywhere. */
        for (struct xsd_conn *c = s->conns; c; c = c->next) {
            if (c->dead)
                continue;
            bool kick = c->is_ring ? xsd_ring_push(c) || c->kick : c->out.len > 0;
            c->kick = false;
            if (!kick)
                continue;
            if (ncalls == cap) {
                cap = cap ? 2 * cap : 16;
                calls = realloc(calls, cap * sizeof(*calls));
            }
            calls[ncalls].fn = c->is_ring ? c->notify : c->rx_fn;
            calls[ncalls].arg = c->is_ring ? c->notify_arg : c->rx_arg;
            if (calls[ncalls].fn)
                ncalls++;
        }
        s->calling = ncalls > 0;
        pthread_mutex_unlock(&s->lock);
        for (unsigned i = 0; i < ncalls; i++)
            calls[i].fn(calls[i].arg);
        pthread_mutex_lock(&s->lock);
        if (s->calling) {
            s->calling = false;
            pthread_cond_broadcast(&s->cond);    /* a handler being removed waits for this */
        }
        if (!s->work && !s->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 2000000;            /* 2 ms: ring space may appear */
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&s->cond, &s->lock, &ts);
        }
    }
    pthread_mutex_unlock(&s->lock);
    free(calls);
    return NULL;
}

/* ---- direct connections ------------------------------------------------------ */

static int xsd_direct_send(void *ctx, const void *buf, size_t len)
{
    struct xsd_conn *c = ctx;
    struct sim_xenstored *s = c->s;
    pthread_mutex_lock(&s->lock);
    if (c->dead) {
        pthread_mutex_unlock(&s->lock);
        return GP_EIO;
    }
    xsd_buf_append(&c->in, buf, len);
    xsd_wake(s);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static long xsd_direct_recv(void *ctx, void *buf, size_t len)
{
    struct xsd_conn *c = ctx;
    struct sim_xenstored *s = c->s;
    pthread_mutex_lock(&s->lock);
    size_t n = c->out.len < len ? c->out.len : len;
    if (n) {
        memcpy(buf, c->out.data, n);
        xsd_out_consume(c, n);
    }
    pthread_mutex_unlock(&s->lock);
    return (long)n;
}

static void xsd_direct_set_rx(void *ctx, gp_work_fn fn, void *arg)
{
    struct xsd_conn *c = ctx;
    struct sim_xenstored *s = c->s;
    pthread_mutex_lock(&s->lock);
    c->rx_fn = fn;
    c->rx_arg = arg;
    /* A handler removed (its client is going away) must not be running
     * any more when this returns: the worker may have taken it just before. */
    while (!fn && s->calling && !pthread_equal(pthread_self(), s->worker))
        pthread_cond_wait(&s->cond, &s->lock);
    xsd_wake(s);
    pthread_mutex_unlock(&s->lock);
}

static struct xsd_conn *xsd_conn_new(struct sim_xenstored *s, gp_domid_t domid)
{
    struct xsd_conn *c = calloc(1, sizeof(*c));
    c->s = s;
    c->domid = domid;
    c->next = s->conns;
    s->conns = c;
    return c;
}

struct gp_xs_transport *sim_xenstored_direct(struct sim_xenstored *s, gp_domid_t domid)
{
    pthread_mutex_lock(&s->lock);
    struct xsd_conn *c = xsd_conn_new(s, domid);
    c->t.ctx = c;
    c->t.send = xsd_direct_send;
    c->t.recv = xsd_direct_recv;
    c->t.set_rx_handler = xsd_direct_set_rx;
    pthread_mutex_unlock(&s->lock);
    return &c->t;
}

static void xsd_unlink_free(struct sim_xenstored *s, struct xsd_conn *c)
{
    for (struct xsd_conn **pp = &s->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    xsd_conn_free_state(c);
    free(c);
}

void sim_xenstored_direct_close(struct sim_xenstored *s, struct gp_xs_transport *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&s->lock);
    xsd_unlink_free(s, t->ctx);
    pthread_mutex_unlock(&s->lock);
}

int sim_xenstored_connect_ring(struct sim_xenstored *s, gp_domid_t domid,
                               struct xenstore_domain_interface *ring,
                               void (*notify)(void *arg), void *arg)
{
    pthread_mutex_lock(&s->lock);
    struct xsd_conn *c = xsd_conn_new(s, domid);
    c->is_ring = true;
    c->ring = ring;
    c->notify = notify;
    c->notify_arg = arg;
    ring->server_features = 0;
    ring->connection = XENSTORE_CONNECTED;
    xsd_wake(s);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

void sim_xenstored_ring_kick(struct sim_xenstored *s, gp_domid_t domid)
{
    (void)domid;
    pthread_mutex_lock(&s->lock);
    xsd_wake(s);
    pthread_mutex_unlock(&s->lock);
}

void sim_xenstored_disconnect(struct sim_xenstored *s, gp_domid_t domid)
{
    pthread_mutex_lock(&s->lock);
    for (struct xsd_conn *c = s->conns, *n; c; c = n) {
        n = c->next;
        if (c->is_ring && c->domid == domid)
            xsd_unlink_free(s, c);
    }
    pthread_mutex_unlock(&s->lock);
}

/* ---- domains, lifetime, test access ----------------------------------------- */

struct sim_xenstored *sim_xenstored_create(uint64_t seed)
{
    struct sim_xenstored *s = calloc(1, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->prng = seed ? seed : 0x9e3779b97f4a7c15ull;
    const char *base[] = { "/", "/local", "/local/domain", "/tool" };
    for (unsigned i = 0; i < 4; i++)
        xsd_tree_create(&s->tree, base[i], 0, 0);
    pthread_create(&s->worker, NULL, xsd_worker, s);
    return s;
}

void sim_xenstored_destroy(struct sim_xenstored *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->worker, NULL);
    while (s->conns)
        xsd_unlink_free(s, s->conns);
    xsd_tree_free(&s->tree);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int sim_xenstored_introduce(struct sim_xenstored *s, gp_domid_t domid)
{
    char path[64], perm[16];
    snprintf(path, sizeof(path), "/local/domain/%u", domid);
    snprintf(perm, sizeof(perm), "n%u", domid);
    pthread_mutex_lock(&s->lock);
    struct xsd_node *n = xsd_tree_create(&s->tree, path, 0, ++s->gen);
    char *perms[1] = { perm };
    xsd_tree_set_perms(n, perms, 1, s->gen);
    xsd_fire(s, path);
    xsd_fire(s, "@introduceDomain");
    xsd_wake(s);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

void sim_xenstored_release(struct sim_xenstored *s, gp_domid_t domid)
{
    char path[64];
    snprintf(path, sizeof(path), "/local/domain/%u", domid);
    pthread_mutex_lock(&s->lock);
    for (struct xsd_conn *c = s->conns, *n; c; c = n) {
        n = c->next;
        if (c->domid == domid && c->is_ring)
            xsd_unlink_free(s, c);
        else if (c->domid == domid)
            c->dead = true;            /* direct: its owner closes it */
    }
    xsd_fire(s, path);
    xsd_tree_remove(&s->tree, path, NULL, NULL);
    xsd_fire(s, "@releaseDomain");
    xsd_wake(s);
    pthread_mutex_unlock(&s->lock);
}

void sim_xenstored_set_faults(struct sim_xenstored *s, uint32_t corrupt_ppm, uint32_t delay_us)
{
    pthread_mutex_lock(&s->lock);
    s->corrupt_ppm = corrupt_ppm;
    s->delay_us = delay_us;
    pthread_mutex_unlock(&s->lock);
}

char *sim_xenstored_peek(struct sim_xenstored *s, const char *path)
{
    pthread_mutex_lock(&s->lock);
    struct xsd_node *n = xsd_tree_find(&s->tree, path);
    char *v = n ? strdup(n->value) : NULL;
    pthread_mutex_unlock(&s->lock);
    return v;
}

int sim_xenstored_poke(struct sim_xenstored *s, const char *path, const char *value)
{
    if (!xsd_path_valid(path) || path[0] != '/')
        return GP_EINVAL;
    pthread_mutex_lock(&s->lock);
    struct xsd_node *n = xsd_tree_create(&s->tree, path, 0, ++s->gen);
    xsd_tree_set_value(n, value, (uint32_t)strlen(value), s->gen);
    xsd_fire(s, path);
    xsd_wake(s);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

int sim_xenstored_poke_rm(struct sim_xenstored *s, const char *path)
{
    pthread_mutex_lock(&s->lock);
    int err = xsd_tree_find(&s->tree, path) ? 0 : GP_ENOENT;
    if (!err) {
        xsd_fire(s, path);
        xsd_tree_remove(&s->tree, path, NULL, NULL);
        s->gen++;
        xsd_wake(s);
    }
    pthread_mutex_unlock(&s->lock);
    return err;
}

void sim_xenstored_get_stats(struct sim_xenstored *s, struct sim_xenstored_stats *st)
{
    pthread_mutex_lock(&s->lock);
    *st = s->stats;
    pthread_mutex_unlock(&s->lock);
}

void sim_xenstored_conn_state(struct sim_xenstored *s, gp_domid_t domid, unsigned *watches,
                              unsigned *txns)
{
    *watches = *txns = 0;
    pthread_mutex_lock(&s->lock);
    for (struct xsd_conn *c = s->conns; c; c = c->next) {
        if (!c->is_ring || c->domid != domid || c->dead)
            continue;
        for (struct xsd_watch *w = c->watches; w; w = w->next)
            (*watches)++;
        for (struct xsd_txn *t = c->txns; t; t = t->next)
            (*txns)++;
    }
    pthread_mutex_unlock(&s->lock);
}
