/* balloon: follow memory/target (see balloon.h). */
#include <string.h>

#include "gplpv/balloon.h"
#include "gplpv/hypercall.h"
#include "gplpv/log.h"

#include <xen/hvm/hvm_op.h>
#include <xen/memory.h>

struct balloon_page {
    void *va;
    uint64_t gfn;
};

struct balloon {
    const struct gp_platform *plat;
    struct xs_client *xs;
    struct balloon_page_source src;
    struct gp_lock *lock;
    struct xs_watch *watch;
    uint64_t total_pages;
    uint64_t target_pages;                  /* last target acted on */
    bool have_target;
    struct balloon_page *pages;             /* given to Xen */
    uint64_t npages, cap;
    struct balloon_stats st;
    /* Work requested, under 'lock'; one caller at a time does it (busy). */
    bool busy;
    bool want_recheck;                      /* a suspend happened since the last look */
    bool want_report;                       /* a new domain's xenstore */
    uint64_t pending_events;                /* memory/target events not yet handled */
};

static int balloon_grow_list(struct balloon *b, uint64_t need)
{
    if (need <= b->cap)
        return 0;
    uint64_t cap = b->cap ? b->cap * 2 : 1024;
    while (cap < need)
        cap *= 2;
    struct balloon_page *n = gp_zalloc(b->plat, cap * sizeof(*n));
    if (!n)
        return GP_ENOMEM;
    if (b->npages)
        memcpy(n, b->pages, b->npages * sizeof(*n));
    gp_free(b->plat, b->pages);
    b->pages = n;
    b->cap = cap;
    return 0;
}

static long balloon_reservation(struct balloon *b, int cmd, xen_pfn_t *gfns, unsigned n)
{
    struct xen_memory_reservation r;
    memset(&r, 0, sizeof(r));
    set_xen_guest_handle(r.extent_start, gfns);
    r.nr_extents = n;
    r.extent_order = 0;
    r.domid = DOMID_SELF;
    return gp_memory_op(b->plat, cmd, &r);
}

/* Give up to 'want' more pages to Xen; returns how many went. */
static uint64_t balloon_inflate(struct balloon *b, uint64_t want)
{
    const struct gp_platform *p = b->plat;
    xen_pfn_t gfns[BALLOON_STEP_PAGES];
    struct balloon_page step[BALLOON_STEP_PAGES];
    uint64_t done = 0;
    while (done < want) {
        unsigned n = 0, chunk = want - done > BALLOON_STEP_PAGES ? BALLOON_STEP_PAGES
                                                                 : (unsigned)(want - done);
        if (balloon_grow_list(b, b->npages + chunk))
            break;
        while (n < chunk) {
            step[n].va = b->src.take(b->src.arg, &step[n].gfn);
            if (!step[n].va)
                break;
            gfns[n] = (xen_pfn_t)step[n].gfn;
            n++;
        }
        long rc = n ? balloon_reservation(b, XENMEM_decrease_reservation, gfns, n) : 0;
        unsigned ok = rc > 0 ? (unsigned)rc : 0;
        if (ok > n)
            ok = n;                          /* never trust a count beyond what we asked */
        for (unsigned i = 0; i < ok; i++)
            b->pages[b->npages++] = step[i];
        for (unsigned i = ok; i < n; i++)
            b->src.give(b->src.arg, step[i].va);   /* Xen did not take these */
        b->st.steps++;
        done += ok;
        if (ok < chunk) {
            if (n < chunk) {
                b->st.pressure_stops++;
                GP_WARN(p, "balloon: the OS could spare only %u of %u pages", n, chunk);
            }
            if (ok < n) {
                b->st.partial_steps++;
                GP_WARN(p, "balloon: Xen took %u of %u pages (rc %ld)", ok, n, rc);
            }
            break;
        }
    }
    return done;
}

/* Take up to 'want' pages back from Xen; returns how many came. */
static uint64_t balloon_deflate(struct balloon *b, uint64_t want)
{
    xen_pfn_t gfns[BALLOON_STEP_PAGES];
    uint64_t done = 0;
    while (done < want && b->npages) {
        unsigned n = want - done > BALLOON_STEP_PAGES ? BALLOON_STEP_PAGES : (unsigned)(want - done);
        if (n > b->npages)
            n = (unsigned)b->npages;
        struct balloon_page *tail = &b->pages[b->npages - n];
        for (unsigned i = 0; i < n; i++)
            gfns[i] = (xen_pfn_t)tail[i].gfn;
        long rc = balloon_reservation(b, XENMEM_populate_physmap, gfns, n);
        unsigned ok = rc > 0 ? (unsigned)rc : 0;
        if (ok > n)
            ok = n;
        /* The first 'ok' extents were populated: hand those to the OS. */
        for (unsigned i = 0; i < ok; i++)
            b->src.give(b->src.arg, tail[i].va);
        memmove(tail, tail + ok, (n - ok) * sizeof(*tail));
        b->npages -= ok;
        b->st.steps++;
        done += ok;
        if (ok < n) {
            b->st.partial_steps++;
            GP_WARN(b->plat, "balloon: Xen populated %u of %u pages (rc %ld)", ok, n, rc);
            break;
        }
    }
    return done;
}

