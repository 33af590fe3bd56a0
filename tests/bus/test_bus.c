/* The bus driver's services in the simulator: emulated-device unplug,
 * bug-check reporting, toolstack control requests, the balloon, and
 * save/restore with I/O in flight on several devices. */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "blkback/sim_blkback.h"
#include "gp_blkfront_wait.h"
#include "gp_test.h"
#include "gplpv/balloon.h"
#include "gplpv/blkfront.h"
#include "gplpv/control.h"
#include "gplpv/crash.h"
#include "gplpv/suspend.h"
#include "gplpv/unplug.h"
#include "os/sim_os.h"
#include "sim.h"
#include "xenstored/sim_xenstored.h"

static struct sim_xen *x;
static struct sim_domain *d0;

static struct sim_domain *guest(gp_domid_t id, const struct sim_domain_opts *o)
{
    struct sim_domain *g = sim_domain_create_ex(x, id, o);
    if (g)
        sim_os_set_quiet(sim_domain_os(g), true);
    return g;
}

/* ---- unplug ------------------------------------------------------------------ */

static void test_unplug_decisions(void)
{
    CHECK(unplug_disabled_by_boot("/noexecute=optin /NOGPLPV", false));
    CHECK(unplug_disabled_by_boot("nogplpv", false));
    CHECK(!unplug_disabled_by_boot("/NOGPLPVX /DEBUG", false));
    CHECK(!unplug_disabled_by_boot(NULL, false));
    CHECK(unplug_disabled_by_boot(NULL, true));

    struct sim_domain *g = guest(2, NULL);
    REQUIRE(g);
    const struct gp_platform *p = sim_domain_platform(g);
    struct sim_emulated e;
    /* NOGPLPV: nothing touched. */
    CHECK_EQ(unplug_emulated_devices(p, &(struct unplug_request){ .pv_disk_ready = true,
                                                                 .pv_net_ready = true,
                                                                 .boot_options = "/NOGPLPV" }), 0);
    sim_domain_emulated(g, &e);
    CHECK(e.ide_disks && e.nics);
    /* The PV disk driver is not ready: the disks stay, the NICs go. */
    CHECK_EQ(unplug_emulated_devices(p, &(struct unplug_request){ .pv_net_ready = true }),
             UNPLUG_NICS);
    sim_domain_emulated(g, &e);
    CHECK(e.ide_disks && !e.nics);
    CHECK_EQ(e.product, UNPLUG_PRODUCT_GPLPV);
    /* Both ready. */
    CHECK_EQ(unplug_emulated_devices(p, &(struct unplug_request){ .pv_disk_ready = true,
                                                                 .pv_net_ready = true,
                                                                 .build = 42 }),
             UNPLUG_IDE_DISKS | UNPLUG_NICS | UNPLUG_NVME);
    sim_domain_emulated(g, &e);
    CHECK(!e.ide_disks && !e.aux_disks && !e.nics && !e.nvme);
    CHECK_EQ(e.build, 42);
    sim_domain_destroy(g);

    /* A QEMU without the protocol, and a blacklisted product. */
    struct sim_domain *old = guest(3, &(struct sim_domain_opts){ .no_unplug = true });
    REQUIRE(old);
    CHECK_EQ(unplug_emulated_devices(sim_domain_platform(old),
                                     &(struct unplug_request){ .pv_disk_ready = true }),
             GP_ENOTSUP);
    sim_domain_emulated(old, &e);
    CHECK(e.ide_disks);
    sim_domain_destroy(old);
    struct sim_domain *bl = guest(4, NULL);
    REQUIRE(bl);
    CHECK_EQ(unplug_emulated_devices(sim_domain_platform(bl),
                                     &(struct unplug_request){ .pv_disk_ready = true,
                                                               .product = 0xffff }),
             GP_EPERM);
    sim_domain_emulated(bl, &e);
    CHECK(e.ide_disks);
    sim_domain_destroy(bl);
}

/* ---- bug check ------------------------------------------------------------------ */

