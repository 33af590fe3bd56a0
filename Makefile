# gplpv top-level Makefile.  See README.md for the two commands users need:
#   make demo    - boot the lab and move real data through our frontends
#   make check   - every test (unit, simulator, sanitizers, valgrind, fuzz,
#                  Windows build checks, real Xen lab); ends "N passed, N failed"
# Other targets: make (build what this machine can build), make check-fast,
# make bench, make clean.
#
# Rooms: core/<module>/*.c (portable core, no OS calls), sim/<part>/*.c
# (simulator), posix/*.c (OS services shared by sim/os and linux/platform),
# tests/<area>/test_*.c (one test program each), bench/*.c.
# Rooms with their own build rules add a fragment in mk/*.mk.

SHELL := /bin/bash
CC ?= gcc
ifeq ($(origin CC),default)
CC := gcc
endif

BUILD := build
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
# Guests that do not name a Xen interface version get the legacy one
# (compat hypercall numbers HVM guests may not use): name the latest.
XEN_IFACE := -D__XEN_INTERFACE_VERSION__=0x00040e00
COMMON_CFLAGS := -std=c11 $(WARN) $(XEN_IFACE) -D_DEFAULT_SOURCE -D_GNU_SOURCE
# Include paths, by room.  The core is compiled with its own only:
# include/ (the API the shells use) and core/ (the private headers beside
# its modules, "gnttab/gnttab.h"), so no core file can reach the simulator
# or the tests' harness.  The tests may also reach the core's private
# headers; the simulator, benchmarks and hosts see the public API only.
# $(call host_inc,FILE): the include paths FILE is compiled with.
CORE_INC := -Iinclude -Icore
HOST_INC := -Iinclude -Itests/harness -Isim -Iposix
TEST_INC := $(HOST_INC) -Icore
host_inc = $(if $(filter core/%,$(1)),$(CORE_INC),$(if $(filter tests/%,$(1)),$(TEST_INC),$(HOST_INC)))
HOST_CFLAGS := $(COMMON_CFLAGS) -O2 -g
ASAN_CFLAGS := $(COMMON_CFLAGS) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDLIBS := -lpthread

CORE_SRCS := $(sort $(wildcard core/*/*.c))
SIM_SRCS  := $(sort $(wildcard sim/*.c sim/*/*.c posix/*.c))
TEST_SRCS := $(sort $(filter-out tests/fuzz/% tests/harness/%,$(wildcard tests/*/test_*.c)))
HEADERS   := $(wildcard include/gplpv/*.h core/*/*.h sim/*.h sim/*/*.h posix/*.h tests/harness/*.h)

# CHECK_STAGES: each names a target check-<stage> whose output ends with
# "N passed, N failed"; scripts/check runs them in order and adds them up.
CHECK_STAGES := unit asan valgrind
FAST_STAGES := unit asan
ALL_TARGETS := core-lib sim-lib tests

.PHONY: all check check-fast bench demo clean setup tests core-lib sim-lib \
        check-unit check-asan check-valgrind
# "all" is the default goal; its prerequisites are named at the end of this
# file, once every mk/*.mk fragment has added its targets to ALL_TARGETS.
.DEFAULT_GOAL := all

setup:
	@scripts/setup core

# ---- one set of rules per build variant -----------------------------------
# $(1) variant name, $(2) CFLAGS
define variant_rules
$(BUILD)/$(1)/%.o: %.c $(HEADERS) Makefile | setup
	@mkdir -p $$(@D)
	$$(CC) $(2) $$(call host_inc,$$<) -c $$< -o $$@

$(BUILD)/$(1)/libgplpv_core.a: $(CORE_SRCS:%.c=$(BUILD)/$(1)/%.o)
	@mkdir -p $$(@D); rm -f $$@
	ar rcs $$@ $$^

$(BUILD)/$(1)/libgplpv_sim.a: $(SIM_SRCS:%.c=$(BUILD)/$(1)/%.o)
	@mkdir -p $$(@D); rm -f $$@
	ar rcs $$@ $$^

$(BUILD)/$(1)/bin/%: $(BUILD)/$(1)/tests/%.o $(BUILD)/$(1)/libgplpv_sim.a $(BUILD)/$(1)/libgplpv_core.a
	@mkdir -p $$(@D)
	$$(CC) $(2) $$^ -o $$@ $(LDLIBS)
endef
$(eval $(call variant_rules,host,$(HOST_CFLAGS)))
$(eval $(call variant_rules,asan,$(ASAN_CFLAGS)))

HOST_TESTS := $(TEST_SRCS:tests/%.c=$(BUILD)/host/bin/%)
ASAN_TESTS := $(TEST_SRCS:tests/%.c=$(BUILD)/asan/bin/%)

core-lib: $(BUILD)/host/libgplpv_core.a
sim-lib: $(BUILD)/host/libgplpv_sim.a
tests: $(HOST_TESTS)

check-unit: $(HOST_TESTS)
	@echo "== unit and simulator tests ($(words $(HOST_TESTS)) programs), and the source rules (scripts/check-source)"
	@scripts/run-tests scripts/check-source $(HOST_TESTS)

check-asan: $(ASAN_TESTS)
	@echo "== unit and simulator tests under ASan+UBSan"
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  scripts/run-tests --timeout 600 $(ASAN_TESTS)

check-valgrind: $(HOST_TESTS)
	@echo "== unit and simulator tests under valgrind memcheck"
	@GP_TEST_SLOW=1 scripts/run-tests --timeout 900 \
	  --wrap "valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --track-origins=no" \
	  $(HOST_TESTS)

check-fast:
	+@scripts/check $(FAST_STAGES)

check:
	+@scripts/check $(CHECK_STAGES)

include $(sort $(wildcard mk/*.mk))

# Everything this machine can build: core, simulator, tests, the HVM test
# kernel, the Linux-hosted programs, the Windows drivers and their MSIs.
all: $(ALL_TARGETS)

clean:
	rm -rf $(BUILD) dist

# ---- benchmarks: bench/bench_*.c, one program each ------------------------
BENCH_SRCS := $(sort $(wildcard bench/bench_*.c))
BENCH_PROGS := $(BENCH_SRCS:bench/%.c=$(BUILD)/host/bench/%)
$(BUILD)/host/bench/%: $(BUILD)/host/bench/%.o $(BUILD)/host/libgplpv_sim.a $(BUILD)/host/libgplpv_core.a
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) $^ -o $@ $(LDLIBS)

.PHONY: bench
bench: $(BENCH_PROGS)
	@failed=""; for b in $(BENCH_PROGS); do echo "== $$b"; $$b || failed="$$failed $${b##*/}"; done; \
	  if [ -n "$$failed" ]; then echo "make bench: a target failed in:$$failed"; exit 1; fi
