/* The xenvbd scenarios of a machine's life: save/restore (or migration)
 * with I/O in flight, a disk attached and detached after boot (and one
 * detached by force with I/O in flight), and
 * hibernation through the dump stack resumed in a new domain.  The
 * toolstack's part (the new domain's xenstore tree, block-attach and
 * block-detach) is played here too. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wh_scn.h"
#include "wh_scn_vbd.h"
#include "blkback/sim_blkback.h"
#include "sim.h"
#include "gplpv/xs.h"
#include "xenstored/sim_xenstored.h"

/* ---- the toolstack building a new domain's xenstore ---------------------------------
 * A restored domain (and one that boots a hibernated image) is a new
 * domain: libxl writes its xenstore tree afresh, so what the guest had
 * written there goes with the old one.  The sim's restore keeps the tree;
 * this restore hook (run before the backends' own, which put them back in
 * InitWait) makes it what libxl leaves.  The domain keeps its id here (a
 * real restore gives it a new one). */
static struct xs_client *toolstack_xs;
static struct gp_xs_transport *toolstack_link;

static void toolstack_node(const char *path, const char *value, bool guest_owned)
{
    xs_write_str(toolstack_xs, XS_TXN_NONE, path, value);
    if (guest_owned)
        xs_set_perms(toolstack_xs, XS_TXN_NONE, path, (const char *[]){ "n1", "r0" }, 2);
}

/* The new domain's xenstore as the toolstack builds it: the old domain's
 * tree is gone with it (the guest's control and data nodes, the frontends'
 * ring-refs, event channels and states); the devices' nodes are written
 * again in Initialising. */
static void toolstack_new_domain(void *arg, gp_domid_t domid, enum sim_restore_phase phase)
{
    (void)arg;
    if (domid != 1 || phase != SIM_RESTORE_AFTER)
        return;
    xs_rm(toolstack_xs, XS_TXN_NONE, "/local/domain/1/control");
    xs_rm(toolstack_xs, XS_TXN_NONE, "/local/domain/1/data");
    xs_rm(toolstack_xs, XS_TXN_NONE, "/local/domain/1/device/vbd/768");
    xs_rm(toolstack_xs, XS_TXN_NONE, "/local/domain/1/device/vif/0");
    toolstack_node("/local/domain/1/control", "", true);
    toolstack_node("/local/domain/1/data", "", true);
    toolstack_node("/local/domain/1/device/vbd/768", "", true);
    toolstack_node("/local/domain/1/device/vbd/768/backend", "/local/domain/0/backend/vbd/1/768",
                   false);
    toolstack_node("/local/domain/1/device/vbd/768/backend-id", "0", false);
    toolstack_node("/local/domain/1/device/vbd/768/virtual-device", "768", false);
    toolstack_node("/local/domain/1/device/vbd/768/device-type", "disk", false);
    toolstack_node("/local/domain/1/device/vbd/768/state", "1", true);
    toolstack_node("/local/domain/1/device/vif/0", "", true);
    toolstack_node("/local/domain/1/device/vif/0/backend", "/local/domain/0/backend/vif/1/0", false);
    toolstack_node("/local/domain/1/device/vif/0/backend-id", "0", false);
    toolstack_node("/local/domain/1/device/vif/0/mac", "00:16:3e:00:01:00", false);
    toolstack_node("/local/domain/1/device/vif/0/handle", "0", false);
    toolstack_node("/local/domain/1/device/vif/0/state", "1", true);
}

static void toolstack_attach(void)
{
    struct sim_xenstored *xsd = sim_xen_xenstored(wh_lab.x);
    toolstack_link = sim_xenstored_direct(xsd, 0);
    xs_client_create(sim_domain_platform(wh_lab.dom0), toolstack_link, &toolstack_xs);
    sim_xen_add_restore_hook(wh_lab.x, toolstack_new_domain, NULL);
}

static void toolstack_detach(void)
{
    sim_xen_remove_restore_hook(wh_lab.x, toolstack_new_domain, NULL);
    xs_client_destroy(toolstack_xs);
    sim_xenstored_direct_close(sim_xen_xenstored(wh_lab.x), toolstack_link);
    toolstack_xs = NULL;
}

/* ---- save/restore (or migration) with disk I/O in flight ---------------------------
 * As `xl save` + `xl restore` (or `xl migrate`) do it: the toolstack writes
 * control/shutdown = "suspend"; xenpci acknowledges it, quiesces every
 * device from a work item, holds the other processor with a targeted DPC,
 * and with interrupts off on both asks Xen for SCHEDOP_shutdown(suspend);
 * the simulator saves and restores the domain there (new event channels,
 * no grants, fresh shared_info and xenstore ring, backends back in
 * InitWait), and the drivers reconnect.  Each round: 8 WRITEs held by
 * blkback across the save (the old backend never answers them), 12 more
 * issued while the suspend runs; each must complete exactly once and
 * blkback's disk hold every byte; then all read back together.  Round 1
 * is a save/restore, round 2 a checkpoint (`xl save -c`: Xen answers the
 * suspend with 1, the domain goes on where it was), round 3 a second
 * restore (the control watch must have come back).  A frame goes round
 * through xennet before and after.  Two processors (and two vCPUs). */
