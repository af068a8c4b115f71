#include "models/memory/dma_domain.h"

#include <stdexcept>

namespace virtiosim::memory {

namespace {
uint64_t pages_of(uint64_t addr, uint64_t bytes) {
  return (addr % kIovaPageBytes + bytes + kIovaPageBytes - 1) / kIovaPageBytes;
}
}  // namespace

// Linux's IOVA allocator hands out ranges top-down below the domain's limit
// and keeps recently freed ranges in per-CPU caches by size (the rcache
// magazines), reusing the newest first. A last-in-first-out free list per
// size with a top-down bump behind it is that behaviour for one CPU, and
// the reuse matters: a reused IOVA names a new guest page, so a device that
// kept the old translation would touch the wrong memory.
uint64_t DmaDomain::alloc_pages(uint64_t pages) {
  std::vector<uint64_t>& freed = free_[pages];
  if (!freed.empty()) {
    const uint64_t first = freed.back();
    freed.pop_back();
    return first;
  }
  if (pages >= next_top_) throw std::length_error("IOVA space exhausted");
  next_top_ -= pages;
  return next_top_;
}

uint64_t DmaDomain::map(uint64_t gpa, uint64_t bytes, uint8_t perm) {
  if (bytes == 0) throw std::invalid_argument("DMA map of 0 bytes");
  const uint64_t pages = pages_of(gpa, bytes);
  const uint64_t first = alloc_pages(pages);
  const uint64_t gpa_page = gpa - gpa % kIovaPageBytes;
  for (uint64_t i = 0; i < pages; ++i) table_[first + i] = {gpa_page + i * kIovaPageBytes, perm};
  return first * kIovaPageBytes + gpa % kIovaPageBytes;
}

uint64_t DmaDomain::unmap_pages(uint64_t iova, uint64_t bytes) {
  const uint64_t pages = pages_of(iova, bytes);
  const uint64_t first = iova / kIovaPageBytes;
  for (uint64_t i = 0; i < pages; ++i)
    if (table_.erase(first + i) == 0) throw std::logic_error("DMA unmap of an IOVA that is not mapped");
  for (const InvalidateSink& s : sinks_) s(first * kIovaPageBytes, pages * kIovaPageBytes);
  return first;
}

void DmaDomain::unmap(uint64_t iova, uint64_t bytes) {
  // Strict mode: the device's IOTLB drops the range before the IOVA can be
  // handed out again.
  free_[pages_of(iova, bytes)].push_back(unmap_pages(iova, bytes));
}

void DmaDomain::revoke(uint64_t iova, uint64_t bytes) { unmap_pages(iova, bytes); }

std::optional<IoPte> DmaDomain::walk(uint64_t iova) const {
  const auto it = table_.find(iova / kIovaPageBytes);
  if (it == table_.end()) return std::nullopt;
  return it->second;
}

}  // namespace virtiosim::memory
