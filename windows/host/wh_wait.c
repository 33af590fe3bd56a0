/* Dispatcher objects: events (notification and synchronization), waits on
 * one or several of them (KeWaitForSingleObject, KeWaitForMultipleObjects
 * with WaitAny), one lock and one broadcast for all.  The verifier
 * records which objects threads are waiting on: re-initialising an event
 * a thread waits on (KeInitializeEvent over a live wait list) and freeing
 * pool that holds one are reported. */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "wh.h"

pthread_mutex_t wh_disp_m = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t wh_disp_cv = PTHREAD_COND_INITIALIZER;

#define MAX_WAITED 64
#define THREAD_WAIT_OBJECTS 3
static struct { const void *obj; unsigned n; } waited[MAX_WAITED];   /* wh_disp_m */
static _Thread_local unsigned *my_watch;                           /* wh_wait_watch */

static void waited_add(const void *obj, int delta)                 /* wh_disp_m held */
{
    int free_ = -1;
    for (int i = 0; i < MAX_WAITED; i++) {
        if (waited[i].n && waited[i].obj == obj) {
            waited[i].n = (unsigned)((int)waited[i].n + delta);
            return;
        }
        if (!waited[i].n && free_ < 0)
            free_ = i;
    }
    if (delta < 0 || free_ < 0)
        wh_fatal("wait record of %p lost (more than %d objects waited on)", obj, MAX_WAITED);
    waited[free_].obj = obj;
    waited[free_].n = (unsigned)delta;
}

static bool is_waited(const void *lo, size_t len)                  /* wh_disp_m held */
{
    for (int i = 0; i < MAX_WAITED; i++)
        if (waited[i].n && (const char *)waited[i].obj >= (const char *)lo &&
            (const char *)waited[i].obj < (const char *)lo + len)
            return true;
    return false;
}

bool wh_waited_in(const void *va, size_t len)
{
    pthread_mutex_lock(&wh_disp_m);
    bool w = is_waited(va, len);
    pthread_mutex_unlock(&wh_disp_m);
    return w;
}

void wh_wait_watch(unsigned *n)
{
    my_watch = n;
}

unsigned wh_wait_watched(const unsigned *n)
{
    pthread_mutex_lock(&wh_disp_m);
    unsigned v = *n;
    pthread_mutex_unlock(&wh_disp_m);
    return v;
}

WH_DDI(void, KeInitializeEvent, struct wh_kevent *e, int type, uint8_t state)
{
    pthread_mutex_lock(&wh_disp_m);
    bool busy = is_waited(e, 1);
    memset(e, 0, sizeof(*e));
    e->Type = (uint8_t)type;
    e->SignalState = state;
    pthread_cond_broadcast(&wh_disp_cv);
    pthread_mutex_unlock(&wh_disp_m);
    if (busy)
        wh_violation("KeInitializeEvent", "event %p initialised again while a thread waits on it "
                     "(its wait list is lost)", (void *)e);
}
WH_EXPORT(KeInitializeEvent);

WH_DDI(int32_t, KeSetEvent, struct wh_kevent *e, int32_t incr, uint8_t wait)
{
    (void)incr;
    wh_irql_max("KeSetEvent", wait ? WH_APC_LEVEL : WH_DISPATCH_LEVEL);
    pthread_mutex_lock(&wh_disp_m);
    int32_t prev = e->SignalState;
    e->SignalState = 1;
    pthread_cond_broadcast(&wh_disp_cv);
    pthread_mutex_unlock(&wh_disp_m);
    return prev;
}
WH_EXPORT(KeSetEvent);

WH_DDI(void, KeClearEvent, struct wh_kevent *e)
{
    wh_irql_max("KeClearEvent", WH_DISPATCH_LEVEL);
    pthread_mutex_lock(&wh_disp_m);
    e->SignalState = 0;
    pthread_mutex_unlock(&wh_disp_m);
}
WH_EXPORT(KeClearEvent);

/* Waits until one of the n events is signalled (its index; a
 * synchronization event is reset for its one waiter) or the relative
 * timeout passes. */
static NTSTATUS_ wait_any(const char *ddi, struct wh_kevent **e, unsigned n, int64_t *timeout)
{
    wh_irql_max(ddi, !timeout || *timeout ? WH_APC_LEVEL : WH_DISPATCH_LEVEL);
    for (unsigned i = 0; i < n; i++)
        if (e[i]->Type > 1)
            wh_fatal("%s on a dispatcher object of type %u (only events)", ddi, e[i]->Type);
    if (timeout && *timeout > 0)
        wh_fatal("%s with an absolute timeout", ddi);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    if (timeout) {
        uint64_t ns = (uint64_t)(-*timeout) * 100u;
        until.tv_sec += (time_t)(ns / 1000000000u);
        until.tv_nsec += (long)(ns % 1000000000u);
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    NTSTATUS_ st = WH_STATUS_TIMEOUT;
    pthread_mutex_lock(&wh_disp_m);
    for (unsigned i = 0; i < n; i++)
        waited_add(e[i], 1);
    if (my_watch)
        (*my_watch)++;
    for (;;) {
        for (unsigned i = 0; i < n && st == WH_STATUS_TIMEOUT; i++)
            if (e[i]->SignalState) {
                st = (NTSTATUS_)i;                  /* STATUS_WAIT_0 + i */
                if (e[i]->Type == 1)
                    e[i]->SignalState = 0;          /* a synchronization event: one waiter */
            }
        if (st != WH_STATUS_TIMEOUT)
            break;
        if (timeout && (*timeout == 0 || pthread_cond_timedwait(&wh_disp_cv, &wh_disp_m, &until)))
            break;
        if (!timeout)
            pthread_cond_wait(&wh_disp_cv, &wh_disp_m);
    }
    if (st == WH_STATUS_TIMEOUT)                    /* the last look after the time-out */
        for (unsigned i = 0; i < n && st == WH_STATUS_TIMEOUT; i++)
            if (e[i]->SignalState) {
                st = (NTSTATUS_)i;
                if (e[i]->Type == 1)
                    e[i]->SignalState = 0;
            }
    for (unsigned i = 0; i < n; i++)
        waited_add(e[i], -1);
    if (my_watch)
        (*my_watch)--;
    pthread_mutex_unlock(&wh_disp_m);
    return st;
}

WH_DDI(NTSTATUS_, KeWaitForSingleObject, void *obj, int reason, int mode, uint8_t alertable,
       int64_t *timeout)
{
    (void)reason, (void)mode, (void)alertable;
    struct wh_kevent *e = obj;
    return wait_any("KeWaitForSingleObject", &e, 1, timeout);
}
WH_EXPORT(KeWaitForSingleObject);

WH_DDI(NTSTATUS_, KeWaitForMultipleObjects, uint32_t count, void **objs, int type, int reason,
       int mode, uint8_t alertable, int64_t *timeout, void *wait_blocks)
{
    (void)reason, (void)mode, (void)alertable;
    if (type != 1 /* WaitAny */)
        wh_fatal("KeWaitForMultipleObjects: only WaitAny is implemented");
    if (count == 0 || (count > THREAD_WAIT_OBJECTS && !wait_blocks) || count > 8) {
        wh_violation("KeWaitForMultipleObjects", "%u objects with %s wait block array", count,
                     wait_blocks ? "a" : "no");
        return WH_STATUS_INVALID_PARAMETER;
    }
    struct wh_kevent *e[8];
    for (uint32_t i = 0; i < count; i++)
        e[i] = objs[i];
    return wait_any("KeWaitForMultipleObjects", e, count, timeout);
}
WH_EXPORT(KeWaitForMultipleObjects);