static void test_bugcheck_reaches_dom0_logs(void)
{
    struct sim_domain *g = guest(5, NULL);
    REQUIRE(g);
    uint64_t params[4] = { 0xfffff80000001234ull, 0xc0000034, 0, 0 };
    crash_report(sim_domain_platform(g), 0x7b, params, "INACCESSIBLE_BOOT_DEVICE");
    char *con = sim_domain_console(g), *dbg = sim_domain_debug_port(g);
    CHECK(strstr(con, "BUGCHECK 0x0000007b (0xfffff80000001234, 0xc0000034, 0x0, 0x0) "
                      "INACCESSIBLE_BOOT_DEVICE") != NULL);
    CHECK(strstr(dbg, "BUGCHECK 0x0000007b") != NULL);
    free(con);
    free(dbg);
    sim_domain_destroy(g);
}

/* ---- control ------------------------------------------------------------------------ */

struct ctl_log {
    atomic_int actions[5];
    atomic_int sysrq;
};

static void on_shutdown(void *arg, enum control_action a)
{
    struct ctl_log *l = arg;
    atomic_fetch_add(&l->actions[a], 1);
}

static void on_sysrq(void *arg, char key)
{
    struct ctl_log *l = arg;
    atomic_store(&l->sysrq, key);
}

/* Waits until a xenstore node holds want (NULL: until it is gone). */
static bool node_is(const char *path, const char *want)
{
    struct sim_xenstored *xsd = sim_xen_xenstored(x);
    bool same = false;
    for (int i = 0; i < GP_TEST_WAIT_MS && !same; i++) {
        char *v = sim_xenstored_peek(xsd, path);
        same = want ? v && !strcmp(v, want) : !v;
        free(v);
        if (!same)
            usleep(1000);
    }
    return same;
}

static void test_control_requests_once_each(void)
{
    struct sim_domain *g = guest(6, NULL);
    REQUIRE(g);
    struct xs_client *xs = NULL;
    REQUIRE(xs_client_create(sim_domain_platform(g), NULL, &xs) == 0);
    static struct ctl_log log;
    struct control *c = NULL;
    struct control_ops ops = { on_shutdown, on_sysrq, &log, true, false };
    REQUIRE(control_start(sim_domain_platform(g), xs, &ops, &c) == 0);
    struct sim_xenstored *xsd = sim_xen_xenstored(x);
    char *f = sim_xenstored_peek(xsd, "/local/domain/6/control/feature-poweroff");
    CHECK_STR(f, "1");
    free(f);
    sim_xenstored_poke(xsd, "/local/domain/6/control/shutdown", "poweroff");
    GP_WAIT_WHILE(atomic_load(&log.actions[CONTROL_POWEROFF]) < 1);
    CHECK_EQ(atomic_load(&log.actions[CONTROL_POWEROFF]), 1);
    CHECK(node_is("/local/domain/6/control/shutdown", ""));        /* acknowledged */
    /* Events without a request (the node rewritten empty) do nothing: the
     * reboot after it is acted on, and by then the empty one was seen. */
    sim_xenstored_poke(xsd, "/local/domain/6/control/shutdown", "");
    sim_xenstored_poke(xsd, "/local/domain/6/control/shutdown", "reboot");
    GP_WAIT_WHILE(atomic_load(&log.actions[CONTROL_REBOOT]) < 1);
    CHECK_EQ(atomic_load(&log.actions[CONTROL_REBOOT]), 1);
    CHECK_EQ(atomic_load(&log.actions[CONTROL_POWEROFF]), 1);
    CHECK(node_is("/local/domain/6/control/shutdown", ""));
    sim_xenstored_poke(xsd, "/local/domain/6/control/shutdown", "hibernate");  /* not offered */
    CHECK(node_is("/local/domain/6/control/shutdown", ""));        /* refused, cleared */
    sim_xenstored_poke(xsd, "/local/domain/6/control/shutdown", "explode");
    CHECK(node_is("/local/domain/6/control/shutdown", ""));
    sim_xenstored_poke(xsd, "/local/domain/6/control/sysrq", "b");
    GP_WAIT_WHILE(atomic_load(&log.sysrq) != 'b');
    CHECK_EQ(atomic_load(&log.sysrq), 'b');
    CHECK_EQ(atomic_load(&log.actions[CONTROL_HIBERNATE]), 0);
    control_stop(c);
    xs_client_destroy(xs);
    sim_domain_destroy(g);
}

/* ---- balloon ------------------------------------------------------------------------------ */

