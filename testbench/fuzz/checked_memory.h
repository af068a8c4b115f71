// A ring memory policy for the fuzz targets: NativeMemory underneath, and
// every access the ring core makes checked against what the side under test
// may touch at that moment. A violation is a finding, so it traps at once
// (libFuzzer records the input that reached it).
//
//  - every read and write lies inside guest memory (the core must have
//    checked the other side's addresses with maps() first);
//  - writes land only in the ranges the harness declared writable for the
//    operation under way (P3: a side writes only what it owns);
//  - a silent side (a queue that reported a fatal error: NEEDS_RESET) makes
//    no access at all, barriers included.
#pragma once

#include <cstdint>
#include <cstdio>
#include <vector>

#include "models/ring/features.h"
#include "models/ring/memory_policy.h"
#include "models/ring/native_memory.h"

namespace virtiosim::fuzz {

// Names the invariant (the stack trace of an inlined harness does not),
// then traps: libFuzzer saves the input as a crash.
[[noreturn]] inline void violated(const char* invariant, const char* file, int line) {
  std::fprintf(stderr, "fuzz invariant violated at %s:%d: %s\n", file, line, invariant);
  __builtin_trap();
}

#define FUZZ_CHECK(cond)                                                \
  do {                                                                  \
    if (!(cond)) ::virtiosim::fuzz::violated(#cond, __FILE__, __LINE__); \
  } while (0)

struct AccessRules {
  struct Range {
    uint64_t begin = 0, end = 0;  // [begin, end) guest-physical
  };
  std::vector<Range> writable;
  bool silent = false;

  void allow(uint64_t begin, uint64_t bytes) { writable.push_back({begin, begin + bytes}); }
  void forbid_writes() { writable.clear(); }
  bool may_write(uint64_t gpa, uint64_t n) const {
    for (const Range& r : writable)
      if (gpa >= r.begin && gpa <= r.end && n <= r.end - gpa) return true;
    return false;
  }
};

class CheckedMemory {
 public:
  CheckedMemory(ring::NativeMemory mem, const AccessRules* rules) : mem_(mem), rules_(rules) {}

  bool maps(uint64_t gpa, uint64_t n) const { return mem_.maps(gpa, n); }

  uint16_t read16(uint64_t gpa) { return read(gpa, 2), mem_.read16(gpa); }
  uint32_t read32(uint64_t gpa) { return read(gpa, 4), mem_.read32(gpa); }
  uint64_t read64(uint64_t gpa) { return read(gpa, 8), mem_.read64(gpa); }
  void write16(uint64_t gpa, uint16_t v) { write(gpa, 2), mem_.write16(gpa, v); }
  void write32(uint64_t gpa, uint32_t v) { write(gpa, 4), mem_.write32(gpa, v); }
  void write64(uint64_t gpa, uint64_t v) { write(gpa, 8), mem_.write64(gpa, v); }
  void read_bytes(uint64_t gpa, void* dst, uint64_t n) { read(gpa, n), mem_.read_bytes(gpa, dst, n); }
  void write_bytes(uint64_t gpa, const void* src, uint64_t n) { write(gpa, n), mem_.write_bytes(gpa, src, n); }
  void barrier(ring::BarrierSite site) {
    FUZZ_CHECK(!rules_->silent);
    mem_.barrier(site);
  }

 private:
  void read(uint64_t gpa, uint64_t n) const {
    FUZZ_CHECK(!rules_->silent);
    FUZZ_CHECK(mem_.maps(gpa, n));
  }
  void write(uint64_t gpa, uint64_t n) const {
    read(gpa, n);
    FUZZ_CHECK(rules_->may_write(gpa, n));
  }

  ring::NativeMemory mem_;
  const AccessRules* rules_;
};

static_assert(ring::MemoryPolicy<CheckedMemory>);

// Both ring targets' first input byte: bit 0 packed (read by the caller),
// bits 1-3 the ring features INDIRECT_DESC, EVENT_IDX, IN_ORDER.
inline ring::Features ring_features(uint8_t cfg) {
  ring::Features f;
  if (cfg & 2) f.bits |= ring::feature_bit(VIRTIO_RING_F_INDIRECT_DESC);
  if (cfg & 4) f.bits |= ring::feature_bit(VIRTIO_RING_F_EVENT_IDX);
  if (cfg & 8) f.bits |= ring::feature_bit(VIRTIO_F_IN_ORDER);
  return f;
}

}  // namespace virtiosim::fuzz
