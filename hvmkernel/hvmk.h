/* hvmkernel: a small freestanding x86-64 kernel, booted as a Xen HVM domU,
 * that runs the core the way the Windows bus driver does.  This header
 * declares the kernel's own pieces (console, CPU, interrupts, memory). */
#ifndef HVMK_H
#define HVMK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- CPU access (hvmk_cpu.c) --------------------------------------- */
static inline void hvmk_outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void hvmk_outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void hvmk_outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t hvmk_inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t hvmk_inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t hvmk_inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void hvmk_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}
static inline void hvmk_wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
static inline uint64_t hvmk_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
static inline uint64_t hvmk_irq_save(void)
{
    uint64_t f;
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(f)::"memory");
    return f;
}
static inline void hvmk_irq_restore(uint64_t f)
{
    if (f & 0x200)
        __asm__ volatile("sti" ::: "memory");
}
static inline void hvmk_irq_enable(void) { __asm__ volatile("sti" ::: "memory"); }
/* Wait for the next interrupt with interrupts enabled (sti;hlt is atomic). */
static inline void hvmk_idle(void) { __asm__ volatile("sti; hlt" ::: "memory"); }

/* ---- console (hvmk_console.c): COM1 and the 0xe9 debug port -------- */
void hvmk_console_init(void);
void hvmk_puts(const char *s);
void hvmk_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- time (hvmk_time.c): TSC calibrated against the PIT ------------ */
void hvmk_time_init(void);
uint64_t hvmk_now_ns(void);
void hvmk_delay_us(uint64_t us);

/* ---- interrupts (hvmk_idt.c) ----------------------------------------- */
#define HVMK_XEN_VECTOR 0xf3     /* event-channel upcall */
#define HVMK_TIMER_VECTOR 0x40   /* LAPIC periodic timer */
#define HVMK_WAKE_VECTOR 0x41    /* IPI that wakes idle APs to run their hook */
void hvmk_idt_init(void);
void hvmk_idt_load(void);        /* on each CPU */
/* Handlers of device vectors run with interrupts off; the IDT code sends
 * the LAPIC EOI for vectors that need it. */
void hvmk_set_vector_handler(uint8_t vector, void (*fn)(void *arg), void *arg);

/* ---- local APIC (hvmk_lapic.c) -------------------------------------- */
#define HVMK_IPI_FIXED   0x000
#define HVMK_IPI_INIT    0x500
#define HVMK_IPI_STARTUP 0x600
void hvmk_lapic_enable(void);
uint32_t hvmk_lapic_id(void);
void hvmk_lapic_send_ipi_all_but_self(uint32_t type, uint8_t vector);
bool hvmk_lapic_timer_start(void);
uint64_t hvmk_lapic_ticks(void);
void hvmk_lapic_eoi(void);
bool hvmk_lapic_in_service(uint8_t vector);
void hvmk_xen_vector_needs_eoi(bool eoi);

/* ---- I/O APIC (hvmk_ioapic.c) ------------------------------------------ */
#define HVMK_GSI_VECTOR 0x42     /* a routed GSI (hvmk_set_vector_handler) */
unsigned hvmk_ioapic_pins(void);
bool hvmk_ioapic_route(unsigned gsi, uint8_t vector, bool level, bool active_low,
                       uint32_t dest_apic_id);
void hvmk_ioapic_mask(unsigned gsi);

/* ---- SMP (hvmk_smp.c, ap_trampoline.S) -------------------------------- */
/* As many as shared_info has vcpu_info slots for (XEN_LEGACY_MAX_VCPUS),
 * which is what the core's 2-level event channels serve.  Each CPU gets a
 * 16 KiB stack in the kernel image (512 KiB for all). */
#define HVMK_MAX_CPUS 32
/* Start the APs; wait until 'expected' CPUs are up (0 = any) or timeout.
 * Returns the number of CPUs online (BSP included).  APs that answer
 * beyond HVMK_MAX_CPUS are counted (hvmk_smp_extra) and stay halted with
 * interrupts off. */
unsigned hvmk_smp_start(unsigned expected, uint64_t timeout_us);
unsigned hvmk_smp_extra(void);
/* The CPUs the SMP step wanted (command line and MADT), once it ran. */
void hvmk_smp_set_expected(unsigned n);
unsigned hvmk_smp_expected(void);
unsigned hvmk_cpu_count(void);
unsigned hvmk_cpu_index(void);            /* 0 = BSP */
uint32_t hvmk_cpu_apic_id(unsigned cpu);
/* The Xen vCPU id of a CPU (CPUID leaf base+4 when Xen reports it, else
 * the CPU index); recorded by each CPU at start-up. */
unsigned hvmk_cpu_xen_vcpu(unsigned cpu);
void hvmk_smp_set_xen_base(uint32_t cpuid_base);
/* Run fn(cpu) once on every AP (from its idle loop, interrupts on). */
void hvmk_smp_run_on_aps(void (*fn)(unsigned cpu));

/* ---- ACPI (hvmk_acpi.c) ----------------------------------------------- */
/* Enabled processors (Local APIC and x2APIC entries) in the firmware's
 * MADT; 0 when there is no MADT. */
unsigned hvmk_acpi_madt_cpus(void);

/* ---- memory (hvmk_mem.c): pages and a small heap --------------------- */
void hvmk_mem_init(uint64_t mem_top);
void *hvmk_page_alloc(void);          /* zeroed, identity-mapped: gfn = va >> 12 */
void hvmk_page_free(void *va);
void *hvmk_malloc(size_t size);       /* zeroed */
void hvmk_mfree(void *p);
unsigned hvmk_pages_free(void);

/* ---- PCI (hvmk_pci.c) ------------------------------------------------- */
/* Count functions whose class is 'cls' (e.g. 0x01 storage, 0x02 network),
 * walking bus 0 and the buses behind its bridges. */
unsigned hvmk_pci_count_class(uint8_t cls, uint8_t subclass_or_ff);

/* ---- entry (hvmk_main.c): boot.S calls it with the multiboot registers -- */
struct hvmk_mb_info;
void hvmk_main(uint32_t magic, const struct hvmk_mb_info *mb);

/* ---- exit ------------------------------------------------------------- */
void hvmk_exit(int code) __attribute__((noreturn));

/* hvmk_stack.c: the boot stack's high-water mark and overflow guard */
#define HVMK_BOOT_STACK_SIZE 65536
void hvmk_stack_paint(void);
size_t hvmk_stack_used(void);
void hvmk_stack_check(void);

#endif
