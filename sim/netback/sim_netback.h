/*
 * sim_netback: the simulator's network backend.  It lives in dom0, sees
 * only what a real netback sees (the frontend's grant refs, interdomain
 * event channels, xenstore), copies transmitted frames out with grant
 * copy and received ones in (rx-copy), and switches frames the way dom0's
 * bridge would: back to the same frontend (loopback, the default) or to
 * the frontend of a linked netback.  Like Linux netback it passes blank
 * checksums and GSO frames on to a frontend that takes them, and
 * completes checksums or segments frames for one that does not (with the
 * core's netpkt helpers: tests check the results independently).
 * Faults: protocol-breaking rx and tx responses, held tx responses,
 * frames injected as if from the wire, restarts.
 * Creating it writes the frontend and backend nodes as `xl network-attach`
 * does.
 */
#ifndef GPLPV_SIM_NETBACK_H
#define GPLPV_SIM_NETBACK_H

#include "sim.h"

struct sim_netback;

struct sim_netback_opts {
    bool no_sg, no_gso, no_ipv6_csum, no_csum_offload, no_split, no_rx_copy;
    unsigned max_queues;          /* multi-queue-max-queues (default 1: not offered) */
    bool sink;                    /* transmitted frames go nowhere (benchmarks) */
    bool no_ctrl_ring;            /* do not offer feature-ctrl-ring */
    bool audit_stale;             /* count bytes granted pages show beyond the data */
};

struct sim_netback *sim_netback_create(struct sim_xen *x, struct sim_domain *dom0,
                                       gp_domid_t frontend, unsigned devid,
                                       const struct sim_netback_opts *o);
void sim_netback_destroy(struct sim_netback *b);
/* Frames sent through a go to b's frontend and the other way round. */
void sim_netback_link(struct sim_netback *a, struct sim_netback *b);

enum sim_net_corrupt {
    SIM_NET_OK,
    SIM_NET_RX_BAD_ID, SIM_NET_RX_BAD_OFFSET, SIM_NET_RX_ERROR, SIM_NET_RX_RUNAWAY,
    SIM_NET_RX_BAD_GSO, SIM_NET_RX_TOO_MANY_SLOTS, SIM_NET_RX_BEYOND,
    SIM_NET_TX_BAD_ID, SIM_NET_TX_EXTRA_RESPONSE, SIM_NET_TX_BAD_STATUS,
};
/* The next rx frame / tx response breaks the protocol in this way. */
void sim_netback_corrupt_next(struct sim_netback *b, enum sim_net_corrupt c);
/* Control-ring faults for the next request: a response with another id,
 * with another type, or none at all. */
enum sim_net_ctrl_fault { SIM_NET_CTRL_OK, SIM_NET_CTRL_BAD_ID, SIM_NET_CTRL_BAD_TYPE,
                          SIM_NET_CTRL_SILENT, SIM_NET_CTRL_MUTE };
/* SIM_NET_CTRL_MUTE lasts: every request is kept unanswered (up to 64 of
 * them) until SIM_NET_CTRL_OK is set, which answers them all then (late);
 * a disconnect forgets them and the fault. */
void sim_netback_ctrl_fault(struct sim_netback *b, enum sim_net_ctrl_fault f);
/* Hold tx responses until released (frames stay on the ring). */
void sim_netback_hold_tx(struct sim_netback *b, bool hold);
/* Drop every transmitted frame with NETIF_RSP_ERROR (or stop doing so). */
/* Adds delta to every tx and rx ring index, the backend's own and the
 * shared ones (the frontend moves its own): tests start the rings just
 * below 2^32.  delta must be a multiple of the ring size, the rings idle. */
void sim_netback_shift_ring_indices(struct sim_netback *b, uint32_t delta);
void sim_netback_fail_tx(struct sim_netback *b, bool fail);

#define SIM_NET_CSUM_BLANK 1u        /* NETRXF_csum_blank | NETRXF_data_validated */
#define SIM_NET_VALIDATED 2u         /* NETRXF_data_validated */
/* Deliver a frame to the frontend as if it came from the wire, with the
 * given rx flags and GSO (0 = none, 1 = TCPv4, 2 = TCPv6) as they are:
 * not checked, not fixed. */
void sim_netback_inject(struct sim_netback *b, const void *frame, uint32_t len, unsigned flags,
                        unsigned gso_type, uint16_t mss);
/* The backend goes away (Closing, Closed) and comes back (InitWait). */
void sim_netback_restart(struct sim_netback *b);
/* Offer these features (queues, split channels, offloads, control ring)
 * from the next connect on: a restart then looks like a migration to a
 * differently configured host. */
void sim_netback_reconfigure(struct sim_netback *b, const struct sim_netback_opts *o);
/* Write (or, with NULL, remove) one backend key as it is: hostile values. */
void sim_netback_write_key(struct sim_netback *b, const char *key, const char *value);
/* A restart in two steps that answers late: _begin says Closing, waits
 * for the frontend to give the rings up (true if it did), then answers
 * every tx slot it held on the old ring and notifies; _end disconnects and
 * comes back (InitWait).  No other transition runs in between. */
bool sim_netback_restart_late_begin(struct sim_netback *b);
void sim_netback_restart_late_end(struct sim_netback *b);
/* A backend that does not let go: from now on a disconnect keeps its ring
 * mappings (the frontend's end of access is refused for them) until
 * sim_netback_release_mappings, which unmaps them and returns how many it
 * kept; *changed counts those the frontend wrote into meanwhile (a page
 * it reused while still mapped). */
void sim_netback_keep_mappings(struct sim_netback *b, bool keep);
/* Take the kept pages' contents as they are now (once the frontend has
 * given them up: until it sees the disconnect it may still write its own
 * ring), for sim_netback_release_mappings to compare against. */
void sim_netback_snapshot_mappings(struct sim_netback *b);
unsigned sim_netback_release_mappings(struct sim_netback *b, unsigned *changed);
/* A restart whose Closing and Closed the frontend never sees, as when one
 * watch event reads the state only after the backend is back in InitWait. */
void sim_netback_restart_unseen(struct sim_netback *b);

struct sim_netback_stats {
    uint64_t tx_frames, tx_slots, tx_gso, tx_csum_blank, tx_errors;
    uint64_t rx_frames, rx_slots, rx_gso, rx_dropped, segmented, csum_completed;
    uint64_t notifications, connects;
    uint64_t ctrl_requests;
    uint64_t stale_bytes;         /* audit_stale: non-zero bytes seen beyond the data */
};
void sim_netback_get_stats(struct sim_netback *b, struct sim_netback_stats *s);

#endif
