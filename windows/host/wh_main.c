/* The winhost stage: the real x64 xenpci.sys, xenvbd.sys and xennet.sys
 * run by the host against a simulated Xen with one disk (blkback), one
 * CD-ROM and one NIC (netback).  Each scenario (wh_scn_*.c) runs in a
 * child process of its own (a driver crash or a wedged wait ends that
 * scenario only) and prints "ok <name>" or "FAIL <name>"; the last line is
 * "N passed, N failed".  Driver Verifier's rules hold in every scenario:
 * any violation fails it.
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
static void machine_up(void)
{
    struct sim_xen *x = sim_xen_create(&(struct sim_xen_opts){ .quiet = true });
    wh_lab.x = x;
    wh_lab.dom0 = sim_domain_create(x, 0, 512);
    wh_m.dom = sim_domain_create_ex(x, 1, &(struct sim_domain_opts){ .max_pages = 16384,
                                                                     .vcpus = wh_cpus,
                                                                     .no_attach = true });
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
    for (int i = 0; i < 500 && b->nchild < 2; i++) {
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
    unsigned cpus;                       /* processors (and vCPUs); 0 = 1 */
} scenarios[] = {
    { "boot-children", scenario_boot, 1 },
    { "usage-notification", scenario_usage, 1 },
    { "remove-unload-no-leak", scenario_remove, 1 },
    { "irql-passive-ddis", scenario_irql, 1 },
    { "ioctl-user-grant", scenario_ioctl, 1 },
    { "vbd-unplugged", scenario_unplug, 1 },
    { "xenvbd-srb", scenario_xenvbd, 1 },
    { "xenvbd-inflight-dma", scenario_xenvbd_inflight, 1 },
    { "xenvbd-disable-enable", scenario_xenvbd_restart, 1 },
    { "xenvbd-crash-dump", scenario_xenvbd_dump, 1 },
    { "xenvbd-stall-reset", scenario_xenvbd_stall_reset, 1 },     /* WH_OPEN_DEFECTS=1 only */
    { "save-restore-io", scenario_save_restore_io, 2 },
    { "vbd-hot-add", scenario_vbd_hot_add, 1 },
    { "hibernate-resume", scenario_hibernate_resume, 1 },
    { "xennet-init", scenario_xennet_init, 1 },
    { "xennet-send-receive", scenario_xennet_data, 1 },
    { "xennet-pause-restart", scenario_xennet_pause, 1 },
    { "xennet-surprise-removal", scenario_xennet_surprise, 1 },
    { "xennet-pause-dead-backend", scenario_xennet_dead, 1 },
    { "verifier-catches", scenario_verifier, 1 },
};

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
        if (scenarios[i].fn == scenario_xenvbd_stall_reset && !getenv("WH_OPEN_DEFECTS"))
            continue;                    /* fails today: see docs/windows.md */
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(60);
            wh_cpus = scenarios[i].cpus ? scenarios[i].cpus : 1;
            machine_up();
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
