/* sim_os: pthread-based OS services for simulated domains (the common
 * POSIX part in posix/posix_os.c; the page pool and logging here). */
#include "os/sim_os.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "posix_os.h"

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

    struct posix_os_worker worker;    /* defer() */

    atomic_bool no_pages;         /* page_alloc fails (a resume from hibernation) */
    atomic_uint refused;          /* page allocations refused meanwhile */
};

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

static int sim_os_defer(void *ctx, gp_work_fn fn, void *arg)
{
    struct sim_os *os = ctx;
    return posix_os_worker_defer(&os->worker, fn, arg);
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
    if (posix_os_worker_start(&os->worker) != 0) {
        pthread_mutex_destroy(&os->pool_lock);
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
    posix_os_worker_drain(&os->worker);
}

void sim_os_destroy(struct sim_os *os)
{
    if (!os)
        return;
    posix_os_worker_stop(&os->worker);
    if (os->pool)
        munmap(os->pool, (size_t)os->pages * GP_PAGE_SIZE);
    free(os->used);
    pthread_mutex_destroy(&os->pool_lock);
    free(os);
}

void sim_os_fill(struct sim_os *os, struct gp_platform *p)
{
    struct gp_os *o = &os->services;
    posix_os_fill(o, os, "sim", sim_os_log, sim_os_defer);
    o->page_alloc = sim_os_page_alloc;
    o->page_free = sim_os_page_free;
    o->va_to_gfn = sim_os_va_to_gfn_cb;
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
