/* hvmkernel: the bus driver's services on real Xen, driven from dom0 by
 * the lab job: QEMU unplug of the emulated disk and NIC, the balloon
 * following `xl mem-set`, `xl sysrq`, `xl shutdown`, and a bug-check
 * report that must appear in dom0's log of the Xen console. */
#include <string.h>

#include "gplpv/balloon.h"
#include "gplpv/blkfront.h"
#include "gplpv/suspend.h"
#include "gplpv/control.h"
#include "gplpv/crash.h"
#include "gplpv/log.h"
#include "gplpv/unplug.h"
#include "hvmk.h"
#include "hvmk_platform.h"
#include "hvmk_steps.h"

void hvmk_step_unplug(struct gp_platform *plat, const char *cmdline)
{
    char ide_before[160], ide_after[160];
    unsigned disks = hvmk_ide_probe(ide_before, sizeof(ide_before));
    unsigned nics = hvmk_pci_count_class(0x02, 0xff);
    struct unplug_request r = { .pv_disk_ready = true, .pv_net_ready = true,
                                .boot_options = cmdline, .build = 1 };
    int rc = unplug_emulated_devices(plat, &r);
    unsigned after = hvmk_pci_count_class(0x02, 0xff);
    char why[120];
    gp_snprintf(why, sizeof(why), "mask %d, emulated NICs on PCI: %u before, %u after", rc, nics,
                after);
    hvmk_printf("hvmk: unplug: %s\n", why);
    bool nogplpv = unplug_disabled_by_boot(cmdline, false);
    bool ok = nogplpv ? (rc == 0 && after == nics)
                      : (rc == (UNPLUG_IDE_DISKS | UNPLUG_NICS | UNPLUG_NVME) && nics > 0 && after == 0);
    hvmk_step_result(nogplpv ? "unplug-refused-nogplpv" : "unplug-emulated-disk-and-nic", ok, why);
    /* What the OS's own IDE driver would find now. */
    unsigned left = hvmk_ide_probe(ide_after, sizeof(ide_after));
    char why2[360];
    gp_snprintf(why2, sizeof(why2), "IDE before: %s | after: %s", ide_before, ide_after);
    hvmk_printf("hvmk: unplug: %s\n", why2);
    ok = nogplpv ? left == disks : disks > 0 && left == 0;
    hvmk_step_result(nogplpv ? "ide-disks-kept-nogplpv" : "ide-disk-gone-after-unplug", ok, why2);
}

static void *hvmk_bal_take(void *arg, uint64_t *gfn)
{
    (void)arg;
    void *va = hvmk_page_alloc();
    if (va)
        *gfn = (uint64_t)(uintptr_t)va >> 12;
    return va;
}

static void hvmk_bal_give(void *arg, void *va)
{
    (void)arg;
    hvmk_page_free(va);
}

static volatile int hvmk_sysrq_key;
static volatile int hvmk_shutdown_action = -1;

static void hvmk_on_shutdown(void *arg, enum control_action a)
{
    (void)arg;
    hvmk_shutdown_action = (int)a;
}

static void hvmk_on_sysrq(void *arg, char key)
{
    (void)arg;
    hvmk_sysrq_key = key;
}

/* "stall-before=PHASE" on the command line: the guest stops making any
 * progress just before it would report PHASE (the lab's check that a
 * stalled wait is reported as the cause, lab/run-hvmkernel-stall). */
char hvmk_stall_before[32];

static void hvmk_phase(struct xs_client *xs, const char *phase)
{
    if (hvmk_stall_before[0] && strcmp(phase, hvmk_stall_before) == 0) {
        hvmk_printf("hvmk: stalling before phase %s, as the command line asks\n", phase);
        for (;;)
            hvmk_idle();
    }
    xs_write_str(xs, XS_TXN_NONE, "data/hvmk-phase", phase);
    hvmk_printf("hvmk: phase %s\n", phase);
}

/* Wait (serving deferred work) until cond() or timeout; true if cond. */
static bool hvmk_wait_until(bool (*cond)(void *), void *arg, uint64_t seconds)
{
    uint64_t deadline = hvmk_now_ns() + seconds * 1000000000ull;
    while (!cond(arg) && hvmk_now_ns() < deadline) {
        hvmk_platform_poll();
        hvmk_idle();
    }
    return cond(arg);
}

struct hvmk_bal_wait {
    struct balloon *b;
    uint64_t at_least_kib, at_most_kib;
};

static bool hvmk_bal_reached(void *arg)
{
    struct hvmk_bal_wait *w = arg;
    struct balloon_stats st;
    balloon_get_stats(w->b, &st);
    return st.ballooned_kib >= w->at_least_kib && st.ballooned_kib <= w->at_most_kib;
}

