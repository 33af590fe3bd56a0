/*
 * evtchn: the 2-level event-channel ABI.  Xen sets a port's bit in
 * shared_info->evtchn_pending, the word's bit in the vCPU's
 * evtchn_pending_sel and evtchn_upcall_pending, then interrupts the vCPU.
 * The upcall clears upcall_pending, takes the selector with an exchange,
 * and serves pending & ~mask ports, clearing each pending bit before its
 * handler runs, until no upcall is pending any more.
 */
#include <string.h>

#include "gplpv/evtchn.h"
#include "gplpv/hypercall.h"
#include "gplpv/log.h"

#include <xen/event_channel.h>

#define EVTCHN_BITS_PER_WORD (sizeof(xen_ulong_t) * 8)
#define EVTCHN_NR_PORTS (EVTCHN_BITS_PER_WORD * EVTCHN_BITS_PER_WORD)
#define EVTCHN_MAX_VCPUS XEN_LEGACY_MAX_VCPUS

struct evtchn_slot {
    gp_evtchn_handler fn;
    void *arg;
    int busy;                        /* this port's handler is running (on any vCPU) */
};

struct evtchn {
    const struct gp_platform *plat;
    struct shared_info *shi;
    struct gp_lock *lock;
    struct evtchn_slot slots[EVTCHN_NR_PORTS];
    /* where the last pass stopped, per vCPU (fairness) */
    unsigned last_word[EVTCHN_MAX_VCPUS], last_bit[EVTCHN_MAX_VCPUS];
    uint64_t upcalls, events, unhandled, ignored, cut_short;
    int away;                        /* suspended: the shared page may be gone */
};

unsigned evtchn_max_ports(void)
{
    return (unsigned)EVTCHN_NR_PORTS;
}

/* Events are ours to take on every vCPU (a PV-style upcall mask left set
 * would hide them). */
static void evtchn_unmask_upcalls(struct shared_info *shi)
{
    for (unsigned v = 0; shi && v < EVTCHN_MAX_VCPUS; v++)
        GP_WRITE_ONCE(shi->vcpu_info[v].evtchn_upcall_mask, 0);
}

int evtchn_create(const struct gp_platform *p, struct shared_info *shi, struct evtchn **out)
{
    struct evtchn *e = gp_zalloc(p, sizeof(*e));
    if (!e)
        return GP_ENOMEM;
    e->plat = p;
    e->shi = shi;
    evtchn_unmask_upcalls(shi);
    e->lock = gp_os_lock_create(p);
    if (!e->lock) {
        gp_free(p, e);
        return GP_ENOMEM;
    }
    *out = e;
    return 0;
}

void evtchn_destroy(struct evtchn *e)
{
    if (!e)
        return;
    gp_os_lock_destroy(e->plat, e->lock);
    gp_free(e->plat, e);
}

void evtchn_suspend(struct evtchn *e)
{
    __atomic_store_n(&e->away, 1, __ATOMIC_SEQ_CST);
}

void evtchn_resume_in_place(struct evtchn *e)
{
    __atomic_store_n(&e->away, 0, __ATOMIC_SEQ_CST);
}

void evtchn_resume(struct evtchn *e, struct shared_info *shi)
{
    const struct gp_platform *p = e->plat;
    gp_os_lock_acquire(p, e->lock);
    e->shi = shi;
    evtchn_unmask_upcalls(shi);
    /* The old domain's ports are gone, but a handler of one may still run
     * on another vCPU: its busy count stays, or its return would leave the
     * port number counted below zero and its next unbind waiting forever. */
    for (unsigned i = 0; i < EVTCHN_NR_PORTS; i++) {
        e->slots[i].fn = NULL;
        e->slots[i].arg = NULL;
    }
    gp_os_lock_release(p, e->lock);
    __atomic_store_n(&e->away, 0, __ATOMIC_SEQ_CST);
}

/* A spin-wait's pause (lets a sibling hyperthread or, under Xen's
 * pause-loop exiting, another vCPU run). */
static inline void evtchn_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void evtchn_serve_port(struct evtchn *e, unsigned port)
{
    const struct gp_platform *p = e->plat;
    gp_os_lock_acquire(p, e->lock);
    struct evtchn_slot s = e->slots[port];
    if (s.fn)
        __atomic_add_fetch(&e->slots[port].busy, 1, __ATOMIC_SEQ_CST);
    e->events++;
    if (!s.fn)
        e->unhandled++;
    gp_os_lock_release(p, e->lock);
    if (s.fn) {
        s.fn(s.arg, port);
        __atomic_sub_fetch(&e->slots[port].busy, 1, __ATOMIC_SEQ_CST);
    }
}

