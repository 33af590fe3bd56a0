/* Shared helpers for the benchmark programs under bench/ (make bench). */
#ifndef GPLPV_BENCH_COMMON_H
#define GPLPV_BENCH_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* memcpy bandwidth in bytes/s over a buffer of 'size' bytes copied in
 * 'chunk'-byte pieces for about 'seconds' s: the yardstick every
 * benchmark table prints beside its own figures. */
static inline double bench_memcpy_bandwidth(size_t size, size_t chunk, double seconds)
{
    unsigned char *src = malloc(size), *dst = malloc(size);
    if (!src || !dst) {
        free(src);
        free(dst);
        return 0;
    }
    memset(src, 0x5a, size);
    memset(dst, 0, size);
    uint64_t bytes = 0;
    double t0 = bench_now_s(), t;
    do {
        for (size_t off = 0; off + chunk <= size; off += chunk)
            memcpy(dst + off, src + off, chunk);
        bytes += size - size % chunk;
        __asm__ volatile("" ::"r"(dst) : "memory");
        t = bench_now_s();
    } while (t - t0 < seconds);
    free(src);
    free(dst);
    return (double)bytes / (t - t0);
}

#endif
