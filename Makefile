# The two commands of the quick start (README.md):
#   make demo   install missing Debian packages, build, run the seed scenario and print its table
#   make test   install missing Debian packages, build, run every test through ctest
# Other targets: build, bench (Release build + Google Benchmark), clean.
PRESET ?= dev
BUILD  := build/$(PRESET)
SEED   := scenarios/seed/pending_across_migration.yaml

.PHONY: demo test build deps bench clean

deps:
	@./scripts/install-deps.sh

build: deps
	cmake --preset $(PRESET)
	cmake --build --preset $(PRESET)

demo: build
	@echo
	$(BUILD)/cli/irqdiff run $(SEED)

test: deps
	cmake --workflow --preset $(PRESET)

bench: deps
	cmake --preset release
	cmake --build --preset release --target irqdiff_bench
	build/release/bench/irqdiff_bench --benchmark_min_time=0.2 --benchmark_repetitions=3 \
	    --benchmark_report_aggregates_only=true

clean:
	rm -rf build
