/* driver-upgrade: xenpci boots, serves \\.\XenPci, is removed and
 * unloaded; then a rebuilt image (the other flavour's signed xenpci.sys
 * beside this one, or a copy with another link time) is loaded into the
 * same simulated domain and boots again.  In between, Xen must hold
 * nothing of the first image but what belongs to the domain (the xenstore
 * channel); after, the new image must have set everything up again. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wh_scn.h"
#include "sim.h"
#include "xenstored/sim_xenstored.h"
#include "../include/xenpci_ioctl.h"

#define POWEROFF "/local/domain/1/control/feature-poweroff"

/* The other flavour's xenpci.sys (build/win/pkg/<other>-x64/), or else a
 * copy of ours with its COFF TimeDateStamp changed. */
static const char *rebuilt_image(void)
{
    static char path[512];
    const char *other = strcmp(wh_lab.flavour, "chk") ? "chk" : "fre";
    char dir[16];
    snprintf(dir, sizeof(dir), "/%s-x64/", wh_lab.flavour);
    snprintf(path, sizeof(path), "%s", wh_lab.sys_path);
    char *at = strstr(path, dir);
    if (at) {
        memcpy(at + 1, other, 3);
        if (!access(path, R_OK))
            return path;
    }
    size_t len;
    char *img = wh_read_file(wh_lab.sys_path, &len);
    if (!img || len < 0x40 || (size_t)*(uint32_t *)(img + 0x3c) + 12 > len) {
        free(img);
        return NULL;
    }
    (*(uint32_t *)(img + *(uint32_t *)(img + 0x3c) + 8))++;      /* TimeDateStamp */
    snprintf(path, sizeof(path), "/tmp/wh-upgrade-%d.sys", (int)getpid());
    FILE *fp = fopen(path, "wb");
    bool ok = fp && fwrite(img, 1, len, fp) == len;
    if (fp)
        fclose(fp);
    free(img);
    return ok ? path : NULL;
}

/* A page granted to dom0 through the device interface, written by dom0,
 * and a port; both left to the handle's CLEANUP. */
static void upgrade_io(struct wh_bus *b, const char *when)
{
    NTSTATUS_ st;
    struct wh_file_object *f = wh_file_open(b->fdo, &st);
    CHECK(f, "%s: CREATE on \\\\.\\XenPci: 0x%08x", when, (unsigned)st);
    if (!f)
        return;
    struct xenpci_ioctl_args g = { .domid = 0 }, p = { .domid = 0 };
    st = wh_file_ioctl(f, IOCTL_XENPCI_GNT_ALLOC, &g, sizeof(g), NULL);
    CHECK(st == WH_STATUS_SUCCESS, "%s: GNT_ALLOC: 0x%08x", when, (unsigned)st);
    char *back = st == WH_STATUS_SUCCESS ? sim_gnt_map(wh_lab.x, 0, 1, g.ref, true) : NULL;
    CHECK(back, "%s: dom0 maps grant %u", when, g.ref);
    if (back) {
        memcpy(back, when, strlen(when) + 1);
        CHECK(!strcmp((const char *)(uintptr_t)g.address, when), "%s: the caller sees what "
              "dom0 wrote", when);
        sim_gnt_unmap(wh_lab.x, 0, 1, g.ref, true);
    }
    st = wh_file_ioctl(f, IOCTL_XENPCI_EVTCHN_ALLOC, &p, sizeof(p), NULL);
    CHECK(st == WH_STATUS_SUCCESS, "%s: EVTCHN_ALLOC: 0x%08x", when, (unsigned)st);
    CHECK(wh_file_close(f) == WH_STATUS_SUCCESS, "%s: CLEANUP and CLOSE", when);
}

/* Nothing of the unloaded image left in Xen or xenstored. */
static void upgrade_released(const char *when)
{
    struct sim_domain_state s;
    sim_domain_state(wh_m.dom, &s);
    CHECK(!s.shared_info, "%s: shared_info still placed", when);
    CHECK(!s.grant_frames, "%s: %u grant-table frame(s) still placed", when, s.grant_frames);
    CHECK(!s.grants_mapped, "%s: dom0 still maps %u grant(s) of domain 1", when, s.grants_mapped);
    CHECK(!s.ports_unbound && !s.ports_interdomain, "%s: %u unbound and %u interdomain event "
          "channel(s) left open", when, s.ports_unbound, s.ports_interdomain);
    CHECK(s.store_port_open, "%s: the xenstore event channel was closed (it is the domain's, "
          "set up by the toolstack: the next driver cannot reach xenstore)", when);
    CHECK(!s.callback_irq && !s.upcall_routed, "%s: the upcall is still routed (callback "
          "0x%llx)", when, (unsigned long long)s.callback_irq);
    CHECK(!s.store_unread && !s.store_unserved, "%s: the xenstore ring holds %u byte(s) for "
          "the guest and %u for xenstored", when, s.store_unread, s.store_unserved);
    unsigned w, t;
    sim_xenstored_conn_state(sim_xen_xenstored(wh_lab.x), 1, &w, &t);
    CHECK(!w && !t, "%s: %u watch(es) and %u transaction(s) of the guest left in xenstored",
          when, w, t);
}

