// serve's device IOTLB (VIRTIO_F_ACCESS_PLATFORM): what the front-end told
// the back-end of the guest's IOVA -> front-end user address translations,
// each kept with our own address of it (vhost-user.rst "IOMMU support"; the
// same cache as DPDK's lib/vhost/iotlb.c and Linux vhost's vhost_iotlb).
//
// Entries come from IOTLB_MSG UPDATE and go with INVALIDATE (a range that
// cuts an entry keeps the parts outside it). A translation the table lacks
// is a miss: the back-end asks the front-end (BACKEND_IOTLB_MSG MISS) and
// waits. A miss the front-end could not resolve (its ack non-zero, or an
// UPDATE that still does not permit the access) is refused: the address
// is then a typed ring error, never an access.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <utility>

#include "models/ring/errors.h"
#include "transport/vhost_user/memory_table.h"
#include "transport/vhost_user/protocol.h"

namespace virtiosim::vhost_user {

// Largest number of entries kept; the lowest IOVA goes first when full.
// DPDK: IOTLB_CACHE_SIZE 2048 (lib/vhost/iotlb.c); Linux vhost:
// max_iotlb_entries 2048 (drivers/vhost/vhost.c).
inline constexpr size_t kIotlbMaxEntries = 2048;
// The granule a miss asks for: the guest IOMMU's page (QEMU answers a miss
// with the vIOMMU entry covering it, 4 KiB unless the guest used a huge page).
inline constexpr uint64_t kIotlbPage = 4096;

struct IotlbCounters {
  uint64_t misses = 0;           // BACKEND_IOTLB_MSG MISS sent
  uint64_t updates = 0;          // UPDATE applied
  uint64_t invalidates = 0;      // INVALIDATE applied
  uint64_t hits = 0;             // buffer and indirect-table translations answered by the table
  uint64_t ring_cache_hits = 0;  // ring accesses answered by a ring's kept translation
  uint64_t ring_translations = 0;  // times a ring's areas were translated (again, after an invalidation)
  uint64_t faults = 0;           // accesses refused: no mapping or no permission (the ring broke)
  uint64_t evictions = 0;        // entries dropped because the table was full
  uint64_t miss_wait_ns = 0;     // from each MISS sent to its ack (REPLY_ACK), summed

  template <class F>
  void visit(F&& f) const {
    f("iotlb_misses", misses), f("iotlb_updates", updates), f("iotlb_invalidates", invalidates);
    f("iotlb_hits", hits), f("iotlb_ring_cache_hits", ring_cache_hits);
    f("iotlb_ring_translations", ring_translations), f("iotlb_faults", faults);
    f("iotlb_evictions", evictions), f("iotlb_miss_wait_ns", miss_wait_ns);
  }
};

// What a translation found.
struct IotlbLookup {
  enum class Status : uint8_t { ok, miss, refused };
  Status status = Status::ok;
  uint8_t* host = nullptr;  // ok: our address of the IOVA asked for
  uint64_t run = 0;         // ok: bytes from there that are contiguous here too (<= the length asked for)
  uint64_t at = 0;          // miss, refused: the first IOVA not translated with the access wanted
  ring::RingError error = ring::RingError::ok;  // refused: iova_unmapped or iova_no_permission
};

class Iotlb {
 public:
  explicit Iotlb(IotlbCounters& counters) : counters_(counters) {}

  // UPDATE: [iova, iova + size) -> user address uaddr of `mem`. Refused
  // (false) unless the whole user range lies inside one region.
  bool update(const IotlbMsg& m, const MemoryTable& mem);
  // INVALIDATE: nothing of [iova, iova + size) stays translated.
  void invalidate(uint64_t iova, uint64_t size);
  // Everything goes (a new memory table, a reset, a stopped ring, a new
  // front-end): entries, refusals and misses waiting.
  void clear();

  // Translates [iova, iova + n) for `perm` (iotlb::kRead / kWrite, 0: any).
  // ok: host and run say how much of it is one contiguous piece here; the
  // caller asks again for the rest.
  IotlbLookup translate(uint64_t iova, uint64_t n, uint8_t perm) const;

  // Misses. want() says whether a MISS for IOVA `at` is to be sent (none
  // is out for its page and access); sent() records one (`ack`: it asked
  // for an ack, kept in order); acked() takes the oldest ack and refuses
  // the access if the front-end failed it or its UPDATE did not permit it.
  // Without an ack a miss ends when an UPDATE covers its page.
  bool want(uint64_t at, uint8_t perm) const { return !waiting_.count({page(at), perm}); }
  void sent(uint64_t at, uint8_t perm, bool ack, uint64_t now_ns);
  void acked(uint64_t status, uint64_t now_ns);
  // A MISS is out: its answer should be read promptly.
  bool waiting() const { return !waiting_.empty(); }
  size_t entries() const { return entries_.size(); }
  IotlbCounters& counters() { return counters_; }

  static uint64_t page(uint64_t iova) { return iova & ~(kIotlbPage - 1); }

 private:
  struct Entry {
    uint64_t size;
    uint8_t* host;
    uint8_t perm;
  };
  struct Sent {
    uint64_t at;
    uint8_t perm;
    uint64_t at_ns;
    bool stale;  // sent before clear(): its answer is for memory that is gone
  };
  void remove(uint64_t first, uint64_t last);

  IotlbCounters& counters_;
  std::map<uint64_t, Entry> entries_;                // by first IOVA; never overlapping
  std::map<std::pair<uint64_t, uint8_t>, bool> waiting_;  // (page, perm) with a MISS out -> it asked for an ack
  std::deque<Sent> acks_;                            // MISSes that asked for an ack, oldest first
  std::map<uint64_t, uint8_t> refused_;              // page -> accesses the front-end could not map
};

}  // namespace virtiosim::vhost_user
