#!/usr/bin/env bash
# Installs the Debian packages virtiosim needs, only when one is missing.
# Usage: scripts/install-deps.sh [build|test|fuzz|bench]
set -euo pipefail
# The Python module (python/) is built with pybind11 for Debian's /usr/bin/python3.
# CLI11 (header-only) parses the command line (run, params, waves, vhost-user).
# nlohmann-json (header-only) reads JSON configs and writes reports (support/json_text).
# pugixml writes JUnit XML (support/junit: vhost-user check, run --junit).
build_pkgs=(cmake ninja-build g++ make libgtest-dev libbenchmark-dev linux-libc-dev libsystemc-dev libboost-dev libcli11-dev
            nlohmann-json3-dev libpugixml-dev pybind11-dev python3-dev)
# dpdk-testpmd (interop tests) is in dpdk-dev on Debian 12; the vhost and
# virtio-user PMDs and the ring mempool are only Recommends of dpdk.
# gtkwave: vcd2fst writes FST waves (run --fst, waves/record/fst.h; without
# it a run keeps the VCD) and checks that our VCD files parse with GTKWave's
# reader; fst2vcd reads FST back (tests). xvfb: the waves tests open our
# save files in GTKWave itself under a virtual X server (xvfb-run).
# The pytest suites (python/tests) run under /usr/bin/python3 with Debian's
# pytest, numpy, matplotlib and tqdm; python3-distributed runs a sweep on a
# local dask cluster.
# The guest tests (testbench/guest) boot a Debian kernel under QEMU with a
# busybox initramfs built with cpio (the kernel itself is fetched with
# apt-get download, not installed).
# The HTML run report is loaded in headless chromium (testbench/sim/report).
test_pkgs=(dpdk dpdk-dev librte-net-vhost23 librte-net-virtio23 librte-mempool-ring23 gtkwave xvfb
           python3-pytest python3-numpy python3-matplotlib python3-tqdm python3-distributed
           qemu-system-x86 busybox-static cpio chromium)
# The fuzz targets (make fuzz, testbench/fuzz) need clang and its runtime
# libraries: libclang_rt.fuzzer (libFuzzer), ASan and UBSan.
fuzz_pkgs=(clang libclang-rt-14-dev)
# make bench-peers (testbench/bench/peers): Linux tools/virtio/ringtest is
# extracted from linux-source-6.1's tarball, the rte_ring floor links
# dpdk-dev's libdpdk, valgrind (callgrind) counts instructions per buffer.
bench_pkgs=(linux-source-6.1 dpdk-dev valgrind)
case "${1:-build}" in
  build) want=("${build_pkgs[@]}") ;;
  test) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  fuzz) want=("${build_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
  bench) want=("${build_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|fuzz|bench]" >&2; exit 2 ;;
esac
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
