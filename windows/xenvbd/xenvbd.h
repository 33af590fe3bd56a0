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

/* What the running instance hands the crash-dump/hibernation instance
 * (xenvbd_dump.c): both are the same image, the build string checks it. */
#define XENVBD_DUMP_MAGIC 0x44425658u   /* "XVBD" */
struct xenvbd_dump_handoff {
    ULONG magic;                        /* set once the dump path is ready */
    ULONG size;
    char build[40];
    struct blkfront *bf;
    struct gp_platform *plat;
    const struct scsi_disk *disk;
};

struct xenvbd {
    struct xenpci_interface xi;
    BOOLEAN have_xi;
    struct gp_platform *plat;
    struct blkfront *bf;
    struct scsi_disk disk;
    BOOLEAN suspend_registered;
    volatile LONG outstanding;          /* SRBs given to the core, not completed yet */
    volatile LONG rescan;               /* capacity changed: tell StorPort */
    struct xenvbd_dump_handoff dump_handoff;
    BOOLEAN dump_mode;                  /* this instance writes a dump or hiberfile */
    volatile LONG removed;              /* surprise-removed: every request fails */
};

/* Scatter/gather elements of one SRB: NumberOfPhysicalBreaks (257) + 1. */
#define XENVBD_MAX_SG 258

/* Per-SRB state, in the SRB extension StorPort allocates. */
struct xenvbd_srb {
    struct xenvbd *vbd;
    PSCSI_REQUEST_BLOCK srb;
    struct scsi_disk_cmd cmd;           /* the SRB as the core's command */
    void *sysva;                        /* the SRB's system address, or NULL */
    UCHAR map_status;                   /* xenvbd_sg_map's refusal, or SRB_STATUS_SUCCESS */
    /* the transfer as blkfront sees it (xenvbd_sg.c): StorPort's list,
     * each element at a virtual address; those mapped here are unmapped
     * when the SRB completes */
    unsigned nsg;
    ULONG mapped[(XENVBD_MAX_SG + 31) / 32];
    struct blkfront_sg sg[XENVBD_MAX_SG];
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
/* The disk is gone (StorPort's ScsiAdapterSurpriseRemoval): every SRB
 * outstanding completes now with SRB_STATUS_NO_DEVICE, later ones too. */
void xenvbd_surprise_removed(struct xenvbd *v);
void xenvbd_finish(struct xenvbd *v, PSCSI_REQUEST_BLOCK srb, const struct scsi_disk_result *r);
/* FALSE (and the SRB completed) unless it is for our one target and LUN. */
BOOLEAN xenvbd_srb_addressed_to_us(struct xenvbd *v, PSCSI_REQUEST_BLOCK srb);
/* Status for the SRB functions that need no action (resets, aborts,
 * PnP, power) or that we do not support. */
UCHAR xenvbd_other_srb_status(UCHAR function);
/* xenvbd_sg.c: x->sg from StorPort's scatter/gather list for a transfer
 * of `bytes` (sysva: the SRB's system address, or NULL).  Returns
 * SRB_STATUS_SUCCESS, or the status to complete the SRB with. */
UCHAR xenvbd_sg_map(struct xenvbd *v, struct xenvbd_srb *x, void *sysva, ULONG bytes);
void xenvbd_sg_unmap(struct xenvbd_srb *x);
/* xenvbd_dump.c */
void xenvbd_dump_prepare(struct xenvbd *v);
void xenvbd_dump_pointers(struct xenvbd *v, PSCSI_REQUEST_BLOCK srb);
ULONG xenvbd_dump_find_adapter(struct xenvbd *v, PPORT_CONFIGURATION_INFORMATION cfg);
BOOLEAN xenvbd_dump_start_io(struct xenvbd *v, PSCSI_REQUEST_BLOCK srb);

#endif
