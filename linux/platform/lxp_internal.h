/* lxp internals: the pieces of the Linux platform (lxp_os.c, lxp_gnt.c,
 * lxp_evtchn.c, lxp_xs.c) share this one structure. */
#ifndef GPLPV_LINUX_LXP_INTERNAL_H
#define GPLPV_LINUX_LXP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "lxp.h"
#include "posix_os.h"

/* One page given out by page_alloc: a gntalloc page mapped at va. */
struct lxp_page {
    char *va;
    uint64_t index;            /* gntalloc mmap offset of the current backing */
    gp_grant_ref_t ref;        /* its grant */
    gp_domid_t domid;
    bool writable, used, granted;
};

struct lxp_chunk {
    char *base;
    unsigned npages;
    struct lxp_page *pages;
};

struct lxp_gnt {
    int fd;
    pthread_mutex_t lock;
    gp_domid_t peer;
    unsigned chunk_pages;
    struct lxp_chunk *chunks;
    unsigned nchunks, cap_chunks;
    unsigned hint_chunk;       /* first chunk that may have a free page */
    struct lxp_page **by_ref;  /* ref -> page */
    size_t by_ref_len;
    uint64_t pages, in_use, grants, ends, rebacks;
};

struct lxp_port {
    gp_evtchn_handler fn;
    void *arg;
    bool bound, masked, held;
};

struct lxp_evtchn {
    int fd, wake_fd;
    pthread_t thread;
    bool started, stopping;
    pthread_mutex_t lock;
    pthread_cond_t idle;
    struct lxp_port *ports;    /* indexed by port number */
    size_t nports;
    gp_port_t running;         /* port whose handler runs now (0: none) */
    uint64_t events, notifies;
};

struct lxp_xs {
    struct gp_xs_transport t;
    int fd, wake_fd;
    pthread_t thread;
    bool started, stopping, failed;
    pthread_mutex_t lock;      /* buffer and handler */
    pthread_cond_t cond;
    pthread_mutex_t send_lock;
    char *buf;
    size_t head, len, cap;
    gp_work_fn rx_fn;
    void *rx_arg;
    bool in_handler;
    uint64_t bytes_in, bytes_out;
    /* One request at a time (lxp_xs.c): requests whose reply has not
     * come yet, and a write() in progress. */
    unsigned outstanding;
    bool watch_gate;
    uint32_t scan_hdr_got, scan_skip;  /* framing of the incoming stream */
    unsigned char scan_hdr[16];
};

struct lxp {
    struct gp_platform plat;   /* first: lxp_of; points at os and xen below */
    struct gp_os os;
    struct gp_xen xen;
    char name[32];
    enum gp_log_level level;
    atomic_uint errors;
    gp_domid_t self;

    struct posix_os_worker worker;   /* defer() */

    struct lxp_gnt gnt;
    struct lxp_evtchn ev;
    struct lxp_xs xs;
};

static inline struct lxp *lxp_of(struct gp_platform *p)
{
    return (struct lxp *)p;    /* plat is the first member */
}

/* lxp_os.c */
int lxp_os_start(struct lxp *x);
void lxp_os_stop(struct lxp *x);
void lxp_os_fill(struct lxp *x);
void lxp_logf(struct lxp *x, enum gp_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* lxp_gnt.c */
int lxp_gnt_open(struct lxp *x);
void lxp_gnt_close(struct lxp *x);
void lxp_gnt_fill(struct lxp *x);

/* lxp_evtchn.c */
int lxp_evtchn_open(struct lxp *x);
void lxp_evtchn_close(struct lxp *x);
void lxp_evtchn_fill(struct lxp *x);

/* lxp_xs.c */
int lxp_xs_open(struct lxp *x);
void lxp_xs_close(struct lxp *x);

#endif
