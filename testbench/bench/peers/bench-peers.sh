#!/usr/bin/env bash
# Our ring core side by side with Linux tools/virtio/ringtest and DPDK
# rte_ring (docs/performance.md, "Side by side with Linux ringtest and
# DPDK"). Builds the programs (target bench_peers: ringtest from the
# linux-source-6.1 tarball, our adapters, the rte_ring floor), then runs
# them interleaved, rep -> batch -> program, each pinned the same way, and
# prints every run, the median rates and the median ratios ours/theirs.
#
# usage: bench-peers.sh BUILD_DIR          build and run
#        bench-peers.sh --check BUILD_DIR  only check the prerequisites
#
# Every program is one of ringtest's (main.c's harness, or the same options
# for rte_ring_spsc) and is run as
#   PROGRAM --ring-size R --run-cycles C --batch B --guest-affinity G --host-affinity H
# i.e. busy-poll (no --sleep), one thread per CPU; it prints nothing and
# exits 0 once every buffer came back. A run's rate is C / the process's
# wall time (ringtest has no timer of its own; process start-up is printed
# once so its share can be judged). A run that outlasts PEERS_TIMEOUT is
# listed and left out of the medians; a program that fails stops the
# command.
#
# Environment: PEERS_BATCHES and PEERS_RING_SIZE (params.sh), and
#   PEERS_REPS      repetitions of the whole interleaved round [5: a median
#                   of 5 survives two disturbed runs]
#   PEERS_CYCLES    buffers a run, ringtest's --run-cycles [10000000: its
#                   default]
#   PEERS_GUEST_CPU CPU of the guest / driver / producer thread [0]
#   PEERS_HOST_CPU  CPU of the host / device / consumer thread [1: the
#                   issue's placement, one thread per core]
#   PEERS_TIMEOUT   seconds before a run is given up [60: a starved busy-poll
#                   pair can take minutes on a loaded machine]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/params.sh"

check_only=0
if [ "${1:-}" = --check ]; then check_only=1; shift; fi
build=${1:?usage: bench-peers.sh [--check] BUILD_DIR}
reps=${PEERS_REPS:-5}
cycles=${PEERS_CYCLES:-10000000}
guest_cpu=${PEERS_GUEST_CPU:-0}
host_cpu=${PEERS_HOST_CPU:-1}
run_timeout=${PEERS_TIMEOUT:-60}
batches=$peers_batches
ring_size=$peers_ring_size

# ------------------------------------------------------------ prerequisites

[ -f "$build/CMakeCache.txt" ] || { echo "bench-peers: $build is not a configured build directory" >&2; exit 1; }
# testbench/bench/peers/CMakeLists.txt declares where the tarball is.
tarball=$(sed -n 's/^VIRTIOSIM_LINUX_SOURCE_TARBALL:[A-Z]*=//p' "$build/CMakeCache.txt")
missing=0
if [ -z "$tarball" ]; then
  echo "bench-peers: $build has no bench programs: configure it with -DVIRTIOSIM_BENCH=ON" >&2
  missing=1
elif [ ! -r "$tarball" ]; then
  echo "bench-peers: $tarball not found (Linux ringtest comes from it): apt-get install linux-source-6.1" >&2
  missing=1
fi
if ! pkg-config --exists libdpdk 2>/dev/null; then
  echo "bench-peers: pkg-config finds no libdpdk (the rte_ring floor needs it): apt-get install dpdk-dev" >&2
  missing=1
fi
if [ "$(nproc)" -le "$(( guest_cpu > host_cpu ? guest_cpu : host_cpu ))" ]; then
  echo "bench-peers: CPUs $guest_cpu and $host_cpu are needed, $(nproc) online (PEERS_GUEST_CPU, PEERS_HOST_CPU)" >&2
  missing=1
fi
[ "$missing" -eq 0 ] || exit 1
[ "$check_only" -eq 0 ] || exit 0

# --------------------------------------------------------------------- build

dir=$build/testbench/bench/peers
cmake --build "$build" --target bench_peers
# A build directory configured before dpdk-dev was installed has no
# rte_ring_spsc target yet: configure again to find libdpdk.
if [ ! -x "$dir/rte_ring_spsc" ]; then
  cmake "$build" >/dev/null
  cmake --build "$build" --target bench_peers
fi

# The order they run in within a batch: the ringtest-interface rings, then
# the floor.
programs=("${peers_rings[@]}" rte_ring)
path_of() {
  case $1 in
    ring | virtio_ring_0_9 | virtio_ring_inorder) echo "$dir/ringtest/$1" ;;
    rte_ring) echo "$dir/rte_ring_spsc" ;;
    *) echo "$dir/$1" ;;
  esac
}
for p in "${programs[@]}"; do
  [ -x "$(path_of "$p")" ] || { echo "bench-peers: $(path_of "$p") was not built" >&2; exit 1; }
