// Faults in what the two sides write to the ring, and in how they drive
// it: corrupted descriptors and used entries (a store of the ring core
// changed on its way to memory: models/memory StoreFault), completions
// out of order, spurious kicks, an early queue-reset acknowledgement.
// Installed on the models' hook points (NetDriver::before_tx_publish, ...);
// the models know the hooks, not the faults.
#pragma once

#include <cstdint>

#include "models/device/vhost_net.h"
#include "models/driver/net_driver.h"
#include "models/memory/memory_model.h"

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

struct RingFaultPlan {
  DescCorruption corrupt_desc = DescCorruption::none;
  uint64_t corrupt_desc_at = 1;
  UsedCorruption corrupt_used = UsedCorruption::none;
  uint64_t corrupt_used_at = 1;
  bool kick_always = false;      // the driver ignores the device's event suppression (P10)
  bool reset_ack_early = false;  // the device acknowledges a queue reset before it stops the queue (P15)
};

// Set the hooks `plan` needs on the driver and the device; none for a
// plan without faults.
void install(const RingFaultPlan& plan, ring::RingLayout layout, memory::MemoryModel& mem, driver::NetDriver& drv,
             device::VhostNet& dev);

}  // namespace virtiosim::faults
