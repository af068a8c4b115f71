#!/usr/bin/env bash
# serve's IOTLB against drive as an IOMMU front-end (issue #17), two
# processes on a Unix socket in a private temp dir: drive --iommu addresses
# every ring and buffer by IOVA and answers serve's misses on the back-end
# channel; serve's --json counters and log say what its IOTLB did.
#
# usage: iommu.sh CASE VIRTIOSIM_BINARY
#   echo-packed | echo-split      drive --iommu, 20000 frames echoed intact;
#                                 serve missed and was updated, no fault
#   strict-packed | strict-split  drive --iommu --iommu-strict, 3000 frames:
#                                 every buffer taken back is invalidated too
#   unmap-packed | unmap-split    drive --iommu --fault unmap_in_flight: a TX
#                                 buffer unmapped after it was made
#                                 available; serve must break TX with
#                                 ring.iova_unmapped, never touch it (no
#                                 poison in RX, never completed), exit 1
# Prints the IOTLB figures per frame (drive's and serve's) and serve's mean
# miss wait (iotlb_miss_wait_ns / iotlb_misses).
set -uo pipefail
case_name=${1:?case}
virtiosim=${2:?virtiosim binary}
dir=$(mktemp -d /tmp/virtiosim-iommu.XXXXXX)
. "$(dirname "$0")/peer_processes.sh"
cleanup() {
  stop_peers
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL ($case_name): $*" >&2
  for f in "$dir"/*.log "$dir"/*.out "$dir"/*.json; do [ -f "$f" ] && { echo "--- $f" >&2; tail -25 "$f" >&2; }; done
  exit 1
}

ring=${case_name#*-}
kind=${case_name%-*}
[ "$ring" = packed ] || [ "$ring" = split ] || { echo "unknown case $case_name" >&2; exit 2; }
args=(--iommu --ring "$ring" --timeout 20)
case "$kind" in
  echo) packets=20000 ;;
  strict) packets=3000; args+=(--iommu-strict) ;;
  unmap) packets=2000; args+=(--fault unmap_in_flight) ;;
  *) echo "unknown case $case_name" >&2; exit 2 ;;
esac

"$virtiosim" vhost-user serve --socket "$dir/sock" --mode echo --once --json "$dir/serve.json" \
  >"$dir/serve.out" 2>"$dir/serve.log" &
serve_pid=$!
pids+=("$serve_pid")
for _ in $(seq 100); do [ -S "$dir/sock" ] && break; sleep 0.05; done
[ -S "$dir/sock" ] || fail "serve did not listen"
timeout -s INT 60 "$virtiosim" vhost-user drive --socket "$dir/sock" --packets "$packets" "${args[@]}" \
  >"$dir/drive.out" 2>"$dir/drive.log"
drive_rc=$?
cat "$dir/drive.out"
for _ in $(seq 100); do kill -0 "$serve_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$serve_pid" 2>/dev/null && fail "serve --once still running after drive left"
wait "$serve_pid"
serve_rc=$?
[ -s "$dir/serve.json" ] || fail "serve wrote no --json"

field() { grep -o " $1=[0-9]*" "$dir/drive.out" | tail -1 | cut -d= -f2; }
counter() {
  /usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["counters"].get(sys.argv[2], "missing"))' \
    "$dir/serve.json" "$1"
}
for k in iotlb_misses iotlb_updates iotlb_invalidates iotlb_hits iotlb_faults iotlb_miss_wait_ns; do
  [ "$(counter $k)" != missing ] || fail "serve --json has no counter $k"
done
# The figures per frame sent, and serve's mean wait for a miss to be answered.
/usr/bin/python3 - "$dir/serve.json" "$dir/drive.out" <<'PY'
import json, re, sys
c = json.load(open(sys.argv[1]))["counters"]
d = dict(re.findall(r"(\w+)=([0-9.e+-]+)", open(sys.argv[2]).read()))
frames = max(int(d["packets_sent"]), 1)
per = lambda v: f"{int(v) / frames:.4f}"
print(f"per frame ({frames} sent): drive misses={per(d['iotlb_misses'])} refused={per(d['iotlb_misses_refused'])}"
      f" updates={per(d['iotlb_updates'])} invalidates={per(d['iotlb_invalidates'])};"
      f" serve misses={per(c['iotlb_misses'])} updates={per(c['iotlb_updates'])}"
      f" invalidates={per(c['iotlb_invalidates'])} hits={per(c['iotlb_hits'])}"
      f" faults={c['iotlb_faults']}")
m = c["iotlb_misses"]
print(f"serve mean miss wait: {c['iotlb_miss_wait_ns'] / m:.0f} ns over {m} misses" if m else "serve: no miss")
PY

case "$kind" in
  echo | strict)
    [ "$drive_rc" = 0 ] || fail "drive exit code $drive_rc"
    [ "$(field errors)" = 0 ] || fail "drive counted errors"
    [ "$(field echoed)" = "$packets" ] || fail "$(field echoed) of $packets frames came back intact"
    [ "$serve_rc" = 0 ] || fail "serve exit code $serve_rc"
    [ "$(counter iotlb_misses)" -gt 0 ] || fail "serve never missed: it did not translate through an IOTLB"
    [ "$(counter iotlb_updates)" -gt 0 ] || fail "serve took no UPDATE"
    [ "$(counter iotlb_faults)" = 0 ] || fail "serve faulted on an IOVA drive had mapped"
    [ "$(field iotlb_misses_refused)" = 0 ] || fail "serve asked for a page drive had not mapped"
    # Every UPDATE drive sent answered one of serve's misses.
    [ "$(counter iotlb_updates)" = "$(field iotlb_updates)" ] ||
      fail "serve took $(counter iotlb_updates) UPDATEs, drive sent $(field iotlb_updates)"
    if [ "$kind" = strict ]; then
      # Every buffer is invalidated when taken back: each echo's RX buffer,
      # and each TX buffer except those whose completion came after the
      # last echo (drive stops at the last echo), so between one and two a
      # frame.
      [ "$(counter iotlb_invalidates)" -gt 0 ] || fail "no INVALIDATE reached serve"
      [ "$(field iotlb_invalidates)" -ge "$packets" ] ||
        fail "drive invalidated $(field iotlb_invalidates) buffers for $packets frames"
      [ "$(counter iotlb_invalidates)" = "$(field iotlb_invalidates)" ] ||
        fail "serve counted $(counter iotlb_invalidates) INVALIDATEs, drive sent $(field iotlb_invalidates)"
    else
      [ "$(field iotlb_invalidates)" = 0 ] || fail "buffers invalidated without --iommu-strict"
    fi
    ;;
  unmap)
    [ "$drive_rc" = 0 ] || fail "drive exit code $drive_rc: the fault was not injected or the protocol did not hold"
    [ "$(field fault_injected)" = 1 ] || fail "fault not injected"
    [ "$(field iotlb_misses_refused)" -ge 1 ] || fail "serve never asked for the unmapped buffer"
    [ "$(field poison_seen)" = 0 ] || fail "the unmapped buffer's poison reached RX: serve read it"
    [ "$(field fault_buffer_used)" = 0 ] || fail "serve completed the unmapped buffer"
    [ "$(field tx_err_signals)" -ge 1 ] || fail "serve did not signal TX's SET_VRING_ERR eventfd"
    [ "$(field rx_err_signals)" = 0 ] || fail "serve broke RX too"
    [ "$serve_rc" = 1 ] || fail "serve exit code $serve_rc, not its ring-error code 1"
    grep -q "ring.iova_unmapped" "$dir/serve.log" || fail "serve's log does not name ring.iova_unmapped"
    [ "$(counter iotlb_faults)" -ge 1 ] || fail "serve counted no IOTLB fault"
    [ "$(counter ring_errors)" = 1 ] || fail "serve counted $(counter ring_errors) ring errors, not 1"
    # Every frame sent before the fault came back.
    [ "$(field echoed)" = "$(field packets_sent)" ] || fail "frames before the fault lost"
    grep "ring.iova_unmapped" "$dir/serve.log"
    ;;
esac
echo "PASS ($case_name)"
