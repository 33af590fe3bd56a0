/* sim_os: pthread-based OS services for simulated domains. */
#include "os/sim_os.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

struct gp_lock {
    pthread_mutex_t m;
};

struct gp_event {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool signalled;
};

struct sim_os_work {
    struct sim_os_work *next;
    gp_work_fn fn;
    void *arg;
};

struct sim_os {
    struct gp_os services;        /* what sim_os_fill hands out */
    char name[32];
    bool quiet;
    atomic_uint errors, warnings;

    /* page pool */
    unsigned char *pool;
    unsigned pages;
    uint64_t base_gfn;
    unsigned char *used;          /* one byte per page */
    unsigned in_use;
    unsigned first_free;          /* no free page below it: first fit without the scan */
    pthread_mutex_t pool_lock;

    /* defer() worker */
    pthread_t worker;
    pthread_mutex_t work_lock;
    pthread_cond_t work_cond;
    pthread_cond_t idle_cond;
    struct sim_os_work *head, *tail;
    bool stopping, busy;

    atomic_bool no_pages;         /* page_alloc fails (a resume from hibernation) */
    atomic_uint refused;          /* page allocations refused meanwhile */
};

static void *sim_os_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return calloc(1, size ? size : 1);
}

static void sim_os_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static void *sim_os_page_alloc(void *ctx, uint64_t *gfn)
{
    struct sim_os *os = ctx;
    void *va = NULL;
    if (atomic_load(&os->no_pages)) {
        atomic_fetch_add(&os->refused, 1);
        return NULL;
    }

    pthread_mutex_lock(&os->pool_lock);
    for (unsigned i = os->first_free; i < os->pages; i++) {
        if (!os->used[i]) {
            os->first_free = i + 1;
            os->used[i] = 1;
            os->in_use++;
            va = os->pool + (size_t)i * GP_PAGE_SIZE;
            memset(va, 0, GP_PAGE_SIZE);
            if (gfn)
                *gfn = os->base_gfn + i;
            break;
        }
    }
    pthread_mutex_unlock(&os->pool_lock);
    return va;
}

static void sim_os_page_free(void *ctx, void *va)
{
    struct sim_os *os = ctx;
    uint64_t gfn;

    if (!va)
        return;
    if (!sim_os_va_to_gfn(os, va, &gfn) || ((uintptr_t)va & (GP_PAGE_SIZE - 1))) {
        fprintf(stderr, "[%s] page_free of %p outside the page pool\n", os->name, va);
        abort();
    }
    pthread_mutex_lock(&os->pool_lock);
    unsigned i = (unsigned)(gfn - os->base_gfn);
    if (!os->used[i]) {
        fprintf(stderr, "[%s] double page_free of gfn %llu\n", os->name, (unsigned long long)gfn);
        abort();
    }
    os->used[i] = 0;
    os->in_use--;
    if (i < os->first_free)
        os->first_free = i;
    pthread_mutex_unlock(&os->pool_lock);
}

static bool sim_os_va_to_gfn_cb(void *ctx, const void *va, uint64_t *gfn)
{
    return sim_os_va_to_gfn(ctx, va, gfn);
}

static struct gp_lock *sim_os_lock_create(void *ctx)
{
    (void)ctx;
    struct gp_lock *l = calloc(1, sizeof(*l));
    if (l)
        pthread_mutex_init(&l->m, NULL);
    return l;
}

static void sim_os_lock_destroy(void *ctx, struct gp_lock *l)
{
    (void)ctx;
    if (l) {
        pthread_mutex_destroy(&l->m);
        free(l);
    }
}

static void sim_os_lock_acquire(void *ctx, struct gp_lock *l)
{
    (void)ctx;
    pthread_mutex_lock(&l->m);
}

static void sim_os_lock_release(void *ctx, struct gp_lock *l)
{
    (void)ctx;
    pthread_mutex_unlock(&l->m);
}

