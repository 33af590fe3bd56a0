/* lxp_os: the OS services of the Linux platform - the common POSIX part
 * (posix/posix_os.c: calloc, pthread mutexes as spin locks, events on
 * CLOCK_MONOTONIC, one worker thread running deferred work in order) with
 * logging to stderr here; pages come from gntalloc (lxp_gnt.c). */
#include <stdarg.h>
#include <stdio.h>

#include "lxp_internal.h"

static void lxp_os_log(void *ctx, enum gp_log_level lvl, const char *msg)
{
    static const char *const names[] = { "error", "warning", "info", "debug" };
    struct lxp *x = ctx;
    if (lvl == GP_LOG_ERROR)
        atomic_fetch_add(&x->errors, 1);
    if (lvl > x->level)
        return;
    fprintf(stderr, "%s: %s: %s\n", x->name, names[lvl <= GP_LOG_DEBUG ? lvl : GP_LOG_DEBUG],
            msg);
}

void lxp_logf(struct lxp *x, enum gp_log_level lvl, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    lxp_os_log(x, lvl, buf);
}

static int lxp_os_defer(void *ctx, gp_work_fn fn, void *arg)
{
    struct lxp *x = ctx;
    return posix_os_worker_defer(&x->worker, fn, arg);
}

void lxp_drain(struct gp_platform *p)
{
    posix_os_worker_drain(&lxp_of(p)->worker);
}

int lxp_os_start(struct lxp *x)
{
    return posix_os_worker_start(&x->worker);
}

void lxp_os_stop(struct lxp *x)
{
    posix_os_worker_stop(&x->worker);
}

void lxp_os_fill(struct lxp *x)
{
    posix_os_fill(&x->os, x, "linux", lxp_os_log, lxp_os_defer);
    x->plat.os = &x->os;     /* page_alloc & co: lxp_gnt_fill */
}
