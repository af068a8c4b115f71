// Native memory policy: guest memory is a host buffer, accesses are plain
// loads and stores, barriers are std::atomic fences. Used by benchmarks,
// fuzzers, tests and the vhost-user endpoint.
//
// Ring fields are accessed with acquire loads and release stores. On x86
// these compile to the same plain moves; on weaker hosts they cost a little
// more. They are there so that ThreadSanitizer, which does not model
// standalone fences, sees the happens-before edges the explicit barriers give
// on real hardware. Correctness of the ring still rests on the explicit
// barrier() calls, which is what the simulator's policies model.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>

#include "models/ring/memory_policy.h"

namespace virtiosim::ring {

namespace le {
template <class T>
constexpr T to_host(T v) {
  if constexpr (std::endian::native == std::endian::little) return v;
  else return __builtin_bswap(v);  // virtio 1.x rings are little-endian
}
template <class T>
constexpr T from_host(T v) { return to_host(v); }
}  // namespace le

class NativeMemory {
 public:
  NativeMemory() = default;
  // `base` backs guest-physical [gpa_base, gpa_base + size).
  NativeMemory(void* base, uint64_t size, uint64_t gpa_base = 0)
      : bias_(reinterpret_cast<uintptr_t>(base) - gpa_base), size_(size), gpa_base_(gpa_base) {}

  bool maps(uint64_t gpa, uint64_t n) const {
    return gpa >= gpa_base_ && gpa - gpa_base_ <= size_ && n <= size_ - (gpa - gpa_base_);
  }

  uint16_t read16(uint64_t gpa) { return load<uint16_t>(gpa); }
  uint32_t read32(uint64_t gpa) { return load<uint32_t>(gpa); }
  uint64_t read64(uint64_t gpa) { return load<uint64_t>(gpa); }
  void write16(uint64_t gpa, uint16_t v) { store(gpa, v); }
  void write32(uint64_t gpa, uint32_t v) { store(gpa, v); }
  void write64(uint64_t gpa, uint64_t v) { store(gpa, v); }

  // Nothing copied for 0 bytes: the other side may be an empty buffer's
  // null pointer, which memcpy does not accept even then.
  void read_bytes(uint64_t gpa, void* dst, uint64_t n) {
    if (n > 0) std::memcpy(dst, host(gpa), n);
  }
  void write_bytes(uint64_t gpa, const void* src, uint64_t n) {
    if (n > 0) std::memcpy(host(gpa), src, n);
  }

  void barrier(BarrierSite site) {
    switch (kind_of(site)) {
      case BarrierKind::write: std::atomic_thread_fence(std::memory_order_release); break;
      case BarrierKind::read: std::atomic_thread_fence(std::memory_order_acquire); break;
      case BarrierKind::full: std::atomic_thread_fence(std::memory_order_seq_cst); break;
    }
  }

  // One add: the ring core reaches guest memory through here on every
  // access, and the compiler reloads this object's fields after each atomic.
  uint8_t* host(uint64_t gpa) const { return reinterpret_cast<uint8_t*>(bias_ + gpa); }
  uint64_t size() const { return size_; }
  uint64_t gpa_base() const { return gpa_base_; }

 private:
  template <class T>
  T load(uint64_t gpa) {
    return le::to_host(__atomic_load_n(reinterpret_cast<T*>(host(gpa)), __ATOMIC_ACQUIRE));
  }
  template <class T>
  void store(uint64_t gpa, T v) {
    __atomic_store_n(reinterpret_cast<T*>(host(gpa)), le::from_host(v), __ATOMIC_RELEASE);
  }

  uintptr_t bias_ = 0;  // host address of guest-physical 0 (mod 2^64)
  uint64_t size_ = 0;
  uint64_t gpa_base_ = 0;
};

static_assert(MemoryPolicy<NativeMemory>);

}  // namespace virtiosim::ring
