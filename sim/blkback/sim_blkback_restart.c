/* sim_blkback: restarts, a backend that comes back different, injected
 * faults, the hostile behaviour of one that keeps its grant mappings, and
 * the checks and stats tests read (see sim_blkback.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gplpv/xs.h"
#include "sim_blkback_internal.h"

void sim_blkback_write_features(struct sim_blkback *b)
{
    char path[160];
    sim_blkback_write_node(b, b->bk.be_path, "feature-persistent", "%llu", b->o.no_persistent ? 0 : 1);
    sim_blkback_write_node(b, b->bk.be_path, "feature-flush-cache", "%llu", b->o.no_flush ? 0 : 1);
    if (b->o.barrier)
        sim_blkback_write_node(b, b->bk.be_path, "feature-barrier", "%llu", 1);
    snprintf(path, sizeof(path), "%s/feature-max-indirect-segments", b->bk.be_path);
    if (b->o.max_indirect)
        sim_blkback_write_node(b, b->bk.be_path, "feature-max-indirect-segments", "%llu",
                               b->o.max_indirect);
    else
        xs_rm(b->bk.xs, XS_TXN_NONE, path);
    sim_blkback_write_node(b, b->bk.be_path, "max-ring-page-order", "%llu", b->o.max_ring_order);
    snprintf(path, sizeof(path), "%s/multi-queue-max-queues", b->bk.be_path);
    if (b->o.max_queues > 1)
        sim_blkback_write_node(b, b->bk.be_path, "multi-queue-max-queues", "%llu", b->o.max_queues);
    else
        xs_rm(b->bk.xs, XS_TXN_NONE, path);
    if (!b->o.no_discard) {
        sim_blkback_write_node(b, b->bk.be_path, "feature-discard", "%llu", 1);
        sim_blkback_write_node(b, b->bk.be_path, "discard-granularity", "%llu", 4096);
        sim_blkback_write_node(b, b->bk.be_path, "discard-alignment", "%llu", 0);
    }
    for (const char *const *kv = b->o.raw_nodes; kv && kv[0] && kv[1]; kv += 2) {
        snprintf(path, sizeof(path), "%s/%s", b->bk.be_path, kv[0]);
        xs_write_str(b->bk.xs, XS_TXN_NONE, path, kv[1]);
    }
}

void sim_blkback_keep(struct sim_blkback *b, gp_grant_ref_t ref, void *va, bool write)
{
    if (b->nkept == b->kept_cap) {
        b->kept_cap = b->kept_cap ? 2 * b->kept_cap : 64;
        b->kept = realloc(b->kept, b->kept_cap * sizeof(*b->kept));
    }
    b->kept[b->nkept++] = (struct bb_kept){ ref, va, write };
}

/* The new instance takes the geometry and features of o; the disk keeps
 * its bytes (grown with zeros or cut if o changes its size). */
static void bb_take_opts(struct sim_blkback *b, const struct sim_blkback_opts *o)
{
    struct sim_blkback_opts n = *o;
    if (!n.sectors)
        n.sectors = b->o.sectors;
    if (!n.sector_size)
        n.sector_size = 512;
    if (n.indirect && !n.max_indirect)
        n.max_indirect = 256;
    pthread_mutex_lock(&b->bk.m);
    uint64_t bytes = n.sectors * n.sector_size;
    if (bytes != b->disk_bytes) {
        uint8_t *d = calloc(1, bytes);
        memcpy(d, b->disk, bytes < b->disk_bytes ? bytes : b->disk_bytes);
        free(b->disk);
        b->disk = d;
        b->disk_bytes = bytes;
    }
    b->o = n;
    pthread_mutex_unlock(&b->bk.m);
    sim_blkback_write_features(b);
}

static void bb_restart(struct sim_blkback *b, const struct sim_blkback_opts *o, unsigned flags)
{
    bool say_closed = !(flags & SIM_BLK_RESTART_UNSEEN);
    pthread_mutex_lock(&b->bk.state_m);
    if (say_closed)
        sim_back_set_state(&b->bk, XenbusStateClosing);
    pthread_mutex_lock(&b->bk.m);
    b->keep_maps = flags & SIM_BLK_RESTART_KEEP_MAPS;
    sim_blkback_disconnect_locked(b);
    b->keep_maps = false;
    sim_back_unlock(&b->bk);
    if (o)
        bb_take_opts(b, o);
    if (say_closed) {
        sim_back_set_state(&b->bk, XenbusStateClosed);
        usleep(20000);
    }
    sim_back_set_state(&b->bk, XenbusStateInitWait);
    /* A new instance reads the frontend's state once it watches it (Linux:
     * the watch fires on registration): an 'Initialised' written while we
     * restarted is acted on, not lost. */
    sim_blkback_fe_transition(b);
    pthread_mutex_unlock(&b->bk.state_m);
}

