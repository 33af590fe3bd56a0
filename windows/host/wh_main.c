/* The winhost stage: the real x64 xenpci.sys run by the host against a
 * simulated Xen with one disk (blkback), one CD-ROM and one NIC
 * (netback).  Each scenario runs in a child process of its own (a driver
 * crash or a wedged wait ends that scenario only) and prints
 * "ok <name>" or "FAIL <name>"; the last line is "N passed, N failed".
 * Driver Verifier's rules hold in every scenario: any violation fails it.
 *
 *   wh_main <flavour> <xenpci.sys> <imports-allowed.txt> */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wh.h"
#include "blkback/sim_blkback.h"
#include "netback/sim_netback.h"
#include "sim.h"
#include "xenstored/sim_xenstored.h"
#include "../include/xenpci_ioctl.h"

struct wh_machine wh_m;
extern volatile unsigned wh_isr_calls;

static const char *flavour, *sys_path, *allowed_path, *baddrv_path;
static int failures;
void wh_check_failed(void)
{
    failures++;
}
static bool expect_violations;     /* the scenario is about them */


/* ---- the machine ------------------------------------------------------------ */
static struct sim_xen *x;
static struct sim_domain *dom0;
static struct sim_blkback *disk, *cd;
static struct sim_netback *nic;

static void machine_up(void)
{
    x = sim_xen_create(&(struct sim_xen_opts){ .quiet = true });
    dom0 = sim_domain_create(x, 0, 512);
    wh_m.dom = sim_domain_create_ex(x, 1, &(struct sim_domain_opts){ .max_pages = 16384,
                                                                     .no_attach = true });
    wh_m.raw = sim_domain_raw_platform(wh_m.dom);
    disk = sim_blkback_create(x, dom0, 1, 768, NULL);
    cd = sim_blkback_create(x, dom0, 1, 5632, &(struct sim_blkback_opts){ .readonly = true });
    sim_xenstored_poke(sim_xen_xenstored(x), "/local/domain/1/device/vbd/5632/device-type", "cdrom");
    nic = sim_netback_create(x, dom0, 1, 0, NULL);
    if (wh_mem_init(12288))
        wh_fatal("no memory for the pool");
    wh_trap_install();
    wh_thread_enter();
    wh_dispatch_start();
}

/* How many children the first BusRelations after START listed. */
static unsigned first_relations;

/* Boot: DriverEntry, AddDevice, START, and BusRelations until the disk
 * and the NIC are listed (the children come from a xenstore watch). */
static bool boot(struct wh_bus *b)
{
    if (wh_pnp_load(b, sys_path, allowed_path)) {
        CHECK(0, "the image did not load or DriverEntry failed");
        return false;
    }
    NTSTATUS_ st = wh_pnp_add_and_start(b);
    CHECK(st == WH_STATUS_SUCCESS, "START returned 0x%08x", (unsigned)st);
    if (st != WH_STATUS_SUCCESS)
        return false;
    wh_pnp_enumerate(b);                 /* as the PnP manager does right after START */
    first_relations = b->nchild;
    for (int i = 0; i < 500 && b->nchild < 2; i++) {
        if (wh_relations_invalidated)
            wh_pnp_enumerate(b);
        if (b->nchild < 2)
            usleep(10000);
    }
    wh_pnp_enumerate(b);
    return true;
}

static struct wh_child *child(struct wh_bus *b, const char *hwid)
{
    for (unsigned i = 0; i < b->nchild; i++)
        if (!strcmp(b->child[i].hwid, hwid))
            return &b->child[i];
    return NULL;
}

