/* sim_xenstored request processing: every xs_wire operation a guest or a
 * backend uses, with permissions, transactions and watches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsd_internal.h"

static void xsd_send(struct sim_xenstored *s, struct xsd_conn *c, uint32_t type, uint32_t req_id,
                     uint32_t tx_id, const void *data, uint32_t len)
{
    struct xsd_sockmsg h = { .type = type, .req_id = req_id, .tx_id = tx_id, .len = len };
    char trunc_err[8];
    if (type != XS_WATCH_EVENT && s->corrupt_ppm && xsd_rand(s) % 1000000 < s->corrupt_ppm) {
        s->stats.corrupted++;
        switch (xsd_rand(s) % 4) {
        case 0: h.len = XENSTORE_PAYLOAD_MAX + 1 + (uint32_t)(xsd_rand(s) % 1000); break;
        case 1: h.type = 0x1000 + (uint32_t)(xsd_rand(s) % 100); break;
        case 2: h.req_id += 7777; break;
        default:                             /* an error string without its NUL */
            h.type = XS_ERROR;
            memcpy(trunc_err, "EINVAL", 6);
            data = trunc_err;
            h.len = len = 6;
            break;
        }
    }
    xsd_buf_append(&c->out, &h, sizeof(h));
    xsd_buf_append(&c->out, data, len);
}

/* Queue a watch event (path NUL token NUL) for c, unless an identical one
 * is still queued: C xenstored drops such a duplicate ("dropping duplicate
 * watch"), so a client gets at least one event after each change, not one
 * per change. */
static void xsd_send_event(struct sim_xenstored *s, struct xsd_conn *c, const char *path,
                           const char *token)
{
    size_t pl = strlen(path) + 1, tl = strlen(token) + 1, len = pl + tl;
    for (size_t i = 0; i < c->nqueued; i++) {
        const char *q = c->out.data + c->queued[i].off;
        if (c->queued[i].len == len && memcmp(q, path, pl) == 0 && memcmp(q + pl, token, tl) == 0) {
            s->stats.duplicate_events++;
            return;
        }
    }
    char *ev = malloc(len);
    memcpy(ev, path, pl);
    memcpy(ev + pl, token, tl);
    xsd_send(s, c, XS_WATCH_EVENT, 0, 0, ev, (uint32_t)len);
    free(ev);
    s->stats.watch_events++;
    if (c->nqueued == c->queued_cap) {
        size_t cap = c->queued_cap ? 2 * c->queued_cap : 16;
        struct xsd_queued_event *q = realloc(c->queued, cap * sizeof(*q));
        if (!q)
            return;                 /* not remembered: only a duplicate may follow */
        c->queued = q;
        c->queued_cap = cap;
    }
    c->queued[c->nqueued++] = (struct xsd_queued_event){ c->out.len - len, len };
}

static void xsd_error(struct sim_xenstored *s, struct xsd_conn *c, const struct xsd_sockmsg *h,
                      const char *err)
{
    s->stats.errors++;
    xsd_send(s, c, XS_ERROR, h->req_id, h->tx_id, err, (uint32_t)strlen(err) + 1);
}

static void xsd_ok(struct sim_xenstored *s, struct xsd_conn *c, const struct xsd_sockmsg *h)
{
    xsd_send(s, c, h->type, h->req_id, h->tx_id, "OK", 3);
}

/* Absolute form of a client path ("x/y" is relative to the domain's home). */
static bool xsd_abs(const struct xsd_conn *c, const char *path, char *out, size_t size)
{
    if (path[0] == '/' || path[0] == '@') {
        if (strlen(path) >= size)
            return false;
        strcpy(out, path);
    } else if ((size_t)snprintf(out, size, "/local/domain/%u/%s", c->domid, path) >= size) {
        return false;
    }
    return xsd_path_valid(out);
}

/* The request's first argument as a node's absolute path into abs (not a
 * special "@" path); answers EINVAL and returns false when it is none. */
static bool xsd_node_arg(struct sim_xenstored *s, struct xsd_conn *c, const struct xsd_sockmsg *h,
                         const char *arg, bool terminated, char *abs, size_t size)
{
    if (!terminated || !xsd_abs(c, arg, abs, size) || abs[0] == '@') {
        xsd_error(s, c, h, "EINVAL");
        return false;
    }
    return true;
}