void sim_blkback_restart(struct sim_blkback *b)
{
    bb_restart(b, NULL, 0);
}

void sim_blkback_restart_unseen(struct sim_blkback *b)
{
    bb_restart(b, NULL, SIM_BLK_RESTART_UNSEEN);
}

void sim_blkback_restart_with(struct sim_blkback *b, const struct sim_blkback_opts *o,
                              unsigned flags)
{
    bb_restart(b, o, flags);
}

void sim_blkback_keep_data_maps(struct sim_blkback *b, bool keep)
{
    pthread_mutex_lock(&b->bk.m);
    b->keep_data_maps = keep;
    pthread_mutex_unlock(&b->bk.m);
}

unsigned sim_blkback_kept(struct sim_blkback *b, void **va, unsigned max)
{
    pthread_mutex_lock(&b->bk.m);
    unsigned n = b->nkept;
    for (unsigned i = 0; i < n && i < max; i++)
        va[i] = b->kept[i].va;
    pthread_mutex_unlock(&b->bk.m);
    return n;
}

void sim_blkback_release_kept(struct sim_blkback *b)
{
    pthread_mutex_lock(&b->bk.m);
    for (unsigned i = 0; i < b->nkept; i++)
        sim_gnt_unmap(b->bk.x, 0, b->bk.fe, b->kept[i].ref, b->kept[i].write);
    b->nkept = 0;
    free(b->kept);
    b->kept = NULL;
    b->kept_cap = 0;
    pthread_mutex_unlock(&b->bk.m);
}

/* Bytes the frontend exposes outside [from, to) of a page it granted us:
 * they must hold nothing (XSA-403); counted in st.stale_pages. */
void sim_blkback_check_stale(struct sim_blkback *b, gp_grant_ref_t ref, unsigned from, unsigned to)
{
    uint8_t page[GP_PAGE_SIZE];
    const uint8_t *va = ref < BB_MAX_REFS && b->persistent ? b->pmap[ref] : NULL;
    if (!va) {
        if (sim_gnt_copy(b->bk.x, 0, b->bk.fe, ref, 0, page, GP_PAGE_SIZE, false) != 0)
            return;
        va = page;
    }
    for (unsigned i = 0; i < GP_PAGE_SIZE; i++)
        if ((i < from || i >= to) && va[i]) {
            b->st.stale_pages++;
            return;
        }
}

void sim_blkback_corrupt_next(struct sim_blkback *b, enum sim_blk_corrupt c)
{
    pthread_mutex_lock(&b->bk.m);
    b->corrupt = c;
    pthread_mutex_unlock(&b->bk.m);
}

void sim_blkback_set_faults(struct sim_blkback *b, uint32_t error_ppm, uint32_t delay_us,
                            bool reorder)
{
    pthread_mutex_lock(&b->bk.m);
    b->error_ppm = error_ppm;
    b->delay_us = delay_us;
    b->reorder = reorder;
    pthread_mutex_unlock(&b->bk.m);
}

void sim_blkback_shift_ring_indices(struct sim_blkback *b, uint32_t delta)
{
    pthread_mutex_lock(&b->bk.m);
    for (unsigned i = 0; b->bk.connected && i < b->nq; i++)
        SIM_BACK_RING_SHIFT(&b->q[i].ring, delta);
    pthread_mutex_unlock(&b->bk.m);
}

void sim_blkback_resize(struct sim_blkback *b, uint64_t sectors)
{
    pthread_mutex_lock(&b->bk.m);
    uint64_t bytes = sectors * b->o.sector_size;
    uint8_t *d = calloc(1, bytes);
    memcpy(d, b->disk, bytes < b->disk_bytes ? bytes : b->disk_bytes);
    free(b->disk);
    b->disk = d;
    b->disk_bytes = bytes;
    b->o.sectors = sectors;
    pthread_mutex_unlock(&b->bk.m);
    sim_blkback_write_node(b, b->bk.be_path, "sectors", "%llu", sectors);
    sim_back_set_state(&b->bk, XenbusStateConnected);
}

void sim_blkback_get_stats(struct sim_blkback *b, struct sim_blkback_stats *s)
{
    pthread_mutex_lock(&b->bk.m);
    *s = b->st;
    pthread_mutex_unlock(&b->bk.m);
}
