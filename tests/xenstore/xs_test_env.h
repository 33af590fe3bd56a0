/* Test environment for the xenstore client: the simulator's xenstored and
 * a domain platform from sim_os, connected either directly or through a
 * real xenstore ring page whose event channel is wired to xenstored. */
#ifndef XS_TEST_ENV_H
#define XS_TEST_ENV_H

#include <pthread.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>

#include "gp_test.h"
#include "gplpv/log.h"
#include "gplpv/xs.h"
#include "xenstore/xs_ring.h"
#include "os/sim_os.h"
#include "xenstored/sim_xenstored.h"

struct xs_env {
    struct sim_xenstored *xsd;
    struct sim_os *os;
    struct gp_platform plat;
    struct gp_xen xen;             /* event channels of the ring (shims below) */
    struct gp_xs_transport *t;
    /* ring wiring */
    void *ring_page;
    gp_evtchn_handler ring_handler;
    void *ring_arg;
    gp_domid_t domid;
};

/* One ring-wired env at a time: the platform's ctx belongs to sim_os, so
 * the event-channel glue finds the env through this slot. */
static struct xs_env *xs_env_slot;

static inline void xs_env_notify_shim(void *ctx, gp_port_t port)
{
    (void)ctx;
    (void)port;
    sim_xenstored_ring_kick(xs_env_slot->xsd, xs_env_slot->domid);
}

static inline int xs_env_bind_shim(void *ctx, gp_port_t port, gp_evtchn_handler fn, void *arg)
{
    (void)ctx;
    (void)port;
    xs_env_slot->ring_arg = arg;
    xs_env_slot->ring_handler = fn;
    return 0;
}

static inline void xs_env_unbind_shim(void *ctx, gp_port_t port)
{
    (void)ctx;
    (void)port;
    xs_env_slot->ring_handler = NULL;
}

/* xenstored produced output or consumed input: the store channel fires. */
static inline void xs_env_xsd_notify(void *arg)
{
    struct xs_env *e = arg;
    gp_evtchn_handler h = e->ring_handler;
    if (h)
        h(e->ring_arg, 1);
}

/* ring_start: where the ring page's free-running indices begin (xenstored
 * may hand over a page already used, e.g. after a restore). */
static inline void xs_env_init_at(struct xs_env *e, struct sim_xenstored *xsd, gp_domid_t domid,
                                  bool ring, uint32_t ring_start)
{
    memset(e, 0, sizeof(*e));
    e->xsd = xsd;
    e->domid = domid;
    e->os = sim_os_create(domid ? "guest" : "dom0", 64, 0x1000, true);
    sim_os_fill(e->os, &e->plat);
    if (domid)
        sim_xenstored_introduce(xsd, domid);
    if (!ring) {
        e->t = sim_xenstored_direct(xsd, domid);
        return;
    }
    xs_env_slot = e;
    e->xen.evtchn_notify = xs_env_notify_shim;
    e->xen.evtchn_bind = xs_env_bind_shim;
    e->xen.evtchn_unbind = xs_env_unbind_shim;
    e->plat.xen = &e->xen;
    uint64_t gfn;
    e->ring_page = gp_os_page_alloc(&e->plat, &gfn);
    struct xenstore_domain_interface *intf = e->ring_page;
    intf->req_cons = intf->req_prod = intf->rsp_cons = intf->rsp_prod = ring_start;
    sim_xenstored_connect_ring(xsd, domid, e->ring_page, xs_env_xsd_notify, e);
    if (xs_ring_create(&e->plat, e->ring_page, 1, &e->t) != 0)
        e->t = NULL;
}

static inline void xs_env_init(struct xs_env *e, struct sim_xenstored *xsd, gp_domid_t domid,
                               bool ring)
{
    xs_env_init_at(e, xsd, domid, ring, 0);
}

static inline void xs_env_fini(struct xs_env *e, bool ring)
{
    if (ring) {
        sim_xenstored_disconnect(e->xsd, e->domid);
        xs_ring_destroy(e->t);
        gp_os_page_free(&e->plat, e->ring_page);
    } else {
        sim_xenstored_direct_close(e->xsd, e->t);
    }
    sim_os_destroy(e->os);
}

static inline bool xs_env_slow(void)
{
    return getenv("GP_TEST_SLOW") != NULL;
}

/* 4000 bytes (base + i % mod) written to "big" through c, read back whole
 * and checked: a value longer than what a ring holds at once. */
static inline void xs_env_big_round_trip(struct xs_client *c, char base, unsigned mod)
{
    char big[4000];
    for (unsigned i = 0; i < sizeof(big); i++)
        big[i] = (char)(base + i % mod);
    CHECK_EQ(xs_write(c, XS_TXN_NONE, "big", big, sizeof(big)), 0);
    char *v = NULL;
    size_t len = 0;
    CHECK_EQ(xs_read(c, XS_TXN_NONE, "big", &v, &len), 0);
    CHECK_EQ(len, sizeof(big));
    CHECK(v && memcmp(v, big, sizeof(big)) == 0);
    xs_free(c, v);
}

#endif
