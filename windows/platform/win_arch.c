/* HVM arch access for the Windows kernel (see win_platform.h): CPUID,
 * WRMSR and port I/O by instruction, hypercalls by VMCALL or VMMCALL (the
 * core chooses by CPU vendor; Xen's hypercall page only for a vendor it
 * does not know), guest frames mapped with MmMapIoSpace, and the upcall on
 * the platform PCI device's interrupt (ISR acknowledges, DPC scans). */
#include "win_platform.h"

#include "gplpv/hvm.h"
#include "gplpv/log.h"

#include <xen/xen.h>

/* Xen's ABI: longs are pointer-sized (64 bits on x86-64, where Windows'
 * own long is 32), and a vcpu_info is 64 bytes on both architectures. */
_Static_assert(sizeof(xen_ulong_t) == sizeof(void *), "xen_ulong_t is not pointer-sized");
_Static_assert(sizeof(xen_pfn_t) == sizeof(void *), "xen_pfn_t is not pointer-sized");
_Static_assert(sizeof(struct vcpu_info) == 64, "vcpu_info is not 64 bytes");

static void win_cpuid(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t regs[4])
{
    (void)ctx;
    __asm__ volatile("cpuid"
                     : "=a"(regs[0]), "=b"(regs[1]), "=c"(regs[2]), "=d"(regs[3])
                     : "a"(leaf), "c"(subleaf));
}

static void win_wrmsr(void *ctx, uint32_t msr, uint64_t value)
{
    (void)ctx;
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32))
                     : "memory");
}

static uint32_t win_io_in(void *ctx, uint16_t port, unsigned size)
{
    (void)ctx;
    uint32_t v = 0;
    if (size == 1) {
        uint8_t b;
        __asm__ volatile("inb %1, %0" : "=a"(b) : "Nd"(port));
        v = b;
    } else if (size == 2) {
        uint16_t h;
        __asm__ volatile("inw %1, %0" : "=a"(h) : "Nd"(port));
        v = h;
    } else {
        __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    }
    return v;
}

