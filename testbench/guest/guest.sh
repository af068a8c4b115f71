#!/usr/bin/env bash
# Linux guest against `virtiosim vhost-user serve --mode echo`: QEMU (TCG)
# boots a Debian kernel with a busybox initramfs (make-guest.sh) whose
# virtio-net-pci device is backed by serve over vhost-user. The guest pings
# a static neighbour; serve echoes every frame with the MACs swapped, so the
# guest receives each one. The test compares the guest's interface counters
# with serve's own counters: QEMU silently falls back on its own virtio-net
# when the vhost-user start fails, so the guest's counters alone prove
# nothing.
#
# usage: guest.sh CASE VIRTIOSIM_BINARY [GUEST_DIR]
#   packed         packed ring, one queue pair
#   split          split ring, one queue pair
#   packed-mq      packed, 2 queue pairs, 2 vCPUs, a ping pinned on each; mrg_rxbuf=off
#   split-reload   split, event_idx=off; rmmod + modprobe virtio_net between two phases
#                  (GET_VRING_BASE, then a fresh setup on one connection)
#   packed-noopts  packed, event_idx=off, indirect_desc=off, mrg_rxbuf=off
#   reconnect      split; serve killed after phase 1 and started again on
#                  the same socket, QEMU (reconnect=1) connects again
#   packed-check   packed with serve --check: no finding (the guest's driver
#                  breaks no rule serve can see), exit 0
#   split-reload-check
#                  split-reload with serve --check: also GET_VRING_BASE and
#                  the fresh setup after it (VU2)
#   packed-broken, split-broken
#                  after phase 1 the test points every RX descriptor
#                  outside guest memory (corrupt_ring.py on the file that
#                  backs the guest's RAM), as a buggy driver would; the
#                  next echo breaks the RX ring: serve must log the rule
#                  and address, signal SET_VRING_ERR (QEMU logs "vhost
#                  vring error in virtqueue 0"), lose no TX frame, and
#                  serve the next front-end (drive) afterwards
#   packed-iommu   packed behind QEMU's intel-iommu (q35, iommu_platform=on,
#                  ats=on; the guest's kernel with intel_iommu=on
#                  iommu.strict=1): every ring and buffer address is an
#                  IOVA serve translates through its IOTLB; the guest checks
#                  that VT-d translates the device, serve's counters must
#                  show IOTLB misses, updates and invalidations and no fault
#   split-iommu-reload
#                  split behind the IOMMU, rmmod + modprobe virtio_net
#                  between two phases (the rings get new IOVAs)
# GUEST_DIR (or $VS_GUEST_DIR) caches the kernel and initramfs between runs
# (default: /tmp/virtiosim-guest). VS_FRAMES overrides the pings per CPU.
# VS_BACKEND=testpmd runs DPDK's vhost back-end (macswap) in place of serve,
# to check the guest and the QEMU command line alone (with iommu-support=1
# in the IOMMU cases, where DPDK 22.11 drops frames whose buffers miss, so
# the counts fail; see README.md). VS_KEEP=1 keeps the
# run's logs (console, QEMU, serve) in /tmp.
set -euo pipefail
case_name=${1:?usage: guest.sh CASE VIRTIOSIM_BINARY [GUEST_DIR]}
virtiosim=${2:?usage: guest.sh CASE VIRTIOSIM_BINARY [GUEST_DIR]}
guest_dir=${3:-${VS_GUEST_DIR:-/tmp/virtiosim-guest}}
backend=${VS_BACKEND:-serve}
here=$(cd "$(dirname "$0")" && pwd)

# Scenario per case: ring, queue pairs, vCPUs, pinging CPUs, pings per CPU
# and phase, phases and what happens between them, extra device options.
packed=on queues=1 smp=1 cpus=0 frames=100 phases=1 between=none devopts= chardevopts= check=0 iommu=0
case "$case_name" in
  packed) ;;
  packed-iommu) iommu=1 ;;
  split-iommu-reload) packed=off phases=2 between=reload frames=60 iommu=1 ;;
  packed-check) check=1 ;;
  split-reload-check) packed=off phases=2 between=reload frames=60 devopts=,event_idx=off check=1 ;;
  split) packed=off ;;
  packed-mq) queues=2 smp=2 cpus=0,1 frames=60 devopts=,mrg_rxbuf=off ;;
  split-reload) packed=off phases=2 between=reload frames=60 devopts=,event_idx=off ;;
  packed-noopts) devopts=,event_idx=off,indirect_desc=off,mrg_rxbuf=off ;;
  reconnect) packed=off phases=2 between=relink frames=60 chardevopts=,reconnect=1 ;;
  packed-broken) phases=2 between=corrupt frames=20 ;;
  split-broken) packed=off phases=2 between=corrupt frames=20 ;;
  *) echo "guest.sh: unknown case '$case_name'" >&2; exit 2 ;;