#define SR_HELD 8
#define SR_RACE 12
#define SR_N (SR_HELD + SR_RACE)

static bool save_restore_round(struct wh_device_object *fdo, unsigned round, bool cancel)
{
    struct sim_xenstored *xsd = sim_xen_xenstored(wh_lab.x);
    struct sim_blkback_stats bs0, bs1;
    sim_blkback_get_stats(wh_lab.disk, &bs0);
    uint8_t *data[SR_N], *back[SR_N];
    struct wh_srb srb[SR_N], *p[SR_N];
    uint32_t base = 2000 + 700 * round;
    for (unsigned k = 0; k < SR_N; k++) {
        data[k] = wh_pool_alloc(16 * 512, 0x66756257, false);
        back[k] = wh_pool_alloc(16 * 512, 0x66756257, false);
        memset(back[k], 0, 16 * 512);
        for (unsigned i = 0; i < 16 * 512; i++)
            data[k][i] = (uint8_t)(i * 11 + k * 37 + round * 101 + 1);
        wh_vbd_rw_srb(&srb[k], true, base + 32 * k, (uint16_t)(4 + (k + round) % 13), data[k]);
        p[k] = &srb[k];
    }
    /* 8 WRITEs the backend takes and does not answer before the save */
    sim_blkback_hold(wh_lab.disk, true);
    CHECK(wh_storport_srbs_start(fdo, p, SR_HELD) == 0, "round %u: 8 WRITEs given to HwStartIo",
          round);
    usleep(100000);
    CHECK(wh_storport_outstanding() == SR_HELD, "round %u: all 8 in flight at the save (%u "
          "outstanding)", round, wh_storport_outstanding());
    unsigned restores = sim_domain_restores(wh_m.dom), held = wh_held_windows;
    if (cancel)
        sim_domain_cancel_next_suspend(wh_m.dom);
    sim_xenstored_poke(xsd, "/local/domain/1/control/shutdown", "suspend");
    /* 12 more while the suspend runs: before the quiesce, during it, after */
    for (unsigned k = SR_HELD; k < SR_N; k++) {
        wh_storport_srbs_start(fdo, &p[k], 1);
        if (k == SR_HELD + SR_RACE / 2)
            for (int i = 0; i < 15000 && wh_held_windows == held; i++)
                usleep(2000);
        else
            usleep(1500);
    }
    for (int i = 0; i < 6000 && wh_held_windows == held; i++)
        usleep(5000);
    CHECK(wh_held_windows == held + 1, "round %u: SCHEDOP_shutdown(suspend) ran with every "
          "processor held, interrupts off (%u windows)", round, wh_held_windows - held);
    usleep(50000);
    CHECK(sim_domain_restores(wh_m.dom) == restores + !cancel, "round %u: the domain was %s (%u "
          "restores)", round, cancel ? "checkpointed, not restored" : "saved and restored once",
          sim_domain_restores(wh_m.dom) - restores);
    sim_blkback_hold(wh_lab.disk, false);          /* the (restored) backend answers */
    CHECK(wh_storport_srbs_wait(p, SR_N, 20000, true) == 0, "round %u: all 20 WRITEs completed "
          "(%u outstanding)", round, wh_storport_outstanding());
    const uint8_t *disk = sim_blkback_disk(wh_lab.disk);
    unsigned bad = 0;
    for (unsigned k = 0; k < SR_N; k++)
        if (srb[k].SrbStatus != 1 ||
            memcmp(disk + (base + 32 * k) * 512, data[k], srb[k].DataTransferLength)) {
            bad++;
            fprintf(stderr, "  round %u WRITE %u: status 0x%02x, the disk %s\n", round, k,
                    srb[k].SrbStatus, memcmp(disk + (base + 32 * k) * 512, data[k],
                                             srb[k].DataTransferLength) ? "differs" : "holds it");
        }
    CHECK(bad == 0, "round %u: every WRITE succeeded once and blkback's disk holds its bytes (%u "
          "bad)", round, bad);
    char *sd = sim_xenstored_peek(xsd, "/local/domain/1/control/shutdown");
    CHECK(!sd || !sd[0], "round %u: control/shutdown was acknowledged (cleared; got '%s')", round,
          sd ? sd : "");
    free(sd);
    char *feat = sim_xenstored_peek(xsd, "/local/domain/1/control/feature-suspend");
    CHECK(feat && !strcmp(feat, "1"), "round %u: control/feature-suspend is there after the %s "
          "(got %s)", round, cancel ? "checkpoint" : "restore", feat ? feat : "nothing");
    free(feat);
    sim_blkback_get_stats(wh_lab.disk, &bs1);
    CHECK(bs1.connects == bs0.connects + !cancel, "round %u: blkfront %s (%llu new connects)",
          round, cancel ? "kept its connection" : "connected to the restored backend",
          (unsigned long long)(bs1.connects - bs0.connects));
    for (unsigned k = 0; k < SR_N; k++)
        wh_vbd_rw_srb(&srb[k], false, base + 32 * k, (uint16_t)(4 + (k + round) % 13), back[k]);
    CHECK(wh_storport_srbs(fdo, p, SR_N, 30000) == 0, "round %u: 20 READs complete", round);
    bad = 0;
    for (unsigned k = 0; k < SR_N; k++)
        bad += srb[k].SrbStatus != 1 || memcmp(back[k], data[k], srb[k].DataTransferLength);
    CHECK(bad == 0, "round %u: the READs give back what was written across the suspend (%u bad)",
          round, bad);
    for (unsigned k = 0; k < SR_N; k++) {
        wh_pool_free(data[k], "scenario");
        wh_pool_free(back[k], "scenario");
    }
    return bad == 0;
}

