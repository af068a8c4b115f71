// What every side of a ring keeps, driver or device, packed or split: its
// memory, layout and features, its options and counters, and the broken
// state with the failure (error and rule id) that caused it. The base of
// DeviceBase and DriverBase; nothing here is virtual.
#pragma once

#include <cstddef>
#include <cstdint>

#include "models/ring/errors.h"
#include "models/ring/features.h"
#include "models/ring/layout.h"
#include "models/ring/memory_policy.h"

namespace virtiosim::ring {

// A side starts on a cache line of its own and fills its last one: a
// driver and a device placed side by side (one struct, one thread each)
// never share a line, so the indices one thread writes on every buffer do
// not bounce the other's.
inline constexpr size_t kRingSideAlign = 64;

template <class Layout, MemoryPolicy Mem, class Options, class Stats>
class alignas(kRingSideAlign) RingSide {
 public:
  bool broken() const { return broken_; }
  RingError last_error() const { return failure_.error; }
  // The error that broke the queue and the rule it enforces.
  const RingFailure& failure() const { return failure_; }
  uint32_t num() const { return layout_.num; }
  const Stats& stats() const { return stats_; }
  const Layout& layout() const { return layout_; }
  Mem& mem() { return mem_; }

 protected:
  // Setup mistakes (queue size, alignment, unmapped areas) throw
  // RingConfigError before anything is touched.
  RingSide(Mem mem, Layout layout, Features features, Options opts)
      : mem_(mem), layout_(layout), features_(features), opts_(opts) {
    validate(layout_, mem_);
  }
  ~RingSide() = default;

  // A fatal error: the queue is broken and refuses all further work.
  RingError mark_broken(RingError e) {
    broken_ = true;
    failure_ = RingFailure::of(e);
    stats_.errors.add(e);
    return e;
  }
  void mark_healthy() {
    broken_ = false;
    failure_ = {};
  }

  Mem mem_;
  Layout layout_;
  Features features_;
  Options opts_;
  bool broken_ = false;
  RingFailure failure_;
  Stats stats_;
};

}  // namespace virtiosim::ring
