/*
 * balloon: follow the toolstack's memory/target (KiB, `xl mem-set`).
 * Pages the OS gives up are returned to Xen with decrease-reservation in
 * bounded steps; when the target rises they are populated again and handed
 * back to the OS.  Partial success is kept as far as it went; a page source
 * that runs dry (memory pressure) just stops the step; an event whose
 * target did not change does nothing.  Progress is written to
 * data/gplpv-balloon-kib.  After a suspend the count is checked against
 * what Xen backs (balloon_suspend): a resume from hibernation runs in a
 * new domain with RAM at every gfn.
 */
#ifndef GPLPV_BALLOON_H
#define GPLPV_BALLOON_H

#include "gplpv/xs.h"

#define BALLOON_STEP_PAGES 256

struct balloon_page_source {
    /* A page the OS stops using (NULL under pressure). */
    void *(*take)(void *arg, uint64_t *gfn);
    /* The page is populated again: the OS may use it. */
    void (*give)(void *arg, void *va);
    void *arg;
};

struct balloon_stats {
    uint64_t total_kib, target_kib, ballooned_kib;
    uint64_t steps, partial_steps, pressure_stops, ignored_events;
    uint64_t events;                  /* memory/target events handled (acted on or ignored) */
    uint64_t rechecks;                /* looks at what Xen backs, after a suspend */
    uint64_t backed_again;            /* ballooned pages found with RAM (a new domain) */
};

struct balloon;
int balloon_start(const struct gp_platform *p, struct xs_client *xs,
                  const struct balloon_page_source *src, struct balloon **out);
/* Gives every page back to the OS first (populating them again). */
void balloon_stop(struct balloon *b);
/* Part of the suspend's quiesce (suspend_run and suspend_freeze): before
 * anything else after the resume (the memory/target event the watch's
 * registration brings, or balloon_announce) the balloon asks Xen which of
 * the pages it gave back have RAM behind them again.  After a restore or a
 * migration none has (the domain's own memory image): nothing changes.
 * After a resume from hibernation, in a new domain the toolstack built
 * with RAM at every gfn, all have: as many as the new target wants out are
 * given back to Xen again, the rest to the OS, and the count is Xen's. */
void balloon_suspend(struct balloon *b);
/* control/feature-balloon and data/gplpv-balloon-kib written again (a new
 * domain's xenstore, as control_announce), after the look balloon_suspend
 * asked for.  Takes no page from the OS (it may run in a thaw). */
void balloon_announce(struct balloon *b);
void balloon_get_stats(struct balloon *b, struct balloon_stats *s);

#endif
