/* gplpv error codes: 0 is success, failures are negative GP_E* values.
 * The names follow POSIX errno; core/lib/gp_errors.c maps xenstored's
 * error strings (xs_wire.h) and Xen's hypercall errors onto them. */
#ifndef GPLPV_ERRORS_H
#define GPLPV_ERRORS_H

enum gp_error {
    GP_OK         = 0,
    GP_EPERM      = -1,
    GP_ENOENT     = -2,
    GP_EIO        = -5,
    GP_E2BIG      = -7,
    GP_EAGAIN     = -11,
    GP_ENOMEM     = -12,
    GP_EACCES     = -13,
    GP_EBUSY      = -16,
    GP_EEXIST     = -17,
    GP_EISDIR     = -21,
    GP_EINVAL     = -22,
    GP_ENOSPC     = -28,
    GP_EROFS      = -30,
    GP_ERANGE     = -34,
    GP_ENOSYS     = -38,
    GP_ENOTEMPTY  = -39,
    GP_ENODATA    = -61,
    GP_EPROTO     = -71,
    GP_EBADMSG    = -74,
    GP_EOVERFLOW  = -75,
    GP_ENOTSUP    = -95,
    GP_ESHUTDOWN  = -108,
    GP_ETIMEDOUT  = -110,
    GP_ECANCELED  = -125,
    GP_EQUOTA     = -122,
    GP_ENODEV     = -19,
};

/* Short name of an error ("ENOENT"), for logs. */
const char *gp_strerror(int err);

/* Map an xenstored error string ("ENOENT", "EAGAIN", ...) to GP_E*;
 * unknown strings give GP_EPROTO. */
int gp_error_from_xs(const char *name);

/* Map a negative Xen hypercall return (xen/errno.h values) to GP_E*. */
int gp_error_from_xen(long rc);

#endif
