/* Whole reads and writes on a file descriptor (a socket, a pipe), for the
 * Linux-hosted programs and their tests. */
#ifndef GPLPV_LXIO_H
#define GPLPV_LXIO_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <unistd.h>

/* Moves all len bytes (retrying on EINTR): 0 once done, 1 at the end of
 * the stream (nothing more moved), -1 on an error (errno says which). */
static inline int lxio_full(int fd, void *buf, size_t len, bool write_it)
{
    char *p = buf;
    while (len) {
        ssize_t n = write_it ? write(fd, p, len) : read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

#endif