static void win_io_out(void *ctx, uint16_t port, unsigned size, uint32_t value)
{
    (void)ctx;
    if (size == 1)
        __asm__ volatile("outb %0, %1" : : "a"((uint8_t)value), "Nd"(port));
    else if (size == 2)
        __asm__ volatile("outw %0, %1" : : "a"((uint16_t)value), "Nd"(port));
    else
        __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

/* Xen's hypercall ABI: the op in rax/eax, the arguments in rdi rsi rdx
 * r10 r8 (x86-64) or ebx ecx edx esi edi (i386), the result in rax/eax;
 * Xen may clobber the argument registers.  The instruction itself (no
 * memory both writable and executable: what memory integrity requires),
 * or a call to page + 32 * op where the core chose Xen's page.
 * (Windows' long is 32 bits on x64: Xen's results fit.) */
#ifdef __x86_64__
#define WIN_HCALL(insn, ...)                                                          \
    __asm__ volatile(insn : "+a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8) \
                     : __VA_ARGS__)
#else
#define WIN_HCALL(insn, ...)                                                          \
    __asm__ volatile(insn : "+a"(ret), "+b"(a1), "+c"(a2), "+d"(a3), "+S"(a4), "+D"(a5)  \
                     : __VA_ARGS__)
#endif

static long win_hypercall(void *ctx, unsigned op, uintptr_t a1, uintptr_t a2, uintptr_t a3,
                          uintptr_t a4, uintptr_t a5)
{
    struct win_platform *w = ctx;
    uintptr_t ret = op;
#ifdef __x86_64__
    register uintptr_t r10 __asm__("r10") = a4;
    register uintptr_t r8 __asm__("r8") = a5;
#endif
    switch (w->hypercall_via) {
    case GP_HYPERCALL_VMCALL:
        WIN_HCALL("vmcall", : "memory");
        break;
    case GP_HYPERCALL_VMMCALL:
        WIN_HCALL("vmmcall", : "memory");
        break;
    case GP_HYPERCALL_PAGE: {
        void *entry = (char *)w->hypercall_page + 32u * op;
#ifdef __x86_64__
        WIN_HCALL("call *%[entry]", [entry] "r"(entry) : "memory", "rcx", "r9", "r11");
#else
        WIN_HCALL("call *%[entry]", [entry] "m"(entry) : "memory");
#endif
        break;
    }
    default:
        return -38;                                  /* -ENOSYS: no way chosen yet */
    }
    return (long)ret;
}

static void *win_map_gfn(void *ctx, uint64_t gfn)
{
    (void)ctx;
    PHYSICAL_ADDRESS pa;
    pa.QuadPart = (LONGLONG)(gfn << GP_PAGE_SHIFT);
    return MmMapIoSpace(pa, PAGE_SIZE, MmCached);
}

static void win_unmap_gfn(void *ctx, void *va)
{
    (void)ctx;
    if (va)
        MmUnmapIoSpace(va, PAGE_SIZE);
}

/* Only a CPU vendor the core does not know takes the hypercall page: it
 * must be executable, so it is the drivers' one allocation of executable
 * pool (which memory integrity refuses to run: bug check 0xFC). */
static int win_set_hypercall(void *ctx, enum gp_hypercall_via via, uint64_t *page_gfn)
{
    struct win_platform *w = ctx;
    if (w->hypercall_page && via != GP_HYPERCALL_PAGE) {
        ExFreePoolWithTag(w->hypercall_page, GPLPV_POOL_TAG);
        w->hypercall_page = NULL;
    }
    if (via == GP_HYPERCALL_PAGE && !w->hypercall_page) {
        GP_WARN(&w->plat, "the hypercall page needs executable memory (not with memory integrity on)");
        w->hypercall_page = ExAllocatePoolWithTag(NonPagedPoolExecute, PAGE_SIZE, GPLPV_POOL_TAG);
        if (!w->hypercall_page)
            return GP_ENOMEM;
        *page_gfn = (uint64_t)MmGetPhysicalAddress(w->hypercall_page).QuadPart >> GP_PAGE_SHIFT;
    }
    w->hypercall_via = via;
    return 0;
}

/* Through the callback via (a GSI), Xen marks the upcall on vCPU 0. */
static BOOLEAN NTAPI win_upcall_isr(PKINTERRUPT interrupt, PVOID arg)
{
    struct win_platform *w = arg;
    (void)interrupt;
    if (!w->upcall_enabled || !hvm_upcall_ack(w->upcall_arg, 0))
        return FALSE;                                /* a line shared with another device */
    KeInsertQueueDpc(&w->upcall_dpc, NULL, NULL);
    return TRUE;
}

static VOID NTAPI win_upcall_dpc(PKDPC dpc, PVOID arg, PVOID a1, PVOID a2)
{
    struct win_platform *w = arg;
    (void)dpc;
    (void)a1;
    (void)a2;
    if (w->upcall_enabled)
        w->upcall_fn(w->upcall_arg, 0);
}

static int win_set_upcall(void *ctx, void (*fn)(void *arg, unsigned vcpu), void *arg,
                          struct gp_upcall_route *route)
{
    struct win_platform *w = ctx;
    if (!fn) {
        InterlockedExchange(&w->upcall_enabled, 0);
        if (w->interrupt) {
            IoDisconnectInterrupt(w->interrupt);
            w->interrupt = NULL;
        }
        KeFlushQueuedDpcs();
        return 0;
    }
    if (!w->irq.present)
        return GP_ENOTSUP;
    w->upcall_fn = fn;
    w->upcall_arg = arg;
    if (!w->interrupt) {
        KeInitializeDpc(&w->upcall_dpc, win_upcall_dpc, w);
        NTSTATUS st = IoConnectInterrupt(&w->interrupt, win_upcall_isr, w, NULL, w->irq.vector,
                                         w->irq.irql, w->irq.irql, w->irq.mode, w->irq.shared,
                                         w->irq.affinity, FALSE);
        if (!NT_SUCCESS(st)) {
            GP_ERR(&w->plat, "xenpci: IoConnectInterrupt(vector %lu) failed: 0x%lx", w->irq.vector, (unsigned long)st);
            return GP_EIO;
        }
    }
    InterlockedExchange(&w->upcall_enabled, 1);
    route->callback_via = w->irq.gsi;            /* type 0: a GSI */
    route->vector = 0;
    return 0;
}

static unsigned win_vcpu_count(void *ctx)
{
    (void)ctx;
    return (unsigned)KeQueryActiveProcessorCount(NULL);
}

static unsigned win_current_vcpu(void *ctx)
{
    (void)ctx;
    return (unsigned)KeGetCurrentProcessorNumber();
}

const struct gp_arch win_arch_ops = {
    .cpuid = win_cpuid,
    .wrmsr = win_wrmsr,
    .io_in = win_io_in,
    .io_out = win_io_out,
    .hypercall = win_hypercall,
    .map_gfn = win_map_gfn,
    .unmap_gfn = win_unmap_gfn,
    .set_hypercall = win_set_hypercall,
    .set_upcall = win_set_upcall,
    .upcall_mode = NULL,
    .vcpu_count = win_vcpu_count,
    .current_vcpu = win_current_vcpu,
};
