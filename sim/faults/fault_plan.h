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
  X(uint64_t, corrupt_used_at, 1, "packet", 1, 1e12, "fault injection: which TX completion (1-based, queue pair 0)")

struct FaultPlan {
  VIRTIOSIM_FAULT_PARAMS(VIRTIOSIM_RANGED_FIELD)
  template <class F>
  void visit(F&& f) {
    VIRTIOSIM_FAULT_PARAMS(VIRTIOSIM_RANGED_VISIT)
  }

  // The faults that need something of the run (throws sim::ConfigError,
  // naming the fault's key): flag faults need a packed ring, write_on_head
  // a two-descriptor list in the ring, a queue reset RING_RESET.
  void validate(ring::RingLayout layout, uint32_t tx_segments, bool indirect, bool ring_reset) const;
  std::vector<ring::BarrierSite> dropped_barriers() const;
};

}  // namespace virtiosim::faults
