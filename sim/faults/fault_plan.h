// The fault plan: every fault a run injects, declared once (the `fault.`
// keys of `virtiosim params`). sim/faults/notification_faults and
// sim/faults/ring_faults carry it out; no model holds a fault field.
#pragma once

#include <cstdint>
#include <string>

#include "models/param.h"
#include "models/ring/virtqueue.h"

namespace virtiosim::faults {

// On TX packet `at` (1-based, queue pair 0). All but the last corrupt a
// store of the driver's add(), so the list is published malformed: an
// address outside guest memory (the device rejects it), INDIRECT|NEXT on a
// descriptor (P7), the head's flags with USED equal to AVAIL (P2: the
// device never sees it available), NEXT on the list's last descriptor
// (P6.2: the list runs into a slot not yet available), WRITE on the head of
// a two-descriptor list (P6.3: readable after writable). The last makes
// the list available as it should be, then rewrites its len with the same
// value while the device owns it: a P3 violation with no other effect.
enum class DescCorruption : uint8_t {
  none,
  unmapped_addr,
  indirect_next,
  avail_encoding,
  next_on_last,
  write_on_head,
  rewrite_in_flight
};
const char* name(DescCorruption c);

// On TX completion `at` (1-based, queue pair 0). `next` and `encoding`
// corrupt the next used-flags store of the TX ring: NEXT set (P5), AVAIL
// flipped so the entry is not used for the driver's wrap (P2).
// `write_order`: the device completes the buffer, then writes its used
// entry after the next one's (P4). `complete_order`: the device completes
// the next buffer first (allowed without IN_ORDER; P8 with it). Packed
// rings only for `next` and `encoding` (split used elements carry no flags).
enum class UsedCorruption : uint8_t { none, next, encoding, write_order, complete_order };
const char* name(UsedCorruption c);

// Known bugs of real drivers and devices, put back into the simulated
// ones (`fault.replay`). Each names its source; the conformance monitor
// names the rule from what it observes, as it would for any
// implementation with that bug (README, "Known-bug replays").
//  event_idx_equality: the device interrupts only when the last used
//    entry it wrote is the one the driver's event index names, not when
//    any entry of the batch is (VCML src/vcml/protocols/virtio.cpp,
//    split_virtqueue::do_put: used_event == used->idx; OpenVMM PR #4267).
//    Batches step over the event: P10.lost_interrupt. Needs event_idx=1.
//  always_interrupt: the device interrupts after every used batch,
//    whatever the driver's event suppression says (crosvm
//    devices/src/virtio/queue/packed_queue.rs, queue_wants_interrupt
//    computes the answer and returns true): P10.ignored_suppression.
//  inverted_enable: the driver's idea of "interrupts enabled" is the
//    opposite of the flags it writes (virtio-win issue #1631:
//    virtqueue_is_interrupt_enabled_packed returns shadow & DISABLE), so
//    it writes DISABLE where it means ENABLE and the reverse; it waits for
//    interrupts it asked not to get: P10.disabled_wait. Needs ring=packed
//    and event_idx=0 (with EVENT_IDX the flags it writes are DESC).
//  chain_len_qsize_wrap: a list exactly as long as the ring does not flip
//    the driver's avail wrap counter (Linux 1acfe2c12258 "virtio_ring: fix
//    avail_wrap_counter in virtqueue_add_packed", 2023: `i < head` where
//    `i <= head` is needed; OpenVMM #3990); every list after it carries
//    the previous lap's AVAIL/USED bits: P2. Needs ring=packed, indirect=0
//    and driver.tx_segments equal to queue_size (queue_size=2,
//    driver.tx_segments=2).
//  vring_base_used_mask: a restarted backend reads the used half of the
//    packed ring base with the mask 0x7ffff, so the used wrap counter
//    lands in the used index (QEMU hw/virtio/virtio.c,
//    virtio_queue_packed_set_last_avail_idx, fixed 2023 by "virtio: Fix
//    packed virtqueue used_idx mask"): VU2. Needs ring=packed and
//    vhost.restart_every_us > 0.
//  dpdk_event_flags_overwrite: the driver writes its interrupt
//    suppression flags (ENABLE/DISABLE/DESC) into the device's event
//    suppression structure (the Device Area) instead of its own (the
//    Driver Area): the device's flags are overwritten and the driver's
//    disabling of used-buffer notifications has no effect (DPDK
//    cd9012c3f8d3, "the device's event flags are overwritten, so
//    notifications cannot be disabled", as issue #11 describes it):
//    P10.area_owner. Needs ring=packed.
//  missing_avail_rmb: the split device's emptiness checks (busy poll,
//    re-enabling notifications) keep the avail idx they read for the pops
//    that follow, with no read barrier after it, so the pop may read the
//    ring entry before the index (Linux vhost vhost_vq_avail_empty and
//    vhost_enable_notify before "vhost: Add smp_rmb() in ..." by Gavin
//    Shan, 2024; seen on arm64 after years): P13.avail_body. Needs
//    ring=split, ordering=weak (on x86 loads do not pass loads) and busy
//    polling: the re-enable path reads the index right after a full
//    barrier, which leaves the pop's loads no earlier load to pass.
//  dpdk_wrap_head_not_last: in a list that wraps the ring end, the driver
//    writes the flags of the descriptors past the end after the head's,
//    so the head is not written last (DPDK af4d7ad5d90b as issue #11
//    describes it; the commit is not in our corpus): P6.5. Needs
//    ring=packed, indirect=0 and TX lists that wrap the ring end
//    (driver.tx_segments=2 and an odd queue_size).
enum class Replay : uint8_t {
  none,
  event_idx_equality,
  always_interrupt,
  inverted_enable,
  chain_len_qsize_wrap,
  vring_base_used_mask,
  dpdk_event_flags_overwrite,
  missing_avail_rmb,
  dpdk_wrap_head_not_last
};
const char* name(Replay r);

// What the faults need to know of the run they are checked against.
struct RunShape {
  ring::RingLayout layout = ring::RingLayout::packed;
  uint32_t queue_size = 0, tx_segments = 1;
  bool indirect = false, ring_reset = false, event_idx = true;
  double restart_every_us = 0;
  bool weak_ordering = false;  // ordering=weak: loads may pass loads
  bool busy_poll = false;      // vhost.busy_poll_ns > 0
  bool iommu = false;          // iommu=1: buffers are mapped through the guest's IOMMU
};

// Ring-core barriers not executed: comma-separated ring::BarrierSite names.
struct BarrierList {
  std::string text;
};

#define VIRTIOSIM_FAULT_PARAMS(X)                                                                            \
  X(BarrierList, drop_barriers, {}, "", 0, 0, "fault injection: ring-core barriers not executed (SPEC_NOTES P13)") \
  X(uint32_t, lose_kick_every, 0, "", 0, 1e9, "fault injection: every Nth kick is lost (0: none)")        \
  X(uint32_t, lose_interrupt_every, 0, "", 0, 1e9, "fault injection: every Nth queue interrupt is lost (0: none)")  \
  X(uint32_t, corrupt_kick_data_every, 0, "", 0, 1e9,                                                           \
    "fault injection: every Nth kick's notification data names the neighbouring queue (P12)")            \
  X(uint32_t, delay_kick_every, 0, "", 0, 1e9,                                                               \
    "fault injection: every Nth kick arrives fault.delay_ns late (0: none)")                             \
  X(uint32_t, delay_interrupt_every, 0, "", 0, 1e9,                                                                \
    "fault injection: every Nth queue interrupt arrives fault.delay_ns late (0: none)")                      \
  X(double, delay_ns, 20000, "ns", 0, 1e9,                                                                   \
    "fault injection: extra latency of a delayed kick or interrupt (those behind it wait too)")          \
  X(double, reset_tx_at_us, 0, "us", 0, 1e12,                                                                \
    "the driver resets TX queue 0 at this time with buffers in flight, takes them back and enables it again (P15); 0 = never") \
  X(bool, reset_ack_early, false, "bool", 0, 1,                                                              \
    "fault injection: the device acknowledges a queue reset at once and stops the queue a round later (P15)") \
  X(bool, kick_always, false, "bool", 0, 1,                                                                  \
    "fault injection: the driver kicks after every batch, ignoring the device's event suppression (P10 spurious kicks)") \
  X(DescCorruption, corrupt_desc, DescCorruption::none, "", 0, 0,                                            \
    "fault injection: a TX list published malformed (unmapped_addr, indirect_next: P7, avail_encoding: P2, next_on_last: P6.2, write_on_head: P6.3) or rewritten while the device owns it (rewrite_in_flight: P3)") \
  X(uint64_t, corrupt_desc_at, 1, "packet", 1, 1e12, "fault injection: which TX packet (1-based, queue pair 0)") \
  X(UsedCorruption, corrupt_used, UsedCorruption::none, "", 0, 0,                                            \
    "fault injection: a TX used entry with NEXT (P5) or a wrong AVAIL bit (P2), written out of completion order (P4), or completed out of order (P8 with in_order)") \
  X(uint64_t, corrupt_used_at, 1, "packet", 1, 1e12, "fault injection: which TX completion (1-based, queue pair 0)") \
  X(uint64_t, unmap_in_flight, 0, "packet", 0, 1e12,                                                         \
    "fault injection: the driver unmaps this TX packet's buffer (1-based, queue pair 0) right after making it available, while the device holds it (needs iommu=1): the device takes ring.iova_unmapped, the monitor names dma.unmap_in_flight; 0 = never") \
  X(Replay, replay, Replay::none, "", 0, 0,                                                                  \
    "a known bug of a real driver or device put back: event_idx_equality (VCML, OpenVMM #4267), always_interrupt (crosvm queue_wants_interrupt), inverted_enable (virtio-win #1631), chain_len_qsize_wrap (Linux 1acfe2c12258, OpenVMM #3990), vring_base_used_mask (QEMU 2023, used mask 0x7ffff), dpdk_event_flags_overwrite (DPDK cd9012c3f8d3), missing_avail_rmb (Linux vhost_vq_avail_empty, 2024), dpdk_wrap_head_not_last (DPDK af4d7ad5d90b); README \"Known-bug replays\" says what each needs")

struct FaultPlan {
  VIRTIOSIM_FAULT_PARAMS(VIRTIOSIM_RANGED_FIELD)
  template <class F>
  void visit(F&& f) {
    VIRTIOSIM_FAULT_PARAMS(VIRTIOSIM_RANGED_VISIT)
  }

  // The faults that need something of the run (throws sim::ConfigError,
  // naming the fault's key): flag faults need a packed ring, write_on_head
  // a two-descriptor list in the ring, a queue reset RING_RESET, an unmap
  // in flight an IOMMU, each replay what its comment above says.
  void validate(const RunShape& run) const;
  std::vector<ring::BarrierSite> dropped_barriers() const;
};

}  // namespace virtiosim::faults