struct source {
    const struct gp_platform *p;
    int left;                                  /* pages the OS can still spare */
    int out;                                   /* pages taken and not given back */
};

static void *src_take(void *arg, uint64_t *gfn)
{
    struct source *s = arg;
    if (s->left <= 0)
        return NULL;
    void *va = gp_os_page_alloc(s->p, gfn);
    if (va) {
        s->left--;
        s->out++;
    }
    return va;
}

static void src_give(void *arg, void *va)
{
    struct source *s = arg;
    gp_os_page_free(s->p, va);
    s->left++;
    s->out--;
}

/* Waits until the balloon has handled a memory/target event after the
 * *seen-th one, then notes how many it has handled. */
static void balloon_settle(struct balloon *b, uint64_t *seen)
{
    struct balloon_stats st;
    balloon_get_stats(b, &st);
    GP_WAIT_WHILE((balloon_get_stats(b, &st), st.events <= *seen));
    *seen = st.events;
}

static void test_balloon_follows_target(void)
{
    struct sim_domain *g = guest(7, &(struct sim_domain_opts){ .max_pages = 4096 });
    REQUIRE(g);
    struct sim_xenstored *xsd = sim_xen_xenstored(x);
    sim_xenstored_poke(xsd, "/local/domain/7/memory/static-max", "16384");
    sim_xenstored_poke(xsd, "/local/domain/7/memory/target", "16384");
    const struct gp_platform *p = sim_domain_platform(g);
    struct xs_client *xs = NULL;
    REQUIRE(xs_client_create(p, NULL, &xs) == 0);
    static struct source src;
    src = (struct source){ p, 3000, 0 };
    struct balloon_page_source bs = { src_take, src_give, &src };
    struct balloon *b = NULL;
    REQUIRE(balloon_start(p, xs, &bs, &b) == 0);
    uint64_t seen = 0;
    balloon_settle(b, &seen);                  /* the watch's first event */
    CHECK_EQ(sim_domain_tot_pages(g), 4096);

    sim_xenstored_poke(xsd, "/local/domain/7/memory/target", "12288");     /* -4 MiB */
    balloon_settle(b, &seen);
    CHECK_EQ(sim_domain_tot_pages(g), 3072);
    CHECK(node_is("/local/domain/7/data/gplpv-balloon-kib", "4096"));
    struct balloon_stats st;
    balloon_get_stats(b, &st);
    unsigned ignored = (unsigned)st.ignored_events;
    sim_xenstored_poke(xsd, "/local/domain/7/memory/target", "12288");     /* no change */
    balloon_settle(b, &seen);
    balloon_get_stats(b, &st);
    CHECK_EQ(st.ignored_events, ignored + 1);
    CHECK_EQ(sim_domain_tot_pages(g), 3072);

    sim_xenstored_poke(xsd, "/local/domain/7/memory/target", "16384");     /* all back */
    balloon_settle(b, &seen);
    CHECK_EQ(sim_domain_tot_pages(g), 4096);
    CHECK_EQ(src.out, 0);

    /* Memory pressure: the OS can spare only 100 pages. */
    src.left = 100;
    sim_xenstored_poke(xsd, "/local/domain/7/memory/target", "8192");
    balloon_settle(b, &seen);
    balloon_get_stats(b, &st);
    CHECK_EQ(st.ballooned_kib, 400);
    CHECK(st.pressure_stops >= 1);
    CHECK_EQ(sim_domain_tot_pages(g), 4096 - 100);

    /* Hypercalls failing midway: what Xen did and what we believe agree. */
    src.left = 3000;
    sim_fault_set(x, SIM_FAULT_HYPERCALL_FAIL, 2000);       /* per extent */
    sim_xenstored_poke(xsd, "/local/domain/7/memory/target", "4096");
    balloon_settle(b, &seen);
    sim_xenstored_poke(xsd, "/local/domain/7/memory/target", "10000");
    balloon_settle(b, &seen);
    sim_fault_set(x, SIM_FAULT_HYPERCALL_FAIL, 0);
    balloon_get_stats(b, &st);
    CHECK_EQ(sim_domain_tot_pages(g), 4096 - st.ballooned_kib / 4);
    CHECK_EQ((uint64_t)src.out, st.ballooned_kib / 4);

    balloon_stop(b);                           /* everything handed back */
    CHECK_EQ(sim_domain_tot_pages(g), 4096);
    CHECK_EQ(src.out, 0);
    xs_client_destroy(xs);
    sim_domain_destroy(g);
}

