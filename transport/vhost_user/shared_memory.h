// A ring::MemoryPolicy over a MemoryTable, so that the ring core's device
// (and driver) sides run unchanged on memory shared with a vhost-user peer.
//
// Same access convention as ring::NativeMemory: ring fields are
// little-endian, loaded with acquire and stored with release (free on x86;
// they keep ThreadSanitizer aware of the edges), and barriers are real
// fences because the peer is another process on another CPU.
//
// The ring core checks maps() for every address the peer gave it before it
// touches that address, and validates ring areas when a ring is built, so
// every access below lands inside a region. host() still refuses an
// address outside every region: it throws OutOfRegion, which the back-end
// turns into a closed connection, rather than touch unmapped memory.
//
// Behind an IOMMU (VIRTIO_F_ACCESS_PLATFORM, an Iotlb given) every address
// is an IOVA. The ring's own areas are translated once and kept here (the
// ring cache: DPDK's translated vq->desc/avail/used, Linux vhost's
// meta_iotlb); anything else is looked up in the IOTLB. maps() then says
// yes to every address: whether an IOVA is translated, and for which
// access, is the back-end's check of each popped buffer (it asks the
// front-end for what is missing). An access to an IOVA the IOTLB lacks
// throws IotlbMiss (nothing touched, the ring's state unchanged: the ring
// core commits a pop only at its end) or IotlbRefused.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "models/ring/memory_policy.h"
#include "models/ring/native_memory.h"
#include "transport/vhost_user/iotlb.h"
#include "transport/vhost_user/memory_table.h"

namespace virtiosim::vhost_user {

class OutOfRegion : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An IOVA the IOTLB does not translate for the access (yet): the back-end
// asks the front-end and tries the buffer again later.
class IotlbMiss : public OutOfRegion {
 public:
  IotlbMiss(uint64_t at, uint8_t access) : OutOfRegion("IOVA not in the IOTLB"), iova(at), perm(access) {}
  uint64_t iova;
  uint8_t perm;
};

// An IOVA the front-end could not map for the access: a typed ring error.
class IotlbRefused : public OutOfRegion {
 public:
  IotlbRefused(uint64_t at, ring::RingError e) : OutOfRegion(ring::describe(e)), iova(at), error(e) {}
  uint64_t iova;
  ring::RingError error;
};

// One ring area translated as a whole: [iova, iova + size) at host.
struct RingArea {
  uint64_t iova = 0;
  uint64_t size = 0;
  uint8_t* host = nullptr;
};

class SharedMemory {
 public:
  SharedMemory() = default;
  // `iotlb`: non-null when addresses are IOVAs (it outlives this).
  explicit SharedMemory(std::shared_ptr<const MemoryTable> table, Iotlb* iotlb = nullptr)
      : table_(std::move(table)), iotlb_(iotlb) {
    if (table_ && !table_->regions().empty() && !iotlb_) remember(table_->regions().front());
  }

  // The ring core asks this for every segment it pops: the last region hit
  // answers first, the full table only on a miss (same answer either way).
  bool maps(uint64_t gpa, uint64_t n) const {
    if (in_window(gpa, n)) [[likely]] return true;
    return iotlb_ || (table_ && table_->find_gpa(gpa, n) != nullptr);
  }

  // IOMMU: the ring's areas, translated (their accesses skip the IOTLB);
  // {} drops them.
  void keep_ring_areas(const std::array<RingArea, 3>& areas) { areas_ = areas; }
  const std::array<RingArea, 3>& ring_areas() const { return areas_; }
  // IOMMU: the IOTLB changed; the last piece found is looked up again.
  void forget_window() { win_host_ = nullptr; }

  uint16_t read16(uint64_t gpa) { return load<uint16_t>(gpa); }
  uint32_t read32(uint64_t gpa) { return load<uint32_t>(gpa); }
  uint64_t read64(uint64_t gpa) { return load<uint64_t>(gpa); }
  void write16(uint64_t gpa, uint16_t v) { store(gpa, v); }
  void write32(uint64_t gpa, uint32_t v) { store(gpa, v); }
  void write64(uint64_t gpa, uint64_t v) { store(gpa, v); }
  // A descriptor of length 0 is legal and its copy may have no buffer
  // (an empty vector's null data()): memcpy wants valid pointers even for
  // 0 bytes, so nothing is copied at all (found by vhost_user_backend_fuzz).
  // Behind an IOMMU a table may span pages that are not neighbours here:
  // copied piece by piece.
  void read_bytes(uint64_t gpa, void* dst, uint64_t n) {
    for (uint64_t done = 0, step; done < n; done += step) {
      step = piece(gpa + done, n - done, iotlb::kRead);
      std::memcpy(static_cast<uint8_t*>(dst) + done, host(gpa + done, step, iotlb::kRead), step);
    }
  }
  void write_bytes(uint64_t gpa, const void* src, uint64_t n) {
    for (uint64_t done = 0, step; done < n; done += step) {
      step = piece(gpa + done, n - done, iotlb::kWrite);
      std::memcpy(host(gpa + done, step, iotlb::kWrite), static_cast<const uint8_t*>(src) + done, step);
    }
  }

