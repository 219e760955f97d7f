# Front door. `make run` and `make test` are the README's Quick start; both
# install missing Debian packages first (scripts/install-deps.sh).
BUILD      ?= build
ASAN_BUILD ?= build-asan
RELEASE_BUILD ?= build-release
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
DURATION   ?= 0
# Warnings are errors here and in CI; a plain `cmake` leaves them warnings
# (VF_WERROR in CMakeLists.txt). WERROR=OFF to build with a newer compiler.
WERROR     ?= ON
CMAKE_FLAGS ?=
VF_CMAKE   = -DVF_WERROR=$(WERROR) $(CMAKE_FLAGS)

.PHONY: all deps build build-asan build-release build-fuzz run run-two-hosts \
	test unit unit-asan release fuzz integration bench clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(VF_CMAKE)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DVF_SANITIZE=ON -DVF_BUILD_PERF=OFF $(VF_CMAKE)

build-asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# What a packager builds (-O3, no debug info), so optimiser-only warnings
# (-Wformat-truncation, -Wmaybe-uninitialized) fail here, not at a user's.
$(RELEASE_BUILD)/CMakeCache.txt:
	cmake -S . -B $(RELEASE_BUILD) -DCMAKE_BUILD_TYPE=Release $(VF_CMAKE)

build-release: deps $(RELEASE_BUILD)/CMakeCache.txt
	cmake --build $(RELEASE_BUILD) -j $(JOBS)

# The clang build: every library and test with clang's warnings, plus the
# libFuzzer targets (tests/fuzz, docs/fuzzing.md) under ASan+UBSan.
$(FUZZ_BUILD)/CMakeCache.txt:
	cmake -S . -B $(FUZZ_BUILD) -DVF_FUZZ=ON -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_CXX_COMPILER=clang++ $(VF_CMAKE)

build-fuzz: deps $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j $(JOBS)

# The demo: vfabd on in-memory ports with generated traffic (Ctrl-C stops it;
# DURATION=N stops it after N seconds).
run: build
	$(BUILD)/mgmt/vfabd -c examples/demo.yaml --demo --duration $(DURATION)

# Two chassis on one machine over the UDP underlay on loopback: hv2 in the
# background, hv1 in front with the live view (DURATION defaults to 20 s).
run-two-hosts: build
	@$(BUILD)/mgmt/vfabd -c examples/two-hosts-hv2.yaml -s /tmp/vfab-hv2.sock --demo -q & \
	  pid=$$!; trap 'kill $$pid 2>/dev/null; wait $$pid' EXIT; sleep 1; \
	  $(BUILD)/mgmt/vfabd -c examples/two-hosts-hv1.yaml -s /tmp/vfab-hv1.sock --demo \
	    --duration $(if $(filter 0,$(DURATION)),20,$(DURATION))

unit: build
	cd $(BUILD) && ctest --output-on-failure

unit-asan: build-asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure

# The Release build must build cleanly; its tests are those of `unit`.
release: build-release

# A short bounded run of each fuzz target (ctest fuzz_*_short).
fuzz: build-fuzz
	cd $(FUZZ_BUILD) && ctest -R '^fuzz_' --output-on-failure

integration: build
	tests/integration/run-all.sh $(BUILD)

# Every test: unit tests (plain and under ASan+UBSan), the Release and clang
# builds with the short fuzz runs, and integration tests.
test: unit unit-asan release fuzz integration

bench: build
	$(BUILD)/perf/vfab-bench

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(RELEASE_BUILD) $(FUZZ_BUILD)