done

# ----------------------------------------------------------------------- run

build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
echo "bench-peers: ring size $ring_size, busy-poll, guest/driver/producer on CPU $guest_cpu," \
     "host/device/consumer on CPU $host_cpu, $cycles buffers a run, $reps reps, batches $batches"
echo "ours built as CMAKE_BUILD_TYPE=${build_type:-none} with LTO; ringtest with its Makefile (-O2 -flto -fwhole-program)"
echo "load at start: $(uptime)"

# run PROGRAM BATCH CYCLES: prints the wall seconds, or "timeout". The
# clock is bash's own (EPOCHREALTIME, microseconds): reading it forks
# nothing, so only the program's run lies between the two readings.
run() {
  local start end rc=0 path
  path=$(path_of "$1")
  start=${EPOCHREALTIME/,/.}
  timeout "$run_timeout" "$path" --ring-size "$ring_size" --run-cycles "$3" --batch "$2" \
    --guest-affinity "$guest_cpu" --host-affinity "$host_cpu" || rc=$?
  end=${EPOCHREALTIME/,/.}
  if [ "$rc" -eq 124 ]; then echo timeout; return; fi
  if [ "$rc" -ne 0 ]; then
    echo "bench-peers: $1 --batch $2 failed (exit $rc)" >&2
    exit 1
  fi
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.6f", e - s }'
}

# Start-up and exit of each program: a run of one buffer, the least of three.
startup="start-up and exit (one buffer, least of 3, ms):"
for p in "${programs[@]}"; do
  best=
  for _ in 1 2 3; do
    t=$(run "$p" 1 1)
    [ "$t" = timeout ] && continue
    best=$(awk -v a="$t" -v b="${best:-$t}" 'BEGIN { printf "%.6f", a < b ? a : b }')
  done
  startup+=" $p $(awk -v t="${best:-0}" 'BEGIN { printf "%.1f", t * 1000 }')"
done
echo "$startup"

results=$(mktemp)
trap 'rm -f "$results"' EXIT
printf '%-4s %-6s %-24s %10s %10s\n' rep batch program seconds "M buf/s"
for rep in $(seq "$reps"); do
  for b in $batches; do
    for p in "${programs[@]}"; do
      t=$(run "$p" "$b" "$cycles")
      if [ "$t" = timeout ]; then
        rate=timeout
      else
        rate=$(awk -v t="$t" -v c="$cycles" 'BEGIN { printf "%.2f", c / t / 1e6 }')
      fi
      printf '%-4s %-6s %-24s %10s %10s\n' "$rep" "$b" "$p" "$t" "$rate"
      echo "$rep $b $p $rate" >>"$results"
    done
  done
done
echo "load at end: $(uptime)"

# ------------------------------------------------------------------- summary

# Medians of the rates, and medians of the per-rep ratios ours/theirs: a
# ratio compares two runs made one after the other.
awk -v batches="$batches" -v order="${programs[*]}" -v pairs="${peers_pairs[*]} ${peers_floor_pairs[*]}" '
  function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    if (n == 0) return "-"
    for (i = 2; i <= n; ++i) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; --j) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  $4 != "timeout" { rate[$1, $2, $3] = $4; rates[$2, $3] = rates[$2, $3] " " $4; reps[$1] = 1 }
  END {
    nb = split(batches, bs, " "); np = split(order, ps, " ")
    printf "median M buffers/s\n%-6s", "batch"
    for (i = 1; i <= np; ++i) printf " %12s", ps[i]
    printf "\n"
    for (k = 1; k <= nb; ++k) {
      printf "%-6s", bs[k]
      for (i = 1; i <= np; ++i) { m = median(rates[bs[k], ps[i]]); printf " %12s", m == "-" ? m : sprintf("%.2f", m) }
      printf "\n"
    }
    npairs = split(pairs, pr, " ")
    print "median ratio ours/theirs (per-rep ratios)"
    for (k = 1; k <= nb; ++k)
      for (j = 1; j <= npairs; ++j) {
        split(pr[j], ot, "/"); ours = ot[1]; theirs = ot[2]; list = ""
        for (r in reps)
          if ((r, bs[k], ours) in rate && (r, bs[k], theirs) in rate && rate[r, bs[k], theirs] > 0)
            list = list " " rate[r, bs[k], ours] / rate[r, bs[k], theirs]
        m = median(list)
        printf "ratio batch %s %s/%s %s\n", bs[k], ours, theirs, m == "-" ? m : sprintf("%.3f", m)
      }
  }' "$results"
