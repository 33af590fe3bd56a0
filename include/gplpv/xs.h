/*
 * xs: the xenstore client of the core (xs_wire protocol, xen/io/xs_wire.h).
 *
 * One struct xs_client per connection to xenstored, over any
 * struct gp_xs_transport (the shared ring of core/xenstore/xs_ring.c, the
 * Linux /dev/xen/xenbus device, the simulator).  Several requests may be in
 * flight from several threads; replies are matched by req_id.  Watch
 * events are delivered to their callbacks through the platform's defer()
 * (never from the event-channel handler), in arrival order.
 *
 * All calls except xs_client_input are [passive].  Returned strings and
 * arrays are allocated with the platform's alloc and freed with xs_free.
 * Errors are negative GP_E* codes; xenstored's error strings are mapped
 * by gp_error_from_xs ("ENOENT" -> GP_ENOENT, ...).
 */
#ifndef GPLPV_XS_H
#define GPLPV_XS_H

#include "gplpv/platform.h"

struct xs_client;
struct xs_watch;

typedef uint32_t xs_txn_t;
#define XS_TXN_NONE ((xs_txn_t)0)

/* Create a client over transport t (default: p->xen->xs).  The client installs
 * its rx handler on the transport. */
int xs_client_create(const struct gp_platform *p, struct gp_xs_transport *t,
                     struct xs_client **out);
/* Fails every request still waiting with GP_ESHUTDOWN, removes watches. */
void xs_client_destroy(struct xs_client *c);

/* Timeout for each request in ns (default 30 s; 0 = wait forever). */
void xs_client_set_timeout(struct xs_client *c, uint64_t timeout_ns);

/* Suspend/resume: stop sending, fail nothing; after resume (possibly on a
 * new transport) re-register every watch and fire each once. */
void xs_client_suspend(struct xs_client *c);
/* Let the running watch callback finish and start no other until
 * xs_client_resume (xs_client_suspend does this too, first). */
void xs_client_hold_watches(struct xs_client *c);
int xs_client_resume(struct xs_client *c, struct gp_xs_transport *t);

void xs_free(const struct xs_client *c, void *p);

/* ---- reading and writing ---------------------------------------------- */
/* *value is NUL-terminated; *len (optional) excludes the NUL. */
int xs_read(struct xs_client *c, xs_txn_t t, const char *path, char **value, size_t *len);
int xs_write(struct xs_client *c, xs_txn_t t, const char *path, const void *value, size_t len);
int xs_write_str(struct xs_client *c, xs_txn_t t, const char *path, const char *value);
int xs_printf(struct xs_client *c, xs_txn_t t, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Strict parsing: the whole value must be a decimal (or 0x hex) number in
 * range; otherwise GP_EINVAL (with the value logged). */
int xs_read_u64(struct xs_client *c, xs_txn_t t, const char *path, uint64_t *out);
int xs_read_int(struct xs_client *c, xs_txn_t t, const char *path, long long *out);
int xs_mkdir(struct xs_client *c, xs_txn_t t, const char *path);
int xs_rm(struct xs_client *c, xs_txn_t t, const char *path);
/* *names is an array of *count NUL-terminated strings, freed with one
 * xs_free(c, *names). */
int xs_directory(struct xs_client *c, xs_txn_t t, const char *path,
                 char ***names, unsigned *count);
/* Permissions in xenstore's text form, e.g. "n0", "r1": *perms as
 * xs_directory. */
int xs_get_perms(struct xs_client *c, xs_txn_t t, const char *path,
                 char ***perms, unsigned *count);
int xs_set_perms(struct xs_client *c, xs_txn_t t, const char *path,
                 const char *const *perms, unsigned count);

/* ---- transactions ----------------------------------------------------- */
int xs_txn_start(struct xs_client *c, xs_txn_t *t);
/* commit=false aborts.  GP_EAGAIN means "conflict: run it again". */
int xs_txn_end(struct xs_client *c, xs_txn_t t, bool commit);
/* Runs fn inside a transaction, retrying on GP_EAGAIN up to 'tries'
 * times; fn's non-zero return aborts and is returned. */
int xs_txn_run(struct xs_client *c, unsigned tries,
               int (*fn)(struct xs_client *c, xs_txn_t t, void *arg), void *arg);

/* ---- watches ---------------------------------------------------------- */
typedef void (*xs_watch_fn)(void *arg, const char *path, const char *token);
/* Xenstored fires a new watch once at once; so does this API. */
int xs_watch_add(struct xs_client *c, const char *path, xs_watch_fn fn, void *arg,
                 struct xs_watch **out);
void xs_watch_remove(struct xs_client *c, struct xs_watch *w);

/* Counters for tests and debug dumps. */
struct xs_client_stats {
    uint64_t requests, replies, errors, watch_events, malformed, dropped_events;
};
void xs_client_get_stats(const struct xs_client *c, struct xs_client_stats *s);

#endif