/* xenvbd up, xennet beside it on the same bus (*net: it started) and a
 * frame's round trip checked "before the <what>". */
static bool vbd_and_net_up(struct wh_vbd *vb, bool *net, const char *what)
{
    if (!wh_vbd_start(vb))
        return false;
    *net = wh_net_start(&vb->b);
    CHECK(!*net || wh_net_echo(1), "a frame goes round through netback before the %s", what);
    return true;
}

void scenario_save_restore_io(void)
{
    struct wh_vbd vb;
    bool net;
    if (!vbd_and_net_up(&vb, &net, "save"))
        return;
    CHECK(wh_vbd_write_read_check(vb.fdo, 100, 7), "WRITE then READ before the save");
    char *feat = sim_xenstored_peek(sim_xen_xenstored(wh_lab.x),
                                    "/local/domain/1/control/feature-suspend");
    CHECK(feat && !strcmp(feat, "1"), "control/feature-suspend is 1 (got %s)", feat ? feat : "none");
    free(feat);
    toolstack_attach();
    save_restore_round(vb.fdo, 1, false);
    CHECK(!net || wh_net_echo(2), "a frame goes round through netback after the restore");
    save_restore_round(vb.fdo, 2, true);
    save_restore_round(vb.fdo, 3, false);
    CHECK(wh_vbd_write_read_check(vb.fdo, 300, 9), "a new WRITE then READ after three suspends");
    CHECK(!net || wh_net_echo(3), "a frame goes round through netback after three suspends");
    if (!strcmp(wh_lab.flavour, "chk")) {
        char *dbg = sim_domain_debug_port(wh_m.dom);
        CHECK(dbg && strstr(dbg, "1 other processor(s) held during the window"),
              "the checked xenpci logs that it held the other processor");
        CHECK(dbg && strstr(dbg, "suspend: restored") && strstr(dbg, "suspend: cancelled"),
              "the checked xenpci logs the restores and the checkpoint");
        free(dbg);
    }
    toolstack_detach();
    wh_pnp_remove_all(&vb.b);
    if (vb.drv->DriverUnload)
        ((wh_unload_fn)vb.drv->DriverUnload)(vb.drv);
    wh_pe_unload(&vb.img);
    wh_net_unload();
    wh_pnp_unload(&vb.b);
}

/* ---- a second disk attached after boot, used, then detached --------------------------
 * `xl block-attach`: the toolstack writes the backend's and the frontend's
 * nodes for vbd 51728 (xvdb, 8 MiB) and blkback waits in InitWait; xenpci's
 * watch on device/vbd sees it, invalidates the bus relations and the next
 * BusRelations lists a third child, XEN\VBD instance 51728; PnP builds its
 * stack (xenvbd's AddDevice, START) and the disk takes I/O beside the
 * first.  Then `xl block-detach`: the backend is told to close (online 0,
 * state Closing), then the toolstack removes both directories; xenpci
 * reports the disk gone, PnP sends SURPRISE_REMOVAL and REMOVE through
 * its stack, and the disk's StorPort adapter, PDO and connection go
 * while the boot disk carries on; nothing of the second disk may be left
 * at unload, and its xenstore directory must stay gone. */
/* `xl block-attach` of vbd 51728 as above, up to its started adapter: the
 * new child (NULL if it never came; CHECKed), its backend in *bbp and its
 * StorPort adapter's FDO in *fdo2p (NULL if it did not start). */
