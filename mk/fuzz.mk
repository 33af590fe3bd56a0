# Fuzz targets: tests/fuzz/fuzz_*.c, each a libFuzzer target built with
# clang (-fsanitize=fuzzer,address,undefined) against the core and the
# simulator, run for a bounded number of inputs from its seed corpus in
# tests/fuzz/corpus/<name>/ (copied, so runs never change the tree).
FUZZ_CC := clang
FUZZ_RUNS ?= 20000
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_CFLAGS := -std=c11 -Wall -Wextra -Werror $(XEN_IFACE) -Iinclude -Isim -Iposix -D_DEFAULT_SOURCE -D_GNU_SOURCE \
  -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_DIR)/bin/%)
FUZZ_LIB_OBJS := $(CORE_SRCS:%.c=$(FUZZ_DIR)/%.o) $(SIM_SRCS:%.c=$(FUZZ_DIR)/%.o)

$(FUZZ_DIR)/%.o: %.c $(HEADERS) | setup
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/bin/%: $(FUZZ_DIR)/tests/fuzz/%.o $(FUZZ_LIB_OBJS)
	@mkdir -p $(@D)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined $^ -o $@ -lpthread

.PHONY: fuzz check-fuzz
fuzz: $(FUZZ_BINS)

check-fuzz: $(FUZZ_BINS)
	@echo "== fuzz targets ($(FUZZ_RUNS) inputs each)"
	@pass=0; fail=0; for b in $(FUZZ_BINS); do n=$$(basename $$b); \
	  work=$$(mktemp -d); cp -r tests/fuzz/corpus/$$n/. $$work/ 2>/dev/null; \
	  if $$b -runs=$(FUZZ_RUNS) -max_total_time=60 -timeout=10 $$work >$$work.log 2>&1; then \
	    echo "ok $$n ($$(grep -o 'Done [0-9]* runs' $$work.log))"; pass=$$((pass+1)); \
	  else echo "FAIL $$n"; tail -30 $$work.log; fail=$$((fail+1)); fi; \
	  rm -rf $$work $$work.log; done; \
	echo "$$pass passed, $$fail failed"; [ $$fail -eq 0 ]
CHECK_STAGES += fuzz

# Keep the fuzz objects between runs (they are intermediate otherwise).
.SECONDARY:
