#!/usr/bin/env bash
# ctest for bench-peers.sh and count-instructions.sh (label bench):
#   smoke_test.sh build BUILD_DIR  build the programs (the fixture: extracting
#                                  ringtest takes longer than the run itself)
#   smoke_test.sh run BUILD_DIR    run the command once with tiny runs;
#                                  every program must report a rate at
#                                  each batch, and the summary every ratio
#   smoke_test.sh instructions BUILD_DIR
#                                  count-instructions.sh with tiny runs: a
#                                  count for every ring, every ratio
# Timing is not judged. Exit 77 (skipped) without linux-source-6.1, dpdk-dev
# or two CPUs.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/params.sh"
mode=${1:?build, run or instructions}
build=${2:?build directory}
if ! why=$("$here/bench-peers.sh" --check "$build" 2>&1); then
  echo "skipped: $why"
  exit 77
fi
case $mode in
  build) exec cmake --build "$build" --target bench_peers ;;
  run) ;;
  instructions)
    command -v valgrind >/dev/null || { echo "skipped: valgrind not installed"; exit 77; }
    # One batch: every valgrind start costs about a second on this machine.
    out=$(PEERS_BATCHES=32 PEERS_INSTR_BUFFERS=256 "$here/count-instructions.sh" "$build" 2>&1)
    rc=$?
    echo "$out"
    [ "$rc" -eq 0 ] || { echo "FAIL: count-instructions.sh exited $rc"; exit 1; }
    fail=0
    for b in 32; do
      # batch, then six positive counts
      echo "$out" | awk -v b="$b" '$1 == b && NF == 7 { for (i = 2; i <= 7; ++i) if ($i + 0 <= 0) exit 1; ok = 1 } END { exit !ok }' ||
        { echo "FAIL: no count for every ring at batch $b"; fail=1; }
      for pair in "${peers_pairs[@]}"; do
        echo "$out" | grep -Eq "^instructions batch $b $pair [0-9]+\.[0-9]{2}$" ||
          { echo "FAIL: no instruction ratio for batch $b $pair"; fail=1; }
      done
    done
    exit "$fail" ;;
  *) echo "usage: $0 build|run|instructions BUILD_DIR" >&2; exit 2 ;;
esac

out=$(PEERS_REPS=1 PEERS_BATCHES="1 32" PEERS_CYCLES=2000 PEERS_TIMEOUT=10 "$here/bench-peers.sh" "$build" 2>&1)
rc=$?
echo "$out"
[ "$rc" -eq 0 ] || { echo "FAIL: bench-peers.sh exited $rc"; exit 1; }
fail=0
programs=("${peers_rings[@]}" rte_ring)
for b in 1 32; do
  for p in "${programs[@]}"; do
    # rep batch program seconds rate: a positive rate, not "timeout"
    echo "$out" | awk -v b="$b" -v p="$p" '$1 == 1 && $2 == b && $3 == p && $5 + 0 > 0 { ok = 1 } END { exit !ok }' ||
      { echo "FAIL: no rate for batch $b $p"; fail=1; }
  done
done
for b in 1 32; do
  for pair in "${peers_pairs[@]}" "${peers_floor_pairs[@]}"; do
    echo "$out" | grep -Eq "^ratio batch $b $pair [0-9]+\.[0-9]{3}$" || { echo "FAIL: no ratio line for batch $b $pair"; fail=1; }
  done
done
echo "$out" | grep -q '^load at start: ' && echo "$out" | grep -q '^load at end: ' || { echo "FAIL: load not recorded"; fail=1; }
exit "$fail"
