// What both driver families (PackedDriver, SplitDriver) are configured with
// and count.
#pragma once

#include <cstdint>

#include "models/ring/errors.h"
#include "models/ring/indirect_pool.h"
#include "models/ring/stat.h"

namespace virtiosim::ring {

struct DriverOptions {
  // Guest memory for indirect tables; null disables them even when
  // VIRTIO_F_INDIRECT_DESC is negotiated.
  IndirectPool* indirect_pool = nullptr;
  // Use an indirect table for buffers of at least this many segments.
  // Linux uses one for any multi-segment buffer (total_sg > 1), hence 2.
  uint32_t indirect_threshold = 2;
  // Split: read the used idx once per burst, again only when the entries it
  // announced are all taken (DPDK's virtio PMD, virtqueue_nused), instead of
  // on every get_used (Linux more_used_split, the default: the simulated
  // Linux driver must read what Linux reads). The idx sits on the line the
  // device writes on every flush, so reading it per buffer costs a
  // cache-line transfer per buffer while the device is busy.
  bool cache_used_idx = false;
};

#define VIRTIOSIM_DRIVER_STATS(X)                                          \
  X(added, "buffers made available")                                       \
  X(used, "buffers returned by get_used")                                  \
  X(kicks, "kick_prepare() said notify")                                   \
  X(kicks_suppressed, "kick_prepare() said the device does not want one")  \
  X(indirect, "buffers sent through an indirect table")                    \
  X(indirect_fallbacks, "pool exhausted: sent as direct descriptors")

struct DriverStats {
  VIRTIOSIM_DRIVER_STATS(VIRTIOSIM_STAT_FIELD)
  ErrorCounters errors;
  template <class F>
  void visit(F&& f) const {
    VIRTIOSIM_DRIVER_STATS(VIRTIOSIM_STAT_VISIT)
  }
};

}  // namespace virtiosim::ring
