/* What the Linux-hosted device programs (gplpv-blk, gplpv-net) do the
 * same way around their frontend: the Xen devices opened on the node they
 * serve, its backend as the peer pages are granted to, SIGTERM and SIGINT
 * turned into a clean leave, the node's removal noticed, and the "ready"
 * file.  Header-only: each program includes it once. */
#ifndef GPLPV_LXPROG_H
#define GPLPV_LXPROG_H

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "gplpv/errors.h"
#include "gplpv/xenbus.h"
#include "gplpv/xs.h"
#include "lxp.h"

/* The node served: "device/<type>/<id>" as given, the id alone, or
 * "auto" for the first one xenstore lists.  0, or an error (said). */
static inline int lxprog_pick_node(struct xs_client *xs, const char *prog, const char *type,
                                   const char *which, char *node, size_t size)
{
    char dir[32];
    snprintf(dir, sizeof(dir), "device/%s", type);
    size_t dlen = strlen(dir);
    if (strncmp(which, dir, dlen) == 0 && which[dlen] == '/') {
        snprintf(node, size, "%s", which);
        return 0;
    }
    if (strcmp(which, "auto") != 0) {
        snprintf(node, size, "%s/%s", dir, which);
        return 0;
    }
    char **ids = NULL;
    unsigned n = 0;
    int err = xs_directory(xs, XS_TXN_NONE, dir, &ids, &n);
    if (!err && n)
        snprintf(node, size, "%s/%s", dir, ids[0]);
    else
        fprintf(stderr, "%s: no %s in xenstore (%s)\n", prog, dir, gp_strerror(err));
    if (ids)
        xs_free(xs, ids);
    return err ? err : n ? 0 : GP_ENODEV;
}

/* lxp_open, the node picked (lxprog_pick_node) and its backend made the
 * platform's peer: 0 (*peer set), or -1 (said; nothing left open). */
static inline int lxprog_open(const struct lxp_opts *po, const char *type, const char *which,
                              struct gp_platform **p, struct xs_client **xs, char *node,
                              size_t size, gp_domid_t *peer)
{
    int err = lxp_open(po, p, xs);
    if (err) {
        fprintf(stderr, "%s: the Xen devices: %s\n", po->name, gp_strerror(err));
        return -1;
    }
    *peer = 0;
    err = lxprog_pick_node(*xs, po->name, type, which, node, size);
    if (!err)
        err = lxp_backend_id(*xs, node, peer);
    if (err) {
        fprintf(stderr, "%s: %s: no usable backend-id (%s)\n", po->name, node, gp_strerror(err));
        lxp_close(*p, *xs);
        return -1;
    }
    lxp_set_peer(*p, *peer);
    return 0;
}

static sigset_t lxprog_sigs;
static void (*lxprog_leave)(const char *why);

static inline void *lxprog_signal_thread(void *arg)
{
    int sig = 0;
    (void)arg;
    while (sigwait(&lxprog_sigs, &sig) == 0)
        lxprog_leave(sig == SIGTERM ? "SIGTERM" : "SIGINT");
    return NULL;
}

/* SIGTERM and SIGINT call leave("SIGTERM" or "SIGINT") on a thread of
 * their own (blocked everywhere else); SIGPIPE is ignored. */
static inline void lxprog_signals(void (*leave)(const char *why))
{
    lxprog_leave = leave;
    sigemptyset(&lxprog_sigs);
    sigaddset(&lxprog_sigs, SIGTERM);
    sigaddset(&lxprog_sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &lxprog_sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_t t;
    pthread_create(&t, NULL, lxprog_signal_thread, NULL);
}

/* True once the node lost its backend-id (xl block-detach, network-detach). */
static inline bool lxprog_node_gone(struct xs_client *xs, const char *node)
{
    char key[XENBUS_PATH_MAX + 16];
    snprintf(key, sizeof(key), "%s/backend-id", node);
    char *v = NULL;
    int err = xs_read(xs, XS_TXN_NONE, key, &v, NULL);
    if (v)
        xs_free(xs, v);
    return err == GP_ENOENT;
}

/* The (empty) file a script waits for, when one was named. */
static inline void lxprog_ready(const char *path)
{
    if (!path)
        return;
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
}

#endif