/* ---- save/restore with I/O on two disks -------------------------------------------------- */

static void bf_suspend(void *arg)
{
    blkfront_suspend(arg);
}

static int bf_resume(void *arg, bool cancelled)
{
    if (cancelled) {
        blkfront_resume_in_place(arg);
        return 0;
    }
    return blkfront_resume_restored(arg, GP_S(10));
}

/* The shell's critical-section hook (Windows captures the other CPUs
 * there): it wraps the hypercall and the re-mapping, once per suspend. */
static int critical_calls;
static int count_critical(void *arg, int (*fn)(void *), void *fn_arg)
{
    (void)arg;
    critical_calls++;
    return fn(fn_arg);
}

/* ---- deferred work stops before the domain does ------------------------------ */
static atomic_int slow_in_cb, slow_calls, slow_saw_window, window_open;
static void slow_watch(void *arg, const char *path, const char *token)
{
    struct xs_client *xs = arg;
    (void)path;
    (void)token;
    atomic_fetch_add(&slow_calls, 1);
    atomic_store(&slow_in_cb, 1);
    if (atomic_load(&window_open))
        atomic_fetch_add(&slow_saw_window, 1);
    usleep(150000);                                /* a long balloon step, say */
    char *v = NULL;                                /* and it still needs xenstore */
    if (xs_read(xs, XS_TXN_NONE, "data/slow", &v, NULL) == 0)
        xs_free(xs, v);
    if (atomic_load(&window_open))
        atomic_fetch_add(&slow_saw_window, 1);
    atomic_store(&slow_in_cb, 0);
}

static int window_calls;
static int watch_window(void *arg, int (*fn)(void *), void *fn_arg)
{
    (void)arg;
    window_calls++;
    CHECK_EQ(atomic_load(&slow_in_cb), 0);          /* no callback overlaps the window */
    atomic_store(&window_open, 1);
    /* dom0 writes while the domain is away: delivered after the resume */
    sim_xenstored_poke(sim_xen_xenstored(x), "/local/domain/12/data/slow", "during");
    usleep(50000);
    int rc = fn(fn_arg);
    atomic_store(&window_open, 0);
    return rc;
}

static void test_suspend_waits_for_watch_callbacks(void)
{
    struct sim_domain *g = guest(12, NULL);
    REQUIRE(g);
    struct gp_platform *p = (struct gp_platform *)sim_domain_platform(g);
    struct xs_client *xs = NULL;
    REQUIRE(xs_client_create(p, NULL, &xs) == 0);
    struct xs_watch *w = NULL;
    REQUIRE(xs_watch_add(xs, "data/slow", slow_watch, xs, &w) == 0);
    GP_WAIT_WHILE(atomic_load(&slow_calls) == 0 || atomic_load(&slow_in_cb));  /* registration's */
    int base = atomic_load(&slow_calls);
    struct suspend s;
    REQUIRE(suspend_init(&s, p, sim_domain_hvm(g), xs) == 0);
    suspend_set_critical(&s, watch_window, NULL);
    sim_xenstored_poke(sim_xen_xenstored(x), "/local/domain/12/data/slow", "before");
    GP_WAIT_WHILE(!atomic_load(&slow_in_cb));
    CHECK_EQ(atomic_load(&slow_in_cb), 1);          /* the suspend starts inside a callback */
    CHECK(suspend_run(&s) >= 0);
    CHECK_EQ(window_calls, 1);
    GP_WAIT_WHILE(atomic_load(&slow_calls) < base + 2);
    CHECK_EQ(atomic_load(&slow_calls), base + 2);   /* the event of the window came after */
    CHECK_EQ(atomic_load(&slow_saw_window), 0);
    suspend_fini(&s);
    xs_watch_remove(xs, w);
    xs_client_destroy(xs);
    sim_domain_destroy(g);
}

/* A control request written while the domain is away (after a migration
 * the toolstack may write before the guest has its watches back), and one
 * written just after the resume: each is acted on once and acknowledged. */
