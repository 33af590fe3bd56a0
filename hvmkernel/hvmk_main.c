/* hvmkernel main: boots, then runs each step of the test and reports it on
 * the console as "hvmk: PASS <step>" or "hvmk: FAIL <step>: <why>", ending
 * with "hvmk: N passed, N failed".  The steps that need Xen use the same
 * core sources as the Windows drivers. */
#include "hvmk.h"
#include "hvmk_steps.h"

#include <string.h>

#define MB_BOOT_MAGIC 0x2BADB002u

struct hvmk_mb_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
};

static unsigned hvmk_passed, hvmk_failed;
static void (*hvmk_exit_hook)(int code);
static bool hvmk_quiet, hvmk_reboot_exit;

void hvmk_steps_quiet(bool quiet)
{
    hvmk_quiet = quiet;
}

void hvmk_set_exit_reboot(void)
{
    hvmk_reboot_exit = true;
}

bool hvmk_exit_is_reboot(void)
{
    return hvmk_reboot_exit;
}

void hvmk_step_result(const char *step, bool ok, const char *why)
{
    if (ok && hvmk_quiet) {
        hvmk_printf("hvmk: ok again %s\n", step);   /* counted in the first boot */
    } else if (ok) {
        hvmk_passed++;
        hvmk_printf("hvmk: PASS %s\n", step);
    } else {
        hvmk_failed++;
        hvmk_printf("hvmk: FAIL %s: %s\n", step, why ? why : "failed");
    }
}

void hvmk_set_exit_hook(void (*fn)(int code))
{
    hvmk_exit_hook = fn;
}

void hvmk_exit(int code)
{
    hvmk_printf("hvmk: exit %d%s\n", code, hvmk_reboot_exit && code == 0 ? " (reboot)" : "");
    if (hvmk_exit_hook)
        hvmk_exit_hook(code);
    hvmk_outb(0xf4, (uint8_t)code);   /* QEMU isa-debug-exit, when present */
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* The loader may place its info right after the kernel, where the heap
 * goes: copy what we need before the allocators start. */
static char hvmk_cmdline_copy[256];

static const char *hvmk_cmdline(const struct hvmk_mb_info *mb)
{
    if (!hvmk_cmdline_copy[0] && mb && (mb->flags & (1u << 2)) && mb->cmdline) {
        const char *src = (const char *)(uintptr_t)mb->cmdline;
        size_t n = strnlen(src, sizeof(hvmk_cmdline_copy) - 1);
        memcpy(hvmk_cmdline_copy, src, n);
        hvmk_cmdline_copy[n] = 0;
    }
    return hvmk_cmdline_copy;
}

static bool hvmk_selftest_heap(void)
{
    void *a = hvmk_malloc(100), *b = hvmk_malloc(5000), *c = hvmk_malloc(16);
    if (!a || !b || !c)
        return false;
    memset(b, 0xab, 5000);
    hvmk_mfree(a);
    hvmk_mfree(c);
    void *d = hvmk_malloc(90);
    bool ok = d == a && ((unsigned char *)b)[4999] == 0xab;
    hvmk_mfree(b);
    hvmk_mfree(d);
    void *p = hvmk_page_alloc();
    ok = ok && p && ((uintptr_t)p & 4095) == 0;
    hvmk_page_free(p);
    return ok;
}

void hvmk_main(uint32_t magic, const struct hvmk_mb_info *mb)
{
    hvmk_stack_paint();
    hvmk_console_init();
    hvmk_printf("hvmk: gplpv HVM test kernel starting\n");
    if (magic != MB_BOOT_MAGIC || !(mb->flags & 1u)) {
        hvmk_step_result("boot", false, "not booted by a multiboot loader with memory info");
        hvmk_exit(2);
    }
    uint64_t mem_top = 0x100000ull + (uint64_t)mb->mem_upper * 1024;
    const char *cmdline = hvmk_cmdline(mb);
    hvmk_printf("hvmk: memory %lu KiB, cmdline '%s'\n", (unsigned long)mb->mem_upper,
                cmdline);
    if (strstr(cmdline, "rebooted")) {
        /* After `xl reboot`: what the first boot reported runs again
         * without being counted; then the steps of this boot. */
        hvmk_printf("hvmk: second boot, after xl reboot\n");
        hvmk_steps_quiet(true);
    }
    hvmk_step_result("boot", true, NULL);

    hvmk_idt_init();
    hvmk_time_init();
    hvmk_mem_init(mem_top);
    hvmk_step_result("memory", hvmk_selftest_heap() && hvmk_pages_free() > 256,
                     "page or heap allocator self-test failed");
    uint64_t t0 = hvmk_now_ns();
    hvmk_delay_us(2000);
    uint64_t dt = hvmk_now_ns() - t0;
    hvmk_step_result("timer", dt >= 2000000 && dt < 1000000000, "TSC clock not advancing sanely");
    bool lapic = hvmk_lapic_timer_start();
    hvmk_irq_enable();
    uint64_t ticks0 = hvmk_lapic_ticks();
    hvmk_delay_us(20000);
    hvmk_step_result("interrupts", lapic && hvmk_lapic_ticks() > ticks0,
                     "LAPIC timer interrupt not delivered");

    hvmk_step_smp(cmdline);
    hvmk_step_ioapic();
    hvmk_run_xen_steps(cmdline);

    hvmk_printf("hvmk: boot stack: %lu of %lu bytes used at most\n",
                (unsigned long)hvmk_stack_used(), (unsigned long)HVMK_BOOT_STACK_SIZE);
    hvmk_printf("hvmk: %u passed, %u failed\n", hvmk_passed, hvmk_failed);
    hvmk_exit(hvmk_failed ? 1 : 0);
}
