/*
 * blkfront_dump: polled I/O on a connected blkfront for the moments when
 * the OS's normal path no longer runs - writing a crash dump or the
 * hibernation file to a PV disk.  Then one processor runs with interrupts
 * off: no event-channel upcall, no lock, no allocation, no grant-table
 * change, no wait on the platform.  So everything is made ready while the
 * system runs normally (blkfront_dump_enable: a few pages granted to the
 * backend, kept granted across reconnects and restores), and the dump
 * path only copies data through those pages, puts one request at a time
 * on the device's first ring, notifies the backend and polls for the
 * answer, stalling through a callback the OS gives (StorPortStallExecution
 * on Windows).
 *
 * Answers to requests the normal path still had in flight (a crash can
 * come at any moment) are checked and dropped: those requests never
 * complete, the system is going down.  Nothing from the backend is
 * trusted here either: a response beyond what is outstanding, an unknown
 * id, a wrong operation or status fails the dump I/O with a clear error,
 * and no more than the device's own pages is ever touched.
 */
#ifndef GPLPV_BLKFRONT_DUMP_H
#define GPLPV_BLKFRONT_DUMP_H

#include "gplpv/blkfront.h"

/* Pages granted for the dump path: the most one ring request carries
 * without indirect segments is 11 pages; 8 keep it a power of two. */
#define BLKFRONT_DUMP_PAGES 8u
#define BLKFRONT_DUMP_CHUNK_SECTORS (BLKFRONT_DUMP_PAGES * 8u)

/* How the dump path waits: stall_us busy-waits that many microseconds
 * (must work with interrupts off); a request not answered within
 * timeout_us fails with GP_ETIMEDOUT. */
struct blkfront_dump_env {
    void (*stall_us)(void *arg, unsigned us);
    void *arg;
    uint64_t timeout_us;
};

struct blkfront_dump_stats {
    uint64_t requests, notifications, stale_responses, errors;
};

/* [passive] once connected: allocate and grant the dump pages.  They stay
 * granted while the device lives and are granted again after a restore;
 * blkfront_destroy releases them. */
int blkfront_dump_enable(struct blkfront *bf);

/* [dump: one processor, interrupts off] read, write or flush.  buf holds
 * nr_sectors * 512 bytes (unused for a flush); any length: it goes in
 * chunks of BLKFRONT_DUMP_CHUNK_SECTORS.  0, or a GP_E* error. */
int blkfront_dump_io(struct blkfront *bf, enum blkfront_op op, uint64_t sector,
                     uint32_t nr_sectors, void *buf, const struct blkfront_dump_env *env);

void blkfront_dump_get_stats(struct blkfront *bf, struct blkfront_dump_stats *s);

#endif
