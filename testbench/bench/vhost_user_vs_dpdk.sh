#!/usr/bin/env bash
# Benchmark (not part of the test gate): our `serve` against DPDK's own vhost
# back-end (testpmd net_vhost), each fed by the same testpmd virtio-user
# front-end. The two back-ends alternate ROUNDS times (interleaved rounds);
# the rate of a run is the median of the front-end's per-second figure after
# a warm-up (the first two samples are skipped).
#
#   sink: `serve --mode sink` vs testpmd net_vhost rxonly; the front-end is
#         txonly with 64-byte frames; rate = its Tx-pps, i.e. what the
#         back-end consumed (txonly counts only frames the ring accepted).
#   echo: `serve --mode echo` vs testpmd net_vhost macswap; the front-end
#         forwards in `io` mode started with --tx-first: one burst of 32
#         frames (testpmd's default burst) is sent, and every frame that
#         comes back is sent again, so bursts ping-pong between front-end
#         and back-end (a closed loop); rate = the front-end's Rx-pps. A run
#         whose front-end received nothing fails the run (rate 0).
#
# usage: testbench/bench/vhost_user_vs_dpdk.sh VIRTIOSIM_BINARY [ROUNDS] [SECONDS] [MODE]
#   ROUNDS default 5, SECONDS per run default 10, MODE sink (default) or echo.
# Environment:
#   SERVE_ARGS  extra `serve` options, e.g. "--poll-us 1000" (default none:
#               serve's default --poll-us 200)
#   RING        packed (default) or split
#   QUEUE_SIZE  front-end ring size, default 256
# Placement: front-end lcores on CPU 0, either back-end on CPU 1.
set -uo pipefail
virtiosim=${1:?virtiosim binary}
rounds=${2:-5}
secs=${3:-10}
mode=${4:-sink}
ring=${RING:-packed}
qsize=${QUEUE_SIZE:-256}
case "$mode" in
  sink) front_fwd="--forward-mode=txonly --txpkts=64"; dpdk_fwd=rxonly; field=Tx-pps ;;
  echo) front_fwd="--forward-mode=io --tx-first"; dpdk_fwd=macswap; field=Rx-pps ;;
  *) echo "MODE must be sink or echo" >&2; exit 2 ;;
esac
case "$ring" in
  packed) packed_vq=1 ;;
  split) packed_vq=0 ;;
  *) echo "RING must be packed or split" >&2; exit 2 ;;
esac
dir=$(mktemp -d /tmp/virtiosim-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
eal() { echo "--no-huge -m 512 --no-pci --file-prefix=vsb$$-$1 --lcores $2"; }
front() {  # log
  timeout -s INT "$secs" dpdk-testpmd $(eal fe '0@0,1@0') \
    --vdev "net_virtio_user0,path=$dir/sock,packed_vq=$packed_vq,queue_size=$qsize" -- --total-num-mbufs=32768 \
    --stats-period 1 --auto-start $front_fwd >"$1" 2>&1
}
rate() {  # median $field of a front-end log, skipping the first two samples; 0 if it received nothing back (echo)
  if [ "$mode" = echo ] && ! grep -A2 "Accumulated forward statistics" "$1" | grep -q "RX-packets: *[1-9]"; then
    echo 0
    return
  fi
  grep -o "$field: *[0-9]*" "$1" | awk '{print $2}' | tail -n +3 | sort -n |
    awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'
}
# A run whose front-end printed no rate (0: the back-end did not come up in
# time on a loaded machine, or nothing came back) is reported but left out
# of the median.
median() { awk '$1 > 0' | sort -n | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }
echo "mode=$mode ring=$ring queue_size=$qsize serve_args='${SERVE_ARGS:-}' rounds=$rounds seconds=$secs; $(uptime)"
ours=() dpdk=()
for r in $(seq "$rounds"); do
  rm -f "$dir/sock"
  taskset -c 1 "$virtiosim" vhost-user serve --socket "$dir/sock" --mode "$mode" ${SERVE_ARGS:-} >"$dir/serve.out" 2>/dev/null &
  sp=$!
  for _ in $(seq 100); do [ -S "$dir/sock" ] && break; sleep 0.05; done
  front "$dir/ours.log"
  kill -INT "$sp"; wait "$sp"
  ours+=("$(rate "$dir/ours.log")")

  rm -f "$dir/sock"
  timeout -s INT $((secs + 5)) dpdk-testpmd $(eal be '0@1,1@1') --vdev "net_vhost0,iface=$dir/sock" -- \
    --total-num-mbufs=32768 --stats-period 1 --auto-start --forward-mode=$dpdk_fwd >"$dir/dpdk.log" 2>&1 &
  bp=$!
  for _ in $(seq 200); do [ -S "$dir/sock" ] && break; sleep 0.05; done
  front "$dir/dpdkfe.log"
  kill -INT "$bp"; wait "$bp"
  dpdk+=("$(rate "$dir/dpdkfe.log")")
  echo "round $r: ours ${ours[-1]} pps, dpdk ${dpdk[-1]} pps; $(uptime | sed 's/.*load/load/')"
done
mo=$(printf '%s\n' "${ours[@]}" | median)
md=$(printf '%s\n' "${dpdk[@]}" | median)
echo "ours:  ${ours[*]}"
echo "dpdk:  ${dpdk[*]}"
echo "median ours=$mo pps dpdk=$md pps ratio ours/dpdk=$(awk -v a="$mo" -v b="$md" 'BEGIN {printf "%.3f", b ? a/b : 0}')"
