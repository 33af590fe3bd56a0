/*
 * gplpv-netcheck: moves verified data over TCP and UDP between the lab's
 * dom0 and domU and measures it.  Every byte comes from a generator keyed
 * by (seed, offset), so the receiver checks each one, not a checksum.
 *
 *   gplpv-netcheck serve PORT            TCP: sink or source on request;
 *                                        UDP on the same port: echo
 *   gplpv-netcheck send HOST PORT BYTES SEED     we send, the server checks
 *   gplpv-netcheck recv HOST PORT BYTES SEED     the server sends, we check
 *   gplpv-netcheck sweep HOST PORT MIN MAX STEP  UDP datagrams of each size
 *                                        echoed and compared byte for byte
 * Prints one result line with the throughput; exit status 0 when every
 * byte arrived as sent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../common/lxio.h"

#define GNC_MAGIC 0x67706e63u        /* "gpnc" */
#define GNC_SINK 1u
#define GNC_SOURCE 2u
#define GNC_BUF (256u * 1024u)

struct gnc_hdr {
    uint32_t magic, mode;
    uint64_t bytes, seed;
};

struct gnc_verdict {
    uint64_t got, bad, first_bad;
};

static double gnc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Byte at offset off of the stream of seed. */
static inline uint8_t gnc_byte(uint64_t seed, uint64_t off)
{
    uint64_t x = (off >> 3) * 0x9e3779b97f4a7c15ull ^ seed;
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 32;
    return (uint8_t)(x >> ((off & 7) * 8));
}

static void gnc_fill(uint8_t *p, size_t n, uint64_t seed, uint64_t off)
{
    for (size_t i = 0; i < n; i++)
        p[i] = gnc_byte(seed, off + i);
}

/* Receive bytes of the seed's stream from fd, checking each. */
static void gnc_sink(int fd, uint64_t bytes, uint64_t seed, struct gnc_verdict *v)
{
    uint8_t *buf = malloc(GNC_BUF);
    memset(v, 0, sizeof(*v));
    v->first_bad = UINT64_MAX;
    while (buf && v->got < bytes) {
        size_t want = bytes - v->got < GNC_BUF ? (size_t)(bytes - v->got) : GNC_BUF;
        ssize_t n = read(fd, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != gnc_byte(seed, v->got + (uint64_t)i)) {
                if (v->first_bad == UINT64_MAX)
                    v->first_bad = v->got + (uint64_t)i;
                v->bad++;
            }
        v->got += (uint64_t)n;
    }
    free(buf);
}

static int gnc_source(int fd, uint64_t bytes, uint64_t seed)
{
    uint8_t *buf = malloc(GNC_BUF);
    int rc = buf ? 0 : -1;
    for (uint64_t off = 0; !rc && off < bytes;) {
        size_t n = bytes - off < GNC_BUF ? (size_t)(bytes - off) : GNC_BUF;
        gnc_fill(buf, n, seed, off);
        rc = lxio_full(fd, buf, n, true);
        off += n;
    }
    free(buf);
    return rc;
}

static void *gnc_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    struct gnc_hdr h;
    if (lxio_full(fd, &h, sizeof(h), false) == 0 && h.magic == GNC_MAGIC) {
        if (h.mode == GNC_SINK) {
            struct gnc_verdict v;
            gnc_sink(fd, h.bytes, h.seed, &v);
            lxio_full(fd, &v, sizeof(v), true);
            fprintf(stderr, "gplpv-netcheck: got %" PRIu64 " of %" PRIu64 " bytes, %" PRIu64
                    " bad\n", v.got, h.bytes, v.bad);
        } else if (h.mode == GNC_SOURCE) {
            gnc_source(fd, h.bytes, h.seed);
            shutdown(fd, SHUT_WR);
            char c;
            while (read(fd, &c, 1) > 0)
                ;
        }
    }
    close(fd);
    return NULL;
}

static void *gnc_udp_echo(void *arg)
{
    int fd = (int)(intptr_t)arg;
    uint8_t *buf = malloc(65536);
    for (;;) {
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(fd, buf, 65536, 0, (struct sockaddr *)&from, &fl);
        if (n < 0)
            continue;
        sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
    }
    return NULL;
}

static int gnc_serve(int port)
{
    int one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int ls = socket(AF_INET, SOCK_STREAM, 0), us = socket(AF_INET, SOCK_DGRAM, 0);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ls < 0 || us < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 8) != 0 ||
        bind(us, (struct sockaddr *)&a, sizeof(a)) != 0) {
        fprintf(stderr, "gplpv-netcheck: port %d: %s\n", port, strerror(errno));
        return 1;
    }
    pthread_t t;
    pthread_create(&t, NULL, gnc_udp_echo, (void *)(intptr_t)us);
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0)
            continue;
        if (pthread_create(&t, NULL, gnc_conn, (void *)(intptr_t)fd) == 0)
            pthread_detach(t);
        else
            close(fd);
    }
}

