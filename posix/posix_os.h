/*
 * posix_os: the OS services a POSIX process gives the core, shared by the
 * simulator (sim/os) and the Linux user-space platform (linux/platform):
 * zeroed allocation, pthread mutexes as spin locks, auto-reset events on
 * CLOCK_MONOTONIC condition variables, monotonic time, and one worker
 * thread that runs deferred work in order of submission.
 *
 * What differs between the two stays with them: pages (sim's pool with
 * small frame numbers, Linux's gntalloc pages), logging, and the name.
 */
#ifndef GPLPV_POSIX_OS_H
#define GPLPV_POSIX_OS_H

#include <pthread.h>
#include <stdbool.h>

#include "gplpv/platform.h"

struct posix_os_work;

/* defer(): one thread running the work queued, in order. */
struct posix_os_worker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work_cond, idle_cond;
    struct posix_os_work *head, *tail;
    bool started, stopping, busy;
};

/* Fill o: ctx and name, alloc, free, lock_*, event_* and now_ns from
 * here (they ignore ctx), the shell's log and defer (a defer of its own
 * that queues on its posix_os_worker).  Pages are left to the shell. */
void posix_os_fill(struct gp_os *o, void *ctx, const char *name,
                   void (*log)(void *ctx, enum gp_log_level lvl, const char *msg),
                   int (*defer)(void *ctx, gp_work_fn fn, void *arg));

/* Start the worker's thread.  0, or GP_ENOMEM if it cannot be made. */
int posix_os_worker_start(struct posix_os_worker *w);
/* Run the work already queued, then stop the thread (no-op if never
 * started). */
void posix_os_worker_stop(struct posix_os_worker *w);
/* Queue fn(arg).  0 or GP_ENOMEM. */
int posix_os_worker_defer(struct posix_os_worker *w, gp_work_fn fn, void *arg);
/* Wait until every item queued so far has run. */
void posix_os_worker_drain(struct posix_os_worker *w);

#endif
