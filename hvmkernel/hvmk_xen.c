/* hvmkernel: the steps that need Xen, done by the core exactly as the
 * Windows bus driver does them: detection, hypercalls (VMCALL or VMMCALL
 * by CPU vendor), shared_info,
 * grant frames, the upcall on every vCPU, xenstore over the ring. */
#include <string.h>

#include "gplpv/blkfront.h"
#include "gplpv/evtchn.h"
#include "gplpv/hvm.h"
#include "gplpv/hypercall.h"
#include "gplpv/log.h"
#include "gplpv/xs.h"
#include "hvmk.h"
#include "hvmk_platform.h"
#include "hvmk_steps.h"

#include <xen/sched.h>

static struct gp_platform hvmk_plat;
static bool hvmk_toolstack_steps;     /* "toolstack" on the command line: dom0 drives us */
static struct hvm *hvmk_hvm;

/* Each bring-up step is a step of the test.  The hypercall step's name
 * carries the way hypercalls go (the first word of its detail: VMCALL,
 * VMMCALL or page), so the lab's summary shows which instruction the
 * CPU took: "ok xen-hvm: xen-hypercall (VMCALL)". */
static void hvmk_hvm_step(void *arg, const char *step, int err, const char *detail)
{
    (void)arg;
    char name[40], why[120];
    if (!strcmp(step, "hypercall")) {
        int n = 0;
        while (n < 12 && detail[n] && detail[n] != ' ')
            n++;
        gp_snprintf(name, sizeof(name), "xen-%s (%.*s)", step, n, detail);
    } else {
        gp_snprintf(name, sizeof(name), "xen-%s", step);
    }
    gp_snprintf(why, sizeof(why), "%s: %s", detail, gp_strerror(err));
    if (!err)
        hvmk_printf("hvmk: %s: %s\n", name, detail);
    hvmk_step_result(name, err == 0, why);
}

/* Once hypercalls work, leaving the test powers the domain off. */
static void hvmk_xen_exit(int code)
{
    struct sched_shutdown s = { .reason = code != 0            ? SHUTDOWN_crash
                                          : hvmk_exit_is_reboot() ? SHUTDOWN_reboot
                                                                  : SHUTDOWN_poweroff };
    gp_sched_op(&hvmk_plat, SCHEDOP_shutdown, &s);
}

static volatile unsigned hvmk_loop_hits;
static volatile int hvmk_loop_cpu;

static void hvmk_loop_handler(void *arg, gp_port_t port)
{
    (void)arg;
    (void)port;
    hvmk_loop_cpu = (int)hvmk_cpu_index();
    __atomic_add_fetch(&hvmk_loop_hits, 1, __ATOMIC_SEQ_CST);
}

/* A loopback channel (both ends ours); its receiving end is bound to each
 * vCPU in turn, and the upcall must arrive on that vCPU.  Every vCPU the
 * domain has must take part. */
_Static_assert(HVMK_MAX_CPUS <= XEN_LEGACY_MAX_VCPUS,
               "the core's 2-level event channels serve the legacy vcpu_info slots only");
void hvmk_step_upcall_every_vcpu(const char *step)
{
    struct evtchn *e = hvm_evtchn(hvmk_hvm);
    gp_port_t a = 0, b = 0;
    char why[120] = "ok";
    bool ok = evtchn_alloc_unbound(e, DOMID_SELF, &a) == 0 &&
              evtchn_bind_interdomain(e, DOMID_SELF, a, &b) == 0 &&
              evtchn_bind(e, b, hvmk_loop_handler, NULL) == 0;
    if (!ok)
        gp_snprintf(why, sizeof(why), "could not set up a loopback channel");
    unsigned n = hvmk_cpu_count();
    for (unsigned cpu = 0; ok && cpu < n; cpu++) {
        unsigned vcpu = hvmk_cpu_xen_vcpu(cpu);
        if (evtchn_bind_vcpu(e, b, vcpu) != 0) {
            ok = false;
            gp_snprintf(why, sizeof(why), "bind_vcpu to vCPU %u refused", vcpu);
            break;
        }
        hvmk_delay_us(1000);
        unsigned before = hvmk_loop_hits;
        hvmk_loop_cpu = -1;
        evtchn_notify(e, a);
        uint64_t deadline = hvmk_now_ns() + 500000000ull;
        while (hvmk_loop_hits == before && hvmk_now_ns() < deadline)
            hvmk_delay_us(100);
        if (hvmk_loop_hits == before || hvmk_loop_cpu != (int)cpu) {
            ok = false;
            gp_snprintf(why, sizeof(why), "event for vCPU %u %s (ran on CPU %d)", vcpu,
                        hvmk_loop_hits == before ? "never arrived" : "arrived elsewhere",
                        hvmk_loop_cpu);
        }
    }
    /* Fewer vCPUs than the domain has (the SMP step's expectation) would
     * leave some untested: not a pass. */
    unsigned want = hvmk_smp_expected();
    if (ok && want && n != want) {
        ok = false;
        gp_snprintf(why, sizeof(why), "%u vCPU(s) up, %u expected: the others untested", n,
                    want);
    } else if (ok) {
        gp_snprintf(why, sizeof(why), "%u vCPU(s)", n);
    }
    hvmk_printf("hvmk: %s: %s\n", step, why);
    hvmk_step_result(step, ok, why);
    if (b)
        evtchn_unbind(e, b);
    if (a)
        evtchn_unbind(e, a);
}

static volatile unsigned hvmk_watch_hits;

