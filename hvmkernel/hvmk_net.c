/* hvmkernel: the core's netfront against the real Linux netback in dom0 —
 * the data path xennet runs on Windows.  Connect (both ends Connected, the
 * negotiated features printed), then real frames with dom0's Linux stack
 * over the bridge xenbr0: ARP, ICMP echo of several sizes (one needing IP
 * fragmentation both ways) verified byte for byte, a SYN to a closed port
 * with the checksum ours, offloaded, or wrong (the RST must come back, or
 * nothing), and a TCP connection sending GSO frames to a listener in dom0
 * that answers with a CRC of what it got and the bytes themselves. */
#include <string.h>

#include "gplpv/log.h"
#include "gplpv/netfront.h"
#include "gplpv/xs.h"
#include "hvmk.h"
#include "hvmk_net.h"
#include "hvmk_platform.h"
#include "hvmk_steps.h"

#include <xen/io/netif.h>

#define HVMK_NET_IP 0x0a630002u        /* 10.99.0.2, us */
#define HVMK_NET_PEER 0x0a630001u      /* 10.99.0.1, dom0's xenbr0 */
#define HVMK_NET_CLOSED_PORT 9         /* nothing listens there in dom0 */
#define HVMK_NET_SINK_PORT 5001        /* the job's listener */
#define HVMK_NET_TCP_BYTES (256u * 1024u)

static uint8_t hvmk_icmp_pattern(uint16_t seq, uint32_t i)
{
    return (uint8_t)(seq * 17u + i * 5u + (i >> 7));
}

/* Reassembly of the reply: fragments of one datagram id, in any order. */
struct hvmk_reasm {
    uint8_t *buf;
    uint32_t cap, got, total;          /* total 0 until the last fragment came */
    uint16_t id;
    bool started;
    unsigned frags;
};

/* Add a fragment; true when the datagram is whole. */
static bool hvmk_reasm_add(struct hvmk_reasm *r, const struct hvmk_ip_view *v, const uint8_t *p)
{
    uint32_t off = (uint32_t)(v->frag & 0x1fff) * 8u;
    bool more = (v->frag & 0x2000) != 0;
    if (!r->started) {
        r->started = true;
        r->id = v->id;
    } else if (v->id != r->id) {
        return false;
    }
    if (off + v->l4_len > r->cap)
        return false;
    memcpy(r->buf + off, p, v->l4_len);
    r->got += v->l4_len;
    r->frags++;
    if (!more)
        r->total = off + v->l4_len;
    return r->total && r->got == r->total;
}

