#include "transport/vhost_user/dma_domain.h"

#include <stdexcept>

namespace virtiosim::vhost_user {

DmaDomain::DmaDomain(const MappedRegion& mem, uint64_t iova_base)
    : gpa_base_(mem.gpa), iova_base_(iova_base), uva_(mem.uva), host_(mem.host),
      perm_((mem.size + kIommuPageSize - 1) / kIommuPageSize, 0) {
  if (iova_base % kIommuPageSize != 0) throw std::invalid_argument("IOVA window not page-aligned");
  MappedRegion v = mem;
  v.gpa = iova_base;
  v.map_base = nullptr;
  v.map_len = 0;
  view_ = MemoryTable::borrow({v});
}

std::pair<uint64_t, uint64_t> DmaDomain::pages(uint64_t iova, uint64_t len) const {
  if (len == 0 || iova < iova_base_ || iova - iova_base_ + len > perm_.size() * kIommuPageSize)
    throw std::out_of_range("DMA range outside the IOVA window");
  return {(iova - iova_base_) / kIommuPageSize, (iova - iova_base_ + len - 1) / kIommuPageSize};
}

void DmaDomain::map(uint64_t iova, uint64_t len, uint8_t perm) {
  const auto [first, last] = pages(iova, len);
  for (uint64_t p = first; p <= last; ++p) perm_[p] = perm;
}

IovaRange DmaDomain::unmap(uint64_t iova, uint64_t len) {
  const auto [first, last] = pages(iova, len);
  for (uint64_t p = first; p <= last; ++p) perm_[p] = 0;
  return {iova_base_ + first * kIommuPageSize, (last - first + 1) * kIommuPageSize};
}

IovaTranslation DmaDomain::translate(uint64_t iova, uint8_t perm) const {
  IovaTranslation t;
  if (iova < iova_base_ || (iova - iova_base_) / kIommuPageSize >= perm_.size()) return t;  // outside: unmapped
  const uint64_t index = (iova - iova_base_) / kIommuPageSize;
  t.page = iova_base_ + index * kIommuPageSize;
  t.uaddr = uaddr(t.page);
  t.perm = perm_[index];
  if (t.perm == 0) t.result = IovaTranslation::Result::unmapped;
  else if ((t.perm & perm) != perm) t.result = IovaTranslation::Result::no_permission;
  else t.result = IovaTranslation::Result::mapped;
  return t;
}

}  // namespace virtiosim::vhost_user