static struct wh_child *attach_second_disk(struct wh_bus *b, struct wh_driver_object *drv,
                                           struct sim_blkback **bbp,
                                           struct wh_device_object **fdo2p)
{
    *fdo2p = NULL;
    unsigned seen = wh_relations_invalidated, before = b->nchild;
    struct sim_blkback *bb = sim_blkback_create(wh_lab.x, wh_lab.dom0, 1, 51728,
                                                &(struct sim_blkback_opts){ .sectors = 16384 });
    *bbp = bb;
    CHECK(bb, "the toolstack attached vbd 51728");
    if (!bb)
        return NULL;
    sim_xenstored_poke(sim_xen_xenstored(wh_lab.x), "/local/domain/1/device/vbd/51728/device-type",
                       "disk");
    struct wh_child *c2 = NULL;
    for (int i = 0; i < 3000 && !c2; i++) {
        if (wh_relations_invalidated != seen) {
            seen = wh_relations_invalidated;
            wh_pnp_enumerate(b);
            for (unsigned k = 0; k < b->nchild; k++)
                if (!strcmp(b->child[k].instid, "51728") && !b->child[k].gone)
                    c2 = &b->child[k];
        }
        if (!c2)
            usleep(10000);
    }
    CHECK(c2, "xenpci invalidated its relations and BusRelations lists the new disk (%u children, "
          "were %u)", b->nchild, before);
    if (!c2) {
        sim_blkback_destroy(bb);
        *bbp = NULL;
        return NULL;
    }
    CHECK(b->nchild == before + 1 && !strcmp(c2->hwid, "XEN\\VBD"), "one child more: XEN\\VBD "
          "instance 51728 (hardware ID %s)", c2->hwid);
    NTSTATUS_ st = ((wh_add_device_fn)drv->DriverExtension->AddDevice)(drv, c2->pdo);
    CHECK(st == WH_STATUS_SUCCESS, "xenvbd's AddDevice on the new disk's PDO: 0x%08x", (unsigned)st);
    st = wh_pnp_minor(c2->pdo, WH_IRP_MN_START_DEVICE, NULL);
    CHECK(st == WH_STATUS_SUCCESS, "START of the new disk (blkfront connects to the new "
          "backend): 0x%08x", (unsigned)st);
    struct wh_device_object *fdo2 = wh_storport_fdo(1);
    CHECK(fdo2 && fdo2->AttachedDevice == NULL && wh_stack_top(c2->pdo) == fdo2,
          "a second StorPort adapter sits on the new PDO");
    if (st == WH_STATUS_SUCCESS)
        *fdo2p = fdo2;
    return c2;
}

/* xenvbd up with the boot disk's I/O checked, then a second disk
 * attached (attach_second_disk): the new disk's child, or NULL. */
static struct wh_child *vbd_up_with_second_disk(struct wh_vbd *vb, struct sim_blkback **bbp,
                                                struct wh_device_object **fdo2p)
{
    *bbp = NULL;
    *fdo2p = NULL;
    if (!wh_vbd_start(vb))
        return NULL;
    CHECK(wh_vbd_write_read_check(vb->fdo, 100, 3), "the boot disk takes I/O");
    return attach_second_disk(&vb->b, vb->drv, bbp, fdo2p);
}

/* `xl block-detach` of vbd 51728: the backend is asked to close (online
 * 0, state Closing); then 'node' is read every 10 ms, at most 'tries'
 * times, until it says Closed (6).  What it read last (to be freed). */
static char *block_detach(struct sim_xenstored *xsd, const char *node, int tries)
{
    sim_xenstored_poke(xsd, "/local/domain/0/backend/vbd/1/51728/online", "0");
    sim_xenstored_poke(xsd, "/local/domain/0/backend/vbd/1/51728/state", "5");
    char *v = NULL;
    for (int i = 0; i < tries; i++) {
        free(v);
        v = sim_xenstored_peek(xsd, node);
        if (v && !strcmp(v, "6"))
            break;
        usleep(10000);
    }
    return v;
}

/* PnP acting on xenpci's relations until the child is gone (SURPRISE_REMOVAL
 * and REMOVE through its stack); *seen: the invalidations handled so far. */
static bool wait_child_gone(struct wh_bus *b, struct wh_child *c, unsigned *seen)
{
    for (int i = 0; i < 3000 && !c->gone; i++) {
        if (wh_relations_invalidated != *seen) {
            *seen = wh_relations_invalidated;
            wh_pnp_enumerate(b);
        }
        if (!c->gone)
            usleep(10000);
    }
    return c->gone;
}

