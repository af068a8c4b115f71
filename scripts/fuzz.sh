#!/usr/bin/env bash
# Runs every libFuzzer target of testbench/fuzz for SECONDS each, one after
# the other (-jobs=1: the machine may have two CPUs), each from a copy of its
# checked-in corpus (testbench/fuzz/corpus/<target>; the copy grows, the
# checked-in one does not). Prints each target's execution count; exits 1 if
# any target found a crash, a leak, a timeout or a broken invariant (its
# input is kept in <build>/fuzz-work/<target>/artifacts/ and the end of its
# log is printed).
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: $0 BUILD_DIR SECONDS}
seconds=${2:?usage: $0 BUILD_DIR SECONDS}
targets=(ring_device_fuzz ring_driver_fuzz vhost_user_codec_fuzz vhost_user_backend_fuzz)
failed=()
for t in "${targets[@]}"; do
  work="$build/fuzz-work/$t"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp testbench/fuzz/corpus/"$t"/* "$work/corpus/"
  # -timeout: one input running 10 s is a hang (the back-end's socket reads
  # time out after 2 s).
  if "$build/testbench/fuzz/$t" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
       -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed+=("$t")
    tail -n 40 "$work/log"
  fi
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$work/log")
  rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$work/log")
  printf '%-26s %-6s %12s executions in %s s (%s/s)\n' "$t" "$status" "${execs:-?}" "$seconds" "${rate:-?}"
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
