/* hvmkernel I/O APIC: routes a GSI (an ISA IRQ, or the Xen platform PCI
 * device's INTx) to a vector on one CPU.  QEMU and Xen both place the
 * I/O APIC at 0xfec00000. */
#include "hvmk.h"

#define IOAPIC_BASE 0xfec00000ul
#define IOAPIC_REGSEL 0x00
#define IOAPIC_WIN    0x10
#define IOAPIC_VER    0x01
#define IOAPIC_REDTBL(n) (0x10 + 2 * (n))

static uint32_t hvmk_ioapic_read(uint32_t reg)
{
    *(volatile uint32_t *)(IOAPIC_BASE + IOAPIC_REGSEL) = reg;
    return *(volatile uint32_t *)(IOAPIC_BASE + IOAPIC_WIN);
}

static void hvmk_ioapic_write(uint32_t reg, uint32_t v)
{
    *(volatile uint32_t *)(IOAPIC_BASE + IOAPIC_REGSEL) = reg;
    *(volatile uint32_t *)(IOAPIC_BASE + IOAPIC_WIN) = v;
}

unsigned hvmk_ioapic_pins(void)
{
    uint32_t ver = hvmk_ioapic_read(IOAPIC_VER);
    if (ver == 0xffffffffu)
        return 0;
    return ((ver >> 16) & 0xff) + 1;
}

bool hvmk_ioapic_route(unsigned gsi, uint8_t vector, bool level, bool active_low,
                       uint32_t dest_apic_id)
{
    if (gsi >= hvmk_ioapic_pins())
        return false;
    uint32_t lo = vector;                    /* fixed delivery, physical destination */
    if (active_low)
        lo |= 1u << 13;
    if (level)
        lo |= 1u << 15;
    hvmk_ioapic_write(IOAPIC_REDTBL(gsi), lo | (1u << 16));    /* masked while set up */
    hvmk_ioapic_write(IOAPIC_REDTBL(gsi) + 1, dest_apic_id << 24);
    hvmk_ioapic_write(IOAPIC_REDTBL(gsi), lo);
    return true;
}

void hvmk_ioapic_mask(unsigned gsi)
{
    if (gsi >= hvmk_ioapic_pins())
        return;
    uint32_t lo = hvmk_ioapic_read(IOAPIC_REDTBL(gsi));
    hvmk_ioapic_write(IOAPIC_REDTBL(gsi), lo | (1u << 16));
}
