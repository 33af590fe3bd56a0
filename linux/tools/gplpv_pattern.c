/*
 * gplpv-pattern: writes and verifies a pattern over every sector of a
 * block device (O_DIRECT, so every byte goes through the device), and
 * checks that a range reads back as zeros (after a discard).  Each
 * 512-byte sector carries the seed and its own number and is filled from
 * them, so a sector written to the wrong place, twice, or not at all is
 * caught.  Prints the throughput.
 *
 *   gplpv-pattern write  DEV SEED [MIB [BS]]  (MIB: only the first MIB MiB;
 *   gplpv-pattern verify DEV SEED [MIB [BS]]   BS: bytes per I/O, default 1 MiB)
 *   gplpv-pattern zeros  DEV START_SECTOR COUNT
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/fs.h>

#define GPAT_CHUNK (1u << 20)

static double gpat_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void gpat_fill(uint8_t *s, uint32_t seed, uint64_t sector)
{
    uint64_t x = (sector + 1) * 0x9e3779b97f4a7c15ull ^ ((uint64_t)seed << 32 | seed);
    memcpy(s, "GPLPVPAT", 8);
    memcpy(s + 8, &seed, 4);
    memcpy(s + 12, &sector, 8);
    for (unsigned i = 20; i < 512; i += 4) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint32_t v = (uint32_t)x;
        memcpy(s + i, &v, 4);
    }
}

static uint64_t gpat_size(int fd, const char *dev)
{
    uint64_t bytes = 0;
    if (ioctl(fd, BLKGETSIZE64, &bytes) != 0) {
        off_t end = lseek(fd, 0, SEEK_END);
        bytes = end > 0 ? (uint64_t)end : 0;
        lseek(fd, 0, SEEK_SET);
    }
    if (!bytes)
        fprintf(stderr, "gplpv-pattern: %s: size unknown\n", dev);
    return bytes;
}

static int gpat_rw(int fd, uint8_t *buf, size_t len, uint64_t off, bool wr)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = wr ? pwrite(fd, buf + done, len - done, (off_t)(off + done))
                       : pread(fd, buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "gplpv-pattern: %s at byte %" PRIu64 ": %s\n", wr ? "write" : "read",
                    off + done, n < 0 ? strerror(errno) : "end of device");
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

static int gpat_pattern(const char *dev, uint32_t seed, uint64_t limit_mib, size_t bs, bool wr)
{
    int fd = open(dev, (wr ? O_WRONLY : O_RDONLY) | O_DIRECT);
    if (fd < 0) {
        fprintf(stderr, "gplpv-pattern: %s: %s\n", dev, strerror(errno));
        return 1;
    }
    uint64_t size = gpat_size(fd, dev) & ~511ull;
    if (limit_mib && limit_mib << 20 < size)
        size = limit_mib << 20;
    uint8_t *buf = NULL, *want = malloc(512);
    if (bs < 512 || bs > GPAT_CHUNK || bs % 512 ||
        posix_memalign((void **)&buf, 4096, bs) != 0 || !want || !size) {
        close(fd);
        return 1;
    }
    uint64_t bad = 0, first_bad = UINT64_MAX;
    double t0 = gpat_now();
    int rc = 0;
    for (uint64_t off = 0; off < size; off += bs) {
        size_t len = size - off < bs ? (size_t)(size - off) : bs;
        if (wr) {
            for (size_t s = 0; s < len; s += 512)
                gpat_fill(buf + s, seed, (off + s) / 512);
            if (gpat_rw(fd, buf, len, off, true) != 0) {
                rc = 1;
                break;
            }
        } else {
            if (gpat_rw(fd, buf, len, off, false) != 0) {
                rc = 1;
                break;
            }
            for (size_t s = 0; s < len; s += 512) {
                gpat_fill(want, seed, (off + s) / 512);
                if (memcmp(want, buf + s, 512) != 0) {
                    if (first_bad == UINT64_MAX)
                        first_bad = (off + s) / 512;
                    bad++;
                }
            }
        }
    }
    if (wr && !rc && fdatasync(fd) != 0) {
        fprintf(stderr, "gplpv-pattern: fdatasync: %s\n", strerror(errno));
        rc = 1;
    }
    double dt = gpat_now() - t0;
    close(fd);
    free(buf);
    free(want);
    double mib = (double)size / 1048576.0;
    if (wr)
        printf("gplpv-pattern: wrote %" PRIu64 " sectors (%.1f MiB) in %zu-byte I/Os in %.2f s: "
               "%.2f MiB/s, %.0f IOPS%s\n", size / 512, mib, bs, dt, dt > 0 ? mib / dt : 0.0,
               dt > 0 ? (double)size / (double)bs / dt : 0.0, rc ? " (FAILED)" : "");
    else
        printf("gplpv-pattern: verified %" PRIu64 " sectors (%.1f MiB) in %zu-byte I/Os in %.2f s: "
               "%.2f MiB/s, %.0f IOPS, %" PRIu64 " bad%s\n", size / 512, mib, bs, dt,
               dt > 0 ? mib / dt : 0.0, dt > 0 ? (double)size / (double)bs / dt : 0.0, bad,
               rc ? " (read FAILED)" : "");
    if (bad)
        printf("gplpv-pattern: first bad sector %" PRIu64 "\n", first_bad);
    return rc || bad ? 1 : 0;
}

static int gpat_zeros(const char *dev, uint64_t start, uint64_t count)
{
    int fd = open(dev, O_RDONLY | O_DIRECT);
    if (fd < 0) {
        fprintf(stderr, "gplpv-pattern: %s: %s\n", dev, strerror(errno));
        return 1;
    }
    uint8_t *buf = NULL;
    if (posix_memalign((void **)&buf, 4096, GPAT_CHUNK) != 0) {
        close(fd);
        return 1;
    }
    uint64_t nonzero = 0;
    int rc = 0;
    for (uint64_t s = start; s < start + count;) {
        uint64_t n = start + count - s;
        if (n > GPAT_CHUNK / 512)
            n = GPAT_CHUNK / 512;
        if (gpat_rw(fd, buf, (size_t)n * 512, s * 512, false) != 0) {
            rc = 1;
            break;
        }
        for (uint64_t i = 0; i < n; i++) {
            const uint8_t *p = buf + i * 512;
            bool z = true;
            for (unsigned k = 0; k < 512 && z; k++)
                z = p[k] == 0;
            nonzero += !z;
        }
        s += n;
    }
    close(fd);
    free(buf);
    printf("gplpv-pattern: sectors %" PRIu64 "..%" PRIu64 ": %" PRIu64 " not zero\n", start,
           start + count - 1, nonzero);
    return rc || nonzero ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && (!strcmp(argv[1], "write") || !strcmp(argv[1], "verify")))
        return gpat_pattern(argv[2], (uint32_t)strtoul(argv[3], NULL, 0),
                            argc > 4 ? strtoull(argv[4], NULL, 0) : 0,
                            argc > 5 ? (size_t)strtoul(argv[5], NULL, 0) : GPAT_CHUNK,
                            argv[1][0] == 'w');
    if (argc == 5 && !strcmp(argv[1], "zeros"))
        return gpat_zeros(argv[2], strtoull(argv[3], NULL, 0), strtoull(argv[4], NULL, 0));
    fprintf(stderr, "usage: gplpv-pattern write|verify DEV SEED [MIB [BS]] | zeros DEV START COUNT\n");
    return 2;
}
