/*
 * lxp_gnt: pages and grants through /dev/xen/gntalloc (see lxp.h for why
 * page_alloc's pages are gntalloc's and what grant_access / grant_end do
 * with them).  Each chunk is one gntalloc allocation of chunk_pages pages
 * over a reserved, contiguous address range, every page mapped by its
 * own mmap so that one page can get a fresh backing (MAP_FIXED over its
 * address) without disturbing its neighbours: gntalloc frees a page, and
 * ends its grant, once it is deallocated and no mapping of it is left.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xen/sys/gntalloc.h>

#include "lxp_internal.h"

#define LXP_GNT_DEVICE "/dev/xen/gntalloc"

/* Ask gntalloc for count pages granted to domid; *index is their mmap
 * offset, refs[] their grants. */
static int lxp_gnt_alloc_grefs(struct lxp *x, gp_domid_t domid, bool writable, uint32_t count,
                               uint64_t *index, gp_grant_ref_t *refs)
{
    size_t size = sizeof(struct ioctl_gntalloc_alloc_gref) + (size_t)count * sizeof(uint32_t);
    struct ioctl_gntalloc_alloc_gref *op = calloc(1, size);
    if (!op)
        return GP_ENOMEM;
    op->domid = domid;
    op->flags = writable ? GNTALLOC_FLAG_WRITABLE : 0;
    op->count = count;
    if (ioctl(x->gnt.fd, IOCTL_GNTALLOC_ALLOC_GREF, op) != 0) {
        int e = errno;
        free(op);
        lxp_logf(x, GP_LOG_ERROR, "gntalloc: allocating %u page(s) for domain %u: %s%s", count,
                 domid, strerror(e),
                 e == ENOSPC ? " (the module's limit: /sys/module/xen_gntalloc/parameters/limit)"
                             : "");
        return e == ENOSPC || e == ENOMEM ? GP_ENOMEM : GP_EIO;
    }
    *index = op->index;
    for (uint32_t i = 0; i < count; i++)
        refs[i] = op->gref_ids[i];
    free(op);
    return 0;
}

static void lxp_gnt_dealloc(struct lxp *x, uint64_t index)
{
    struct ioctl_gntalloc_dealloc_gref op = { .index = index, .count = 1 };
    if (ioctl(x->gnt.fd, IOCTL_GNTALLOC_DEALLOC_GREF, &op) != 0)
        lxp_logf(x, GP_LOG_ERROR, "gntalloc: releasing the page at offset %llu: %s",
                 (unsigned long long)index, strerror(errno));
}

static int lxp_gnt_set_ref(struct lxp *x, gp_grant_ref_t ref, struct lxp_page *pg)
{
    struct lxp_gnt *g = &x->gnt;
    if (ref >= g->by_ref_len) {
        size_t n = g->by_ref_len ? g->by_ref_len : 1024;
        while (n <= ref)
            n *= 2;
        struct lxp_page **t = realloc(g->by_ref, n * sizeof(*t));
        if (!t)
            return GP_ENOMEM;
        memset(t + g->by_ref_len, 0, (n - g->by_ref_len) * sizeof(*t));
        g->by_ref = t;
        g->by_ref_len = n;
    }
    g->by_ref[ref] = pg;
    return 0;
}

/* A new chunk: one gntalloc allocation, each page mapped by itself at its
 * place in a reserved range.  Lock held. */