static int reboot_in_window(void *arg, int (*fn)(void *), void *fn_arg)
{
    (void)arg;
    int rc = fn(fn_arg);               /* the hypercall: the domain is restored */
    /* before xenstore and its watches are back */
    sim_xenstored_poke(sim_xen_xenstored(x), "/local/domain/14/control/shutdown", "reboot");
    return rc;
}

static int wait_action(struct ctl_log *l, enum control_action a, int n)
{
    GP_WAIT_WHILE(atomic_load(&l->actions[a]) < n);
    usleep(50000);                     /* and no second one */
    return atomic_load(&l->actions[a]);
}

static void test_control_requests_across_a_restore(void)
{
    struct sim_domain *g = guest(14, NULL);
    REQUIRE(g);
    struct gp_platform *p = (struct gp_platform *)sim_domain_platform(g);
    struct xs_client *xs = NULL;
    REQUIRE(xs_client_create(p, NULL, &xs) == 0);
    static struct ctl_log log;
    struct control *c = NULL;
    struct control_ops ops = { on_shutdown, on_sysrq, &log, true, false };
    REQUIRE(control_start(p, xs, &ops, &c) == 0);
    struct suspend s;
    REQUIRE(suspend_init(&s, p, sim_domain_hvm(g), xs) == 0);
    suspend_set_critical(&s, reboot_in_window, NULL);
    unsigned restores = sim_domain_restores(g);
    CHECK(suspend_run(&s) >= 0);
    CHECK_EQ(sim_domain_restores(g), restores + 1);
    CHECK_EQ(wait_action(&log, CONTROL_REBOOT, 1), 1);
    struct sim_xenstored *xsd = sim_xen_xenstored(x);
    char *f = sim_xenstored_peek(xsd, "/local/domain/14/control/shutdown");
    CHECK_STR(f, "");                                 /* acknowledged */
    free(f);
    sim_xenstored_poke(xsd, "/local/domain/14/control/shutdown", "reboot");
    CHECK_EQ(wait_action(&log, CONTROL_REBOOT, 2), 2);
    f = sim_xenstored_peek(xsd, "/local/domain/14/control/shutdown");
    CHECK_STR(f, "");
    free(f);
    suspend_fini(&s);
    control_stop(c);
    xs_client_destroy(xs);
    sim_domain_destroy(g);
}

static void test_save_restore_with_io_on_two_disks(void)
{
    struct sim_domain *g = guest(8, &(struct sim_domain_opts){ .max_pages = 16384 });
    REQUIRE(g);
    struct gp_platform *p = (struct gp_platform *)sim_domain_platform(g);
    struct xs_client *xs = NULL;
    REQUIRE(xs_client_create(p, NULL, &xs) == 0);
    struct sim_blkback *bb[2];
    struct blkfront *bf[2];
    for (int i = 0; i < 2; i++) {
        bb[i] = sim_blkback_create(x, d0, 8, 768 + 16 * (unsigned)i,
                                   &(struct sim_blkback_opts){ .indirect = i == 1 });
        char node[32];
        snprintf(node, sizeof(node), "device/vbd/%u", 768 + 16 * i);
        REQUIRE(bb[i] && blkfront_create(p, xs, node, NULL, &bf[i]) == 0);
        REQUIRE(blkfront_connect(bf[i], GP_S(5)) == 0);
    }
    struct suspend s;
    REQUIRE(suspend_init(&s, p, sim_domain_hvm(g), xs) == 0);
    for (int i = 0; i < 2; i++)
        suspend_register(&s, &(struct suspend_dev){ bf_suspend, bf_resume, bf[i] });
    suspend_set_critical(&s, count_critical, NULL);

    enum { N = 12 };
    static uint8_t data[2][N][16384];
    static struct blkfront_sg sg[2][N];
    static struct blkfront_req rq[2][N];
    struct bfw w = BFW_INIT;
    for (int round = 0; round < 2; round++) {          /* a restore, then a cancelled one */
        w.calls = w.errors = 0;
        for (int i = 0; i < 2; i++) {
            sim_blkback_hold(bb[i], true);
            for (int k = 0; k < N; k++) {
                for (int j = 0; j < 16384; j++)
                    data[i][k][j] = (uint8_t)(round * 7 + i * 3 + k + j * 11);
                sg[i][k] = (struct blkfront_sg){ data[i][k], 16384 };
                rq[i][k] = (struct blkfront_req){ .op = BLKFRONT_WRITE,
                                                  .sector = 100 + (uint64_t)k * 32, .nr_sectors = 32,
                                                  .sg = &sg[i][k], .nsg = 1, .done = bfw_done,
                                                  .arg = &w };
                CHECK_EQ(blkfront_submit(bf[i], &rq[i][k]), 0);
            }
        }
        usleep(30000);
        CHECK_EQ(w.calls, 0);                           /* all in flight */
        if (round == 1)
            sim_domain_cancel_next_suspend(g);
        int rc = suspend_run(&s);
        CHECK_EQ(rc, (round == 0 ? 0 : 1));
        for (int i = 0; i < 2; i++)
            sim_blkback_hold(bb[i], false);
        CHECK_EQ(bfw_wait(&w, 2 * N, 10), 2 * N);
        usleep(20000);
        CHECK_EQ(w.calls, 2 * N);                       /* each exactly once */
        CHECK_EQ(w.errors, 0);
        int bad = 0;
        for (int i = 0; i < 2; i++)
            for (int k = 0; k < N; k++)
                bad += memcmp(sim_blkback_disk(bb[i]) + (100 + k * 32) * 512, data[i][k], 16384) != 0;
        CHECK_EQ(bad, 0);
    }
    CHECK_EQ(sim_domain_restores(g), 1);
    CHECK_EQ(critical_calls, 2);
    char *v = NULL;
    CHECK_EQ(xs_read(xs, XS_TXN_NONE, "domid", &v, NULL), 0);      /* xenstore is back too */
    xs_free(xs, v);
    suspend_fini(&s);
    for (int i = 0; i < 2; i++) {
        blkfront_destroy(bf[i]);
        sim_blkback_destroy(bb[i]);
    }
    xs_client_destroy(xs);
    sim_domain_destroy(g);
}

