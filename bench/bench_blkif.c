/* Block frontend benchmark (make bench): the core's blkfront against the
 * simulated blkback (memory disk), 4 KiB random and 64 KiB sequential
 * reads and writes at queue depths 1 and 32, beside memcpy bandwidth
 * measured in the same run.  Prints throughput, IOPS, notifications and
 * grant operations per request, and checks the targets of issue 3.
 * With --callgrind N it runs N requests of each kind only, for
 * callgrind (instructions per request, measured by the bench itself). */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "../tests/harness/gp_sim_env.h"
#include "bench_common.h"
#include "blkback/sim_blkback.h"
#include "gplpv/blkfront.h"

static void on_done(void *arg, struct blkfront_req *r, int status)
{
    (void)r;
    bench_job_end(arg, false, status);
}

struct result {
    double mbps, iops, notif_per_req, grants_per_req;
    int errors;
};

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static struct result run(struct blkfront *bf, struct sim_blkback *bb, bool write, uint32_t size,
                         bool random, unsigned qd, double seconds, unsigned max_ops)
{
    enum { QMAX = 32 };
    static struct blkfront_req reqs[QMAX];
    static struct blkfront_sg sgs[QMAX];
    static uint8_t *bufs[QMAX];
    for (unsigned i = 0; i < QMAX; i++)
        if (!bufs[i])
            bufs[i] = malloc(65536);
    struct bench_job j = BENCH_JOB_INIT;
    struct blkfront_stats f0, f1;
    struct sim_blkback_stats b0, b1;
    struct blkfront_info info;
    blkfront_get_info(bf, &info);
    uint64_t span = info.sectors - size / 512;
    blkfront_get_stats(bf, &f0);
    sim_blkback_get_stats(bb, &b0);
    double t0 = bench_now_s();
    unsigned issued = 0, slot = 0;
    uint64_t seq = 0;
    while (bench_job_next(&j, qd, issued, max_ops, t0, seconds)) {
        uint64_t sector = random ? (next_rand() % (span / 8)) * 8 : (seq += size / 512) % span;
        struct blkfront_req *r = &reqs[slot % QMAX];
        sgs[slot % QMAX] = (struct blkfront_sg){ bufs[slot % QMAX], size };
        *r = (struct blkfront_req){ .op = write ? BLKFRONT_WRITE : BLKFRONT_READ,
                                    .sector = sector, .nr_sectors = size / 512,
                                    .sg = &sgs[slot % QMAX], .nsg = 1, .done = on_done, .arg = &j };
        slot++;
        issued++;
        if (blkfront_submit(bf, r) != 0)
            bench_job_refused(&j);
    }
    double dt = bench_now_s() - t0;
    blkfront_get_stats(bf, &f1);
    sim_blkback_get_stats(bb, &b1);
    struct result res;
    double n = j.completed ? j.completed : 1;
    res.iops = j.completed / dt;
    res.mbps = res.iops * size / 1e6;
    res.notif_per_req = ((f1.notifications - f0.notifications) +
                         (b1.notifications - b0.notifications)) / n;
    res.grants_per_req = (f1.grant_ops - f0.grant_ops) / n;
    res.errors = j.errors;
    return res;
}

int main(int argc, char **argv)
{
    unsigned callgrind_ops = argc > 3 && strcmp(argv[1], "--callgrind") == 0 ? (unsigned)atoi(argv[2]) : 0;
    unsigned callgrind_kind = callgrind_ops ? (unsigned)atoi(argv[3]) % 4 : 0;
    struct sim_blkback *bb = NULL;
    struct blkfront *bf = NULL;
    int failed = 0;
    if (gp_sim_env_up(&gp_env, 16384, GP_SIM_ENV_XS) != 0 ||
        !(bb = sim_blkback_create(gp_env.x, gp_env.d0, 1, 768,
                                  &(struct sim_blkback_opts){ .sectors = 1u << 18, .indirect = true })) ||
        blkfront_create(gp_env.p, gp_env.xs, "device/vbd/768", NULL, &bf) ||
        blkfront_connect(bf, GP_S(5))) {
        fprintf(stderr, "bench_blkif: setup failed\n");
        return 1;
    }
    struct { const char *name; bool write; uint32_t size; bool random; } kinds[] = {
        { "4K random read", false, 4096, true },   { "4K random write", true, 4096, true },
        { "64K seq read", false, 65536, false },   { "64K seq write", true, 65536, false },
    };
    if (callgrind_ops) {
        unsigned k = callgrind_kind;
        run(bf, bb, kinds[k].write, kinds[k].size, kinds[k].random, 1, 0, callgrind_ops);
    } else {
        double memcpy_bw = bench_memcpy_bandwidth(64u << 20, 65536, 0.5);
        printf("blkfront over the simulated blkback (persistent grants, indirect 256, memory disk)\n");
        printf("memcpy bandwidth (64 KiB chunks): %.0f MB/s\n\n", memcpy_bw / 1e6);
        printf("%-16s %3s %10s %10s %9s %12s %12s\n", "workload", "QD", "MB/s", "IOPS",
               "of memcpy", "notif/req", "grants/req");
        double seq_read_32 = 0, notif_32_max = 0, grants_max = 0;
        int errors = 0;
        for (unsigned k = 0; k < 4; k++)
            for (unsigned qd = 1; qd <= 32; qd *= 32) {
                struct result r = run(bf, bb, kinds[k].write, kinds[k].size, kinds[k].random, qd,
                                      0.6, 0);
                printf("%-16s %3u %10.1f %10.0f %8.1f%% %12.3f %12.3f\n", kinds[k].name, qd, r.mbps,
                       r.iops, 100.0 * r.mbps * 1e6 / memcpy_bw, r.notif_per_req, r.grants_per_req);
                if (k == 2 && qd == 32)
                    seq_read_32 = r.mbps * 1e6;
                if (qd == 32 && r.notif_per_req > notif_32_max)
                    notif_32_max = r.notif_per_req;
                if (r.grants_per_req > grants_max)
                    grants_max = r.grants_per_req;
                errors += r.errors;
            }
        /* Instructions per request in the frontend data path (callgrind:
         * everything under blkfront_submit and blkfront_event, the copies
         * included, minus the simulated hypervisor's hypercalls). */
        printf("\nfrontend instructions per request (callgrind, QD1, 200 requests):\n");
        for (unsigned k = 0; k < 4; k++) {
            unsigned long long ir = bench_callgrind_ir(
                argv[0], "--toggle-collect=blkfront_submit --toggle-collect=blkfront_event "
                         "--toggle-collect=hv_hypercall", "cg", 200, k);
            if (ir)
                printf("  %-16s %10.0f instructions/request\n", kinds[k].name, ir / 200.0);
            else
                printf("  %-16s (valgrind not available)\n", kinds[k].name);
        }
        printf("\ntargets:\n");
        failed += bench_target(seq_read_32 >= 0.5 * memcpy_bw,
                               "64K sequential read >= 50%% of memcpy: %.1f%%",
                               100 * seq_read_32 / memcpy_bw);
        failed += bench_target(notif_32_max < 0.125, "QD32 notifications/request < 1/8: max %.3f",
                               notif_32_max);
        failed += bench_target(grants_max == 0,
                               "grant operations/request in steady state = 0: max %.3f", grants_max);
        failed += bench_target(errors == 0, "errors = 0: %d", errors);
    }
    blkfront_destroy(bf);
    sim_blkback_destroy(bb);
    gp_sim_env_down(&gp_env);
    return callgrind_ops ? 0 : bench_verdict("bench_blkif", failed);
}