static void balloon_report(struct balloon *b)
{
    b->st.ballooned_kib = b->npages * 4;
    xs_printf(b->xs, XS_TXN_NONE, "data/gplpv-balloon-kib", "%llu",
              (unsigned long long)b->st.ballooned_kib);
}

static void balloon_target_apply(struct balloon *b)
{
    const struct gp_platform *p = b->plat;
    uint64_t kib = 0;
    if (xs_read_u64(b->xs, XS_TXN_NONE, "memory/target", &kib) != 0) {
        b->st.ignored_events++;
        return;                               /* missing or garbage: nothing to do */
    }
    uint64_t target = kib / 4;
    uint64_t want = target >= b->total_pages ? 0 : b->total_pages - target;
    gp_os_lock_acquire(p, b->lock);
    bool same = b->have_target && target == b->target_pages && b->npages == want;
    gp_os_lock_release(p, b->lock);
    if (same) {
        b->st.ignored_events++;
        return;                               /* an event with nothing new */
    }
    b->have_target = true;
    b->target_pages = target;
    b->st.target_kib = kib;
    if (want > b->npages)
        balloon_inflate(b, want - b->npages);
    else if (want < b->npages)
        balloon_deflate(b, b->npages - want);
    GP_INFO(p, "balloon: target %llu KiB, %llu KiB given back to Xen", (unsigned long long)kib,
            (unsigned long long)b->npages * 4);
    balloon_report(b);
}

/* Does Xen back this gfn with RAM?  1 yes (populate-on-demand counts:
 * the guest cannot tell it from RAM), 0 no (the device model's: nothing
 * there), or Xen's error.  HVMOP_get_mem_type on DOMID_SELF, as Linux's
 * kdump asks which of the crashed kernel's pages were ballooned. */
static long balloon_gfn_backed(struct balloon *b, uint64_t gfn)
{
    struct xen_hvm_get_mem_type a;
    memset(&a, 0, sizeof(a));
    a.domid = DOMID_SELF;
    a.pfn = gfn;
    long rc = gp_hvm_op(b->plat, HVMOP_get_mem_type, &a);
    if (rc)
        return rc < 0 ? rc : -1;
    return a.mem_type == HVMMEM_ram_rw;
}

/* After a suspend: which pages given to Xen have RAM behind them now?
 * A restore or a migration brings the domain's own memory back - the
 * ballooned gfns still empty, nothing to do.  A resume from hibernation
 * runs the image in a new domain the toolstack built with RAM at every gfn
 * up to its maximum (populate-on-demand beyond memory=): the balloon's
 * pages are backed again.  Of those, as many as the new domain's target
 * wants out go back to Xen at once (the OS never touched them: no
 * populate-on-demand page is spent), the rest are the OS's again; the
 * count is what Xen now has out and the next memory/target event is acted
 * on whatever it says.  A gfn Xen cannot tell us about stays counted as out
 * (handing the OS a gfn with nothing behind it would lose its writes).
 * Takes no page from the OS: it may run as a thaw's first step. */
static void balloon_recheck(struct balloon *b)
{
    const struct gp_platform *p = b->plat;
    uint64_t out = 0, errors = 0;
    long err = 0;
    for (uint64_t i = 0; i < b->npages; i++) {
        long r = balloon_gfn_backed(b, b->pages[i].gfn);
        if (r == 1)
            continue;
        if (r < 0 && !errors++)
            err = r;
        struct balloon_page t = b->pages[out];      /* still out: to the front */
        b->pages[out++] = b->pages[i];
        b->pages[i] = t;
    }
    b->st.rechecks++;
    if (errors)
        GP_WARN(p, "balloon: Xen cannot say what backs %llu ballooned page(s) (rc %ld): "
                   "counted as still given back", (unsigned long long)errors, err);
    uint64_t backed = b->npages - out;
    if (!backed)
        return;
    uint64_t want = b->npages, kib = 0;               /* no target: what was out stays out */
    if (xs_read_u64(b->xs, XS_TXN_NONE, "memory/target", &kib) == 0)
        want = kib / 4 >= b->total_pages ? 0 : b->total_pages - kib / 4;
    uint64_t keep = want > out ? want - out : 0;
    if (keep > backed)
        keep = backed;
    /* pages[out, out + keep) to Xen; what Xen does not take, and every
     * backed page after them, to the OS. */
    xen_pfn_t gfns[BALLOON_STEP_PAGES];
    uint64_t w = out, r = out, end = out + keep;
    while (r < end) {
        unsigned n = end - r > BALLOON_STEP_PAGES ? BALLOON_STEP_PAGES : (unsigned)(end - r);
        for (unsigned i = 0; i < n; i++)
            gfns[i] = (xen_pfn_t)b->pages[r + i].gfn;
        long rc = balloon_reservation(b, XENMEM_decrease_reservation, gfns, n);
        unsigned ok = rc > 0 ? (unsigned)rc : 0;
        if (ok > n)
            ok = n;
        memmove(&b->pages[w], &b->pages[r], ok * sizeof(b->pages[0]));
        w += ok;
        r += ok;
        b->st.steps++;
        if (ok < n) {
            b->st.partial_steps++;
            GP_WARN(p, "balloon: Xen took %u of %u pages (rc %ld)", ok, n, rc);
            break;
        }
    }
    for (uint64_t i = r; i < b->npages; i++)
        b->src.give(b->src.arg, b->pages[i].va);
    GP_INFO(p, "balloon: %llu of %llu pages given to Xen have RAM again (a new domain): "
               "%llu given back, %llu to the OS", (unsigned long long)backed,
            (unsigned long long)b->npages, (unsigned long long)(w - out),
            (unsigned long long)(b->npages - r));
    b->st.backed_again += backed;
    gp_os_lock_acquire(p, b->lock);
    b->npages = w;
    b->have_target = false;                          /* the next event acts */
    gp_os_lock_release(p, b->lock);
}

