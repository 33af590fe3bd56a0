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

/* The CPUs to expect: "cpus=N" on the command line (the lab passes its
 * domain configuration's vcpus) and the enabled processors of the MADT,
 * whichever is more; 0 when neither says (then whatever answers within
 * 200 ms).  All of them must come up, and each AP must run work sent to
 * it.  A machine with more CPUs than HVMK_MAX_CPUS fails the step, saying
 * so: the CPUs beyond stay halted and untested. */
void hvmk_step_smp(const char *cmdline)
{
    const char *c = strstr(cmdline, "cpus=");
    unsigned asked = 0;
    if (c)
        for (c += 5; *c >= '0' && *c <= '9' && asked < 100000; c++)
            asked = asked * 10 + (unsigned)(*c - '0');
    unsigned madt = hvmk_acpi_madt_cpus();
    unsigned want = asked > madt ? asked : madt;
    hvmk_smp_set_expected(want);
    if (want > HVMK_MAX_CPUS)
        hvmk_printf("hvmk: %u CPUs expected (command line %u, MADT %u) but this kernel "
                    "supports %u: the others stay halted, untested\n",
                    want, asked, madt, HVMK_MAX_CPUS);
    unsigned wait_for = want > HVMK_MAX_CPUS ? HVMK_MAX_CPUS : want;
    uint64_t t0 = hvmk_now_ns();
    unsigned n = hvmk_smp_start(wait_for, wait_for ? 10000000 : 200000);
    uint64_t up_ms = (hvmk_now_ns() - t0) / 1000000;
    unsigned extra = hvmk_smp_extra();
    hvmk_printf("hvmk: %u CPU(s) online in %llu ms (expected %u: command line %u, MADT %u)%s\n",
                n, (unsigned long long)up_ms, want, asked, madt,
                extra ? ", more answered than this kernel supports" : "");
    char ids[4 * HVMK_MAX_CPUS + 1] = "";
    size_t used = 0;
    for (unsigned i = 0; i < n && used + 4 < sizeof(ids); i++)
        used += (size_t)gp_snprintf(ids + used, sizeof(ids) - used, " %u",
                                    (unsigned)hvmk_cpu_apic_id(i));
    hvmk_printf("hvmk: their APIC ids:%s\n", ids);
    hvmk_smp_run_on_aps(hvmk_ap_count_hook);
    uint64_t deadline = hvmk_now_ns() + 2000000000ull;
    while (hvmk_ap_hook_runs < n - 1 && hvmk_now_ns() < deadline)
        hvmk_delay_us(100);
    static char why[120];
    if (want > HVMK_MAX_CPUS || extra)
        gp_snprintf(why, sizeof(why), "%u CPUs (%u answered beyond), this kernel supports %u",
                    want > n + extra ? want : n + extra, extra, HVMK_MAX_CPUS);
    else
        gp_snprintf(why, sizeof(why), "%u CPUs up (expected %u), %u of %u APs ran work", n,
                    want, hvmk_ap_hook_runs, n - 1);
    bool ok = want <= HVMK_MAX_CPUS && extra == 0 && n >= (want ? want : 1) &&
              hvmk_ap_hook_runs == n - 1;
    hvmk_step_result("smp", ok, why);
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