static void hvmk_watch_cb(void *arg, const char *path, const char *token)
{
    (void)arg;
    (void)path;
    (void)token;
    __atomic_add_fetch(&hvmk_watch_hits, 1, __ATOMIC_SEQ_CST);
}

static int hvmk_txn_body(struct xs_client *c, xs_txn_t t, void *arg)
{
    (void)arg;
    uint64_t v = 0;
    int err = xs_read_u64(c, t, "data/hvmk-counter", &v);
    if (err && err != GP_ENOENT)
        return err;
    return xs_printf(c, t, "data/hvmk-counter", "%llu", (unsigned long long)v + 1);
}

static void hvmk_step_xenstore(void)
{
    struct xs_client *c = NULL;
    char why[120] = "ok";
    int err = xs_client_create(&hvmk_plat, NULL, &c);
    char *v = NULL;
    if (!err)
        err = xs_read(c, XS_TXN_NONE, "domid", &v, NULL);
    if (!err) {
        gp_snprintf(why, sizeof(why), "domid %s", v);
        hvmk_printf("hvmk: xenstore: our domid is %s\n", v);
        xs_free(c, v);
        err = xs_write_str(c, XS_TXN_NONE, "data/hvmk", "hello from the core");
    }
    if (!err) {
        err = xs_read(c, XS_TXN_NONE, "data/hvmk", &v, NULL);
        if (!err && strcmp(v, "hello from the core") != 0)
            err = GP_EIO;
        if (!err)
            xs_free(c, v);
    }
    if (err)
        gp_snprintf(why, sizeof(why), "read/write: %s", gp_strerror(err));
    hvmk_step_result("xenstore-read-write", err == 0, why);
    if (!c)
        return;

    struct xs_watch *w = NULL;
    err = xs_watch_add(c, "data/watched", hvmk_watch_cb, NULL, &w);
    uint64_t deadline = hvmk_now_ns() + 2000000000ull;
    while (!err && hvmk_watch_hits < 1 && hvmk_now_ns() < deadline)
        hvmk_platform_poll();
    unsigned first = hvmk_watch_hits;
    if (!err)
        err = xs_write_str(c, XS_TXN_NONE, "data/watched/leaf", "1");
    deadline = hvmk_now_ns() + 2000000000ull;
    while (!err && hvmk_watch_hits <= first && hvmk_now_ns() < deadline)
        hvmk_platform_poll();
    bool ok = !err && first >= 1 && hvmk_watch_hits > first;
    gp_snprintf(why, sizeof(why), "err %s, %u event(s)", gp_strerror(err), hvmk_watch_hits);
    hvmk_step_result("xenstore-watch", ok, why);
    if (w)
        xs_watch_remove(c, w);

    err = xs_txn_run(c, 5, hvmk_txn_body, NULL);
    uint64_t cnt = 0;
    if (!err)
        err = xs_read_u64(c, XS_TXN_NONE, "data/hvmk-counter", &cnt);
    gp_snprintf(why, sizeof(why), "%s, counter %llu", gp_strerror(err), (unsigned long long)cnt);
    hvmk_step_result("xenstore-transaction", !err && cnt >= 1, why);
    struct blkfront *bf = hvmk_step_blkfront(&hvmk_plat, c);
    struct hvmk_net *net = hvmk_step_netfront(&hvmk_plat, c);
    if (hvmk_toolstack_steps)
        hvmk_step_toolstack(&hvmk_plat, c, hvmk_hvm, bf, net);
    hvmk_net_close(net);
    if (bf)
        blkfront_destroy(bf);
    xs_client_destroy(c);
}

void hvmk_run_xen_steps(const char *cmdline)
{
    bool expect_noxen = strstr(cmdline, "expect=noxen") != NULL;
    hvmk_platform_init(&hvmk_plat);
    struct hvm_info info;
    int err = hvm_detect(&hvmk_plat, &info);
    if (expect_noxen) {
        hvmk_step_result("xen-absent-reported", err == GP_ENODEV,
                         "the core found Xen where none was expected");
        return;
    }
    if (!err) {
        hvmk_printf("hvmk: Xen %u.%u, CPUID leaves at %x\n", info.major, info.minor,
                    info.cpuid_base);
        hvmk_smp_set_xen_base(info.cpuid_base);
    }
    /* Leaving powers the domain off once hypercalls work. */
    hvmk_set_exit_hook(hvmk_xen_exit);
    struct hvm_opts o = { .grant_frames = 8 };
    err = hvm_platform_attach(&hvmk_plat, &o, hvmk_hvm_step, NULL, &hvmk_hvm);
    if (err)
        return;
    hvmk_plat.xen = hvm_platform_xen(hvmk_hvm);
    hvmk_toolstack_steps = strstr(cmdline, "toolstack") != NULL;
    const char *sb = strstr(cmdline, "stall-before=");
    if (sb) {
        sb += strlen("stall-before=");
        size_t n = 0;
        while (sb[n] && sb[n] != ' ' && n + 1 < sizeof(hvmk_stall_before))
            n++;
        memcpy(hvmk_stall_before, sb, n);
        hvmk_stall_before[n] = 0;
    }
    hvmk_step_unplug(&hvmk_plat, cmdline);
    if (strstr(cmdline, "rebooted")) {
        hvmk_step_after_reboot(&hvmk_plat);
        return;
    }
    hvmk_step_upcall_every_vcpu("xen-upcall-every-vcpu");
    hvmk_step_xenstore();
    hvmk_step_bugcheck(&hvmk_plat);
}
