/* hvmkernel PCI: configuration space through ports 0xcf8/0xcfc. */
#include "hvmk.h"

static uint32_t hvmk_pci_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off)
{
    hvmk_outl(0xcf8, 0x80000000u | ((uint32_t)bus << 16) | ((uint32_t)dev << 11) |
                         ((uint32_t)fn << 8) | (off & 0xfc));
    return hvmk_inl(0xcfc);
}

bool hvmk_pci_find(uint16_t vendor, uint16_t device, struct hvmk_pci_dev *out)
{
    for (unsigned bus = 0; bus < 256; bus++)
        for (unsigned dev = 0; dev < 32; dev++)
            for (unsigned fn = 0; fn < 8; fn++) {
                uint32_t id = hvmk_pci_read32((uint8_t)bus, (uint8_t)dev, (uint8_t)fn, 0);
                if ((id & 0xffff) == 0xffff) {
                    if (fn == 0)
                        break;
                    continue;
                }
                if ((id & 0xffff) == vendor && (id >> 16) == device) {
                    out->bus = (uint8_t)bus;
                    out->dev = (uint8_t)dev;
                    out->fn = (uint8_t)fn;
                    out->vendor = vendor;
                    out->device = device;
                    for (unsigned b = 0; b < 6; b++)
                        out->bar[b] = hvmk_pci_read32((uint8_t)bus, (uint8_t)dev, (uint8_t)fn,
                                                      (uint8_t)(0x10 + 4 * b));
                    uint32_t il = hvmk_pci_read32((uint8_t)bus, (uint8_t)dev, (uint8_t)fn, 0x3c);
                    out->irq_line = (uint8_t)il;
                    out->irq_pin = (uint8_t)(il >> 8);
                    return true;
                }
            }
    return false;
}

unsigned hvmk_pci_count_class(uint8_t cls, uint8_t subclass_or_ff)
{
    unsigned n = 0;
    for (unsigned bus = 0; bus < 256; bus++)
        for (unsigned dev = 0; dev < 32; dev++)
            for (unsigned fn = 0; fn < 8; fn++) {
                uint32_t id = hvmk_pci_read32((uint8_t)bus, (uint8_t)dev, (uint8_t)fn, 0);
                if ((id & 0xffff) == 0xffff) {
                    if (fn == 0)
                        break;
                    continue;
                }
                uint32_t cc = hvmk_pci_read32((uint8_t)bus, (uint8_t)dev, (uint8_t)fn, 8);
                if ((cc >> 24) == cls && (subclass_or_ff == 0xff || ((cc >> 16) & 0xff) == subclass_or_ff))
                    n++;
            }
    return n;
}
