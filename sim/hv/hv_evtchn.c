/* The simulated hypervisor's event channels: per-domain port tables,
 * the 2-level pending/mask/selector protocol on the guest's shared_info,
 * and an interrupt thread per domain that runs the guest's upcall. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hv_internal.h"
#include "xenstored/sim_xenstored.h"

#include <xen/event_channel.h>

#define HV_BITS (sizeof(xen_ulong_t) * 8)

void hv_raise_irq(struct sim_domain *d, unsigned vcpu)
{
    pthread_mutex_lock(&d->irq_m);
    d->irq_pending[vcpu % HV_MAX_VCPUS] = true;
    pthread_cond_signal(&d->irq_c);
    pthread_mutex_unlock(&d->irq_m);
}

/* Xen's evtchn_set_pending for the 2-level ABI. */
void hv_set_pending(struct sim_domain *d, gp_port_t port)
{
    struct shared_info *shi = d->shi;
    if (!shi || port == 0 || port >= HV_NR_PORTS)
        return;
    unsigned w = port / HV_BITS;
    xen_ulong_t bit = (xen_ulong_t)1 << (port % HV_BITS);
    if (__atomic_fetch_or(&shi->evtchn_pending[w], bit, __ATOMIC_SEQ_CST) & bit)
        return;
    if (__atomic_load_n(&shi->evtchn_mask[w], __ATOMIC_SEQ_CST) & bit)
        return;
    unsigned v = d->ports[port].vcpu;
    struct vcpu_info *vi = &shi->vcpu_info[v];
    xen_ulong_t wbit = (xen_ulong_t)1 << w;
    if (__atomic_fetch_or(&vi->evtchn_pending_sel, wbit, __ATOMIC_SEQ_CST) & wbit)
        return;
    if (__atomic_exchange_n(&vi->evtchn_upcall_pending, 1, __ATOMIC_SEQ_CST))
        return;
    hv_raise_irq(d, v);
}

int hv_alloc_port(struct sim_domain *d)
{
    for (int p = 1; p < HV_NR_PORTS; p++)
        if (d->ports[p].state == HV_PORT_FREE)
            return p;
    return -ENOSPC;
}

static void hv_close_port(struct sim_domain *d, gp_port_t port)
{
    struct hv_port *hp = &d->ports[port];
    if (hp->state == HV_PORT_INTERDOMAIN) {
        struct sim_domain *r = hv_domain(d->x, hp->remote_dom);
        if (r && hp->remote_port < HV_NR_PORTS) {
            struct hv_port *rp = &r->ports[hp->remote_port];
            if (rp->state == HV_PORT_INTERDOMAIN && rp->remote_dom == d->domid &&
                rp->remote_port == port) {
                rp->state = HV_PORT_UNBOUND;      /* as Xen: the other end stays, unbound */
                rp->remote_dom = d->domid;
            }
        }
    }
    memset(hp, 0, sizeof(*hp));
}

void hv_close_all_ports(struct sim_domain *d)
{
    for (gp_port_t p = 1; p < HV_NR_PORTS; p++)
        if (d->ports[p].state != HV_PORT_FREE)
            hv_close_port(d, p);
}

static bool hv_port_valid(struct sim_domain *d, gp_port_t port)
{
    return port > 0 && port < HV_NR_PORTS && d->ports[port].state != HV_PORT_FREE;
}

