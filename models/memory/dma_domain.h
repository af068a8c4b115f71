// The guest's IOMMU domain of the virtio device, as the Linux DMA API
// (drivers/iommu/dma-iommu.c) keeps it once VIRTIO_F_ACCESS_PLATFORM is
// negotiated: an IOVA allocator and a page table of IOVA pages, each naming
// a guest-physical page and what the device may do with it. The driver maps
// (virtqueue_add, dma_alloc_coherent for the rings) and unmaps (detach_buf)
// through it; a device's IOTLB walks it on a miss and hears every unmap at
// once (iommu.strict=1: each dma_unmap invalidates before it returns).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

namespace virtiosim::memory {

// VT-d second-level pages: Linux maps streaming DMA in PAGE_SIZE granules.
inline constexpr uint64_t kIovaPageBytes = 4096;
// QEMU intel-iommu's default aw-bits=39: the IOVA space ends at 2^39, and
// Linux allocates top-down below it.
inline constexpr uint64_t kIovaLimit = uint64_t{1} << 39;

// What the device may do with a page (VHOST_ACCESS_RO/WO/RW).
enum DmaPerm : uint8_t { dma_read = 1, dma_write = 2, dma_read_write = 3 };

struct IoPte {
  uint64_t gpa_page = 0;  // guest-physical address of the page
  uint8_t perm = 0;       // DmaPerm bits
};

class DmaDomain {
 public:
  // Maps the pages holding [gpa, gpa+bytes) at fresh IOVA pages; returns the
  // IOVA of `gpa` (same offset in its page, as dma_map_page does).
  uint64_t map(uint64_t gpa, uint64_t bytes, uint8_t perm);
  // Unmaps what map() returned for `iova` and `bytes`, tells every
  // invalidation sink, then frees the IOVA range for reuse.
  void unmap(uint64_t iova, uint64_t bytes);
  // As unmap(), every sink told, but the IOVA range is never handed out
  // again (fault.unmap_in_flight, sim/faults): a device access to it stays
  // a fault for the rest of the run. Reused, the IOVA would name another
  // buffer, and no IOMMU can tell that access from a good one.
  void revoke(uint64_t iova, uint64_t bytes);
  // The page table entry of the page holding `iova`, if mapped.
  std::optional<IoPte> walk(uint64_t iova) const;

  using InvalidateSink = std::function<void(uint64_t iova, uint64_t bytes)>;
  void on_invalidate(InvalidateSink sink) { sinks_.push_back(std::move(sink)); }

  uint64_t mapped_pages() const { return table_.size(); }

 private:
  uint64_t alloc_pages(uint64_t pages);
  // Clears the page table entries and tells the sinks; returns the first
  // IOVA page of the range.
  uint64_t unmap_pages(uint64_t iova, uint64_t bytes);

  std::unordered_map<uint64_t, IoPte> table_;                     // IOVA page number -> entry
  std::unordered_map<uint64_t, std::vector<uint64_t>> free_;      // page count -> freed first pages
  uint64_t next_top_ = kIovaLimit / kIovaPageBytes;               // lowest page handed out so far
  std::vector<InvalidateSink> sinks_;
};

}  // namespace virtiosim::memory
