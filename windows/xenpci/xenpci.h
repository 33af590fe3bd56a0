/*
 * xenpci: the bus driver on the Xen platform PCI device (5853:0001).
 * Its FDO brings the core up (hvm_platform_attach: VMCALL/VMMCALL,
 * shared_info, grant frames, the upcall, xenstore), runs the bus services
 * (control, balloon, suspend, crash reporting) and enumerates one child
 * PDO per device/vbd/<id> and device/vif/<id>; each child's driver gets
 * the core through struct xenpci_interface.
 */
#ifndef GPLPV_XENPCI_H
#define GPLPV_XENPCI_H

#include "../platform/win_platform.h"
#include "xenpci_interface.h"

#include "gplpv/hvm.h"
#include "gplpv/suspend.h"

#define XENPCI_MAX_CHILDREN 32

struct xenpci_fdo;

struct xenpci_common {
    BOOLEAN is_fdo;
    PDEVICE_OBJECT self;
};

/* A child device: one xenstore device node. */
struct xenpci_pdo {
    struct xenpci_common common;
    struct xenpci_fdo *fdo;
    char type[16];                     /* "vbd", "vif" */
    char id[16];
    char path[64];
    BOOLEAN present;                   /* still listed in xenstore */
    BOOLEAN reported;                  /* returned in BusRelations */
    BOOLEAN started;
    LONG refs;                         /* interface references held */
    void (*on_remove)(void *arg);      /* the interface holder's, run on REMOVE */
    void *on_remove_arg;
    LONG usage[DeviceUsageTypeDumpFile + 1];   /* special files, by DEVICE_USAGE_NOTIFICATION_TYPE */
};

struct xenpci_fdo {
    struct xenpci_common common;
    PDEVICE_OBJECT pdo;                /* the PCI device's PDO below us */
    PDEVICE_OBJECT lower;
    struct win_platform win;
    struct hvm *hvm;
    struct xs_client *xs;
    struct suspend suspend;
    BOOLEAN suspend_ready;
    struct control *control;
    struct balloon *balloon;
    struct xenbus_enum *enum_vbd, *enum_vif;
    FAST_MUTEX children_lock;
    struct xenpci_pdo *children[XENPCI_MAX_CHILDREN];
    BOOLEAN started;
    KEVENT shutdown_event;             /* shutdownmon waits on it */
    LONG pending_action;               /* enum control_action + 1, 0 = none */
    LONG user_grants, user_ports;      /* \\.\XenPci's, all handles (xenpci_ioctl.h limits) */
    KBUGCHECK_CALLBACK_RECORD bugcheck_record;
    BOOLEAN bugcheck_registered;
    BOOLEAN frozen;                    /* quiesced for hibernation (S4) */
};

/* The driver's state set in DriverEntry. */
struct xenpci_driver {
    PDRIVER_OBJECT driver;
    BOOLEAN disabled;                  /* NOGPLPV or safe mode */
    ULONG unplugged;                   /* UNPLUG_* mask done in DriverEntry */
};
extern struct xenpci_driver xenpci_drv;

/* xenpci_fdo.c */
NTSTATUS xenpci_fdo_add(PDRIVER_OBJECT driver, PDEVICE_OBJECT pdo);
NTSTATUS xenpci_fdo_pnp(struct xenpci_fdo *f, PIRP irp);
NTSTATUS xenpci_fdo_power(struct xenpci_fdo *f, PIRP irp);

/* xenpci_driver.c: the unplug done at boot, done again in a new domain */
void xenpci_unplug_again(struct xenpci_fdo *f);

/* xenpci_xen.c: bring-up and bus services on START, teardown on REMOVE */
NTSTATUS xenpci_xen_start(struct xenpci_fdo *f, PCM_RESOURCE_LIST raw, PCM_RESOURCE_LIST translated);
void xenpci_xen_stop(struct xenpci_fdo *f);

/* xenpci_suspend.c: save/restore, the suspend window with every other
 * processor captured; the request from control/shutdown runs it on a work
 * item */
NTSTATUS xenpci_suspend_critical_init(struct xenpci_fdo *f);
void xenpci_suspend_request(struct xenpci_fdo *f);

/* xenpci_children.c: enumeration of device/<type>/<id> into PDOs */
NTSTATUS xenpci_children_start(struct xenpci_fdo *f);
void xenpci_children_stop(struct xenpci_fdo *f);
NTSTATUS xenpci_children_relations(struct xenpci_fdo *f, PIRP irp);
/* A child PDO's REMOVE: it goes for good once xenstore no longer lists it. */
void xenpci_children_removed(struct xenpci_pdo *c);

/* xenpci_pdo.c */
NTSTATUS xenpci_pdo_pnp(struct xenpci_pdo *p, PIRP irp);
NTSTATUS xenpci_pdo_power(struct xenpci_pdo *p, PIRP irp);

/* xenpci_ioctl.c: \\.\XenPci for shutdownmon and user-space evtchn/gnt */
NTSTATUS xenpci_ioctl(struct xenpci_fdo *f, PIRP irp);
NTSTATUS xenpci_ioctl_create(struct xenpci_fdo *f, PIRP irp);
NTSTATUS xenpci_ioctl_cleanup(struct xenpci_fdo *f, PIRP irp);
NTSTATUS xenpci_ioctl_close(struct xenpci_fdo *f, PIRP irp);

NTSTATUS xenpci_complete(PIRP irp, NTSTATUS status, ULONG_PTR info);

#endif
