#!/usr/bin/env bash
# Interop tests against DPDK's testpmd (Debian package dpdk-dev, 22.11):
# each case starts testpmd itself on a Unix socket in a private temp dir,
# bounded in time, stops it with SIGINT so it prints its totals, and
# compares them with ours.
#
# usage: interop.sh CASE VIRTIOSIM_BINARY
#   sink-packed | sink-split  testpmd virtio-user txonly -> serve --mode sink
#   echo | echo-split         testpmd virtio-user io --tx-first <-> serve --mode echo
#   drive-packed | drive-split  drive -> testpmd vhost back-end, macswap
#   drive-irq-packed | drive-irq-split  the same with drive --notify irq
#   drive-irq-rx4             irq with 4 RX buffers and 4 frames in flight: all back
#   drive-irq-rx4-drops       irq with 4 RX buffers, no window: testpmd drops, the counts must agree
#   restart                   testpmd port stop/start mid-stream, then a
#                             reconnect, against one serve --mode sink
#   check-CASE                a serve case (sink-*, echo*, restart) with
#                             serve --check --json: also no finding at all
set -uo pipefail
case_name=${1:?case}
base=${case_name#check-}
virtiosim=${2:?virtiosim binary}
testpmd=$(command -v dpdk-testpmd || true)
if [ -z "$testpmd" ]; then
  echo "FAIL: dpdk-testpmd not found; install the test dependencies (scripts/install-deps.sh test)" >&2
  exit 1
fi
dir=$(mktemp -d /tmp/virtiosim-interop.XXXXXX)
. "$(dirname "$0")/peer_processes.sh"
cleanup() {
  stop_peers
  rm -rf "$dir" "/var/run/dpdk/vsim$$"* 2>/dev/null
}
trap cleanup EXIT
serve_extra=()
[ "$base" != "$case_name" ] && serve_extra=(--check --json "$dir/serve.json")
fail() { echo "FAIL ($case_name): $*" >&2; for f in "$dir"/*.log "$dir"/*.out; do [ -f "$f" ] && { echo "--- $f" >&2; tail -25 "$f" >&2; }; done; exit 1; }

# EAL flags that work without hugepages or PCI (SPEC_NOTES "Real peers"):
# two lcores sharing CPU 0; our side runs on CPU 1.
eal() { echo "--no-huge -m 512 --no-pci --file-prefix=vsim$$-$1 --lcores 0@0,1@0"; }
app="--total-num-mbufs=32768 --stats-period 1"

start_serve() {  # mode -> sets serve_pid
  rm -f "$dir/sock"
  taskset -c 1 "$virtiosim" vhost-user serve --socket "$dir/sock" --mode "$1" "${serve_extra[@]}" \
    >"$dir/serve.out" 2>"$dir/serve.log" &
  serve_pid=$!
  pids+=("$serve_pid")
  for _ in $(seq 100); do [ -S "$dir/sock" ] && return 0; sleep 0.05; done
  fail "serve did not listen"
}
stop_serve() {
  kill -INT "$serve_pid"
  wait "$serve_pid"
  serve_rc=$?
  counter() { grep -o " $1=[0-9]*" "$dir/serve.out" | tail -1 | cut -d= -f2; }
}
# Totals of a testpmd log: the last "Accumulated" block, or a sum over all.
pmd_total() { grep -A2 "Accumulated forward statistics" "$1" | grep -o "$2: *[0-9]*" | awk '{s+=$2} END {print s+0}'; }
pmd_last() { grep -A2 "Accumulated forward statistics" "$1" | grep -o "$2: *[0-9]*" | tail -1 | awk '{print $2+0}'; }

virtio_user() {  # name packed seconds forward-args...
  local name=$1 packed=$2 secs=$3; shift 3
  timeout -s INT "$secs" "$testpmd" $(eal "$name") \
    --vdev "net_virtio_user0,path=$dir/sock,packed_vq=$packed,queue_size=256" -- $app --auto-start "$@" \
    >"$dir/$name.log" 2>&1
}

case "$base" in
  sink-packed | sink-split)
    packed=1; [ "$base" = sink-split ] && packed=0
    start_serve sink
    virtio_user pmd "$packed" 6 --forward-mode=txonly
    sleep 0.3
    stop_serve
    sent=$(pmd_last "$dir/pmd.log" TX-packets)
    got=$(counter tx_packets)
    echo "testpmd TX-packets=$sent; serve tx_packets=$got bytes=$(counter tx_bytes) checksum=$(counter tx_checksum)"
    [ "$serve_rc" = 0 ] || fail "serve exit code $serve_rc"
    [ "${sent:-0}" -gt 0 ] || fail "testpmd sent nothing"
    [ "$sent" = "$got" ] || fail "count mismatch: testpmd sent $sent, we received $got"
    [ "$(counter tx_malformed)" = 0 ] && [ "$(counter ring_errors)" = 0 ] && [ "$(counter protocol_errors)" = 0 ] ||
      fail "errors in serve counters"
    ;;
  echo | echo-split)
    packed=1; [ "$base" = echo-split ] && packed=0
    start_serve echo
    virtio_user pmd "$packed" 6 --forward-mode=io --tx-first
    sleep 0.3
    stop_serve
    tx=$(pmd_last "$dir/pmd.log" TX-packets)
    rx=$(pmd_last "$dir/pmd.log" RX-packets)
    drop=$(pmd_last "$dir/pmd.log" RX-dropped)
    echo "testpmd TX=$tx RX=$rx RX-dropped=$drop; serve took=$(counter tx_packets) echoed=$(counter rx_packets)"
    [ "$serve_rc" = 0 ] || fail "serve exit code $serve_rc"
    [ "${rx:-0}" -gt 0 ] || fail "testpmd received nothing"
    [ "$(counter tx_packets)" = "$tx" ] || fail "we took $(counter tx_packets) of $tx sent"
    [ "$(counter rx_packets)" = "$tx" ] || fail "we echoed $(counter rx_packets) of $tx sent"
    # io mode forwards what it receives: TX = the first burst (32) + RX, so
    # every frame sent came back except the last burst still in flight.
    [ "$tx" -eq $((rx + 32)) ] || [ "$tx" -eq "$rx" ] || fail "testpmd TX $tx vs RX $rx"
    [ "${drop:-0}" = 0 ] || fail "testpmd dropped $drop"
    ;;
  drive-packed | drive-split | drive-irq-packed | drive-irq-split | drive-irq-rx4 | drive-irq-rx4-drops)
    # 20000 frames from drive to testpmd's vhost back-end in macswap; testpmd's
    # own totals must match ours: RX-packets = what we sent, TX-packets = what
    # came back intact, TX-dropped = what we count as dropped.
    args=(--packets 20000 --timeout 20)
    [ "$case_name" = drive-split ] || [ "$case_name" = drive-irq-split ] && args+=(--ring split)
    # DPDK's vhost library signals the call eventfd only when the front-end's
    # event suppression asks for it (vhost_vring_call_packed/_split): with
    # --notify irq every echo we take was announced by a call.
    case "$case_name" in drive-irq-*) args+=(--notify irq) ;; esac
    # Four RX buffers. testpmd drops a frame that finds RX empty and counts it
    # in TX-dropped. With a window of four frames in flight RX is never empty
    # when a frame arrives: every frame must come back, each RX buffer reused
    # 5000 times. With --allow-drops and no window drive ends once every TX
    # buffer is back and RX is quiet; the frames it did not get back must be
    # exactly testpmd's drops.
    [ "$case_name" = drive-irq-rx4 ] && args+=(--rx-buffers 4 --window 4)
    [ "$case_name" = drive-irq-rx4-drops ] && args+=(--rx-buffers 4 --allow-drops)
    timeout -s INT 40 "$testpmd" $(eal vh) --vdev "net_vhost0,iface=$dir/sock" -- $app --auto-start \
      --forward-mode=macswap >"$dir/vhost.log" 2>&1 &
    pmd_pid=$!
    pids+=("$pmd_pid")
    for _ in $(seq 200); do [ -S "$dir/sock" ] && break; sleep 0.05; done
    [ -S "$dir/sock" ] || fail "testpmd vhost did not listen"
    taskset -c 1 "$virtiosim" vhost-user drive --socket "$dir/sock" "${args[@]}" >"$dir/drive.out" 2>&1
    rc=$?
    cat "$dir/drive.out"
    kill -INT "$pmd_pid"
    wait "$pmd_pid"
    field() { grep -o " $1=[0-9]*" "$dir/drive.out" | tail -1 | cut -d= -f2; }
    took=$(pmd_last "$dir/vhost.log" RX-packets)
    returned=$(pmd_last "$dir/vhost.log" TX-packets)
    dropped=$(pmd_last "$dir/vhost.log" TX-dropped)
    echo "testpmd RX-packets=$took TX-packets=$returned TX-dropped=$dropped;" \
      "drive sent=$(field packets_sent) echoed=$(field echoed) dropped=$(field dropped)" \
      "calls=$(field calls) seconds=$(grep -o ' seconds=[0-9.e-]*' "$dir/drive.out" | cut -d= -f2)"
    [ "$rc" = 0 ] || fail "drive exit code $rc"
    [ "$(field errors)" = 0 ] || fail "drive counted errors"
    [ "$took" = "$(field packets_sent)" ] || fail "testpmd took $took of the $(field packets_sent) frames sent"
    [ "$returned" = "$(field echoed)" ] || fail "testpmd returned $returned frames, $(field echoed) came back intact"
    [ "$dropped" = "$(field dropped)" ] || fail "testpmd dropped $dropped frames, drive counts $(field dropped)"
    if [ "$case_name" != drive-irq-rx4-drops ]; then
      [ "$(field echoed)" = 20000 ] || fail "not every frame came back"
    fi
    # Polling, drive asks for no calls. DPDK honours that except once per
    # split ring with EVENT_IDX: it signals its first used buffer whatever
    # used_event says (signalled_used_valid is false after a start).
    case "$case_name" in
      drive-irq-*) [ "$(field rx_calls)" -gt 0 ] || fail "no RX call: not interrupt-driven" ;;
      *) [ "$(field rx_calls)" -le 1 ] && [ "$(field tx_calls)" -le 1 ] || fail "calls while callbacks were off" ;;
    esac
    ;;
  restart)
    start_serve sink
    # 1) one testpmd: forward, stop the port (GET_VRING_BASE), start it again
    #    (a new ring setup on the same connection), forward again.
    { sleep 2; echo start; sleep 2; echo stop; echo "port stop 0"; sleep 1; echo "port start 0"; sleep 1
      echo start; sleep 2; echo stop; sleep 0.5; echo quit; } |
      timeout -s INT 25 "$testpmd" $(eal r1) \
        --vdev "net_virtio_user0,path=$dir/sock,packed_vq=1,queue_size=256" -- --total-num-mbufs=32768 -i \
        --forward-mode=txonly >"$dir/r1.log" 2>&1
    # 2) a second front-end on a new connection.
    virtio_user r2 1 4 --forward-mode=txonly
    sleep 0.3
    stop_serve
    s1=$(pmd_total "$dir/r1.log" TX-packets)
    s2=$(pmd_last "$dir/r2.log" TX-packets)
    sessions=$(grep -c "Accumulated forward statistics" "$dir/r1.log")
    got=$(counter tx_packets)
    echo "testpmd sessions=$sessions TX=$s1 (port restarted) + $s2 (reconnected); serve tx_packets=$got connections=$(counter connections)"
    [ "$serve_rc" = 0 ] || fail "serve exit code $serve_rc"
    [ "$sessions" = 2 ] || fail "expected two forwarding sessions around the port restart"
    grep -q "Port 0 is stopped\|Stopping ports" "$dir/r1.log" || fail "port did not stop"
    [ "$s1" -gt 0 ] && [ "$s2" -gt 0 ] || fail "a session sent nothing"
    [ "$got" = $((s1 + s2)) ] || fail "lost or duplicated: testpmd sent $((s1 + s2)), we received $got"
    [ "$(counter connections)" = 2 ] || fail "expected 2 connections"
    ;;
  *) echo "unknown case $case_name" >&2; exit 2 ;;
esac
if [ ${#serve_extra[@]} -gt 0 ]; then
  # serve --check: a correct front-end (DPDK's virtio-user) breaks no rule.
  echo "serve --check: check_findings=$(counter check_findings)"
  [ "$(counter check_findings)" = 0 ] || fail "serve --check reported findings: $(grep -o ' check_[A-Z0-9.]*=[0-9]*' "$dir/serve.out" | tr '\n' ' ')"
  grep -q '"findings": 0' "$dir/serve.json" || fail "serve --json: no zero findings in $(cat "$dir/serve.json")"
fi
echo "PASS ($case_name)"