static bool hvmk_net_ping(struct hvmk_net *n, uint32_t size, uint16_t seq, char *why,
                          unsigned wlen)
{
    uint32_t l4 = 8 + size;
    uint8_t *msg = hvmk_malloc(l4), *frame = hvmk_malloc(1514);
    struct hvmk_reasm r = { .buf = hvmk_malloc(l4 + 1480), .cap = l4 + 1480 };
    bool ok = msg && frame && r.buf;
    if (!ok) {
        gp_snprintf(why, wlen, "no memory");
        goto out;
    }
    msg[0] = 8;
    msg[1] = 0;
    hvmk_put16(msg + 2, 0);
    hvmk_put16(msg + 4, 0x4750);
    hvmk_put16(msg + 6, seq);
    for (uint32_t i = 0; i < size; i++)
        msg[8 + i] = hvmk_icmp_pattern(seq, i);
    hvmk_put16(msg + 2, hvmk_inet_csum(msg, l4, 0));
    unsigned sent = 0;
    for (uint32_t off = 0; off < l4; off += 1480) {
        uint32_t chunk = l4 - off < 1480 ? l4 - off : 1480;
        uint16_t frag = (uint16_t)(off / 8) | (off + chunk < l4 ? 0x2000 : 0);
        uint32_t h = hvmk_net_ip_header(n, frame, HVMK_IP_ICMP, chunk, (uint16_t)(0x1000 + seq),
                                        frag);
        memcpy(frame + h, msg + off, chunk);
        int err = hvmk_net_send(n, frame, h + chunk, 0, NETFRONT_GSO_NONE, 0);
        if (err) {
            gp_snprintf(why, wlen, "sending fragment %u: %s", sent, gp_strerror(err));
            ok = false;
            goto out;
        }
        sent++;
    }
    ok = false;
    gp_snprintf(why, wlen, "no echo reply within 3 s");
    uint64_t deadline = hvmk_now_ns() + 3000000000ull;
    struct hvmk_frame f;
    while (hvmk_net_recv(n, &f, deadline)) {
        struct hvmk_ip_view v;
        if (!hvmk_net_ip_parse(n, &f, &v) || v.proto != HVMK_IP_ICMP)
            continue;
        const uint8_t *p = f.data + v.l4_off;
        if ((v.frag & 0x3fff) == 0) {
            r.started = true;
            r.frags = 1;
            if (v.l4_len > r.cap)
                continue;
            memcpy(r.buf, p, v.l4_len);
            r.total = r.got = v.l4_len;
        } else if (!hvmk_reasm_add(&r, &v, p)) {
            continue;
        }
        const uint8_t *m = r.buf;
        if (r.total < 8 || m[0] != 0 || hvmk_get16(m + 4) != 0x4750 || hvmk_get16(m + 6) != seq) {
            r = (struct hvmk_reasm){ .buf = r.buf, .cap = r.cap };
            continue;                  /* not our reply */
        }
        bool csum = hvmk_inet_csum(m, r.total, 0) == 0;
        bool same = r.total == l4 && m[1] == 0 && memcmp(m + 4, msg + 4, l4 - 4) == 0;
        ok = csum && same;
        gp_snprintf(why, wlen, "%u-byte payload in %u frame(s), reply in %u frame(s): %s, "
                    "ICMP checksum %s", size, sent, r.frags,
                    same ? "identical" : "DIFFERS", csum ? "valid" : "INVALID");
        break;
    }
out:
    hvmk_mfree(msg);
    hvmk_mfree(frame);
    hvmk_mfree(r.buf);
    return ok;
}

/* Both ends' states as xenstore has them. */
static void hvmk_net_states(struct xs_client *xs, const char *node, char *out, size_t len)
{
    char path[128], *be = NULL, *fs = NULL, *bs = NULL;
    gp_snprintf(path, sizeof(path), "%s/state", node);
    xs_read(xs, XS_TXN_NONE, path, &fs, NULL);
    gp_snprintf(path, sizeof(path), "%s/backend", node);
    if (xs_read(xs, XS_TXN_NONE, path, &be, NULL) == 0) {
        gp_snprintf(path, sizeof(path), "%s/state", be);
        xs_read(xs, XS_TXN_NONE, path, &bs, NULL);
    }
    gp_snprintf(out, len, "frontend state %s, backend state %s", fs ? fs : "?", bs ? bs : "?");
    if (fs)
        xs_free(xs, fs);
    if (bs)
        xs_free(xs, bs);
    if (be)
        xs_free(xs, be);
}

static void hvmk_net_print_stats(struct hvmk_net *n)
{
    struct netfront_stats st;
    netfront_get_stats(n->nf, &st);
    hvmk_printf("hvmk: net: rx: %u GSO frame(s), %u larger than 1514 bytes, largest %u, "
                "%u dropped by the test queue, %u ARP request(s) answered\n", n->rx_gso,
                n->rx_big, n->rx_largest, n->rx_dropped, n->arp_answered);
    hvmk_printf("hvmk: netfront: tx %llu frames %llu slots %llu notifications, %llu sw csum, "
                "%llu errors; rx %llu frames %llu slots, %llu csum filled, %llu bad csum, "
                "%llu dropped; %llu bad responses, %llu events\n",
                (unsigned long long)st.tx_frames, (unsigned long long)st.tx_slots,
                (unsigned long long)st.tx_notifications, (unsigned long long)st.tx_sw_csum,
                (unsigned long long)st.tx_errors, (unsigned long long)st.rx_frames,
                (unsigned long long)st.rx_slots, (unsigned long long)st.rx_csum_filled,
                (unsigned long long)st.rx_csum_bad, (unsigned long long)st.rx_dropped,
                (unsigned long long)st.bad_responses, (unsigned long long)st.events);
}

