/* sim_netback's control ring (xen/io/netif.h, feature-ctrl-ring): the
 * hash requests Linux netback answers - flags, algorithm, key, mapping
 * size and mapping - with its status codes, and faults on demand. */
#include <stdio.h>
#include <string.h>

#include "sim_netback_internal.h"

#define NB_HASH_FLAGS (XEN_NETIF_CTRL_HASH_TYPE_IPV4 | XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP | \
                       XEN_NETIF_CTRL_HASH_TYPE_IPV6 | XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP)
#define NB_MAPPING_MAX 128u

int nb_ctrl_connect_locked(struct sim_netback *b)
{
    struct nb_ctrl *c = &b->ctrl;
    long long ref = sim_back_read_fe(&b->bk, "ctrl-ring-ref", -1);
    long long port = sim_back_read_fe(&b->bk, "event-channel-ctrl", -1);
    if (ref < 0 && port < 0)
        return 0;                               /* the frontend did not set one up */
    if (b->o.no_ctrl_ring || ref < 0 || port <= 0)
        return -1;                              /* half a control ring, or not offered */
    c->va = sim_gnt_map(b->bk.x, 0, b->bk.fe, (gp_grant_ref_t)ref, true);
    if (!c->va)
        return -1;
    c->ref = (gp_grant_ref_t)ref;
    BACK_RING_INIT(&c->ring, (xen_netif_ctrl_sring_t *)c->va, GP_PAGE_SIZE);
    gp_port_t lport;
    if (sim_evtchn_bind_interdomain(b->bk.x, 0, b->bk.fe, (gp_port_t)port, &lport) != 0 ||
        gp_xen_evtchn_bind(b->bk.p, lport, sim_back_event, &b->bk) != 0) {
        sim_gnt_unmap(b->bk.x, 0, b->bk.fe, c->ref, true);
        c->va = NULL;
        return -1;
    }
    c->port = lport;
    c->up = true;
    c->hash_flags = 0;
    c->hash_alg = XEN_NETIF_CTRL_HASH_ALGORITHM_NONE;
    c->mapping_size = 1;
    return 0;
}

void nb_ctrl_disconnect_locked(struct sim_netback *b)
{
    struct nb_ctrl *c = &b->ctrl;
    if (!c->up)
        return;
    sim_back_ports_add(&b->bk.unbind, c->port);
    sim_gnt_unmap(b->bk.x, 0, b->bk.fe, c->ref, true);
    c->va = NULL;
    c->up = false;
    c->nheld = 0;
    if (c->fault == SIM_NET_CTRL_MUTE)
        c->fault = SIM_NET_CTRL_OK;
}

static uint32_t nb_ctrl_answer(struct nb_ctrl *c, const struct xen_netif_ctrl_request *rq,
                               uint32_t *data)
{
    *data = 0;
    switch (rq->type) {
    case XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS:
        /* as Linux netback: no flags before an algorithm is chosen */
        if (c->hash_alg == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)
            return XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
        *data = NB_HASH_FLAGS;
        return XEN_NETIF_CTRL_STATUS_SUCCESS;
    case XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS:
        if (c->hash_alg == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)
            return XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
        if (rq->data[0] & ~NB_HASH_FLAGS)
            return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        c->hash_flags = rq->data[0];
        return XEN_NETIF_CTRL_STATUS_SUCCESS;
    case XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM:
        if (rq->data[0] != XEN_NETIF_CTRL_HASH_ALGORITHM_NONE &&
            rq->data[0] != XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ)
            return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        c->hash_alg = rq->data[0];
        return XEN_NETIF_CTRL_STATUS_SUCCESS;
    case XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE:
        *data = NB_MAPPING_MAX;
        return XEN_NETIF_CTRL_STATUS_SUCCESS;
    case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE:
        if (rq->data[0] == 0 || rq->data[0] > NB_MAPPING_MAX)
            return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        c->mapping_size = rq->data[0];
        return XEN_NETIF_CTRL_STATUS_SUCCESS;
    default:
        return XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
    }
}

void nb_ctrl_service_locked(struct sim_netback *b)
{
    struct nb_ctrl *c = &b->ctrl;
    if (!c->up)
        return;
    bool notify = false;
    for (;;) {
        RING_IDX rp = c->ring.sring->req_prod;
        xen_rmb();
        while (c->ring.req_cons != rp) {
            struct xen_netif_ctrl_request rq;
            memcpy(&rq, RING_GET_REQUEST(&c->ring, c->ring.req_cons), sizeof(rq));
            c->ring.req_cons++;
            b->st.ctrl_requests++;
            struct xen_netif_ctrl_response rsp = { .id = rq.id, .type = rq.type };
            rsp.status = nb_ctrl_answer(c, &rq, &rsp.data);
            enum sim_net_ctrl_fault f = c->fault;
            if (f == SIM_NET_CTRL_MUTE) {
                if (c->nheld < sizeof(c->held) / sizeof(c->held[0]))
                    c->held[c->nheld++] = rsp;
                continue;
            }
            c->fault = SIM_NET_CTRL_OK;
            if (f == SIM_NET_CTRL_SILENT)
                continue;
            if (f == SIM_NET_CTRL_BAD_ID)
                rsp.id = (uint16_t)(rq.id + 7);
            if (f == SIM_NET_CTRL_BAD_TYPE)
                rsp.type = (uint16_t)(rq.type + 1);
            memcpy(RING_GET_RESPONSE(&c->ring, c->ring.rsp_prod_pvt), &rsp, sizeof(rsp));
            c->ring.rsp_prod_pvt++;
            int n = 0;
            RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&c->ring, n);
            notify |= n != 0;
        }
        int more = 0;
        RING_FINAL_CHECK_FOR_REQUESTS(&c->ring, more);
        if (!more)
            break;
    }
    if (notify) {
        b->st.notifications++;
        gp_xen_evtchn_notify(b->bk.p, c->port);
    }
}

void sim_netback_ctrl_fault(struct sim_netback *b, enum sim_net_ctrl_fault f)
{
    pthread_mutex_lock(&b->bk.m);
    struct nb_ctrl *c = &b->ctrl;
    c->fault = f;
    bool notify = false;
    if (f != SIM_NET_CTRL_MUTE && c->up && c->nheld) {
        for (unsigned i = 0; i < c->nheld; i++) {     /* the late answers */
            memcpy(RING_GET_RESPONSE(&c->ring, c->ring.rsp_prod_pvt), &c->held[i],
                   sizeof(c->held[i]));
            c->ring.rsp_prod_pvt++;
        }
        c->nheld = 0;
        int n = 0;
        RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&c->ring, n);
        notify = n != 0;
    }
    gp_port_t port = c->port;
    pthread_mutex_unlock(&b->bk.m);
    if (notify)
        gp_xen_evtchn_notify(b->bk.p, port);
}
