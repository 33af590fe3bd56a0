/* hvmkernel PCI: configuration space through ports 0xcf8/0xcfc.
 *
 * Each access is two I/O exits that Xen hands to the device model in dom0,
 * which under the lab's nested TCG costs milliseconds.  So the walk reads
 * what a firmware enumerator reads, not all 65,536 functions: bus 0, the
 * buses behind PCI-to-PCI bridges, and functions 1-7 only of multi-function
 * devices.  (A full sweep took over two minutes on a loaded lab machine and
 * was cut off as a guest that made no progress.) */
#include "hvmk.h"

#define HVMK_PCI_HDR_BRIDGE 0x01   /* header type 1: PCI-to-PCI bridge */
#define HVMK_PCI_HDR_MULTI  0x80   /* header type bit 7: multi-function */

struct hvmk_pci_walk {
    uint8_t cls, subclass;         /* subclass 0xff: any */
    unsigned count;
    uint8_t seen[256 / 8];         /* buses walked (a bad bridge cannot loop us) */
};

static uint32_t hvmk_pci_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off)
{
    hvmk_outl(0xcf8, 0x80000000u | ((uint32_t)bus << 16) | ((uint32_t)dev << 11) |
                         ((uint32_t)fn << 8) | (off & 0xfc));
    return hvmk_inl(0xcfc);
}

static void hvmk_pci_walk_bus(struct hvmk_pci_walk *w, uint8_t bus)
{
    if (w->seen[bus / 8] & (1u << (bus % 8)))
        return;
    w->seen[bus / 8] |= (uint8_t)(1u << (bus % 8));
    for (uint8_t dev = 0; dev < 32; dev++) {
        unsigned fns = 1;
        for (uint8_t fn = 0; fn < fns; fn++) {
            uint32_t id = hvmk_pci_read32(bus, dev, fn, 0x00);
            if ((id & 0xffff) == 0xffff)
                continue;
            uint8_t hdr = (uint8_t)(hvmk_pci_read32(bus, dev, fn, 0x0c) >> 16);
            if (fn == 0 && (hdr & HVMK_PCI_HDR_MULTI))
                fns = 8;
            uint32_t cc = hvmk_pci_read32(bus, dev, fn, 0x08);
            if ((cc >> 24) == w->cls && (w->subclass == 0xff || ((cc >> 16) & 0xff) == w->subclass))
                w->count++;
            if ((hdr & 0x7f) == HVMK_PCI_HDR_BRIDGE) {
                uint8_t secondary = (uint8_t)(hvmk_pci_read32(bus, dev, fn, 0x18) >> 8);
                if (secondary != 0)
                    hvmk_pci_walk_bus(w, secondary);
            }
        }
    }
}

unsigned hvmk_pci_count_class(uint8_t cls, uint8_t subclass_or_ff)
{
    struct hvmk_pci_walk w = { .cls = cls, .subclass = subclass_or_ff };
    hvmk_pci_walk_bus(&w, 0);
    return w.count;
}
