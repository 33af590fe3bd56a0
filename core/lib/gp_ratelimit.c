/* gp_ratelimit: see core/lib/ratelimit.h. */
#include <stdarg.h>

#include "gplpv/log.h"
#include "ratelimit.h"

bool gp_ratelimit_allow(struct gp_ratelimit *rl, uint64_t now_ns, uint32_t *suppressed)
{
    if (suppressed)
        *suppressed = 0;
    uint64_t start = __atomic_load_n(&rl->window_start, __ATOMIC_ACQUIRE);
    bool started = __atomic_load_n(&rl->started, __ATOMIC_ACQUIRE);
    if (!started || now_ns - start >= rl->interval_ns) {
        /* One caller opens the new window; the others count in it. */
        if (__atomic_compare_exchange_n(&rl->window_start, &start, now_ns, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            __atomic_store_n(&rl->started, true, __ATOMIC_RELEASE);
            __atomic_store_n(&rl->used, 0, __ATOMIC_RELEASE);
        }
    }
    uint32_t n = __atomic_fetch_add(&rl->used, 1, __ATOMIC_ACQ_REL);
    if (n >= rl->burst) {
        __atomic_store_n(&rl->used, rl->burst, __ATOMIC_RELAXED);   /* no wrap-around */
        __atomic_fetch_add(&rl->suppressed, 1, __ATOMIC_RELAXED);
        return false;
    }
    uint32_t held = __atomic_exchange_n(&rl->suppressed, 0, __ATOMIC_ACQ_REL);
    if (suppressed)
        *suppressed = held;
    return true;
}

void gp_log_ratelimited(const struct gp_platform *p, struct gp_ratelimit *rl,
                        enum gp_log_level lvl, const char *fmt, ...)
{
    if (!p || !p->os || !p->os->log)
        return;
    uint32_t held = 0;
    if (!gp_ratelimit_allow(rl, gp_os_now_ns(p), &held))
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    gp_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gp_os_log(p, lvl, msg);
    if (held)
        gp_log(p, lvl, "  (%u similar message(s) suppressed before this one)", held);
}
