/*
 * xs_ops: the xenstore operations on top of xs_request: read, write,
 * mkdir, rm, directory, permissions, and strict number parsing.
 */
#include <string.h>

#include "xs_internal.h"

static int xs_check_path(const struct xs_client *c, const char *path)
{
    size_t n = path ? strlen(path) : 0;
    if (n == 0 || n > XENSTORE_ABS_PATH_MAX) {
        GP_ERR(c->plat, "xs: invalid path (length %u)", (unsigned)n);
        return GP_EINVAL;
    }
    return 0;
}

/* A request whose one argument is a checked path. */
static int xs_path_request(struct xs_client *c, uint32_t type, xs_txn_t t, const char *path,
                           char **body, uint32_t *len)
{
    int err = xs_check_path(c, path);
    return err ? err : xs_request_str(c, type, t, path, body, len);
}

int xs_read(struct xs_client *c, xs_txn_t t, const char *path, char **value, size_t *len)
{
    char *body = NULL;
    uint32_t n = 0;
    int err = xs_path_request(c, XS_READ, t, path, &body, &n);
    if (err)
        return err;
    if (value)
        *value = body;
    else
        xs_free(c, body);
    if (len)
        *len = n;
    return 0;
}

int xs_write(struct xs_client *c, xs_txn_t t, const char *path, const void *value, size_t len)
{
    int err = xs_check_path(c, path);
    if (err)
        return err;
    const void *parts[2] = { path, value };
    uint32_t lens[2] = { (uint32_t)strlen(path) + 1, (uint32_t)len };
    if (lens[0] + len > XENSTORE_PAYLOAD_MAX)
        return GP_E2BIG;
    return xs_request(c, XS_WRITE, t, parts, lens, 2, NULL, NULL);
}

int xs_write_str(struct xs_client *c, xs_txn_t t, const char *path, const char *value)
{
    return xs_write(c, t, path, value, strlen(value));
}

int xs_printf(struct xs_client *c, xs_txn_t t, const char *path, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = gp_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return GP_E2BIG;
    return xs_write(c, t, path, buf, (size_t)n);
}

int xs_mkdir(struct xs_client *c, xs_txn_t t, const char *path)
{
    return xs_path_request(c, XS_MKDIR, t, path, NULL, NULL);
}

int xs_rm(struct xs_client *c, xs_txn_t t, const char *path)
{
    return xs_path_request(c, XS_RM, t, path, NULL, NULL);
}

/* Split a reply of NUL-terminated strings into one allocation holding the
 * pointer array followed by the strings. */
static int xs_split_strings(struct xs_client *c, const char *body, uint32_t len,
                            char ***out, unsigned *count)
{
    const struct gp_platform *p = c->plat;
    if (len > 0 && body[len - 1] != 0) {
        GP_ERR(p, "xs: list reply not NUL-terminated (%u bytes)", len);
        return GP_EPROTO;
    }
    unsigned n = 0;
    for (uint32_t i = 0; i < len; i++)
        if (body[i] == 0)
            n++;
    char **arr = gp_zalloc(p, (n + 1) * sizeof(char *) + len + 1);
    if (!arr)
        return GP_ENOMEM;
    char *strings = (char *)(arr + n + 1);
    memcpy(strings, body, len);
    unsigned k = 0;
    for (uint32_t i = 0; i < len; i += (uint32_t)strlen(strings + i) + 1)
        arr[k++] = strings + i;
    arr[k] = NULL;
    *out = arr;
    *count = n;
    return 0;
}

/* A path request whose reply is a list of strings. */
static int xs_list_request(struct xs_client *c, uint32_t type, xs_txn_t t, const char *path,
                           char ***out, unsigned *count)
{
    char *body = NULL;
    uint32_t n = 0;
    int err = xs_path_request(c, type, t, path, &body, &n);
    if (err)
        return err;
    err = xs_split_strings(c, body, n, out, count);
    xs_free(c, body);
    return err;
}

int xs_directory(struct xs_client *c, xs_txn_t t, const char *path, char ***names,
                 unsigned *count)
{
    return xs_list_request(c, XS_DIRECTORY, t, path, names, count);
}

int xs_get_perms(struct xs_client *c, xs_txn_t t, const char *path, char ***perms,
                 unsigned *count)
{
    int err = xs_list_request(c, XS_GET_PERMS, t, path, perms, count);
    if (!err && *count == 0) {
        xs_free(c, *perms);
        *perms = NULL;
        GP_ERR(c->plat, "xs: empty permission list for %s", path);
        return GP_EPROTO;
    }
    return err;
}

static bool xs_perm_valid(const char *s)
{
    if (!strchr("nrwb", s[0]) || !s[1])
        return false;
    for (const char *q = s + 1; *q; q++)
        if (*q < '0' || *q > '9')
            return false;
    return strlen(s) <= 6;
}

int xs_set_perms(struct xs_client *c, xs_txn_t t, const char *path, const char *const *perms,
                 unsigned count)
{
    int err = xs_check_path(c, path);
    if (err)
        return err;
    if (count == 0 || count > 64)
        return GP_EINVAL;
    const void *parts[65];
    uint32_t lens[65];
    parts[0] = path;
    lens[0] = (uint32_t)strlen(path) + 1;
    for (unsigned i = 0; i < count; i++) {
        if (!xs_perm_valid(perms[i])) {
            GP_ERR(c->plat, "xs: invalid permission '%s'", perms[i]);
            return GP_EINVAL;
        }
        parts[i + 1] = perms[i];
        lens[i + 1] = (uint32_t)strlen(perms[i]) + 1;
    }
    return xs_request(c, XS_SET_PERMS, t, parts, lens, count + 1, NULL, NULL);
}

/* Strict unsigned parse: decimal, or 0x-prefixed hex; whole string. */
static bool xs_parse_u64(const char *s, uint64_t *out)
{
    unsigned base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return false;
        if (v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}

int xs_read_u64(struct xs_client *c, xs_txn_t t, const char *path, uint64_t *out)
{
    char *v = NULL;
    int err = xs_read(c, t, path, &v, NULL);
    if (err)
        return err;
    uint64_t x;
    if (!xs_parse_u64(v, &x)) {
        GP_ERR(c->plat, "xs: %s = '%.40s' is not a number", path, v);
        xs_free(c, v);
        return GP_EINVAL;
    }
    xs_free(c, v);
    *out = x;
    return 0;
}

int xs_read_int(struct xs_client *c, xs_txn_t t, const char *path, long long *out)
{
    char *v = NULL;
    int err = xs_read(c, t, path, &v, NULL);
    if (err)
        return err;
    const char *s = v;
    bool neg = *s == '-';
    if (neg)
        s++;
    uint64_t x;
    bool ok = xs_parse_u64(s, &x) && x <= (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX);
    if (!ok) {
        GP_ERR(c->plat, "xs: %s = '%.40s' is not an integer", path, v);
        xs_free(c, v);
        return GP_EINVAL;
    }
    xs_free(c, v);
    *out = neg ? (long long)(0 - x) : (long long)x;
    return 0;
}