/* Open the vif with options 'o' and report the connection as 'step'. */
static struct hvmk_net *hvmk_net_connect_step(struct gp_platform *plat, struct xs_client *xs,
                                              const char *node, const struct netfront_opts *o,
                                              const char *step)
{
    char why[320], states[64];
    struct hvmk_net *n = NULL;
    int err = hvmk_net_open(plat, xs, node, o, HVMK_NET_IP, HVMK_NET_PEER, &n);
    hvmk_net_states(xs, node, states, sizeof(states));
    if (err) {
        gp_snprintf(why, sizeof(why), "%s: %s (%s)", node, gp_strerror(err), states);
        hvmk_step_result(step, false, why);
        return NULL;
    }
    const struct netfront_info *in = &n->info;
    const uint8_t *m = in->mac;
    gp_snprintf(why, sizeof(why), "%s: %s; mac %02x:%02x:%02x:%02x:%02x:%02x, %u queue(s), "
                "backend takes sg %d, gso tcpv4 %d tcpv6 %d, csum offload %d ipv6 %d; split "
                "event channels %d; we take gso %d, csum offload %d; rings %u/%u", node,
                states, m[0], m[1], m[2], m[3], m[4], m[5], in->queues, in->sg, in->gso_tcpv4,
                in->gso_tcpv6, in->csum_offload, in->ipv6_csum_offload,
                in->split_event_channels, !o->no_gso, !o->no_csum_offload, in->tx_ring_slots,
                in->rx_ring_slots);
    hvmk_printf("hvmk: netfront: %s\n", why);
    bool connected = strstr(states, "frontend state 4,") && strstr(states, "backend state 4");
    hvmk_step_result(step, connected, why);
    return n;
}

static bool hvmk_net_exchange_step(struct hvmk_net *n, uint32_t bytes, const char *step,
                                   bool expect_rx_gso)
{
    char why[320];
    unsigned gso0 = n->rx_gso, big0 = n->rx_big;
    bool ok = hvmk_net_tcp_exchange(n, HVMK_NET_SINK_PORT, bytes, why, sizeof(why));
    hvmk_printf("hvmk: net: tcp: %s\n", why);
    unsigned gso = n->rx_gso - gso0, big = n->rx_big - big0;
    if (ok && !expect_rx_gso && (gso || big)) {
        gp_snprintf(why, sizeof(why), "%u GSO / %u oversized frame(s) received though we "
                    "take no GSO", gso, big);
        ok = false;
    }
    hvmk_net_print_stats(n);
    hvmk_step_result(step, ok, why);
    return ok;
}

