/* posix_os: OS services over pthreads and CLOCK_MONOTONIC (posix_os.h). */
#include "posix_os.h"

#include <stdlib.h>
#include <time.h>

struct gp_lock {
    pthread_mutex_t m;
};

struct gp_event {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool signalled;
};

struct posix_os_work {
    struct posix_os_work *next;
    gp_work_fn fn;
    void *arg;
};

static void *posix_os_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return calloc(1, size ? size : 1);
}

static void posix_os_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static struct gp_lock *posix_os_lock_create(void *ctx)
{
    (void)ctx;
    struct gp_lock *l = calloc(1, sizeof(*l));
    if (l)
        pthread_mutex_init(&l->m, NULL);
    return l;
}

static void posix_os_lock_destroy(void *ctx, struct gp_lock *l)
{
    (void)ctx;
    if (l) {
        pthread_mutex_destroy(&l->m);
        free(l);
    }
}

static void posix_os_lock_acquire(void *ctx, struct gp_lock *l)
{
    (void)ctx;
    pthread_mutex_lock(&l->m);
}

static void posix_os_lock_release(void *ctx, struct gp_lock *l)
{
    (void)ctx;
    pthread_mutex_unlock(&l->m);
}

static struct gp_event *posix_os_event_create(void *ctx)
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

static void posix_os_event_destroy(void *ctx, struct gp_event *e)
{
    (void)ctx;
    if (e) {
        pthread_cond_destroy(&e->c);
        pthread_mutex_destroy(&e->m);
        free(e);
    }
}

static void posix_os_event_signal(void *ctx, struct gp_event *e)
{
    (void)ctx;
    pthread_mutex_lock(&e->m);
    e->signalled = true;
    pthread_cond_broadcast(&e->c);
    pthread_mutex_unlock(&e->m);
}

/* timeout_ns 0 waits for ever; a deadline passed (or a failed wait)
 * gives GP_ETIMEDOUT unless the event was signalled meanwhile. */
static int posix_os_event_wait(void *ctx, struct gp_event *e, uint64_t timeout_ns)
{
    (void)ctx;
    int rc = 0;
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    uint64_t ns = (uint64_t)dl.tv_nsec + timeout_ns;
    dl.tv_sec += (time_t)(ns / GP_NS_PER_S);
    dl.tv_nsec = (long)(ns % GP_NS_PER_S);
    pthread_mutex_lock(&e->m);
    while (!e->signalled) {
        if (timeout_ns == 0) {
            pthread_cond_wait(&e->c, &e->m);
        } else if (pthread_cond_timedwait(&e->c, &e->m, &dl) != 0) {
            rc = e->signalled ? 0 : GP_ETIMEDOUT;
            break;
        }
    }
    e->signalled = false;
    pthread_mutex_unlock(&e->m);
    return rc;
}

static uint64_t posix_os_now_ns(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return GP_S(ts.tv_sec) + (uint64_t)ts.tv_nsec;
}

void posix_os_fill(struct gp_os *o, void *ctx, const char *name,
                   void (*log)(void *ctx, enum gp_log_level lvl, const char *msg),
                   int (*defer)(void *ctx, gp_work_fn fn, void *arg))
{
    o->ctx = ctx;
    o->name = name;
    o->log = log;
    o->defer = defer;
    o->alloc = posix_os_alloc;
    o->free = posix_os_free;
    o->lock_create = posix_os_lock_create;
    o->lock_destroy = posix_os_lock_destroy;
    o->lock_acquire = posix_os_lock_acquire;
    o->lock_release = posix_os_lock_release;
    o->event_create = posix_os_event_create;
    o->event_destroy = posix_os_event_destroy;
    o->event_signal = posix_os_event_signal;
    o->event_wait = posix_os_event_wait;
    o->now_ns = posix_os_now_ns;
}

static void *posix_os_worker_main(void *arg)
{
    struct posix_os_worker *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->work_cond, &w->lock);
        if (!w->head)
            break;                              /* stopping, and nothing left */
        struct posix_os_work *item = w->head;
        w->head = item->next;
        if (!w->head)
            w->tail = NULL;
        w->busy = true;
        pthread_mutex_unlock(&w->lock);
        item->fn(item->arg);
        free(item);
        pthread_mutex_lock(&w->lock);
        w->busy = false;
        if (!w->head)
            pthread_cond_broadcast(&w->idle_cond);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int posix_os_worker_start(struct posix_os_worker *w)
{
    w->head = w->tail = NULL;
    w->stopping = w->busy = false;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->work_cond, NULL);
    pthread_cond_init(&w->idle_cond, NULL);
    if (pthread_create(&w->thread, NULL, posix_os_worker_main, w) != 0) {
        pthread_cond_destroy(&w->idle_cond);
        pthread_cond_destroy(&w->work_cond);
        pthread_mutex_destroy(&w->lock);
        return GP_ENOMEM;
    }
    w->started = true;
    return 0;
}

void posix_os_worker_stop(struct posix_os_worker *w)
{
    if (!w->started)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->work_cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->idle_cond);
    pthread_cond_destroy(&w->work_cond);
    pthread_mutex_destroy(&w->lock);
    w->started = false;
}

int posix_os_worker_defer(struct posix_os_worker *w, gp_work_fn fn, void *arg)
{
    struct posix_os_work *item = malloc(sizeof(*item));
    if (!item)
        return GP_ENOMEM;
    item->next = NULL;
    item->fn = fn;
    item->arg = arg;
    pthread_mutex_lock(&w->lock);
    if (w->tail)
        w->tail->next = item;
    else
        w->head = item;
    w->tail = item;
    pthread_cond_signal(&w->work_cond);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

void posix_os_worker_drain(struct posix_os_worker *w)
{
    pthread_mutex_lock(&w->lock);
    while (w->head || w->busy)
        pthread_cond_wait(&w->idle_cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
}
