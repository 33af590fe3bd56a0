/*
 * xenvbd: a StorPort miniport per vbd.  xenpci enumerates each
 * device/vbd/<id> as a child (XEN\VBD); this driver's adapter on it gets
 * the core through xenpci's interface, connects the core's blkfront and
 * presents one SCSI target (disk or CD-ROM) whose commands the core's
 * scsi_disk answers or turns into blkfront operations.
 */
#ifndef GPLPV_XENVBD_H
#define GPLPV_XENVBD_H

#include "storport_decls.h"
#include "xenpci_interface.h"

#include "gplpv/blkfront.h"
#include "gplpv/scsi_disk.h"

struct xenvbd {
    struct xenpci_interface xi;
    BOOLEAN have_xi;
    struct gp_platform *plat;
    struct blkfront *bf;
    struct scsi_disk disk;
    BOOLEAN suspend_registered;
    volatile LONG outstanding;          /* SRBs handed to blkfront */
    volatile LONG rescan;               /* capacity changed: tell StorPort */
};

/* Per-SRB state, in the SRB extension StorPort allocates. */
struct xenvbd_srb {
    struct xenvbd *vbd;
    PSCSI_REQUEST_BLOCK srb;
    struct blkfront_sg sg;
    struct blkfront_req req[SCSI_DISK_MAX_RANGES];
    volatile LONG pending;
    volatile LONG status;               /* first failure (GP_E*), 0 */
};

/* Branding read from the service's Parameters key at DriverEntry. */
struct xenvbd_branding {
    char vendor[9], product[17];
};
extern struct xenvbd_branding xenvbd_brand;

/* xenvbd_adapter.c */
ULONG NTAPI xenvbd_find_adapter(PVOID ext, PVOID ctx, PVOID bus, PCHAR args,
                                PPORT_CONFIGURATION_INFORMATION cfg, PBOOLEAN again);
BOOLEAN NTAPI xenvbd_initialize(PVOID ext);
SCSI_ADAPTER_CONTROL_STATUS NTAPI xenvbd_adapter_control(PVOID ext, SCSI_ADAPTER_CONTROL_TYPE type,
                                                         PVOID params);
/* xenvbd_io.c */
BOOLEAN NTAPI xenvbd_start_io(PVOID ext, PSCSI_REQUEST_BLOCK srb);
BOOLEAN NTAPI xenvbd_reset_bus(PVOID ext, ULONG path);

#endif
