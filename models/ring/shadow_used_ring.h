// The device's shadow used ring (Linux vhost vq->heads, DPDK
// vq->shadow_used_packed): completions recorded by push_used and not yet
// published by flush. It never holds more than the queue size, so its
// storage is sized once when the ring is set up and a count says how much is
// in use: no std::vector growth checks, and no size computed by dividing a
// pointer difference by the 12-byte element, on the per-buffer path.
#pragma once

#include <cstdint>
#include <vector>

#include "models/ring/chain.h"

namespace virtiosim::ring {

class ShadowUsedRing {
 public:
  explicit ShadowUsedRing(uint32_t capacity)
      : elems_(capacity), capacity_(capacity) {}

  bool full() const { return count_ == capacity_; }
  bool empty() const { return count_ == 0; }
  uint32_t size() const { return count_; }
  // The caller checks full() first: the shadow is flushed before it would
  // overflow.
  void push_back(const UsedElem& e) { elems_.data()[count_++] = e; }
  void clear() { count_ = 0; }

  const UsedElem& operator[](uint32_t k) const { return elems_[k]; }
  const UsedElem* begin() const { return elems_.data(); }
  const UsedElem* end() const { return elems_.data() + count_; }

 private:
  std::vector<UsedElem> elems_;  // capacity_ entries, count_ of them in use
  uint32_t capacity_;
  uint32_t count_ = 0;
};

}  // namespace virtiosim::ring
