/* What the netfront reconnect tests share: one simulated Xen with dom0 and
 * a guest, vifs (a sim_netback and a netfront looped back to itself), and
 * frames that can be checked on arrival wherever they were cut: each is
 * TCP with its number in the top bits of the TCP sequence number and the
 * payload offset in the low 15, the payload a pattern of (number,
 * offset), so a frame or any segment of it is verified by itself.  Every
 * frame records how often it completed (must be exactly once) and how
 * many payload bytes arrived intact. */
#ifndef GP_NETFRONT_ENV_H
#define GP_NETFRONT_ENV_H

#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "netif/netfront_internal.h"
#include "gp_frames.h"
#include "gp_sim_env.h"
#include "gp_test.h"
#include "gp_vif.h"
#include "gplpv/netfront.h"
#include "netback/sim_netback.h"
#include "os/sim_os.h"
#include "sim.h"

#define NE_MAX_FRAMES 8192

struct ne_frame {
    struct netfront_tx t;
    struct netpkt_frag fr;
    uint8_t *buf;
    uint32_t payload;
    int ipv;
    unsigned done_calls;              /* must end at exactly 1 */
    int status;
    uint32_t rx_bytes;                /* payload bytes that came back intact */
};

struct ne_vif {
    struct sim_netback *nb;
    struct netfront *nf;
    pthread_mutex_t m;
    pthread_cond_t c;
    struct ne_frame *f[NE_MAX_FRAMES];
    unsigned nframes, completed;
    unsigned rx_frames, rx_bad, rx_unknown;
};

static inline uint8_t ne_pattern(unsigned id, uint32_t off)
{
    return (uint8_t)(id * 29 + off * 7 + (off >> 9));
}