long hv_event_channel_op(struct sim_domain *d, int cmd, void *arg)
{
    struct sim_xen *x = d->x;
    switch (cmd) {
    case EVTCHNOP_alloc_unbound: {
        struct evtchn_alloc_unbound *a = arg;
        if (a->dom != DOMID_SELF && a->dom != d->domid)
            return -EPERM;
        gp_domid_t remote = a->remote_dom == DOMID_SELF ? d->domid : a->remote_dom;
        if (!hv_domain(x, remote))
            return -ESRCH;
        int p = hv_alloc_port(d);
        if (p < 0)
            return p;
        d->ports[p] = (struct hv_port){ .state = HV_PORT_UNBOUND, .remote_dom = remote };
        a->port = (evtchn_port_t)p;
        return 0;
    }
    case EVTCHNOP_bind_interdomain: {
        struct evtchn_bind_interdomain *b = arg;
        gp_domid_t rd = b->remote_dom == DOMID_SELF ? d->domid : b->remote_dom;
        struct sim_domain *r = hv_domain(x, rd);
        if (!r || b->remote_port == 0 || b->remote_port >= HV_NR_PORTS)
            return -EINVAL;
        struct hv_port *rp = &r->ports[b->remote_port];
        if (rp->state != HV_PORT_UNBOUND || rp->remote_dom != d->domid)
            return -EINVAL;
        int p = hv_alloc_port(d);
        if (p < 0)
            return p;
        d->ports[p] = (struct hv_port){ .state = HV_PORT_INTERDOMAIN, .remote_dom = rd,
                                        .remote_port = b->remote_port };
        rp->state = HV_PORT_INTERDOMAIN;
        rp->remote_port = (gp_port_t)p;
        b->local_port = (evtchn_port_t)p;
        /* Xen marks the new local port pending so no event is lost. */
        hv_set_pending(d, (gp_port_t)p);
        return 0;
    }
    case EVTCHNOP_send: {
        struct evtchn_send *s = arg;
        if (!hv_port_valid(d, s->port))
            return -EINVAL;
        if (hv_fault(x, SIM_FAULT_NOTIFY_LOSE))
            return 0;
        struct hv_port *hp = &d->ports[s->port];
        if (hp->state == HV_PORT_INTERDOMAIN) {
            struct sim_domain *r = hv_domain(x, hp->remote_dom);
            if (r)
                hv_set_pending(r, hp->remote_port);
        } else if (hp->state == HV_PORT_XENSTORED) {
            sim_xenstored_ring_kick(x->xsd, d->domid);
        }
        if (hv_fault(x, SIM_FAULT_NOTIFY_SPURIOUS))
            hv_raise_irq(d, 0);
        return 0;
    }
    case EVTCHNOP_close: {
        struct evtchn_close *c = arg;
        if (!hv_port_valid(d, c->port))
            return -EINVAL;
        hv_close_port(d, c->port);
        return 0;
    }
    case EVTCHNOP_unmask: {
        struct evtchn_unmask *u = arg;
        if (!d->shi || u->port == 0 || u->port >= HV_NR_PORTS)
            return -EINVAL;
        struct shared_info *shi = d->shi;
        unsigned w = u->port / HV_BITS;
        xen_ulong_t bit = (xen_ulong_t)1 << (u->port % HV_BITS);
        if ((__atomic_fetch_and(&shi->evtchn_mask[w], ~bit, __ATOMIC_SEQ_CST) & bit) &&
            (__atomic_load_n(&shi->evtchn_pending[w], __ATOMIC_SEQ_CST) & bit)) {
            unsigned v = d->ports[u->port].vcpu;
            struct vcpu_info *vi = &shi->vcpu_info[v];
            xen_ulong_t wbit = (xen_ulong_t)1 << w;
            if (!(__atomic_fetch_or(&vi->evtchn_pending_sel, wbit, __ATOMIC_SEQ_CST) & wbit) &&
                !__atomic_exchange_n(&vi->evtchn_upcall_pending, 1, __ATOMIC_SEQ_CST))
                hv_raise_irq(d, v);
        }
        return 0;
    }
    case EVTCHNOP_bind_vcpu: {
        struct evtchn_bind_vcpu *b = arg;
        if (!hv_port_valid(d, b->port) || b->vcpu >= d->opts.vcpus)
            return -EINVAL;
        d->ports[b->port].vcpu = b->vcpu;
        return 0;
    }
    default:
        return -ENOSYS;
    }
}

/* xenstored produced output or consumed input for a guest's ring. */
void hv_store_notify(void *arg)
{
    struct sim_domain *d = arg;
    pthread_mutex_lock(&d->x->lock);
    gp_port_t port = (gp_port_t)d->params[2 /* HVM_PARAM_STORE_EVTCHN */];
    if (port && port < HV_NR_PORTS && d->ports[port].state == HV_PORT_XENSTORED)
        hv_set_pending(d, port);
    pthread_mutex_unlock(&d->x->lock);
}

static void *hv_irq_main(void *arg)
{
    struct sim_domain *d = arg;
    pthread_mutex_lock(&d->irq_m);
    while (!d->irq_stop) {
        int v = -1;
        for (unsigned i = 0; i < HV_MAX_VCPUS; i++)
            if (d->irq_pending[i]) {
                v = (int)i;
                break;
            }
        if (v < 0) {
            pthread_cond_wait(&d->irq_c, &d->irq_m);
            continue;
        }
        d->irq_pending[v] = false;
        d->irq_busy = true;
        pthread_mutex_unlock(&d->irq_m);
        uint32_t delay = d->x->faults[SIM_FAULT_NOTIFY_DELAY_US];
        if (delay) {
            pthread_mutex_lock(&d->x->lock);
            uint64_t r = hv_rand(d->x);
            pthread_mutex_unlock(&d->x->lock);
            usleep((useconds_t)(r % delay));
        }
        pthread_mutex_lock(&d->irq_m);
        void (*fn)(void *, unsigned) = d->upcall_fn;
        void *farg = d->upcall_arg;
        pthread_mutex_unlock(&d->irq_m);
        if (fn)
            fn(farg, (unsigned)v);
        pthread_mutex_lock(&d->irq_m);
        d->irq_busy = false;
        pthread_cond_broadcast(&d->irq_c);
    }
    pthread_mutex_unlock(&d->irq_m);
    return NULL;
}

void hv_irq_start(struct sim_domain *d)
{
    pthread_mutex_init(&d->irq_m, NULL);
    pthread_cond_init(&d->irq_c, NULL);
    pthread_create(&d->irq_thread, NULL, hv_irq_main, d);
}

void hv_irq_stop(struct sim_domain *d)
{
    pthread_mutex_lock(&d->irq_m);
    d->irq_stop = true;
    pthread_cond_signal(&d->irq_c);
    pthread_mutex_unlock(&d->irq_m);
    pthread_join(d->irq_thread, NULL);
    pthread_cond_destroy(&d->irq_c);
    pthread_mutex_destroy(&d->irq_m);
}
