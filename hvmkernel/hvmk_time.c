/* hvmkernel time: the TSC, calibrated once against PIT channel 2. */
#include "hvmk.h"

static uint64_t hvmk_tsc_per_us = 1000;   /* until calibrated */
static uint64_t hvmk_tsc_start;

void hvmk_time_init(void)
{
    /* PIT channel 2, mode 0, count 11932 (10 ms at 1.193182 MHz),
     * gate on, speaker off; wait for OUT2 to go high. */
    const uint16_t count = 11932;
    uint8_t b = hvmk_inb(0x61);
    hvmk_outb(0x61, (uint8_t)((b & ~0x02) | 0x01));
    hvmk_outb(0x43, 0xb0);
    hvmk_outb(0x42, count & 0xff);
    hvmk_outb(0x42, count >> 8);
    uint64_t t0 = hvmk_rdtsc();
    uint64_t spins = 0;
    while (!(hvmk_inb(0x61) & 0x20) && ++spins < 100000000ull)
        ;
    uint64_t t1 = hvmk_rdtsc();
    uint64_t per_us = (t1 - t0) / 10000;
    if (per_us > 0)
        hvmk_tsc_per_us = per_us;
    hvmk_tsc_start = hvmk_rdtsc();
}

uint64_t hvmk_now_ns(void)
{
    uint64_t d = hvmk_rdtsc() - hvmk_tsc_start;
    return d / hvmk_tsc_per_us * 1000 + (d % hvmk_tsc_per_us) * 1000 / hvmk_tsc_per_us;
}

void hvmk_delay_us(uint64_t us)
{
    uint64_t end = hvmk_now_ns() + us * 1000;
    while (hvmk_now_ns() < end)
        __asm__ volatile("pause");
}
