/*
 * blkfront_cancel: completing every request blkfront holds at once.
 *
 * blkfront_fail_all is for a device that is broken or going away (its
 * rings are not read again).  blkfront_abandon is for a device whose ring
 * stays - an OS resetting the bus after a timeout, or one told of a
 * surprise removal that destroys the device only later: the requests go back to
 * their owner now, while the ring requests they had on the rings stay
 * there until the backend answers them (blkfront_event then frees their
 * slots and pages without touching the request) or the ring is given up
 * (blkfront_requeue_inflight drops them).  Both complete each request
 * exactly once, through its done callback, outside the lock.
 */
#include "blkfront_internal.h"

/* Takes every request off the rings' shadows, the retry list and the
 * queue, completing those with nothing left outstanding; they are linked
 * on *done (lock held).  abandon: shadows stay in use, parentless.
 * Returns how many requests were completed. */
static unsigned blkfront_take_all(struct blkfront *bf, int status, bool abandon,
                                  struct blkfront_req **done)
{
    struct blkfront_req **tail = done;
    unsigned n = 0;
    for (unsigned qi = 0; qi < BLKFRONT_MAX_QUEUES; qi++) {
        struct blkfront_queue *q = &bf->q[qi];
        for (unsigned i = 0; q->shadow && i < q->nslots; i++) {
            struct blkfront_shadow *s = &q->shadow[i];
            if (!s->in_use || s->abandoned) {
                if (!abandon)             /* an abandoned one's slot goes with the ring */
                    s->in_use = s->abandoned = false;
                continue;
            }
            struct blkfront_req *r = s->parent;
            if (abandon) {                /* the backend may still write its pages */
                s->abandoned = true;
                s->parent = NULL;
            } else {                      /* pages left out of the pool if still granted */
                s->in_use = false;
            }
            if (blkfront_piece_done(r, status)) {
                *tail = r;
                tail = &blkfront_own(r)->next;
                blkfront_own(r)->next = NULL;
                n++;
            }
        }
        if (!abandon)
            q->outstanding = 0;
    }
    if (!abandon)
        bf->dump.answered = 0;
    for (unsigned i = 0; i < bf->nretry; i++) {
        struct blkfront_req *r = bf->retry[i].parent;
        if (blkfront_piece_done(r, status)) {
            *tail = r;
            tail = &blkfront_own(r)->next;
            blkfront_own(r)->next = NULL;
            n++;
        }
    }
    bf->nretry = 0;
    /* Queued requests: the part not yet issued is dropped. */
    for (struct blkfront_req *r = bf->queue_head, *next; r; r = next) {
        struct blkfront_req_own *o = blkfront_own(r);
        next = o->next;
        o->issued = (r->op == BLKFRONT_READ || r->op == BLKFRONT_WRITE) ? r->nr_sectors : 1;
        if (!o->status)
            o->status = status;
        if (o->inflight == 0) {
            *tail = r;
            tail = &o->next;
            o->next = NULL;
            n++;
        }
    }
    bf->queue_head = bf->queue_tail = NULL;
    return n;
}

static void blkfront_complete_list(struct blkfront_req *r)
{
    for (struct blkfront_req *next; r; r = next) {
        next = blkfront_own(r)->next;
        r->done(r->arg, r, blkfront_own(r)->status);
    }
}

void blkfront_fail_all(struct blkfront *bf, int status)
{
    const struct gp_platform *p = bf->plat;
    struct blkfront_req *done = NULL;
    gp_os_lock_acquire(p, bf->lock);
    blkfront_take_all(bf, status, false, &done);
    gp_os_lock_release(p, bf->lock);
    blkfront_complete_list(done);
}

unsigned blkfront_abandon(struct blkfront *bf, int status)
{
    const struct gp_platform *p = bf->plat;
    struct blkfront_req *done = NULL;
    gp_os_lock_acquire(p, bf->lock);
    unsigned n = blkfront_take_all(bf, status, true, &done);
    bf->stats.abandoned += n;
    gp_os_lock_release(p, bf->lock);
    if (n)
        GP_WARN(p, "blkfront %s: %u request(s) given back; the backend's answers to "
                "them will be dropped", bf->dev.nodename, n);
    blkfront_complete_list(done);
    return n;
}
