// The guest's IOMMU domain (models/memory/dma_domain.h): the Linux DMA API's
// IOVA allocation and page table as the driver model uses them.
#include <gtest/gtest.h>

#include <stdexcept>

#include "models/memory/dma_domain.h"

namespace virtiosim::memory {
namespace {

TEST(DmaDomain, MapsTopDownBelowTheAddressWidthKeepingThePageOffset) {
  DmaDomain d;
  const uint64_t a = d.map(0x12'3456, 100, dma_read);
  EXPECT_EQ(a % kIovaPageBytes, 0x456u);
  EXPECT_LT(a, kIovaLimit);
  EXPECT_GE(a, kIovaLimit - kIovaPageBytes);
  const uint64_t b = d.map(0x20'0000, 2 * kIovaPageBytes, dma_write);
  EXPECT_EQ(b, kIovaLimit - 3 * kIovaPageBytes);  // next range, below the first
  const std::optional<IoPte> pte = d.walk(b + kIovaPageBytes + 5);
  ASSERT_TRUE(pte);
  EXPECT_EQ(pte->gpa_page, 0x20'0000u + kIovaPageBytes);
  EXPECT_EQ(pte->perm, dma_write);
  EXPECT_TRUE(d.walk(b) && d.walk(b + kIovaPageBytes));
  EXPECT_FALSE(d.walk(b - 1));  // the page below it is free
}

TEST(DmaDomain, UnmapTellsTheSinksAndTheNewestFreedRangeIsReusedFirst) {
  DmaDomain d;
  uint64_t heard_iova = 0, heard_bytes = 0;
  d.on_invalidate([&](uint64_t iova, uint64_t bytes) { heard_iova = iova, heard_bytes = bytes; });
  const uint64_t a = d.map(0x1000, 64, dma_read), b = d.map(0x2000, 64, dma_read);
  d.unmap(a, 64);
  d.unmap(b, 64);
  EXPECT_EQ(heard_iova, b - b % kIovaPageBytes);
  EXPECT_EQ(heard_bytes, kIovaPageBytes);
  EXPECT_FALSE(d.walk(b));
  EXPECT_EQ(d.map(0x3000, 64, dma_read), b);  // last in, first out (Linux's IOVA rcache)
  EXPECT_EQ(d.map(0x4000, 64, dma_read), a);
  EXPECT_EQ(d.mapped_pages(), 2u);
}

// fault.unmap_in_flight: the device hears the unmap, and the IOVA stays
// unmapped while later maps take fresh ranges.
TEST(DmaDomain, RevokedRangeIsInvalidatedAndNeverHandedOutAgain) {
  DmaDomain d;
  uint64_t heard_iova = 0;
  d.on_invalidate([&](uint64_t iova, uint64_t) { heard_iova = iova; });
  const uint64_t a = d.map(0x1000, 64, dma_read);
  d.revoke(a, 64);
  EXPECT_EQ(heard_iova, a - a % kIovaPageBytes);
  EXPECT_FALSE(d.walk(a));
  const uint64_t b = d.map(0x1000, 64, dma_read);
  EXPECT_NE(b / kIovaPageBytes, a / kIovaPageBytes);
  EXPECT_FALSE(d.walk(a));
  EXPECT_THROW(d.unmap(a, 64), std::logic_error);  // a second unmap is still a driver bug
}

TEST(DmaDomain, UnmappingWhatIsNotMappedIsADriverBug) {
  DmaDomain d;
  EXPECT_THROW(d.unmap(0x1000, 64), std::logic_error);
}

}  // namespace
}  // namespace virtiosim::memory
