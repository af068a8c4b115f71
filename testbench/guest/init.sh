#!/bin/sh
# /init of the guest-test initramfs (busybox). The scenario comes from the
# kernel command line:
#   vs.frames=N     pings per CPU and phase (default 50)
#   vs.interval=S   seconds between pings (default 0.01)
#   vs.cpus=0,1     CPUs that ping, each with its own busybox ping pinned by
#                   taskset, so that XPS spreads frames over the TX queues
#   vs.phases=N     phases of traffic (default 1)
#   vs.between=reload|relink|corrupt
#                   between phases: reload = rmmod + modprobe virtio_net
#                   (a vhost-user stop with GET_VRING_BASE, then a fresh
#                   setup); relink = wait for the carrier to go down and
#                   come back (the back-end restarted; QEMU reconnects);
#                   corrupt = wait for a line on /dev/ttyS1, which the
#                   test writes once it has corrupted a ring from the host
#   vs.iommu=TYPE   the device sits behind QEMU's intel-iommu: after every
#                   driver load check that VT-d is on, that eth0's PCI
#                   device is in an IOMMU group whose domain type is TYPE
#                   (DMA: strict, DMA-FQ: lazy) and that the driver
#                   negotiated VIRTIO_F_ACCESS_PLATFORM; print VS-IOMMU
# For every phase it prints one line the test parses:
#   VS-RESULT phase=P pings=N tx_packets=... rx_packets=... ... irq=...
# (interface counters of this phase alone: the difference from its start)
# then unloads the driver (the back-end sees the rings stopped) and powers
# off. A failure prints VS-ERROR and powers off too.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
grep -q 'vs.debug=1' /proc/cmdline && set -x

frames=50 interval=0.01 cpus=0 phases=1 between=none iommu=
for w in $(cat /proc/cmdline); do
  case "$w" in
    vs.frames=*) frames=${w#*=} ;;
    vs.interval=*) interval=${w#*=} ;;
    vs.cpus=*) cpus=${w#*=} ;;
    vs.phases=*) phases=${w#*=} ;;
    vs.between=*) between=${w#*=} ;;
    vs.iommu=*) iommu=${w#*=} ;;
  esac
done
cpus=$(echo "$cpus" | tr ',' ' ')
ncpus=$(echo $cpus | wc -w)
pings=$((frames * ncpus))
stat=/sys/class/net/eth0/statistics

say() { echo "$*" >/dev/console; }
finish() {
  ip link set eth0 down 2>/dev/null
  rmmod virtio_net 2>/dev/null
  say "VS-DONE $1"
  sync
  poweroff -f
  sleep 10
}
fail() { say "VS-ERROR $*"; finish error; }

# wait_for SECONDS COMMAND...: polls every 50 ms
wait_for() {
  n=$(($1 * 20)); shift
  while ! "$@" 2>/dev/null; do
    n=$((n - 1))
    [ $n -gt 0 ] || return 1
    usleep 50000
  done
}
has_eth0() { [ -d /sys/class/net/eth0 ]; }
carrier_is() { [ "$(cat /sys/class/net/eth0/carrier)" = "$1" ]; }
counters_reach() { [ "$(cat $stat/tx_packets)" -ge $((base_tx_packets + $1)) ] && [ "$(cat $stat/rx_packets)" -ge $((base_rx_packets + $1)) ]; }
keys="tx_packets rx_packets tx_bytes rx_bytes tx_dropped rx_dropped tx_errors rx_errors"
take_base() { for k in $keys; do eval "base_$k=$(cat $stat/$k)"; done; }
# per-queue interrupt counts (summed over CPUs), e.g. input.0:52,output.0:3
irqs() {
  awk '$NF ~ /^virtio[0-9]+-(input|output)\.[0-9]+$/ {
         s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i
         n = $NF; sub(/^virtio[0-9]+-/, "", n); printf "%s%s:%d", sep, n, s; sep = ","
       }' /proc/interrupts
}

