/* hvmkernel console: COM1 (16550) and the Xen/QEMU debug port 0xe9.
 * Under Xen HVM, writes to 0xe9 appear on Xen's console as "(dN) ...". */
#include "hvmk.h"

#include "gplpv/log.h"

#define COM1 0x3f8

static bool hvmk_com1_present;

void hvmk_console_init(void)
{
    hvmk_outb(COM1 + 1, 0x00);     /* no interrupts */
    hvmk_outb(COM1 + 3, 0x80);     /* DLAB */
    hvmk_outb(COM1 + 0, 0x01);     /* 115200 baud */
    hvmk_outb(COM1 + 1, 0x00);
    hvmk_outb(COM1 + 3, 0x03);     /* 8n1 */
    hvmk_outb(COM1 + 2, 0xc7);     /* FIFO */
    hvmk_outb(COM1 + 4, 0x03);
    hvmk_com1_present = hvmk_inb(COM1 + 5) != 0xff;
}

static void hvmk_putc(char c)
{
    if (hvmk_com1_present) {
        for (int i = 0; i < 100000 && !(hvmk_inb(COM1 + 5) & 0x20); i++)
            ;
        hvmk_outb(COM1, (uint8_t)c);
    }
    hvmk_outb(0xe9, (uint8_t)c);
}

void hvmk_puts(const char *s)
{
    uint64_t f = hvmk_irq_save();
    for (; *s; s++) {
        if (*s == '\n')
            hvmk_putc('\r');
        hvmk_putc(*s);
    }
    hvmk_irq_restore(f);
}

void hvmk_printf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    gp_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    hvmk_puts(buf);
}