void scenario_vbd_hot_add(void)
{
    struct wh_vbd vb;
    struct sim_blkback *bb;
    struct wh_device_object *fdo2;
    struct wh_child *c2 = vbd_up_with_second_disk(&vb, &bb, &fdo2);
    if (!c2)
        return;
    if (fdo2) {
        uint8_t *buf = wh_pool_alloc(64, 0x66756257, false);
        memset(buf, 0, 64);
        uint8_t cap[10] = { 0x25 };
        CHECK(wh_vbd_srb_status(fdo2, cap, 10, buf, 8, 0x40) == 1 && buf[0] == 0 && buf[1] == 0 &&
                  buf[2] == 0x3f && buf[3] == 0xff, "READ CAPACITY of the new disk: 16384 "
              "sectors (last LBA %02x%02x%02x%02x)", buf[0], buf[1], buf[2], buf[3]);
        wh_pool_free(buf, "scenario");
        CHECK(wh_vbd_write_read_check_on(fdo2, bb, 12000, 5), "WRITE then READ on the new disk, byte "
              "for byte on its backend");
        CHECK(wh_vbd_write_read_check(vb.fdo, 200, 6), "the boot disk still takes I/O beside it");
    }
    /* `xl block-detach`: the backend is asked to close, then both
     * directories go (libxl waits up to 10 s for Closed, then removes) */
    struct sim_xenstored *xsd = sim_xen_xenstored(wh_lab.x);
    char *bst = block_detach(xsd, "/local/domain/0/backend/vbd/1/51728/state", 1000);
    CHECK(bst && !strcmp(bst, "6"), "the frontend let the backend close (backend state %s)",
          bst ? bst : "gone");
    free(bst);
    struct wh_device_object *pdo2 = c2->pdo;
    unsigned seen = wh_relations_invalidated;
    sim_blkback_destroy(bb);
    sim_xenstored_poke_rm(xsd, "/local/domain/1/device/vbd/51728");
    CHECK(wait_child_gone(&vb.b, c2, &seen), "the detached disk left BusRelations");
    CHECK(!wh_storport_fdo(1), "its StorPort adapter (FDO) was removed");
    CHECK(!wh_device_exists(pdo2), "its PDO was deleted on REMOVE");
    usleep(300000);
    wh_dispatch_flush();
    char *left = sim_xenstored_peek(xsd, "/local/domain/1/device/vbd/51728/state");
    CHECK(!left, "the frontend did not write its removed directory back (state %s)",
          left ? left : "");
    free(left);
    if (wh_relations_invalidated != seen)
        wh_pnp_enumerate(&vb.b);
    unsigned live = 0;
    for (unsigned k = 0; k < vb.b.nchild; k++)
        live += !vb.b.child[k].gone && !strcmp(vb.b.child[k].hwid, "XEN\\VBD");
    CHECK(live == 1, "one disk left on the bus (%u)", live);
    CHECK(wh_vbd_write_read_check(vb.fdo, 300, 8), "the boot disk still takes I/O after the detach");
    wh_vbd_down(&vb.b, &vb.img, vb.drv);
}

/* ---- a disk detached by force with I/O in flight ---------------------------------
 * `xl block-detach` of a disk Windows is using (forced, or libxl's 10 s
 * timeout): the second disk of vbd-hot-add has 6 READs and WRITEs at its
 * backend, which holds their answers; the backend is asked to close
 * (blkfront gives up the ring and keeps the requests for a backend that
 * may come back), the backend's I/O ends and its answers come late into
 * the ring blkfront gave up, then the toolstack removes both directories.
 * PnP sends SURPRISE_REMOVAL and REMOVE through the disk's stack: StorPort
 * tells the miniport (ScsiAdapterSurpriseRemoval) and stops the adapter at
 * REMOVE only with nothing outstanding, so every SRB must complete once,
 * with SRB_STATUS_NO_DEVICE (the device is gone), before ScsiStopAdapter.
 * Nothing of the disk may be left at unload; the boot disk carries on. */
#define DI_N 6

