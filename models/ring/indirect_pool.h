// Guest memory for indirect descriptor tables (P7): a region split into
// fixed-size slots, each big enough for `max_entries` descriptors. The
// driver side allocates a table per indirect buffer and frees it when the
// buffer comes back used; when the pool is exhausted the driver falls back
// to direct descriptors.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace virtiosim::ring {

class IndirectPool {
 public:
  // [base, base + slots * max_entries * 16) must be guest memory that
  // nothing else uses; base 16-byte aligned.
  IndirectPool(uint64_t base, uint32_t slots, uint32_t max_entries);

  static constexpr uint64_t bytes(uint32_t slots, uint32_t max_entries) {
    return uint64_t{slots} * max_entries * 16;
  }

  // A table for `entries` descriptors, or nothing if none is free or it
  // would not fit a slot.
  std::optional<uint64_t> alloc(uint32_t entries);
  void free(uint64_t table);

  uint32_t max_entries() const { return max_entries_; }
  uint32_t free_slots() const { return static_cast<uint32_t>(free_.size()); }

 private:
  uint64_t base_;
  uint32_t slots_;
  uint32_t max_entries_;
  std::vector<uint32_t> free_;  // LIFO: the table freed last is warm in cache
};

}  // namespace virtiosim::ring
