/* Shared helpers for the benchmark programs under bench/ (make bench). */
#ifndef GPLPV_BENCH_COMMON_H
#define GPLPV_BENCH_COMMON_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Requests or frames in flight, at most a queue depth of them: how many
 * completed or arrived, and how many failed. */
struct bench_job {
    pthread_mutex_t m;
    pthread_cond_t c;
    unsigned inflight;
    uint64_t completed, received;
    int errors;
};
#define BENCH_JOB_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0 }

/* One in flight ended: completed (with status), or arrived (received). */
static inline void bench_job_end(struct bench_job *j, bool received, int status)
{
    pthread_mutex_lock(&j->m);
    j->inflight--;
    if (received)
        j->received++;
    else
        j->completed++;
    if (status)
        j->errors++;
    pthread_cond_signal(&j->c);
    pthread_mutex_unlock(&j->m);
}

/* One that was refused at once: an error, no longer in flight. */
static inline void bench_job_refused(struct bench_job *j)
{
    pthread_mutex_lock(&j->m);
    j->inflight--;
    j->errors++;
    pthread_mutex_unlock(&j->m);
}

/* Waits for room below 'depth', then: true with one more in flight, or,
 * once 'issued' reached max (max != 0) or 'seconds' passed since t0 (max
 * == 0), false when all in flight have ended. */
static inline bool bench_job_next(struct bench_job *j, unsigned depth, unsigned issued,
                                  unsigned max, double t0, double seconds)
{
    pthread_mutex_lock(&j->m);
    while (j->inflight >= depth)
        pthread_cond_wait(&j->c, &j->m);
    if (max ? issued >= max : bench_now_s() - t0 >= seconds) {
        while (j->inflight)
            pthread_cond_wait(&j->c, &j->m);
        pthread_mutex_unlock(&j->m);
        return false;
    }
    j->inflight++;
    pthread_mutex_unlock(&j->m);
    return true;
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

/* One target line: the description (printf format) and PASS or FAIL.
 * Returns 1 for a failed target, so that main can add them up and exit
 * non-zero (make bench then fails). */
static inline int bench_target(bool pass, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline int bench_target(bool pass, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  ");
    vprintf(fmt, ap);
    va_end(ap);
    printf("  %s\n", pass ? "PASS" : "FAIL");
    return pass ? 0 : 1;
}

/* Instructions the program 'self' runs in the functions 'toggles' names
 * (valgrind's --toggle-collect=... options) when started as
 * 'self --callgrind n kind': callgrind's summary, or 0 when valgrind is
 * not there or failed.  'tag' names the temporary output file. */
static inline unsigned long long bench_callgrind_ir(const char *self, const char *toggles,
                                                    const char *tag, unsigned n, unsigned kind)
{
    char cmd[768], out[96];
    snprintf(out, sizeof(out), "/tmp/gplpv-bench-%s.%d.%u", tag, (int)getpid(), kind);
    snprintf(cmd, sizeof(cmd),
             "valgrind --tool=callgrind --callgrind-out-file=%s --collect-atstart=no %s "
             "'%s' --callgrind %u %u >/dev/null 2>&1", out, toggles, self, n, kind);
    unsigned long long ir = 0;
    if (system(cmd) == 0) {
        FILE *f = fopen(out, "r");
        char line[256];
        while (f && fgets(line, sizeof(line), f))
            if (sscanf(line, "summary: %llu", &ir) == 1)
                break;
        if (f)
            fclose(f);
    }
    remove(out);
    return ir;
}

/* The closing line of a benchmark program, and its exit status. */
static inline int bench_verdict(const char *name, int failed)
{
    if (failed)
        printf("\n%s: %d target(s) FAILED\n", name, failed);
    else
        printf("\n%s: every target met\n", name);
    return failed ? 1 : 0;
}

#endif