void scenario_vbd_detach_inflight(void)
{
    struct wh_vbd vb;
    struct sim_blkback *bb;
    struct wh_device_object *fdo2;
    struct wh_child *c2 = vbd_up_with_second_disk(&vb, &bb, &fdo2);
    if (!c2 || !fdo2)
        return;
    CHECK(wh_vbd_write_read_check_on(fdo2, bb, 12000, 5), "WRITE then READ on the new disk");
    /* 3 WRITEs and 3 READs the backend takes and does not answer */
    uint8_t *buf[DI_N];
    struct wh_srb srb[DI_N], *p[DI_N];
    for (unsigned k = 0; k < DI_N; k++) {
        buf[k] = wh_pool_alloc(16 * 512, 0x66756257, false);
        for (unsigned i = 0; i < 16 * 512; i++)
            buf[k][i] = k % 2 ? 0x5a : (uint8_t)(i * 13 + k);
        wh_vbd_rw_srb(&srb[k], k % 2 == 0, 1000 + 64 * k, (uint16_t)(8 + k), buf[k]);
        p[k] = &srb[k];
    }
    sim_blkback_hold(bb, true);
    CHECK(wh_storport_srbs_start(fdo2, p, DI_N) == 0, "6 READs and WRITEs given to the new "
          "disk's HwStartIo");
    usleep(100000);
    CHECK(wh_storport_outstanding() == DI_N, "all 6 outstanding at the backend (%u)",
          wh_storport_outstanding());
    unsigned notices = wh_storport_surprise_notices, stop_left = wh_storport_stop_outstanding;
    /* `xl block-detach`: the backend is asked to close */
    struct sim_xenstored *xsd = sim_xen_xenstored(wh_lab.x);
    char *fst = block_detach(xsd, "/local/domain/1/device/vbd/51728/state", 500);
    CHECK(fst && !strcmp(fst, "6"), "the frontend gave up the ring of the closing backend "
          "(frontend state %s)", fst ? fst : "gone");
    free(fst);
    /* the backend's I/O ends as it closes: its answers come late */
    sim_blkback_hold(bb, false);
    usleep(100000);
    wh_dispatch_flush();
    CHECK(wh_storport_outstanding() == DI_N, "the late answers into the given-up ring completed "
          "nothing (%u of 6 outstanding)", wh_storport_outstanding());
    /* libxl's timeout: both directories go; PnP: SURPRISE_REMOVAL, REMOVE */
    struct wh_device_object *pdo2 = c2->pdo;
    unsigned seen = wh_relations_invalidated;
    sim_blkback_destroy(bb);
    sim_xenstored_poke_rm(xsd, "/local/domain/1/device/vbd/51728");
    CHECK(wait_child_gone(&vb.b, c2, &seen), "the detached disk left BusRelations");
    CHECK(wh_storport_stop_outstanding == stop_left, "every SRB of the detached disk was given "
          "back before ScsiStopAdapter (%u still outstanding at REMOVE)",
          wh_storport_stop_outstanding - stop_left);
    CHECK(wh_storport_surprise_notices == notices + 1, "StorPort told the miniport of the surprise "
          "removal (ScsiAdapterSurpriseRemoval listed and called %u time(s))",
          wh_storport_surprise_notices - notices);
    CHECK(wh_storport_srbs_wait(p, DI_N, 5000, true) == 0, "all 6 SRBs completed");
    unsigned bad = 0;
    for (unsigned k = 0; k < DI_N; k++)
        if (srb[k].SrbStatus != 0x08) {               /* SRB_STATUS_NO_DEVICE */
            bad++;
            fprintf(stderr, "  %s %u: SrbStatus 0x%02x\n", k % 2 ? "READ" : "WRITE", k,
                    srb[k].SrbStatus);
        }
    CHECK(bad == 0, "each completed with SRB_STATUS_NO_DEVICE (%u did not)", bad);
    CHECK(!wh_storport_fdo(1), "its StorPort adapter (FDO) was removed");
    CHECK(!wh_device_exists(pdo2), "its PDO was deleted on REMOVE");
    for (unsigned k = 0; k < DI_N; k++)
        memset(buf[k], 0x77, 16 * 512);
    usleep(200000);
    wh_dispatch_flush();
    bool untouched = true;
    for (unsigned k = 0; k < DI_N; k++)
        for (unsigned i = 0; i < 16 * 512; i++)
            untouched &= buf[k][i] == 0x77;
    CHECK(untouched, "no buffer written after its SRB came back");
    char *left = sim_xenstored_peek(xsd, "/local/domain/1/device/vbd/51728/state");
    CHECK(!left, "the frontend did not write its removed directory back (state %s)",
          left ? left : "");
    free(left);
    CHECK(!wh_violations(), "no violation (no SRB completed twice, none outstanding when its "
          "adapter stopped)");
    CHECK(wh_vbd_write_read_check(vb.fdo, 300, 8), "the boot disk still takes I/O after the detach");
    for (unsigned k = 0; k < DI_N; k++)
        wh_pool_free(buf[k], "scenario");
    wh_vbd_down(&vb.b, &vb.img, vb.drv);
}

/* ---- hibernation (S4) through the dump stack, resumed in a new domain -------------
 * The disk holds the paging file, the crash dump and the hibernation file
 * (usage notifications: its PDO is no longer DO_POWER_PAGABLE, so its
 * power IRPs come at DISPATCH_LEVEL).  The power manager sends QUERY_POWER
 * and SET_POWER S4 to the disk's and the NIC's stacks, then to the bus's;
 * StorPort (the disk stack's power policy owner) asks for D3 after the S4
 * reached the PDO and stops the adapter.  The hibernation file is written
 * through the dump copy of xenvbd (HIGH_LEVEL, interrupt masked), the
 * machine powers off, and the image is booted again in a new domain: no
 * event channels, grants or shared_info, a fresh xenstore ring and tree
 * (the toolstack writes the domain's nodes afresh: what the guest wrote
 * is gone, the devices' frontend directories are back in Initialising),
 * the backends waiting in InitWait, and a new device model whose
 * emulated disk and NIC are there again.  The resumed kernel sends
 * SET_POWER S0 to the bus first, then to its children (StorPort asks for
 * D0 and restarts the adapter): the drivers must reconnect, the disk must
 * hold what was written before and the hibernation file, take new I/O,
 * and xenpci must be the PV driver of the new domain as at boot (the
 * emulated disk and NIC unplugged again, its control features written,
 * control/shutdown served). */
extern unsigned wh_storport_stops, wh_storport_restarts;
#define HIBER_LBA 6000
#define HIBER_BYTES (256 * 1024)
#define HIBER_BALLOON 256                          /* pages xenpci's balloon gives Xen */

