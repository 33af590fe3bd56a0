/*
 * Inside the xenstore client: the connection state shared by
 * xs_client.c (requests, replies, the receive parser), xs_watch.c
 * (watches and the ordered delivery of their events) and xs_ops.c /
 * xs_txn.c (the operations built on xs_request).
 */
#ifndef GPLPV_XS_INTERNAL_H
#define GPLPV_XS_INTERNAL_H

#include "gplpv/log.h"
#include "gplpv/xs.h"

#include <xen/io/xs_wire.h>   /* after <stdint.h>: the header needs it */

#define XS_DEFAULT_TIMEOUT_NS GP_S(30)
#define XS_MAX_PENDING_EVENTS 4096     /* queued watch events before we drop */
#define XS_TOKEN_MAX 24

struct xs_req {
    struct xs_req *next;
    uint32_t req_id;
    uint32_t type;
    struct gp_event *done_event;
    bool done;
    int error;            /* 0, or GP_E* from an XS_ERROR reply / protocol error */
    char *body;           /* reply payload + NUL, owned until handed to the caller */
    uint32_t len;
};

struct xs_watch {
    struct xs_watch *next;
    struct xs_client *client;
    char *path;
    char token[XS_TOKEN_MAX];
    xs_watch_fn fn;
    void *arg;
    bool removed;
};

struct xs_event {
    struct xs_event *next;
    char *path;           /* one allocation: path\0token\0 */
    char *token;
};

struct xs_client {
    const struct gp_platform *plat;
    struct gp_xs_transport *t;
    struct gp_lock *lock;            /* everything below */
    uint64_t timeout_ns;

    /* requests */
    struct xs_req *inflight;
    uint32_t next_req_id;
    bool sending;                    /* one message on the wire at a time */
    struct gp_event *send_free;
    bool suspended;
    bool shutdown;
    struct gp_event *resumed;

    /* receive parser */
    struct gp_lock *rx_lock;
    struct xsd_sockmsg rx_hdr;
    uint32_t rx_hdr_got;
    char *rx_body;                   /* XENSTORE_PAYLOAD_MAX + 1 */
    uint32_t rx_body_got;

    /* watches and their events */
    struct xs_watch *watches;
    uint32_t next_token;
    struct xs_event *ev_head, *ev_tail;
    unsigned ev_count;
    bool pump_scheduled;
    bool pump_hold;                        /* suspend: no callback may start */
    const struct xs_watch *pump_current;   /* the watch whose callback runs now */
    struct gp_event *pump_idle;

    struct xs_client_stats stats;
};

/* Send one request and wait for its reply.  On success *body (optional)
 * receives the NUL-terminated payload (free with xs_free) and *len its
 * length without the NUL. */
int xs_request(struct xs_client *c, uint32_t type, xs_txn_t t, const void *const *parts,
               const uint32_t *lens, unsigned nparts, char **body, uint32_t *len);
/* Convenience: one string argument, NUL included. */
int xs_request_str(struct xs_client *c, uint32_t type, xs_txn_t t, const char *arg,
                   char **body, uint32_t *len);

/* xs_watch.c */
void xs_watch_event_arrived(struct xs_client *c, const char *payload, uint32_t len);
/* The watch pump as deferred work (arg: the client); scheduled by whoever
 * set pump_scheduled. */
void xs_watch_pump_run(void *arg);
int xs_watch_reregister_all(struct xs_client *c);
void xs_watch_destroy_all(struct xs_client *c);

#endif