esac
frames=${VS_FRAMES:-$frames}
ncpus=$(echo "${cpus//,/ }" | wc -w)
pings=$((frames * ncpus))

for tool in qemu-system-x86_64 timeout; do
  command -v "$tool" >/dev/null || { echo "FAIL ($case_name): $tool not found; run scripts/install-deps.sh test" >&2; exit 1; }
done
[ "$backend" = testpmd ] || [ -x "$virtiosim" ] || { echo "FAIL ($case_name): $virtiosim is not executable" >&2; exit 1; }
"$here/make-guest.sh" "$guest_dir"

dir=$(mktemp -d /tmp/virtiosim-guest-run.XXXXXX)
sock=$dir/vu.sock
serve_pid= qemu_pid= pmd_pid= ram_file=
cleanup() {
  local p
  for p in $qemu_pid $serve_pid $pmd_pid; do kill -TERM "$p" 2>/dev/null || true; done
  for p in $qemu_pid $serve_pid $pmd_pid; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [ -n "${VS_KEEP:-}" ]; then echo "guest.sh: logs kept in $dir" >&2; else rm -rf "$dir"; fi
  [ -z "$ram_file" ] || rm -f "$ram_file"
  [ -z "$pmd_pid" ] || rm -rf "/var/run/dpdk/vsguest$$" 2>/dev/null || true
}
trap cleanup EXIT
fail() {
  echo "FAIL ($case_name): $*" >&2
  local f
  for f in "$dir"/console.log "$dir"/qemu.log "$dir"/serve*.out "$dir"/serve*.log "$dir"/pmd.log; do
    # (grep finds nothing in an empty log: not a reason to stop here)
    [ -f "$f" ] && { echo "--- tail of $(basename "$f")" >&2; { grep -v '^+ ' "$f" || true; } | tail -25 >&2; }
  done
  exit 1
}

# --- back-end -------------------------------------------------------------
serve_n=0
start_serve() {
  serve_n=$((serve_n + 1))
  local args=(vhost-user serve --socket "$sock" --mode echo)
  [ "$queues" -gt 1 ] && args+=(--queues "$queues")
  [ "$check" = 1 ] && args+=(--check)
  "$virtiosim" "${args[@]}" >"$dir/serve$serve_n.out" 2>"$dir/serve$serve_n.log" &
  serve_pid=$!
  for _ in $(seq 200); do [ -S "$sock" ] && return 0; kill -0 "$serve_pid" 2>/dev/null || break; sleep 0.05; done
  fail "serve did not listen on $sock"
}
# Stops serve with SIGINT; it prints its counters on the way out.
stop_serve() {
  kill -INT "$serve_pid" 2>/dev/null || true
  local rc=0
  wait "$serve_pid" || rc=$?
  serve_pid=
  [ "$rc" = 0 ] || fail "serve #$serve_n exited with $rc (1: ring or protocol errors, 3: --check findings, else a crash)"
  grep -q 'serve (exit):' "$dir/serve$serve_n.out" || fail "serve #$serve_n printed no exit counters"
}
serve_counter() {  # instance key
  local v
  v=$(grep 'serve (exit):' "$dir/serve$1.out" | tail -1 | grep -o " $2=[0-9]*" | cut -d= -f2)
  [ -n "$v" ] || fail "serve #$1 reported no $2"
  echo "$v"
}
start_testpmd() {
  rm -f "$sock"
  # iommu-support=1: DPDK's vhost library offers ACCESS_PLATFORM (with
  # BACKEND_REQ and REPLY_ACK) only when asked (RTE_VHOST_USER_IOMMU_SUPPORT).
  local vdev="net_vhost0,iface=$sock,queues=$queues"
  [ "$iommu" = 1 ] && vdev+=",iommu-support=1"
  timeout -s INT 170 dpdk-testpmd --no-huge -m 512 --no-pci --file-prefix="vsguest$$" --lcores 0@0,1@0 \
    --vdev "$vdev" -- --forward-mode=macswap --auto-start \
    --total-num-mbufs=32768 --stats-period 5 --rxq="$queues" --txq="$queues" >"$dir/pmd.log" 2>&1 &
  pmd_pid=$!
  for _ in $(seq 600); do [ -S "$sock" ] && return 0; sleep 0.05; done
  fail "testpmd did not listen on $sock"
}