/* ---- (a) xenpci starts as at boot and reports its children ------------------- */
static void scenario_boot(void)
{
    struct wh_bus b;
    if (!boot(&b))
        return;
    CHECK(b.nchild == 2, "%u children reported (want the disk and the NIC; the CD-ROM is left "
                         "to the emulated drive)", b.nchild);
    CHECK(first_relations == 2, "the first BusRelations after START listed %u children: at "
                                "boot the disk must be there at once (a boot disk found later "
                                "risks 0x7B)", first_relations);
    struct wh_child *vbd = child(&b, "XEN\\VBD"), *vif = child(&b, "XEN\\VIF");
    CHECK(vbd && !strcmp(vbd->instid, "768") && !strcmp(vbd->devid, "XEN\\VBD"),
          "the disk's IDs (hardware XEN\\VBD, instance 768)");
    CHECK(vif && !strcmp(vif->instid, "0") && !strcmp(vif->devid, "XEN\\VIF"),
          "the NIC's IDs (hardware XEN\\VIF, instance 0)");
    struct sim_emulated emu;
    sim_domain_emulated(wh_m.dom, &emu);
    CHECK(!emu.ide_disks && !emu.nics, "QEMU's emulated disk and NIC unplugged through port I/O");
    CHECK(wh_isr_calls > 0, "the ISR ran on event-channel upcalls (xenstore traffic)");
    char *dbg = sim_domain_debug_port(wh_m.dom);
    if (!strcmp(flavour, "chk"))
        CHECK(dbg && strstr(dbg, "xenpci: bring-up xenstore: ring"), "the checked build logs to port 0xe9 "
              "(got: %.200s)", dbg ? dbg : "(null)");
    free(dbg);
    char *st = sim_xenstored_peek(sim_xen_xenstored(x), "/local/domain/1/control/feature-poweroff");
    CHECK(st && !strcmp(st, "1"), "control/feature-poweroff written through xenstore");
    free(st);
}