bring_up() {
  wait_for 10 has_eth0 || fail "no eth0 after loading virtio_net"
  ip addr add 10.0.0.1/24 dev eth0 || fail "ip addr add"
  ip link set eth0 up || fail "ip link set eth0 up"
  # The echo peer: a static neighbour, so that the guest sends no ARP
  # (busybox ip has no "neigh add"; arp -s makes a permanent entry).
  arp -i eth0 -s 10.0.0.2 02:00:00:00:00:02 || fail "arp -s 10.0.0.2"
  wait_for 30 carrier_is 1 || fail "eth0 has no carrier"
  [ -z "$iommu" ] || check_iommu
}

# QEMU or the kernel could leave the device untranslated without a word
# (no VT-d in the kernel, iommu=pt, the device created before the IOMMU, a
# driver that ignores ACCESS_PLATFORM); then the back-end would see guest
# physical addresses and the test would prove nothing about the IOTLB.
check_iommu() {
  dmesg | grep -q 'DMAR: IOMMU enabled' || fail "iommu: the kernel did not enable VT-d (no 'DMAR: IOMMU enabled')"
  [ -d /sys/class/iommu/dmar0 ] || fail "iommu: no /sys/class/iommu/dmar0"
  dev=$(readlink -f /sys/class/net/eth0/device)  # the virtio device; its parent is the PCI function
  pci=$(readlink -f "$dev/..")
  [ -e "$pci/iommu_group" ] || fail "iommu: ${pci##*/} is in no IOMMU group (not translated)"
  type=$(cat "$pci/iommu_group/type")
  [ "$type" = "$iommu" ] || fail "iommu: ${pci##*/}'s domain type is $type, $iommu expected"
  # features: one character per bit, bit 0 first; ACCESS_PLATFORM is bit 33
  ap=$(cut -c34 "$dev/features")
  [ "$ap" = 1 ] || fail "iommu: the driver did not negotiate VIRTIO_F_ACCESS_PLATFORM (features $(cat "$dev/features"))"
  say "VS-IOMMU pci=${pci##*/} group=$(basename "$(readlink -f "$pci/iommu_group")") type=$type access_platform=$ap"
}

modprobe virtio_pci || fail "modprobe virtio_pci"
modprobe virtio_net || fail "modprobe virtio_net"
bring_up
say "VS-START pings_per_phase=$pings cpus=$ncpus queues=$(ls -d /sys/class/net/eth0/queues/tx-* | wc -l) xps=$(cat /sys/class/net/eth0/queues/tx-*/xps_cpus 2>/dev/null | tr '\n' ' ')"

p=1
while [ $p -le "$phases" ]; do
  take_base
  say "VS-PHASE phase=$p"
  pids=
  for c in $cpus; do
    taskset -c "$c" ping -q -c "$frames" -i "$interval" -W 1 10.0.0.2 >/dev/null 2>&1 &
    pids="$pids $!"
  done
  for pid in $pids; do wait "$pid"; done
  # TX completions and RX frames may still be on their way: wait until both
  # counters reach the pings sent (bounded), then a little more so that a
  # frame counted twice would show.
  wait_for 5 counters_reach "$pings"
  usleep 300000
  line="VS-RESULT phase=$p pings=$pings"
  for k in $keys; do
    eval "b=\$base_$k"
    line="$line $k=$(($(cat $stat/$k) - b))"
  done
  say "$line irq=$(irqs)"
  # the driver's own counters, cumulative since modprobe (per queue:
  # rx_queue_N_packets, tx_queue_N_packets)
  say "VS-ETHSTATS phase=$p $(ethstats eth0 2>&1)"
  if [ $p -lt "$phases" ]; then
    case "$between" in
      reload)
        ip link set eth0 down
        rmmod virtio_net || fail "rmmod virtio_net"
        modprobe virtio_net || fail "modprobe virtio_net (reload)"
        bring_up
        ;;
      relink)
        say "VS-WAIT phase=$p"
        wait_for 60 carrier_is 0 || fail "carrier did not go down"
        say "VS-LINK-DOWN phase=$p"
        wait_for 60 carrier_is 1 || fail "carrier did not come back"
        ;;
      corrupt)
        say "VS-WAIT phase=$p"
        read -r -t 60 go </dev/ttyS1 || fail "no word from the test on ttyS1"
        ;;
    esac
  fi
  p=$((p + 1))
done
finish ok
