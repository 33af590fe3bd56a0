/*
 * hvm_detect: find Xen among the CPUID hypervisor leaves.  Xen's leaves
 * start at 0x40000000 or, when it also offers another interface (Viridian
 * for Windows), at 0x40000100, 0x40000200, ...: scan them all.
 */
#include <string.h>

#include "gplpv/hvm.h"
#include "gplpv/log.h"

#include <xen/arch-x86/cpuid.h>

int hvm_detect(const struct gp_platform *p, struct hvm_info *out)
{
    if (!p->arch || !p->arch->cpuid) {
        GP_ERR(p, "hvm: this platform gives no CPUID access");
        return GP_ENODEV;
    }
    memset(out, 0, sizeof(*out));
    /* The CPU vendor as the guest sees it (Xen passes the host's
     * through): it decides the hypercall instruction. */
    uint32_t v[4];
    gp_arch_cpuid(p, 0, 0, v);
    memcpy(out->cpu_vendor, &v[1], 4);           /* EBX, EDX, ECX */
    memcpy(out->cpu_vendor + 4, &v[3], 4);
    memcpy(out->cpu_vendor + 8, &v[2], 4);
    out->cpu_vendor[12] = 0;
    for (uint32_t base = XEN_CPUID_FIRST_LEAF; base < XEN_CPUID_FIRST_LEAF + 0x10000;
         base += 0x100) {
        uint32_t r[4];
        gp_arch_cpuid(p, base, 0, r);
        if (r[1] != XEN_CPUID_SIGNATURE_EBX || r[2] != XEN_CPUID_SIGNATURE_ECX ||
            r[3] != XEN_CPUID_SIGNATURE_EDX)
            continue;
        if (r[0] < base + 2) {
            GP_ERR(p, "hvm: Xen leaves at %x stop at %x: no hypercall leaf", base, r[0]);
            return GP_ENOTSUP;
        }
        out->cpuid_base = base;
        gp_arch_cpuid(p, base + 1, 0, r);
        out->major = r[0] >> 16;
        out->minor = r[0] & 0xffff;
        gp_arch_cpuid(p, base + 2, 0, r);
        out->hypercall_pages = r[0];
        out->hypercall_msr = r[1];
        uint32_t max_leaf;
        gp_arch_cpuid(p, base, 0, r);
        max_leaf = r[0];
        if (max_leaf >= base + 4) {
            gp_arch_cpuid(p, base + 4, 0, r);
            out->vcpu_id_in_cpuid = (r[0] & XEN_HVM_CPUID_VCPU_ID_PRESENT) != 0;
        }
        if (out->major * 1000u + out->minor < HVM_MIN_MAJOR * 1000u + HVM_MIN_MINOR) {
            GP_ERR(p, "hvm: Xen %u.%u is too old (need %u.%u or later)", out->major, out->minor,
                   HVM_MIN_MAJOR, HVM_MIN_MINOR);
            return GP_ENOTSUP;
        }
        if (out->hypercall_pages == 0 || out->hypercall_pages > 4) {
            GP_ERR(p, "hvm: Xen asks for %u hypercall pages", out->hypercall_pages);
            return GP_ENOTSUP;
        }
        return 0;
    }
    GP_INFO(p, "hvm: no Xen signature in the CPUID hypervisor leaves: not running on Xen");
    return GP_ENODEV;
}
