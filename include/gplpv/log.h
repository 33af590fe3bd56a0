/* Formatting and logging for the core, with no C library underneath:
 * gp_snprintf understands %s %c %d %i %u %x %X %p %% with the l, ll, z
 * and h/hh length modifiers, '-', '0' flags, a width and a '.precision'
 * (for %s), which is all the core uses. */
#ifndef GPLPV_LOG_H
#define GPLPV_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include "gplpv/platform.h"

int gp_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int gp_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Format a message (at most 511 characters, truncated) and hand it to
 * the platform's log function. */
void gp_log(const struct gp_platform *p, enum gp_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define GP_ERR(p, ...)   gp_log((p), GP_LOG_ERROR, __VA_ARGS__)
#define GP_WARN(p, ...)  gp_log((p), GP_LOG_WARN, __VA_ARGS__)
#define GP_INFO(p, ...)  gp_log((p), GP_LOG_INFO, __VA_ARGS__)
#define GP_DEBUG(p, ...) gp_log((p), GP_LOG_DEBUG, __VA_ARGS__)

/* Allocation helpers over the platform (zeroed memory). */
static inline void *gp_zalloc(const struct gp_platform *p, size_t size)
{
    return gp_os_alloc(p, size);
}
static inline void gp_free(const struct gp_platform *p, void *ptr)
{
    if (ptr)
        gp_os_free(p, ptr);
}

#endif
