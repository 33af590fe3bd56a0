/* hvmkernel interrupts: an IDT whose exception entries report and stop,
 * and whose device vectors call registered handlers.  Compiled with
 * -mgeneral-regs-only, so gcc's interrupt attribute saves all it uses. */
#include "hvmk.h"

struct hvmk_idt_entry {
    uint16_t off_lo, sel;
    uint8_t ist, type;
    uint16_t off_mid;
    uint32_t off_hi, zero;
} __attribute__((packed));

struct hvmk_int_frame {
    uint64_t rip, cs, rflags, rsp, ss;
};

static struct hvmk_idt_entry hvmk_idt[256] __attribute__((aligned(16)));
static struct {
    void (*fn)(void *arg);
    void *arg;
} hvmk_vectors[256];

static void hvmk_idt_set(unsigned vec, void *handler)
{
    uint64_t a = (uint64_t)(uintptr_t)handler;
    hvmk_idt[vec].off_lo = (uint16_t)a;
    hvmk_idt[vec].sel = 0x08;
    hvmk_idt[vec].ist = 0;
    hvmk_idt[vec].type = 0x8e;     /* present, interrupt gate */
    hvmk_idt[vec].off_mid = (uint16_t)(a >> 16);
    hvmk_idt[vec].off_hi = (uint32_t)(a >> 32);
    hvmk_idt[vec].zero = 0;
}

static void hvmk_fatal(const char *what, struct hvmk_int_frame *f, uint64_t code)
{
    uint64_t cr2, cr3;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    hvmk_printf("hvmk: FATAL %s on CPU %u at rip=%lx rsp=%lx err=%lx cr2=%lx cr3=%lx\n", what,
                hvmk_cpu_index(), (unsigned long)f->rip, (unsigned long)f->rsp,
                (unsigned long)code, (unsigned long)cr2, (unsigned long)cr3);
    hvmk_exit(3);
}

/* The BSP's double faults run on a stack of their own (IST 1 of its TSS):
 * a fault whose own stack is unusable is then reported with where it
 * happened instead of ending in a triple fault. */
static struct __attribute__((packed)) {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3, iomap_base;
} hvmk_tss;
_Static_assert(sizeof(hvmk_tss) == 104, "64-bit TSS layout");
static uint8_t hvmk_df_stack[16384] __attribute__((aligned(16)));
static uint64_t hvmk_gdt[5] __attribute__((aligned(16)));

static void hvmk_tss_load(void)
{
    hvmk_tss.ist[0] = (uint64_t)(uintptr_t)(hvmk_df_stack + sizeof(hvmk_df_stack));
    hvmk_tss.iomap_base = sizeof(hvmk_tss);
    uint64_t base = (uint64_t)(uintptr_t)&hvmk_tss, limit = sizeof(hvmk_tss) - 1;
    hvmk_gdt[0] = 0;
    hvmk_gdt[1] = 0x00af9a000000ffffull;          /* 0x08: 64-bit code, as boot.S's */
    hvmk_gdt[2] = 0x00cf92000000ffffull;          /* 0x10: data, as boot.S's */
    hvmk_gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
                  (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    hvmk_gdt[4] = base >> 32;                     /* 0x18: the TSS (16 bytes) */
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) gdtr = { sizeof(hvmk_gdt) - 1, (uint64_t)(uintptr_t)hvmk_gdt };
    __asm__ volatile("lgdt %0" ::"m"(gdtr));
    __asm__ volatile("ltr %w0" ::"r"((uint16_t)0x18));
}

#define HVMK_EXC(n, name)                                                             \
    __attribute__((interrupt)) static void hvmk_exc_##n(struct hvmk_int_frame *f)     \
    {                                                                                 \
        hvmk_fatal(name, f, 0);                                                       \
    }
#define HVMK_EXC_ERR(n, name)                                                         \
    __attribute__((interrupt)) static void hvmk_exc_##n(struct hvmk_int_frame *f,     \
                                                         uint64_t code)               \
    {                                                                                 \
        hvmk_fatal(name, f, code);                                                    \
    }

HVMK_EXC(0, "#DE divide error")
HVMK_EXC(1, "#DB debug")
HVMK_EXC(2, "NMI")
HVMK_EXC(3, "#BP breakpoint")
HVMK_EXC(4, "#OF overflow")
HVMK_EXC(5, "#BR bound")
HVMK_EXC(6, "#UD invalid opcode")
HVMK_EXC(7, "#NM no FPU")
HVMK_EXC_ERR(8, "#DF double fault")
HVMK_EXC_ERR(10, "#TS invalid TSS")
HVMK_EXC_ERR(11, "#NP segment not present")
HVMK_EXC_ERR(12, "#SS stack fault")
HVMK_EXC_ERR(13, "#GP general protection")
HVMK_EXC_ERR(14, "#PF page fault")
HVMK_EXC(16, "#MF x87 error")
HVMK_EXC_ERR(17, "#AC alignment check")
HVMK_EXC(18, "#MC machine check")
HVMK_EXC(19, "#XM SIMD error")

