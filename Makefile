# The two commands of the quick start (README.md):
#   make demo   install missing Debian packages, build, run the seed scenario on ARM and x86 and the
#               transfer-point study (every arm.transfer value x every admissible restore order), then
#               its fragility per order set (data, abi, qemu, qemu-7.2, cloud-hypervisor)
#   make test   install missing Debian packages, build, run every test through ctest
# Other targets: build, bench (Release build + Google Benchmark), bench-machine (the machine-mode
# bench guest on QEMU TCG and irqdiff side by side: bench/machine_qemu.py), fuzz (every libFuzzer
# target for FUZZ_SECONDS each, clang + ASan/UBSan: docs/fuzzing.md), coverage (line coverage per
# folder, tests alone and with the fuzz corpora: docs/fuzzing.md), invariants (the model's invariants
# on INVARIANT_SCENARIOS generated scenarios, Release build, one job per core: docs/fuzzing.md), clean.
PRESET ?= dev
BUILD  := build/$(PRESET)
SEED   := scenarios/seed/pending_across_migration.yaml

FUZZ_SECONDS ?= 60
INVARIANT_SCENARIOS ?= 10000
INVARIANT_SEED ?= 1

.PHONY: demo test build deps bench bench-machine fuzz coverage invariants clean

deps:
	@./scripts/install-deps.sh

build: deps
	cmake --preset $(PRESET)
	cmake --build --preset $(PRESET)

# irqdiff exits 1 when some run does not meet the scenario's expectations: in the study some
# transfer points are meant to fail, so 1 is a result here, not an error.
demo: build
	@echo
	$(BUILD)/cli/irqdiff run $(SEED) --arch both
	@echo
	$(BUILD)/cli/irqdiff explore $(SEED) --arch both --policy arm.transfer=all --order all || [ $$? -eq 1 ]
	@echo
	$(BUILD)/cli/irqdiff explore $(SEED) --arch both --policy arm.transfer=all --order all --order-set each \
	  | sed -n '/^fragility by order set/,$$p'

test: deps
	cmake --workflow --preset $(PRESET)

bench: deps
	cmake --preset release
	cmake --build --preset release --target irqdiff_bench
	build/release/bench/irqdiff_bench --benchmark_min_time=0.2 --benchmark_repetitions=3 \
	    --benchmark_report_aggregates_only=true

# The Release build against QEMU 7.2 TCG (Debian qemu-system-arm, installed here if missing).
# BENCH_ARGS, e.g. BENCH_ARGS="--iters 4096 --ops lpi,sgi".
bench-machine:
	@./scripts/install-deps.sh qemu-system-arm
	cmake --preset release
	cmake --build --preset release --target machine_guests irqdiff
	/usr/bin/python3 bench/machine_qemu.py --bin build/release/tests/machine/guests/bench.bin \
	    --irqdiff build/release/cli/irqdiff $(BENCH_ARGS)

# The fuzz preset (clang 14, ASan + UBSan, libFuzzer); FUZZ_SECONDS per target (CI: 3).
fuzz: deps
	cmake --preset fuzz
	cmake --build --preset fuzz
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./scripts/fuzz.sh

# The coverage preset (gcc --coverage) and gcovr's line coverage per top folder.
coverage: deps
	cmake --preset coverage
	cmake --build --preset coverage
	./scripts/coverage.sh

# Generated scenarios through every invariant check (irqdiff generate --check); exit 1 on a break.
invariants: deps
	cmake --preset release
	cmake --build --preset release --target irqdiff
	build/release/cli/irqdiff generate --check --seed $(INVARIANT_SEED) --count $(INVARIANT_SCENARIOS) \
	    --jobs $$(nproc) --out build/release/invariant-findings

clean:
	rm -rf build