/* Does the work asked for, in order, until none is left; a caller that
 * finds it under way leaves its request to the one doing it. */
static void balloon_run(struct balloon *b)
{
    const struct gp_platform *p = b->plat;
    gp_os_lock_acquire(p, b->lock);
    if (b->busy) {
        gp_os_lock_release(p, b->lock);
        return;
    }
    b->busy = true;
    for (;;) {
        bool recheck = b->want_recheck, report = b->want_report;
        uint64_t events = b->pending_events;
        if (!recheck && !report && !events)
            break;
        b->want_recheck = b->want_report = false;
        b->pending_events = 0;
        gp_os_lock_release(p, b->lock);
        if (recheck)
            balloon_recheck(b);      /* before any target: what is out must be true first */
        if (events)
            balloon_target_apply(b);
        if (recheck || report)
            balloon_report(b);
        if (events)      /* GNU C: the test's sync point, once the event's work is done */
            __atomic_add_fetch(&b->st.events, events, __ATOMIC_RELEASE);
        gp_os_lock_acquire(p, b->lock);
    }
    b->busy = false;
    gp_os_lock_release(p, b->lock);
}

static void balloon_target_changed(void *arg, const char *path, const char *token)
{
    struct balloon *b = arg;
    (void)path;
    (void)token;
    gp_os_lock_acquire(b->plat, b->lock);
    b->pending_events++;
    gp_os_lock_release(b->plat, b->lock);
    balloon_run(b);
}

int balloon_start(const struct gp_platform *p, struct xs_client *xs,
                  const struct balloon_page_source *src, struct balloon **out)
{
    struct balloon *b = gp_zalloc(p, sizeof(*b));
    if (!b)
        return GP_ENOMEM;
    b->plat = p;
    b->xs = xs;
    b->src = *src;
    b->lock = gp_os_lock_create(p);
    uint64_t kib = 0;
    if (xs_read_u64(xs, XS_TXN_NONE, "memory/static-max", &kib) == 0 && kib)
        b->total_pages = kib / 4;
    else {
        long cur = gp_memory_op(p, XENMEM_current_reservation, &(domid_t){ DOMID_SELF });
        b->total_pages = cur > 0 ? (uint64_t)cur : 0;
    }
    b->st.total_kib = b->total_pages * 4;
    if (!b->lock || !b->total_pages) {
        GP_ERR(p, "balloon: cannot tell the domain's memory size");
        balloon_stop(b);
        return GP_ENODEV;
    }
    xs_write_str(xs, XS_TXN_NONE, "control/feature-balloon", "1");
    int err = xs_watch_add(xs, "memory/target", balloon_target_changed, b, &b->watch);
    if (err) {
        balloon_stop(b);
        return err;
    }
    *out = b;
    return 0;
}

void balloon_suspend(struct balloon *b)
{
    gp_os_lock_acquire(b->plat, b->lock);
    b->want_recheck = true;
    gp_os_lock_release(b->plat, b->lock);
}

void balloon_announce(struct balloon *b)
{
    xs_write_str(b->xs, XS_TXN_NONE, "control/feature-balloon", "1");
    gp_os_lock_acquire(b->plat, b->lock);
    b->want_report = true;
    gp_os_lock_release(b->plat, b->lock);
    balloon_run(b);
}

void balloon_stop(struct balloon *b)
{
    if (!b)
        return;
    if (b->watch)
        xs_watch_remove(b->xs, b->watch);
    if (b->npages)
        balloon_deflate(b, b->npages);
    if (b->npages)
        GP_ERR(b->plat, "balloon: %llu pages could not be taken back from Xen",
               (unsigned long long)b->npages);
    if (b->lock)
        gp_os_lock_destroy(b->plat, b->lock);
    gp_free(b->plat, b->pages);
    gp_free(b->plat, b);
}

void balloon_get_stats(struct balloon *b, struct balloon_stats *s)
{
    *s = b->st;
    s->events = __atomic_load_n(&b->st.events, __ATOMIC_ACQUIRE);
    s->ballooned_kib = b->npages * 4;
}
