/* The xenvbd scenarios of the winhost stage: the signed xenvbd.sys on
 * xenpci's XEN\VBD child under the host's StorPort model (wh_storport.c),
 * SRBs through blkfront to the simulated blkback, checked byte for byte
 * against blkback's disk. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wh_scn.h"
#include "wh_scn_vbd.h"
#include "blkback/sim_blkback.h"
#include "sim.h"
#include "gplpv/xs.h"
#include "xenstored/sim_xenstored.h"

/* ---- xenvbd on the disk's PDO: StorPort SRBs through blkfront to blkback --------- */
uint8_t wh_vbd_srb_status(struct wh_device_object *fdo, uint8_t *cdb, unsigned cdblen, void *buf,
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
    if (wh_storport_srb(fdo, &srb, 30000))
        return 0xff;
    return srb.SrbStatus;
}

void scenario_xenvbd(void)
{
    struct wh_vbd vb;
    if (!wh_vbd_start(&vb))
        return;
    uint8_t *buf = wh_pool_alloc(8192, 0x66756257, false), *back = wh_pool_alloc(8192, 0x66756257, false);
    uint8_t inquiry[6] = { 0x12, 0, 0, 0, 36, 0 };
    CHECK(wh_vbd_srb_status(vb.fdo, inquiry, 6, buf, 36, 0x40) == 1 && !memcmp(buf + 8, "Xen     ", 8),
          "INQUIRY answers vendor Xen");
    uint8_t cap[10] = { 0x25 };
    CHECK(wh_vbd_srb_status(vb.fdo, cap, 10, buf, 8, 0x40) == 1 && buf[0] == 0 && buf[1] == 0 &&
              buf[2] == 0x1f && buf[3] == 0xff && buf[6] == 0x02 && buf[7] == 0,
          "READ CAPACITY: 8192 sectors of 512 bytes");
    for (unsigned i = 0; i < 4096; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    uint8_t wr[10] = { 0x2a, 0, 0, 0, 0, 100, 0, 0, 8, 0 };
    CHECK(wh_vbd_srb_status(vb.fdo, wr, 10, buf, 4096, 0x80) == 1, "WRITE(10) of 8 sectors at LBA 100");
    CHECK(!memcmp(sim_blkback_disk(wh_lab.disk) + 100 * 512, buf, 4096), "blkback's disk holds them");
    memset(back, 0, 4096);
    uint8_t rd[10] = { 0x28, 0, 0, 0, 0, 100, 0, 0, 8, 0 };
    CHECK(wh_vbd_srb_status(vb.fdo, rd, 10, back, 4096, 0x40) == 1 && !memcmp(back, buf, 4096),
          "READ(10) gives them back");
    /* the disk's stack and the bus removed, both drivers unloaded: nothing left */
    wh_vbd_down(&vb.b, &vb.img, vb.drv);
}

/* xenvbd.sys next to xenpci.sys, loaded (not entered) into img. */
void wh_vbd_path(char *path, size_t size)
{
    snprintf(path, size, "%s", wh_lab.sys_path);
    char *slash = strrchr(path, '/');
    snprintf(slash ? slash + 1 : path, size - (size_t)(slash ? slash + 1 - path : 0), "xenvbd.sys");
}

/* Boot, xenvbd's DriverEntry, AddDevice and START on the disk's PDO. */
struct wh_device_object *wh_vbd_up(struct wh_bus *b, struct wh_image *img,
                                          struct wh_driver_object **drvp, struct wh_child **vbdp)
{
    struct wh_child *vbd = wh_boot_child(b, "XEN\\VBD", "the disk");
    if (!vbd)
        return NULL;
    char path[512];
    wh_vbd_path(path, sizeof(path));
    struct wh_driver_object *drv = wh_load_driver(img, path, wh_lab.allowed_path, true);
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

bool wh_vbd_start(struct wh_vbd *v)
{
    v->drv = NULL;
    v->vbd = NULL;
    v->fdo = wh_vbd_up(&v->b, &v->img, &v->drv, &v->vbd);
    return v->fdo != NULL;
}

void wh_vbd_down(struct wh_bus *b, struct wh_image *img, struct wh_driver_object *drv)
{
    wh_pnp_remove_all(b);
    if (drv->DriverUnload)
        ((wh_unload_fn)drv->DriverUnload)(drv);
    wh_pe_unload(img);
    wh_pnp_unload(b);
}

void wh_vbd_rw_srb(struct wh_srb *srb, bool write, uint32_t lba, uint16_t sectors, void *buf)
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

/* ---- several SRBs in flight; then through a double-buffering HAL --------------
 * The same WRITEs and READs twice: with the SG list naming the buffers'
 * own frames, then with the HAL double-buffering (the list names bounce
 * pages: a miniport must move the data there, wh_storport_dma.c). */
#define INFL 8
void scenario_xenvbd_inflight(void)
{
    struct wh_vbd vb;
    if (!wh_vbd_start(&vb))
        return;
    uint8_t *data[INFL], *back[INFL];
    struct wh_srb srb[INFL], *p[INFL];
    const uint8_t *disk0 = sim_blkback_disk(wh_lab.disk);
    for (unsigned k = 0; k < INFL; k++) {
        data[k] = wh_pool_alloc(8 * 4096, 0x66756257, false);
        back[k] = wh_pool_alloc(8 * 4096 + 512, 0x66756257, false);
        p[k] = &srb[k];
    }
    for (int db = 0; db < 2; db++) {
        wh_storport_double_buffer = db;
        const char *how = db ? " (DMA double-buffered)" : "";
        for (unsigned k = 0; k < INFL; k++) {
            for (unsigned i = 0; i < 8 * 4096; i++)
                data[k][i] = (uint8_t)(i * 13 + k * 71 + 5 + db * 101);
            /* 8 writes of 1..8 pages at LBAs 1000 + 100k (unaligned lengths
             * too); the second time from an odd offset in the buffer */
            wh_vbd_rw_srb(&srb[k], true, 1000 + 100 * k, (uint16_t)(8 * (1 + k) - 3), data[k] + db * 8);
        }
        CHECK(wh_storport_srbs(vb.fdo, p, INFL, 30000) == 0, "8 WRITEs in flight together all "
              "complete%s", how);
        for (unsigned k = 0; k < INFL; k++)
            CHECK(srb[k].SrbStatus == 1 && !memcmp(disk0 + (1000 + 100 * k) * 512, data[k] + db * 8,
                                                    srb[k].DataTransferLength),
                  "WRITE %u (status 0x%02x): blkback's disk holds its bytes%s", k,
                  srb[k].SrbStatus, how);
        /* reads of the same, together, into fresh buffers (at an offset
         * that is not a sector's the second time) */
        for (unsigned k = 0; k < INFL; k++) {
            memset(back[k], 0, 8 * 4096 + 512);
            wh_vbd_rw_srb(&srb[k], false, 1000 + 100 * k, (uint16_t)(8 * (1 + k) - 3),
                   back[k] + db * 100);
        }
        CHECK(wh_storport_srbs(vb.fdo, p, INFL, 30000) == 0, "8 READs in flight together all "
              "complete%s", how);
        for (unsigned k = 0; k < INFL; k++)
            CHECK(srb[k].SrbStatus == 1 && !memcmp(back[k] + db * 100, disk0 + (1000 + 100 * k) * 512,
                                                    srb[k].DataTransferLength),
                  "READ %u (status 0x%02x) gives the disk's bytes%s (first byte 0x%02x, want "
                  "0x%02x)", k, srb[k].SrbStatus, how, back[k][db * 100],
                  disk0[(1000 + 100 * k) * 512]);
    }
    /* an answer the miniport writes itself (not a READ: StorPort maps it
     * and does not double-buffer it) */
    uint8_t inquiry[6] = { 0x12, 0, 0, 0, 36, 0 };
    CHECK(wh_vbd_srb_status(vb.fdo, inquiry, 6, back[0], 36, 0x40) == 1 && !memcmp(back[0] + 8, "Xen     ", 8),
          "INQUIRY answers vendor Xen with the HAL double-buffering");
    wh_storport_double_buffer = false;
    for (unsigned k = 0; k < INFL; k++) {
        wh_pool_free(data[k], "scenario");
        wh_pool_free(back[k], "scenario");
    }
    wh_vbd_down(&vb.b, &vb.img, vb.drv);
}

/* ---- the disk disabled (REMOVE of its stack) and enabled again ------------------ */
bool wh_vbd_write_read_check_on(struct wh_device_object *fdo, struct sim_blkback *bb,
                                uint32_t lba, uint8_t seed)
{
    uint8_t *buf = wh_pool_alloc(4096, 0x66756257, false), *back = wh_pool_alloc(4096, 0x66756257, false);
    for (unsigned i = 0; i < 4096; i++)
        buf[i] = (uint8_t)(i * 3 + seed);
    memset(back, 0, 4096);
    struct wh_srb srb;
    wh_vbd_rw_srb(&srb, true, lba, 8, buf);
    bool ok = !wh_storport_srb(fdo, &srb, 30000) && srb.SrbStatus == 1 &&
              !memcmp(sim_blkback_disk(bb) + lba * 512, buf, 4096);
    wh_vbd_rw_srb(&srb, false, lba, 8, back);
    ok = ok && !wh_storport_srb(fdo, &srb, 30000) && srb.SrbStatus == 1 && !memcmp(back, buf, 4096);
    wh_pool_free(buf, "scenario");
    wh_pool_free(back, "scenario");
    return ok;
}

bool wh_vbd_write_read_check(struct wh_device_object *fdo, uint32_t lba, uint8_t seed)
{
    return wh_vbd_write_read_check_on(fdo, wh_lab.disk, lba, seed);
}

void scenario_xenvbd_restart(void)
{
    struct wh_vbd vb;
    if (!wh_vbd_start(&vb))
        return;
    CHECK(wh_vbd_write_read_check(vb.fdo, 200, 1), "WRITE then READ before the disable");
    NTSTATUS_ st = wh_pnp_minor(vb.vbd->pdo, WH_IRP_MN_REMOVE_DEVICE, NULL);
    CHECK(st == WH_STATUS_SUCCESS, "REMOVE of the disk's stack (disable): 0x%08x", (unsigned)st);
    CHECK(!wh_storport_fdo(0), "StorPort's adapter FDO is gone");
    CHECK(wh_device_exists(vb.vbd->pdo), "the disk's PDO stays: it is still in BusRelations");
    if (!wh_device_exists(vb.vbd->pdo)) {
        wh_pnp_unload(&vb.b);
        return;
    }
    st = ((wh_add_device_fn)vb.drv->DriverExtension->AddDevice)(vb.drv, vb.vbd->pdo);
    CHECK(st == WH_STATUS_SUCCESS, "AddDevice again (enable): 0x%08x", (unsigned)st);
    st = wh_pnp_minor(vb.vbd->pdo, WH_IRP_MN_START_DEVICE, NULL);
    CHECK(st == WH_STATUS_SUCCESS, "START again: blkfront connects again: 0x%08x", (unsigned)st);
    vb.fdo = wh_storport_fdo(0);
    CHECK(vb.fdo && wh_vbd_write_read_check(vb.fdo, 300, 2), "WRITE then READ after the enable");
    CHECK(!memcmp(sim_blkback_disk(wh_lab.disk) + 200 * 512, (uint8_t[]){ 1, 4, 7, 10 }, 4),
          "what was written before the disable is still on the disk");
    /* nothing of the first START may be left: the unload's leak check
     * (pool, device objects, mappings) covers both adapters' lives */
    wh_vbd_down(&vb.b, &vb.img, vb.drv);
}

/* ---- a stalled backend, then StorPort's resets ----------------------------------
 * blkback holds its answers; 4 READs and a WRITE stay outstanding; then
 * HwResetBus, an LU reset and a device reset in turn must complete each
 * of them once with SRB_STATUS_BUS_RESET (the host's StorPort reports one
 * left outstanding, or completed twice).  blkback then answers them: the
 * buffers given back stay untouched, nothing completes again, and new I/O
 * is right byte for byte.  All through a double-buffering HAL. */
static bool disk_matches(struct wh_device_object *fdo, uint32_t lba, uint16_t sectors)
{
    uint8_t *buf = wh_pool_alloc(sectors * 512u, 0x66756257, false);
    memset(buf, 0x33, sectors * 512u);
    struct wh_srb srb;
    wh_vbd_rw_srb(&srb, false, lba, sectors, buf);
    bool ok = !wh_storport_srb(fdo, &srb, 30000) && srb.SrbStatus == 1 &&
              !memcmp(buf, sim_blkback_disk(wh_lab.disk) + lba * 512, sectors * 512u);
    wh_pool_free(buf, "scenario");
    return ok;
}

void scenario_xenvbd_stall_reset(void)
{
    struct wh_vbd vb;
    if (!wh_vbd_start(&vb))
        return;
    enum { N = 5 };
    static const struct { uint8_t function; const char *name; } resets[] = {
        { 0, "HwResetBus" },
        { 0x20, "SRB_FUNCTION_RESET_LOGICAL_UNIT" },
        { 0x13, "SRB_FUNCTION_RESET_DEVICE" },
    };
    wh_storport_double_buffer = true;
    for (unsigned round = 0; round < 3; round++) {
        const char *name = resets[round].name;
        uint8_t *buf[N];
        struct wh_srb srb[N], *p[N];
        sim_blkback_hold(wh_lab.disk, true);
        for (unsigned k = 0; k < N; k++) {
            buf[k] = wh_pool_alloc(4096, 0x66756257, false);
            memset(buf[k], 0x11 * (k + 1), 4096);
            wh_vbd_rw_srb(&srb[k], k == N - 1, 500 + 8 * k + 64 * round, 8, buf[k]);
            p[k] = &srb[k];
        }
        CHECK(wh_storport_srbs_start(vb.fdo, p, N) == 0, "4 READs and a WRITE given to HwStartIo");
        usleep(200000);
        CHECK(wh_storport_outstanding() == N, "the stalled backend answers none (%u outstanding)",
              wh_storport_outstanding());
        unsigned left;
        if (!resets[round].function) {
            bool ok = false;
            left = wh_storport_reset_bus(vb.fdo, &ok);
            CHECK(ok, "HwResetBus returned TRUE");
        } else {
            uint8_t st = 0;
            left = wh_storport_reset_unit(vb.fdo, resets[round].function, &st);
            CHECK(st == 1, "the %s SRB completed with success (0x%02x)", name, st);
        }
        CHECK(left == 0, "%s completed every SRB it held (%u still outstanding after it)", name,
              left);
        for (unsigned k = 0; k < N && left == 0; k++)
            CHECK(srb[k].SrbStatus == 0x0e, "%s %u completed with SRB_STATUS_BUS_RESET after "
                  "%s (0x%02x)", k == N - 1 ? "WRITE" : "READ", k, name, srb[k].SrbStatus);
        /* StorPort has them back (a second completion would be a violation
         * from here on): their buffers are someone else's now */
        wh_storport_srbs_wait(p, N, 30000, false);
        for (unsigned k = 0; k < N; k++)
            memset(buf[k], 0x77, 4096);
        sim_blkback_hold(wh_lab.disk, false);      /* the late answers */
        usleep(100000);
        wh_dispatch_flush();
        CHECK(wh_storport_outstanding() == 0, "nothing outstanding once blkback answered");
        bool untouched = true;
        for (unsigned k = 0; k < N; k++)
            for (unsigned i = 0; i < 4096; i++)
                untouched &= buf[k][i] == 0x77;
        CHECK(untouched, "the late answers to what %s gave back write no buffer", name);
        CHECK(!wh_violations(), "no SRB completed twice after %s", name);
        CHECK(wh_vbd_write_read_check(vb.fdo, 900 + 16 * round, (uint8_t)(7 + round)),
              "WRITE then READ after %s, byte for byte", name);
        CHECK(disk_matches(vb.fdo, 500 + 64 * round, 40), "READ of what the reset requests "
              "covered gives the disk's bytes after %s", name);
        for (unsigned k = 0; k < N; k++)
            wh_pool_free(buf[k], "scenario");
    }
    wh_storport_double_buffer = false;
    wh_vbd_down(&vb.b, &vb.img, vb.drv);
}

/* ---- paging and dump notifications, a bug check, the dump copy writes --------- */
void scenario_xenvbd_dump(void)
{
    struct wh_vbd vb;
    if (!wh_vbd_start(&vb))
        return;
    CHECK(wh_pnp_usage(vb.vbd->pdo, 1 /* DeviceUsageTypePaging */, true) == WH_STATUS_SUCCESS,
          "paging-file usage notification");
    CHECK(wh_pnp_usage(vb.vbd->pdo, 3 /* DeviceUsageTypeDumpFile */, true) == WH_STATUS_SUCCESS,
          "dump-file usage notification");
    CHECK(wh_storport_features() & 0x8, "HW_INITIALIZATION_DATA.FeatureSupport has "
          "STOR_FEATURE_DUMP_POINTERS (0x%x), so StorPort sends SRB_FUNCTION_DUMP_POINTERS",
          wh_storport_features());
    void *handoff = wh_storport_dump_pointers(vb.fdo);
    CHECK(handoff, "SRB_FUNCTION_DUMP_POINTERS answered with MiniportPrivateDumpData");
    if (!strcmp(wh_lab.flavour, "chk")) {
        char *dbg = sim_domain_debug_port(wh_m.dom);
        CHECK(dbg && strstr(dbg, "ready for crash dumps and hibernation"),
              "the checked xenvbd logs that the dump path is ready");
        free(dbg);
    }
    char path[512];
    wh_vbd_path(path, sizeof(path));
    struct wh_image dimg;
    if (wh_pe_load(path, wh_lab.allowed_path, &dimg)) {
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
        wh_vbd_rw_srb(&srb, true, 3000, 128, page);       /* 64 KiB: two of the dump path's chunks */
        CHECK(wh_storport_dump_srb(&srb) == 0 && srb.SrbStatus == 1,
              "the dump copy's WRITE completes inside HwStartIo at HIGH_LEVEL (status 0x%02x)",
              srb.SrbStatus);
        CHECK(!memcmp(sim_blkback_disk(wh_lab.disk) + 3000 * 512, page, 64 * 1024),
              "blkback's disk holds the dump's 64 KiB");
        memset(&srb, 0, sizeof(srb));
        srb.Function = 0x08;                       /* SRB_FUNCTION_FLUSH */
        CHECK(wh_storport_dump_srb(&srb) == 0 && srb.SrbStatus == 1, "FLUSH through the dump copy");
        free(page);
    }
    wh_storport_dump_end();                        /* the machine is gone: nothing unloaded */
    (void)vb.drv;
}
