#include "models/memory/backing_store.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace virtiosim::memory {

BackingStore::BackingStore(uint64_t gpa_base, uint64_t size) : gpa_base_(gpa_base), size_(size) {
  fd_ = memfd_create("virtiosim-guest-ram", MFD_CLOEXEC);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "memfd_create");
  if (ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    const int e = errno;
    close(fd_);
    throw std::system_error(e, std::generic_category(), "ftruncate guest RAM");
  }
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) {
    const int e = errno;
    close(fd_);
    throw std::system_error(e, std::generic_category(), "mmap guest RAM");
  }
  base_ = static_cast<uint8_t*>(p);
}

BackingStore::~BackingStore() {
  munmap(base_, size_);
  close(fd_);
}

}  // namespace virtiosim::memory
