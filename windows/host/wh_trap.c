/* What a driver does that only a kernel may: each traps in user space
 * (SIGSEGV: #GP for privileged instructions and port I/O, CPUID through
 * Linux's CPUID faulting) and is decoded here, carried out against the
 * simulated machine and stepped over:
 *   CPUID             the simulator's leaves (its CPU vendor, Xen's at
 *                     0x40000000..)
 *   VMCALL, VMMCALL   a hypercall: Xen's x86-64 register convention (number
 *                     in rax, arguments in rdi rsi rdx r10 r8, result in
 *                     rax), made with the instruction decoded; the simulated
 *                     vCPU refuses the one its vendor lacks (#UD).  In user
 *                     space they need not trap (under KVM, VMMCALL at CPL 3
 *                     returns -1 in rax), so the loader rewrites each as UD2
 *                     plus its third byte and the SIGILL at such a site is
 *                     taken for the instruction it was
 *   WRMSR             the simulator's MSRs; the hypercall MSR makes the host
 *                     fill the page with stubs (HLT; RET, 32 bytes apart)
 *   HLT in that page  hypercall number = offset / 32, the same convention;
 *                     with memory integrity on (wh_memory_integrity) running
 *                     code from pool is a violation: bug check 0xFC
 *   IN/OUT            the simulator's ports (0xe9 debug, QEMU unplug)
 *   MOV CR8           the thread's IRQL (Windows x64: CR8 is the IRQL)
 *   CLI/STI           the thread's interrupt flag (wh_irql.c: a held processor)
 *   MOVABS from KUSER_SHARED_DATA (0xfffff78000000000): interrupt time,
 *                     system time, tick count
 * Each thread that runs driver code has a KPCR in GS (inline accessors read
 * gs:0x184 for the processor number, gs:0x188 for the current thread).
 * Anything else that faults in a driver is a crash (a bug check) and ends
 * the run; a fault in an unloaded image is a callback into an unloaded
 * driver. */
#include <asm/prctl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "wh.h"
#include "sim.h"

#ifndef ARCH_SET_CPUID
#define ARCH_SET_CPUID 0x1012
#endif

#define MAX_IMAGES 4
static struct range { uintptr_t lo, hi; } images[MAX_IMAGES], gone[MAX_IMAGES];
static bool cpuid_faulting;                   /* else CPUID was rewritten as UD2 */
#define MAX_PATCHED 64
enum patch_kind { PATCH_CPUID, PATCH_VMCALL, PATCH_VMMCALL };
static struct patch {
    uintptr_t at;
    enum patch_kind kind;
} patched[MAX_PATCHED];
static unsigned npatched;
static uint8_t *hypercall_page;
static uint32_t hypercall_msr;
static _Thread_local bool thread_ready;
static _Thread_local uint8_t *kpcr;

/* The images loaded (their faults are decoded) and unloaded (inaccessible:
 * a call into one is a callback into an unloaded driver). */
void wh_trap_image(uintptr_t base, size_t size, bool loaded)
{
    for (int i = 0; i < MAX_IMAGES; i++) {
        if (loaded && !images[i].hi) {
            images[i] = (struct range){ base, base + size };
            return;
        }
        if (!loaded && images[i].lo == base) {
            images[i] = (struct range){ 0, 0 };
            mprotect((void *)base, size, PROT_NONE);
            for (int j = 0; j < MAX_IMAGES; j++)
                if (!gone[j].hi) {
                    gone[j] = (struct range){ base, base + size };
                    break;
                }
            return;
        }
    }
}

static const struct range *in_range(const struct range *r, uintptr_t a)
{
    for (int i = 0; i < MAX_IMAGES; i++)
        if (a >= r[i].lo && a < r[i].hi)
            return &r[i];
    return NULL;
}

void wh_trap_thread(void)
{
    if (thread_ready)
        return;
    thread_ready = true;
    kpcr = aligned_alloc(4096, 8192);
    memset(kpcr, 0, 8192);
    uint8_t *thread = kpcr + 4096;                /* an opaque KTHREAD */
    *(uint8_t **)(kpcr + 0x18) = kpcr;            /* KPCR.Self */
    *(uint8_t **)(kpcr + 0x20) = kpcr + 0x180;    /* KPCR.CurrentPrcb */
    *(uint16_t *)(kpcr + 0x184) = 0;              /* KPRCB.Number: processor 0 */
    *(uint8_t **)(kpcr + 0x188) = thread;         /* KPRCB.CurrentThread */
    if (syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)kpcr))
        wh_fatal("arch_prctl(ARCH_SET_GS) failed");
    cpuid_faulting = syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0UL) == 0;
}

