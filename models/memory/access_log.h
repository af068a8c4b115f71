// The access log: every access to ring memory (time, agent, address, size,
// read / write / barrier / store-became-visible, value), always on and
// bounded: a ring buffer of the most recent `capacity` records, plus
// running totals that never lose a count.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace virtiosim::memory {

struct LogRecord {
  enum class Op : uint8_t { read, write, barrier, visible };
  uint64_t time_ps = 0;
  uint64_t addr = 0;
  uint64_t value = 0;  // typed accesses: the value; barriers: the BarrierSite
  uint32_t size = 0;
  uint8_t agent = 0;
  Op op = Op::read;
};

class AccessLog {
 public:
  // `capacity` is rounded up to a power of two (the index is a mask).
  explicit AccessLog(size_t capacity = 1 << 16) : records_(std::bit_ceil(capacity ? capacity : 1)) {}

  void record(const LogRecord& r) {
    records_[next_ & (records_.size() - 1)] = r;
    ++next_;
    ++totals_[static_cast<unsigned>(r.op)];
  }

  // Records still held, oldest first.
  std::vector<LogRecord> snapshot() const { return newest(records_.size()); }
  // The newest `count` records still held (fewer if fewer are), oldest first.
  std::vector<LogRecord> newest(size_t count) const {
    std::vector<LogRecord> out;
    const uint64_t n = std::min<uint64_t>({next_, records_.size(), count});
    out.reserve(n);
    for (uint64_t i = next_ - n; i < next_; ++i) out.push_back(records_[i & (records_.size() - 1)]);
    return out;
  }

  uint64_t total() const { return next_; }
  uint64_t total(LogRecord::Op op) const { return totals_[static_cast<unsigned>(op)]; }
  size_t capacity() const { return records_.size(); }

 private:
  std::vector<LogRecord> records_;
  uint64_t next_ = 0;
  uint64_t totals_[4] = {};
};

}  // namespace virtiosim::memory