static int lxp_gnt_new_chunk(struct lxp *x)
{
    struct lxp_gnt *g = &x->gnt;
    unsigned n = g->chunk_pages;
    if (g->nchunks == g->cap_chunks) {
        unsigned cap = g->cap_chunks ? g->cap_chunks * 2 : 16;
        struct lxp_chunk *t = realloc(g->chunks, cap * sizeof(*t));
        if (!t)
            return GP_ENOMEM;
        g->chunks = t;
        g->cap_chunks = cap;
    }
    struct lxp_chunk *c = &g->chunks[g->nchunks];
    c->pages = calloc(n, sizeof(*c->pages));
    gp_grant_ref_t *refs = calloc(n, sizeof(*refs));
    if (!c->pages || !refs) {
        free(c->pages);
        free(refs);
        return GP_ENOMEM;
    }
    uint64_t index = 0;
    int err = lxp_gnt_alloc_grefs(x, g->peer, true, n, &index, refs);
    if (err) {
        free(c->pages);
        free(refs);
        return err;
    }
    c->base = mmap(NULL, (size_t)n * GP_PAGE_SIZE, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (c->base == MAP_FAILED) {
        for (unsigned i = 0; i < n; i++)
            lxp_gnt_dealloc(x, index + (uint64_t)i * GP_PAGE_SIZE);
        free(c->pages);
        free(refs);
        return GP_ENOMEM;
    }
    for (unsigned i = 0; i < n; i++) {
        struct lxp_page *pg = &c->pages[i];
        pg->va = c->base + (size_t)i * GP_PAGE_SIZE;
        pg->index = index + (uint64_t)i * GP_PAGE_SIZE;
        pg->ref = refs[i];
        pg->domid = g->peer;
        pg->writable = true;
        void *va = mmap(pg->va, GP_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
                        g->fd, (off_t)pg->index);
        if (va == MAP_FAILED || lxp_gnt_set_ref(x, pg->ref, pg) != 0) {
            lxp_logf(x, GP_LOG_ERROR, "gntalloc: mapping page %u of a new chunk: %s", i,
                     strerror(errno));
            /* Pages mapped so far go with the range; every one is released. */
            munmap(c->base, (size_t)n * GP_PAGE_SIZE);
            for (unsigned k = 0; k < n; k++) {
                lxp_gnt_dealloc(x, index + (uint64_t)k * GP_PAGE_SIZE);
                struct lxp_page *q = &c->pages[k];
                if (q->va && q->ref < g->by_ref_len && g->by_ref[q->ref] == q)
                    g->by_ref[q->ref] = NULL;
            }
            free(c->pages);
            free(refs);
            return GP_ENOMEM;
        }
    }
    free(refs);
    c->npages = n;
    g->nchunks++;
    g->pages += n;
    return 0;
}

static struct lxp_page *lxp_gnt_find(struct lxp *x, const void *va)
{
    struct lxp_gnt *g = &x->gnt;
    const char *a = va;
    for (unsigned i = 0; i < g->nchunks; i++) {
        struct lxp_chunk *c = &g->chunks[i];
        if (a >= c->base && a < c->base + (size_t)c->npages * GP_PAGE_SIZE)
            return &c->pages[(size_t)(a - c->base) / GP_PAGE_SIZE];
    }
    return NULL;
}

/* Give pg a fresh gntalloc page granted to domid in the mode asked for,
 * holding the same bytes at the same address; the old page is released
 * (its grant ends once the other side no longer maps it).  Lock held. */
static int lxp_gnt_reback(struct lxp *x, struct lxp_page *pg, gp_domid_t domid, bool writable)
{
    struct lxp_gnt *g = &x->gnt;
    uint64_t index;
    gp_grant_ref_t ref;
    int err = lxp_gnt_alloc_grefs(x, domid, writable, 1, &index, &ref);
    if (err)
        return err;
    void *tmp = mmap(NULL, GP_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd, (off_t)index);
    if (tmp == MAP_FAILED) {
        lxp_logf(x, GP_LOG_ERROR, "gntalloc: mapping a fresh page: %s", strerror(errno));
        lxp_gnt_dealloc(x, index);
        return GP_ENOMEM;
    }
    memcpy(tmp, pg->va, GP_PAGE_SIZE);
    if (lxp_gnt_set_ref(x, ref, pg) != 0 ||
        mmap(pg->va, GP_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, g->fd,
             (off_t)index) == MAP_FAILED) {
        lxp_logf(x, GP_LOG_ERROR, "gntalloc: mapping a fresh page in place: %s", strerror(errno));
        munmap(tmp, GP_PAGE_SIZE);
        lxp_gnt_dealloc(x, index);
        if (ref < g->by_ref_len && g->by_ref[ref] == pg)
            g->by_ref[ref] = NULL;
        return GP_ENOMEM;
    }
    munmap(tmp, GP_PAGE_SIZE);
    lxp_gnt_dealloc(x, pg->index);        /* its only mapping was replaced: freed */
    if (pg->ref < g->by_ref_len && g->by_ref[pg->ref] == pg)
        g->by_ref[pg->ref] = NULL;
    pg->index = index;
    pg->ref = ref;
    pg->domid = domid;
    pg->writable = writable;
    g->rebacks++;
    return 0;
}

static void *lxp_gnt_page_alloc(void *ctx, uint64_t *gfn)
{
    struct lxp *x = ctx;
    struct lxp_gnt *g = &x->gnt;
    if (g->fd < 0)
        return NULL;
    pthread_mutex_lock(&g->lock);
    struct lxp_page *pg = NULL;
    for (;;) {
        for (unsigned ci = g->hint_chunk; ci < g->nchunks && !pg; ci++) {
            struct lxp_chunk *c = &g->chunks[ci];
            for (unsigned i = 0; i < c->npages; i++)
                if (!c->pages[i].used) {
                    pg = &c->pages[i];
                    g->hint_chunk = ci;
                    break;
                }
        }
        if (pg || lxp_gnt_new_chunk(x) != 0)
            break;
    }
    if (pg) {
        pg->used = true;
        pg->granted = false;
        g->in_use++;
        memset(pg->va, 0, GP_PAGE_SIZE);
        if (gfn)
            *gfn = (uint64_t)(uintptr_t)pg->va >> GP_PAGE_SHIFT;
    }
    pthread_mutex_unlock(&g->lock);
    return pg ? pg->va : NULL;
}

static void lxp_gnt_page_free(void *ctx, void *va)
{
    struct lxp *x = ctx;
    struct lxp_gnt *g = &x->gnt;
    if (!va)
        return;
    pthread_mutex_lock(&g->lock);
    struct lxp_page *pg = lxp_gnt_find(x, va);
    if (!pg || pg->va != va || !pg->used) {
        pthread_mutex_unlock(&g->lock);
        lxp_logf(x, GP_LOG_ERROR, "page_free of %p: not a page page_alloc gave out", va);
        return;
    }
    if (pg->granted) {
        /* Freed while granted: the grant is ended here (a fresh backing). */
        lxp_logf(x, GP_LOG_WARN, "page_free of a page still granted (ref %u): revoking", pg->ref);
        lxp_gnt_reback(x, pg, pg->domid, pg->writable);
        pg->granted = false;
    }
    pg->used = false;
    g->in_use--;
    for (unsigned ci = 0; ci < g->nchunks; ci++)
        if ((char *)va >= g->chunks[ci].base &&
            (char *)va < g->chunks[ci].base + (size_t)g->chunks[ci].npages * GP_PAGE_SIZE) {
            if (ci < g->hint_chunk)
                g->hint_chunk = ci;
            break;
        }
    pthread_mutex_unlock(&g->lock);
}

static bool lxp_gnt_va_to_gfn(void *ctx, const void *va, uint64_t *gfn)
{
    struct lxp *x = ctx;
    pthread_mutex_lock(&x->gnt.lock);
    struct lxp_page *pg = lxp_gnt_find(x, va);
    pthread_mutex_unlock(&x->gnt.lock);
    if (!pg)
        return false;
    *gfn = (uint64_t)(uintptr_t)pg->va >> GP_PAGE_SHIFT;
    return true;
}

static int lxp_gnt_grant_access(void *ctx, gp_domid_t domid, uint64_t gfn, bool readonly,
                                gp_grant_ref_t *ref)
{
    struct lxp *x = ctx;
    struct lxp_gnt *g = &x->gnt;
    if (gfn > UINTPTR_MAX >> GP_PAGE_SHIFT)
        return GP_EINVAL;
    void *va = (void *)(uintptr_t)(gfn << GP_PAGE_SHIFT);
    pthread_mutex_lock(&g->lock);
    struct lxp_page *pg = lxp_gnt_find(x, va);
    if (!pg || !pg->used) {
        pthread_mutex_unlock(&g->lock);
        lxp_logf(x, GP_LOG_ERROR, "grant_access: frame %llu is not a page from page_alloc "
                 "(gntalloc can grant only its own pages)", (unsigned long long)gfn);
        return GP_EINVAL;
    }
    int err = 0;
    if (pg->domid != domid || pg->writable == readonly) {
        if (pg->granted)
            lxp_logf(x, GP_LOG_WARN, "grant_access: page already granted (ref %u) to domain %u "
                     "%s: that grant ends", pg->ref, pg->domid, pg->writable ? "rw" : "ro");
        err = lxp_gnt_reback(x, pg, domid, !readonly);
    }
    if (!err) {
        pg->granted = true;
        *ref = pg->ref;
        g->grants++;
    }
    pthread_mutex_unlock(&g->lock);
    return err;
}

static int lxp_gnt_grant_end(void *ctx, gp_grant_ref_t ref)
{
    struct lxp *x = ctx;
    struct lxp_gnt *g = &x->gnt;
    pthread_mutex_lock(&g->lock);
    struct lxp_page *pg = ref < g->by_ref_len ? g->by_ref[ref] : NULL;
    if (!pg || !pg->granted) {
        pthread_mutex_unlock(&g->lock);
        lxp_logf(x, GP_LOG_ERROR, "grant_end: ref %u is not a grant we made", ref);
        return GP_EINVAL;
    }
    /* Revoke: a fresh backing with the same bytes; the old grant ends
     * when the backend lets go of it (gntalloc defers that free). */
    int err = lxp_gnt_reback(x, pg, pg->domid, pg->writable);
    if (!err) {
        pg->granted = false;
        g->ends++;
    }
    pthread_mutex_unlock(&g->lock);
    return err ? GP_EBUSY : 0;
}

void lxp_set_peer(struct gp_platform *p, gp_domid_t peer)
{
    struct lxp *x = lxp_of(p);
    pthread_mutex_lock(&x->gnt.lock);
    x->gnt.peer = peer;
    pthread_mutex_unlock(&x->gnt.lock);
}

int lxp_gnt_open(struct lxp *x)
{
    struct lxp_gnt *g = &x->gnt;
    pthread_mutex_init(&g->lock, NULL);
    g->fd = open(LXP_GNT_DEVICE, O_RDWR | O_CLOEXEC);
    if (g->fd < 0) {
        lxp_logf(x, GP_LOG_ERROR, "%s: %s (is xen-gntalloc loaded?)", LXP_GNT_DEVICE,
                 strerror(errno));
        return GP_ENODEV;
    }
    return 0;
}

void lxp_gnt_close(struct lxp *x)
{
    struct lxp_gnt *g = &x->gnt;
    for (unsigned ci = 0; ci < g->nchunks; ci++) {
        struct lxp_chunk *c = &g->chunks[ci];
        munmap(c->base, (size_t)c->npages * GP_PAGE_SIZE);
        for (unsigned i = 0; i < c->npages; i++)
            lxp_gnt_dealloc(x, c->pages[i].index);
        free(c->pages);
    }
    free(g->chunks);
    free(g->by_ref);
    g->chunks = NULL;
    g->by_ref = NULL;
    g->nchunks = g->cap_chunks = 0;
    if (g->fd >= 0)
        close(g->fd);
    g->fd = -1;
    pthread_mutex_destroy(&g->lock);
}

void lxp_gnt_fill(struct lxp *x)
{
    x->os.page_alloc = lxp_gnt_page_alloc;     /* gntalloc pages: see lxp.h */
    x->os.page_free = lxp_gnt_page_free;
    x->os.va_to_gfn = lxp_gnt_va_to_gfn;
    x->xen.grant_access = lxp_gnt_grant_access;
    x->xen.grant_end = lxp_gnt_grant_end;
}