/* Hibernation: freeze with writes in flight, the domain powers off and its
 * image boots again in a new domain, thaw with no page to be had (early in
 * the resume, before the OS has its page file back, the pages held from
 * before must do): every write completes once, data intact. */
static void test_hibernate_and_thaw_without_new_pages(void)
{
    struct sim_domain *g = guest(13, &(struct sim_domain_opts){ .max_pages = 16384 });
    REQUIRE(g);
    struct gp_platform *p = (struct gp_platform *)sim_domain_platform(g);
    struct xs_client *xs = NULL;
    REQUIRE(xs_client_create(p, NULL, &xs) == 0);
    struct sim_blkback *bb = sim_blkback_create(x, d0, 13, 768, NULL);
    struct blkfront *bf = NULL;
    REQUIRE(bb && blkfront_create(p, xs, "device/vbd/768", NULL, &bf) == 0);
    REQUIRE(blkfront_connect(bf, GP_S(5)) == 0);
    struct suspend s;
    REQUIRE(suspend_init(&s, p, sim_domain_hvm(g), xs) == 0);
    suspend_register(&s, &(struct suspend_dev){ bf_suspend, bf_resume, bf });
    enum { N = 8 };
    static uint8_t data[N][8192];
    static struct blkfront_sg sg[N];
    static struct blkfront_req rq[N];
    struct bfw w = BFW_INIT;
    sim_blkback_hold(bb, true);
    for (int k = 0; k < N; k++) {
        for (int j = 0; j < 8192; j++)
            data[k][j] = (uint8_t)(k * 5 + j * 3);
        sg[k] = (struct blkfront_sg){ data[k], 8192 };
        rq[k] = (struct blkfront_req){ .op = BLKFRONT_WRITE, .sector = 200 + (uint64_t)k * 16,
                                       .nr_sectors = 16, .sg = &sg[k], .nsg = 1, .done = bfw_done,
                                       .arg = &w };
        CHECK_EQ(blkfront_submit(bf, &rq[k]), 0);
    }
    usleep(20000);
    CHECK_EQ(w.calls, 0);
    suspend_freeze(&s);
    CHECK(!hvm_domain_was_replaced(sim_domain_hvm(g)));
    unsigned restores = sim_domain_restores(g);
    sim_domain_power_cycle(g);                       /* powered off; the image boots again */
    CHECK(hvm_domain_was_replaced(sim_domain_hvm(g)));
    CHECK_EQ(sim_domain_restores(g), restores + 1);
    sim_blkback_hold(bb, false);
    struct sim_os *os = sim_domain_os(g);
    sim_os_set_no_pages(os, true);
    CHECK_EQ(suspend_thaw(&s, true), 0);
    unsigned refused = sim_os_set_no_pages(os, false);
    CHECK_EQ(refused, 0);                            /* no new page was needed */
    CHECK_EQ(bfw_wait(&w, N, 10), N);
    usleep(20000);
    CHECK_EQ(w.calls, N);
    CHECK_EQ(w.errors, 0);
    int bad = 0;
    for (int k = 0; k < N; k++)
        bad += memcmp(sim_blkback_disk(bb) + (200 + k * 16) * 512, data[k], 8192) != 0;
    CHECK_EQ(bad, 0);
    char *v = NULL;
    CHECK_EQ(xs_read(xs, XS_TXN_NONE, "domid", &v, NULL), 0);
    xs_free(xs, v);
    suspend_fini(&s);
    blkfront_destroy(bf);
    sim_blkback_destroy(bb);
    xs_client_destroy(xs);
    sim_domain_destroy(g);
}