void xsd_fire(struct sim_xenstored *s, const char *abs)
{
    struct xsd_node *n = xsd_tree_find(&s->tree, abs);
    for (struct xsd_conn *c = s->conns; c; c = c->next) {
        if (c->dead)
            continue;
        for (struct xsd_watch *w = c->watches; w; w = w->next) {
            size_t wl = strlen(w->abs);
            bool match = strcmp(w->abs, abs) == 0 ||
                         (w->abs[0] == '/' && strncmp(abs, w->abs, wl) == 0 &&
                          (abs[wl] == '/' || strcmp(w->abs, "/") == 0));
            if (!match || (n && !xsd_perm_ok(n, c->domid, 'r')))
                continue;
            /* Report in the form the watch was registered in. */
            const char *rep = abs;
            char home[48];
            int hl = snprintf(home, sizeof(home), "/local/domain/%u/", c->domid);
            if (w->path[0] != '/' && w->path[0] != '@' && strncmp(abs, home, (size_t)hl) == 0)
                rep = abs + hl;
            xsd_send_event(s, c, rep, w->token);
        }
    }
}

static struct xsd_txn *xsd_find_txn(struct xsd_conn *c, uint32_t id)
{
    for (struct xsd_txn *t = c->txns; t; t = t->next)
        if (t->id == id)
            return t;
    return NULL;
}

static void xsd_touch(struct xsd_txn *t, const char *abs)
{
    if (!t)
        return;
    for (unsigned i = 0; i < t->ntouched; i++)
        if (strcmp(t->touched[i], abs) == 0)
            return;
    if (t->ntouched == t->cap_touched) {
        t->cap_touched = t->cap_touched ? 2 * t->cap_touched : 16;
        t->touched = realloc(t->touched, t->cap_touched * sizeof(char *));
    }
    t->touched[t->ntouched++] = strdup(abs);
}

/* Write-like operation on tree 'tr' (the global tree when fire is true). */
static const char *xsd_apply(struct sim_xenstored *s, struct xsd_tree *tr, unsigned domid,
                             uint32_t type, const char *abs, const char *data, uint32_t len,
                             bool fire)
{
    struct xsd_node *n = xsd_tree_find(tr, abs);
    uint64_t gen = ++s->gen;
    switch (type) {
    case XS_WRITE:
    case XS_MKDIR: {
        if (!n) {
            /* Need write access to the nearest existing ancestor. */
            char anc[XENSTORE_ABS_PATH_MAX + 1];
            strcpy(anc, abs);
            struct xsd_node *a = NULL;
            while (!a && strcmp(anc, "/") != 0) {
                char up[XENSTORE_ABS_PATH_MAX + 1];
                xsd_parent(anc, up, sizeof(up));
                strcpy(anc, up);
                a = xsd_tree_find(tr, anc);
            }
            if (!a)
                a = xsd_tree_find(tr, "/");
            if (!xsd_perm_ok(a, domid, 'w'))
                return "EACCES";
            n = xsd_tree_create(tr, abs, domid, gen);
        } else if (type == XS_MKDIR) {
            return NULL;
        } else if (!xsd_perm_ok(n, domid, 'w')) {
            return "EACCES";
        }
        if (type == XS_WRITE)
            xsd_tree_set_value(n, data, len, gen);
        if (fire)
            xsd_fire(s, abs);
        return NULL;
    }
    case XS_RM:
        if (!n)
            return "ENOENT";
        if (strcmp(abs, "/") == 0)
            return "EINVAL";
        if (!xsd_perm_ok(n, domid, 'w'))
            return "EACCES";
        if (fire) {
            /* Every removed node fires (watches below 'abs' included),
             * before removal so that permission checks still see them. */
            char **gone = calloc(tr->n, sizeof(char *));
            unsigned ngone = 0;
            size_t al = strlen(abs);
            for (unsigned i = 0; i < tr->n; i++) {
                const char *np = tr->nodes[i]->path;
                if (strcmp(np, abs) == 0 || (strncmp(np, abs, al) == 0 && np[al] == '/'))
                    gone[ngone++] = strdup(np);
            }
            for (unsigned i = 0; i < ngone; i++) {
                xsd_fire(s, gone[i]);
                free(gone[i]);
            }
            free(gone);
        }
        xsd_tree_remove(tr, abs, NULL, NULL);
        return NULL;
    case XS_SET_PERMS: {
        if (!n)
            return "ENOENT";
        unsigned owner = (unsigned)strtoul(n->perms[0] + 1, NULL, 10);
        if (domid != 0 && domid != owner)
            return "EACCES";
        char *perms[64];
        unsigned count = 0;
        for (uint32_t i = 0; i < len && count < 64; i += (uint32_t)strlen(data + i) + 1)
            perms[count++] = (char *)data + i;
        if (count == 0)
            return "EINVAL";
        for (unsigned i = 0; i < count; i++)
            if (!strchr("nrwb", perms[i][0]) || perms[i][1] < '0' || perms[i][1] > '9')
                return "EINVAL";
        xsd_tree_set_perms(n, perms, count, gen);
        if (fire)
            xsd_fire(s, abs);
        return NULL;
    }
    }
    return "EINVAL";
}