/* Waits (up to 10 s) until xenpci's balloon reports 'kib' in
 * data/gplpv-balloon-kib and Xen holds 'pages' for the domain. */
static bool balloon_at(struct sim_xenstored *xsd, const char *kib, unsigned pages)
{
    bool ok = false;
    for (int i = 0; i < 10000 && !ok; i++) {
        char *v = sim_xenstored_peek(xsd, "/local/domain/1/data/gplpv-balloon-kib");
        ok = v && !strcmp(v, kib) && sim_domain_tot_pages(wh_m.dom) == pages;
        free(v);
        if (!ok)
            usleep(1000);
    }
    return ok;
}

void scenario_hibernate_resume(void)
{
    struct wh_vbd vb;
    bool net;
    if (!vbd_and_net_up(&vb, &net, "hibernation"))
        return;
    CHECK(wh_pnp_usage(vb.vbd->pdo, WH_DeviceUsageTypePaging, true) == WH_STATUS_SUCCESS &&
              wh_pnp_usage(vb.vbd->pdo, WH_DeviceUsageTypeHibernation, true) == WH_STATUS_SUCCESS &&
              wh_pnp_usage(vb.vbd->pdo, WH_DeviceUsageTypeDumpFile, true) == WH_STATUS_SUCCESS,
          "paging, hibernation and dump files on the disk");
    CHECK(!(vb.vbd->pdo->Flags & WH_DO_POWER_PAGABLE), "the disk's PDO is not DO_POWER_PAGABLE");
    /* what the user had on the disk */
    uint8_t *mine = wh_pool_alloc(32 * 1024, 0x66756257, false);
    for (unsigned i = 0; i < 32 * 1024; i++)
        mine[i] = (uint8_t)(i * 5 + 77);
    struct wh_srb srb;
    wh_vbd_rw_srb(&srb, true, 500, 64, mine);
    CHECK(wh_storport_srb(vb.fdo, &srb, 30000) == 0 && srb.SrbStatus == 1, "32 KiB written at LBA "
          "500 before the hibernation");
    void *handoff = wh_storport_dump_pointers(vb.fdo);
    CHECK(handoff, "SRB_FUNCTION_DUMP_POINTERS answered (the hibernation stack's handoff)");
    char path[512];
    wh_vbd_path(path, sizeof(path));
    struct wh_image dimg;
    if (!handoff || wh_pe_load(path, wh_lab.allowed_path, &dimg)) {
        CHECK(0, "the hibernation copy of xenvbd.sys loads");
        return;
    }
    struct sim_emulated emu;
    sim_domain_emulated(wh_m.dom, &emu);
    CHECK(!emu.ide_disks && !emu.nics, "the emulated disk and NIC were unplugged at boot");
    /* `xl mem-set`: xenpci's balloon gives Xen 1 MiB (its size is what Xen
     * gave the domain at START: no memory/static-max here) */
    struct sim_xenstored *xsd = sim_xen_xenstored(wh_lab.x);
    unsigned all = sim_domain_tot_pages(wh_m.dom);
    char target[32];
    snprintf(target, sizeof(target), "%u", (all - HIBER_BALLOON) * 4);
    sim_xenstored_poke(xsd, "/local/domain/1/memory/target", target);
    CHECK(balloon_at(xsd, "1024", all - HIBER_BALLOON), "the balloon gives Xen %u pages before "
          "the hibernation (the domain has %u of %u)", HIBER_BALLOON,
          sim_domain_tot_pages(wh_m.dom), all);
    /* S4: query, then set, children first */
    unsigned irps = wh_power_irps_sent;
    CHECK(wh_power_system(&vb.b, WH_PowerSystemHibernate, WH_PowerActionHibernate) == 0,
          "QUERY_POWER and SET_POWER S4 succeed on every stack");
    CHECK(wh_power_irps_sent - irps >= 9, "%u power IRPs sent (3 stacks x query and set, D3 for "
          "each)", wh_power_irps_sent - irps);
    CHECK(wh_storport_stops == 1, "StorPort stopped the disk's adapter for D3 (%u)",
          wh_storport_stops);
    wh_dispatch_flush();
    /* the hibernation file, through the dump copy: HIGH_LEVEL, interrupt masked */
    int r = wh_storport_dump_start(&dimg, handoff);
    CHECK(r == 0, "the hibernation copy's HwFindAdapter finds the disk through the handoff");
    uint8_t *image = calloc(1, HIBER_BYTES);
    for (unsigned i = 0; i < HIBER_BYTES; i++)
        image[i] = (uint8_t)(i * 29 + (i >> 12) + 3);
    unsigned bad = 0;
    for (unsigned off = 0; r == 0 && off < HIBER_BYTES; off += 64 * 1024) {
        wh_vbd_rw_srb(&srb, true, HIBER_LBA + off / 512, 128, image + off);
        bad += wh_storport_dump_srb(&srb) != 0 || srb.SrbStatus != 1;
    }
    memset(&srb, 0, sizeof(srb));
    srb.Function = 0x08;                           /* SRB_FUNCTION_FLUSH */
    bad += r != 0 || wh_storport_dump_srb(&srb) != 0 || srb.SrbStatus != 1;
    CHECK(bad == 0, "the hibernation file (256 KiB) and a flush go through the dump copy (%u "
          "failed)", bad);
    /* power off; the image boots again in a new domain */
    toolstack_attach();
    sim_domain_power_cycle(wh_m.dom);
    toolstack_detach();
    CHECK(!memcmp(sim_blkback_disk(wh_lab.disk) + HIBER_LBA * 512, image, HIBER_BYTES),
          "the boot loader finds the hibernation file on the disk, byte for byte");
    wh_storport_dump_end();                        /* the image runs again */
    wh_pe_unload(&dimg);
    /* S0: the bus first, then its children */
    CHECK(wh_power_system(&vb.b, WH_PowerSystemWorking, WH_PowerActionHibernate) == 0,
          "SET_POWER S0 succeeds on every stack");
    CHECK(wh_storport_restarts == 1, "StorPort restarted the disk's adapter for D0 (%u)",
          wh_storport_restarts);
    sim_domain_emulated(wh_m.dom, &emu);
    CHECK(!emu.ide_disks && !emu.nics, "the new device model's emulated disk and NIC were "
          "unplugged again (disks %d, NICs %d: Windows would see the PV disk twice)",
          emu.ide_disks, emu.nics);
    uint8_t *back = wh_pool_alloc(64 * 1024, 0x66756257, false);
    memset(back, 0, 64 * 1024);
    wh_vbd_rw_srb(&srb, false, 500, 64, back);
    CHECK(wh_storport_srb(vb.fdo, &srb, 30000) == 0 && srb.SrbStatus == 1 &&
              !memcmp(back, mine, 32 * 1024), "after the resume the disk reads back what was "
          "written before the hibernation (status 0x%02x)", srb.SrbStatus);
    wh_vbd_rw_srb(&srb, false, HIBER_LBA, 128, back);
    CHECK(wh_storport_srb(vb.fdo, &srb, 30000) == 0 && srb.SrbStatus == 1 &&
              !memcmp(back, image, 64 * 1024), "and the hibernation file's first 64 KiB");
    CHECK(wh_vbd_write_read_check(vb.fdo, 700, 11), "a new WRITE then READ after the resume");
    CHECK(!net || (wh_ndis_ad_running() && wh_net_echo(2)), "xennet, halted for D3 and initialized "
          "again in D0, sends and receives in the new domain");
    static const char *const features[] = { "poweroff", "suspend", "s4", "balloon" };
    for (unsigned i = 0; i < 4; i++) {
        char node[96];
        snprintf(node, sizeof(node), "/local/domain/1/control/feature-%s", features[i]);
        char *feat = sim_xenstored_peek(xsd, node);
        CHECK(feat && !strcmp(feat, "1"), "control/feature-%s written again in the new domain "
              "(got %s: the toolstack would not see the PV driver's feature)", features[i],
              feat ? feat : "nothing");
        free(feat);
    }
    /* The new domain was built with RAM at every gfn, the balloon's pages
     * included: the balloon gives Xen what the target asks for again and
     * counts only that; then all comes back, nothing populated twice. */
    CHECK(balloon_at(xsd, "1024", all - HIBER_BALLOON), "the balloon gives Xen %u pages again "
          "in the new domain and reports them (the domain has %u of %u)", HIBER_BALLOON,
          sim_domain_tot_pages(wh_m.dom), all);
    snprintf(target, sizeof(target), "%u", all * 4);
    sim_xenstored_poke(xsd, "/local/domain/1/memory/target", target);
    CHECK(balloon_at(xsd, "0", all), "the balloon takes every page back at the full target (the "
          "domain has %u of %u)", sim_domain_tot_pages(wh_m.dom), all);
    sim_xenstored_poke(xsd, "/local/domain/1/control/shutdown", "poweroff");
    char *sd = NULL;
    for (int i = 0; i < 300; i++) {
        free(sd);
        sd = sim_xenstored_peek(xsd, "/local/domain/1/control/shutdown");
        if (sd && !sd[0])
            break;
        usleep(10000);
    }
    CHECK(sd && !sd[0], "a shutdown request in the new domain is acknowledged (control/shutdown "
          "'%s')", sd ? sd : "gone");
    free(sd);
    free(image);
    wh_pool_free(mine, "scenario");
    wh_pool_free(back, "scenario");
    wh_pnp_remove_all(&vb.b);
    if (vb.drv->DriverUnload)
        ((wh_unload_fn)vb.drv->DriverUnload)(vb.drv);
    wh_pe_unload(&vb.img);
    wh_net_unload();
    wh_pnp_unload(&vb.b);
}
