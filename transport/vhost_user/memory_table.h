// The front-end's memory as the back-end sees it: the regions of
// SET_MEM_TABLE, each mmap()ed from the fd that came with it.
//
// Two address spaces meet here. Descriptors carry guest-physical
// addresses; SET_VRING_ADDR carries front-end user addresses. Both are
// translated through the region table, and a translation succeeds only when
// the whole extent [addr, addr + len) lies inside one region: nothing is
// ever read or written outside a mapping.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transport/vhost_user/fd.h"
#include "transport/vhost_user/protocol.h"

namespace virtiosim::vhost_user {

struct MappedRegion {
  uint64_t gpa = 0;   // guest_phys_addr
  uint64_t size = 0;  // memory_size
  uint64_t uva = 0;   // userspace_addr (front-end's virtual address)
  uint8_t* host = nullptr;  // our address of gpa
  void* map_base = nullptr;  // what mmap returned (covers mmap_offset too)
  size_t map_len = 0;

  bool holds_gpa(uint64_t a, uint64_t n) const { return a >= gpa && a - gpa <= size && n <= size - (a - gpa); }
  bool holds_uva(uint64_t a, uint64_t n) const { return a >= uva && a - uva <= size && n <= size - (a - uva); }
};

class MemoryTable {
 public:
  // Maps every region of `table` from `fds` (one per region, in order).
  // Refuses a region whose fd is shorter than mmap_offset + memory_size:
  // touching a mapping beyond the end of its file raises SIGBUS.
  static ProtocolError map(const MemTable& table, std::vector<Fd>& fds,
                           std::shared_ptr<const MemoryTable>& out, std::string& detail);

  // A table over memory this process already owns (the front-end's own
  // guest memory), without unmapping anything on destruction.
  static std::shared_ptr<const MemoryTable> borrow(std::vector<MappedRegion> regions);

  ~MemoryTable();
  MemoryTable(const MemoryTable&) = delete;
  MemoryTable& operator=(const MemoryTable&) = delete;

  const MappedRegion* find_gpa(uint64_t gpa, uint64_t n) const;
  std::optional<uint64_t> uva_to_gpa(uint64_t uva, uint64_t n) const;
  uint8_t* gpa_to_host(uint64_t gpa, uint64_t n) const {
    const MappedRegion* r = find_gpa(gpa, n);
    return r ? r->host + (gpa - r->gpa) : nullptr;
  }
  const std::vector<MappedRegion>& regions() const { return regions_; }

 private:
  MemoryTable() = default;
  std::vector<MappedRegion> regions_;
  bool owned_ = true;
};

}  // namespace virtiosim::vhost_user