static struct gp_event *sim_os_event_create(void *ctx)
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

static void sim_os_event_destroy(void *ctx, struct gp_event *e)
{
    (void)ctx;
    if (e) {
        pthread_cond_destroy(&e->c);
        pthread_mutex_destroy(&e->m);
        free(e);
    }
}

static void sim_os_event_signal(void *ctx, struct gp_event *e)
{
    (void)ctx;
    pthread_mutex_lock(&e->m);
    e->signalled = true;
    pthread_cond_broadcast(&e->c);
    pthread_mutex_unlock(&e->m);
}

static int sim_os_event_wait(void *ctx, struct gp_event *e, uint64_t timeout_ns)
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
        } else if (pthread_cond_timedwait(&e->c, &e->m, &dl) != 0) {
            rc = e->signalled ? 0 : GP_ETIMEDOUT;
            break;
        }
    }
    e->signalled = false;
    pthread_mutex_unlock(&e->m);
    return rc;
}

static uint64_t sim_os_now_ns(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sim_os_log(void *ctx, enum gp_log_level lvl, const char *msg)
{
    static const char *const names[] = { "ERROR", "WARN", "INFO", "DEBUG" };
    struct sim_os *os = ctx;

    if (lvl == GP_LOG_ERROR)
        atomic_fetch_add(&os->errors, 1);
    if (lvl == GP_LOG_WARN)
        atomic_fetch_add(&os->warnings, 1);
    if (os->quiet && lvl > GP_LOG_WARN)
        return;
    if (lvl == GP_LOG_DEBUG && !getenv("GP_DEBUG"))
        return;
    fprintf(stderr, "[%s] %s: %s\n", os->name, names[lvl <= GP_LOG_DEBUG ? lvl : GP_LOG_DEBUG], msg);
}

static void *sim_os_worker(void *arg)
{
    struct sim_os *os = arg;

    pthread_mutex_lock(&os->work_lock);
    for (;;) {
        while (!os->head && !os->stopping)
            pthread_cond_wait(&os->work_cond, &os->work_lock);
        if (!os->head && os->stopping)
            break;
        struct sim_os_work *w = os->head;
        os->head = w->next;
        if (!os->head)
            os->tail = NULL;
        os->busy = true;
        pthread_mutex_unlock(&os->work_lock);
        w->fn(w->arg);
        free(w);
        pthread_mutex_lock(&os->work_lock);
        os->busy = false;
        if (!os->head)
            pthread_cond_broadcast(&os->idle_cond);
    }
    pthread_mutex_unlock(&os->work_lock);
    return NULL;
}

static int sim_os_defer(void *ctx, gp_work_fn fn, void *arg)
{
    struct sim_os *os = ctx;
    struct sim_os_work *w = malloc(sizeof(*w));

    if (!w)
        return GP_ENOMEM;
    w->next = NULL;
    w->fn = fn;
    w->arg = arg;
    pthread_mutex_lock(&os->work_lock);
    if (os->tail)
        os->tail->next = w;
    else
        os->head = w;
    os->tail = w;
    pthread_cond_signal(&os->work_cond);
    pthread_mutex_unlock(&os->work_lock);
    return 0;
}

struct sim_os *sim_os_create(const char *name, unsigned pages, uint64_t base_gfn, bool quiet)
{
    struct sim_os *os = calloc(1, sizeof(*os));
    if (!os)
        return NULL;
    snprintf(os->name, sizeof(os->name), "%s", name ? name : "sim");
    os->quiet = quiet;
    os->pages = pages;
    os->base_gfn = base_gfn;
    if (pages) {
        os->pool = mmap(NULL, (size_t)pages * GP_PAGE_SIZE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        os->used = calloc(pages, 1);
        if (os->pool == MAP_FAILED || !os->used) {
            if (os->pool != MAP_FAILED)
                munmap(os->pool, (size_t)pages * GP_PAGE_SIZE);
            free(os->used);
            free(os);
            return NULL;
        }
    }
    pthread_mutex_init(&os->pool_lock, NULL);
    pthread_mutex_init(&os->work_lock, NULL);
    pthread_cond_init(&os->work_cond, NULL);
    pthread_cond_init(&os->idle_cond, NULL);
    if (pthread_create(&os->worker, NULL, sim_os_worker, os) != 0) {
        if (os->pool)
            munmap(os->pool, (size_t)pages * GP_PAGE_SIZE);
        free(os->used);
        free(os);
        return NULL;
    }
    return os;
}

void sim_os_drain(struct sim_os *os)
{
    pthread_mutex_lock(&os->work_lock);
    while (os->head || os->busy)
        pthread_cond_wait(&os->idle_cond, &os->work_lock);
    pthread_mutex_unlock(&os->work_lock);
}

void sim_os_destroy(struct sim_os *os)
{
    if (!os)
        return;
    pthread_mutex_lock(&os->work_lock);
    os->stopping = true;
    pthread_cond_signal(&os->work_cond);
    pthread_mutex_unlock(&os->work_lock);
    pthread_join(os->worker, NULL);
    if (os->pool)
        munmap(os->pool, (size_t)os->pages * GP_PAGE_SIZE);
    free(os->used);
    pthread_mutex_destroy(&os->pool_lock);
    pthread_mutex_destroy(&os->work_lock);
    pthread_cond_destroy(&os->work_cond);
    pthread_cond_destroy(&os->idle_cond);
    free(os);
}

void sim_os_fill(struct sim_os *os, struct gp_platform *p)
{
    struct gp_os *o = &os->services;
    o->ctx = os;
    o->name = "sim";
    o->alloc = sim_os_alloc;
    o->free = sim_os_free;
    o->page_alloc = sim_os_page_alloc;
    o->page_free = sim_os_page_free;
    o->va_to_gfn = sim_os_va_to_gfn_cb;
    o->lock_create = sim_os_lock_create;
    o->lock_destroy = sim_os_lock_destroy;
    o->lock_acquire = sim_os_lock_acquire;
    o->lock_release = sim_os_lock_release;
    o->event_create = sim_os_event_create;
    o->event_destroy = sim_os_event_destroy;
    o->event_signal = sim_os_event_signal;
    o->event_wait = sim_os_event_wait;
    o->now_ns = sim_os_now_ns;
    o->log = sim_os_log;
    o->defer = sim_os_defer;
    p->os = o;
}

void *sim_os_gfn_to_va(struct sim_os *os, uint64_t gfn)
{
    if (gfn < os->base_gfn || gfn >= os->base_gfn + os->pages)
        return NULL;
    return os->pool + (size_t)(gfn - os->base_gfn) * GP_PAGE_SIZE;
}

bool sim_os_va_to_gfn(struct sim_os *os, const void *va, uint64_t *gfn)
{
    const unsigned char *a = va;
    if (!os->pool || a < os->pool || a >= os->pool + (size_t)os->pages * GP_PAGE_SIZE)
        return false;
    *gfn = os->base_gfn + (uint64_t)(a - os->pool) / GP_PAGE_SIZE;
    return true;
}

unsigned sim_os_pages_in_use(struct sim_os *os)
{
    pthread_mutex_lock(&os->pool_lock);
    unsigned n = os->in_use;
    pthread_mutex_unlock(&os->pool_lock);
    return n;
}

unsigned sim_os_error_count(struct sim_os *os)
{
    return atomic_load(&os->errors);
}

unsigned sim_os_warn_count(struct sim_os *os)
{
    return atomic_load(&os->warnings);
}

void sim_os_set_quiet(struct sim_os *os, bool quiet)
{
    os->quiet = quiet;
}

unsigned sim_os_set_no_pages(struct sim_os *os, bool on)
{
    atomic_store(&os->no_pages, on);
    return atomic_exchange(&os->refused, 0);
}
