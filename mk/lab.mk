# The lab: real Xen 4.17 with a Linux dom0 booted under QEMU (TCG), all
# from Debian packages (scripts/setup lab).  Build outputs are cached in
# $(BUILD)/lab and rebuilt only when their inputs change.
LAB_DIR := $(BUILD)/lab
LAB_KERNEL = $(lastword $(sort $(wildcard /boot/vmlinuz-*)))

$(LAB_DIR)/xen: | lab-setup
	@mkdir -p $(@D)
	zcat /boot/xen-4.17-amd64.gz >$@

$(LAB_DIR)/dom0.cpio.gz: lab/build-dom0-initrd lab/dom0-init | lab-setup
	@mkdir -p $(@D)
	lab/build-dom0-initrd $@

.PHONY: lab-setup lab check-hvmk-xen demo
lab-setup:
	@scripts/setup lab

lab: $(LAB_DIR)/xen $(LAB_DIR)/dom0.cpio.gz

# The bare HVM test kernel as an HVM guest on real Xen: the bus driver's
# bring-up path (CPUID, hypercall page, shared_info, grant frames, upcall
# on every vCPU, xenstore against the real xenstored), blkfront and netfront
# against the real backends, the unplug, and the toolstack's requests.
# HVMK_EXPECT_STEPS: the ok/FAIL lines a complete run reports.
HVMK_EXPECT_STEPS := 62
check-hvmk-xen: lab $(HVMK_IMAGE)
	@echo "== hvmkernel as an HVM guest on real Xen 4.17 (lab)"
	@HVMK_EXPECT_STEPS=$(HVMK_EXPECT_STEPS) lab/run-hvmkernel $(LAB_DIR) $(HVMK_IMAGE) toolstack
CHECK_STAGES += hvmk-xen

demo: lab $(HVMK_IMAGE)
	@echo "== gplpv demo: real Xen 4.17 + Linux dom0 under QEMU (TCG), then our core in an HVM guest"
	@HVMK_EXPECT_STEPS=$(HVMK_EXPECT_STEPS) lab/run-hvmkernel $(LAB_DIR) $(HVMK_IMAGE) toolstack
	@$(MAKE) -s --no-print-directory demo-linux

# The lab checking itself: a guest that stops making progress is reported
# once, as the cause (lab/check-stall; about 3 min, not part of make check).
.PHONY: check-lab-stall
check-lab-stall: lab $(HVMK_IMAGE)
	@echo "== the lab reports a stalled guest as its one cause"
	@lab/check-stall $(LAB_DIR) $(HVMK_IMAGE)
