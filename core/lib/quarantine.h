/*
 * quarantine: pages whose grant the other end still maps.
 *
 * A frontend that ends access to a granted page and is refused (the
 * backend still maps it: GP_EBUSY) must never reuse or free that page:
 * whatever is written into it later is visible to whoever maps it.  Hand
 * such a page to the quarantine instead; it keeps the page and its ref,
 * tries to end the grant again whenever gp_quarantine_retry runs, and
 * frees the page (page_free) only once the end succeeds.
 *
 *   struct gp_quarantine quar;                 (embedded in the device)
 *   gp_quarantine_init(&quar, plat, "blkfront device/vbd/768");
 *   ...
 *   if (gp_quarantine_end(&quar, ref, va) != 0)
 *       forget va and ref: they belong to the quarantine now;
 *   ...
 *   gp_quarantine_retry(&quar);     at [passive] level: on each reconnect,
 *                                   from a timer, before destroy
 *   gp_quarantine_destroy(&quar);   last try; what is still mapped is
 *                                   leaked on purpose (never reused)
 *
 * After a restore (a new domain: fresh grant table, the old backend's
 * mappings gone with the old domain) gp_quarantine_forget frees every page.
 */
#ifndef GPLPV_QUARANTINE_H
#define GPLPV_QUARANTINE_H

#include "gplpv/platform.h"

struct gp_quarantine_page;

struct gp_quarantine_stats {
    uint64_t quarantined;         /* pages handed over (ever) */
    uint64_t released;            /* of those, ended and freed later */
    uint64_t leaked;              /* given up at destroy, or no memory to track them */
    unsigned held;                /* in quarantine now */
};

struct gp_quarantine {
    const struct gp_platform *plat;
    struct gp_lock *lock;
    struct gp_quarantine_page *head;
    struct gp_quarantine_stats stats;
    char owner[48];               /* for the log */
};

/* [passive] owner names the device in log lines. */
int gp_quarantine_init(struct gp_quarantine *q, const struct gp_platform *p, const char *owner);
/* [any] End access to ref.  0: ended, the caller keeps va.  GP_EBUSY: the
 * other end still maps it; ref and va now belong to the quarantine (the
 * caller must drop both).  va may be NULL (a ref without a page of ours). */
int gp_quarantine_end(struct gp_quarantine *q, gp_grant_ref_t ref, void *va);
/* [any] The grant-withdraw step every frontend takes on a page slot: if
 * *ref is granted, end it (*ref becomes GP_INVALID_GRANT); if the other
 * end still maps the page, it goes to the quarantine, *va becomes NULL
 * (the slot wants a fresh page) and GP_EBUSY is returned; else 0. */
int gp_quarantine_withdraw(struct gp_quarantine *q, gp_grant_ref_t *ref, void **va);
/* [passive] Try to end every held grant again; pages ended are freed.
 * Returns how many are still held. */
unsigned gp_quarantine_retry(struct gp_quarantine *q);
/* [passive] Retry up to 'tries' times, waiting wait_ns between tries, while
 * anything is held (a backend unmapping a little after it said Closed). */
unsigned gp_quarantine_settle(struct gp_quarantine *q, unsigned tries, uint64_t wait_ns);
/* [passive] A restored domain: the refs mean nothing now; free every page. */
void gp_quarantine_forget(struct gp_quarantine *q);
/* [any] */
void gp_quarantine_get_stats(struct gp_quarantine *q, struct gp_quarantine_stats *s);
/* [passive] Last retry; pages still mapped are leaked (logged), never freed. */
void gp_quarantine_destroy(struct gp_quarantine *q);

#endif