# --- QEMU -----------------------------------------------------------------
netq= devq=
if [ "$queues" -gt 1 ]; then netq=,queues=$queues; devq=,mq=on; fi
# vectors=0: QEMU 7.2 (Debian 12) without KVM crashes (SIGSEGV in
# msix_set_vector_notifiers, from vhost_net_start) when the guest starts a
# vhost-user device with MSI-X; the device uses INTx. romfile=: no iPXE.
append="console=ttyS0 quiet ipv6.disable=1 panic=-1 vs.frames=$frames vs.cpus=$cpus vs.phases=$phases vs.between=$between"
machine=() viommu=()
if [ "$iommu" = 1 ]; then
  # The guest's DMA goes through QEMU's VT-d: ring and buffer addresses
  # become IOVAs the back-end translates through its IOTLB (misses on the
  # back-end channel, UPDATE/INVALIDATE from QEMU). intel-iommu exists on
  # q35 only, and must be created before the device it translates.
  # intremap=off: interrupt remapping plays no part in DMA translation and
  # the device uses INTx (vectors=0) anyway. device-iotlb=on with ats=on:
  # vhost registers QEMU's device-IOTLB unmap notifier, which QEMU refuses
  # without device-iotlb ("requires device IOTLB mode").
  # disable-legacy=on: on q35's root bus the device would be transitional,
  # and a legacy device cannot offer iommu_platform.
  machine=(-machine q35)
  viommu=(-device intel-iommu,intremap=off,device-iotlb=on)
  devopts+=,disable-legacy=on,iommu_platform=on,ats=on
  # intel_iommu=on: Debian's kernel leaves VT-d off by default.
  # iommu.strict=1: every unmap is invalidated at once (domain type DMA),
  # so each buffer reaches the back-end as an INVALIDATE; the default lazy
  # mode (DMA-FQ) batches them. Not iommu=pt: an identity domain would not
  # translate at all. vs.iommu makes init.sh check all of this.
  append+=" intel_iommu=on iommu.strict=1 vs.iommu=DMA"
fi
qemu_args=(-accel tcg "${machine[@]}" -m 256M -smp "$smp" -nodefaults -no-reboot -display none
  "${viommu[@]}"
  -kernel "$guest_dir/vmlinuz" -initrd "$guest_dir/initramfs.cpio"
  -append "$append"
  -serial "file:$dir/console.log"
  -numa node,memdev=mem
  -chardev "socket,id=c0,path=$sock$chardevopts"
  -netdev "vhost-user,id=n0,chardev=c0$netq"
  -device "virtio-net-pci,netdev=n0,mac=02:00:00:00:00:01,packed=$packed$devq$devopts,vectors=0,romfile=")

if [ "$between" = corrupt ]; then
  # The guest's RAM in a file the test can write (from gpa 0), and a second
  # serial port (the guest's ttyS1) on which the test says when it is done.
  ram_file=$(mktemp /dev/shm/virtiosim-guest-ram.XXXXXX)
  qemu_args+=(-object "memory-backend-file,id=mem,size=256M,mem-path=$ram_file,share=on"
    -chardev "pipe,id=ctl,path=$dir/ctl" -device isa-serial,chardev=ctl)
  mkfifo "$dir/ctl.in" "$dir/ctl.out"
else
  qemu_args+=(-object memory-backend-memfd,id=mem,size=256M,share=on)
fi

