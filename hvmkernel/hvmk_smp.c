/* hvmkernel SMP: starts the application processors with INIT-SIPI-SIPI
 * broadcast through the local APIC.  Each AP comes up through
 * ap_trampoline.S (copied to low memory), takes the trampoline lock, runs
 * on its own stack, loads the IDT, enables its LAPIC, runs the per-CPU
 * hook and then idles with interrupts on, serving its vectors. */
#include "hvmk.h"

#include <string.h>

#define HVMK_AP_TRAMPOLINE 0x8000ul
#define HVMK_AP_STACK_SIZE 16384

extern const char hvmk_ap_trampoline_start[], hvmk_ap_trampoline_end[];
extern const char hvmk_ap_tramp_cr3[], hvmk_ap_tramp_stack[], hvmk_ap_tramp_entry[],
    hvmk_ap_tramp_lock[];

struct hvmk_cpu {
    uint32_t apic_id;
    unsigned xen_vcpu;
    volatile bool online;
};

static struct hvmk_cpu hvmk_cpus[HVMK_MAX_CPUS];
static volatile unsigned hvmk_ncpus = 1;
static volatile unsigned hvmk_nextra;     /* APs beyond HVMK_MAX_CPUS, halted */
static unsigned hvmk_expected;
/* Stack i is CPU i's; the BSP runs on the boot stack, so slot 0 serves the
 * APs beyond HVMK_MAX_CPUS, one after the other, only until they halt. */
static uint8_t hvmk_ap_stacks[HVMK_MAX_CPUS][HVMK_AP_STACK_SIZE] __attribute__((aligned(16)));
static void (*volatile hvmk_ap_hook)(unsigned cpu);

static uint64_t *hvmk_tramp_var(const char *sym)
{
    return (uint64_t *)(HVMK_AP_TRAMPOLINE + (uintptr_t)(sym - hvmk_ap_trampoline_start));
}

static uint32_t hvmk_xen_base;

/* Run on each CPU: its Xen vCPU id from CPUID leaf base+4 (EBX, when
 * EAX bit 3, XEN_HVM_CPUID_VCPU_ID_PRESENT, is set). */
static unsigned hvmk_read_xen_vcpu(unsigned idx)
{
    if (!hvmk_xen_base)
        return idx;
    uint32_t r[4];
    hvmk_cpuid(hvmk_xen_base + 4, 0, r);
    return (r[0] & (1u << 3)) ? r[1] : idx;
}

unsigned hvmk_cpu_xen_vcpu(unsigned cpu)
{
    return cpu < HVMK_MAX_CPUS ? hvmk_cpus[cpu].xen_vcpu : 0;
}

static void hvmk_record_xen_vcpu(unsigned cpu)
{
    hvmk_cpus[cpu].xen_vcpu = hvmk_read_xen_vcpu(cpu);
}

/* Called once Xen is detected: every CPU records its Xen vCPU id. */
void hvmk_smp_set_xen_base(uint32_t cpuid_base)
{
    hvmk_xen_base = cpuid_base;
    hvmk_record_xen_vcpu(0);
    hvmk_smp_run_on_aps(hvmk_record_xen_vcpu);
    hvmk_delay_us(2000);
}

unsigned hvmk_cpu_count(void)
{
    return hvmk_ncpus;
}

unsigned hvmk_cpu_index(void)
{
    uint32_t id = hvmk_lapic_id();
    unsigned n = hvmk_ncpus;
    for (unsigned i = 0; i < n && i < HVMK_MAX_CPUS; i++)
        if (hvmk_cpus[i].apic_id == id)
            return i;
    return 0;
}

uint32_t hvmk_cpu_apic_id(unsigned cpu)
{
    return cpu < HVMK_MAX_CPUS ? hvmk_cpus[cpu].apic_id : 0;
}

void hvmk_smp_run_on_aps(void (*fn)(unsigned cpu))
{
    hvmk_ap_hook = fn;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    hvmk_lapic_send_ipi_all_but_self(HVMK_IPI_FIXED, HVMK_WAKE_VECTOR);
}

unsigned hvmk_smp_extra(void)
{
    return hvmk_nextra;
}

void hvmk_smp_set_expected(unsigned n)
{
    hvmk_expected = n;
}

unsigned hvmk_smp_expected(void)
{
    return hvmk_expected;
}

/* Runs with the trampoline lock held until it puts the next AP's stack in
 * the slot and releases it. */
static void hvmk_ap_entry(void)
{
    unsigned idx = hvmk_ncpus;
    if (idx >= HVMK_MAX_CPUS) {
        /* No table slot nor stack of its own: counted, then halted for
         * good (its LAPIC stays software-disabled; the next such AP
         * reuses this stack once the lock is released). */
        hvmk_nextra = hvmk_nextra + 1;
        __atomic_store_n((uint32_t *)hvmk_tramp_var(hvmk_ap_tramp_lock), 0, __ATOMIC_RELEASE);
        for (;;)
            __asm__ volatile("cli; hlt");
    }
    hvmk_idt_load();
    hvmk_lapic_enable();
    hvmk_cpus[idx].apic_id = hvmk_lapic_id();
    hvmk_cpus[idx].xen_vcpu = idx;
    hvmk_ncpus = idx + 1;
    unsigned next = idx + 1 < HVMK_MAX_CPUS ? idx + 1 : 0;
    *hvmk_tramp_var(hvmk_ap_tramp_stack) =
        (uint64_t)(uintptr_t)(hvmk_ap_stacks[next] + HVMK_AP_STACK_SIZE);
    __atomic_store_n((uint32_t *)hvmk_tramp_var(hvmk_ap_tramp_lock), 0, __ATOMIC_RELEASE);
    hvmk_cpus[idx].online = true;
    void (*last)(unsigned) = NULL;
    for (;;) {
        void (*hook)(unsigned) = hvmk_ap_hook;
        if (hook && hook != last) {
            last = hook;
            hook(idx);
        }
        hvmk_idle();
    }
}

unsigned hvmk_smp_start(unsigned expected, uint64_t timeout_us)
{
    hvmk_cpus[0].apic_id = hvmk_lapic_id();
    hvmk_cpus[0].online = true;
    size_t len = (size_t)(hvmk_ap_trampoline_end - hvmk_ap_trampoline_start);
    memcpy((void *)HVMK_AP_TRAMPOLINE, hvmk_ap_trampoline_start, len);
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    *hvmk_tramp_var(hvmk_ap_tramp_cr3) = cr3;
    *hvmk_tramp_var(hvmk_ap_tramp_stack) =
        (uint64_t)(uintptr_t)(hvmk_ap_stacks[1] + HVMK_AP_STACK_SIZE);
    *hvmk_tramp_var(hvmk_ap_tramp_entry) = (uint64_t)(uintptr_t)hvmk_ap_entry;

    hvmk_lapic_send_ipi_all_but_self(HVMK_IPI_INIT, 0);
    hvmk_delay_us(10000);
    for (int i = 0; i < 2; i++) {
        hvmk_lapic_send_ipi_all_but_self(HVMK_IPI_STARTUP,
                                         (uint8_t)(HVMK_AP_TRAMPOLINE >> 12));
        hvmk_delay_us(200);
    }
    uint64_t deadline = hvmk_now_ns() + timeout_us * 1000;
    while (hvmk_now_ns() < deadline && (expected == 0 || hvmk_ncpus < expected))
        hvmk_delay_us(1000);
    hvmk_delay_us(1000);
    return hvmk_ncpus;
}