static bool hvmk_got_sysrq(void *arg)
{
    (void)arg;
    return hvmk_sysrq_key != 0;
}

static bool hvmk_got_shutdown(void *arg)
{
    (void)arg;
    return hvmk_shutdown_action >= 0;
}

static void hvmk_bf_suspend(void *arg)
{
    blkfront_suspend(arg);
}

static int hvmk_bf_resume(void *arg, bool cancelled)
{
    if (cancelled) {
        blkfront_resume_in_place(arg);
        return 0;
    }
    return blkfront_resume_restored(arg, GP_S(20));
}

/* One trip through the toolstack's suspend: writes in flight, phase `ask`
 * asks dom0 to save+restore or migrate us, and afterwards every write
 * completed once and is on the disk, and the NIC still carries data.
 * Phase `done` tells dom0 we are through. */
static void hvmk_step_suspend_round(struct gp_platform *plat, struct xs_client *xs, struct hvm *h,
                                    struct blkfront *bf, struct hvmk_net *net, unsigned round,
                                    const char *ask, const char *step, const char *how,
                                    const char *done)
{
    char why[120], name[64];
    struct suspend s;
    int err = suspend_init(&s, plat, h, xs);
    if (!err)
        err = suspend_register(&s, &(struct suspend_dev){ hvmk_bf_suspend, hvmk_bf_resume, bf });
    if (!err && net)
        err = suspend_register(&s, &(struct suspend_dev){ hvmk_net_suspend, hvmk_net_resume,
                                                          net });
    if (!err)
        err = hvmk_blk_start_writes(bf, round);
    hvmk_phase(xs, ask);
    bool ok = !err && hvmk_wait_until(hvmk_got_shutdown, NULL, 120) &&
              hvmk_shutdown_action == CONTROL_SUSPEND;
    int rc = ok ? suspend_run(&s) : GP_ETIMEDOUT;
    hvmk_shutdown_action = -1;
    gp_snprintf(why, sizeof(why), "suspend_run %d", rc);
    hvmk_printf("hvmk: %s: %s\n", step, why);
    gp_snprintf(name, sizeof(name), "%s-resumed", step);
    hvmk_step_result(name, rc == 0, why);
    ok = hvmk_blk_check_writes(bf, why, sizeof(why));
    hvmk_printf("hvmk: %s: %s\n", step, why);
    gp_snprintf(name, sizeof(name), "%s-io-verified", step);
    hvmk_step_result(name, ok, why);
    /* The dump path's pages were granted again in the new domain. */
    char dwhy[200] = "the domain did not resume";
    ok = rc == 0 && hvmk_blk_dump_check(bf, 31000 + round * 200, 20 + round, false, dwhy,
                                         sizeof(dwhy));
    hvmk_printf("hvmk: %s: dump path: %s\n", step, dwhy);
    gp_snprintf(name, sizeof(name), "%s-dump-path", step);
    hvmk_step_result(name, ok, dwhy);
    /* Xen keeps no per-vCPU upcall vector across save/restore: the core
     * registered them anew, and every vCPU must get its upcall again. */
    gp_snprintf(name, sizeof(name), "%s-upcall-every-vcpu", step);
    if (rc == 0)
        hvmk_step_upcall_every_vcpu(name);
    else
        hvmk_step_result(name, false, "the domain did not resume");
    if (net && rc == 0)
        hvmk_step_net_after_restore(net, how);
    suspend_fini(&s);
    hvmk_phase(xs, done);
}

