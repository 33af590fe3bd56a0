/* lxp_platform: putting the Linux platform together (lxp.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/xen.h>

#include "gplpv/log.h"
#include "gplpv/xenbus.h"
#include "lxp_internal.h"

static gp_domid_t lxp_self_domid(void *ctx)
{
    struct lxp *x = ctx;
    return x->self;
}

void lxp_set_self_domid(struct gp_platform *p, gp_domid_t domid)
{
    lxp_of(p)->self = domid;
}

int lxp_create(const struct lxp_opts *o, struct gp_platform **out)
{
    struct lxp *x = calloc(1, sizeof(*x));
    if (!x)
        return GP_ENOMEM;
    snprintf(x->name, sizeof(x->name), "%s", o && o->name ? o->name : "gplpv");
    x->level = o && o->level ? o->level : GP_LOG_INFO;
    x->self = DOMID_SELF;
    x->gnt.fd = x->ev.fd = x->ev.wake_fd = x->xs.fd = x->xs.wake_fd = -1;
    x->gnt.peer = o ? o->peer : 0;
    x->gnt.chunk_pages = o && o->chunk_pages ? o->chunk_pages : 64;
    unsigned flags = o ? o->flags : 0;
    lxp_os_fill(x);
    x->xen.ctx = x;
    x->xen.self_domid = lxp_self_domid;
    x->plat.xen = &x->xen;
    int err = lxp_os_start(x);
    if (!err && !(flags & LXP_NO_GNTALLOC)) {
        err = lxp_gnt_open(x);
        lxp_gnt_fill(x);
    }
    if (!err && !(flags & LXP_NO_EVTCHN)) {
        err = lxp_evtchn_open(x);
        lxp_evtchn_fill(x);
    }
    if (!err)
        err = lxp_xs_open(x);
    if (err) {
        lxp_destroy(&x->plat);
        return err;
    }
    *out = &x->plat;
    return 0;
}

void lxp_destroy(struct gp_platform *p)
{
    if (!p)
        return;
    struct lxp *x = lxp_of(p);
    lxp_xs_close(x);
    if (x->xen.evtchn_bind || x->ev.fd >= 0)
        lxp_evtchn_close(x);
    lxp_os_stop(x);
    if (x->os.page_alloc || x->gnt.fd >= 0)
        lxp_gnt_close(x);
    free(x);
}

void lxp_get_stats(struct gp_platform *p, struct lxp_stats *s)
{
    struct lxp *x = lxp_of(p);
    memset(s, 0, sizeof(*s));
    if (x->gnt.fd >= 0) {
        pthread_mutex_lock(&x->gnt.lock);
        s->pages = x->gnt.pages;
        s->pages_in_use = x->gnt.in_use;
        s->grants = x->gnt.grants;
        s->grant_ends = x->gnt.ends;
        s->rebacks = x->gnt.rebacks;
        pthread_mutex_unlock(&x->gnt.lock);
    }
    s->events = x->ev.events;
    s->notifies = __atomic_load_n(&x->ev.notifies, __ATOMIC_RELAXED);
    s->xs_bytes_in = x->xs.bytes_in;
    s->xs_bytes_out = x->xs.bytes_out;
    s->errors = atomic_load(&x->errors);
}

int lxp_open(const struct lxp_opts *o, struct gp_platform **pp, struct xs_client **xsp)
{
    struct gp_platform *p = NULL;
    struct xs_client *xs = NULL;
    int err = lxp_create(o, &p);
    if (err)
        return err;
    err = xs_client_create(p, NULL, &xs);
    if (err) {
        lxp_destroy(p);
        return err;
    }
    long long domid = -1;
    err = xs_read_int(xs, XS_TXN_NONE, "domid", &domid);
    if (!err && (domid < 0 || domid >= DOMID_FIRST_RESERVED))
        err = GP_EINVAL;
    if (err)
        GP_WARN(p, "our domid is not readable from xenstore (%s): DOMID_SELF used",
                gp_strerror(err));
    else
        lxp_set_self_domid(p, (gp_domid_t)domid);
    *pp = p;
    *xsp = xs;
    return 0;
}

void lxp_close(struct gp_platform *p, struct xs_client *xs)
{
    if (xs)
        xs_client_destroy(xs);
    lxp_drain(p);
    lxp_destroy(p);
}

int lxp_backend_id(struct xs_client *xs, const char *nodename, gp_domid_t *out)
{
    char path[XENBUS_PATH_MAX];
    long long id = -1;
    if (gp_snprintf(path, sizeof(path), "%s/backend-id", nodename) >= (int)sizeof(path))
        return GP_EINVAL;
    int err = xs_read_int(xs, XS_TXN_NONE, path, &id);
    if (err)
        return err;
    if (id < 0 || id >= DOMID_FIRST_RESERVED)
        return GP_EINVAL;
    *out = (gp_domid_t)id;
    return 0;
}
