# The bare HVM test kernel (hvmkernel/): hvmkernel sources + the whole
# core, freestanding, linked at 1 MiB, converted to ELF32 for multiboot
# loaders (QEMU's -kernel refuses ELF64 multiboot images).
HVMK_DIR := $(BUILD)/hvmk
HVMK_CFLAGS := -std=c11 $(WARN) $(XEN_IFACE) -D_DEFAULT_SOURCE -O2 -g -ffreestanding \
  -fno-stack-protector -fno-pic -fno-pie -mno-red-zone -mgeneral-regs-only \
  -fno-asynchronous-unwind-tables -fno-strict-aliasing
# The core with its own include paths only (CORE_INC), the kernel with its own.
HVMK_INC := -Iinclude -Ihvmkernel
HVMK_C_SRCS := $(sort $(wildcard hvmkernel/*.c)) $(CORE_SRCS)
HVMK_ASM_SRCS := $(sort $(wildcard hvmkernel/*.S))
HVMK_OBJS := $(HVMK_C_SRCS:%.c=$(HVMK_DIR)/%.o) $(HVMK_ASM_SRCS:%.S=$(HVMK_DIR)/%.o)
HVMK_ELF := $(HVMK_DIR)/hvmkernel.elf
HVMK_IMAGE := $(HVMK_DIR)/hvmkernel.elf32

$(HVMK_DIR)/%.o: %.c $(HEADERS) $(wildcard hvmkernel/*.h) Makefile mk/hvmkernel.mk | setup
	@mkdir -p $(@D)
	$(CC) $(HVMK_CFLAGS) $(if $(filter core/%,$<),$(CORE_INC),$(HVMK_INC)) -c $< -o $@

$(HVMK_DIR)/hvmkernel/%.o: hvmkernel/%.S
	@mkdir -p $(@D)
	$(CC) -c $< -o $@

$(HVMK_ELF): $(HVMK_OBJS) hvmkernel/hvmkernel.ld
	$(CC) -nostdlib -static -no-pie -Wl,-T,hvmkernel/hvmkernel.ld -Wl,--build-id=none \
	  -o $@ $(HVMK_OBJS) -lgcc

$(HVMK_IMAGE): $(HVMK_ELF)
	objcopy -O elf32-i386 $< $@

.PHONY: hvmkernel check-hvmk-qemu
hvmkernel: $(HVMK_IMAGE)
ALL_TARGETS += hvmkernel

# Under plain QEMU (no Xen) the kernel must boot, pass its self-tests and
# report the absence of Xen cleanly instead of crashing.  With 32 CPUs, the
# most it supports (HVMK_MAX_CPUS): all must come up and run work.
check-hvmk-qemu: $(HVMK_IMAGE)
	@echo "== hvmkernel under plain QEMU (no Xen)"
	@scripts/setup qemu
	@HVMK_SMP=32 hvmkernel/run-qemu $(HVMK_IMAGE) expect=noxen cpus=32
CHECK_STAGES += hvmk-qemu
FAST_STAGES += hvmk-qemu
