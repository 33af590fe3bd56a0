/* What the simulated hypervisor holds for a domain, for tests that check
 * a guest gave back what it took (a driver unloaded, a new one loaded in
 * its place): Xen's pages placed in its physmap, grant entries in use and
 * mapped by other domains, event channels, the upcall route. */
#include <string.h>

#include "hv_internal.h"

#include <xen/grant_table.h>
#include <xen/hvm/params.h>
#include <xen/io/xs_wire.h>

void sim_domain_state(struct sim_domain *d, struct sim_domain_state *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&d->x->lock);
    out->shared_info = d->shi;
    out->hypercall_via = d->hcall_via;
    out->hypercall_page = d->hypercall_msr_written ? d->hcall_page : NULL;
    out->hypercall_msr_writes = d->hypercall_msr_writes;
    out->callback_irq = d->params[HVM_PARAM_CALLBACK_IRQ];
    for (unsigned f = 0; f < d->nr_gframes; f++) {
        if (!d->gframes[f])
            continue;
        out->grant_frames++;
        const grant_entry_v1_t *e = d->gframes[f];
        for (unsigned i = 0; i < HV_ENTRIES_PER_FRAME; i++)
            if ((e[i].flags & GTF_type_mask) != GTF_invalid)
                out->grants_active++;
    }
    for (unsigned r = 0; r < HV_MAX_GRANT_FRAMES * HV_ENTRIES_PER_FRAME; r++)
        out->grants_mapped += d->map_readers[r] != 0;
    for (gp_port_t p = 1; p < HV_NR_PORTS; p++) {
        switch (d->ports[p].state) {
        case HV_PORT_FREE:
            break;
        case HV_PORT_UNBOUND:
            out->ports_unbound++;
            break;
        case HV_PORT_INTERDOMAIN:
            out->ports_interdomain++;
            break;
        case HV_PORT_XENSTORED:
            out->ports_xenstored++;
            break;
        }
    }
    gp_port_t sp = (gp_port_t)d->params[HVM_PARAM_STORE_EVTCHN];
    out->store_port_open = sp && sp < HV_NR_PORTS && d->ports[sp].state == HV_PORT_XENSTORED;
    const struct xenstore_domain_interface *ring = d->store_page;
    if (ring) {
        out->store_unread = __atomic_load_n(&ring->rsp_prod, __ATOMIC_SEQ_CST) -
                            __atomic_load_n(&ring->rsp_cons, __ATOMIC_SEQ_CST);
        out->store_unserved = __atomic_load_n(&ring->req_prod, __ATOMIC_SEQ_CST) -
                              __atomic_load_n(&ring->req_cons, __ATOMIC_SEQ_CST);
    }
    pthread_mutex_unlock(&d->x->lock);
    pthread_mutex_lock(&d->irq_m);
    out->upcall_routed = d->upcall_fn != NULL;
    pthread_mutex_unlock(&d->irq_m);
}
