// What both driver families (PackedDriver, SplitDriver) are configured with
// and count.
#pragma once

#include <cstdint>

#include "models/ring/errors.h"
#include "models/ring/indirect_pool.h"

namespace virtiosim::ring {

struct DriverOptions {
  // Guest memory for indirect tables; null disables them even when
  // VIRTIO_F_INDIRECT_DESC is negotiated.
  IndirectPool* indirect_pool = nullptr;
  // Use an indirect table for buffers of at least this many segments.
  // Linux uses one for any multi-segment buffer (total_sg > 1), hence 2.
  uint32_t indirect_threshold = 2;
};

struct DriverStats {
  uint64_t added = 0;              // buffers made available
  uint64_t used = 0;               // buffers returned by get_used
  uint64_t kicks = 0;              // kick_prepare() said notify
  uint64_t kicks_suppressed = 0;   // kick_prepare() said the device does not want one
  uint64_t indirect = 0;           // buffers sent through an indirect table
  uint64_t indirect_fallbacks = 0; // pool exhausted: sent as direct descriptors
  ErrorCounters errors;
};

}  // namespace virtiosim::ring
