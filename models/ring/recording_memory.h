// Recording memory policy: a native policy that appends every access and
// barrier, in program order, to a shared log. Tests use it to assert
// ordering (head flags written last, id/len before the flags that publish
// them, which barrier sits between which accesses).
#pragma once

#include <cstdint>
#include <vector>

#include "models/ring/native_memory.h"

namespace virtiosim::ring {

struct Access {
  enum class Op : uint8_t { read, write, barrier };
  Op op;
  uint8_t agent;  // caller-chosen tag: which side issued it
  uint64_t gpa;   // 0 for barriers
  uint64_t size;  // bytes; 0 for barriers
  uint64_t value; // typed accesses only
  BarrierSite site;
};

using AccessLog = std::vector<Access>;

class RecordingMemory {
 public:
  RecordingMemory(NativeMemory mem, AccessLog* log, uint8_t agent)
      : mem_(mem), log_(log), agent_(agent) {}

  bool maps(uint64_t gpa, uint64_t n) const { return mem_.maps(gpa, n); }

  uint16_t read16(uint64_t gpa) { return logged_read(gpa, mem_.read16(gpa)); }
  uint32_t read32(uint64_t gpa) { return logged_read(gpa, mem_.read32(gpa)); }
  uint64_t read64(uint64_t gpa) { return logged_read(gpa, mem_.read64(gpa)); }
  void write16(uint64_t gpa, uint16_t v) { logged_write(gpa, v), mem_.write16(gpa, v); }
  void write32(uint64_t gpa, uint32_t v) { logged_write(gpa, v), mem_.write32(gpa, v); }
  void write64(uint64_t gpa, uint64_t v) { logged_write(gpa, v), mem_.write64(gpa, v); }

  void read_bytes(uint64_t gpa, void* dst, uint64_t n) {
    log_->push_back({Access::Op::read, agent_, gpa, n, 0, {}});
    mem_.read_bytes(gpa, dst, n);
  }
  void write_bytes(uint64_t gpa, const void* src, uint64_t n) {
    log_->push_back({Access::Op::write, agent_, gpa, n, 0, {}});
    mem_.write_bytes(gpa, src, n);
  }
  void barrier(BarrierSite site) {
    log_->push_back({Access::Op::barrier, agent_, 0, 0, 0, site});
    mem_.barrier(site);
  }

 private:
  template <class T>
  T logged_read(uint64_t gpa, T v) {
    log_->push_back({Access::Op::read, agent_, gpa, sizeof(T), v, {}});
    return v;
  }
  template <class T>
  void logged_write(uint64_t gpa, T v) {
    log_->push_back({Access::Op::write, agent_, gpa, sizeof(T), v, {}});
  }

  NativeMemory mem_;
  AccessLog* log_;
  uint8_t agent_;
};

static_assert(MemoryPolicy<RecordingMemory>);

}  // namespace virtiosim::ring
