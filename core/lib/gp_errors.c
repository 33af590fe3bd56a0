/* Error names and the mapping of xenstored's and Xen's errors to GP_E*. */
#include "gplpv/errors.h"

#include <string.h>

static const struct {
    int err;
    const char *name;
} gp_error_names[] = {
    { GP_OK, "OK" },           { GP_EPERM, "EPERM" },         { GP_ENOENT, "ENOENT" },
    { GP_EIO, "EIO" },         { GP_E2BIG, "E2BIG" },         { GP_EAGAIN, "EAGAIN" },
    { GP_ENOMEM, "ENOMEM" },   { GP_EACCES, "EACCES" },       { GP_EBUSY, "EBUSY" },
    { GP_EEXIST, "EEXIST" },   { GP_EISDIR, "EISDIR" },       { GP_EINVAL, "EINVAL" },
    { GP_ENOSPC, "ENOSPC" },   { GP_EROFS, "EROFS" },         { GP_ERANGE, "ERANGE" },
    { GP_ENOSYS, "ENOSYS" },   { GP_ENOTEMPTY, "ENOTEMPTY" }, { GP_ENODATA, "ENODATA" },
    { GP_EPROTO, "EPROTO" },   { GP_EBADMSG, "EBADMSG" },     { GP_EOVERFLOW, "EOVERFLOW" },
    { GP_ENOTSUP, "ENOTSUP" }, { GP_ESHUTDOWN, "ESHUTDOWN" }, { GP_ETIMEDOUT, "ETIMEDOUT" },
    { GP_ECANCELED, "ECANCELED" }, { GP_EQUOTA, "EQUOTA" },   { GP_ENODEV, "ENODEV" },
};

#define GP_N_ERRORS (sizeof(gp_error_names) / sizeof(gp_error_names[0]))

const char *gp_strerror(int err)
{
    for (size_t i = 0; i < GP_N_ERRORS; i++)
        if (gp_error_names[i].err == err)
            return gp_error_names[i].name;
    return "EUNKNOWN";
}

int gp_error_from_xs(const char *name)
{
    if (!name)
        return GP_EPROTO;
    for (size_t i = 1; i < GP_N_ERRORS; i++)
        if (strcmp(gp_error_names[i].name, name) == 0)
            return gp_error_names[i].err;
    /* xenstored also sends these (xs_wire.h xsd_errors) */
    if (strcmp(name, "EQUOTA") == 0)
        return GP_EQUOTA;
    return GP_EPROTO;
}

int gp_error_from_xen(long rc)
{
    if (rc >= 0)
        return GP_OK;
    /* Xen's errno values (xen/errno.h) follow Linux's numbering for the
     * codes we name; anything else is an I/O error. */
    for (size_t i = 1; i < GP_N_ERRORS; i++)
        if (gp_error_names[i].err == (int)rc)
            return (int)rc;
    return GP_EIO;
}