/* ---- the balloon across a restore and a hibernation ------------------------------------- */

/* xenpci's wiring: the balloon's part of the suspend (a note that Xen may
 * have changed what backs its pages) and, in a new domain, its features
 * announced again. */
static void bal_quiesce(void *arg)
{
    balloon_suspend(arg);
}

static int bal_resume(void *arg, bool cancelled)
{
    if (!cancelled)
        balloon_announce(arg);
    return 0;
}

struct bal_rig {
    struct sim_domain *g;
    struct gp_platform *p;
    struct xs_client *xs;
    struct source src;
    struct balloon *b;
    struct suspend s;
    uint64_t seen;
    char target[64], kib[64];
};

/* A 16 MiB domain (4096 pages) at target 12 MiB: 1024 pages given to Xen. */
static bool bal_rig_up(struct bal_rig *r, gp_domid_t id)
{
    memset(r, 0, sizeof(*r));
    r->g = guest(id, &(struct sim_domain_opts){ .max_pages = 4096 });
    if (!r->g)
        return false;
    snprintf(r->target, sizeof(r->target), "/local/domain/%u/memory/target", (unsigned)id);
    snprintf(r->kib, sizeof(r->kib), "/local/domain/%u/data/gplpv-balloon-kib", (unsigned)id);
    struct sim_xenstored *xsd = sim_xen_xenstored(x);
    char node[64];
    snprintf(node, sizeof(node), "/local/domain/%u/memory/static-max", (unsigned)id);
    sim_xenstored_poke(xsd, node, "16384");
    sim_xenstored_poke(xsd, r->target, "12288");
    r->p = (struct gp_platform *)sim_domain_platform(r->g);
    r->src = (struct source){ r->p, 4000, 0 };
    struct balloon_page_source bs = { src_take, src_give, &r->src };
    if (xs_client_create(r->p, NULL, &r->xs) || balloon_start(r->p, r->xs, &bs, &r->b) ||
        suspend_init(&r->s, r->p, sim_domain_hvm(r->g), r->xs))
        return false;
    suspend_register(&r->s, &(struct suspend_dev){ bal_quiesce, bal_resume, r->b });
    balloon_settle(r->b, &r->seen);
    return sim_domain_tot_pages(r->g) == 3072 && r->src.out == 1024;
}

static void bal_rig_down(struct bal_rig *r)
{
    struct balloon_stats st;
    balloon_get_stats(r->b, &st);
    CHECK_EQ(st.partial_steps, 0);             /* Xen never refused a page it was asked for */
    balloon_stop(r->b);                        /* everything handed back */
    CHECK_EQ(sim_domain_tot_pages(r->g), 4096);
    CHECK_EQ(r->src.out, 0);
    suspend_fini(&r->s);
    xs_client_destroy(r->xs);
    sim_domain_destroy(r->g);
}

/* What the balloon believes, what Xen has and what the OS gave agree:
 * 'pages' given to Xen, each of them unpopulated. */
