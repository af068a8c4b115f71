// Guest RAM: one region of guest-physical memory backed by a memfd, so the
// same pages can later be handed to a vhost-user peer (SET_MEM_TABLE takes
// the fd). Zero-filled at creation.
#pragma once

#include <cstdint>

#include "models/ring/native_memory.h"

namespace virtiosim::memory {

class BackingStore {
 public:
  // [gpa_base, gpa_base + size) of guest-physical memory. Throws
  // std::system_error if the memfd cannot be created or mapped.
  BackingStore(uint64_t gpa_base, uint64_t size);
  ~BackingStore();
  BackingStore(const BackingStore&) = delete;
  BackingStore& operator=(const BackingStore&) = delete;

  bool maps(uint64_t gpa, uint64_t n) const { return native().maps(gpa, n); }
  uint8_t* host(uint64_t gpa) const { return base_ + (gpa - gpa_base_); }
  // Direct, un-modeled access (set-up, checks, DMI).
  ring::NativeMemory native() const { return {base_, size_, gpa_base_}; }

  int fd() const { return fd_; }
  uint64_t gpa_base() const { return gpa_base_; }
  uint64_t size() const { return size_; }

 private:
  uint64_t gpa_base_;
  uint64_t size_;
  int fd_ = -1;
  uint8_t* base_ = nullptr;
};

}  // namespace virtiosim::memory
