/*
 * hvmkernel boot: a Multiboot (v1) entry in 32-bit protected mode that
 * builds identity page tables for the first 4 GiB (2 MiB pages), enters
 * long mode and calls hvmk_main(magic, info) on the boot stack.
 * Secondary vCPUs are not started: the test kernel runs on vCPU 0.
 */
#define MB_MAGIC   0x1BADB002
#define MB_FLAGS   0x00000003          /* page-align modules, memory info */

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .section .bss
    .align 4096
pml4:   .skip 4096
pdpt:   .skip 4096
pd:     .skip 4096 * 4
    .align 16
    .globl boot_stack, boot_stack_top
boot_stack:
    .skip 65536
boot_stack_top:

    .section .data
    .align 16
gdt64:
    .quad 0                             /* null */
    .quad 0x00af9a000000ffff            /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff            /* 0x10: data */
gdt64_end:
gdt64_ptr:
    .word gdt64_end - gdt64 - 1
    .long gdt64
    .long 0

    .section .text
    .code32
    .globl _start
_start:
    cli
    movl $boot_stack_top, %esp
    movl %eax, %edi                     /* multiboot magic -> 1st arg */
    movl %ebx, %esi                     /* multiboot info  -> 2nd arg */

    /* PML4[0] -> PDPT, PDPT[0..3] -> PD[0..3], PD entries 2 MiB pages */
    movl $pdpt, %eax
    orl $0x3, %eax
    movl %eax, pml4
    xorl %ecx, %ecx
1:  movl $pd, %eax
    movl %ecx, %edx
    shll $12, %edx
    addl %edx, %eax
    orl $0x3, %eax
    movl %eax, pdpt(,%ecx,8)
    incl %ecx
    cmpl $4, %ecx
    jne 1b

    xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax                     /* present, writable, 2 MiB */
    movl %eax, pd(,%ecx,8)
    movl %ecx, %eax
    shrl $11, %eax                      /* high dword: bits 32.. of address */
    movl %eax, pd+4(,%ecx,8)
    incl %ecx
    cmpl $2048, %ecx
    jne 2b

    movl %cr4, %eax
    orl $0x620, %eax                    /* PAE, OSFXSR, OSXMMEXCPT */
    movl %eax, %cr4
    movl $pml4, %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx              /* EFER */
    rdmsr
    orl $0x100, %eax                    /* LME */
    wrmsr
    movl %cr0, %eax
    orl $0x80000001, %eax               /* PG, PE */
    andl $0x9fffffff, %eax              /* caches on: clear CD, NW */
    movl %eax, %cr0
    lgdt gdt64_ptr
    ljmp $0x08, $long_mode

    .code64
long_mode:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movq $boot_stack_top, %rsp
    andq $-16, %rsp
    call hvmk_main
3:  cli
    hlt
    jmp 3b
.section .note.GNU-stack,"",@progbits
