/* The xenpci scenarios of the winhost stage: the bus driver alone (boot,
 * usage notifications, removal, IRQL rules, a disk unplugged) and the
 * host's verifier against a faulty test driver.  \\.\XenPci:
 * wh_scn_pci_ioctl.c; a driver upgrade: wh_scn_pci_upgrade.c. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wh_scn.h"
#include "sim.h"
#include "xenstored/sim_xenstored.h"

extern volatile unsigned wh_isr_calls;

/* ---- (a) xenpci starts as at boot and reports its children ------------------- */
void scenario_boot(void)
{
    struct wh_bus b;
    if (!wh_boot(&b))
        return;
    CHECK(b.nchild == 2, "%u children reported (want the disk and the NIC; the CD-ROM is left "
                         "to the emulated drive)", b.nchild);
    CHECK(wh_lab.first_relations == 2, "the first BusRelations after START listed %u children: at "
                                "boot the disk must be there at once (a boot disk found later "
                                "risks 0x7B)", wh_lab.first_relations);
    struct wh_child *vbd = wh_child(&b, "XEN\\VBD"), *vif = wh_child(&b, "XEN\\VIF");
    CHECK(vbd && !strcmp(vbd->instid, "768") && !strcmp(vbd->devid, "XEN\\VBD"),
          "the disk's IDs (hardware XEN\\VBD, instance 768)");
    CHECK(vif && !strcmp(vif->instid, "0") && !strcmp(vif->devid, "XEN\\VIF"),
          "the NIC's IDs (hardware XEN\\VIF, instance 0)");
    struct sim_emulated emu;
    sim_domain_emulated(wh_m.dom, &emu);
    CHECK(!emu.ide_disks && !emu.nics, "QEMU's emulated disk and NIC unplugged through port I/O");
    CHECK(wh_isr_calls > 0, "the ISR ran on event-channel upcalls (xenstore traffic)");
    char *dbg = sim_domain_debug_port(wh_m.dom);
    if (!strcmp(wh_lab.flavour, "chk"))
        CHECK(dbg && strstr(dbg, "xenpci: bring-up xenstore: ring"), "the checked build logs to port 0xe9 "
              "(got: %.200s)", dbg ? dbg : "(null)");
    free(dbg);
    char *st = sim_xenstored_peek(sim_xen_xenstored(wh_lab.x), "/local/domain/1/control/feature-poweroff");
    CHECK(st && !strcmp(st, "1"), "control/feature-poweroff written through xenstore");
    free(st);
}

/* ---- (b) DEVICE_USAGE_NOTIFICATION on the disk's PDO -------------------------- */
void scenario_usage(void)
{
    struct wh_bus b;
    struct wh_child *vbd = wh_boot_child(&b, "XEN\\VBD", "the disk");
    if (!vbd)
        return;
    static const struct { uint32_t type; const char *name; } u[] = {
        { WH_DeviceUsageTypePaging, "paging" }, { WH_DeviceUsageTypeDumpFile, "dump" },
        { WH_DeviceUsageTypeHibernation, "hibernation" } };
    for (unsigned i = 0; i < 3; i++) {
        NTSTATUS_ st = wh_pnp_usage(vbd->pdo, u[i].type, true);
        CHECK(st == WH_STATUS_SUCCESS, "%s file on the PV disk: 0x%08x", u[i].name, (unsigned)st);
        if (u[i].type == WH_DeviceUsageTypePaging)
            CHECK(!(vbd->pdo->Flags & 0x2000 /* DO_POWER_PAGABLE */),
                  "a PDO in the paging path clears DO_POWER_PAGABLE");
    }
    for (unsigned i = 0; i < 3; i++) {
        NTSTATUS_ st = wh_pnp_usage(vbd->pdo, u[i].type, false);
        CHECK(st == WH_STATUS_SUCCESS, "%s file removed: 0x%08x", u[i].name, (unsigned)st);
    }
    CHECK(vbd->pdo->Flags & 0x2000, "DO_POWER_PAGABLE back once no paging file is left");
}

