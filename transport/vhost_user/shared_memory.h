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
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "models/ring/memory_policy.h"
#include "models/ring/native_memory.h"
#include "transport/vhost_user/memory_table.h"

namespace virtiosim::vhost_user {

class OutOfRegion : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class SharedMemory {
 public:
  SharedMemory() = default;
  explicit SharedMemory(std::shared_ptr<const MemoryTable> table) : table_(std::move(table)) {
    if (table_ && !table_->regions().empty()) remember(table_->regions().front());
  }

  // The ring core asks this for every segment it pops: the last region hit
  // answers first, the full table only on a miss (same answer either way).
  bool maps(uint64_t gpa, uint64_t n) const {
    if (in_window(gpa, n)) [[likely]] return true;
    return table_ && table_->find_gpa(gpa, n) != nullptr;
  }

  uint16_t read16(uint64_t gpa) { return load<uint16_t>(gpa); }
  uint32_t read32(uint64_t gpa) { return load<uint32_t>(gpa); }
  uint64_t read64(uint64_t gpa) { return load<uint64_t>(gpa); }
  void write16(uint64_t gpa, uint16_t v) { store(gpa, v); }
  void write32(uint64_t gpa, uint32_t v) { store(gpa, v); }
  void write64(uint64_t gpa, uint64_t v) { store(gpa, v); }
  // A descriptor of length 0 is legal and its copy may have no buffer
  // (an empty vector's null data()): memcpy wants valid pointers even for
  // 0 bytes, so nothing is copied at all (found by vhost_user_backend_fuzz).
  void read_bytes(uint64_t gpa, void* dst, uint64_t n) {
    if (n > 0) std::memcpy(dst, host(gpa, n), n);
  }
  void write_bytes(uint64_t gpa, const void* src, uint64_t n) {
    if (n > 0) std::memcpy(host(gpa, n), src, n);
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
  // throw) is out of line.
  [[gnu::always_inline]] uint8_t* host(uint64_t gpa, uint64_t n) {
    if (in_window(gpa, n)) [[likely]] return win_host_ + (gpa - win_gpa_);
    return host_slow(gpa, n);
  }

  const std::shared_ptr<const MemoryTable>& table() const { return table_; }

 private:
  template <class T>
  T load(uint64_t gpa) {
    return ring::le::to_host(__atomic_load_n(reinterpret_cast<T*>(host(gpa, sizeof(T))), __ATOMIC_ACQUIRE));
  }
  template <class T>
  void store(uint64_t gpa, T v) {
    __atomic_store_n(reinterpret_cast<T*>(host(gpa, sizeof(T))), ring::le::from_host(v), __ATOMIC_RELEASE);
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
  [[gnu::noinline]] uint8_t* host_slow(uint64_t gpa, uint64_t n) {
    const MappedRegion* r = table_ ? table_->find_gpa(gpa, n) : nullptr;
    if (!r) throw OutOfRegion("guest address outside every memory region");
    remember(*r);
    return r->host + (gpa - r->gpa);
  }

  std::shared_ptr<const MemoryTable> table_;
  // The region hit last (a copy; the table owns the mapping and outlives
  // every SharedMemory that holds it).
  uint64_t win_gpa_ = 0;
  uint64_t win_size_ = 0;
  uint8_t* win_host_ = nullptr;
};

static_assert(ring::MemoryPolicy<SharedMemory>);

}  // namespace virtiosim::vhost_user
