/* The winhost stage: the real x64 xenpci.sys, xenvbd.sys and xennet.sys
 * run by the host against a simulated Xen with one disk (blkback), one
 * CD-ROM and one NIC (netback).  Each scenario (wh_scn_*.c) runs in a
 * child process of its own (a driver crash or a wedged wait ends that
 * scenario only) and prints "ok <name>" or "FAIL <name>"; the last line is
 * "N passed, N failed".  Driver Verifier's rules hold in every scenario:
 * any violation fails it.
 *
 * The machine plays Windows 10 with memory integrity (HVCI) on, on an
 * Intel CPU for the checked build's scenarios and an AMD one for the free
 * build's (so each driver runs with VMCALL and with VMMCALL); the
 * scenarios about other machines name theirs in the table below.
 *
 *   wh_main <flavour> <xenpci.sys> <imports-allowed.txt> [wh_baddrv.sys] */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wh_scn.h"
#include "blkback/sim_blkback.h"
#include "netback/sim_netback.h"
#include "sim.h"
#include "xenstored/sim_xenstored.h"

struct wh_machine wh_m;
struct wh_lab wh_lab;

static int failures;
void wh_check_failed(void)
{
    failures++;
}

/* ---- the machine ------------------------------------------------------------ */
struct machine {
    const char *cpu_vendor;      /* NULL: the flavour's (chk Intel, fre AMD) */
    uint32_t ntddi;              /* 0: Windows 10 */
    bool no_memory_integrity;
    unsigned cpus;               /* 0: one processor */
};

static void machine_up(const struct machine *m)
{
    wh_cpus = m->cpus ? m->cpus : 1;
    wh_ntddi = m->ntddi ? m->ntddi : WH_NTDDI_WIN10;
    wh_memory_integrity = !m->no_memory_integrity && wh_ntddi >= WH_NTDDI_WIN10;
    wh_lab.cpu_vendor = m->cpu_vendor ? m->cpu_vendor
                        : !strcmp(wh_lab.flavour, "chk") ? "GenuineIntel" : "AuthenticAMD";
    struct sim_xen *x = sim_xen_create(&(struct sim_xen_opts){ .quiet = true });
    wh_lab.x = x;
    wh_lab.dom0 = sim_domain_create(x, 0, 512);
    wh_m.dom = sim_domain_create_ex(x, 1, &(struct sim_domain_opts){ .max_pages = 16384,
                                                                     .vcpus = wh_cpus,
                                                                     .no_attach = true,
                                                                     .cpu_vendor = wh_lab.cpu_vendor });
    wh_m.raw = sim_domain_raw_platform(wh_m.dom);
    wh_lab.disk = sim_blkback_create(x, wh_lab.dom0, 1, 768, NULL);
    wh_lab.cd = sim_blkback_create(x, wh_lab.dom0, 1, 5632,
                                   &(struct sim_blkback_opts){ .readonly = true });
    sim_xenstored_poke(sim_xen_xenstored(x), "/local/domain/1/device/vbd/5632/device-type", "cdrom");
    wh_lab.nic = sim_netback_create(x, wh_lab.dom0, 1, 0, NULL);
    if (wh_mem_init(12288))
        wh_fatal("no memory for the pool");
    wh_trap_install();
    wh_thread_enter();
    wh_dispatch_start();
}

bool wh_boot(struct wh_bus *b)
{
    if (wh_pnp_load(b, wh_lab.sys_path, wh_lab.allowed_path)) {
        CHECK(0, "the image did not load or DriverEntry failed");
        return false;
    }
    NTSTATUS_ st = wh_pnp_add_and_start(b);
    CHECK(st == WH_STATUS_SUCCESS, "START returned 0x%08x", (unsigned)st);
    if (st != WH_STATUS_SUCCESS)
        return false;
    wh_pnp_enumerate(b);                 /* as the PnP manager does right after START */
    wh_lab.first_relations = b->nchild;
    for (int i = 0; i < 3000 && b->nchild < 2; i++) {
        if (wh_relations_invalidated)
            wh_pnp_enumerate(b);
        if (b->nchild < 2)
            usleep(10000);
    }
    wh_pnp_enumerate(b);
    return true;
}

struct wh_child *wh_child(struct wh_bus *b, const char *hwid)
{
    for (unsigned i = 0; i < b->nchild; i++)
        if (!strcmp(b->child[i].hwid, hwid))
            return &b->child[i];
    return NULL;
}

struct wh_child *wh_boot_child(struct wh_bus *b, const char *hwid, const char *what)
{
    if (!wh_boot(b))
        return NULL;
    struct wh_child *c = wh_child(b, hwid);
    CHECK(c, "%s is reported", what);
    return c;
}