static void ne_rx(void *arg, const struct netfront_rx *r)
{
    struct ne_vif *v = arg;
    uint8_t *d = malloc(r->len);
    netpkt_read(r->frags, r->nfrags, 0, d, r->len);
    int ipv = r->len > 14 && d[12] == 0x86 ? 6 : 4;
    uint32_t hl = fr_hdr_len(ipv, 6);
    bool ok = r->len >= hl && fr_csum_ok(d, r->len, ipv, 6);
    uint32_t seq = 0;
    if (r->len >= hl) {
        const uint8_t *tcp = d + 14 + fr_l3_len(ipv);
        seq = (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 | tcp[7];
    }
    unsigned id = seq >> 15;
    uint32_t off = seq & 0x7fff;
    pthread_mutex_lock(&v->m);
    v->rx_frames++;
    if (!ok || id >= v->nframes) {
        v->rx_unknown += !(id < v->nframes);
        v->rx_bad += ok ? 0 : 1;
    } else {
        struct ne_frame *f = v->f[id];
        uint32_t n = r->len - hl;
        for (uint32_t k = 0; ok && k < n; k++)
            ok = d[hl + k] == ne_pattern(id, off + k);
        if (!ok || off + n > f->payload || f->rx_bytes + n > f->payload)
            v->rx_bad++;              /* corrupted, or more than was sent (a duplicate) */              /* corrupted, or more than was sent (a duplicate) */
        else
            f->rx_bytes += n;
    }
    pthread_cond_broadcast(&v->c);
    pthread_mutex_unlock(&v->m);
    free(d);
}

static void ne_done(void *arg, struct netfront_tx *t, int status)
{
    struct ne_vif *v = arg;
    struct ne_frame *f = (struct ne_frame *)((char *)t - offsetof(struct ne_frame, t));
    pthread_mutex_lock(&v->m);
    f->done_calls++;
    f->status = status;
    v->completed++;
    pthread_cond_broadcast(&v->c);
    pthread_mutex_unlock(&v->m);
}

/* A frame of 'payload' bytes (GSO when gso_mss is set, checksum left to
 * netfront or the backend); returns 0 or what netfront_send said. */
static inline int ne_send(struct ne_vif *v, int ipv, uint32_t payload, uint16_t gso_mss)
{
    if (payload > 0x7fff)
        return GP_EINVAL;             /* the offset must fit its 15 bits */
    pthread_mutex_lock(&v->m);
    unsigned id = v->nframes;
    pthread_mutex_unlock(&v->m);
    if (id >= NE_MAX_FRAMES)
        return GP_ENOSPC;
    struct ne_frame *f = calloc(1, sizeof(*f));
    f->buf = malloc(fr_hdr_len(ipv, 6) + payload);
    uint32_t len = fr_build(f->buf, ipv, 6, payload, 0, FR_CSUM_PSEUDO, id << 15);
    uint32_t hl = fr_hdr_len(ipv, 6);
    for (uint32_t k = 0; k < payload; k++)
        f->buf[hl + k] = ne_pattern(id, k);
    f->payload = payload;
    f->ipv = ipv;
    f->fr = (struct netpkt_frag){ f->buf, len };
    f->t = (struct netfront_tx){ .frags = &f->fr, .nfrags = 1, .len = len,
                                 .flags = NETFRONT_TX_CSUM, .done = ne_done, .arg = v };
    if (gso_mss) {
        f->t.gso = ipv == 4 ? NETFRONT_GSO_TCPV4 : NETFRONT_GSO_TCPV6;
        f->t.mss = gso_mss;
    }
    pthread_mutex_lock(&v->m);
    v->f[id] = f;
    v->nframes = id + 1;
    pthread_mutex_unlock(&v->m);
    int rc = netfront_send(v->nf, &f->t);
    if (rc) {
        pthread_mutex_lock(&v->m);
        f->done_calls++;              /* refused: counts as its one completion */
        f->status = rc;
        v->completed++;
        pthread_mutex_unlock(&v->m);
    }
    return rc;
}

/* Wait (at most 'secs') until every frame completed; returns how many did. */
static inline unsigned ne_wait_completed(struct ne_vif *v, int secs)
{
    pthread_mutex_lock(&v->m);
    GP_COND_WAIT_WHILE(&v->c, &v->m, secs, v->completed < v->nframes);
    unsigned n = v->completed;
    pthread_mutex_unlock(&v->m);
    return n;
}

/* Wait until frame 'id' has come back whole. */
static inline bool ne_wait_arrived(struct ne_vif *v, unsigned id, int secs)
{
    pthread_mutex_lock(&v->m);
    GP_COND_WAIT_WHILE(&v->c, &v->m, secs,
                       id < v->nframes && v->f[id]->rx_bytes < v->f[id]->payload);
    bool ok = id < v->nframes && v->f[id]->rx_bytes == v->f[id]->payload;
    pthread_mutex_unlock(&v->m);
    return ok;
}

/* Frames completed more than once or not at all (both wrong). */
static inline unsigned ne_not_once(struct ne_vif *v)
{
    unsigned bad = 0;
    pthread_mutex_lock(&v->m);
    for (unsigned i = 0; i < v->nframes; i++)
        bad += v->f[i]->done_calls != 1;
    pthread_mutex_unlock(&v->m);
    return bad;
}

static inline void ne_open(struct ne_vif *v, unsigned devid, const struct sim_netback_opts *bo,
                           struct netfront_opts fo)
{
    memset(v, 0, sizeof(*v));
    pthread_mutex_init(&v->m, NULL);
    pthread_cond_init(&v->c, NULL);
    fo.rx = ne_rx;
    fo.arg = v;
    gp_vif_attach(devid, bo, &fo, &v->nb, &v->nf);
}

/* Destroys the frontend (if still there) and the backend; frees the frames. */
static inline void ne_close(struct ne_vif *v)
{
    netfront_destroy(v->nf);
    v->nf = NULL;
    sim_netback_destroy(v->nb);
    for (unsigned i = 0; i < v->nframes; i++) {
        free(v->f[i]->buf);
        free(v->f[i]);
    }
    v->nframes = 0;
    pthread_cond_destroy(&v->c);
    pthread_mutex_destroy(&v->m);
}

/* Wait until the backend connected 'n' times in all (a reconnect done). */
static inline bool ne_wait_connects(struct ne_vif *v, uint64_t n)
{
    struct sim_netback_stats st = { 0 };
    for (int i = 0; i < 1000; i++) {
        sim_netback_get_stats(v->nb, &st);
        if (st.connects >= n && __atomic_load_n(&v->nf->connected, __ATOMIC_ACQUIRE))
            return true;
        usleep(5000);
    }
    return false;
}

static inline bool ne_slow(void)
{
    return getenv("GP_TEST_SLOW") != NULL;
}

#endif