/* ---- (c) REMOVE of the FDO with reported PDOs, then unload -------------------- */
void scenario_remove(void)
{
    struct wh_bus b;
    if (!wh_boot(&b))
        return;
    CHECK(b.nchild == 2, "%u children reported", b.nchild);
    NTSTATUS_ st = wh_pnp_remove_all(&b);
    CHECK(st == WH_STATUS_SUCCESS, "REMOVE returned 0x%08x", (unsigned)st);
    wh_pnp_unload(&b);
}

/* ---- (d) no PASSIVE_LEVEL DDI at APC_LEVEL or above, from boot to unload ------ */
void scenario_irql(void)
{
    struct wh_bus b;
    if (!wh_boot(&b))
        return;
    wh_pnp_remove_all(&b);
    wh_pnp_unload(&b);
    CHECK(!wh_violation_seen("IRQL"), "a DDI was called above its documented IRQL");
}

/* ---- a disk unplugged by the toolstack: its PDO leaves BusRelations ---------- */
void scenario_unplug(void)
{
    struct wh_bus b;
    struct wh_child *vbd = wh_boot_child(&b, "XEN\\VBD", "the disk");
    if (!vbd)
        return;
    struct wh_device_object *pdo = vbd->pdo;
    unsigned seen = wh_relations_invalidated;
    sim_xenstored_poke_rm(sim_xen_xenstored(wh_lab.x), "/local/domain/1/device/vbd/768");
    for (int i = 0; i < 3000 && !vbd->gone; i++) {
        if (wh_relations_invalidated != seen)
            wh_pnp_enumerate(&b);
        if (!vbd->gone)
            usleep(10000);
    }
    CHECK(vbd->gone, "the disk left BusRelations after its xenstore node went");
    CHECK(!wh_device_exists(pdo), "its PDO was deleted on REMOVE");
    CHECK(wh_child(&b, "XEN\\VIF") && !wh_child(&b, "XEN\\VIF")->gone, "the NIC stays");
    wh_pnp_remove_all(&b);
    wh_pnp_unload(&b);
}

/* ---- the verifier itself: a driver breaking the rules on purpose -------------- */
void scenario_verifier(void)
{
    wh_lab.expect_violations = true;
    struct wh_bus b;
    if (wh_pnp_load(&b, wh_lab.baddrv_path, wh_lab.allowed_path)) {
        CHECK(0, "the test driver did not load");
        return;
    }
    struct wh_device_object *dev = b.drv->DeviceObject;
    NTSTATUS_ st = WH_STATUS_NOT_SUPPORTED;
    struct wh_file_object *f = dev ? wh_file_open(dev, &st) : NULL;
    CHECK(f, "CREATE on the test driver's device: 0x%08x", (unsigned)st);
    if (f) {
        uint32_t buf[4] = { 0 };
        wh_file_ioctl(f, 0x222000, buf, sizeof(buf), NULL);
        wh_file_close(f);
    }
    wh_dispatch_flush();
    wh_pnp_unload(&b);
    static const char *const want[] = {
        "IoCreateDevice: called at IRQL 2",
        "completed again after it was complete",
        "DPC: routine",                        /* returned holding a spin lock */
        "device object(s) of the driver left",
        "pool block(s) left",
        "executable pool (NonPagedPool",
    };
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        CHECK(wh_violation_seen(want[i]), "the host did not report \"%s\"", want[i]);
}

/* ---- memory integrity (HVCI) and the hypercall path ------------------------------
 * (h) Windows 10 with memory integrity on: xenpci makes every hypercall with
 * the instruction of the CPU's vendor (VMCALL on the checked build's
 * Intel, VMMCALL on the free build's AMD), never writes the hypercall-page
 * MSR, and allocates NonPagedPoolNx only (executable pool would be a
 * violation, as would running code from pool). */
static bool amd_machine(void)
{
    return !strcmp(wh_lab.cpu_vendor, "AuthenticAMD");
}

