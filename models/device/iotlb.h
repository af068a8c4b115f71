// The device's IOTLB: what a device behind an IOMMU (VIRTIO_F_ACCESS_PLATFORM)
// caches of the guest's IOVA -> guest-physical translations. Every device
// access asks it. A hit costs a lookup; a miss costs what fetching the
// translation costs the device (software vhost: a MISS message to the VMM
// and its UPDATE back; a PCIe device: an IOMMU page walk), then fills an
// entry, the oldest retiring when it is full. An unmap in the guest
// invalidates. An address with no mapping, or an access the mapping does
// not permit, is a typed ring error: nothing is read or written.
//
// Ring translations: each registered ring area (descriptor table, driver
// area, device area) keeps its whole translation once looked up, so ring
// accesses skip the IOTLB, as Linux vhost's meta_iotlb (commit f88949138058)
// and DPDK's translated ring pointers do. The copy is dropped only by an
// invalidation that overlaps the area (DPDK vring_invalidate); Linux drops
// its cache on any IOTLB change because it points into its interval tree,
// which a copy does not.
#pragma once

#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

#include "models/memory/dma_domain.h"
#include "models/param.h"
#include "models/ring/errors.h"

namespace virtiosim::device {

#define VIRTIOSIM_IOTLB_PARAMS(X)                                                                                      \
  X(uint32_t, entries, 2048, "entries",                                                                                \
    "IOTLB capacity, oldest entry retired when full (Linux vhost max_iotlb_entries=2048 with VHOST_IOTLB_FLAG_RETIRE; " \
    "DPDK IOTLB_CACHE_SIZE=2048)")                                                                                     \
  X(double, hit_ns, 25.0, "ns",                                                                                        \
    "one IOTLB lookup that hits (interval-tree walk): derived from vhost commit f88949138058, TX 1.32 -> 1.06 Mpps "   \
    "with the IOMMU and no ring cache = 186 ns/packet, over ~7 lookups per TX packet (our estimate)")                  \
  X(double, ring_cache_hit_ns, 2.0, "ns",                                                                              \
    "one ring access through the per-ring translation: derived from the same commit, 1.32 -> 1.30 Mpps with the "      \
    "cache = 12 ns/packet, over ~6 ring accesses per packet (our estimate)")                                           \
  X(double, vhost_miss_ns, 10000.0, "ns",                                                                              \
    "path=vhost: a miss is a round trip to the VMM (MISS read by QEMU, vIOMMU walk, UPDATE written back): "            \
    "UNSOURCED placeholder, no published figure found (issue #17 research notes); to be measured with serve")          \
  X(double, pcie_miss_ns, 360.0, "ns",                                                                                 \
    "path=pcie: a miss is an IOMMU page walk, 4 levels (48-bit) x ~90 ns DRAM read: derived, no published "            \
    "walk latency found")                                                                                              \
  X(uint32_t, ring_cache, 1, "bool",                                                                                   \
    "keep each ring area's translation (Linux vhost meta_iotlb, commit f88949138058: TX 82% -> 98% of no-IOMMU)")

struct IotlbParams {
  VIRTIOSIM_IOTLB_PARAMS(VIRTIOSIM_PARAM_FIELD)
  template <class F>
  void visit(F&& f) {
    VIRTIOSIM_IOTLB_PARAMS(VIRTIOSIM_PARAM_VISIT)
  }
};

struct IotlbStats {
  uint64_t hits = 0;             // lookups answered by an entry
  uint64_t misses = 0;           // lookups that had to fetch the translation (including failed ones)
  uint64_t invalidations = 0;    // unmaps heard from the guest (one per dma_unmap)
  uint64_t ring_cache_hits = 0;  // ring accesses answered by a ring's kept translation
  uint64_t faults = 0;           // accesses refused: no mapping or no permission
};

struct Translation {
  ring::RingError error = ring::RingError::ok;
  uint64_t gpa = 0;
  double cost_ns = 0;
  uint8_t perm = 0;  // what the mapping permits
};

class Iotlb {
 public:
  // Listens to `domain`'s unmaps; `miss_ns` is the path's miss cost.
  Iotlb(memory::DmaDomain& domain, const IotlbParams& p, double miss_ns);

  // The guest-physical address of `iova` for an access of kind `perm`
  // (memory::DmaPerm) that stays inside one IOVA page.
  Translation translate(uint64_t iova, uint8_t perm);
  // [iova, iova+bytes) lies in the IOVA space (the ring's address checks,
  // no cost). Whether its pages are mapped is the IOTLB's answer when the
  // device accesses them (ring.iova_unmapped), as vhost learns it when it
  // translates a descriptor's address, not when it pops the descriptor.
  static bool in_iova_space(uint64_t iova, uint64_t bytes) {
    return iova < memory::kIovaLimit && bytes <= memory::kIovaLimit - iova;
  }
  // A ring area whose translation is kept (when ring_cache is on); an area
  // already registered at `iova` is replaced.
  void add_ring_area(uint64_t iova, uint64_t bytes);
  void invalidate(uint64_t iova, uint64_t bytes);

  const IotlbStats& stats() const { return stats_; }
  size_t size() const { return entries_.size(); }

 private:
  using IoPte = memory::IoPte;
  struct Entry {
    IoPte pte;
    uint64_t page_bytes;
    uint64_t fill;  // fill number, to tell a retired entry's age record from a refilled one's
  };
  struct RingArea {
    uint64_t iova, bytes;
    bool kept = false;
    uint64_t gpa = 0;
    uint8_t perm = 0;
  };

  Translation lookup(uint64_t iova, uint8_t perm);
  Translation keep(RingArea& area);

  memory::DmaDomain& domain_;
  const IotlbParams& p_;
  double miss_ns_;
  std::unordered_map<uint64_t, Entry> entries_;     // IOVA page number -> entry
  std::deque<std::pair<uint64_t, uint64_t>> age_;   // (page, fill) oldest first; stale records skipped
  uint64_t fills_ = 0;
  std::vector<RingArea> rings_;
  IotlbStats stats_;
};

}  // namespace virtiosim::device
