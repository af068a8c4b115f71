#include "transport/vhost_user/memory_table.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace virtiosim::vhost_user {

ProtocolError MemoryTable::map(const MemTable& table, std::vector<Fd>& fds,
                               std::shared_ptr<const MemoryTable>& out, std::string& detail) {
  if (table.regions.empty() || table.regions.size() != fds.size()) {
    detail = std::to_string(table.regions.size()) + " regions with " + std::to_string(fds.size()) + " fds";
    return ProtocolError::bad_region_count;
  }
  std::shared_ptr<MemoryTable> t(new MemoryTable);
  for (size_t i = 0; i < table.regions.size(); ++i) {
    const MemRegion& r = table.regions[i];
    const uint64_t len = r.mmap_offset + r.memory_size;  // no wrap: checked by the codec
    if (len < r.mmap_offset || len > SIZE_MAX) {
      detail = "region " + std::to_string(i) + " wraps";
      return ProtocolError::region_overflow;
    }
    struct stat st{};
    if (::fstat(fds[i].get(), &st) != 0) {
      detail = "fstat region " + std::to_string(i) + ": " + std::strerror(errno);
      return ProtocolError::region_map_failed;
    }
    if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) < len) {
      detail = "region " + std::to_string(i) + " extends past the end of its fd (" +
               std::to_string(st.st_size) + " < " + std::to_string(len) + ")";
      return ProtocolError::region_overflow;
    }
    void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i].get(), 0);
    if (p == MAP_FAILED) {
      detail = "mmap region " + std::to_string(i) + ": " + std::strerror(errno);
      return ProtocolError::region_map_failed;
    }
    MappedRegion m;
    m.gpa = r.guest_phys_addr;
    m.size = r.memory_size;
    m.uva = r.userspace_addr;
    m.host = static_cast<uint8_t*>(p) + r.mmap_offset;
    m.map_base = p;
    m.map_len = len;
    t->regions_.push_back(m);
  }
  // The mappings keep the memory alive; the fds are no longer needed.
  fds.clear();
  out = std::move(t);
  return ProtocolError::ok;
}

std::shared_ptr<const MemoryTable> MemoryTable::borrow(std::vector<MappedRegion> regions) {
  std::shared_ptr<MemoryTable> t(new MemoryTable);
  t->regions_ = std::move(regions);
  t->owned_ = false;
  return t;
}

MemoryTable::~MemoryTable() {
  if (!owned_) return;
  for (const MappedRegion& r : regions_) ::munmap(r.map_base, r.map_len);
}

const MappedRegion* MemoryTable::find_gpa(uint64_t gpa, uint64_t n) const {
  for (const MappedRegion& r : regions_)
    if (r.holds_gpa(gpa, n)) return &r;
  return nullptr;
}

std::optional<uint64_t> MemoryTable::uva_to_gpa(uint64_t uva, uint64_t n) const {
  for (const MappedRegion& r : regions_)
    if (r.holds_uva(uva, n)) return r.gpa + (uva - r.uva);
  return std::nullopt;
}

}  // namespace virtiosim::vhost_user
