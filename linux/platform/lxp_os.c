/* lxp_os: the OS services of the Linux platform - calloc, pthread mutexes
 * as spin locks, condition-variable events on CLOCK_MONOTONIC, logging to
 * stderr, and one worker thread running deferred work in order. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lxp_internal.h"

struct gp_lock {
    pthread_mutex_t m;
};

struct gp_event {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool signalled;
};

static void *lxp_os_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return calloc(1, size ? size : 1);
}

static void lxp_os_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static struct gp_lock *lxp_os_lock_create(void *ctx)
{
    (void)ctx;
    struct gp_lock *l = calloc(1, sizeof(*l));
    if (l)
        pthread_mutex_init(&l->m, NULL);
    return l;
}

static void lxp_os_lock_destroy(void *ctx, struct gp_lock *l)
{
    (void)ctx;
    if (l) {
        pthread_mutex_destroy(&l->m);
        free(l);
    }
}

static void lxp_os_lock_acquire(void *ctx, struct gp_lock *l)
{
    (void)ctx;
    pthread_mutex_lock(&l->m);
}

static void lxp_os_lock_release(void *ctx, struct gp_lock *l)
{
    (void)ctx;
    pthread_mutex_unlock(&l->m);
}

static struct gp_event *lxp_os_event_create(void *ctx)
{
    (void)ctx;
    struct gp_event *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&e->m, NULL);
    pthread_cond_init(&e->c, &ca);
    pthread_condattr_destroy(&ca);
    return e;
}

static void lxp_os_event_destroy(void *ctx, struct gp_event *e)
{
    (void)ctx;
    if (e) {
        pthread_cond_destroy(&e->c);
        pthread_mutex_destroy(&e->m);
        free(e);
    }
}

static void lxp_os_event_signal(void *ctx, struct gp_event *e)
{
    (void)ctx;
    pthread_mutex_lock(&e->m);
    e->signalled = true;
    pthread_cond_broadcast(&e->c);
    pthread_mutex_unlock(&e->m);
}

static int lxp_os_event_wait(void *ctx, struct gp_event *e, uint64_t timeout_ns)
{
    (void)ctx;
    int rc = 0;
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    uint64_t ns = (uint64_t)dl.tv_nsec + timeout_ns;
    dl.tv_sec += (time_t)(ns / 1000000000u);
    dl.tv_nsec = (long)(ns % 1000000000u);
    pthread_mutex_lock(&e->m);
    while (!e->signalled) {
        if (timeout_ns == 0) {
            pthread_cond_wait(&e->c, &e->m);
        } else if (pthread_cond_timedwait(&e->c, &e->m, &dl) == ETIMEDOUT) {
            rc = e->signalled ? 0 : GP_ETIMEDOUT;
            break;
        }
    }
    e->signalled = false;
    pthread_mutex_unlock(&e->m);
    return rc;
}

static uint64_t lxp_os_now_ns(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void lxp_os_log(void *ctx, enum gp_log_level lvl, const char *msg)
{
    static const char *const names[] = { "error", "warning", "info", "debug" };
    struct lxp *x = ctx;
    if (lvl == GP_LOG_ERROR)
        atomic_fetch_add(&x->errors, 1);
    if (lvl > x->level)
        return;
    fprintf(stderr, "%s: %s: %s\n", x->name, names[lvl <= GP_LOG_DEBUG ? lvl : GP_LOG_DEBUG],
            msg);
}

void lxp_logf(struct lxp *x, enum gp_log_level lvl, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    lxp_os_log(x, lvl, buf);
}

static void *lxp_os_worker(void *arg)
{
    struct lxp *x = arg;
    pthread_mutex_lock(&x->work_lock);
    for (;;) {
        while (!x->head && !x->stopping)
            pthread_cond_wait(&x->work_cond, &x->work_lock);
        if (!x->head)
            break;
        struct lxp_work *w = x->head;
        x->head = w->next;
        if (!x->head)
            x->tail = NULL;
        x->busy = true;
        pthread_mutex_unlock(&x->work_lock);
        w->fn(w->arg);
        free(w);
        pthread_mutex_lock(&x->work_lock);
        x->busy = false;
        if (!x->head)
            pthread_cond_broadcast(&x->idle_cond);
    }
    pthread_mutex_unlock(&x->work_lock);
    return NULL;
}

static int lxp_os_defer(void *ctx, gp_work_fn fn, void *arg)
{
    struct lxp *x = ctx;
    struct lxp_work *w = malloc(sizeof(*w));
    if (!w)
        return GP_ENOMEM;
    w->next = NULL;
    w->fn = fn;
    w->arg = arg;
    pthread_mutex_lock(&x->work_lock);
    if (x->tail)
        x->tail->next = w;
    else
        x->head = w;
    x->tail = w;
    pthread_cond_signal(&x->work_cond);
    pthread_mutex_unlock(&x->work_lock);
    return 0;
}

void lxp_drain(struct gp_platform *p)
{
    struct lxp *x = lxp_of(p);
    pthread_mutex_lock(&x->work_lock);
    while (x->head || x->busy)
        pthread_cond_wait(&x->idle_cond, &x->work_lock);
    pthread_mutex_unlock(&x->work_lock);
}

int lxp_os_start(struct lxp *x)
{
    pthread_mutex_init(&x->work_lock, NULL);
    pthread_cond_init(&x->work_cond, NULL);
    pthread_cond_init(&x->idle_cond, NULL);
    if (pthread_create(&x->worker, NULL, lxp_os_worker, x) != 0)
        return GP_ENOMEM;
    x->worker_started = true;
    return 0;
}

void lxp_os_stop(struct lxp *x)
{
    if (!x->worker_started)
        return;
    pthread_mutex_lock(&x->work_lock);
    x->stopping = true;
    pthread_cond_signal(&x->work_cond);
    pthread_mutex_unlock(&x->work_lock);
    pthread_join(x->worker, NULL);
    x->worker_started = false;
}

void lxp_os_fill(struct lxp *x)
{
    struct gp_os *o = &x->os;
    o->ctx = x;
    o->name = "linux";
    o->alloc = lxp_os_alloc;
    o->free = lxp_os_free;
    o->lock_create = lxp_os_lock_create;
    o->lock_destroy = lxp_os_lock_destroy;
    o->lock_acquire = lxp_os_lock_acquire;
    o->lock_release = lxp_os_lock_release;
    o->event_create = lxp_os_event_create;
    o->event_destroy = lxp_os_event_destroy;
    o->event_signal = lxp_os_event_signal;
    o->event_wait = lxp_os_event_wait;
    o->now_ns = lxp_os_now_ns;
    o->log = lxp_os_log;
    o->defer = lxp_os_defer;
    x->plat.os = o;
}
