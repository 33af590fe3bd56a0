/* sim_xenstored's node tree: a flat array of absolute paths (the
 * simulator holds hundreds of nodes, not millions), with permissions and
 * the generation of each node's last change (used for transaction
 * conflict detection). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsd_internal.h"

bool xsd_path_valid(const char *path)
{
    size_t n = strlen(path);
    if (n == 0 || n > XENSTORE_ABS_PATH_MAX)
        return false;
    if (path[0] == '@')
        return true;
    if (path[0] != '/')
        return false;
    if (n > 1 && path[n - 1] == '/')
        return false;
    for (const char *p = path; *p; p++) {
        char c = *p;
        if (c == '/' && p[1] == '/')
            return false;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '-' || c == '_' || c == '@' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

void xsd_parent(const char *path, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/');
    size_t n = (size_t)(slash - path);
    if (n == 0)
        n = 1;                                   /* parent of "/x" is "/" */
    if (n >= size)
        n = size - 1;
    memcpy(buf, path, n);
    buf[n] = 0;
}

struct xsd_node *xsd_tree_find(const struct xsd_tree *t, const char *path)
{
    for (unsigned i = 0; i < t->n; i++)
        if (strcmp(t->nodes[i]->path, path) == 0)
            return t->nodes[i];
    return NULL;
}

static char **xsd_perms_copy(char *const *perms, unsigned count)
{
    char **p = calloc(count, sizeof(char *));
    for (unsigned i = 0; i < count; i++)
        p[i] = strdup(perms[i]);
    return p;
}

static void xsd_perms_free(char **perms, unsigned count)
{
    for (unsigned i = 0; i < count; i++)
        free(perms[i]);
    free(perms);
}

static struct xsd_node *xsd_node_new(struct xsd_tree *t, const char *path, char *const *perms,
                                     unsigned nperms, uint64_t gen)
{
    struct xsd_node *n = calloc(1, sizeof(*n));
    n->path = strdup(path);
    n->value = calloc(1, 1);
    n->perms = xsd_perms_copy(perms, nperms);
    n->nperms = nperms;
    n->gen = gen;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->nodes = realloc(t->nodes, t->cap * sizeof(*t->nodes));
    }
    t->nodes[t->n++] = n;
    return n;
}

struct xsd_node *xsd_tree_create(struct xsd_tree *t, const char *path, unsigned owner,
                                 uint64_t gen)
{
    struct xsd_node *n = xsd_tree_find(t, path);
    if (n)
        return n;
    char parent[XENSTORE_ABS_PATH_MAX + 1];
    xsd_parent(path, parent, sizeof(parent));
    struct xsd_node *pn = strcmp(parent, path) == 0 ? NULL : xsd_tree_create(t, parent, owner, gen);
    char *def[1] = { "n0" };
    char **perms = pn ? pn->perms : def;
    unsigned nperms = pn ? pn->nperms : 1;
    n = xsd_node_new(t, path, perms, nperms, gen);
    if (owner != 0) {
        /* The creator owns the new node; the default access is kept. */
        char buf[16];
        snprintf(buf, sizeof(buf), "%c%u", n->perms[0][0], owner);
        free(n->perms[0]);
        n->perms[0] = strdup(buf);
    }
    return n;
}

void xsd_tree_set_value(struct xsd_node *n, const void *v, uint32_t len, uint64_t gen)
{
    free(n->value);
    n->value = malloc(len + 1);
    memcpy(n->value, v, len);
    n->value[len] = 0;
    n->len = len;
    n->gen = gen;
}

int xsd_tree_set_perms(struct xsd_node *n, char *const *perms, unsigned count, uint64_t gen)
{
    xsd_perms_free(n->perms, n->nperms);
    n->perms = xsd_perms_copy(perms, count);
    n->nperms = count;
    n->gen = gen;
    return 0;
}

static bool xsd_is_below(const char *path, const char *top)
{
    size_t n = strlen(top);
    if (strcmp(top, "/") == 0)
        return path[0] == '/' && path[1] != 0;
    return strncmp(path, top, n) == 0 && path[n] == '/';
}

static void xsd_node_free(struct xsd_node *n)
{
    free(n->path);
    free(n->value);
    xsd_perms_free(n->perms, n->nperms);
    free(n);
}

void xsd_tree_remove(struct xsd_tree *t, const char *path,
                     void (*fn)(void *arg, const char *path), void *arg)
{
    char *top = strdup(path);
    unsigned k = 0;
    for (unsigned i = 0; i < t->n; i++) {
        struct xsd_node *n = t->nodes[i];
        if (strcmp(n->path, top) == 0 || xsd_is_below(n->path, top)) {
            if (fn)
                fn(arg, n->path);
            xsd_node_free(n);
        } else {
            t->nodes[k++] = n;
        }
    }
    t->n = k;
    free(top);
}

char *xsd_tree_children(const struct xsd_tree *t, const char *path, uint32_t *len)
{
    size_t cap = 256, used = 0;
    char *buf = malloc(cap);
    size_t plen = strcmp(path, "/") == 0 ? 0 : strlen(path);
    for (unsigned i = 0; i < t->n; i++) {
        const char *p = t->nodes[i]->path;
        if (!xsd_is_below(p, path))
            continue;
        const char *name = p + plen + 1;
        if (strchr(name, '/'))
            continue;                            /* grandchild */
        size_t nl = strlen(name) + 1;
        if (used + nl > cap) {
            while (used + nl > cap)
                cap *= 2;
            buf = realloc(buf, cap);
        }
        memcpy(buf + used, name, nl);
        used += nl;
    }
    *len = (uint32_t)used;
    return buf;
}

int xsd_tree_clone(const struct xsd_tree *src, struct xsd_tree *dst)
{
    memset(dst, 0, sizeof(*dst));
    for (unsigned i = 0; i < src->n; i++) {
        const struct xsd_node *s = src->nodes[i];
        struct xsd_node *n = xsd_node_new(dst, s->path, s->perms, s->nperms, s->gen);
        xsd_tree_set_value(n, s->value, s->len, s->gen);
    }
    return 0;
}

void xsd_tree_free(struct xsd_tree *t)
{
    for (unsigned i = 0; i < t->n; i++)
        xsd_node_free(t->nodes[i]);
    free(t->nodes);
    memset(t, 0, sizeof(*t));
}

bool xsd_perm_ok(const struct xsd_node *n, unsigned domid, char want)
{
    if (domid == 0)
        return true;
    unsigned owner = (unsigned)strtoul(n->perms[0] + 1, NULL, 10);
    if (owner == domid)
        return true;
    char have = n->perms[0][0];
    for (unsigned i = 1; i < n->nperms; i++)
        if ((unsigned)strtoul(n->perms[i] + 1, NULL, 10) == domid)
            have = n->perms[i][0];
    return have == 'b' || have == want;
}
