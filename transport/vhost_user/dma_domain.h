// The front-end's IOMMU domain (VIRTIO_F_ACCESS_PLATFORM, `drive --iommu`):
// the driver addresses guest memory by IOVA, as Linux's DMA API hands a
// device dma_addr_t values, and the back-end sees only what the domain has
// mapped, one 4 KiB page at a time with its permission.
//
// The IOVA window lies linearly over the front-end's guest memory at a base
// of its own (iova = kIovaBase + offset), far from the guest-physical
// addresses SET_MEM_TABLE announces: a back-end that takes an IOVA for a
// guest-physical or user address misses memory instead of passing by luck.
// Permissions follow the DMA API's directions: rings RW (coherent memory),
// buffers the device reads (TX) RO, buffers it writes (RX) WO.
//
// A back-end's MISS is answered from this table, as QEMU answers from its
// vIOMMU (vhost_device_iotlb_miss; research notes 1.3): a mapped page with
// at least the permission asked for becomes an UPDATE of that page, anything
// else is refused.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "transport/vhost_user/memory_table.h"
#include "transport/vhost_user/protocol.h"
#include "transport/vhost_user/shared_memory.h"

namespace virtiosim::vhost_user {

// The IOMMU page: 4 KiB, the VT-d (and Linux IOVA) granule; QEMU's
// intel-iommu answers a miss with one such page (research notes 1.3).
inline constexpr uint64_t kIommuPageSize = 4096;

// Where the window starts: just under 2^39, where Linux's top-down IOVA
// allocator puts a device's mappings behind QEMU's default 39-bit
// intel-iommu (aw-bits; research notes 3.1).
inline constexpr uint64_t kIovaBase = (uint64_t{1} << 39) - (uint64_t{1} << 30);

struct IovaRange {
  uint64_t iova = 0;
  uint64_t size = 0;
};

// What the domain answers for one IOVA and the access wanted.
struct IovaTranslation {
  enum class Result : uint8_t { mapped, unmapped, no_permission };
  Result result = Result::unmapped;
  uint64_t page = 0;   // the IOVA page holding the address
  uint64_t uaddr = 0;  // the front-end's user address of that page (an UPDATE's uaddr)
  uint8_t perm = 0;    // the page's permission (iotlb::kRead | kWrite)
};

class DmaDomain {
 public:
  // A window at `iova_base` over `mem` (the front-end's own mapping of its
  // guest memory); nothing mapped yet.
  DmaDomain(const MappedRegion& mem, uint64_t iova_base = kIovaBase);

  uint64_t iova_base() const { return iova_base_; }
  uint64_t iova(uint64_t gpa) const { return gpa - gpa_base_ + iova_base_; }
  uint8_t* host(uint64_t iova) const { return host_ + (iova - iova_base_); }
  uint64_t uaddr(uint64_t iova) const { return uva_ + (iova - iova_base_); }
  // The ring core's view of the same bytes, addressed by IOVA.
  SharedMemory memory() const { return SharedMemory(view_); }

  // Maps every page [iova, iova + len) touches with `perm`
  // (dma_map_single: a buffer smaller than a page maps its whole page).
  void map(uint64_t iova, uint64_t len, uint8_t perm);
  // Unmaps those pages; the page-aligned range an INVALIDATE must cover.
  IovaRange unmap(uint64_t iova, uint64_t len);
  // The page of `iova` if mapped with every bit of `perm`.
  IovaTranslation translate(uint64_t iova, uint8_t perm) const;

 private:
  // The page indexes [first, last] of [iova, iova + len), inside the window.
  std::pair<uint64_t, uint64_t> pages(uint64_t iova, uint64_t len) const;

  uint64_t gpa_base_, iova_base_, uva_;
  uint8_t* host_;
  std::vector<uint8_t> perm_;  // by page; 0 unmapped
  std::shared_ptr<const MemoryTable> view_;
};

}  // namespace virtiosim::vhost_user
