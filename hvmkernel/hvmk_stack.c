/* hvmkernel boot stack (64 KiB in boot.S, right above the page tables):
 * painted at entry so that the most ever used can be reported, and
 * checked on every timer tick and upcall: a stack about to run into the
 * page tables stops the kernel with a message instead of a triple fault. */
#include "hvmk.h"

extern char boot_stack[], boot_stack_top[];

#define HVMK_STACK_PAINT 0x5a
#define HVMK_STACK_RESERVE 8192     /* stop when less than this is left */

void hvmk_stack_paint(void)
{
    char *sp = __builtin_frame_address(0);
    for (volatile char *q = boot_stack; q < sp - 256; q++)
        *q = HVMK_STACK_PAINT;
}

size_t hvmk_stack_used(void)
{
    const volatile char *q = boot_stack;
    while (q < boot_stack_top && *q == HVMK_STACK_PAINT)
        q++;
    return (size_t)(boot_stack_top - q);
}

void hvmk_stack_check(void)
{
    char *sp = __builtin_frame_address(0);
    if (sp >= boot_stack && sp < boot_stack + HVMK_STACK_RESERVE) {
        hvmk_printf("hvmk: FATAL boot stack nearly exhausted: %lu bytes left\n",
                    (unsigned long)(sp - boot_stack));
        hvmk_exit(4);
    }
}
