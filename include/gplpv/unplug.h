/*
 * unplug: hiding QEMU's emulated disks and NICs once the PV drivers can
 * take over (the protocol of Xen's docs/misc/hvm-emulated-unplug: magic
 * 0x49d2 on port 0x10, protocol version on 0x12, product and build
 * registration, then the unplug mask).  Disks are unplugged only when the
 * PV disk driver is ready, so the boot disk never vanishes first (STOP
 * 0x7B); nothing happens with the NOGPLPV boot option or in safe mode.
 */
#ifndef GPLPV_UNPLUG_H
#define GPLPV_UNPLUG_H

#include "gplpv/platform.h"

#define UNPLUG_PRODUCT_GPLPV 2          /* the product number GPLPV registers */

#define UNPLUG_IDE_DISKS 0x1
#define UNPLUG_NICS      0x2
#define UNPLUG_AUX_DISKS 0x4
#define UNPLUG_NVME      0x8

struct unplug_request {
    bool pv_disk_ready;                 /* xenvbd installed, enabled and started */
    bool pv_net_ready;                  /* xennet likewise */
    bool safe_mode;
    const char *boot_options;           /* the OS's load options, may be NULL */
    uint16_t product;                   /* 0 = UNPLUG_PRODUCT_GPLPV */
    uint32_t build;
};

/* True when the boot options carry NOGPLPV (a whole word, any case) or
 * the OS runs in safe mode: the PV drivers must then stay out of the way. */
bool unplug_disabled_by_boot(const char *boot_options, bool safe_mode);

/* Returns the mask written (0: nothing unplugged, with the reason logged),
 * GP_ENOTSUP when QEMU has no unplug protocol, GP_EPERM when it refuses
 * our product/build (blacklisted). */
int unplug_emulated_devices(const struct gp_platform *p, const struct unplug_request *r);

#endif
