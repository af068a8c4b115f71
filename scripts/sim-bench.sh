#!/usr/bin/env bash
# Simulator speed: simulated packets per wall-clock second of the default
# scenario with waves off and on (alternating, every run reported), and the
# ring core's single-thread round trip from the same build, as ratios.
# Usage: scripts/sim-bench.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
build=${1:-build}
rounds=${2:-3}
sim=$build/sim/virtiosim
bench=$build/testbench/bench/ring_bench
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rate() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['wall']['simulated_packets_per_second'])" "$1"; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

off=() on=()
for r in $(seq "$rounds"); do
  "$sim" run --quiet --report "$tmp/off.json"
  off+=("$(rate "$tmp/off.json")")
  "$sim" run --quiet --report "$tmp/on.json" --vcd "$tmp/run.vcd"
  on+=("$(rate "$tmp/on.json")")
  printf 'round %d: vcd off %.0f pkt/s, vcd on %.0f pkt/s\n' "$r" "${off[-1]}" "${on[-1]}"
done
"$bench" --benchmark_filter='RoundTrip/packed/256$' --benchmark_min_time=0.2 \
  --benchmark_out="$tmp/rt.json" --benchmark_out_format=json > /dev/null 2>&1
rt_ns=$(python3 -c "import json,sys; b=[x for x in json.load(open(sys.argv[1]))['benchmarks'] if x['name'].startswith('RoundTrip/packed')]; print(b[0]['real_time'])" "$tmp/rt.json")
m_off=$(median "${off[@]}")
m_on=$(median "${on[@]}")
python3 - "$m_off" "$m_on" "$rt_ns" <<'PY'
import sys
off, on, rt = map(float, sys.argv[1:])
native = 1e9 / rt
print(f"median simulated packets per wall second: vcd off {off:.0f}, vcd on {on:.0f} (on/off {on/off:.2f})")
print(f"ring core round trip (native, packed 256): {rt:.1f} ns per buffer = {native/1e6:.1f} M buffers/s")
print(f"simulator / native ring: {off/native:.4f} (one simulated packet = 2 buffers through 2 rings, plus the platform)")
PY
