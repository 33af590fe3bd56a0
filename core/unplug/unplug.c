/* unplug: the QEMU emulated-device unplug protocol (see unplug.h). */
#include "gplpv/log.h"
#include "gplpv/unplug.h"

#define UNPLUG_PORT_MAGIC 0x10
#define UNPLUG_PORT_VERSION 0x12
#define UNPLUG_MAGIC 0x49d2

static char unplug_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

bool unplug_disabled_by_boot(const char *opts, bool safe_mode)
{
    if (safe_mode)
        return true;
    static const char word[] = "NOGPLPV";
    for (const char *s = opts; s && *s; s++) {
        if (s != opts && ((s[-1] >= 'A' && s[-1] <= 'Z') || (s[-1] >= 'a' && s[-1] <= 'z') ||
                          (s[-1] >= '0' && s[-1] <= '9') || s[-1] == '_'))
            continue;                      /* not at the start of a word */
        unsigned i = 0;
        while (word[i] && unplug_upper(s[i]) == word[i])
            i++;
        char after = s[i];
        if (!word[i] && !((after >= 'A' && after <= 'Z') || (after >= 'a' && after <= 'z') ||
                          (after >= '0' && after <= '9') || after == '_'))
            return true;
    }
    return false;
}

int unplug_emulated_devices(const struct gp_platform *p, const struct unplug_request *r)
{
    if (unplug_disabled_by_boot(r->boot_options, r->safe_mode)) {
        GP_INFO(p, "unplug: disabled (%s): emulated devices stay",
                r->safe_mode ? "safe mode" : "NOGPLPV boot option");
        return 0;
    }
    if (!p->arch || !p->arch->io_in || !p->arch->io_out)
        return GP_ENOTSUP;
    if ((gp_arch_io_in(p, UNPLUG_PORT_MAGIC, 2) & 0xffff) != UNPLUG_MAGIC) {
        GP_WARN(p, "unplug: this QEMU has no unplug protocol: emulated devices stay");
        return GP_ENOTSUP;
    }
    uint32_t version = gp_arch_io_in(p, UNPLUG_PORT_VERSION, 1) & 0xff;
    if (version >= 1) {
        gp_arch_io_out(p, UNPLUG_PORT_VERSION, 2, r->product ? r->product : UNPLUG_PRODUCT_GPLPV);
        gp_arch_io_out(p, UNPLUG_PORT_MAGIC, 4, r->build);
        if ((gp_arch_io_in(p, UNPLUG_PORT_MAGIC, 2) & 0xffff) != UNPLUG_MAGIC) {
            GP_ERR(p, "unplug: QEMU refuses product %u build %u: emulated devices stay",
                   r->product ? r->product : UNPLUG_PRODUCT_GPLPV, r->build);
            return GP_EPERM;
        }
    }
    uint16_t mask = 0;
    if (r->pv_disk_ready)
        mask |= UNPLUG_IDE_DISKS | UNPLUG_NVME;
    if (r->pv_net_ready)
        mask |= UNPLUG_NICS;
    if (!mask) {
        GP_INFO(p, "unplug: no PV driver ready: emulated devices stay");
        return 0;
    }
    gp_arch_io_out(p, UNPLUG_PORT_MAGIC, 2, mask);
    GP_INFO(p, "unplug: protocol %u: unplugged%s%s", version,
            (mask & UNPLUG_IDE_DISKS) ? " disks" : "", (mask & UNPLUG_NICS) ? " NICs" : "");
    return mask;
}