struct hvmk_net *hvmk_step_netfront(struct gp_platform *plat, struct xs_client *xs)
{
    char **ids = NULL, why[320], node[64];
    unsigned nids = 0;
    if (xs_directory(xs, XS_TXN_NONE, "device/vif", &ids, &nids) != 0 || nids == 0) {
        hvmk_step_result("netfront-connect", false, "no device/vif in xenstore");
        return NULL;
    }
    gp_snprintf(node, sizeof(node), "device/vif/%s", ids[0]);
    xs_free(xs, ids);
    /* 1: everything the backend offers (queues, split channels, offloads both ways) */
    struct netfront_opts full = { .rx_verify_csum = true };
    struct hvmk_net *n = hvmk_net_connect_step(plat, xs, node, &full, "netfront-connect");
    if (!n)
        return NULL;
    /* the control ring Linux netback offers: a refused algorithm, Toeplitz
     * chosen, then the hash types and mapping size it supports (netback has
     * no flags before an algorithm is set), each answer checked */
    uint32_t flags = 0, size = 0;
    int e0 = netfront_ctrl_request(n->nf, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, 99, 0, 0, NULL,
                                   2000000000ull);
    int e1 = netfront_ctrl_request(n->nf, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
                                   XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0, NULL,
                                   2000000000ull);
    int e2 = netfront_ctrl_request(n->nf, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, &flags,
                                   2000000000ull);
    int e3 = netfront_ctrl_request(n->nf, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0,
                                   &size, 2000000000ull);
    gp_snprintf(why, sizeof(why), "ctrl ring %d: algorithm 99 %s, toeplitz %s, hash flags %s "
                "0x%x, mapping size %s %u", n->info.ctrl_ring, gp_strerror(e0), gp_strerror(e1),
                gp_strerror(e2), flags, gp_strerror(e3), size);
    hvmk_printf("hvmk: net: %s\n", why);
    hvmk_step_result("netfront-ctrl-ring", n->info.ctrl_ring && e0 == GP_EINVAL && e1 == 0 &&
                                               e2 == 0 && flags != 0 && e3 == 0 && size > 0,
                     why);
    bool ok = hvmk_net_arp(n, why, sizeof(why));
    hvmk_printf("hvmk: net: arp: %s\n", why);
    hvmk_step_result("net-arp-reply", ok, why);
    if (!ok)
        return n;
    static const uint32_t sizes[] = { 56, 1400, 1472, 4000 };
    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char name[40];
        gp_snprintf(name, sizeof(name), "net-icmp-echo-%u%s", sizes[i],
                    sizes[i] > 1472 ? "-fragmented" : "");
        ok = hvmk_net_ping(n, sizes[i], (uint16_t)(i + 1), why, sizeof(why));
        hvmk_printf("hvmk: net: ping: %s\n", why);
        hvmk_step_result(name, ok, why);
    }
    static const char *const modes[] = { "net-tcp-rst-csum-software", "net-tcp-rst-csum-offload",
                                         "net-tcp-bad-csum-dropped" };
    for (unsigned mode = 0; mode < 3; mode++) {
        ok = hvmk_net_tcp_syn_rst(n, mode, HVMK_NET_CLOSED_PORT, why, sizeof(why));
        hvmk_printf("hvmk: net: tcp syn (%s): %s\n", modes[mode], why);
        hvmk_step_result(modes[mode], ok, why);
    }
    hvmk_net_exchange_step(n, HVMK_NET_TCP_BYTES, "net-tcp-gso-exchange", true);
    hvmk_net_close(n);

    /* 2: a new instance on the node the first left Closed, taking no
     * offloads: netback must checksum and segment for us */
    struct netfront_opts plain = { .no_csum_offload = true, .no_gso = true,
                                   .no_split_event_channels = true, .max_queues = 1,
                                   .rx_verify_csum = true };
    n = hvmk_net_connect_step(plat, xs, node, &plain, "netfront-new-instance-no-rx-offloads");
    if (n) {
        ok = hvmk_net_arp(n, why, sizeof(why)) && hvmk_net_ping(n, 1472, 7, why, sizeof(why));
        hvmk_printf("hvmk: net: ping: %s\n", why);
        hvmk_step_result("net-no-offloads-icmp-echo-1472", ok, why);
        ok = hvmk_net_tcp_syn_rst(n, 0, HVMK_NET_CLOSED_PORT, why, sizeof(why));
        hvmk_printf("hvmk: net: tcp syn: %s\n", why);
        hvmk_step_result("net-no-offloads-tcp-rst", ok, why);
        hvmk_net_exchange_step(n, HVMK_NET_TCP_BYTES, "net-no-offloads-tcp-exchange", false);
        hvmk_net_close(n);
    }

    /* 3: all offloads again; this one stays open across save/restore */
    n = hvmk_net_connect_step(plat, xs, node, &full, "netfront-reconnect");
    if (n && !hvmk_net_arp(n, why, sizeof(why)))
        hvmk_printf("hvmk: net: arp: %s\n", why);
    return n;
}

void hvmk_net_suspend(void *arg)
{
    struct hvmk_net *n = arg;
    netfront_suspend(n->nf);
}

int hvmk_net_resume(void *arg, bool cancelled)
{
    struct hvmk_net *n = arg;
    if (cancelled) {
        netfront_resume_in_place(n->nf);
        return 0;
    }
    return netfront_resume_restored(n->nf, GP_S(20));
}

void hvmk_step_net_after_restore(struct hvmk_net *n, const char *how)
{
    char why[320], states[64], step[64];
    hvmk_net_states(n->xs, n->node, states, sizeof(states));
    /* the bridge learns our address on the new domain's port */
    bool ok = !netfront_is_broken(n->nf) && hvmk_net_arp(n, why, sizeof(why)) &&
              hvmk_net_ping(n, 1400, 9, why, sizeof(why));
    hvmk_printf("hvmk: net: after %s (%s): ping: %s\n", how, states, why);
    gp_snprintf(step, sizeof(step), "net-after-%s-icmp-echo", how);
    hvmk_step_result(step, ok, why);
    gp_snprintf(step, sizeof(step), "net-after-%s-tcp-exchange", how);
    hvmk_net_exchange_step(n, 64u * 1024u, step, true);
}
