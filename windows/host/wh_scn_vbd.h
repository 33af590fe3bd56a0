/* What the xenvbd scenario files (wh_scn_vbd.c, wh_scn_vbd_life.c) share:
 * xenvbd.sys brought up on the disk's PDO and taken down, and SRBs built
 * and sent through the host's StorPort. */
#ifndef WH_SCN_VBD_H
#define WH_SCN_VBD_H

#include "wh.h"

struct sim_blkback;

/* xenvbd.sys beside xenpci.sys. */
void wh_vbd_path(char *path, size_t size);
/* Boot, xenvbd's DriverEntry, AddDevice and START on the disk's PDO: the
 * adapter's FDO, or NULL (CHECKed). */
struct wh_device_object *wh_vbd_up(struct wh_bus *b, struct wh_image *img,
                                   struct wh_driver_object **drvp, struct wh_child **vbdp);
/* A scenario's xenvbd: the bus, xenvbd's image and driver object, the
 * disk's child and StorPort's adapter FDO. */
struct wh_vbd {
    struct wh_bus b;
    struct wh_image img;
    struct wh_driver_object *drv;
    struct wh_child *vbd;
    struct wh_device_object *fdo;
};
/* wh_vbd_up into v: true once v->fdo is there. */
bool wh_vbd_start(struct wh_vbd *v);
/* REMOVE of every stack, xenvbd's and xenpci's unload. */
void wh_vbd_down(struct wh_bus *b, struct wh_image *img, struct wh_driver_object *drv);
/* One EXECUTE_SCSI SRB (buf: pool memory); its SrbStatus, 0xff if it never completed. */
uint8_t wh_vbd_srb_status(struct wh_device_object *fdo, uint8_t *cdb, unsigned cdblen, void *buf,
                          uint32_t len, uint32_t flags);
/* A READ(10) or WRITE(10) SRB of sectors at lba. */
void wh_vbd_rw_srb(struct wh_srb *srb, bool write, uint32_t lba, uint16_t sectors, void *buf);
/* 8 sectors written at lba and read back, checked on bb's disk (the boot disk's for _check). */
bool wh_vbd_write_read_check_on(struct wh_device_object *fdo, struct sim_blkback *bb,
                                uint32_t lba, uint8_t seed);
bool wh_vbd_write_read_check(struct wh_device_object *fdo, uint32_t lba, uint8_t seed);

#endif