void scenario_hvci(void)
{
    struct wh_bus b;
    if (!wh_boot(&b))
        return;
    struct sim_hypercall_stats hs;
    sim_domain_hypercall_stats(wh_m.dom, &hs);
    const char *insn = amd_machine() ? "VMMCALL" : "VMCALL", *other = amd_machine() ? "VMCALL" : "VMMCALL";
    unsigned long by = amd_machine() ? hs.by_vmmcall : hs.by_vmcall;
    unsigned long by_other = amd_machine() ? hs.by_vmcall : hs.by_vmmcall;
    CHECK(by > 10 && by_other == 0 && hs.by_page == 0, "on %s every hypercall by %s: %lu (by %s "
          "%lu, through a page %lu)", wh_lab.cpu_vendor, insn, by, other, by_other, hs.by_page);
    CHECK(hs.msr_writes == 0, "no hypercall page: its MSR written %u time(s)", hs.msr_writes);
    CHECK(hs.undefined == 0, "%lu hypercall(s) by an instruction the CPU lacks (#UD)", hs.undefined);
    CHECK(wh_pool_nx_allocs > 0 && wh_pool_exec_allocs == 0, "non-paged pool is NonPagedPoolNx "
          "(%u allocations; %u of executable NonPagedPool)", wh_pool_nx_allocs, wh_pool_exec_allocs);
    char *dbg = sim_domain_debug_port(wh_m.dom);
    char want[64];
    snprintf(want, sizeof(want), "bring-up hypercall: %s (CPU vendor %s)", insn, wh_lab.cpu_vendor);
    if (!strcmp(wh_lab.flavour, "chk"))
        CHECK(dbg && strstr(dbg, want), "the checked build logs \"%s\"", want);
    free(dbg);
    CHECK(wh_pnp_remove_all(&b) == WH_STATUS_SUCCESS, "REMOVE");
    wh_pnp_unload(&b);
    sim_domain_hypercall_stats(wh_m.dom, &hs);
    CHECK(hs.msr_writes == 0 && hs.by_page == 0 && hs.undefined == 0,
          "the teardown's hypercalls by %s too", insn);
}

/* (i) A CPU vendor the core does not know: xenpci falls back on Xen's
 * hypercall page (the host fills it with stubs when the MSR is written),
 * on Windows 7, where executable pool is allowed. */
void scenario_page(void)
{
    struct wh_bus b;
    if (!wh_boot(&b))
        return;
    CHECK(b.nchild == 2, "%u children reported", b.nchild);
    struct sim_hypercall_stats hs;
    sim_domain_hypercall_stats(wh_m.dom, &hs);
    CHECK(hs.msr_writes == 1 && hs.by_page > 10 && hs.by_vmcall + hs.by_vmmcall == 0,
          "on \"%s\" hypercalls through the page: MSR written %u time(s), %lu through the page, "
          "%lu by instruction", wh_lab.cpu_vendor, hs.msr_writes, hs.by_page,
          hs.by_vmcall + hs.by_vmmcall);
    CHECK(wh_pool_nx_allocs == 0, "no NonPagedPoolNx on Windows 7 (%u)", wh_pool_nx_allocs);
    CHECK(wh_pnp_remove_all(&b) == WH_STATUS_SUCCESS, "REMOVE");
    wh_pnp_unload(&b);
}

/* (j) The same vendor with memory integrity on: the page is executable
 * pool and running it is bug check 0xFC; the host reports both (what the
 * drivers did on every CPU before hypercalls went by instruction). */
void scenario_page_hvci(void)
{
    wh_lab.expect_violations = true;
    struct wh_bus b;
    if (!wh_boot(&b))
        return;
    CHECK(wh_violation_seen("executable pool (NonPagedPool"), "the hypercall page's executable "
          "pool was not reported");
    CHECK(wh_violation_seen("code run from pool memory"), "running the hypercall page was not "
          "reported");
    wh_pnp_remove_all(&b);
    wh_pnp_unload(&b);
}