static void bal_check(struct bal_rig *r, unsigned pages, const char *kib)
{
    struct balloon_stats st;
    balloon_get_stats(r->b, &st);
    CHECK_EQ(st.ballooned_kib, (uint64_t)pages * 4);
    CHECK_EQ(sim_domain_tot_pages(r->g), 4096 - pages);
    CHECK_EQ(r->src.out, (int)pages);
    CHECK(node_is(r->kib, kib));
}

/* Save/restore (and migration): the domain's own memory image comes back,
 * the ballooned gfns still without RAM behind them: nothing changes; a
 * cancelled suspend changes nothing either. */
static void test_balloon_across_a_restore(void)
{
    struct bal_rig r;
    REQUIRE(bal_rig_up(&r, 9));
    CHECK_EQ(suspend_run(&r.s), 0);
    balloon_settle(r.b, &r.seen);              /* memory/target's watch, registered again */
    bal_check(&r, 1024, "4096");
    struct balloon_stats st;
    balloon_get_stats(r.b, &st);
    CHECK_EQ(st.rechecks, 1);                  /* Xen was asked, before the target */
    CHECK_EQ(st.backed_again, 0);
    /* Cancelled: the same connection to xenstore, its watch still there
     * (no event), no announce: the look waits for the next event. */
    sim_domain_cancel_next_suspend(r.g);
    CHECK_EQ(suspend_run(&r.s), 1);
    bal_check(&r, 1024, "4096");
    sim_xenstored_poke(sim_xen_xenstored(x), r.target, "16384");     /* all back */
    balloon_settle(r.b, &r.seen);
    bal_check(&r, 0, "0");
    balloon_get_stats(r.b, &st);
    CHECK_EQ(st.rechecks, 2);
    CHECK_EQ(st.backed_again, 0);
    bal_rig_down(&r);
}

/* Hibernation: the image resumes in a new domain the toolstack built with
 * RAM at every gfn, the ones the old domain's balloon gave back included.
 * Those pages are the OS's again; the balloon gives Xen what the new
 * domain's target asks for - the same target, then a lower one - and
 * never populates a gfn that has RAM. */
static void test_balloon_across_hibernation(void)
{
    struct bal_rig r;
    REQUIRE(bal_rig_up(&r, 10));
    struct sim_xenstored *xsd = sim_xen_xenstored(x);
    static const char *const targets[] = { "12288", "8192" };
    static const unsigned out[] = { 1024, 2048 };
    static const char *const kib[] = { "4096", "8192" };
    for (int round = 0; round < 2; round++) {
        suspend_freeze(&r.s);
        sim_domain_power_cycle(r.g);
        CHECK_EQ(sim_domain_tot_pages(r.g), 4096);       /* the new domain: all RAM */
        sim_xenstored_poke(xsd, r.target, targets[round]);   /* the toolstack's target */
        CHECK_EQ(suspend_thaw(&r.s, true), 0);
        balloon_settle(r.b, &r.seen);          /* memory/target's watch, registered again */
        bal_check(&r, out[round], kib[round]);
        struct balloon_stats st;
        balloon_get_stats(r.b, &st);
        CHECK_EQ(st.backed_again, 1024 * (uint64_t)(round + 1));
    }
    sim_xenstored_poke(xsd, r.target, "16384");          /* all back */
    balloon_settle(r.b, &r.seen);
    bal_check(&r, 0, "0");
    bal_rig_down(&r);
}

int main(void)
{
    x = sim_xen_create(&(struct sim_xen_opts){ .quiet = true, .seed = 11 });
    d0 = sim_domain_create(x, 0, 512);
    if (!d0)
        return 1;
    GP_TEST_RUN(test_unplug_decisions);
    GP_TEST_RUN(test_bugcheck_reaches_dom0_logs);
    GP_TEST_RUN(test_control_requests_once_each);
    GP_TEST_RUN(test_balloon_follows_target);
    GP_TEST_RUN(test_save_restore_with_io_on_two_disks);
    GP_TEST_RUN(test_control_requests_across_a_restore);
    GP_TEST_RUN(test_suspend_waits_for_watch_callbacks);
    GP_TEST_RUN(test_hibernate_and_thaw_without_new_pages);
    GP_TEST_RUN(test_balloon_across_a_restore);
    GP_TEST_RUN(test_balloon_across_hibernation);
    sim_domain_destroy(d0);
    sim_xen_destroy(x);
    return gp_test_finish();
}