void hvmk_step_toolstack(struct gp_platform *plat, struct xs_client *xs, struct hvm *h,
                         struct blkfront *bf, struct hvmk_net *net)
{
    struct balloon_page_source src = { hvmk_bal_take, hvmk_bal_give, NULL };
    struct balloon *b = NULL;
    struct control *c = NULL;
    struct control_ops ops = { hvmk_on_shutdown, hvmk_on_sysrq, NULL, true, false };
    int e1 = balloon_start(plat, xs, &src, &b);
    int e2 = control_start(plat, xs, &ops, &c);
    hvmk_step_result("balloon-and-control-started", !e1 && !e2, gp_strerror(e1 ? e1 : e2));
    if (e1 || e2)
        goto out;
    hvmk_wait_until(hvmk_got_shutdown, NULL, 1);   /* let the first watch events settle */
    struct balloon_stats st;
    balloon_get_stats(b, &st);
    uint64_t base = st.ballooned_kib;
    char why[120];
    hvmk_phase(xs, "ready");                       /* dom0: xl mem-set hvmk 192m */
    struct hvmk_bal_wait down = { b, base + 32 * 1024, UINT64_MAX };
    bool ok = hvmk_wait_until(hvmk_bal_reached, &down, 60);
    balloon_get_stats(b, &st);
    gp_snprintf(why, sizeof(why), "target %llu KiB: %llu KiB given back to Xen (was %llu)",
                (unsigned long long)st.target_kib, (unsigned long long)st.ballooned_kib,
                (unsigned long long)base);
    hvmk_printf("hvmk: balloon: %s\n", why);
    hvmk_step_result("balloon-down-xl-mem-set", ok, why);
    hvmk_phase(xs, "balloon-down-done");           /* dom0: xl mem-set hvmk 256m */
    struct hvmk_bal_wait up = { b, 0, base };
    ok = hvmk_wait_until(hvmk_bal_reached, &up, 60);
    balloon_get_stats(b, &st);
    gp_snprintf(why, sizeof(why), "target %llu KiB: %llu KiB given back to Xen",
                (unsigned long long)st.target_kib, (unsigned long long)st.ballooned_kib);
    hvmk_printf("hvmk: balloon: %s\n", why);
    hvmk_step_result("balloon-up-xl-mem-set", ok, why);
    hvmk_phase(xs, "balloon-up-done");             /* dom0: xl sysrq hvmk s */
    ok = hvmk_wait_until(hvmk_got_sysrq, NULL, 60);
    hvmk_step_result("xl-sysrq", ok && hvmk_sysrq_key == 's', "sysrq key not received");

    /* xl save + xl restore, then xl migrate to this host, each with
     * writes in flight on the PV disk. */
    if (bf) {
        hvmk_step_suspend_round(plat, xs, h, bf, net, 0, "save-ready", "xl-save-restore",
                                "restore", "restored");
        hvmk_step_suspend_round(plat, xs, h, bf, net, 1, "migrate-ready", "xl-migrate",
                                "migrate", "migrated");
    }
    /* dom0: xl reboot (the second boot then gets xl shutdown), or xl shutdown */
    ok = hvmk_wait_until(hvmk_got_shutdown, NULL, 60);
    if (ok && hvmk_shutdown_action == CONTROL_REBOOT) {
        hvmk_printf("hvmk: reboot requested: leaving with SHUTDOWN_reboot\n");
        hvmk_step_result("xl-reboot-requested", true, NULL);
        hvmk_set_exit_reboot();
    } else {
        hvmk_step_result("xl-shutdown", ok && hvmk_shutdown_action == CONTROL_POWEROFF,
                         ok ? control_action_name((enum control_action)hvmk_shutdown_action)
                            : "no shutdown request within 60 s");
    }
out:
    if (c)
        control_stop(c);
    if (b)
        balloon_stop(b);
}

void hvmk_step_bugcheck(struct gp_platform *plat)
{
    /* What the Windows bus driver's bug-check callback writes; dom0's log
     * of the Xen console must show it (checked by lab/run-hvmkernel). */
    uint64_t params[4] = { 0x1234, 0x5678, 0x9abc, 0xdef0 };
    crash_report(plat, 0xe2, params, "MANUALLY_INITIATED_CRASH (hvmkernel test)");
    hvmk_step_result("bugcheck-reported", true, NULL);
}

void hvmk_step_after_reboot(struct gp_platform *plat)
{
    hvmk_steps_quiet(false);
    struct xs_client *xs = NULL;
    struct control *c = NULL;
    struct control_ops ops = { hvmk_on_shutdown, hvmk_on_sysrq, NULL, true, false };
    char *domid = NULL, why[120] = "";
    int err = xs_client_create(plat, NULL, &xs);
    if (!err)
        err = xs_read(xs, XS_TXN_NONE, "domid", &domid, NULL);
    if (!err)
        err = control_start(plat, xs, &ops, &c);
    gp_snprintf(why, sizeof(why), "booted again as domain %s: Xen, unplug, xenstore and "
                "control up (%s)", domid ? domid : "?", gp_strerror(err));
    hvmk_printf("hvmk: reboot: %s\n", why);
    hvmk_step_result("xl-reboot-came-back", err == 0, why);
    if (domid)
        xs_free(xs, domid);
    if (!err) {
        hvmk_wait_until(hvmk_got_shutdown, NULL, 1);   /* let the first watch events settle */
        hvmk_shutdown_action = -1;
        hvmk_phase(xs, "rebooted");                    /* dom0: xl shutdown */
        bool ok = hvmk_wait_until(hvmk_got_shutdown, NULL, 60);
        hvmk_step_result("xl-shutdown", ok && hvmk_shutdown_action == CONTROL_POWEROFF,
                         ok ? control_action_name((enum control_action)hvmk_shutdown_action)
                            : "no shutdown request within 60 s");
    }
    if (c)
        control_stop(c);
    if (xs)
        xs_client_destroy(xs);
}