t0=$(date +%s.%N)
if [ "$backend" = testpmd ]; then start_testpmd; else start_serve; fi
: >"$dir/console.log"
timeout 150 qemu-system-x86_64 "${qemu_args[@]}" >"$dir/qemu.log" 2>&1 &
qemu_pid=$!

# Wait for poweroff; in the reconnect case restart serve when the guest
# has finished phase 1 and waits for its link to go down.
restarted=0 corrupted=0
while kill -0 "$qemu_pid" 2>/dev/null; do
  if [ "$between" = corrupt ] && [ "$corrupted" = 0 ] && grep -q '^VS-WAIT phase=1' "$dir/console.log"; then
    started=$(grep 'vring 0 started' "$dir/serve1.log" | tail -1)
    desc=$(echo "$started" | grep -o 'desc 0x[0-9a-f]*' | cut -d' ' -f2)
    num=$(echo "$started" | grep -o '[0-9]* entries' | cut -d' ' -f1)
    [ -n "$desc" ] && [ -n "$num" ] || fail "serve logged no start of vring 0 with its address"
    "$here/corrupt_ring.py" "$ram_file" "$desc" "$num" || fail "corrupt_ring.py failed"
    echo go >"$dir/ctl.in"
    corrupted=1
  fi
  if [ "$between" = relink ] && [ "$restarted" = 0 ] && grep -q '^VS-WAIT phase=1' "$dir/console.log"; then
    [ "$backend" = serve ] || fail "reconnect needs serve"
    stop_serve
    start_serve
    restarted=1
  fi
  sleep 0.2
done
qemu_rc=0
wait "$qemu_pid" || qemu_rc=$?
qemu_pid=
t1=$(date +%s.%N)

# --- results ----------------------------------------------------------------
grep -q '^VS-ERROR' "$dir/console.log" && fail "guest: $(grep '^VS-ERROR' "$dir/console.log" | head -1)"
[ "$qemu_rc" = 0 ] || fail "QEMU exited with $qemu_rc (124: timed out)"
grep -q '^VS-DONE ok' "$dir/console.log" || fail "the guest did not finish its scenario"
if grep -q 'falling back on userspace virtio' "$dir/qemu.log"; then
  fail "QEMU fell back on userspace virtio: the vhost-user back-end was not used"
fi
if [ "$iommu" = 1 ]; then
  # init.sh checked each driver load (one per phase with reload) behind the IOMMU
  loads=1
  [ "$between" = reload ] && loads=$phases
  [ "$(grep -c '^VS-IOMMU ' "$dir/console.log")" = "$loads" ] ||
    fail "the guest checked the IOMMU $(grep -c '^VS-IOMMU ' "$dir/console.log") time(s), $loads expected"
  grep '^VS-IOMMU ' "$dir/console.log"