__attribute__((interrupt)) static void hvmk_unexpected(struct hvmk_int_frame *f)
{
    hvmk_fatal("unexpected interrupt", f, 0);
}

__attribute__((interrupt)) static void hvmk_spurious(struct hvmk_int_frame *f)
{
    (void)f;
}

/* The Xen callback vector (HVM_PARAM_CALLBACK_IRQ of type vector) needs
 * no EOI; the per-vCPU upcall vector does, which the handler's owner
 * requests with hvmk_xen_vector_needs_eoi. */
static bool hvmk_xen_eoi;

void hvmk_xen_vector_needs_eoi(bool eoi)
{
    hvmk_xen_eoi = eoi;
}

__attribute__((interrupt)) static void hvmk_xen_vector(struct hvmk_int_frame *f)
{
    (void)f;
    if (hvmk_vectors[HVMK_XEN_VECTOR].fn)
        hvmk_vectors[HVMK_XEN_VECTOR].fn(hvmk_vectors[HVMK_XEN_VECTOR].arg);
    /* The per-vCPU upcall vector arrives through the local APIC and must
     * be acknowledged; the callback vector does not: look at the ISR
     * rather than trust the mode (the first upcall can race with it). */
    if (hvmk_xen_eoi || hvmk_lapic_in_service(HVMK_XEN_VECTOR))
        hvmk_lapic_eoi();
}

__attribute__((interrupt)) static void hvmk_timer_vector(struct hvmk_int_frame *f)
{
    (void)f;
    if (hvmk_vectors[HVMK_TIMER_VECTOR].fn)
        hvmk_vectors[HVMK_TIMER_VECTOR].fn(hvmk_vectors[HVMK_TIMER_VECTOR].arg);
    hvmk_lapic_eoi();
}

__attribute__((interrupt)) static void hvmk_gsi_vector(struct hvmk_int_frame *f)
{
    (void)f;
    if (hvmk_vectors[HVMK_GSI_VECTOR].fn)
        hvmk_vectors[HVMK_GSI_VECTOR].fn(hvmk_vectors[HVMK_GSI_VECTOR].arg);
    hvmk_lapic_eoi();
}

__attribute__((interrupt)) static void hvmk_wake_vector(struct hvmk_int_frame *f)
{
    (void)f;
    hvmk_lapic_eoi();
}

void hvmk_set_vector_handler(uint8_t vector, void (*fn)(void *arg), void *arg)
{
    hvmk_vectors[vector].arg = arg;
    hvmk_vectors[vector].fn = fn;
}

void hvmk_idt_init(void)
{
    void *exc[20] = {
        hvmk_exc_0, hvmk_exc_1, hvmk_exc_2, hvmk_exc_3, hvmk_exc_4, hvmk_exc_5, hvmk_exc_6,
        hvmk_exc_7, hvmk_exc_8, hvmk_unexpected, hvmk_exc_10, hvmk_exc_11, hvmk_exc_12,
        hvmk_exc_13, hvmk_exc_14, hvmk_unexpected, hvmk_exc_16, hvmk_exc_17, hvmk_exc_18,
        hvmk_exc_19,
    };
    for (unsigned v = 0; v < 256; v++)
        hvmk_idt_set(v, v < 20 ? exc[v] : (v >= 0x20 && v < 0x30) ? (void *)hvmk_spurious
                                                                   : (void *)hvmk_unexpected);
    hvmk_tss_load();
    hvmk_idt[8].ist = 1;
    hvmk_idt_set(HVMK_XEN_VECTOR, hvmk_xen_vector);
    hvmk_idt_set(HVMK_TIMER_VECTOR, hvmk_timer_vector);
    hvmk_idt_set(HVMK_WAKE_VECTOR, hvmk_wake_vector);
    hvmk_idt_set(HVMK_GSI_VECTOR, hvmk_gsi_vector);
    hvmk_idt_set(0xff, hvmk_spurious);

    /* Mask the legacy PICs entirely (remapped to 0x20..0x2f first). */
    hvmk_outb(0x20, 0x11);
    hvmk_outb(0xa0, 0x11);
    hvmk_outb(0x21, 0x20);
    hvmk_outb(0xa1, 0x28);
    hvmk_outb(0x21, 0x04);
    hvmk_outb(0xa1, 0x02);
    hvmk_outb(0x21, 0x01);
    hvmk_outb(0xa1, 0x01);
    hvmk_outb(0x21, 0xff);
    hvmk_outb(0xa1, 0xff);

    hvmk_idt_load();
}

void hvmk_idt_load(void)
{
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) idtr = { sizeof(hvmk_idt) - 1, (uint64_t)(uintptr_t)hvmk_idt };
    __asm__ volatile("lidt %0" ::"m"(idtr));
}
