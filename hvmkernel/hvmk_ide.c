/* hvmkernel: what an OS's IDE driver finds on the legacy ports (0x1f0 and
 * 0x170, master and slave): ATA IDENTIFY DEVICE on each position, as the
 * Windows atapi driver probes them.  Used to show that the QEMU unplug
 * really took the emulated disks away (the CD-ROM stays). */
#include <string.h>

#include "gplpv/log.h"
#include "hvmk.h"
#include "hvmk_steps.h"

#define HVMK_ATA_BSY 0x80
#define HVMK_ATA_DRQ 0x08
#define HVMK_ATA_ERR 0x01

static const struct {
    uint16_t io, ctl;
    const char *name;
} hvmk_ide_ch[2] = { { 0x1f0, 0x3f6, "primary" }, { 0x170, 0x376, "secondary" } };

/* Poll the status register until BSY clears; 0xff when it never does. */
static uint8_t hvmk_ide_unbusy(uint16_t io, uint64_t timeout_us)
{
    uint64_t deadline = hvmk_now_ns() + timeout_us * 1000;
    for (;;) {
        uint8_t st = hvmk_inb((uint16_t)(io + 7));
        if (!(st & HVMK_ATA_BSY))
            return st;
        if (hvmk_now_ns() >= deadline)
            return 0xff;
        hvmk_delay_us(10);
    }
}

/* One position: 'A' an ATA disk (model and size in 'what'), 'P' a packet
 * device (ATAPI, e.g. the CD-ROM), 0 nothing. */
static char hvmk_ide_identify(unsigned ch, unsigned drv, char *what, size_t len)
{
    uint16_t io = hvmk_ide_ch[ch].io, ctl = hvmk_ide_ch[ch].ctl;
    hvmk_outb((uint16_t)(io + 6), (uint8_t)(0xa0 | drv << 4));
    for (int i = 0; i < 4; i++)
        (void)hvmk_inb(ctl);                 /* the 400 ns after a select */
    hvmk_delay_us(10);
    uint8_t st = hvmk_inb((uint16_t)(io + 7));
    if (st == 0xff || st == 0x00)
        return 0;                            /* floating bus or no drive */
    for (uint16_t r = 2; r <= 5; r++)
        hvmk_outb((uint16_t)(io + r), 0);
    hvmk_outb((uint16_t)(io + 7), 0xec);     /* IDENTIFY DEVICE */
    hvmk_delay_us(10);
    st = hvmk_inb((uint16_t)(io + 7));
    if (st == 0x00)
        return 0;
    st = hvmk_ide_unbusy(io, 200000);
    if (st == 0xff)
        return 0;
    uint8_t lm = hvmk_inb((uint16_t)(io + 4)), lh = hvmk_inb((uint16_t)(io + 5));
    if (lm == 0x14 && lh == 0xeb) {
        gp_snprintf(what, len, "packet device");
        return 'P';                          /* ATAPI: IDENTIFY is aborted */
    }
    if (lm || lh || (st & HVMK_ATA_ERR) || !(st & HVMK_ATA_DRQ))
        return 0;
    uint16_t id[256];
    for (unsigned i = 0; i < 256; i++)
        id[i] = hvmk_inw(io);
    char model[41];
    for (unsigned i = 0; i < 20; i++) {
        model[2 * i] = (char)(id[27 + i] >> 8);
        model[2 * i + 1] = (char)id[27 + i];
    }
    model[40] = 0;
    for (int i = 39; i >= 0 && (model[i] == ' ' || model[i] == 0); i--)
        model[i] = 0;
    for (unsigned i = 0; model[i]; i++)
        if (model[i] < 32 || model[i] > 126)
            model[i] = '?';
    uint64_t sectors = (uint64_t)id[60] | (uint64_t)id[61] << 16;
    if (id[83] & (1u << 10))
        sectors = (uint64_t)id[100] | (uint64_t)id[101] << 16 | (uint64_t)id[102] << 32 |
                  (uint64_t)id[103] << 48;
    gp_snprintf(what, len, "'%s', %llu sectors", model, (unsigned long long)sectors);
    return 'A';
}

unsigned hvmk_ide_probe(char *desc, size_t len)
{
    unsigned ata = 0;
    size_t used = 0;
    desc[0] = 0;
    for (unsigned ch = 0; ch < 2; ch++)
        for (unsigned drv = 0; drv < 2; drv++) {
            char what[80];
            char kind = hvmk_ide_identify(ch, drv, what, sizeof(what));
            if (!kind)
                continue;
            ata += kind == 'A';
            if (used + 1 < len) {
                gp_snprintf(desc + used, len - used, "%s%s %s: %s%s%s", used ? "; " : "",
                            hvmk_ide_ch[ch].name, drv ? "slave" : "master",
                            kind == 'A' ? "ATA disk" : "ATAPI", kind == 'A' ? " " : "",
                            kind == 'A' ? what : "");
                used = strlen(desc);
            }
        }
    if (!used)
        gp_snprintf(desc, len, "nothing");
    return ata;
}
