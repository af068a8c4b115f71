#include "models/ring/indirect_pool.h"

#include "models/ring/errors.h"

namespace virtiosim::ring {

IndirectPool::IndirectPool(uint64_t base, uint32_t slots, uint32_t max_entries)
    : base_(base), slots_(slots), max_entries_(max_entries) {
  if (base % 16 != 0 || max_entries == 0)
    throw RingConfigError(RingError::bad_layout, "indirect pool must be 16-aligned with entries > 0");
  free_.reserve(slots);
  for (uint32_t i = slots; i-- > 0;) free_.push_back(i);
}

std::optional<uint64_t> IndirectPool::alloc(uint32_t entries) {
  if (entries == 0 || entries > max_entries_ || free_.empty()) return std::nullopt;
  uint32_t slot = free_.back();
  free_.pop_back();
  return base_ + uint64_t{slot} * max_entries_ * 16;
}

void IndirectPool::free(uint64_t table) {
  uint64_t slot = (table - base_) / (uint64_t{max_entries_} * 16);
  if (table >= base_ && slot < slots_) free_.push_back(static_cast<uint32_t>(slot));
}

}  // namespace virtiosim::ring