void evtchn_upcall(struct evtchn *e, unsigned vcpu)
{
    struct shared_info *shi = e->shi;
    if (!shi || vcpu >= EVTCHN_MAX_VCPUS)
        return;
    if (__atomic_load_n(&e->away, __ATOMIC_SEQ_CST)) {
        __atomic_add_fetch(&e->ignored, 1, __ATOMIC_RELAXED);
        return;
    }
    struct vcpu_info *vi = &shi->vcpu_info[vcpu];
    __atomic_add_fetch(&e->upcalls, 1, __ATOMIC_RELAXED);
    unsigned passes = 0;
    /* At least one pass even when upcall_pending is clear: an interrupt
     * handler that could not serve ports (Windows' ISR, above DISPATCH)
     * acknowledged it with evtchn_upcall_ack() and left the scan to us. */
    do {
        GP_WRITE_ONCE(vi->evtchn_upcall_pending, 0);
        gp_mb();
        xen_ulong_t sel = __atomic_exchange_n(&vi->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
        /* One pass serves every pending port once, starting just after the
         * last port served: word w0 is visited first for its bits above
         * the last one, and again at the end for the rest. */
        unsigned w0 = e->last_word[vcpu];
        unsigned b_start = e->last_bit[vcpu] + 1;
        for (unsigned k = 0; k <= EVTCHN_BITS_PER_WORD; k++) {
            unsigned w = (w0 + k) % EVTCHN_BITS_PER_WORD;
            if (!(sel & ((xen_ulong_t)1 << w)))
                continue;
            unsigned lo = k == 0 ? b_start : 0;
            unsigned hi = k == EVTCHN_BITS_PER_WORD ? b_start : EVTCHN_BITS_PER_WORD;
            xen_ulong_t pending = GP_READ_ONCE(shi->evtchn_pending[w]) &
                                  ~GP_READ_ONCE(shi->evtchn_mask[w]);
            for (unsigned b = lo; b < hi; b++) {
                xen_ulong_t bit = (xen_ulong_t)1 << b;
                if (!(pending & bit))
                    continue;
                __atomic_fetch_and(&shi->evtchn_pending[w], ~bit, __ATOMIC_SEQ_CST);
                e->last_word[vcpu] = w;
                e->last_bit[vcpu] = b;
                evtchn_serve_port(e, w * (unsigned)EVTCHN_BITS_PER_WORD + b);
            }
        }
    } while (GP_READ_ONCE(vi->evtchn_upcall_pending) && ++passes < EVTCHN_UPCALL_PASSES);
    if (passes == EVTCHN_UPCALL_PASSES)
        __atomic_add_fetch(&e->cut_short, 1, __ATOMIC_RELAXED);
}

bool evtchn_upcall_ack(struct evtchn *e, unsigned vcpu)
{
    struct shared_info *shi = e->shi;
    if (!shi || vcpu >= EVTCHN_MAX_VCPUS || __atomic_load_n(&e->away, __ATOMIC_SEQ_CST))
        return false;
    /* Clearing it lets Xen lower a level-triggered callback line. */
    return __atomic_exchange_n(&shi->vcpu_info[vcpu].evtchn_upcall_pending, 0,
                               __ATOMIC_SEQ_CST) != 0;
}

static void evtchn_set_mask_bit(struct evtchn *e, gp_port_t port, bool set)
{
    xen_ulong_t *word = &e->shi->evtchn_mask[port / EVTCHN_BITS_PER_WORD];
    xen_ulong_t bit = (xen_ulong_t)1 << (port % EVTCHN_BITS_PER_WORD);
    if (set)
        __atomic_fetch_or(word, bit, __ATOMIC_SEQ_CST);
    else
        __atomic_fetch_and(word, ~bit, __ATOMIC_SEQ_CST);
}

static bool evtchn_port_ok(struct evtchn *e, gp_port_t port)
{
    if (port == 0 || port >= EVTCHN_NR_PORTS) {
        GP_ERR(e->plat, "evtchn: port %u out of range", port);
        return false;
    }
    return true;
}

int evtchn_alloc_unbound(struct evtchn *e, gp_domid_t remote, gp_port_t *port)
{
    struct evtchn_alloc_unbound a = { .dom = DOMID_SELF, .remote_dom = remote };
    long rc = gp_event_channel_op(e->plat, EVTCHNOP_alloc_unbound, &a);
    if (rc) {
        GP_ERR(e->plat, "evtchn: alloc_unbound for dom%u failed (%ld)", remote, rc);
        return gp_error_from_xen(rc);
    }
    if (!evtchn_port_ok(e, a.port))
        return GP_EPROTO;
    evtchn_set_mask_bit(e, a.port, true);
    *port = a.port;
    return 0;
}

int evtchn_bind_interdomain(struct evtchn *e, gp_domid_t remote, gp_port_t remote_port,
                            gp_port_t *port)
{
    struct evtchn_bind_interdomain b = { .remote_dom = remote, .remote_port = remote_port };
    long rc = gp_event_channel_op(e->plat, EVTCHNOP_bind_interdomain, &b);
    if (rc) {
        GP_ERR(e->plat, "evtchn: bind_interdomain dom%u:%u failed (%ld)", remote, remote_port, rc);
        return gp_error_from_xen(rc);
    }
    if (!evtchn_port_ok(e, b.local_port))
        return GP_EPROTO;
    evtchn_set_mask_bit(e, b.local_port, true);
    *port = b.local_port;
    return 0;
}

int evtchn_bind(struct evtchn *e, gp_port_t port, gp_evtchn_handler fn, void *arg)
{
    const struct gp_platform *p = e->plat;
    if (!evtchn_port_ok(e, port))
        return GP_EINVAL;
    gp_os_lock_acquire(p, e->lock);
    if (e->slots[port].fn) {
        gp_os_lock_release(p, e->lock);
        GP_ERR(p, "evtchn: port %u already has a handler", port);
        return GP_EBUSY;
    }
    e->slots[port].arg = arg;
    e->slots[port].fn = fn;
    gp_os_lock_release(p, e->lock);
    evtchn_unmask(e, port);
    return 0;
}

void evtchn_mask(struct evtchn *e, gp_port_t port)
{
    if (evtchn_port_ok(e, port))
        evtchn_set_mask_bit(e, port, true);
}

void evtchn_unmask(struct evtchn *e, gp_port_t port)
{
    if (!evtchn_port_ok(e, port))
        return;
    /* Xen clears the mask and re-raises the upcall if the port is pending. */
    struct evtchn_unmask u = { .port = port };
    long rc = gp_event_channel_op(e->plat, EVTCHNOP_unmask, &u);
    if (rc) {
        GP_WARN(e->plat, "evtchn: unmask %u by hypercall failed (%ld): clearing locally", port, rc);
        evtchn_set_mask_bit(e, port, false);
    }
}

void evtchn_release(struct evtchn *e, gp_port_t port)
{
    const struct gp_platform *p = e->plat;
    if (!evtchn_port_ok(e, port))
        return;
    evtchn_set_mask_bit(e, port, true);
    gp_os_lock_acquire(p, e->lock);
    e->slots[port].fn = NULL;
    e->slots[port].arg = NULL;
    gp_os_lock_release(p, e->lock);
    /* This port's handler may have started on another vCPU before the slot
     * was cleared; its object must outlive it, so wait for it to return,
     * however long that vCPU is descheduled (a vCPU can be away for
     * milliseconds when there are more vCPUs than physical CPUs).  Unbind
     * is [passive], never called from a handler, so this cannot wait on
     * itself; other ports' handlers are not waited for. */
    while (__atomic_load_n(&e->slots[port].busy, __ATOMIC_SEQ_CST))
        evtchn_relax();
}

void evtchn_unbind(struct evtchn *e, gp_port_t port)
{
    const struct gp_platform *p = e->plat;
    if (!evtchn_port_ok(e, port))
        return;
    evtchn_release(e, port);
    struct evtchn_close c = { .port = port };
    long rc = gp_event_channel_op(p, EVTCHNOP_close, &c);
    if (rc)
        GP_WARN(p, "evtchn: close %u failed (%ld)", port, rc);
}

void evtchn_notify(struct evtchn *e, gp_port_t port)
{
    struct evtchn_send s = { .port = port };
    long rc = gp_event_channel_op(e->plat, EVTCHNOP_send, &s);
    if (rc)
        GP_ERR(e->plat, "evtchn: send on %u failed (%ld)", port, rc);
}

int evtchn_bind_vcpu(struct evtchn *e, gp_port_t port, unsigned vcpu)
{
    struct evtchn_bind_vcpu b = { .port = port, .vcpu = vcpu };
    long rc = gp_event_channel_op(e->plat, EVTCHNOP_bind_vcpu, &b);
    return rc ? gp_error_from_xen(rc) : 0;
}

void evtchn_get_stats(struct evtchn *e, struct evtchn_stats *s)
{
    s->upcalls = __atomic_load_n(&e->upcalls, __ATOMIC_RELAXED);
    s->events = e->events;
    s->unhandled = e->unhandled;
    s->ignored = __atomic_load_n(&e->ignored, __ATOMIC_RELAXED);
    s->cut_short = __atomic_load_n(&e->cut_short, __ATOMIC_RELAXED);
}