/* This thread runs as processor n (KPRCB.Number, what
 * KeGetCurrentProcessorNumber reads). */
void wh_trap_set_processor(unsigned n)
{
    wh_trap_thread();
    *(uint16_t *)(kpcr + 0x184) = (uint16_t)n;
}

static void patch_site(uint8_t *at, enum patch_kind kind)
{
    static const char *const names[] = { "CPUID", "VMCALL", "VMMCALL" };
    if (npatched == MAX_PATCHED)
        wh_fatal("more than %d CPUID, VMCALL and VMMCALL instructions", MAX_PATCHED);
    at[1] = 0x0b;                               /* 0F xx -> 0F 0B: UD2 */
    patched[npatched++] = (struct patch){ (uintptr_t)at, kind };
    if (getenv("WH_VERBOSE"))
        fprintf(stderr, "wh: %s at %p rewritten as UD2\n", names[kind], (void *)at);
}

/* Before the loader protects an executable section: each VMCALL (0F 01
 * C1) and VMMCALL (0F 01 D9) becomes UD2 + its third byte, and, without
 * CPUID faulting (this machine's CPU may lack it: arch_prctl says ENODEV),
 * each CPUID (0F A2) becomes UD2 (0F 0B); the SIGILL at such a site is
 * emulated as what it was.  The bytes could in principle sit inside
 * another instruction; such a site would show as a crash there, and the
 * list of rewritten sites is printed with WH_VERBOSE. */
void wh_trap_patch_text(uint8_t *text, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (text[i] != 0x0f)
            continue;
        if (text[i + 1] == 0xa2 && !cpuid_faulting)
            patch_site(text + i, PATCH_CPUID);
        else if (text[i + 1] == 0x01 && i + 2 < len && text[i + 2] == 0xc1)
            patch_site(text + i, PATCH_VMCALL);
        else if (text[i + 1] == 0x01 && i + 2 < len && text[i + 2] == 0xd9)
            patch_site(text + i, PATCH_VMMCALL);
    }
}

static const struct patch *patched_site(uintptr_t rip)
{
    for (unsigned i = 0; i < npatched; i++)
        if (patched[i].at == rip)
            return &patched[i];
    return NULL;
}

static const int gpr[16] = { REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                             REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15 };

static uint32_t find_hypercall_msr(void)
{
    for (uint32_t base = 0x40000000u; base < 0x40010000u; base += 0x100) {
        uint32_t r[4];
        gp_arch_cpuid(wh_m.raw, base, 0, r);
        if (r[1] == 0x566e6558u && r[2] == 0x65584d4du && r[3] == 0x4d4d566eu) {
            gp_arch_cpuid(wh_m.raw, base + 2, 0, r);
            return r[1];
        }
    }
    return 0;
}

static void wrmsr(uint32_t msr, uint64_t v)
{
    const struct gp_platform *p = wh_m.raw;
    gp_arch_wrmsr(p, msr, v);
    if (!hypercall_msr)
        hypercall_msr = find_hypercall_msr();
    if (!hypercall_msr || msr != hypercall_msr)
        return;
    uint8_t *page = gp_arch_map_gfn(p, v >> 12);
    if (!page || (v & 0xfff))
        wh_fatal("WRMSR 0x%x: 0x%llx is not a page of the domain", msr, (unsigned long long)v);
    if (mprotect(page, 4096, PROT_READ | PROT_WRITE | PROT_EXEC))
        wh_fatal("cannot make the hypercall page executable");
    memset(page, 0xcc, 4096);
    for (unsigned i = 0; i < 4096 / 32; i++) {
        page[32 * i] = 0xf4;                      /* HLT: traps to us */
        page[32 * i + 1] = 0xc3;                  /* RET */
    }
    hypercall_page = page;
}

/* A hypercall as the vCPU made it: by the instruction, or a stub of the
 * hypercall page. */
