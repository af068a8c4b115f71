# The two commands of the README. Each installs missing Debian packages
# (scripts/install-deps.sh), configures with CMake + Ninja and builds.
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)

.PHONY: all deps deps-test deps-fuzz deps-bench build run test bench bench-peers validate sanitizers fuzz install clean

all: build

deps:
	@scripts/install-deps.sh

# `make test` also runs the interop tests against DPDK's testpmd.
deps-test:
	@scripts/install-deps.sh test

deps-fuzz:
	@scripts/install-deps.sh fuzz

# `make bench-peers` builds Linux ringtest and the DPDK rte_ring floor.
deps-bench:
	@scripts/install-deps.sh bench

$(BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# The default simulation: packed ring, 256 entries, vhost path, EVENT_IDX, one
# queue pair, loopback wire, 100 000 frames of 64 bytes; report (JSON and HTML) and waves in out/.
run: build
	$(BUILD)/sim/virtiosim run --report out/report.json --html out/report.html --vcd out/run.vcd

test: deps-test build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The executable, libraries, headers, the CMake package (find_package(virtiosim))
# and the Python package under PREFIX (README, "Install").
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

bench: build
	$(BUILD)/testbench/bench/ring_bench
	scripts/sim-bench.sh $(BUILD)

# The ring core against Linux tools/virtio/ringtest (built on the fly from
# linux-source-6.1) and DPDK rte_ring, in ringtest's harness, interleaved;
# builds only what it runs. Then the instructions per buffer of each ring
# in one thread (callgrind), which the machine's load does not change.
# PEERS_REPS, PEERS_BATCHES, PEERS_CYCLES, ... in the two scripts;
# docs/performance.md, "Side by side with Linux ringtest and DPDK".
bench-peers: deps-bench $(BUILD)/build.ninja
	testbench/bench/peers/bench-peers.sh $(BUILD)
	testbench/bench/peers/count-instructions.sh $(BUILD)

# The simulator beside published measurements and a live DPDK testpmd run
# (virtio-user into net_vhost, packed and split): regenerates docs/validation.md
# (scripts/validate.py; a few minutes, most of it the live run).
validate: deps-test build
	/usr/bin/python3 scripts/validate.py --build $(BUILD)

# ASan+UBSan builds of the ring and virtio-PCI tests, TSan of the ring tests
# (CI runs these too).
sanitizers: deps
	cmake -S . -B $(BUILD)-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DVIRTIOSIM_ASAN=ON -DVIRTIOSIM_BENCH=OFF
	cmake --build $(BUILD)-asan -j $(JOBS) --target ring_tests pci_tests
	ctest --test-dir $(BUILD)-asan --output-on-failure -j $(JOBS) -L 'ring|pci'
	cmake -S . -B $(BUILD)-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIRTIOSIM_TSAN=ON -DVIRTIOSIM_BENCH=OFF
	cmake --build $(BUILD)-tsan -j $(JOBS) --target ring_tests
	ctest --test-dir $(BUILD)-tsan --output-on-failure -j $(JOBS) -L ring

# The libFuzzer targets (testbench/fuzz) under ASan+UBSan, built with clang
# in their own directory, each run for FUZZ_SECONDS from a copy of its
# checked-in corpus (CI runs this too). Fails if any target fails.
FUZZ_SECONDS ?= 60
fuzz: deps-fuzz
	CC=clang CXX=clang++ cmake -S . -B $(BUILD)-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIRTIOSIM_FUZZ=ON
	cmake --build $(BUILD)-fuzz -j $(JOBS)
	scripts/fuzz.sh $(BUILD)-fuzz $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-tsan $(BUILD)-fuzz
