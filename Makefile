# Thin wrapper over meson/ninja. `make` builds ./build/mvm.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
PREFIX ?= /usr/local

.PHONY: all deps build test test-asan fuzz demo install bench bench-quick bench-files clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX) >/dev/null

build: deps $(BUILD)/build.ninja
	@ninja -C $(BUILD) >/dev/null
	@ln -sf src/cli/mvm $(BUILD)/mvm

test: build
	meson test -C $(BUILD) --print-errorlogs

# the same tests under AddressSanitizer + UndefinedBehaviorSanitizer
test-asan: deps
	@[ -f $(ASAN_BUILD)/build.ninja ] || meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
	@ninja -C $(ASAN_BUILD) >/dev/null
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(ASAN_BUILD) --print-errorlogs --timeout-multiplier 4

# libFuzzer targets (clang), FUZZ_SECONDS each
FUZZ_SECONDS ?= 30
fuzz: deps
	@[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang meson setup $(FUZZ_BUILD) -Dfuzzing=true \
		-Db_sanitize=address,undefined -Db_lundef=false >/dev/null
	@ninja -C $(FUZZ_BUILD) >/dev/null
	@for f in $(FUZZ_BUILD)/fuzz/*_fuzz; do \
		t=$$(basename $$f _fuzz); mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
		echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(FUZZ_BUILD)/corpus/$$t fuzz/corpora/$$t 2>&1 | tail -3 || exit 1; \
	done

demo: build
	@scripts/demo.sh $(BUILD)

install: build
	meson install -C $(BUILD)

# mvm next to git-lfs, restic and borg, and this machine's limits (bench/peers.sh;
# bench/run.sh alone gives mvm's figures only)
bench: build
	@bench/peers.sh full

bench-quick: build
	@bench/peers.sh quick

# a dataset of 20k small files, mvm next to git, restic and borg (bench/files.sh)
bench-files: build
	@bench/files.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