fi
if [ "$between" = corrupt ]; then
  # The broken ring, as each side reports it.
  [ "$corrupted" = 1 ] || fail "the guest never waited for the corruption"
  broke=$(grep 'vring 0 broken' "$dir/serve1.log" | head -1)
  [ -n "$broke" ] || fail "serve did not report vring 0 broken"
  echo "serve: $broke"
  echo "$broke" | grep -q 'broken: ring.address_unmapped address_unmapped' || fail "serve named another rule: $broke"
  echo "$broke" | grep -qE 'at (descriptor|avail entry) 0x' || fail "serve gave no ring address: $broke"
  echo "$broke" | grep -q 'error eventfd signalled' || fail "serve did not signal the SET_VRING_ERR eventfd"
  qemu_line=$(grep 'vhost vring error in virtqueue 0' "$dir/qemu.log" | head -1)
  [ -n "$qemu_line" ] || fail "QEMU did not log the vring error"
  echo "QEMU: $qemu_line"
  # Phase 1 went through whole; nothing of phase 2 was echoed, and no TX
  # frame was taken without being echoed (RX broke: TX frames stay put).
  line=$(grep '^VS-RESULT phase=1 ' "$dir/console.log" | tail -1)
  g() { echo "$line" | grep -o " $1=[0-9]*" | cut -d= -f2; }
  [ "$(g tx_packets)" = "$pings" ] && [ "$(g rx_packets)" = "$pings" ] ||
    fail "phase 1: guest tx=$(g tx_packets) rx=$(g rx_packets), expected $pings each"
  line2=$(grep '^VS-RESULT phase=2 ' "$dir/console.log" | tail -1)
  echo "guest phase 1: tx=$(g tx_packets) rx=$(g rx_packets); phase 2 (after the corruption):$(echo "$line2" | grep -o ' [tr]x_packets=[0-9]*' | tr '\n' ' ')"
  # serve survives to serve the next front-end.
  "$virtiosim" vhost-user drive --socket "$sock" --packets 2000 >"$dir/drive.out" 2>&1 ||
    fail "serve did not serve drive after the broken ring: $(tail -3 "$dir/drive.out")"
  echo "drive afterwards: $(tail -1 "$dir/drive.out")"
  kill -INT "$serve_pid"
  rc=0
  wait "$serve_pid" || rc=$?
  serve_pid=
  echo "serve: $(grep 'serve (exit):' "$dir/serve1.out" | tail -1 | sed 's/.*(exit): //')"
  [ "$rc" = 1 ] || fail "serve exited with $rc; 1 expected after a ring error"
  for k in ring_errors:1 error_signals:1 protocol_errors:0 connections:2 \
           tx_packets:$((pings + 2000)) rx_packets:$((pings + 2000)); do
    [ "$(serve_counter 1 "${k%:*}")" = "${k#*:}" ] ||
      fail "serve ${k%:*}=$(serve_counter 1 "${k%:*}"), ${k#*:} expected (the guest's $pings frames before the break, then drive's 2000)"
  done
  echo "RESULT $case_name: pings before the break=$pings guest tx=$(g tx_packets) rx=$(g rx_packets); wall $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s"
  echo "PASS ($case_name)"
  exit 0
fi
# Anything else QEMU says about vhost is a failure too, except, across a
# back-end restart, what a dead back-end causes (its sends fail and
# GET_VRING_BASE cannot be answered; QEMU then restarts from the used index).
unexpected=$(grep -iE 'vhost|fail|error' "$dir/qemu.log" || true)
if [ "$between" = relink ]; then
  unexpected=$(echo "$unexpected" | grep -vE 'Failed to set msg fds|Failed to read msg header|ring restore failed|^$' || true)
fi
[ -z "$unexpected" ] || fail "QEMU reported: $(echo "$unexpected" | head -3)"
grep '^VS-START' "$dir/console.log" || true
if [ "$backend" = serve ]; then
  for i in $(seq "$serve_n"); do
    echo "serve #$i: $(grep -c 'vring 0 started' "$dir/serve$i.log" || true) start(s) of vring 0"
  done
fi

