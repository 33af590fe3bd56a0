/*
 * hvmkernel AP trampoline: copied to HVMK_AP_TRAMPOLINE (0x8000) and
 * started there by INIT-SIPI-SIPI.  It goes from real mode through
 * protected mode into long mode with the BSP's page tables, loads its
 * stack and calls the C entry, all from parameters the BSP writes into
 * the data block at the end (hvmk_smp.c fills it).
 */
#define TRAMP 0x8000
#define REL(x) ((x) - hvmk_ap_trampoline_start + TRAMP)

    .section .rodata
    .globl hvmk_ap_trampoline_start, hvmk_ap_trampoline_end
    .globl hvmk_ap_tramp_cr3, hvmk_ap_tramp_stack, hvmk_ap_tramp_entry, hvmk_ap_tramp_lock
    .code16
hvmk_ap_trampoline_start:
    cli
    xorw %ax, %ax
    movw %ax, %ds
    lgdtl REL(tramp_gdt_ptr)
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $0x18, $REL(tramp32)

    .code32
tramp32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl %cr4, %eax
    orl $0x620, %eax                    /* PAE, OSFXSR, OSXMMEXCPT */
    movl %eax, %cr4
    movl REL(hvmk_ap_tramp_cr3), %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx              /* EFER.LME */
    rdmsr
    orl $0x100, %eax
    wrmsr
    movl %cr0, %eax
    orl $0x80000001, %eax
    andl $0x9fffffff, %eax
    movl %eax, %cr0
    ljmp $0x08, $REL(tramp64)

    .code64
tramp64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    /* One AP at a time takes the stack slot; hvmk_smp.c releases the
     * lock once it has put the next AP's stack in the slot. */
2:  movl $1, %eax
    xchgl %eax, REL(hvmk_ap_tramp_lock)
    testl %eax, %eax
    jz 3f
    pause
    jmp 2b
3:  movq REL(hvmk_ap_tramp_stack), %rsp
    movq REL(hvmk_ap_tramp_entry), %rax
    call *%rax
1:  cli
    hlt
    jmp 1b

    .align 8
tramp_gdt:
    .quad 0                             /* null */
    .quad 0x00af9a000000ffff            /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff            /* 0x10: flat data */
    .quad 0x00cf9a000000ffff            /* 0x18: 32-bit code */
tramp_gdt_ptr:
    .word tramp_gdt_ptr - tramp_gdt - 1
    .long REL(tramp_gdt)
    .align 8
hvmk_ap_tramp_cr3:   .quad 0
hvmk_ap_tramp_stack: .quad 0
hvmk_ap_tramp_entry: .quad 0
hvmk_ap_tramp_lock:  .quad 0
hvmk_ap_trampoline_end:
.section .note.GNU-stack,"",@progbits