const char *wh_sibling(const char *name)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s", wh_lab.sys_path);
    char *slash = strrchr(path, '/');
    snprintf(slash ? slash + 1 : path, sizeof(path) - (size_t)(slash ? slash + 1 - path : 0), "%s",
             name);
    return path;
}

/* ---- the runner ----------------------------------------------------------------- */
static const struct {
    const char *name;
    void (*fn)(void);
} scenarios[] = {
    { "boot-children", scenario_boot },
    { "hvci-hypercall-instruction", scenario_hvci },
    { "windows7-nonpaged-pool", scenario_windows7 },
    { "unknown-vendor-hypercall-page", scenario_page },
    { "unknown-vendor-page-hvci-refused", scenario_page_hvci },
    { "usage-notification", scenario_usage },
    { "remove-unload-no-leak", scenario_remove },
    { "irql-passive-ddis", scenario_irql },
    { "ioctl-user-grant", scenario_ioctl },
    { "ioctl-hostile", scenario_ioctl_hostile },
    { "driver-upgrade", scenario_driver_upgrade },
    { "vbd-unplugged", scenario_unplug },
    { "xenvbd-srb", scenario_xenvbd },
    { "xenvbd-inflight-dma", scenario_xenvbd_inflight },
    { "xenvbd-disable-enable", scenario_xenvbd_restart },
    { "xenvbd-crash-dump", scenario_xenvbd_dump },
    { "xenvbd-stall-reset", scenario_xenvbd_stall_reset },
    { "save-restore-io", scenario_save_restore_io },
    { "vbd-hot-add", scenario_vbd_hot_add },
    { "vbd-detach-inflight", scenario_vbd_detach_inflight },
    { "hibernate-resume", scenario_hibernate_resume },
    { "xennet-init", scenario_xennet_init },
    { "xennet-send-receive", scenario_xennet_data },
    { "xennet-pause-restart", scenario_xennet_pause },
    { "xennet-disable-enable", scenario_xennet_restart },
    { "xennet-surprise-removal", scenario_xennet_surprise },
    { "xennet-pause-dead-backend", scenario_xennet_dead },
    { "verifier-catches", scenario_verifier },
};

/* The scenarios whose machine is not the default one. */
static const struct {
    void (*fn)(void);
    struct machine m;
} machines[] = {
    { scenario_windows7, { .ntddi = WH_NTDDI_WIN7 } },
    { scenario_page, { .cpu_vendor = "SomeNewCPUco", .ntddi = WH_NTDDI_WIN7 } },
    { scenario_page_hvci, { .cpu_vendor = "SomeNewCPUco" } },
    { scenario_save_restore_io, { .cpus = 2 } },
};

static const struct machine *machine_of(void (*fn)(void))
{
    static const struct machine dflt;
    for (unsigned i = 0; i < sizeof(machines) / sizeof(machines[0]); i++)
        if (machines[i].fn == fn)
            return &machines[i].m;
    return &dflt;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: %s chk|fre xenpci.sys imports-allowed.txt [wh_baddrv.sys]\n",
                argv[0]);
        return 2;
    }
    wh_lab.flavour = argv[1];
    wh_lab.sys_path = argv[2];
    wh_lab.allowed_path = argv[3];
    wh_lab.baddrv_path = argc == 5 ? argv[4] : NULL;
    const char *only = getenv("WH_ONLY");          /* one scenario, by name */
    unsigned pass = 0, fail = 0;
    for (unsigned i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        if (only && strcmp(only, scenarios[i].name))
            continue;
        if (scenarios[i].fn == scenario_verifier && !wh_lab.baddrv_path)
            continue;
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(240);                  /* a wedged scenario ends here; waits inside are 30 s */
            machine_up(machine_of(scenarios[i].fn));
            scenarios[i].fn();
            wh_dispatch_flush();
            if (wh_violations() && !wh_lab.expect_violations)
                failures++;
            fflush(NULL);
            _exit(failures ? 1 : 0);     /* the simulator's threads die with us */
        }
        int status = 0;
        waitpid(pid, &status, 0);
        bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok && WIFSIGNALED(status))
            fprintf(stderr, "  (ended by signal %d)\n", WTERMSIG(status));
        printf("%s winhost-%s-%s\n", ok ? "ok" : "FAIL", wh_lab.flavour, scenarios[i].name);
        fflush(stdout);
        ok ? pass++ : fail++;
    }
    printf("%u passed, %u failed\n", pass, fail);
    return fail ? 1 : 0;
}
