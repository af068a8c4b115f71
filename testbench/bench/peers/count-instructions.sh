#!/usr/bin/env bash
# Instructions per buffer of each ring, ours and ringtest's, in one thread
# (roundtrip.c through ringtest's interface), counted by callgrind: the
# load-independent companion of bench-peers.sh's two-thread rates.
#
# usage: count-instructions.sh BUILD_DIR   (after bench-peers.sh or
#        `cmake --build BUILD_DIR --target bench_peers`)
# Environment: PEERS_BATCHES and PEERS_RING_SIZE (params.sh), and
#   PEERS_INSTR_BUFFERS buffers of the shorter run [65536: a few seconds
#                       under valgrind, and a multiple of any power-of-2 batch]
#
# Each program runs twice under callgrind, with N and 2N buffers (N rounded
# up to a multiple of the batch); instructions per buffer = (I(2N) - I(N)) / N,
# which cancels start-up and exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/params.sh"
build=${1:?usage: count-instructions.sh BUILD_DIR}
base=${PEERS_INSTR_BUFFERS:-65536}
batches=$peers_batches
ring_size=$peers_ring_size
dir=$build/testbench/bench/peers
command -v valgrind >/dev/null || { echo "count-instructions: valgrind not found: apt-get install valgrind" >&2; exit 1; }
programs=("${peers_rings[@]}")
for p in "${programs[@]}"; do
  [ -x "$dir/roundtrip_$p" ] || { echo "count-instructions: $dir/roundtrip_$p not built (target bench_peers)" >&2; exit 1; }
done

# instructions PROGRAM BATCH BUFFERS: callgrind's total.
instructions() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$dir/roundtrip_$1" --ring-size "$ring_size" \
    --batch "$2" --run-cycles "$3" 2>&1 | sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}

echo "instructions per buffer, one thread (add_inbuf, avail_empty, use_buf, used_empty, get_buf), ring size $ring_size"
printf '%-6s' batch
for p in "${programs[@]}"; do printf ' %24s' "$p"; done
printf '\n'
declare -A per
for b in $batches; do
  n=$(( (base + b - 1) / b * b ))
  printf '%-6s' "$b"
  for p in "${programs[@]}"; do
    one=$(instructions "$p" "$b" "$n")
    two=$(instructions "$p" "$b" $((2 * n)))
    [ -n "$one" ] && [ -n "$two" ] || { echo "count-instructions: no callgrind total for $p" >&2; exit 1; }
    per[$b,$p]=$(awk -v a="$one" -v c="$two" -v n="$n" 'BEGIN { printf "%.1f", (c - a) / n }')
    printf ' %24s' "${per[$b,$p]}"
  done
  printf '\n'
done
for b in $batches; do
  for pair in "${peers_pairs[@]}"; do
    ours=${pair%/*} theirs=${pair#*/}
    echo "instructions batch $b $ours/$theirs $(awk -v a="${per[$b,$ours]}" -v c="${per[$b,$theirs]}" 'BEGIN { printf "%.2f", a / c }')"
  done
done