  void barrier(ring::BarrierSite site) {
    switch (ring::kind_of(site)) {
      case ring::BarrierKind::write: std::atomic_thread_fence(std::memory_order_release); break;
      case ring::BarrierKind::read: std::atomic_thread_fence(std::memory_order_acquire); break;
      case ring::BarrierKind::full: std::atomic_thread_fence(std::memory_order_seq_cst); break;
    }
  }

  // Our address of [gpa, gpa + n). The last region hit is tried first: a
  // ring and its buffers usually share one region. That hit is inlined into
  // every ring access and reads a copy of the region's bounds kept here (no
  // pointer to chase after each acquire load); the table walk (and the
  // throw) is out of line. Behind an IOMMU, `perm` is the access the IOTLB
  // must permit (0: the caller checked it, as the back-end does for every
  // buffer it pops).
  [[gnu::always_inline]] uint8_t* host(uint64_t gpa, uint64_t n, uint8_t perm = 0) {
    if (in_window(gpa, n)) [[likely]] return win_host_ + (gpa - win_gpa_);
    return host_slow(gpa, n, perm);
  }

  const std::shared_ptr<const MemoryTable>& table() const { return table_; }

 private:
  template <class T>
  T load(uint64_t gpa) {
    return ring::le::to_host(
        __atomic_load_n(reinterpret_cast<T*>(host(gpa, sizeof(T), iotlb::kRead)), __ATOMIC_ACQUIRE));
  }
  template <class T>
  void store(uint64_t gpa, T v) {
    __atomic_store_n(reinterpret_cast<T*>(host(gpa, sizeof(T), iotlb::kWrite)), ring::le::from_host(v),
                     __ATOMIC_RELEASE);
  }

  // The same test as MappedRegion::holds_gpa, on the remembered region.
  // Without a table the window is empty (win_host_ null) and holds nothing.
  bool in_window(uint64_t gpa, uint64_t n) const {
    return win_host_ && gpa >= win_gpa_ && gpa - win_gpa_ <= win_size_ && n <= win_size_ - (gpa - win_gpa_);
  }
  void remember(const MappedRegion& r) {
    win_gpa_ = r.gpa;
    win_size_ = r.size;
    win_host_ = r.host;
  }
  [[gnu::noinline]] uint8_t* host_slow(uint64_t gpa, uint64_t n, uint8_t perm) {
    if (iotlb_) return host_iova(gpa, n, perm);
    const MappedRegion* r = table_ ? table_->find_gpa(gpa, n) : nullptr;
    if (!r) throw OutOfRegion("guest address outside every memory region");
    remember(*r);
    return r->host + (gpa - r->gpa);
  }
  // How much of [a, a + n) one host() call can take: all of it, unless
  // IOVA pages that follow each other are apart here.
  uint64_t piece(uint64_t a, uint64_t n, uint8_t perm) {
    if (!iotlb_ || n == 0 || in_window(a, n)) return n;
    if (area_of(a, n)) return n;
    const IotlbLookup t = iotlb_->translate(a, n, perm);
    return t.status == IotlbLookup::Status::ok ? t.run : n;  // not translated: host() throws
  }
  const RingArea* area_of(uint64_t iova, uint64_t n) const {
    for (const RingArea& a : areas_)
      if (a.host && iova >= a.iova && iova - a.iova <= a.size && n <= a.size - (iova - a.iova)) return &a;
    return nullptr;
  }
  // The ring's kept areas first (they were translated for the accesses the
  // ring makes), then the IOTLB; the piece found becomes the window.
  uint8_t* host_iova(uint64_t iova, uint64_t n, uint8_t perm) {
    if (n == 0) return nullptr;  // an empty buffer touches nothing
    if (const RingArea* a = area_of(iova, n)) {
      ++iotlb_->counters().ring_cache_hits;
      remember({a->iova, a->size, 0, a->host});
      return a->host + (iova - a->iova);
    }
    const IotlbLookup t = iotlb_->translate(iova, n, perm);
    if (t.status == IotlbLookup::Status::refused) throw IotlbRefused(t.at, t.error);
    if (t.status == IotlbLookup::Status::miss) throw IotlbMiss(t.at, perm ? perm : iotlb::kRead);
    // Callers split what is apart here (piece(), the back-end's buffer
    // check); an access across such a seam is a bug, refused, not guessed.
    if (t.run < n) throw OutOfRegion("IOVA range not contiguous in the front-end's memory");
    ++iotlb_->counters().hits;
    remember({iova, t.run, 0, t.host});
    return t.host;
  }

  std::shared_ptr<const MemoryTable> table_;
  Iotlb* iotlb_ = nullptr;
  std::array<RingArea, 3> areas_{};  // IOMMU: descriptor ring, driver area, device area
  // The region hit last (a copy; the table owns the mapping and outlives
  // every SharedMemory that holds it).
  uint64_t win_gpa_ = 0;
  uint64_t win_size_ = 0;
  uint8_t* win_host_ = nullptr;
};

static_assert(ring::MemoryPolicy<SharedMemory>);

}  // namespace virtiosim::vhost_user
