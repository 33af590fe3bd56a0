/*
 * netfront: the network frontend of the core (xen/io/netif.h), what
 * xennet runs on Windows and linux/net runs in a Linux domU.
 *
 * Lifecycle: netfront_create (init: backend found, MAC read) ->
 * netfront_connect (negotiate, rings, Connected) -> frames flow ->
 * netfront_suspend / _resume_in_place or _resume_restored (frames queued
 * for transmit are kept) -> netfront_destroy (every queued frame
 * completes).  A backend that restarts is reconnected without the caller
 * (the xenbus lifecycle, gplpv/xenbus.h).
 *
 * Transmit takes frames of any fragment layout; their bytes are copied
 * into the device's own granted pages (granted once, at connect), so the
 * OS's buffers are never granted and a frame needs exactly as many ring
 * slots as it spans pages: no frame ever exceeds the backend's slot limit.
 * Checksum offload and GSO go to the backend when it offers them and are
 * done in software when it does not.  Each frame completes exactly once,
 * after all its slots came back.
 *
 * Receive uses rx-copy into a pool of pages granted once; every response
 * is validated (id, offset, size, slot count, GSO type and size) and a
 * bad one drops that frame with a counted error.  Frames are handed to
 * the OS with their checksum state: a blank checksum (NETRXF_csum_blank)
 * is filled in software, one the backend validated is reported as good,
 * others are verified when the OS asks for it.
 */
#ifndef GPLPV_NETFRONT_H
#define GPLPV_NETFRONT_H

#include "gplpv/netpkt.h"
#include "gplpv/xenbus.h"

struct netfront;

enum netfront_gso { NETFRONT_GSO_NONE, NETFRONT_GSO_TCPV4, NETFRONT_GSO_TCPV6 };
enum netfront_csum { NETFRONT_CSUM_UNKNOWN, NETFRONT_CSUM_GOOD, NETFRONT_CSUM_BAD };

#define NETFRONT_TX_CSUM 1u        /* TCP/UDP checksum still to be computed (offload) */

/* netfront's own part of a frame it holds (its queue link and how far the
 * frame has gone), laid out in core/netif/netfront_internal.h: opaque
 * here, for no one else to read or write. */
struct netfront_tx_opaque {
    struct netfront_tx *ptr_;
    unsigned word_[3];
    bool flag_;
    int status_;
};

struct netfront_tx {
    const struct netpkt_frag *frags;  /* may cover more than 'len' */
    unsigned nfrags;
    uint32_t len;                     /* frame length, Ethernet header included */
    unsigned flags;                   /* NETFRONT_TX_* */
    enum netfront_gso gso;            /* large TCP frame to be cut into 'mss' segments */
    uint16_t mss;
    /* Called exactly once: 0, GP_EIO (backend error/drop), GP_ESHUTDOWN. */
    void (*done)(void *arg, struct netfront_tx *t, int status);
    void *arg;
    struct netfront_tx_opaque own_;   /* netfront's while submitted */
};

/* A received frame; the fragments are valid during the rx callback only. */
struct netfront_rx {
    const struct netpkt_frag *frags;
    unsigned nfrags;
    uint32_t len;
    enum netfront_gso gso;            /* a large TCP frame (the backend did GRO/GSO) */
    uint16_t mss;
    enum netfront_csum csum;
    unsigned queue;
};

struct netfront_info {
    uint8_t mac[6];
    bool sg, gso_tcpv4, gso_tcpv6;    /* what the backend takes from us */
    bool csum_offload, ipv6_csum_offload;
    bool split_event_channels;
    bool ctrl_ring;                   /* a control ring is connected (feature-ctrl-ring) */
    unsigned queues;
    unsigned tx_ring_slots, rx_ring_slots;
    uint32_t max_tx_frame;            /* largest frame netfront_send accepts */
};

struct netfront_stats {
    uint64_t tx_frames, tx_slots, tx_notifications, tx_sw_segments, tx_sw_csum, tx_errors;
    uint64_t rx_frames, rx_slots, rx_notifications, rx_csum_filled, rx_csum_bad;
    uint64_t rx_dropped;              /* malformed frames and bad rx responses */
    uint64_t bad_responses, grant_ops, events;
    uint64_t tx_stale_responses;      /* answers on a tx ring given up by a restart: ignored */
    uint64_t tx_moved;                /* frames moved off queues a reconnect did not keep */
    uint64_t ctrl_timeouts, ctrl_late;  /* control requests unanswered; answers after that */
    /* pages whose grant the backend still held when ended: handed to the
     * quarantine (ever), released by it later, held by it now */
    uint64_t pages_quarantined, pages_released, pages_held;
};

struct netfront_opts {
    unsigned max_queues;              /* cap (default 4) */
    bool no_sg, no_gso, no_csum_offload;  /* what we advertise for receive */
    bool no_split_event_channels;
    bool no_ctrl_ring;                /* do not set up the control ring even if offered */
    bool rx_verify_csum;              /* verify checksums the backend did not vouch for */
    void (*rx)(void *arg, const struct netfront_rx *frame);
    void *arg;
};

int netfront_create(const struct gp_platform *p, struct xs_client *xs, const char *nodename,
                    const struct netfront_opts *o, struct netfront **out);
int netfront_connect(struct netfront *nf, uint64_t timeout_ns);
/* Queue a frame for transmit: GP_EINVAL for a malformed frame (too short,
 * too long, a GSO frame that is not TCP), GP_EIO once the device failed. */
int netfront_send(struct netfront *nf, struct netfront_tx *t);
void netfront_get_info(struct netfront *nf, struct netfront_info *info);
/* One request on the control ring (XEN_NETIF_CTRL_TYPE_* of xen/io/netif.h,
 * e.g. the hash settings a multi-queue OS needs), waited for up to
 * timeout_ns ([passive]).  0 with *data (may be NULL) the response's data;
 * GP_ENOTSUP (no control ring, or the backend does not do it), GP_EINVAL
 * (a parameter refused), GP_ENOSPC (buffer overflow), GP_ETIMEDOUT, GP_EIO
 * (the device failed, or the backend left 4 requests unanswered: the
 * control path is off until it answers them or reconnects, with a
 * rate-limited error).  A response that is not the answer to the request
 * (another id or type) is counted as bad and ignored; an answer to a
 * request that timed out is counted as late (stats.ctrl_late) and ignored. */
int netfront_ctrl_request(struct netfront *nf, uint16_t type, uint32_t d0, uint32_t d1,
                          uint32_t d2, uint32_t *data, uint64_t timeout_ns);
void netfront_get_stats(struct netfront *nf, struct netfront_stats *s);
bool netfront_is_broken(struct netfront *nf);
/* Quiesce for save/restore: stop using the rings; frames stay queued. */
void netfront_suspend(struct netfront *nf);
/* The suspend was cancelled: carry on with the same rings. */
void netfront_resume_in_place(struct netfront *nf);
/* Reconnect in a restored domain (fresh grant table and event channels). */
int netfront_resume_restored(struct netfront *nf, uint64_t timeout_ns);
/* Close with the backend; frames still queued or on the ring complete
 * with GP_ESHUTDOWN (none is left hanging). */
void netfront_destroy(struct netfront *nf);

#endif