static int gnc_connect(const char *host, int port, int type)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        fprintf(stderr, "gplpv-netcheck: bad address %s\n", host);
        return -1;
    }
    int fd = socket(AF_INET, type, 0);
    for (int i = 0; fd >= 0 && i < 20; i++) {
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
            return fd;
        if (type != SOCK_STREAM || errno != ECONNREFUSED)
            break;
        usleep(250000);          /* the server may be a moment late */
    }
    fprintf(stderr, "gplpv-netcheck: connect %s:%d: %s\n", host, port, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

static int gnc_client(const char *host, int port, uint64_t bytes, uint64_t seed, bool send)
{
    int fd = gnc_connect(host, port, SOCK_STREAM);
    if (fd < 0)
        return 1;
    struct gnc_hdr h = { GNC_MAGIC, send ? GNC_SINK : GNC_SOURCE, bytes, seed };
    double t0 = gnc_now();
    struct gnc_verdict v = { 0, 0, UINT64_MAX };
    int rc = lxio_full(fd, &h, sizeof(h), true);
    if (!rc && send) {
        rc = gnc_source(fd, bytes, seed);
        if (!rc)
            rc = lxio_full(fd, &v, sizeof(v), false);
    } else if (!rc) {
        gnc_sink(fd, bytes, seed, &v);
    }
    double dt = gnc_now() - t0;
    close(fd);
    double mib = (double)v.got / 1048576.0;
    bool ok = !rc && v.got == bytes && v.bad == 0;
    printf("gplpv-netcheck: %s %" PRIu64 " bytes %s %s:%d: %" PRIu64 " arrived, %" PRIu64
           " bad, %.2f s, %.2f MiB/s%s\n", send ? "sent" : "received", bytes,
           send ? "to" : "from", host, port, v.got, v.bad, dt, dt > 0 ? mib / dt : 0.0,
           ok ? "" : " (FAILED)");
    if (v.bad)
        printf("gplpv-netcheck: first bad byte at offset %" PRIu64 "\n", v.first_bad);
    return ok ? 0 : 1;
}

/* UDP datagrams of every size in [min, max] by step, each echoed back
 * and compared; a lost one is sent again (up to 5 times). */
static int gnc_sweep(const char *host, int port, unsigned min, unsigned max, unsigned step)
{
    int fd = gnc_connect(host, port, SOCK_DGRAM);
    if (fd < 0 || !step || max > 65507 || min > max)
        return 1;
    uint8_t *out = malloc(65536), *in = malloc(65536);
    unsigned sizes = 0, ok = 0, lost = 0, bad = 0, retries = 0;
    double t0 = gnc_now();
    for (unsigned sz = min; sz <= max; sz += step) {
        sizes++;
        gnc_fill(out, sz, sz * 7919u, 0);
        bool done = false;
        for (int attempt = 0; attempt < 5 && !done; attempt++) {
            if (attempt)
                retries++;
            if (send(fd, out, sz, 0) != (ssize_t)sz)
                continue;
            for (;;) {
                struct pollfd pf = { fd, POLLIN, 0 };
                if (poll(&pf, 1, 1000) <= 0)
                    break;
                ssize_t n = recv(fd, in, 65536, 0);
                if (n == (ssize_t)sz && !memcmp(in, out, sz)) {
                    done = true;
                    break;
                }
                if (n == (ssize_t)sz)        /* right size, wrong bytes */
                    bad++;
                /* else: a late echo of an earlier size: skip it */
            }
        }
        if (done)
            ok++;
        else
            lost++;
    }
    double dt = gnc_now() - t0;
    close(fd);
    free(out);
    free(in);
    printf("gplpv-netcheck: udp sweep %u..%u step %u: %u sizes, %u echoed identical, %u lost, "
           "%u corrupted, %u resent, %.2f s\n", min, max, step, sizes, ok, lost, bad, retries, dt);
    return ok == sizes && !bad ? 0 : 1;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && !strcmp(argv[1], "serve"))
        return gnc_serve(atoi(argv[2]));
    if (argc == 6 && (!strcmp(argv[1], "send") || !strcmp(argv[1], "recv")))
        return gnc_client(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 0),
                          strtoull(argv[5], NULL, 0), argv[1][0] == 's');
    if (argc == 7 && !strcmp(argv[1], "sweep"))
        return gnc_sweep(argv[2], atoi(argv[3]), (unsigned)atoi(argv[4]),
                         (unsigned)atoi(argv[5]), (unsigned)atoi(argv[6]));
    fprintf(stderr, "usage: gplpv-netcheck serve PORT | send|recv HOST PORT BYTES SEED |\n"
                    "                      sweep HOST PORT MIN MAX STEP\n");
    return 2;
}
