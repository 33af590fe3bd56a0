# The core hosted in a Linux domU's user space (linux/): the platform over
# /dev/xen (linux/platform), gplpv-blk (NBD), gplpv-net (TAP) and the
# tools the lab's domU runs.  Statically linked: the domU's initramfs
# carries them as they are.
LINUX_DIR := $(BUILD)/linux
LINUX_CFLAGS := $(HOST_CFLAGS) -Iinclude -Iposix -Ilinux/platform -Ilinux/blk -Ilinux/net
LINUX_HEADERS := $(wildcard linux/*/*.h)
LXP_SRCS := $(sort $(wildcard linux/platform/*.c posix/*.c))
LINUX_PROGS := gplpv-blk gplpv-net gplpv-xs gplpv-pattern gplpv-netcheck
LINUX_BINS := $(LINUX_PROGS:%=$(LINUX_DIR)/bin/%)

$(LINUX_DIR)/%.o: %.c $(HEADERS) $(LINUX_HEADERS) Makefile mk/linux.mk | setup
	@mkdir -p $(@D)
	$(CC) $(LINUX_CFLAGS) -c $< -o $@

LXP_OBJS := $(LXP_SRCS:%.c=$(LINUX_DIR)/%.o)
define linux_prog
$(LINUX_DIR)/bin/$(1): $(patsubst %.c,$(LINUX_DIR)/%.o,$(2)) $(LXP_OBJS) $(BUILD)/host/libgplpv_core.a
	@mkdir -p $$(@D)
	$$(CC) $(LINUX_CFLAGS) -static $$(patsubst %.c,$(LINUX_DIR)/%.o,$(2)) $(LXP_OBJS) \
	  $(BUILD)/host/libgplpv_core.a -o $$@ -lpthread
endef
$(eval $(call linux_prog,gplpv-blk,$(sort $(wildcard linux/blk/*.c))))
$(eval $(call linux_prog,gplpv-net,$(sort $(wildcard linux/net/*.c))))
$(eval $(call linux_prog,gplpv-xs,linux/tools/gplpv_xs.c))
$(eval $(call linux_prog,gplpv-pattern,linux/tools/gplpv_pattern.c))
$(eval $(call linux_prog,gplpv-netcheck,linux/tools/gplpv_netcheck.c))

.PHONY: linux
linux: $(LINUX_BINS)
ALL_TARGETS += linux

# ---- the lab: a Linux PV domU running them against real blkback/netback ----
LXH_ALL_TESTS := xs,blk,hotplug,net,linux-blk,linux-net
LXH_TESTS ?= $(LXH_ALL_TESTS)
# The ok/FAIL lines a complete run reports (checked only when every group runs).
LXH_EXPECT_STEPS := $(if $(subst $(LXH_ALL_TESTS),,$(LXH_TESTS)),,62)
$(LAB_DIR)/domu.cpio.gz: lab/build-domu-initrd $(wildcard lab/domu/*) $(LINUX_BINS) | lab-setup
	@mkdir -p $(@D)
	lab/build-domu-initrd $@ $(LINUX_DIR)/bin

.PHONY: check-linux-xen
check-linux-xen: lab $(LAB_DIR)/domu.cpio.gz
	@echo "== our frontends in a Linux PV domU's user space, on real Xen 4.17 (lab)"
	@LXH_EXPECT_STEPS=$(LXH_EXPECT_STEPS) lab/run-linux-hosting $(LAB_DIR) $(LAB_DIR)/domu.cpio.gz $(LINUX_DIR)/bin $(LXH_TESTS)
CHECK_STAGES += linux-xen

# ---- unit tests of the portable parts (tests/linux/), with the simulator ----
# They link the NBD server and the virtio-net header mapping as well.
LXT_SRCS := linux/blk/lxblk_nbd.c linux/net/lxnet_vnet.c
define linux_test_rules
$(BUILD)/$(1)/bin/linux/%: $(BUILD)/$(1)/tests/linux/%.o $(LXT_SRCS:%.c=$(BUILD)/$(1)/%.o) \
    $(BUILD)/$(1)/libgplpv_sim.a $(BUILD)/$(1)/libgplpv_core.a
	@mkdir -p $$(@D)
	$$(CC) $(2) $$^ -o $$@ $(LDLIBS)
endef
$(eval $(call linux_test_rules,host,$(HOST_CFLAGS)))
$(eval $(call linux_test_rules,asan,$(ASAN_CFLAGS)))

# make demo ends with this run: real data through our frontends in Linux
# user space, and the comparison table against Linux's own.
.PHONY: demo-linux
demo-linux: lab $(LAB_DIR)/domu.cpio.gz
	@echo "== gplpv demo, part 2: our blkfront and netfront in a Linux PV domU's user space (NBD disk, TAP NIC), then Linux's own on the same backends"
	@LXH_EXPECT_STEPS=$(LXH_EXPECT_STEPS) lab/run-linux-hosting $(LAB_DIR) $(LAB_DIR)/domu.cpio.gz $(LINUX_DIR)/bin $(LXH_TESTS)
