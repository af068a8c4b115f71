// drive's IOMMU domain: the IOVA window lies over guest memory at its own
// base, pages are mapped with a permission and answered (or refused) one by
// one, and an unmap names the page-aligned range an INVALIDATE must cover.
#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>

#include "transport/vhost_user/dma_domain.h"
#include "transport/vhost_user/frontend.h"

namespace virtiosim::vhost_user {
namespace {

using R = IovaTranslation::Result;

TEST(DmaDomain, WindowLiesOverGuestMemoryAwayFromItsAddresses) {
  GuestMemfd mem(64 << 10);
  DmaDomain d(mem.mapping());
  const uint64_t gpa = mem.gpa_base() + 0x1234;
  const uint64_t iova = d.iova(gpa);
  EXPECT_EQ(iova, kIovaBase + 0x1234);
  EXPECT_EQ(d.host(iova), mem.host(gpa));
  EXPECT_EQ(d.uaddr(iova), mem.uva(gpa));
  // The ring core's view is addressed by IOVA, over the same bytes.
  SharedMemory view = d.memory();
  view.write32(iova, 0xfeedf00d);
  uint32_t v = 0;
  std::memcpy(&v, mem.host(gpa), 4);
  EXPECT_EQ(v, 0xfeedf00du);
  EXPECT_FALSE(view.maps(gpa, 4));  // a guest-physical address is no IOVA
}

TEST(DmaDomain, PagesAnswerWithTheirPermission) {
  GuestMemfd mem(64 << 10);
  DmaDomain d(mem.mapping());
  const uint64_t base = d.iova(mem.gpa_base());
  // A 200-byte buffer maps its whole page, and only that page.
  d.map(base + 100, 200, iotlb::kRead);
  const IovaTranslation t = d.translate(base + 4095, iotlb::kRead);
  EXPECT_EQ(t.result, R::mapped);
  EXPECT_EQ(t.page, base);
  EXPECT_EQ(t.uaddr, mem.uva(mem.gpa_base()));
  EXPECT_EQ(t.perm, iotlb::kRead);
  EXPECT_EQ(d.translate(base + 4096, iotlb::kRead).result, R::unmapped);
  EXPECT_EQ(d.translate(base, iotlb::kWrite).result, R::no_permission);
  EXPECT_EQ(d.translate(base, iotlb::kReadWrite).result, R::no_permission);
  // RW answers either access alone.
  d.map(base + 4096, 1, iotlb::kReadWrite);
  EXPECT_EQ(d.translate(base + 4096 + 8, iotlb::kWrite).result, R::mapped);
  EXPECT_EQ(d.translate(base + 4096 + 8, iotlb::kRead).result, R::mapped);
  // Outside the window: below it, the guest-physical address, beyond it.
  EXPECT_EQ(d.translate(base - 1, iotlb::kRead).result, R::unmapped);
  EXPECT_EQ(d.translate(mem.gpa_base(), iotlb::kRead).result, R::unmapped);
  EXPECT_EQ(d.translate(base + mem.size(), iotlb::kRead).result, R::unmapped);
  EXPECT_THROW(d.map(base + mem.size() - 8, 16, iotlb::kRead), std::out_of_range);
}

TEST(DmaDomain, UnmapNamesThePagesItTouched) {
  GuestMemfd mem(64 << 10);
  DmaDomain d(mem.mapping());
  const uint64_t base = d.iova(mem.gpa_base());
  d.map(base, 5 * kIommuPageSize, iotlb::kWrite);
  // 5000 bytes from 10 bytes into page 1 reach into page 2.
  const IovaRange r = d.unmap(base + kIommuPageSize + 10, 5000);
  EXPECT_EQ(r.iova, base + kIommuPageSize);
  EXPECT_EQ(r.size, 2 * kIommuPageSize);
  EXPECT_EQ(d.translate(base, iotlb::kWrite).result, R::mapped);
  EXPECT_EQ(d.translate(base + kIommuPageSize, iotlb::kWrite).result, R::unmapped);
  EXPECT_EQ(d.translate(base + 2 * kIommuPageSize + 4095, iotlb::kWrite).result, R::unmapped);
  EXPECT_EQ(d.translate(base + 3 * kIommuPageSize, iotlb::kWrite).result, R::mapped);
}

}  // namespace
}  // namespace virtiosim::vhost_user
