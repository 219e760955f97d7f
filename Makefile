# Front door. `make run` and `make test` are the README's Quick start; both
# install missing Debian packages first (scripts/install-deps.sh).
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
DURATION   ?= 0
CMAKE_FLAGS ?=

.PHONY: all deps build build-asan run run-two-hosts test unit unit-asan integration bench clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DVF_SANITIZE=ON -DVF_BUILD_PERF=OFF $(CMAKE_FLAGS)

build-asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)

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

integration: build
	tests/integration/run-all.sh $(BUILD)

# Every test: unit tests (plain and under ASan+UBSan) and integration tests.
test: unit unit-asan integration

bench: build
	$(BUILD)/perf/vfab-bench

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
