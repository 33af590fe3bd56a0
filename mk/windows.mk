# The Windows drivers (windows/), cross-compiled with Debian's mingw-w64:
# for each flavour (chk = checked, debug log; fre = free, release) and
# each architecture (x64, x86) the core is built once more and linked into
# each driver.  Outputs: build/win/<flavour>-<arch>/<driver>.sys
# The flags Windows checks on a driver: ld sets DYNAMIC_BASE, NX_COMPAT
# and FORCE_INTEGRITY (--forceinteg: the signature is checked at load,
# on x86 too); CET shadow-stack compatibility has no ld option (binutils
# 2.40), so windows/tools/pe-cet-compat adds its debug-directory entry
# after the link, before make-package signs the file.
WIN_VERSION := $(shell cat VERSION)
WIN_ARCHES := x64 x86
WIN_FLAVOURS := chk fre
WIN_TRIPLET_x64 := x86_64-w64-mingw32
WIN_TRIPLET_x86 := i686-w64-mingw32
WIN_ARCHFLAGS_x64 := -mno-red-zone
WIN_ARCHFLAGS_x86 := -march=i686
WIN_ENTRY_x64 := DriverEntry
WIN_ENTRY_x86 := _DriverEntry@8
WIN_IMAGE_BASE_x64 := 0x140000000
WIN_IMAGE_BASE_x86 := 0x10000
WIN_FLAGS_chk := -DGPLPV_CHECKED -DDBG=1 -O1
WIN_FLAGS_fre := -O2
WIN_DIR := $(BUILD)/win
# Xen's public headers as system headers: ring.h casts pointers to long,
# which is 32 bits on Win64; the macros are correct, the warning is not ours.
# Xen's x86-64 ABI has 64-bit longs (xen_pfn_t, xen_ulong_t, the event
# channel words, vcpu_info's cr2/pad, arch_shared_info); Windows x64 is
# LLP64, so the x64 drivers build against a copy whose `unsigned long` is
# `unsigned long long` (found by the kernel host: Xen refused shared_info).
# Windows x86, for its part, aligns 64-bit fields to 8 bytes where i386's
# ABI (Xen's "x86_32-abi", which blkfront announces as its protocol) aligns
# them to 4: blkback read every request's id and sector at the wrong
# offsets.  So the x86 drivers build against a copy of the headers whose
# structures are packed to 4 (#pragma pack around each header).  Both are
# checked against Linux's own layouts by windows/tools/check-xen-abi.
WIN_XEN_INC := $(WIN_DIR)/xen-include
WIN_XEN_INC_x86 := $(WIN_DIR)/xen-include-ilp32
WIN_XEN_INC_x64 := $(WIN_DIR)/xen-include-llp64
# The core with its own include paths only (CORE_INC), the drivers with these.
WIN_INC := -Iinclude -Iwindows/include
WIN_HEADERS := $(HEADERS) $(wildcard windows/*/*.h)
# xenpci owns the platform; its children need only these pieces of it
WIN_PLATFORM_SRCS := windows/platform/win_os.c windows/platform/win_arch.c windows/platform/win_registry.c \
  windows/platform/win_nx.c
XENPCI_SRCS := $(sort $(wildcard windows/xenpci/*.c))
# storport_layout_check.c is compiled (its asserts are the check), never linked
XENVBD_SRCS := $(filter-out %/storport_layout_check.c,$(sort $(wildcard windows/xenvbd/*.c)))
XENNET_SRCS := $(sort $(wildcard windows/xennet/*.c))

$(WIN_XEN_INC)/xen:
	@mkdir -p $(WIN_XEN_INC)
	ln -sfn /usr/include/xen $@

$(WIN_XEN_INC_x86)/xen: mk/windows.mk
	@rm -rf $@.tmp && mkdir -p $(WIN_XEN_INC_x86) && cp -r /usr/include/xen/. $@.tmp
	@find $@.tmp -name '*.h' -exec sed -i -e '1i #pragma pack(push, 4)' -e '$$a #pragma pack(pop)' {} +
	@rm -rf $@ && mv $@.tmp $@

$(WIN_XEN_INC_x64)/xen: mk/windows.mk
	@rm -rf $@.tmp && mkdir -p $(WIN_XEN_INC_x64) && cp -r /usr/include/xen/. $@.tmp
	@find $@.tmp -name '*.h' -exec sed -i -E 's/unsigned long( long)?/unsigned long long/g' {} +
	@rm -rf $@ && mv $@.tmp $@

.PHONY: windows win-setup
win-setup:
	@scripts/setup win

# $(1) flavour, $(2) arch
define win_rules
WIN_OUT_$(1)_$(2) := $(WIN_DIR)/$(1)-$(2)
WIN_CC_$(1)_$(2) := $(WIN_TRIPLET_$(2))-gcc
WIN_CFLAGS_$(1)_$(2) := -std=gnu11 $(WARN) $(XEN_IFACE) $(WIN_FLAGS_$(1)) $(WIN_ARCHFLAGS_$(2)) \
  -DGPLPV_VERSION=\"$(WIN_VERSION)\" -isystem $(WIN_XEN_INC_$(2)) \
  -isystem /usr/$(WIN_TRIPLET_$(2))/include/ddk \
  -ffreestanding -fno-builtin -fno-stack-protector -fno-strict-aliasing -mno-stack-arg-probe \
  -fno-asynchronous-unwind-tables -g --param=min-pagesize=0
WIN_LDFLAGS_$(1)_$(2) := -nostdlib -nostartfiles -Wl,--subsystem,native:6.0 -Wl,--entry,$(WIN_ENTRY_$(2)) \
  -Wl,--dynamicbase -Wl,--nxcompat -Wl,--forceinteg -Wl,--major-os-version,6 -Wl,--minor-os-version,0 \
  -Wl,--file-alignment,0x200 -Wl,--section-alignment,0x1000 -Wl,--image-base,$(WIN_IMAGE_BASE_$(2))

$(WIN_DIR)/$(1)-$(2)/%.o: %.c $(WIN_HEADERS) Makefile mk/windows.mk | win-setup $(WIN_XEN_INC_$(2))/xen
	@mkdir -p $$(@D)
	@echo "  CC [$(1)-$(2)] $$<"
	@$$(WIN_CC_$(1)_$(2)) $$(WIN_CFLAGS_$(1)_$(2)) $$(if $$(filter core/%,$$<),$(CORE_INC),$(WIN_INC)) -c $$< -o $$@

$(WIN_DIR)/$(1)-$(2)/libgplpv_core.a: $(CORE_SRCS:%.c=$(WIN_DIR)/$(1)-$(2)/%.o)
	@rm -f $$@; $(WIN_TRIPLET_$(2))-ar rcs $$@ $$^

$(WIN_DIR)/$(1)-$(2)/xenpci.sys: $(XENPCI_SRCS:%.c=$(WIN_DIR)/$(1)-$(2)/%.o) \
    $(WIN_PLATFORM_SRCS:%.c=$(WIN_DIR)/$(1)-$(2)/%.o) $(WIN_DIR)/$(1)-$(2)/libgplpv_core.a
	@echo "  LD [$(1)-$(2)] $$@"
	@mkdir -p $$(@D)/debug
	@$$(WIN_CC_$(1)_$(2)) $$(WIN_LDFLAGS_$(1)_$(2)) -o $$(@D)/debug/$$(@F) $$^ -lntoskrnl -lhal -lgcc
	@$(WIN_TRIPLET_$(2))-objcopy --strip-debug $$(@D)/debug/$$(@F) $$@
	@windows/tools/pe-cet-compat $$@

$(WIN_DIR)/$(1)-$(2)/lib/libstorport.a: windows/lib/storport-$(2).def
	@mkdir -p $$(@D)
	@$(WIN_TRIPLET_$(2))-dlltool $(if $(filter x86,$(2)),-k) -d $$< -l $$@

$(WIN_DIR)/$(1)-$(2)/xenvbd.sys: $(XENVBD_SRCS:%.c=$(WIN_DIR)/$(1)-$(2)/%.o) \
    $(WIN_DIR)/$(1)-$(2)/windows/platform/win_registry.o $(WIN_DIR)/$(1)-$(2)/windows/platform/win_xenpci.o \
    $(WIN_DIR)/$(1)-$(2)/libgplpv_core.a \
    $(WIN_DIR)/$(1)-$(2)/lib/libstorport.a $(WIN_DIR)/$(1)-$(2)/windows/xenvbd/storport_layout_check.o
	@echo "  LD [$(1)-$(2)] $$@"
	@mkdir -p $$(@D)/debug
	@$$(WIN_CC_$(1)_$(2)) $$(WIN_LDFLAGS_$(1)_$(2)) -o $$(@D)/debug/$$(@F) \
	  $$(filter-out %/storport_layout_check.o,$$^) -lntoskrnl -lhal -lgcc
	@$(WIN_TRIPLET_$(2))-objcopy --strip-debug $$(@D)/debug/$$(@F) $$@
	@windows/tools/pe-cet-compat $$@

$(WIN_DIR)/$(1)-$(2)/xennet.sys: $(XENNET_SRCS:%.c=$(WIN_DIR)/$(1)-$(2)/%.o) \
    $(WIN_DIR)/$(1)-$(2)/windows/platform/win_xenpci.o $(WIN_DIR)/$(1)-$(2)/windows/platform/win_nx.o \
    $(WIN_DIR)/$(1)-$(2)/libgplpv_core.a
	@echo "  LD [$(1)-$(2)] $$@"
	@mkdir -p $$(@D)/debug
	@$$(WIN_CC_$(1)_$(2)) $$(WIN_LDFLAGS_$(1)_$(2)) -o $$(@D)/debug/$$(@F) $$^ -lndis -lntoskrnl -lhal -lgcc
	@$(WIN_TRIPLET_$(2))-objcopy --strip-debug $$(@D)/debug/$$(@F) $$@
	@windows/tools/pe-cet-compat $$@

WIN_SYS += $(WIN_DIR)/$(1)-$(2)/xenpci.sys $(WIN_DIR)/$(1)-$(2)/xenvbd.sys $(WIN_DIR)/$(1)-$(2)/xennet.sys

# user-space programs: the shutdown monitor service and the installer helper
WIN_UCFLAGS_$(1)_$(2) := -std=gnu11 $(WARN) $(if $(filter chk,$(1)),-O1 -g -DGPLPV_CHECKED,-O2) \
  -DGPLPV_VERSION=\"$(WIN_VERSION)\" -Iwindows/include -static-libgcc
$(WIN_DIR)/$(1)-$(2)/shutdownmon.exe: windows/shutdownmon/shutdownmon.c windows/include/xenpci_ioctl.h | win-setup
	@echo "  CC [$(1)-$(2)] $$@"
	@$$(WIN_CC_$(1)_$(2)) $$(WIN_UCFLAGS_$(1)_$(2)) $$< -o $$@ -ladvapi32 -lpowrprof
$(WIN_DIR)/$(1)-$(2)/gplpv_setup.exe: windows/installer/gplpv_setup.c | win-setup
	@echo "  CC [$(1)-$(2)] $$@"
	@$$(WIN_CC_$(1)_$(2)) $$(WIN_UCFLAGS_$(1)_$(2)) -municode $$< -o $$@ -lsetupapi -ladvapi32
WIN_EXE += $(WIN_DIR)/$(1)-$(2)/shutdownmon.exe $(WIN_DIR)/$(1)-$(2)/gplpv_setup.exe
endef
$(foreach f,$(WIN_FLAVOURS),$(foreach a,$(WIN_ARCHES),$(eval $(call win_rules,$(f),$(a)))))

# ---- packages: dist/gplpv_<chk|fre>_wlh_<arch>_<version>.msi ("wlh": the
# Windows Vista/Server 2008 family and later, as GPLPV named it)
define win_pkg_rules
dist/gplpv_$(1)_wlh_$(2)_$(WIN_VERSION).msi: $(WIN_DIR)/$(1)-$(2)/xenpci.sys $(WIN_DIR)/$(1)-$(2)/xenvbd.sys \
    $(WIN_DIR)/$(1)-$(2)/xennet.sys $(WIN_DIR)/$(1)-$(2)/shutdownmon.exe $(WIN_DIR)/$(1)-$(2)/gplpv_setup.exe \
    $(wildcard windows/inf/*.inf) windows/installer/gplpv.wxs windows/tools/make-package windows/tools/mkcat VERSION
	@windows/tools/make-package $(1) $(2) $(WIN_VERSION) $(WIN_DIR) $$@
WIN_MSI += dist/gplpv_$(1)_wlh_$(2)_$(WIN_VERSION).msi
endef
$(foreach f,$(WIN_FLAVOURS),$(foreach a,$(WIN_ARCHES),$(eval $(call win_pkg_rules,$(f),$(a)))))

windows: $(WIN_SYS) $(WIN_EXE) $(WIN_MSI)
ALL_TARGETS += windows

# ---- checks: every driver builds for both architectures (-Werror above),
# is a native PE importing only what Windows provides, and the x64 xenpci
# runs its DriverEntry under wine64 (a smoke test, not Windows).
check-win: $(WIN_SYS) $(WIN_MSI)
	@echo "== Windows drivers and packages"
	@XEN_IFACE='$(XEN_IFACE)' windows/tools/check-win $(WIN_DIR) $(WIN_VERSION) $(WIN_MSI)
CHECK_STAGES += win
FAST_STAGES += win

# ---- the Windows kernel host (windows/host, docs/windows.md): a Linux
# program that loads the signed x64 xenpci.sys as the MSI ships it and
# runs it against the simulator; wh_layout_check.c is compiled by mingw
# only (its asserts compare the host's structures with the DDK's).
WH_SRCS := $(filter-out %/wh_layout_check.c,$(sort $(wildcard windows/host/*.c)))
WH_BIN := $(BUILD)/host/winhost/wh_main
$(WH_SRCS:%.c=$(BUILD)/host/%.o): $(wildcard windows/host/*.h)
$(BUILD)/host/winhost/layout-ok: windows/host/wh_layout_check.c windows/host/wh_nt.h | win-setup
	@mkdir -p $(@D)
	@$(WIN_TRIPLET_x64)-gcc -std=gnu11 $(WARN) -isystem /usr/$(WIN_TRIPLET_x64)/include/ddk \
	  -fsyntax-only $< && touch $@
# A driver that breaks the rules on purpose (windows/host/testdrv): the
# host must report each of its violations.  Not packaged.
WH_BADDRV := $(WIN_DIR)/fre-x64/testdrv/wh_baddrv.sys
$(WH_BADDRV): $(WIN_DIR)/fre-x64/windows/host/testdrv/wh_baddrv.o
	@mkdir -p $(@D)
	@$(WIN_CC_fre_x64) $(WIN_LDFLAGS_fre_x64) -o $@ $^ -lntoskrnl -lhal -lgcc
$(WH_BIN): $(WH_SRCS:%.c=$(BUILD)/host/%.o) $(BUILD)/host/libgplpv_sim.a $(BUILD)/host/libgplpv_core.a \
    $(BUILD)/host/winhost/layout-ok
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) $(filter %.o %.a,$^) -o $@ $(LDLIBS)
ALL_TARGETS += $(WH_BIN) $(WH_BADDRV)

.PHONY: check-winhost
check-winhost: $(WH_BIN) $(WH_BADDRV) $(foreach f,$(WIN_FLAVOURS),dist/gplpv_$(f)_wlh_x64_$(WIN_VERSION).msi)
	@echo "== Windows kernel host: the signed x64 xenpci.sys, xenvbd.sys and xennet.sys run against the simulator"
	@windows/tools/check-winhost $(WH_BIN) $(WIN_DIR) $(WH_BADDRV) $(WIN_FLAVOURS)
CHECK_STAGES += winhost
FAST_STAGES += winhost
