/* Counting blkfront completions in a test: how many came, how many
 * failed, the last status; and a bounded wait for a number of them. */
#ifndef GP_BLKFRONT_WAIT_H
#define GP_BLKFRONT_WAIT_H

#include <pthread.h>

#include "gp_test.h"
#include "gplpv/blkfront.h"

struct bfw {
    pthread_mutex_t m;
    pthread_cond_t c;
    int calls, errors, status;
    /* optional: completions counted per request of reqs[0..nreqs) in
     * calls_of; twice: completions of a request after its first */
    struct blkfront_req *reqs;
    int *calls_of;
    unsigned nreqs;
    int twice;
};

#define BFW_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, NULL, NULL, 0, 0 }
/* A struct bfw that also counts each request of reqs (calls_of: n counts). */
#define BFW_INIT_PER_REQ(reqs_, calls_of_, n_)                                                \
    { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, (reqs_), (calls_of_), (n_), 0 }

/* A blkfront_req's done callback; arg is the struct bfw. */
static inline void bfw_done(void *arg, struct blkfront_req *r, int status)
{
    struct bfw *w = arg;
    pthread_mutex_lock(&w->m);
    w->calls++;
    if (w->reqs && r >= w->reqs && r < w->reqs + w->nreqs && ++w->calls_of[r - w->reqs] > 1)
        w->twice++;
    if (status)
        w->errors++;
    w->status = status;
    pthread_cond_broadcast(&w->c);
    pthread_mutex_unlock(&w->m);
}

/* Waits (at most secs) until 'calls' completions came; returns how many did. */
static inline int bfw_wait(struct bfw *w, int calls, int secs)
{
    pthread_mutex_lock(&w->m);
    GP_COND_WAIT_WHILE(&w->c, &w->m, secs, w->calls < calls);
    int n = w->calls;
    pthread_mutex_unlock(&w->m);
    return n;
}

#endif