guest_tx=0 guest_rx=0 guest_txb=0 guest_rxb=0
declare -a phase_tx phase_rx guest_qtx guest_qrx
for p in $(seq "$phases"); do
  line=$(grep "^VS-RESULT phase=$p " "$dir/console.log" | tail -1)
  [ -n "$line" ] || fail "no result from the guest for phase $p"
  g() { echo "$line" | grep -o " $1=[0-9]*" | cut -d= -f2; }
  echo "guest phase $p: pings=$(g pings) tx_packets=$(g tx_packets) rx_packets=$(g rx_packets) tx_bytes=$(g tx_bytes) rx_bytes=$(g rx_bytes) tx_dropped=$(g tx_dropped) rx_dropped=$(g rx_dropped)"
  [ "$(g pings)" = "$pings" ] || fail "phase $p: the guest sent $(g pings) pings, $pings expected"
  [ "$(g tx_packets)" = "$pings" ] || fail "phase $p: guest tx_packets=$(g tx_packets), expected $pings (one frame per ping)"
  [ "$(g rx_packets)" = "$pings" ] || fail "phase $p: guest rx_packets=$(g rx_packets), expected $pings (every frame echoed once)"
  for k in tx_dropped rx_dropped tx_errors rx_errors; do [ "$(g $k)" = 0 ] || fail "phase $p: guest $k=$(g $k)"; done
  phase_tx[$p]=$(g tx_packets); phase_rx[$p]=$(g rx_packets)
  if [ "$queues" -gt 1 ]; then
    # Both queue pairs must carry frames (XPS puts each CPU's pings on its
    # own TX queue; serve echoes on the pair a frame came from). The
    # driver's per-queue counters are cumulative since modprobe, so this
    # holds for a one-phase case.
    stats=$(grep "^VS-ETHSTATS phase=$p " "$dir/console.log" | tail -1)
    s() { echo "$stats" | grep -o " $1=[0-9]*" | cut -d= -f2; }
    per_queue= sum_tx=0 sum_rx=0
    for q in $(seq 0 $((queues - 1))); do
      qt=$(s "tx_queue_${q}_packets"); qr=$(s "rx_queue_${q}_packets")
      guest_qtx[$q]=$qt; guest_qrx[$q]=$qr
      [ -n "$qt" ] && [ -n "$qr" ] || fail "phase $p: no per-queue counters from the guest's driver (ethstats)"
      per_queue="$per_queue pair$q: tx=$qt rx=$qr;"
      [ "$qt" -gt 0 ] || fail "phase $p: TX queue $q carried no frame"
      [ "$qr" -gt 0 ] || fail "phase $p: RX queue $q received no frame"
      sum_tx=$((sum_tx + qt)); sum_rx=$((sum_rx + qr))
    done
    echo "guest phase $p per queue:$per_queue"
    [ "$p" != 1 ] || [ "$sum_tx" = "$(g tx_packets)" ] || fail "per-queue TX counters add up to $sum_tx, tx_packets=$(g tx_packets)"
    [ "$p" != 1 ] || [ "$sum_rx" = "$(g rx_packets)" ] || fail "per-queue RX counters add up to $sum_rx, rx_packets=$(g rx_packets)"
  fi
  guest_tx=$((guest_tx + $(g tx_packets))); guest_rx=$((guest_rx + $(g rx_packets)))
  guest_txb=$((guest_txb + $(g tx_bytes))); guest_rxb=$((guest_rxb + $(g rx_bytes)))
done

if [ "$backend" = testpmd ]; then
  kill -INT "$pmd_pid"; wait "$pmd_pid" || true; pmd_pid=
  b_tx=$(grep -A2 'Accumulated forward statistics' "$dir/pmd.log" | grep -o 'RX-packets: *[0-9]*' | tail -1 | awk '{print $2}')
  b_rx=$(grep -A2 'Accumulated forward statistics' "$dir/pmd.log" | grep -o 'TX-packets: *[0-9]*' | tail -1 | awk '{print $2}')
  b_txb=$guest_txb b_rxb=$guest_rxb
  echo "testpmd: RX-packets (guest TX)=$b_tx TX-packets (to the guest)=$b_rx"
