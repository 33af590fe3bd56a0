/* hvmkernel ACPI: how many processors the firmware lists in its MADT
 * (hvmloader under Xen writes one Local APIC entry per vCPU of the
 * domain's configuration, enabled when the vCPU is online; SeaBIOS under
 * plain QEMU one per -smp CPU).  The SMP step compares what came up with
 * this.  Only tables below 4 GiB are read: that much is identity-mapped. */
#include "hvmk.h"

#include <string.h>

#define HVMK_ACPI_HDR_LEN 36u
#define HVMK_ACPI_MADT_ENTRIES 44u        /* header + local APIC address + flags */
#define HVMK_ACPI_MADT_LAPIC 0
#define HVMK_ACPI_MADT_X2APIC 9
#define HVMK_ACPI_ENABLED 1u

static uint32_t hvmk_acpi_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static uint64_t hvmk_acpi_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static bool hvmk_acpi_sum_ok(const uint8_t *p, size_t len)
{
    uint8_t s = 0;
    for (size_t i = 0; i < len; i++)
        s = (uint8_t)(s + p[i]);
    return s == 0;
}

static const uint8_t *hvmk_acpi_rsdp_in(uintptr_t start, uintptr_t end)
{
    for (uintptr_t a = start; a + 20 <= end; a += 16) {
        const uint8_t *p = (const uint8_t *)a;
        if (memcmp(p, "RSD PTR ", 8) == 0 && hvmk_acpi_sum_ok(p, 20))
            return p;
    }
    return NULL;
}

/* The RSDP: in the first KiB of the EBDA, or in 0xe0000-0xfffff. */
static const uint8_t *hvmk_acpi_rsdp(void)
{
    uintptr_t bda = 0x40e;              /* BIOS data area: the EBDA's segment */
    __asm__("" : "+r"(bda));            /* an address the compiler cannot see through */
    uint16_t ebda_seg = *(const volatile uint16_t *)bda;
    uintptr_t ebda = (uintptr_t)ebda_seg << 4;
    const uint8_t *p = NULL;
    if (ebda >= 0x80000 && ebda < 0xa0000)
        p = hvmk_acpi_rsdp_in(ebda, ebda + 1024);
    return p ? p : hvmk_acpi_rsdp_in(0xe0000, 0x100000);
}

/* A table below 4 GiB whose header and checksum look right, else NULL. */
static const uint8_t *hvmk_acpi_table(uint64_t addr, const char *sig)
{
    if (addr == 0 || addr >= (1ull << 32) - HVMK_ACPI_HDR_LEN)
        return NULL;
    const uint8_t *t = (const uint8_t *)(uintptr_t)addr;
    uint32_t len = hvmk_acpi_u32(t + 4);
    if ((sig && memcmp(t, sig, 4) != 0) || len < HVMK_ACPI_HDR_LEN || len > (1u << 20) ||
        addr + len > (1ull << 32) || !hvmk_acpi_sum_ok(t, len))
        return NULL;
    return t;
}

static const uint8_t *hvmk_acpi_find(const char *sig)
{
    const uint8_t *rsdp = hvmk_acpi_rsdp();
    if (!rsdp)
        return NULL;
    const uint8_t *root = NULL;
    unsigned width = 4;
    if (rsdp[15] >= 2) {                       /* revision 2+: the XSDT */
        root = hvmk_acpi_table(hvmk_acpi_u64(rsdp + 24), "XSDT");
        width = 8;
    }
    if (!root) {
        root = hvmk_acpi_table(hvmk_acpi_u32(rsdp + 16), "RSDT");
        width = 4;
    }
    if (!root)
        return NULL;
    uint32_t len = hvmk_acpi_u32(root + 4);
    for (uint32_t off = HVMK_ACPI_HDR_LEN; off + width <= len; off += width) {
        uint64_t a = width == 8 ? hvmk_acpi_u64(root + off) : hvmk_acpi_u32(root + off);
        const uint8_t *t = hvmk_acpi_table(a, sig);
        if (t)
            return t;
    }
    return NULL;
}

unsigned hvmk_acpi_madt_cpus(void)
{
    const uint8_t *madt = hvmk_acpi_find("APIC");
    if (!madt)
        return 0;
    uint32_t len = hvmk_acpi_u32(madt + 4);
    unsigned n = 0;
    for (uint32_t off = HVMK_ACPI_MADT_ENTRIES; off + 2 <= len;) {
        uint8_t type = madt[off], elen = madt[off + 1];
        if (elen < 2 || off + elen > len)
            break;
        if (type == HVMK_ACPI_MADT_LAPIC && elen >= 8 &&
            (hvmk_acpi_u32(madt + off + 4) & HVMK_ACPI_ENABLED))
            n++;
        else if (type == HVMK_ACPI_MADT_X2APIC && elen >= 16 &&
                 (hvmk_acpi_u32(madt + off + 8) & HVMK_ACPI_ENABLED))
            n++;
        off += elen;
    }
    return n;
}