static void xsd_record(struct xsd_txn *t, uint32_t type, const char *abs, const char *data,
                       uint32_t len)
{
    struct xsd_op *op = calloc(1, sizeof(*op));
    op->type = type;
    op->path = strdup(abs);
    op->data = malloc(len + 1);
    memcpy(op->data, data, len);
    op->data[len] = 0;
    op->len = len;
    *t->ops_tail = op;
    t->ops_tail = &op->next;
}

static void xsd_txn_free(struct xsd_txn *t)
{
    xsd_tree_free(&t->work);
    xsd_tree_free(&t->pristine);
    for (struct xsd_op *op = t->ops; op;) {
        struct xsd_op *n = op->next;
        free(op->path);
        free(op->data);
        free(op);
        op = n;
    }
    for (unsigned i = 0; i < t->ntouched; i++)
        free(t->touched[i]);
    free(t->touched);
    free(t);
}

static void xsd_txn_end(struct sim_xenstored *s, struct xsd_conn *c, const struct xsd_sockmsg *h,
                        struct xsd_txn *t, bool commit)
{
    for (struct xsd_txn **pp = &c->txns; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    if (commit) {
        for (unsigned i = 0; i < t->ntouched; i++) {
            const struct xsd_node *a = xsd_tree_find(&t->pristine, t->touched[i]);
            const struct xsd_node *b = xsd_tree_find(&s->tree, t->touched[i]);
            if (!a != !b || (a && a->gen != b->gen)) {
                s->stats.txn_conflicts++;
                xsd_txn_free(t);
                xsd_error(s, c, h, "EAGAIN");
                return;
            }
        }
        for (struct xsd_op *op = t->ops; op; op = op->next)
            xsd_apply(s, &s->tree, c->domid, op->type, op->path, op->data, op->len, true);
    }
    xsd_txn_free(t);
    xsd_ok(s, c, h);
}

/* Every watch of the connection dropped. */
static void xsd_free_watches(struct xsd_conn *c)
{
    while (c->watches) {
        struct xsd_watch *w = c->watches;
        c->watches = w->next;
        free(w->path);
        free(w->abs);
        free(w->token);
        free(w);
    }
}

void xsd_process(struct sim_xenstored *s, struct xsd_conn *c, const struct xsd_sockmsg *h,
                 const char *payload)
{
    s->stats.requests++;
    uint32_t len = h->len;
    struct xsd_txn *t = NULL;
    if (h->tx_id && h->type != XS_TRANSACTION_START) {
        t = xsd_find_txn(c, h->tx_id);
        if (!t) {
            xsd_error(s, c, h, "ENOENT");
            return;
        }
    }
    struct xsd_tree *tr = t ? &t->work : &s->tree;
    /* First argument: a NUL-terminated string for most operations. */
    const char *arg = payload;
    const char *nul = memchr(payload, 0, len);
    uint32_t rest_off = nul ? (uint32_t)(nul - payload) + 1 : len;
    char abs[XENSTORE_ABS_PATH_MAX + 64];

    switch (h->type) {
    case XS_READ:
    case XS_DIRECTORY:
    case XS_GET_PERMS: {
        if (!xsd_node_arg(s, c, h, arg, nul != NULL, abs, sizeof(abs)))
            return;
        xsd_touch(t, abs);
        struct xsd_node *n = xsd_tree_find(tr, abs);
        if (!n) {
            xsd_error(s, c, h, "ENOENT");
            return;
        }
        if (!xsd_perm_ok(n, c->domid, 'r')) {
            xsd_error(s, c, h, "EACCES");
            return;
        }
        if (h->type == XS_READ) {
            xsd_send(s, c, XS_READ, h->req_id, h->tx_id, n->value, n->len);
        } else if (h->type == XS_DIRECTORY) {
            uint32_t dl;
            char *d = xsd_tree_children(tr, abs, &dl);
            xsd_send(s, c, XS_DIRECTORY, h->req_id, h->tx_id, d, dl);
            free(d);
        } else {
            char buf[1024];
            uint32_t bl = 0;
            for (unsigned i = 0; i < n->nperms && bl + 16 < sizeof(buf); i++) {
                size_t pl = strlen(n->perms[i]) + 1;
                memcpy(buf + bl, n->perms[i], pl);
                bl += (uint32_t)pl;
            }
            xsd_send(s, c, XS_GET_PERMS, h->req_id, h->tx_id, buf, bl);
        }
        return;
    }
    case XS_WRITE:
    case XS_MKDIR:
    case XS_RM:
    case XS_SET_PERMS: {
        if (!xsd_node_arg(s, c, h, arg, nul != NULL, abs, sizeof(abs)))
            return;
        const char *data = payload + rest_off;
        uint32_t dlen = len - rest_off;
        if (h->type == XS_SET_PERMS && (dlen == 0 || data[dlen - 1] != 0)) {
            xsd_error(s, c, h, "EINVAL");
            return;
        }
        xsd_touch(t, abs);
        const char *err = xsd_apply(s, tr, c->domid, h->type, abs, data, dlen, t == NULL);
        if (err) {
            xsd_error(s, c, h, err);
            return;
        }
        if (t)
            xsd_record(t, h->type, abs, data, dlen);
        xsd_ok(s, c, h);
        return;
    }
    case XS_WATCH:
    case XS_UNWATCH: {
        const char *tok = payload + rest_off;
        const char *nul2 = nul ? memchr(tok, 0, len - rest_off) : NULL;
        if (!nul || !nul2 || !xsd_abs(c, arg, abs, sizeof(abs))) {
            xsd_error(s, c, h, "EINVAL");
            return;
        }
        struct xsd_watch **pp = &c->watches;
        for (; *pp; pp = &(*pp)->next)
            if (strcmp((*pp)->path, arg) == 0 && strcmp((*pp)->token, tok) == 0)
                break;
        if (h->type == XS_UNWATCH) {
            if (!*pp) {
                xsd_error(s, c, h, "ENOENT");
                return;
            }
            struct xsd_watch *w = *pp;
            *pp = w->next;
            free(w->path);
            free(w->abs);
            free(w->token);
            free(w);
            xsd_ok(s, c, h);
            return;
        }
        if (*pp) {
            xsd_error(s, c, h, "EEXIST");
            return;
        }
        struct xsd_watch *w = calloc(1, sizeof(*w));
        w->path = strdup(arg);
        w->abs = strdup(abs);
        w->token = strdup(tok);
        w->next = c->watches;
        c->watches = w;
        xsd_ok(s, c, h);
        /* A new watch fires once at once. */
        xsd_send_event(s, c, arg, tok);
        return;
    }
    case XS_TRANSACTION_START: {
        struct xsd_txn *nt = calloc(1, sizeof(*nt));
        nt->id = ++c->next_txn;
        xsd_tree_clone(&s->tree, &nt->work);
        xsd_tree_clone(&s->tree, &nt->pristine);
        nt->ops_tail = &nt->ops;
        nt->next = c->txns;
        c->txns = nt;
        char id[16];
        int n = snprintf(id, sizeof(id), "%u", nt->id);
        xsd_send(s, c, XS_TRANSACTION_START, h->req_id, 0, id, (uint32_t)n + 1);
        return;
    }
    case XS_TRANSACTION_END:
        if (!t || len < 1 || (payload[0] != 'T' && payload[0] != 'F')) {
            xsd_error(s, c, h, t ? "EINVAL" : "ENOENT");
            return;
        }
        xsd_txn_end(s, c, h, t, payload[0] == 'T');
        return;
    case XS_GET_DOMAIN_PATH: {
        char out[48];
        int n = snprintf(out, sizeof(out), "/local/domain/%lu", strtoul(payload, NULL, 10));
        xsd_send(s, c, XS_GET_DOMAIN_PATH, h->req_id, 0, out, (uint32_t)n + 1);
        return;
    }
    case XS_RESET_WATCHES:
        xsd_free_watches(c);
        xsd_ok(s, c, h);
        return;
    default:
        xsd_error(s, c, h, "ENOSYS");
        return;
    }
}

void xsd_conn_free_state(struct xsd_conn *c)
{
    xsd_free_watches(c);
    while (c->txns) {
        struct xsd_txn *t = c->txns;
        c->txns = t->next;
        xsd_txn_free(t);
    }
    free(c->in.data);
    free(c->out.data);
    memset(&c->in, 0, sizeof(c->in));
    memset(&c->out, 0, sizeof(c->out));
    free(c->queued);
    c->queued = NULL;
    c->nqueued = c->queued_cap = 0;
}

