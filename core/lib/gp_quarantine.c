/*
 * gp_quarantine: pages whose grant the other end still maps are kept, with
 * their ref, until ending the grant succeeds (see quarantine.h).
 * A singly linked list under a spin lock; nodes come from the platform's
 * [any]-level allocator.  Pages are freed outside the lock.
 */
#include <string.h>

#include "gplpv/errors.h"
#include "gplpv/log.h"
#include "quarantine.h"

struct gp_quarantine_page {
    struct gp_quarantine_page *next;
    void *va;
    gp_grant_ref_t ref;
};

int gp_quarantine_init(struct gp_quarantine *q, const struct gp_platform *p, const char *owner)
{
    memset(q, 0, sizeof(*q));
    q->plat = p;
    gp_snprintf(q->owner, sizeof(q->owner), "%s", owner ? owner : "?");
    q->lock = gp_os_lock_create(p);
    return q->lock ? 0 : GP_ENOMEM;
}

/* Log the 1st, 2nd, 4th, 8th ... page quarantined: a backend that keeps
 * every mapping cannot flood the log. */
static bool gp_quarantine_log_now(uint64_t n)
{
    return (n & (n - 1)) == 0;
}

int gp_quarantine_end(struct gp_quarantine *q, gp_grant_ref_t ref, void *va)
{
    const struct gp_platform *p = q->plat;
    if (gp_xen_grant_end(p, ref) == 0)
        return 0;
    struct gp_quarantine_page *n = gp_zalloc(p, sizeof(*n));
    gp_os_lock_acquire(p, q->lock);
    uint64_t count = ++q->stats.quarantined;
    if (n) {
        n->va = va;
        n->ref = ref;
        n->next = q->head;
        q->head = n;
        q->stats.held++;
    } else {
        q->stats.leaked++;            /* untracked: the page is simply never freed */
    }
    gp_os_lock_release(p, q->lock);
    if (gp_quarantine_log_now(count))
        GP_WARN(p, "%s: the backend still maps a page (ref %u): kept aside until it unmaps it "
                   "(%llu page(s) so far)", q->owner, ref, (unsigned long long)count);
    return GP_EBUSY;
}

/* Free a list taken off the quarantine: pages and nodes (outside the lock). */
static void gp_quarantine_free(const struct gp_platform *p, struct gp_quarantine_page *list)
{
    for (struct gp_quarantine_page *n = list, *next; n; n = next) {
        next = n->next;
        if (n->va)
            gp_os_page_free(p, n->va);
        gp_free(p, n);
    }
}

int gp_quarantine_withdraw(struct gp_quarantine *q, gp_grant_ref_t *ref, void **va)
{
    if (*ref == GP_INVALID_GRANT)
        return 0;
    gp_grant_ref_t r = *ref;
    *ref = GP_INVALID_GRANT;
    if (gp_quarantine_end(q, r, *va) == 0)
        return 0;
    *va = NULL;                       /* the quarantine's now: the slot wants a fresh page */
    return GP_EBUSY;
}

unsigned gp_quarantine_retry(struct gp_quarantine *q)
{
    const struct gp_platform *p = q->plat;
    if (!q->lock)
        return 0;
    gp_os_lock_acquire(p, q->lock);
    struct gp_quarantine_page *list = q->head;
    q->head = NULL;
    gp_os_lock_release(p, q->lock);
    struct gp_quarantine_page *keep = NULL, *freed = NULL;
    unsigned nfreed = 0;
    for (struct gp_quarantine_page *n = list, *next; n; n = next) {
        next = n->next;
        if (gp_xen_grant_end(p, n->ref) == 0) {
            n->next = freed;
            freed = n;
            nfreed++;
        } else {
            n->next = keep;
            keep = n;
        }
    }
    gp_os_lock_acquire(p, q->lock);
    while (keep) {
        struct gp_quarantine_page *n = keep;
        keep = n->next;
        n->next = q->head;
        q->head = n;
    }
    q->stats.held -= nfreed;
    q->stats.released += nfreed;
    unsigned held = q->stats.held;
    gp_os_lock_release(p, q->lock);
    gp_quarantine_free(p, freed);
    return held;
}

unsigned gp_quarantine_settle(struct gp_quarantine *q, unsigned tries, uint64_t wait_ns)
{
    const struct gp_platform *p = q->plat;
    unsigned held = gp_quarantine_retry(q);
    if (!held || !tries)
        return held;
    struct gp_event *e = gp_os_event_create(p);
    for (unsigned i = 0; i < tries && held; i++) {
        if (e)
            gp_os_event_wait(p, e, wait_ns);
        held = gp_quarantine_retry(q);
    }
    if (e)
        gp_os_event_destroy(p, e);
    return held;
}

void gp_quarantine_forget(struct gp_quarantine *q)
{
    const struct gp_platform *p = q->plat;
    if (!q->lock)
        return;
    gp_os_lock_acquire(p, q->lock);
    struct gp_quarantine_page *list = q->head;
    q->head = NULL;
    q->stats.released += q->stats.held;
    q->stats.held = 0;
    gp_os_lock_release(p, q->lock);
    gp_quarantine_free(p, list);
}

void gp_quarantine_get_stats(struct gp_quarantine *q, struct gp_quarantine_stats *s)
{
    const struct gp_platform *p = q->plat;
    if (!q->lock) {
        memset(s, 0, sizeof(*s));
        return;
    }
    gp_os_lock_acquire(p, q->lock);
    *s = q->stats;
    gp_os_lock_release(p, q->lock);
}

void gp_quarantine_destroy(struct gp_quarantine *q)
{
    const struct gp_platform *p = q->plat;
    if (!q->lock)
        return;
    unsigned held = gp_quarantine_retry(q);
    if (held)
        GP_ERR(p, "%s: the backend still maps %u page(s) after it closed: they are leaked, "
                  "never reused", q->owner, held);
    for (struct gp_quarantine_page *n = q->head, *next; n; n = next) {
        next = n->next;
        gp_free(p, n);                /* the node only: the page stays with the backend */
    }
    q->head = NULL;
    q->stats.leaked += held;
    gp_os_lock_destroy(p, q->lock);
    q->lock = NULL;
}
