/*
 * xs_ring: the xenstore transport of a guest that talks to xenstored
 * through the shared ring page (struct xenstore_domain_interface,
 * xen/io/xs_wire.h) and its event channel: the HVM way (Windows, the bare
 * test kernel, the simulator's guests).  The page and port come from
 * HVM_PARAM_STORE_PFN / HVM_PARAM_STORE_EVTCHN.
 *
 * One sender at a time (xs_client serialises its messages).
 */
#ifndef GPLPV_XS_RING_H
#define GPLPV_XS_RING_H

#include "gplpv/platform.h"

/* Binds 'port' with p->evtchn_bind; notifies with p->evtchn_notify. */
int xs_ring_create(const struct gp_platform *p, void *ring_page, gp_port_t port,
                   struct gp_xs_transport **out);
void xs_ring_destroy(struct gp_xs_transport *t);
/* The same transport on a restored domain's ring page and port (the old
 * port is gone, nothing of it is touched); allocates nothing, so a resume
 * from hibernation can run before the OS has memory to give. */
int xs_ring_reconnect(struct gp_xs_transport *t, void *ring_page, gp_port_t port);

#endif
