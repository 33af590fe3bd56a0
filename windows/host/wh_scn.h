/* What the winhost stage's scenario files (wh_scn_*.c) share: the
 * simulated machine wh_main.c builds for each scenario, the boot of
 * xenpci.sys on it, and the scenario list.  A scenario is a void function
 * that CHECKs (wh.h); it runs in a child process of its own.
 *
 * Adding one: write it in the wh_scn_*.c of the driver it exercises,
 * declare it below and add a line to wh_main.c's table. */
#ifndef WH_SCN_H
#define WH_SCN_H

#include "wh.h"

struct sim_xen;
struct sim_domain;
struct sim_blkback;
struct sim_netback;

struct wh_lab {
    /* the machine: dom0's backends for domain 1 (wh_m.dom) */
    struct sim_xen *x;
    struct sim_domain *dom0;
    struct sim_blkback *disk;           /* vbd 768, 8192 sectors */
    struct sim_blkback *cd;             /* vbd 5632, a read-only CD-ROM */
    struct sim_netback *nic;            /* vif 0 */
    /* the command line */
    const char *flavour;                /* "chk" or "fre" */
    const char *sys_path;               /* xenpci.sys; its siblings lie beside it */
    const char *allowed_path;           /* imports-allowed.txt */
    const char *baddrv_path;            /* the faulty test driver, or NULL */
    /* the machine of the scenario */
    const char *cpu_vendor;             /* the simulated CPU's (CPUID leaf 0) */
    /* set by wh_boot */
    unsigned first_relations;           /* children in the first BusRelations after START */
    bool expect_violations;             /* the scenario is about them */
};
extern struct wh_lab wh_lab;

/* DriverEntry, AddDevice, START, and BusRelations until the disk and the
 * NIC are listed (the children come from a xenstore watch). */
bool wh_boot(struct wh_bus *b);
/* The child with that hardware ID, or NULL. */
struct wh_child *wh_child(struct wh_bus *b, const char *hwid);
/* wh_boot, then the child with that hardware ID, CHECKed ("<what> is
 * reported"): the child, or NULL. */
struct wh_child *wh_boot_child(struct wh_bus *b, const char *hwid, const char *what);
/* The path of another driver file beside xenpci.sys (static storage). */
const char *wh_sibling(const char *name);

/* wh_scn_net.c, for scenarios of the other drivers: xennet on b's NIC
 * (started, filter set), a frame's round trip through netback, and the
 * unload after the bus was removed. */
bool wh_net_start(struct wh_bus *b);
bool wh_net_echo(uint8_t seed);
bool wh_ndis_ad_running(void);
void wh_net_unload(void);

/* wh_scn_pci.c */
void scenario_boot(void);
void scenario_usage(void);
void scenario_remove(void);
void scenario_irql(void);
void scenario_unplug(void);
void scenario_verifier(void);
/* wh_scn_pci_ioctl.c */
void scenario_ioctl(void);
void scenario_ioctl_hostile(void);
/* wh_scn_pci_upgrade.c */
void scenario_driver_upgrade(void);
void scenario_hvci(void);
void scenario_page(void);
void scenario_page_hvci(void);
/* wh_scn_vbd.c */
void scenario_xenvbd(void);
void scenario_xenvbd_inflight(void);
void scenario_xenvbd_restart(void);
void scenario_xenvbd_dump(void);
void scenario_xenvbd_stall_reset(void);
void scenario_save_restore_io(void);
void scenario_vbd_hot_add(void);
void scenario_vbd_detach_inflight(void);
void scenario_hibernate_resume(void);
/* wh_scn_net.c */
void scenario_xennet_init(void);
void scenario_xennet_data(void);
void scenario_xennet_pause(void);
void scenario_xennet_surprise(void);
void scenario_xennet_restart(void);
void scenario_xennet_dead(void);
void scenario_windows7(void);

#endif