else
  stop_serve
  b_tx=0 b_rx=0 b_txb=0 b_rxb=0
  for i in $(seq "$serve_n"); do
    echo "serve #$i: $(grep 'serve (exit):' "$dir/serve$i.out" | tail -1 | sed 's/.*(exit): //')"
    for k in ring_errors protocol_errors tx_malformed rx_too_big; do
      [ "$(serve_counter "$i" $k)" = 0 ] || fail "serve #$i $k=$(serve_counter "$i" $k)"
    done
    [ "$(serve_counter "$i" connections)" -ge 1 ] || fail "serve #$i saw no connection"
    if [ "$check" = 1 ]; then
      [ "$(serve_counter "$i" check_findings)" = 0 ] ||
        fail "serve #$i --check: $(grep 'vhost-user: check:' "$dir/serve$i.log" | head -3)"
    fi
    b_tx=$((b_tx + $(serve_counter "$i" tx_packets))); b_rx=$((b_rx + $(serve_counter "$i" rx_packets)))
    b_txb=$((b_txb + $(serve_counter "$i" tx_bytes))); b_rxb=$((b_rxb + $(serve_counter "$i" rx_bytes)))
  done
  if [ "$queues" -gt 1 ] && [ "$serve_n" = 1 ]; then
    # serve's used entries per virtqueue (vring 2q = RX of pair q, 2q+1 =
    # TX), when this serve reports them, against the driver's per-queue
    # counts: one used entry per frame (a 98-byte ping fits one buffer).
    line=$(grep 'serve (exit):' "$dir/serve1.out" | tail -1)
    if echo "$line" | grep -q ' vring0_used='; then
      per_queue=
      for q in $(seq 0 $((queues - 1))); do
        vr=$(echo "$line" | grep -o " vring$((2 * q))_used=[0-9]*" | cut -d= -f2)
        vt=$(echo "$line" | grep -o " vring$((2 * q + 1))_used=[0-9]*" | cut -d= -f2)
        per_queue="$per_queue pair$q: tx=$vt rx=$vr;"
        [ "$vt" = "${guest_qtx[$q]}" ] || fail "pair $q: serve used $vt TX entries, the guest's TX queue $q sent ${guest_qtx[$q]}"
        [ "$vr" = "${guest_qrx[$q]}" ] || fail "pair $q: serve used $vr RX entries, the guest's RX queue $q received ${guest_qrx[$q]}"
      done
      echo "serve per queue:$per_queue"
    else
      echo "serve reports no per-queue figures: totals only"
    fi
  fi
  if [ "$iommu" = 1 ]; then
    # Every address serve used came through its IOTLB: it asked QEMU for
    # translations (misses, answered by UPDATEs), and strict mode unmapped
    # every buffer the guest got back (INVALIDATEs); no access refused.
    echo "serve ring addresses (IOVAs):$(grep -o 'vring [0-9]* started: [a-z]*, [0-9]* entries, desc 0x[0-9a-f]*' "$dir/serve1.log" | sed 's/started: [a-z]*, [0-9]* entries, //' | tr '\n' ';' | sed 's/;/; /g')"
    for k in iotlb_misses iotlb_updates iotlb_invalidates; do
      [ "$(serve_counter 1 $k)" -gt 0 ] || fail "serve $k=0: the device's addresses did not go through serve's IOTLB"
    done
    [ "$(serve_counter 1 iotlb_faults)" = 0 ] || fail "serve refused $(serve_counter 1 iotlb_faults) access(es) (iotlb_faults)"
    # Per echoed frame (one TX and one RX buffer, each mapped and unmapped
    # by the guest): the messages, and the translations serve made through
    # its IOTLB (ring accesses go through the rings' kept translations).
    echo "serve IOTLB per echoed frame ($b_rx frames):$(for k in iotlb_misses iotlb_updates iotlb_invalidates iotlb_hits; do
      awk -v k="${k#iotlb_}" -v n="$(serve_counter 1 $k)" -v f="$b_rx" 'BEGIN { printf " %s=%d (%.2f)", k, n, f ? n / f : 0 }'; done)"
    echo "serve IOTLB totals: ring_translations=$(serve_counter 1 iotlb_ring_translations) evictions=$(serve_counter 1 iotlb_evictions); a miss waited $(awk -v t="$(serve_counter 1 iotlb_miss_wait_ns)" -v m="$(serve_counter 1 iotlb_misses)" 'BEGIN { printf "%.3f", t / m / 1e6 }') ms on average for QEMU's answer"
  fi
  if [ "$between" = relink ]; then
    # each serve carried its own phase: nothing counted twice across the restart
    [ "$(serve_counter 1 tx_packets)" = "${phase_tx[1]}" ] || fail "serve #1 took $(serve_counter 1 tx_packets) frames, the guest sent ${phase_tx[1]} before the restart"
    [ "$(serve_counter 2 tx_packets)" = "${phase_tx[2]}" ] || fail "serve #2 took $(serve_counter 2 tx_packets) frames, the guest sent ${phase_tx[2]} after the restart"
  fi
fi
echo "RESULT $case_name: pings=$((pings * phases)) guest tx=$guest_tx rx=$guest_rx; $backend tx=$b_tx rx=$b_rx; wall $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s"
[ "$b_tx" = "$guest_tx" ] || fail "the guest sent $guest_tx frames, $backend took $b_tx"
[ "$b_rx" = "$guest_rx" ] || fail "$backend returned $b_rx frames, the guest received $guest_rx"
[ "$b_txb" = "$guest_txb" ] || fail "the guest sent $guest_txb bytes, $backend took $b_txb"
[ "$b_rxb" = "$guest_rxb" ] || fail "$backend returned $b_rxb bytes, the guest received $guest_rxb"
[ "$guest_tx" = $((pings * phases)) ] || fail "total frames $guest_tx, expected $((pings * phases))"
echo "PASS ($case_name)"