/* ---- (b) DEVICE_USAGE_NOTIFICATION on the disk's PDO -------------------------- */
static void scenario_usage(void)
{
    struct wh_bus b;
    if (!boot(&b))
        return;
    struct wh_child *vbd = child(&b, "XEN\\VBD");
    CHECK(vbd, "the disk is reported");
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
static void scenario_remove(void)
{
    struct wh_bus b;
    if (!boot(&b))
        return;
    CHECK(b.nchild == 2, "%u children reported", b.nchild);
    NTSTATUS_ st = wh_pnp_remove_all(&b);
    CHECK(st == WH_STATUS_SUCCESS, "REMOVE returned 0x%08x", (unsigned)st);
    wh_pnp_unload(&b);
}

/* ---- (d) no PASSIVE_LEVEL DDI at APC_LEVEL or above, from boot to unload ------ */
static void scenario_irql(void)
{
    struct wh_bus b;
    if (!boot(&b))
        return;
    wh_pnp_remove_all(&b);
    wh_pnp_unload(&b);
    CHECK(!wh_violation_seen("IRQL"), "a DDI was called above its documented IRQL");
}

/* ---- (d') \\.\\XenPci: a page granted to dom0 and mapped into the caller ------ */
static void scenario_ioctl(void)
{
    struct wh_bus b;
    if (!boot(&b))
        return;
    NTSTATUS_ st;
    struct wh_file_object *f = wh_file_open(b.fdo, &st);
    CHECK(f, "CREATE on \\\\.\\XenPci: 0x%08x", (unsigned)st);
    if (!f)
        return;
    struct xenpci_ioctl_args a = { .domid = 0 };
    uint64_t info = 0;
    st = wh_file_ioctl(f, IOCTL_XENPCI_GNT_ALLOC, &a, sizeof(a), &info);
    CHECK(st == WH_STATUS_SUCCESS && info == sizeof(a) && a.address, "GNT_ALLOC: 0x%08x",
          (unsigned)st);
    if (st == WH_STATUS_SUCCESS && a.address) {
        char *back = sim_gnt_map(x, 0, 1, a.ref, true);
        CHECK(back, "dom0 maps grant %u", a.ref);
        if (back) {
            memcpy(back, "through the grant", 18);
            CHECK(!memcmp((void *)(uintptr_t)a.address, "through the grant", 18),
                  "the caller's view shows what dom0 wrote");
            sim_gnt_unmap(x, 0, 1, a.ref, true);
        }
        st = wh_file_ioctl(f, IOCTL_XENPCI_GNT_FREE, &a, sizeof(a), NULL);
        CHECK(st == WH_STATUS_SUCCESS, "GNT_FREE: 0x%08x", (unsigned)st);
    }
    struct xenpci_ioctl_args a2 = { .domid = 0 };
    st = wh_file_ioctl(f, IOCTL_XENPCI_GNT_ALLOC, &a2, sizeof(a2), NULL);
    CHECK(st == WH_STATUS_SUCCESS, "a second GNT_ALLOC, left to CLEANUP: 0x%08x", (unsigned)st);
    st = wh_file_close(f);
    CHECK(st == WH_STATUS_SUCCESS, "CLEANUP and CLOSE: 0x%08x", (unsigned)st);
    wh_pnp_remove_all(&b);
    wh_pnp_unload(&b);
}

/* ---- a disk unplugged by the toolstack: its PDO leaves BusRelations ---------- */
static void scenario_unplug(void)
{
    struct wh_bus b;
    if (!boot(&b))
        return;
    struct wh_child *vbd = child(&b, "XEN\\VBD");
    CHECK(vbd, "the disk is reported");
    if (!vbd)
        return;
    struct wh_device_object *pdo = vbd->pdo;
    unsigned seen = wh_relations_invalidated;
    sim_xenstored_poke_rm(sim_xen_xenstored(x), "/local/domain/1/device/vbd/768");
    for (int i = 0; i < 500 && !vbd->gone; i++) {
        if (wh_relations_invalidated != seen)
            wh_pnp_enumerate(&b);
        if (!vbd->gone)
            usleep(10000);
    }
    CHECK(vbd->gone, "the disk left BusRelations after its xenstore node went");
    CHECK(!wh_device_exists(pdo), "its PDO was deleted on REMOVE");
    CHECK(child(&b, "XEN\\VIF") && !child(&b, "XEN\\VIF")->gone, "the NIC stays");
    wh_pnp_remove_all(&b);
    wh_pnp_unload(&b);
}

/* ---- xenvbd on the disk's PDO: StorPort SRBs through blkfront to blkback --------- */
static uint8_t srb_status(struct wh_device_object *fdo, uint8_t *cdb, unsigned cdblen, void *buf,
                          uint32_t len, uint32_t flags)
{
    struct wh_srb srb;
    memset(&srb, 0, sizeof(srb));
    srb.Function = 0;                            /* SRB_FUNCTION_EXECUTE_SCSI */
    srb.CdbLength = (uint8_t)cdblen;
    memcpy(srb.Cdb, cdb, cdblen);
    srb.DataBuffer = buf;
    srb.DataTransferLength = len;
    srb.SrbFlags = flags;
    srb.TimeOutValue = 10;
    if (wh_storport_srb(fdo, &srb, 10000))
        return 0xff;
    return srb.SrbStatus;
}

static void scenario_xenvbd(void)
{
    struct wh_bus b;
    if (!boot(&b))
        return;
    struct wh_child *vbd = child(&b, "XEN\\VBD");
    CHECK(vbd, "the disk is reported");
    if (!vbd)
        return;
    char path[512];
    snprintf(path, sizeof(path), "%s", sys_path);
    char *slash = strrchr(path, '/');
    snprintf(slash ? slash + 1 : path, sizeof(path) - (size_t)(slash ? slash + 1 - path : 0),
             "xenvbd.sys");
    struct wh_image img;
    struct wh_driver_object *drv = wh_load_driver(&img, path, allowed_path, true);
    CHECK(drv, "xenvbd.sys loads and its DriverEntry (StorPortInitialize) succeeds");
    if (!drv)
        return;
    NTSTATUS_ st = ((wh_add_device_fn)drv->DriverExtension->AddDevice)(drv, vbd->pdo);
    CHECK(st == WH_STATUS_SUCCESS, "AddDevice on the disk's PDO: 0x%08x", (unsigned)st);
    st = wh_pnp_minor(vbd->pdo, WH_IRP_MN_START_DEVICE, NULL);
    CHECK(st == WH_STATUS_SUCCESS, "START (HwFindAdapter connects blkfront): 0x%08x", (unsigned)st);
    struct wh_device_object *fdo = wh_storport_fdo(0);
    if (st != WH_STATUS_SUCCESS || !fdo)
        return;
    uint8_t *buf = wh_pool_alloc(8192, 0x66756257, false), *back = wh_pool_alloc(8192, 0x66756257, false);
    uint8_t inquiry[6] = { 0x12, 0, 0, 0, 36, 0 };
    CHECK(srb_status(fdo, inquiry, 6, buf, 36, 0x40) == 1 && !memcmp(buf + 8, "Xen     ", 8),
          "INQUIRY answers vendor Xen");
    uint8_t cap[10] = { 0x25 };
    CHECK(srb_status(fdo, cap, 10, buf, 8, 0x40) == 1 && buf[0] == 0 && buf[1] == 0 &&
              buf[2] == 0x1f && buf[3] == 0xff && buf[6] == 0x02 && buf[7] == 0,
          "READ CAPACITY: 8192 sectors of 512 bytes");
    for (unsigned i = 0; i < 4096; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    uint8_t wr[10] = { 0x2a, 0, 0, 0, 0, 100, 0, 0, 8, 0 };
    CHECK(srb_status(fdo, wr, 10, buf, 4096, 0x80) == 1, "WRITE(10) of 8 sectors at LBA 100");
    CHECK(!memcmp(sim_blkback_disk(disk) + 100 * 512, buf, 4096), "blkback's disk holds them");
    memset(back, 0, 4096);
    uint8_t rd[10] = { 0x28, 0, 0, 0, 0, 100, 0, 0, 8, 0 };
    CHECK(srb_status(fdo, rd, 10, back, 4096, 0x40) == 1 && !memcmp(back, buf, 4096),
          "READ(10) gives them back");
    /* the disk's stack and the bus removed, both drivers unloaded: nothing left */
    wh_pnp_remove_all(&b);
    if (drv->DriverUnload)
        ((wh_unload_fn)drv->DriverUnload)(drv);
    wh_pe_unload(&img);
    wh_pnp_unload(&b);
}

/* xenvbd.sys next to xenpci.sys, loaded (not entered) into img. */
static void xenvbd_path(char *path, size_t size)
{
    snprintf(path, size, "%s", sys_path);
    char *slash = strrchr(path, '/');
    snprintf(slash ? slash + 1 : path, size - (size_t)(slash ? slash + 1 - path : 0), "xenvbd.sys");
}

/* Boot, xenvbd's DriverEntry, AddDevice and START on the disk's PDO. */
static struct wh_device_object *xenvbd_up(struct wh_bus *b, struct wh_image *img,
                                          struct wh_driver_object **drvp, struct wh_child **vbdp)
{
    if (!boot(b))
        return NULL;
    struct wh_child *vbd = child(b, "XEN\\VBD");
    CHECK(vbd, "the disk is reported");
    if (!vbd)
        return NULL;
    char path[512];
    xenvbd_path(path, sizeof(path));
    struct wh_driver_object *drv = wh_load_driver(img, path, allowed_path, true);
    CHECK(drv, "xenvbd.sys loads and its DriverEntry (StorPortInitialize) succeeds");
    if (!drv)
        return NULL;
    NTSTATUS_ st = ((wh_add_device_fn)drv->DriverExtension->AddDevice)(drv, vbd->pdo);
    CHECK(st == WH_STATUS_SUCCESS, "AddDevice on the disk's PDO: 0x%08x", (unsigned)st);
    st = wh_pnp_minor(vbd->pdo, WH_IRP_MN_START_DEVICE, NULL);
    CHECK(st == WH_STATUS_SUCCESS, "START (HwFindAdapter connects blkfront): 0x%08x", (unsigned)st);
    *drvp = drv;
    if (vbdp)
        *vbdp = vbd;
    return st == WH_STATUS_SUCCESS ? wh_storport_fdo(0) : NULL;
}

static void xenvbd_down(struct wh_bus *b, struct wh_image *img, struct wh_driver_object *drv)
{
    wh_pnp_remove_all(b);
    if (drv->DriverUnload)
        ((wh_unload_fn)drv->DriverUnload)(drv);
    wh_pe_unload(img);
    wh_pnp_unload(b);
}

static void rw_srb(struct wh_srb *srb, bool write, uint32_t lba, uint16_t sectors, void *buf)
{
    memset(srb, 0, sizeof(*srb));
    srb->CdbLength = 10;
    srb->Cdb[0] = write ? 0x2a : 0x28;
    srb->Cdb[2] = (uint8_t)(lba >> 24);
    srb->Cdb[3] = (uint8_t)(lba >> 16);
    srb->Cdb[4] = (uint8_t)(lba >> 8);
    srb->Cdb[5] = (uint8_t)lba;
    srb->Cdb[7] = (uint8_t)(sectors >> 8);
    srb->Cdb[8] = (uint8_t)sectors;
    srb->DataBuffer = buf;
    srb->DataTransferLength = sectors * 512u;
    srb->SrbFlags = write ? 0x80 : 0x40;
    srb->TimeOutValue = 10;
}

/* ---- several SRBs in flight; reads through a double-buffering HAL ------------ */
#define INFL 8
static void scenario_xenvbd_inflight(void)
{
    struct wh_bus b;
    struct wh_image img;
    struct wh_driver_object *drv = NULL;
    struct wh_device_object *fdo = xenvbd_up(&b, &img, &drv, NULL);
    if (!fdo)
        return;
    uint8_t *data[INFL];
    struct wh_srb srb[INFL], *p[INFL];
    const uint8_t *disk0 = sim_blkback_disk(disk);
    for (unsigned k = 0; k < INFL; k++) {
        data[k] = wh_pool_alloc(8 * 4096, 0x66756257, false);
        for (unsigned i = 0; i < 8 * 4096; i++)
            data[k][i] = (uint8_t)(i * 13 + k * 71 + 5);
        /* 8 writes of 1..8 pages at LBAs 1000 + 100k (unaligned lengths too) */
        rw_srb(&srb[k], true, 1000 + 100 * k, (uint16_t)(8 * (1 + k) - 3), data[k]);
        p[k] = &srb[k];
    }
    CHECK(wh_storport_srbs(fdo, p, INFL, 10000) == 0, "8 WRITEs in flight together all complete");
    for (unsigned k = 0; k < INFL; k++)
        CHECK(srb[k].SrbStatus == 1 && !memcmp(disk0 + (1000 + 100 * k) * 512, data[k],
                                                srb[k].DataTransferLength),
              "WRITE %u (status 0x%02x): blkback's disk holds its bytes", k, srb[k].SrbStatus);
    /* reads of the same, together, into fresh buffers; with
     * WH_DMA_DOUBLE_BUFFER=1 through a HAL that double-buffers DMA when the
     * miniport asks for physical addresses (xenvbd fails that: left open) */
    wh_storport_double_buffer = getenv("WH_DMA_DOUBLE_BUFFER") != NULL;   /* see the docs */
    uint8_t *back[INFL];
    for (unsigned k = 0; k < INFL; k++) {
        back[k] = wh_pool_alloc(8 * 4096, 0x66756257, false);
        memset(back[k], 0, 8 * 4096);
        rw_srb(&srb[k], false, 1000 + 100 * k, (uint16_t)(8 * (1 + k) - 3), back[k]);
    }
    CHECK(wh_storport_srbs(fdo, p, INFL, 10000) == 0, "8 READs in flight together all complete");
    for (unsigned k = 0; k < INFL; k++)
        CHECK(srb[k].SrbStatus == 1 && !memcmp(back[k], disk0 + (1000 + 100 * k) * 512,
                                                srb[k].DataTransferLength),
              "READ %u (status 0x%02x) gives the disk's bytes%s (first byte 0x%02x, "
              "want 0x%02x)", k, srb[k].SrbStatus,
              wh_storport_double_buffer ? " with DMA double-buffered" : "", back[k][0],
              disk0[(1000 + 100 * k) * 512]);
    wh_storport_double_buffer = false;
    for (unsigned k = 0; k < INFL; k++) {
        wh_pool_free(data[k], "scenario");
        wh_pool_free(back[k], "scenario");
    }
    xenvbd_down(&b, &img, drv);
}

/* ---- the disk disabled (REMOVE of its stack) and enabled again ------------------ */
static bool write_read_check(struct wh_device_object *fdo, uint32_t lba, uint8_t seed)
{
    uint8_t *buf = wh_pool_alloc(4096, 0x66756257, false), *back = wh_pool_alloc(4096, 0x66756257, false);
    for (unsigned i = 0; i < 4096; i++)
        buf[i] = (uint8_t)(i * 3 + seed);
    memset(back, 0, 4096);
    struct wh_srb srb;
    rw_srb(&srb, true, lba, 8, buf);
    bool ok = !wh_storport_srb(fdo, &srb, 10000) && srb.SrbStatus == 1 &&
              !memcmp(sim_blkback_disk(disk) + lba * 512, buf, 4096);
    rw_srb(&srb, false, lba, 8, back);
    ok = ok && !wh_storport_srb(fdo, &srb, 10000) && srb.SrbStatus == 1 && !memcmp(back, buf, 4096);
    wh_pool_free(buf, "scenario");
    wh_pool_free(back, "scenario");
    return ok;
}

static void scenario_xenvbd_restart(void)
{
    struct wh_bus b;
    struct wh_image img;
    struct wh_driver_object *drv = NULL;
    struct wh_child *vbd = NULL;
    struct wh_device_object *fdo = xenvbd_up(&b, &img, &drv, &vbd);
    if (!fdo)
        return;
    CHECK(write_read_check(fdo, 200, 1), "WRITE then READ before the disable");
    NTSTATUS_ st = wh_pnp_minor(vbd->pdo, WH_IRP_MN_REMOVE_DEVICE, NULL);
    CHECK(st == WH_STATUS_SUCCESS, "REMOVE of the disk's stack (disable): 0x%08x", (unsigned)st);
    CHECK(!wh_storport_fdo(0), "StorPort's adapter FDO is gone");
    CHECK(wh_device_exists(vbd->pdo), "the disk's PDO stays: it is still in BusRelations");
    if (!wh_device_exists(vbd->pdo)) {
        wh_pnp_unload(&b);
        return;
    }
    st = ((wh_add_device_fn)drv->DriverExtension->AddDevice)(drv, vbd->pdo);
    CHECK(st == WH_STATUS_SUCCESS, "AddDevice again (enable): 0x%08x", (unsigned)st);
    st = wh_pnp_minor(vbd->pdo, WH_IRP_MN_START_DEVICE, NULL);
    CHECK(st == WH_STATUS_SUCCESS, "START again: blkfront connects again: 0x%08x", (unsigned)st);
    fdo = wh_storport_fdo(0);
    CHECK(fdo && write_read_check(fdo, 300, 2), "WRITE then READ after the enable");
    CHECK(!memcmp(sim_blkback_disk(disk) + 200 * 512, (uint8_t[]){ 1, 4, 7, 10 }, 4),
          "what was written before the disable is still on the disk");
    /* nothing of the first START may be left: the unload's leak check
     * (pool, device objects, mappings) covers both adapters' lives */
    xenvbd_down(&b, &img, drv);
}

/* ---- a stalled backend, then StorPort's bus reset ------------------------------
 * Open defect, run only with WH_OPEN_DEFECTS=1: xenvbd's HwResetBus
 * completes nothing, so StorPort would reset again and again. */
static void scenario_xenvbd_stall_reset(void)
{
    struct wh_bus b;
    struct wh_image img;
    struct wh_driver_object *drv = NULL;
    struct wh_device_object *fdo = xenvbd_up(&b, &img, &drv, NULL);
    if (!fdo)
        return;
    enum { N = 4 };
    uint8_t *buf[N];
    struct wh_srb srb[N], *p[N];
    sim_blkback_hold(disk, true);
    for (unsigned k = 0; k < N; k++) {
        buf[k] = wh_pool_alloc(4096, 0x66756257, false);
        rw_srb(&srb[k], false, 500 + 8 * k, 8, buf[k]);
        p[k] = &srb[k];
    }
    CHECK(wh_storport_srbs_start(fdo, p, N) == 0, "4 READs given to HwStartIo");
    usleep(200000);
    CHECK(wh_storport_outstanding() == N, "the stalled backend answers none (%u outstanding)",
          wh_storport_outstanding());
    unsigned left = wh_storport_reset_bus(fdo);
    CHECK(left == 0, "HwResetBus completed the SRBs it held (%u still outstanding after it)", left);
    for (unsigned k = 0; k < N && left == 0; k++)
        CHECK(srb[k].SrbStatus != 1, "READ %u completed with an error status (0x%02x)", k,
              srb[k].SrbStatus);
    sim_blkback_hold(disk, false);
    wh_storport_srbs_wait(p, N, 10000, false);
    for (unsigned k = 0; k < N; k++)
        wh_pool_free(buf[k], "scenario");
    xenvbd_down(&b, &img, drv);
}

/* ---- paging and dump notifications, a bug check, the dump copy writes --------- */
static void scenario_xenvbd_dump(void)
{
    struct wh_bus b;
    struct wh_image img;
    struct wh_driver_object *drv = NULL;
    struct wh_child *vbd = NULL;
    struct wh_device_object *fdo = xenvbd_up(&b, &img, &drv, &vbd);
    if (!fdo)
        return;
    CHECK(wh_pnp_usage(vbd->pdo, 1 /* DeviceUsageTypePaging */, true) == WH_STATUS_SUCCESS,
          "paging-file usage notification");
    CHECK(wh_pnp_usage(vbd->pdo, 3 /* DeviceUsageTypeDumpFile */, true) == WH_STATUS_SUCCESS,
          "dump-file usage notification");
    CHECK(wh_storport_features() & 0x8, "HW_INITIALIZATION_DATA.FeatureSupport has "
          "STOR_FEATURE_DUMP_POINTERS (0x%x), so StorPort sends SRB_FUNCTION_DUMP_POINTERS",
          wh_storport_features());
    void *handoff = wh_storport_dump_pointers(fdo);
    CHECK(handoff, "SRB_FUNCTION_DUMP_POINTERS answered with MiniportPrivateDumpData");
    if (!strcmp(flavour, "chk")) {
        char *dbg = sim_domain_debug_port(wh_m.dom);
        CHECK(dbg && strstr(dbg, "ready for crash dumps and hibernation"),
              "the checked xenvbd logs that the dump path is ready");
        free(dbg);
    }
    char path[512];
    xenvbd_path(path, sizeof(path));
    struct wh_image dimg;
    if (wh_pe_load(path, allowed_path, &dimg)) {
        CHECK(0, "the dump copy of xenvbd.sys loads");
        return;
    }
    wh_dispatch_flush();
    /* the bug check: HIGH_LEVEL, no interrupt from here on */
    int r = wh_storport_dump_start(&dimg, handoff);
    CHECK(r == 0, "the dump copy's HwFindAdapter finds the disk through the handoff");
    if (r == 0) {
        uint8_t *page = calloc(1, 64 * 1024);
        for (unsigned i = 0; i < 64 * 1024; i++)
            page[i] = (uint8_t)(i * 31 + 9);
        struct wh_srb srb;
        rw_srb(&srb, true, 3000, 128, page);       /* 64 KiB: two of the dump path's chunks */
        CHECK(wh_storport_dump_srb(&srb) == 0 && srb.SrbStatus == 1,
              "the dump copy's WRITE completes inside HwStartIo at HIGH_LEVEL (status 0x%02x)",
              srb.SrbStatus);
        CHECK(!memcmp(sim_blkback_disk(disk) + 3000 * 512, page, 64 * 1024),
              "blkback's disk holds the dump's 64 KiB");
        memset(&srb, 0, sizeof(srb));
        srb.Function = 0x08;                       /* SRB_FUNCTION_FLUSH */
        CHECK(wh_storport_dump_srb(&srb) == 0 && srb.SrbStatus == 1, "FLUSH through the dump copy");
        free(page);
    }
    wh_storport_dump_end();                        /* the machine is gone: nothing unloaded */
    (void)drv;
}

/* ---- the verifier itself: a driver breaking the rules on purpose -------------- */
static void scenario_verifier(void)
{
    expect_violations = true;
    struct wh_bus b;
    if (wh_pnp_load(&b, baddrv_path, allowed_path)) {
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
    };
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        CHECK(wh_violation_seen(want[i]), "the host did not report \"%s\"", want[i]);
}

/* ---- what wh_net.c's scenarios use -------------------------------------------- */
struct sim_netback *wh_nic(void);
struct sim_netback *wh_nic(void)
{
    return nic;
}
bool wh_boot(struct wh_bus *b);
bool wh_boot(struct wh_bus *b)
{
    return boot(b);
}
struct wh_child *wh_child(struct wh_bus *b, const char *hwid);
struct wh_child *wh_child(struct wh_bus *b, const char *hwid)
{
    return child(b, hwid);
}
const char *wh_sibling(const char *name);
const char *wh_sibling(const char *name)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s", sys_path);
    char *slash = strrchr(path, '/');
    snprintf(slash ? slash + 1 : path, sizeof(path) - (size_t)(slash ? slash + 1 - path : 0), "%s",
             name);
    return path;
}
const char *wh_allowed(void);
const char *wh_allowed(void)
{
    return allowed_path;
}
void scenario_xennet_init(void);
void scenario_xennet_data(void);
void scenario_xennet_pause(void);
void scenario_xennet_surprise(void);
void scenario_xennet_dead(void);

/* ---- the runner ----------------------------------------------------------------- */
static const struct {
    const char *name;
    void (*fn)(void);
} scenarios[] = {
    { "boot-children", scenario_boot },
    { "usage-notification", scenario_usage },
    { "remove-unload-no-leak", scenario_remove },
    { "irql-passive-ddis", scenario_irql },
    { "ioctl-user-grant", scenario_ioctl },
    { "vbd-unplugged", scenario_unplug },
    { "xenvbd-srb", scenario_xenvbd },
    { "xenvbd-inflight-dma", scenario_xenvbd_inflight },
    { "xenvbd-disable-enable", scenario_xenvbd_restart },
    { "xenvbd-crash-dump", scenario_xenvbd_dump },
    { "xenvbd-stall-reset", scenario_xenvbd_stall_reset },     /* WH_OPEN_DEFECTS=1 only */
    { "xennet-init", scenario_xennet_init },
    { "xennet-send-receive", scenario_xennet_data },
    { "xennet-pause-restart", scenario_xennet_pause },
    { "xennet-surprise-removal", scenario_xennet_surprise },
    { "xennet-pause-dead-backend", scenario_xennet_dead },
    { "verifier-catches", scenario_verifier },
};

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: %s chk|fre xenpci.sys imports-allowed.txt [wh_baddrv.sys]\n",
                argv[0]);
        return 2;
    }
    flavour = argv[1];
    sys_path = argv[2];
    allowed_path = argv[3];
    baddrv_path = argc == 5 ? argv[4] : NULL;
    unsigned pass = 0, fail = 0;
    for (unsigned i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        if (scenarios[i].fn == scenario_verifier && !baddrv_path)
            continue;
        if (scenarios[i].fn == scenario_xenvbd_stall_reset && !getenv("WH_OPEN_DEFECTS"))
            continue;                    /* fails today: see docs/windows.md */
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(60);
            machine_up();
            scenarios[i].fn();
            wh_dispatch_flush();
            if (wh_violations() && !expect_violations)
                failures++;
            fflush(NULL);
            _exit(failures ? 1 : 0);     /* the simulator's threads die with us */
        }
        int status = 0;
        waitpid(pid, &status, 0);
        bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok && WIFSIGNALED(status))
            fprintf(stderr, "  (ended by signal %d)\n", WTERMSIG(status));
        printf("%s winhost-%s-%s\n", ok ? "ok" : "FAIL", flavour, scenarios[i].name);
        fflush(stdout);
        ok ? pass++ : fail++;
    }
    printf("%u passed, %u failed\n", pass, fail);
    return fail ? 1 : 0;
}
