/* Inside sim_xenstored: the node tree (xsd_tree.c), request processing
 * and watches (xsd_ops.c), connections and the worker (sim_xenstored.c). */
#ifndef GPLPV_XSD_INTERNAL_H
#define GPLPV_XSD_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "sim_xenstored.h"

struct xsd_node {
    char *path;                 /* absolute, no trailing '/' (root is "/") */
    char *value;
    uint32_t len;
    char **perms;               /* "n0", "r1", ...: [0] = owner + default */
    unsigned nperms;
    uint64_t gen;               /* global generation of the last change */
};

struct xsd_tree {
    struct xsd_node **nodes;
    unsigned n, cap;
};

struct xsd_node *xsd_tree_find(const struct xsd_tree *t, const char *path);
/* Create path (and missing parents), inheriting permissions from the
 * parent with 'owner' as owner for new nodes. */
struct xsd_node *xsd_tree_create(struct xsd_tree *t, const char *path, unsigned owner,
                                 uint64_t gen);
void xsd_tree_set_value(struct xsd_node *n, const void *v, uint32_t len, uint64_t gen);
int xsd_tree_set_perms(struct xsd_node *n, char *const *perms, unsigned count, uint64_t gen);
/* Remove path and everything below; calls fn for each removed path. */
void xsd_tree_remove(struct xsd_tree *t, const char *path,
                     void (*fn)(void *arg, const char *path), void *arg);
/* Direct children names of path, as "a\0b\0..." in a malloc'ed buffer. */
char *xsd_tree_children(const struct xsd_tree *t, const char *path, uint32_t *len);
int xsd_tree_clone(const struct xsd_tree *src, struct xsd_tree *dst);
void xsd_tree_free(struct xsd_tree *t);
bool xsd_path_valid(const char *path);
/* The parent of path in buf ("/" for top-level nodes). */
void xsd_parent(const char *path, char *buf, size_t size);

/* Permission check: may 'domid' read (want 'r') or write ('w') node n? */
bool xsd_perm_ok(const struct xsd_node *n, unsigned domid, char want);

#endif

/* ---- daemon state (sim_xenstored.c, xsd_ops.c) ---------------------------- */
struct xsd_watch {
    struct xsd_watch *next;
    char *path;                 /* as the client gave it */
    char *abs;                  /* absolute, or "@..." */
    char *token;
};

struct xsd_op {
    struct xsd_op *next;
    uint32_t type;              /* XS_WRITE, XS_MKDIR, XS_RM, XS_SET_PERMS */
    char *path;                 /* absolute */
    char *data;                 /* value, or perms "a\0b\0" */
    uint32_t len;
};

struct xsd_txn {
    struct xsd_txn *next;
    uint32_t id;
    struct xsd_tree work, pristine;
    struct xsd_op *ops, **ops_tail;
    char **touched;
    unsigned ntouched, cap_touched;
};

struct xsd_buf {
    char *data;
    size_t len, cap;
};

struct xsd_conn {
    struct xsd_conn *next;
    struct sim_xenstored *s;
    unsigned domid;
    bool is_ring;
    /* ring */
    struct xenstore_domain_interface *ring;
    void (*notify)(void *arg);
    void *notify_arg;
    /* direct */
    struct gp_xs_transport t;
    gp_work_fn rx_fn;
    void *rx_arg;
    pthread_mutex_t qlock;      /* in/out of a direct connection */
    /* both */
    struct xsd_buf in, out;
    /* Watch events queued in out and not yet begun to be delivered (their
     * payload's offset and length): an identical new one is dropped, as C
     * xenstored drops a watch event identical to one still queued. */
    struct xsd_queued_event { size_t off, len; } *queued;
    size_t nqueued, queued_cap;
    struct xsd_watch *watches;
    struct xsd_txn *txns;
    uint32_t next_txn;
    bool dead;
    bool kick;                  /* ring: the guest must be notified */
    uint64_t hold_until;        /* injected delay of the next request (us) */
};

struct sim_xenstored {
    pthread_mutex_t lock;       /* tree, connections, watches */
    pthread_cond_t cond;
    pthread_t worker;
    bool stop, work;
    bool calling;               /* the worker runs handlers it took (lock not held) */
    struct xsd_tree tree;
    uint64_t gen;
    struct xsd_conn *conns;
    uint64_t prng;
    uint32_t corrupt_ppm, delay_us;
    struct sim_xenstored_stats stats;
};

void xsd_buf_append(struct xsd_buf *b, const void *p, size_t n);
void xsd_buf_consume(struct xsd_buf *b, size_t n);
/* n bytes of c->out were delivered: drop them and forget the queued watch
 * events whose delivery began. */
void xsd_out_consume(struct xsd_conn *c, size_t n);
uint64_t xsd_rand(struct sim_xenstored *s);

/* Handle one request of connection c (s->lock held). */
void xsd_process(struct sim_xenstored *s, struct xsd_conn *c, const struct xsd_sockmsg *h,
                 const char *payload);
/* Queue a watch event for every watch at or above 'abs' (s->lock held). */
void xsd_fire(struct sim_xenstored *s, const char *abs);
void xsd_conn_free_state(struct xsd_conn *c);
