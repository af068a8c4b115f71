// Test fixture memory: a zeroed, 4 KiB-aligned host buffer standing in for
// guest-physical memory at a non-zero base, with a bump allocator to place
// rings, indirect pools and buffers in it.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "models/ring/native_memory.h"

namespace virtiosim::testing {

class GuestMemory {
 public:
  static constexpr uint64_t kBase = 0x100000;  // a guest address 0 would hide bugs

  explicit GuestMemory(uint64_t size)
      : size_(size), buf_(static_cast<uint8_t*>(std::aligned_alloc(4096, round_up(size, 4096)))) {
    if (!buf_) throw std::bad_alloc();
    std::memset(buf_.get(), 0, size);
  }

  ring::NativeMemory native() const { return {buf_.get(), size_, kBase}; }

  uint64_t alloc(uint64_t bytes, uint64_t align = 16) {
    uint64_t at = round_up(next_, align);
    if (at + bytes > size_) throw std::length_error("GuestMemory exhausted");
    next_ = at + bytes;
    return kBase + at;
  }

  uint8_t* host(uint64_t gpa) const { return buf_.get() + (gpa - kBase); }
  uint64_t size() const { return size_; }
  uint64_t used() const { return next_; }

 private:
  static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  uint64_t size_;
  uint64_t next_ = 0;
  std::unique_ptr<uint8_t, Free> buf_;
};

}  // namespace virtiosim::testing
