/* hvmkernel steps that prove the kernel's own CPU plumbing before any
 * Xen step relies on it: application processors that run work sent to
 * them, and interrupts routed through the I/O APIC. */
#include "hvmk.h"
#include "hvmk_steps.h"

#include "gplpv/log.h"

#include <string.h>

static volatile unsigned hvmk_ap_hook_runs;

static void hvmk_ap_count_hook(unsigned cpu)
{
    (void)cpu;
    __atomic_add_fetch(&hvmk_ap_hook_runs, 1, __ATOMIC_SEQ_CST);
}

/* "cpus=N" on the command line: N CPUs must come up (default: whatever
 * answers within 200 ms), and each AP must run work sent to it. */
void hvmk_step_smp(const char *cmdline)
{
    const char *c = strstr(cmdline, "cpus=");
    unsigned expected = 0;
    if (c)
        for (c += 5; *c >= '0' && *c <= '9'; c++)
            expected = expected * 10 + (unsigned)(*c - '0');
    if (expected > HVMK_MAX_CPUS)
        expected = HVMK_MAX_CPUS;
    unsigned n = hvmk_smp_start(expected, expected ? 2000000 : 200000);
    hvmk_printf("hvmk: %u CPU(s) online (expected %u)\n", n, expected);
    hvmk_smp_run_on_aps(hvmk_ap_count_hook);
    uint64_t deadline = hvmk_now_ns() + 1000000000ull;
    while (hvmk_ap_hook_runs < n - 1 && hvmk_now_ns() < deadline)
        hvmk_delay_us(100);
    static char why[80];
    gp_snprintf(why, sizeof(why), "%u CPUs up (expected %u), %u of %u APs ran work", n,
                  expected, hvmk_ap_hook_runs, n - 1);
    hvmk_step_result("smp", n >= (expected ? expected : 1) && hvmk_ap_hook_runs == n - 1, why);
}

static volatile unsigned hvmk_pit_irqs;

static void hvmk_pit_irq(void *arg)
{
    (void)arg;
    hvmk_pit_irqs++;
}

/* The I/O APIC path (used for the platform PCI device's INTx under Xen),
 * proven with the PIT: IRQ0 arrives on GSI 2 (the usual override). */
void hvmk_step_ioapic(void)
{
    hvmk_set_vector_handler(HVMK_GSI_VECTOR, hvmk_pit_irq, NULL);
    bool routed = hvmk_ioapic_route(2, HVMK_GSI_VECTOR, false, false, hvmk_cpu_apic_id(0));
    hvmk_outb(0x43, 0x34);                   /* channel 0, rate generator */
    hvmk_outb(0x40, 1193 & 0xff);            /* ~1 kHz */
    hvmk_outb(0x40, 1193 >> 8);
    hvmk_delay_us(30000);
    hvmk_ioapic_mask(2);
    hvmk_outb(0x43, 0x30);                   /* channel 0 back to one-shot, stopped */
    hvmk_outb(0x40, 0);
    hvmk_outb(0x40, 0);
    static char why[80];
    gp_snprintf(why, sizeof(why), "%u I/O APIC pins, %u PIT interrupts in 30 ms",
                hvmk_ioapic_pins(), hvmk_pit_irqs);
    hvmk_step_result("ioapic", routed && hvmk_pit_irqs >= 5, why);
}

