/* A small rate limiter for log messages a peer can provoke at will (a
 * backend answering badly, a flood of malformed frames): at most 'burst'
 * messages per 'interval_ns'; the next message after a quiet interval
 * says how many were suppressed.  Lock-free (GNU __atomic builtins, as
 * the rest of the core uses), safe from any context; under contention
 * the count is approximate, never unbounded. */
#ifndef GPLPV_RATELIMIT_H
#define GPLPV_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "gplpv/platform.h"

struct gp_ratelimit {
    uint64_t interval_ns;
    uint32_t burst;
    uint64_t window_start;            /* now_ns when the current window began */
    uint32_t used;                    /* messages let through in this window */
    uint32_t suppressed;              /* held back since the last one let through */
    bool started;
};

#define GP_RATELIMIT_INIT(interval_ns_, burst_) \
    { .interval_ns = (interval_ns_), .burst = (burst_) }

/* Call when about to log: true lets the message through, and then
 * *suppressed (may be NULL) says how many were held back before it. */
bool gp_ratelimit_allow(struct gp_ratelimit *rl, uint64_t now_ns, uint32_t *suppressed);

/* gp_log through a rate limiter, clock from the platform; a message let
 * through after suppressed ones is followed by a line counting them. */
void gp_log_ratelimited(const struct gp_platform *p, struct gp_ratelimit *rl,
                        enum gp_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
