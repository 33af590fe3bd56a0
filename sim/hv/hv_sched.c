/* The simulated hypervisor's scheduler operations: shutdown requests
 * (recorded for tests) and suspend, which runs the toolstack's save and
 * restore: backends detach, the domain comes back as a new domain with no
 * event channels, no shared_info or grant frames mapped and a fresh
 * xenstore connection, then backends re-attach. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "hv_internal.h"
#include "xenstored/sim_xenstored.h"

#include <xen/hvm/params.h>
#include <xen/sched.h>

void hv_log_append(struct hv_log *l, const char *p, size_t n)
{
    if (l->len + n + 1 > l->cap) {
        size_t cap = l->cap ? l->cap : 256;
        while (cap < l->len + n + 1)
            cap *= 2;
        l->data = realloc(l->data, cap);
        l->cap = cap;
    }
    memcpy(l->data + l->len, p, n);
    l->len += n;
    l->data[l->len] = 0;
}

static void hv_run_hooks(struct sim_domain *d, enum sim_restore_phase phase)
{
    struct sim_xen *x = d->x;
    pthread_mutex_lock(&x->lock);
    unsigned n = 0;
    struct hv_hook *copy[32];
    for (struct hv_hook *h = x->hooks; h && n < 32; h = h->next)
        copy[n++] = h;
    pthread_mutex_unlock(&x->lock);
    for (unsigned i = 0; i < n; i++)
        copy[i]->fn(copy[i]->arg, d->domid, phase);
}

long hv_restore(struct sim_domain *d)
{
    struct sim_xen *x = d->x;
    hv_run_hooks(d, SIM_RESTORE_BEFORE);
    sim_xenstored_disconnect(x->xsd, d->domid);
    pthread_mutex_lock(&x->lock);
    hv_close_all_ports(d);
    if (d->shi)
        memset(d->shi, 0, GP_PAGE_SIZE);
    d->shi = NULL;
    hv_gnttab_reset(d);
    d->params[HVM_PARAM_CALLBACK_IRQ] = 0;
    memset(d->upcall_vector, 0, sizeof(d->upcall_vector));
    d->restores++;
    int port = 0;
    if (d->store_page) {
        memset(d->store_page, 0, GP_PAGE_SIZE);
        port = hv_alloc_port(d);
        d->ports[port] = (struct hv_port){ .state = HV_PORT_XENSTORED, .remote_dom = 0 };
        d->params[HVM_PARAM_STORE_EVTCHN] = (uint64_t)port;
    }
    pthread_mutex_unlock(&x->lock);
    if (d->store_page)
        sim_xenstored_connect_ring(x->xsd, d->domid, d->store_page, hv_store_notify, d);
    hv_run_hooks(d, SIM_RESTORE_AFTER);
    return 0;                                   /* resumed in a new domain */
}

long hv_sched_op(struct sim_domain *d, int cmd, void *arg)
{
    switch (cmd) {
    case SCHEDOP_yield:
        sched_yield();
        return 0;
    case SCHEDOP_shutdown: {
        struct sched_shutdown *s = arg;
        if (s->reason == SHUTDOWN_suspend) {
            pthread_mutex_lock(&d->x->lock);
            bool cancel = d->cancel_next_suspend;
            d->cancel_next_suspend = false;
            pthread_mutex_unlock(&d->x->lock);
            return cancel ? 1 : hv_restore(d);
        }
        if (s->reason > SHUTDOWN_MAX)
            return -EINVAL;
        pthread_mutex_lock(&d->x->lock);
        d->shutdown_reason = (int)s->reason;
        pthread_mutex_unlock(&d->x->lock);
        return 0;
    }
    default:
        return -ENOSYS;
    }
}