/* The image just booted set Xen up (again) and talks to xenstore. */
static void upgrade_up(struct wh_bus *b, const char *when)
{
    CHECK(b->nchild == 2, "%s: %u children reported", when, b->nchild);
    struct wh_child *vbd = wh_child(b, "XEN\\VBD"), *vif = wh_child(b, "XEN\\VIF");
    CHECK(vbd && !strcmp(vbd->instid, "768"), "%s: the disk is reported", when);
    CHECK(vif && !strcmp(vif->instid, "0"), "%s: the NIC is reported", when);
    struct sim_domain_state s;
    sim_domain_state(wh_m.dom, &s);
    /* hypercalls by the instruction (memory integrity on): no page, none
     * by a page, and the new image made its own */
    static unsigned long made;
    struct sim_hypercall_stats hs;
    sim_domain_hypercall_stats(wh_m.dom, &hs);
    CHECK(!s.hypercall_page && !hs.by_page && !hs.msr_writes && hs.by_vmcall + hs.by_vmmcall > made,
          "%s: hypercalls by instruction %lu (before: %lu), by a page %lu, page MSR writes %u",
          when, hs.by_vmcall + hs.by_vmmcall, made, hs.by_page, hs.msr_writes);
    made = hs.by_vmcall + hs.by_vmmcall;
    CHECK(s.shared_info && s.grant_frames == 32, "%s: shared_info %p, %u grant frames", when,
          s.shared_info, s.grant_frames);
    CHECK(s.callback_irq && s.upcall_routed, "%s: the upcall is routed", when);
    CHECK(s.store_port_open, "%s: the xenstore event channel is not connected", when);
    char *v = NULL;
    for (int i = 0; i < 3000 && !(v && !strcmp(v, "1")); i++) {
        free(v);
        v = sim_xenstored_peek(sim_xen_xenstored(wh_lab.x), POWEROFF);
        if (!v || strcmp(v, "1"))
            usleep(10000);
    }
    CHECK(v && !strcmp(v, "1"), "%s: control/feature-poweroff written through xenstore", when);
    free(v);
}

void scenario_driver_upgrade(void)
{
    struct wh_bus b1, b2;
    if (!wh_boot(&b1))
        return;
    upgrade_up(&b1, "first image");
    unsigned w1, t1;
    sim_xenstored_conn_state(sim_xen_xenstored(wh_lab.x), 1, &w1, &t1);
    upgrade_io(&b1, "first image");
    CHECK(wh_pnp_remove_all(&b1) == WH_STATUS_SUCCESS, "REMOVE of the first image");
    wh_pnp_unload(&b1);
    upgrade_released("after the first image's unload");
    sim_xenstored_poke(sim_xen_xenstored(wh_lab.x), POWEROFF, "0");

    const char *first = wh_lab.sys_path, *next = rebuilt_image();
    CHECK(next, "no rebuilt image to load");
    if (!next)
        return;
    size_t l1, l2;
    char *i1 = wh_read_file(first, &l1), *i2 = wh_read_file(next, &l2);
    CHECK(i1 && i2 && (l1 != l2 || memcmp(i1, i2, l1)), "%s is the same file as %s", next, first);
    free(i1);
    free(i2);
    wh_lab.sys_path = next;
    bool up = wh_boot(&b2);
    wh_lab.sys_path = first;
    if (strstr(next, "/tmp/wh-upgrade-"))
        unlink(next);
    CHECK(up, "the rebuilt image (%s) did not boot", next);
    if (!up)
        return;
    upgrade_up(&b2, "rebuilt image");
    unsigned w2, t2;
    sim_xenstored_conn_state(sim_xen_xenstored(wh_lab.x), 1, &w2, &t2);
    CHECK(w2 == w1, "xenstore watches: %u under the first image, %u under the rebuilt one", w1,
          w2);
    upgrade_io(&b2, "rebuilt image");
    CHECK(wh_pnp_remove_all(&b2) == WH_STATUS_SUCCESS, "REMOVE of the rebuilt image");
    wh_pnp_unload(&b2);
    upgrade_released("after the rebuilt image's unload");
}
