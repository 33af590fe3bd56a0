/*
 * The interface xenpci offers the drivers of its child devices (xenvbd,
 * xennet) through IRP_MN_QUERY_INTERFACE: the core's platform with its Xen
 * services already running, the shared xenstore client, the device's
 * xenstore path, and the hooks that let xenpci quiesce the device around
 * suspend/resume.  Children never issue hypercalls themselves.
 *
 * The children link the same core sources as xenpci, so the structures
 * behind the pointers must come from the same build: the interface
 * carries the build's version string and xenpci refuses a mismatch.
 */
#ifndef GPLPV_XENPCI_INTERFACE_H
#define GPLPV_XENPCI_INTERFACE_H

#include "gplpv_win.h"

/* {3A1E2C5B-7D40-4E0B-9B6C-1F2D3E4A5B60} */
#define GPLPV_XENPCI_INTERFACE_GUID_INIT \
    { 0x3a1e2c5b, 0x7d40, 0x4e0b, { 0x9b, 0x6c, 0x1f, 0x2d, 0x3e, 0x4a, 0x5b, 0x60 } }
#define GPLPV_XENPCI_INTERFACE_VERSION 2

struct xs_client;
struct suspend_dev;

struct xenpci_interface {
    INTERFACE header;                 /* Size, Version, Context, Reference, Dereference */
    char build[32];                   /* GPLPV_VERSION "-" GPLPV_FLAVOUR of xenpci */
    struct gp_platform *plat;
    struct xs_client *xs;
    char path[64];                    /* "device/vbd/768" */
    char type[16];                    /* "vbd", "vif" */
    /* What xenpci unplugged at boot (UNPLUG_* of gplpv/unplug.h).  A PV
     * disk or NIC whose emulated twin is still there stays inactive until
     * the next boot, so Windows never sees one device twice. */
    uint32_t unplugged;
    /* Quiesce/restart around suspend, save/restore and migration: the
     * device's suspend runs before the domain suspends, resume after it
     * returns (cancelled = resumed in place). */
    int (*register_suspend)(PVOID context, const struct suspend_dev *d);
    void (*unregister_suspend)(PVOID context, void *arg);
    /* The child PDO is being removed (IRP_MN_REMOVE_DEVICE at PASSIVE_LEVEL,
     * passed down by the function driver above): fn(arg) runs once, so a
     * driver whose port driver gives it no removal callback of its own
     * (StorPort stops an adapter the same way for a power-down) can end
     * its connection there.  fn NULL takes the registration back. */
    void (*register_remove)(PVOID context, void (*fn)(void *arg), void *arg);
};

#endif
