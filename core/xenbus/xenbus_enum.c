/*
 * xenbus_enum: which device/<type>/<id> nodes exist.  A watch on
 * device/<type> re-reads the directory on every change and reports ids
 * that appeared (hot-add) and ids that vanished (hot-remove).
 */
#include <string.h>

#include "gplpv/log.h"
#include "gplpv/xenbus.h"

#define XENBUS_ENUM_MAX 256
#define XENBUS_ID_MAX 32

struct xenbus_enum {
    const struct gp_platform *plat;
    struct xs_client *xs;
    char type[32];
    char dir[64];
    xenbus_enum_fn fn;
    void *arg;
    struct xs_watch *watch;
    char (*known)[XENBUS_ID_MAX];
    unsigned nknown;
};

static bool xenbus_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n >= XENBUS_ID_MAX)
        return false;
    for (const char *c = id; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || *c == '-' || *c == '_'))
            return false;
    return true;
}

static void xenbus_enum_scan(void *arg, const char *path, const char *token)
{
    struct xenbus_enum *e = arg;
    (void)path;
    (void)token;
    char **names = NULL;
    unsigned n = 0;
    int err = xs_directory(e->xs, XS_TXN_NONE, e->dir, &names, &n);
    if (err == GP_ENOENT)
        n = 0;
    else if (err)
        return;
    if (n > XENBUS_ENUM_MAX) {
        GP_ERR(e->plat, "xenbus: %u devices under %s: only the first %u are used", n, e->dir,
               XENBUS_ENUM_MAX);
        n = XENBUS_ENUM_MAX;
    }
    /* Removed: known but no longer listed. */
    for (unsigned i = 0; i < e->nknown;) {
        bool found = false;
        for (unsigned k = 0; k < n && !found; k++)
            found = strcmp(names[k], e->known[i]) == 0;
        if (found) {
            i++;
            continue;
        }
        char id[XENBUS_ID_MAX];
        strcpy(id, e->known[i]);
        memmove(e->known[i], e->known[i + 1], (e->nknown - i - 1) * sizeof(e->known[0]));
        e->nknown--;
        e->fn(e->arg, e->type, id, false);
    }
    /* Added: listed but not known. */
    for (unsigned k = 0; k < n; k++) {
        if (!xenbus_id_valid(names[k])) {
            GP_ERR(e->plat, "xenbus: ignoring device id '%.40s' under %s", names[k], e->dir);
            continue;
        }
        bool found = false;
        for (unsigned i = 0; i < e->nknown && !found; i++)
            found = strcmp(names[k], e->known[i]) == 0;
        if (found || e->nknown >= XENBUS_ENUM_MAX)
            continue;
        strcpy(e->known[e->nknown++], names[k]);
        e->fn(e->arg, e->type, names[k], true);
    }
    if (names)
        xs_free(e->xs, names);
}

int xenbus_enum_start(const struct gp_platform *p, struct xs_client *xs, const char *type,
                      xenbus_enum_fn fn, void *arg, struct xenbus_enum **out)
{
    if (strlen(type) == 0 || strlen(type) >= 32 || strchr(type, '/'))
        return GP_EINVAL;
    struct xenbus_enum *e = gp_zalloc(p, sizeof(*e));
    if (!e)
        return GP_ENOMEM;
    e->known = gp_zalloc(p, XENBUS_ENUM_MAX * sizeof(e->known[0]));
    if (!e->known) {
        gp_free(p, e);
        return GP_ENOMEM;
    }
    e->plat = p;
    e->xs = xs;
    strcpy(e->type, type);
    gp_snprintf(e->dir, sizeof(e->dir), "device/%s", type);
    e->fn = fn;
    e->arg = arg;
    /* The devices there now are reported before we return (a bus driver's
     * START then lists the boot disk in its first BusRelations); the
     * watch, added only then, reports what changes later, one scan at a
     * time on the deferred worker. */
    xenbus_enum_scan(e, e->dir, NULL);
    int err = xs_watch_add(xs, e->dir, xenbus_enum_scan, e, &e->watch);
    if (err) {
        gp_free(p, e->known);
        gp_free(p, e);
        return err;
    }
    *out = e;
    return 0;
}

void xenbus_enum_stop(struct xenbus_enum *e)
{
    if (!e)
        return;
    xs_watch_remove(e->xs, e->watch);
    gp_free(e->plat, e->known);
    gp_free(e->plat, e);
}

bool xenbus_vbd_is_cdrom(struct xs_client *xs, const char *nodename)
{
    char path[XENBUS_PATH_MAX];
    char *v = NULL;
    size_t len = 0;
    if (gp_snprintf(path, sizeof(path), "%s/device-type", nodename) >= (int)sizeof(path))
        return false;
    if (xs_read(xs, XS_TXN_NONE, path, &v, &len) != 0)
        return false;
    bool cd = len == 5 && !memcmp(v, "cdrom", 5);
    xs_free(xs, v);
    return cd;
}
