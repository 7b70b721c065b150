# The two commands a newcomer needs: `make demo` and `make test`.
# Each installs what it needs first (scripts/install-deps is idempotent).
SHELL := /bin/bash
JOBS ?= $(shell nproc)

.PHONY: deps build debug asan tsan test test-release test-asan test-tsan test-fuzz demo bench clean

deps:
	@scripts/install-deps

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)

# TSan runs only the tests labelled `runtime` (test-tsan), so only they are
# built: a test's name is its target's (sluice_test in CMakeLists.txt).
tsan: deps
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan -j $(JOBS) --target $$(cd build/tsan && ctest -L runtime -N | sed -n 's/^ *Test *#[0-9]*: //p')

# Unit and engine tests on the release build, then the same under
# ASan+UBSan, then the runtime tests under TSan, then a short fuzz run.
test: test-release test-asan test-tsan test-fuzz

test-release: build
	@cd build/release && ctest --output-on-failure -j $(JOBS)

test-asan: asan
	@cd build/asan && ctest --output-on-failure -j $(JOBS) -LE bench

test-tsan: tsan
	@cd build/tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ctest --output-on-failure -j $(JOBS) -L runtime

# A short run of each libFuzzer target (clang 14 preset `fuzz`; see tests/fuzz/).
test-fuzz: deps
	@tests/fuzz/run

demo: build
	@build/release/sluice demo

bench: build
	@bench/run-all

clean:
	rm -rf build
