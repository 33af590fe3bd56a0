/* hvmkernel local APIC: the periodic timer (1 kHz) that wakes idle waits,
 * and end-of-interrupt for vectors delivered through the LAPIC. */
#include "hvmk.h"

#define LAPIC_BASE 0xfee00000ul
#define LAPIC_ID   0x020
#define LAPIC_EOI  0x0b0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_SVR  0x0f0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR  0x390
#define LAPIC_TIMER_DIV  0x3e0

static volatile uint64_t hvmk_ticks;

static inline void hvmk_lapic_write(unsigned reg, uint32_t v)
{
    *(volatile uint32_t *)(LAPIC_BASE + reg) = v;
}

static inline uint32_t hvmk_lapic_read(unsigned reg)
{
    return *(volatile uint32_t *)(LAPIC_BASE + reg);
}

bool hvmk_lapic_in_service(uint8_t vector)
{
    return (hvmk_lapic_read(0x100 + 0x10 * (vector / 32)) >> (vector % 32)) & 1;
}

void hvmk_lapic_eoi(void)
{
    hvmk_lapic_write(LAPIC_EOI, 0);
}

uint32_t hvmk_lapic_id(void)
{
    return hvmk_lapic_read(LAPIC_ID) >> 24;
}

void hvmk_lapic_enable(void)
{
    hvmk_lapic_write(LAPIC_SVR, 0x100 | 0xff);     /* enable, spurious vector 0xff */
}

void hvmk_lapic_send_ipi_all_but_self(uint32_t type, uint8_t vector)
{
    uint32_t lo = (3u << 18) | type | vector;      /* shorthand: all excluding self */
    if (type == HVMK_IPI_INIT)
        lo |= 1u << 14;                            /* level assert */
    while (hvmk_lapic_read(LAPIC_ICR_LO) & (1u << 12))
        __asm__ volatile("pause");                 /* previous IPI still pending */
    hvmk_lapic_write(LAPIC_ICR_HI, 0);
    hvmk_lapic_write(LAPIC_ICR_LO, lo);
}

static void hvmk_lapic_tick(void *arg)
{
    (void)arg;
    hvmk_ticks++;
    hvmk_stack_check();
}

uint64_t hvmk_lapic_ticks(void)
{
    return hvmk_ticks;
}

bool hvmk_lapic_timer_start(void)
{
    hvmk_lapic_enable();
    hvmk_lapic_write(LAPIC_TIMER_DIV, 0xb);        /* divide by 1 */
    hvmk_lapic_write(LAPIC_LVT_TIMER, 0x10000 | HVMK_TIMER_VECTOR);   /* masked */
    hvmk_lapic_write(LAPIC_TIMER_INIT, 0xffffffffu);
    hvmk_delay_us(1000);
    uint32_t per_ms = 0xffffffffu - hvmk_lapic_read(LAPIC_TIMER_CUR);
    if (per_ms == 0)
        return false;
    hvmk_set_vector_handler(HVMK_TIMER_VECTOR, hvmk_lapic_tick, NULL);
    hvmk_lapic_write(LAPIC_LVT_TIMER, 0x20000 | HVMK_TIMER_VECTOR);  /* periodic */
    hvmk_lapic_write(LAPIC_TIMER_INIT, per_ms);
    return true;
}
