#!/usr/bin/env bash
# Benchmark (not part of the test gate): our `serve --mode sink` against
# DPDK's own vhost back-end (testpmd net_vhost, rxonly), each fed by the
# same testpmd virtio-user txonly front-end (packed ring, 64-byte frames).
# The two back-ends alternate ROUNDS times; the rate of a run is the median
# of the front-end's per-second Tx-pps after a warm-up, i.e. what the
# back-end actually consumed (txonly counts only frames the ring accepted).
#
# usage: testbench/bench/vhost_user_vs_dpdk.sh VIRTIOSIM_BINARY [ROUNDS] [SECONDS]
# Placement: front-end lcores on CPU 0, either back-end on CPU 1.
# SERVE_ARGS (environment): extra `serve` options, e.g. "--poll-us 1000".
set -uo pipefail
virtiosim=${1:?virtiosim binary}
rounds=${2:-5}
secs=${3:-10}
dir=$(mktemp -d /tmp/virtiosim-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
eal() { echo "--no-huge -m 512 --no-pci --file-prefix=vsb$$-$1 --lcores $2"; }
front() {  # log
  timeout -s INT "$secs" dpdk-testpmd $(eal fe '0@0,1@0') \
    --vdev "net_virtio_user0,path=$dir/sock,packed_vq=1,queue_size=256" -- --total-num-mbufs=32768 \
    --stats-period 1 --auto-start --forward-mode=txonly --txpkts=64 >"$1" 2>&1
}
rate() {  # median Tx-pps of a log, skipping the first two samples
  grep -o "Tx-pps: *[0-9]*" "$1" | awk '{print $2}' | tail -n +3 | sort -n |
    awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'
}
# A run whose front-end printed no rate (0: the back-end did not come up in
# time on a loaded machine) is reported but left out of the median.
median() { awk '$1 > 0' | sort -n | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }
ours=() dpdk=()
for r in $(seq "$rounds"); do
  rm -f "$dir/sock"
  taskset -c 1 "$virtiosim" vhost-user serve --socket "$dir/sock" --mode sink ${SERVE_ARGS:-} >"$dir/serve.out" 2>/dev/null &
  sp=$!
  for _ in $(seq 100); do [ -S "$dir/sock" ] && break; sleep 0.05; done
  front "$dir/ours.log"
  kill -INT "$sp"; wait "$sp"
  ours+=("$(rate "$dir/ours.log")")

  rm -f "$dir/sock"
  timeout -s INT $((secs + 5)) dpdk-testpmd $(eal be '0@1,1@1') --vdev "net_vhost0,iface=$dir/sock" -- \
    --total-num-mbufs=32768 --stats-period 1 --auto-start --forward-mode=rxonly >"$dir/dpdk.log" 2>&1 &
  bp=$!
  for _ in $(seq 200); do [ -S "$dir/sock" ] && break; sleep 0.05; done
  front "$dir/dpdkfe.log"
  kill -INT "$bp"; wait "$bp"
  dpdk+=("$(rate "$dir/dpdkfe.log")")
  echo "round $r: ours ${ours[-1]} pps, dpdk ${dpdk[-1]} pps"
done
mo=$(printf '%s\n' "${ours[@]}" | median)
md=$(printf '%s\n' "${dpdk[@]}" | median)
echo "ours:  ${ours[*]}"
echo "dpdk:  ${dpdk[*]}"
echo "median ours=$mo pps dpdk=$md pps ratio ours/dpdk=$(awk -v a="$mo" -v b="$md" 'BEGIN {printf "%.3f", b ? a/b : 0}')"