static void hypercall(greg_t *g, enum gp_hypercall_via via)
{
    const uintptr_t a[5] = { (uintptr_t)g[REG_RDI], (uintptr_t)g[REG_RSI], (uintptr_t)g[REG_RDX],
                             (uintptr_t)g[REG_R10], (uintptr_t)g[REG_R8] };
    g[REG_RAX] = (greg_t)sim_domain_hypercall(wh_m.dom, via, (unsigned)g[REG_RAX], a);
}

static uint64_t now_100ns(int clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 10000000u + (uint64_t)ts.tv_nsec / 100u;
}

static uint64_t shared_user_data(uint64_t addr)
{
    switch (addr - 0xfffff78000000000ull) {
    case 0x08:
        return now_100ns(CLOCK_MONOTONIC);          /* InterruptTime */
    case 0x14:
        return now_100ns(CLOCK_REALTIME) + 116444736000000000ull;   /* SystemTime (1601) */
    case 0x320:
        return now_100ns(CLOCK_MONOTONIC) / 156250u;                 /* TickCount (15.625 ms) */
    default:
        wh_fatal("read of KUSER_SHARED_DATA+0x%llx", (unsigned long long)(addr & 0xfff));
    }
}

static bool emulate(greg_t *g, const uint8_t *ip, uintptr_t rip)
{
    const struct gp_platform *p = wh_m.raw;
    unsigned len = 0;
    if (hypercall_page && rip >= (uintptr_t)hypercall_page && rip < (uintptr_t)hypercall_page + 4096) {
        if (ip[0] != 0xf4 || (rip & 31))
            return false;
        static bool reported;                   /* once: it would repeat on each call */
        if (wh_memory_integrity && !__atomic_exchange_n(&reported, true, __ATOMIC_RELAXED))
            wh_violation("(memory integrity)", "code run from pool memory (the hypercall page at "
                         "%p): bug check 0xFC, ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY", (void *)rip);
        g[REG_RAX] = (greg_t)((rip - (uintptr_t)hypercall_page) / 32);
        hypercall(g, GP_HYPERCALL_PAGE);
        g[REG_RIP] += 1;
        return true;
    }
    unsigned rex = 0, opsize = 4;
    if (ip[len] == 0x66) {
        opsize = 2;
        len++;
    }
    if ((ip[len] & 0xf0) == 0x40)
        rex = ip[len++];
    const uint8_t *o = ip + len;
    uint16_t port = (uint16_t)g[REG_RDX];
    const struct patch *site = o[0] == 0x0f && o[1] == 0x0b ? patched_site(rip) : NULL;
    if ((o[0] == 0x0f && o[1] == 0x01 && o[2] == 0xc1) || (site && site->kind == PATCH_VMCALL)) {
        hypercall(g, GP_HYPERCALL_VMCALL);
        len += 3;
    } else if ((o[0] == 0x0f && o[1] == 0x01 && o[2] == 0xd9) ||
               (site && site->kind == PATCH_VMMCALL)) {
        hypercall(g, GP_HYPERCALL_VMMCALL);
        len += 3;
    } else if (o[0] == 0x0f && (o[1] == 0xa2 || (site && site->kind == PATCH_CPUID))) {   /* CPUID */
        uint32_t r[4];
        gp_arch_cpuid(p, (uint32_t)g[REG_RAX], (uint32_t)g[REG_RCX], r);
        g[REG_RAX] = r[0];
        g[REG_RBX] = r[1];
        g[REG_RCX] = r[2];
        g[REG_RDX] = r[3];
        len += 2;
    } else if (o[0] == 0x0f && o[1] == 0x30) {                          /* WRMSR */
        wrmsr((uint32_t)g[REG_RCX], (uint64_t)(uint32_t)g[REG_RAX] | (uint64_t)g[REG_RDX] << 32);
        len += 2;
    } else if (o[0] == 0x0f && (o[1] == 0x20 || o[1] == 0x22) && (o[2] & 0xc0) == 0xc0 &&
               (rex & 4) && ((o[2] >> 3) & 7) == 0) {                  /* MOV CR8 */
        int r = gpr[(o[2] & 7) | (rex & 1 ? 8 : 0)];
        if (o[1] == 0x20)
            g[r] = wh_irql;
        else
            wh_irql = (uint8_t)(g[r] & 15);
        len += 3;
    } else if (o[0] == 0xfa || o[0] == 0xfb) {                          /* CLI, STI */
        wh_interrupt_flag(o[0] == 0xfa);
        len += 1;
    } else if (o[0] == 0xec || o[0] == 0xed || o[0] == 0xe4 || o[0] == 0xe5) {   /* IN */
        unsigned size = o[0] & 1 ? opsize : 1;
        bool imm = !(o[0] & 8);                 /* E4/E5 take the port as imm8 */
        if (imm)
            port = o[1];
        uint32_t v = gp_arch_io_in(p, port, size);
        if (getenv("WH_VERBOSE") && port != 0xe9)
            fprintf(stderr, "wh: in%u 0x%x -> 0x%x\n", size, port, v);
        if (size == 4)
            g[REG_RAX] = v;
        else
            g[REG_RAX] = (greg_t)(((uint64_t)g[REG_RAX] & ~(uint64_t)(size == 1 ? 0xff : 0xffff)) | v);
        len += imm ? 2 : 1;
    } else if (o[0] == 0xee || o[0] == 0xef || o[0] == 0xe6 || o[0] == 0xe7) {   /* OUT */
        unsigned size = o[0] & 1 ? opsize : 1;
        bool imm = !(o[0] & 8);
        if (imm)
            port = o[1];
        uint32_t v = (uint32_t)g[REG_RAX] & (size == 1 ? 0xffu : size == 2 ? 0xffffu : ~0u);
        gp_arch_io_out(p, port, size, v);
        if (getenv("WH_VERBOSE") && port != 0xe9)
            fprintf(stderr, "wh: out%u 0x%x <- 0x%x\n", size, port, v);
        len += imm ? 2 : 1;
    } else if (o[0] == 0xa1 && opsize == 4) {                           /* MOVABS moffs64 */
        uint64_t addr;
        memcpy(&addr, o + 1, 8);
        if ((addr >> 12) != 0xfffff78000000ull)
            return false;
        uint64_t v = shared_user_data(addr);
        g[REG_RAX] = (greg_t)(rex & 8 ? v : (uint32_t)v);
        len += 9;
    } else {
        return false;
    }
    g[REG_RIP] += len;
    return true;
}

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    greg_t *g = uc->uc_mcontext.gregs;
    uintptr_t rip = (uintptr_t)g[REG_RIP];
    const uint8_t *ip = (const uint8_t *)rip;
    const struct range *img = in_range(images, rip), *dead = in_range(gone, rip);
    bool in_driver = img != NULL;
    bool in_hcall = hypercall_page && rip >= (uintptr_t)hypercall_page &&
                    rip < (uintptr_t)hypercall_page + 4096;
    if (dead) {
        wh_violation("(callback)", "code of an unloaded driver called at image+0x%lx",
                     (unsigned long)(rip - dead->lo));
        _exit(4);
    }
    if (in_driver || in_hcall) {
        if (emulate(g, ip, rip))
            return;
        fprintf(stderr, "wh: driver crash (a bug check on Windows): signal %d at image+0x%lx, "
                        "address %p, bytes %02x %02x %02x %02x %02x\n",
                sig, (unsigned long)(rip - (in_driver ? img->lo : 0)), si->si_addr, ip[0], ip[1],
                ip[2], ip[3], ip[4]);
        const uintptr_t *sp = (const uintptr_t *)g[REG_RSP];
        for (int i = 0; i < 256; i++)
            if (in_range(images, sp[i]))
                fprintf(stderr, "  stack: %p (image+0x%lx)\n", (void *)sp[i],
                        (unsigned long)(sp[i] - in_range(images, sp[i])->lo));
        _exit(3);
    }
    if (sig == SIGSEGV && ip[0] == 0x0f && ip[1] == 0xa2 && thread_ready) {
        /* the host's own CPUID on a driver thread: the real instruction */
        uint32_t a = (uint32_t)g[REG_RAX], b, c = (uint32_t)g[REG_RCX], d;
        syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1UL);
        __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
        syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0UL);
        g[REG_RAX] = a;
        g[REG_RBX] = b;
        g[REG_RCX] = c;
        g[REG_RDX] = d;
        g[REG_RIP] += 2;
        return;
    }
    extern char __executable_start[];
    fprintf(stderr, "wh: host crash: signal %d at %p (host+0x%lx), address %p\n", sig, (void *)rip,
            (unsigned long)(rip - (uintptr_t)__executable_start), si->si_addr);
    signal(sig, SIG_DFL);
}

void wh_trap_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
}
