// The device's IOTLB (models/device/iotlb.h) against a DMA domain the test
// maps and unmaps as the guest driver would.
#include <gtest/gtest.h>

#include "models/device/iotlb.h"
#include "models/memory/dma_domain.h"

namespace virtiosim::device {
namespace {

using memory::kIovaPageBytes;
using ring::RingError;

constexpr double kMissNs = 1000;

struct IotlbTest : ::testing::Test {
  memory::DmaDomain domain;
  IotlbParams params;
  Iotlb& tlb() { return *tlb_; }
  void SetUp() override { tlb_ = std::make_unique<Iotlb>(domain, params, kMissNs); }
  std::unique_ptr<Iotlb> tlb_;
};

TEST_F(IotlbTest, FirstAccessMissesThenHitsAndTranslatesWithinThePage) {
  const uint64_t iova = domain.map(0x10'0123, 64, memory::dma_read);
  Translation t = tlb().translate(iova, memory::dma_read);
  ASSERT_EQ(t.error, RingError::ok);
  EXPECT_EQ(t.gpa, 0x10'0123u);
  EXPECT_EQ(t.cost_ns, kMissNs);
  t = tlb().translate(iova + 8, memory::dma_read);
  EXPECT_EQ(t.gpa, 0x10'012bu);
  EXPECT_EQ(t.cost_ns, params.hit_ns);
  EXPECT_EQ(tlb().stats().misses, 1u);
  EXPECT_EQ(tlb().stats().hits, 1u);
}

TEST_F(IotlbTest, AnUnmappedIovaIsATypedErrorAndNoAddress) {
  const Translation t = tlb().translate(0x7f'0000'0000, memory::dma_read);
  EXPECT_EQ(t.error, RingError::iova_unmapped);
  EXPECT_EQ(tlb().stats().faults, 1u);
  EXPECT_EQ(tlb().size(), 0u);  // nothing was filled
}

TEST_F(IotlbTest, AWriteToAReadOnlyMappingIsRefused) {
  const uint64_t tx = domain.map(0x20'0000, 100, memory::dma_read);
  const uint64_t rx = domain.map(0x30'0000, 100, memory::dma_write);
  EXPECT_EQ(tlb().translate(tx, memory::dma_write).error, RingError::iova_no_permission);
  EXPECT_EQ(tlb().translate(rx, memory::dma_read).error, RingError::iova_no_permission);
  EXPECT_EQ(tlb().translate(rx, memory::dma_write).error, RingError::ok);
  EXPECT_EQ(tlb().stats().faults, 2u);
}

TEST_F(IotlbTest, UnmapInvalidatesSoTheStaleIovaIsRefused) {
  const uint64_t iova = domain.map(0x40'0000, 1500, memory::dma_read);
  ASSERT_EQ(tlb().translate(iova, memory::dma_read).error, RingError::ok);
  domain.unmap(iova, 1500);
  EXPECT_EQ(tlb().stats().invalidations, 1u);
  EXPECT_EQ(tlb().size(), 0u);
  EXPECT_EQ(tlb().translate(iova, memory::dma_read).error, RingError::iova_unmapped);
}

TEST_F(IotlbTest, AReusedIovaTranslatesToItsNewPageAfterTheInvalidation) {
  const uint64_t first = domain.map(0x50'0000, 64, memory::dma_read);
  ASSERT_EQ(tlb().translate(first, memory::dma_read).gpa, 0x50'0000u);
  domain.unmap(first, 64);
  const uint64_t again = domain.map(0x60'0000, 64, memory::dma_read);
  ASSERT_EQ(again, first);  // Linux's IOVA caches hand the freed range out again
  EXPECT_EQ(tlb().translate(again, memory::dma_read).gpa, 0x60'0000u);
}

TEST_F(IotlbTest, TheOldestEntryRetiresWhenFull) {
  params.entries = 2;
  const uint64_t a = domain.map(0x1000, 8, memory::dma_read), b = domain.map(0x2000, 8, memory::dma_read),
                 c = domain.map(0x3000, 8, memory::dma_read);
  tlb().translate(a, memory::dma_read);
  tlb().translate(b, memory::dma_read);
  tlb().translate(c, memory::dma_read);  // a retires
  EXPECT_EQ(tlb().size(), 2u);
  tlb().translate(b, memory::dma_read);
  tlb().translate(c, memory::dma_read);
  EXPECT_EQ(tlb().stats().hits, 2u);
  tlb().translate(a, memory::dma_read);
  EXPECT_EQ(tlb().stats().misses, 4u);
}

TEST_F(IotlbTest, EntriesArePageGranular) {
  const uint64_t iova = domain.map(0x7000 + kIovaPageBytes - 16, 32, memory::dma_read);  // spans two pages
  tlb().translate(iova, memory::dma_read);
  tlb().translate(iova + 16, memory::dma_read);  // the next page: another entry
  EXPECT_EQ(tlb().stats().misses, 2u);
  EXPECT_EQ(tlb().translate(iova + 16, memory::dma_read).gpa, 0x8000u);
}

TEST_F(IotlbTest, RingAreasAreTranslatedOnceAndSkipTheIotlb) {
  const uint64_t ring = domain.map(0x9000, 3 * kIovaPageBytes, memory::dma_read_write);
  tlb().add_ring_area(ring, 3 * kIovaPageBytes);
  Translation t = tlb().translate(ring + 2 * kIovaPageBytes + 4, memory::dma_write);
  EXPECT_EQ(t.gpa, 0x9000u + 2 * kIovaPageBytes + 4);
  EXPECT_EQ(tlb().stats().misses, 3u);  // its pages, once
  for (int i = 0; i < 10; ++i) t = tlb().translate(ring + 16u * i, memory::dma_read);
  EXPECT_EQ(t.cost_ns, params.ring_cache_hit_ns);
  EXPECT_EQ(tlb().stats().ring_cache_hits, 11u);
  EXPECT_EQ(tlb().stats().misses, 3u);
  EXPECT_EQ(tlb().stats().hits, 0u);
}

TEST_F(IotlbTest, WithoutTheRingCacheRingAccessesLookUpEachTime) {
  params.ring_cache = 0;
  const uint64_t ring = domain.map(0x9000, kIovaPageBytes, memory::dma_read_write);
  tlb().add_ring_area(ring, kIovaPageBytes);
  for (int i = 0; i < 10; ++i) tlb().translate(ring + 16u * i, memory::dma_read);
  EXPECT_EQ(tlb().stats().ring_cache_hits, 0u);
  EXPECT_EQ(tlb().stats().misses, 1u);
  EXPECT_EQ(tlb().stats().hits, 9u);
}

TEST_F(IotlbTest, TheRingTranslationOutlivesRetirementButNotAnOverlappingInvalidation) {
  params.entries = 1;
  const uint64_t ring = domain.map(0x9000, kIovaPageBytes, memory::dma_read_write);
  const uint64_t buf = domain.map(0xa000, 64, memory::dma_read);
  tlb().add_ring_area(ring, kIovaPageBytes);
  tlb().translate(ring, memory::dma_read);
  tlb().translate(buf, memory::dma_read);  // retires the ring's entry
  tlb().translate(ring, memory::dma_read);
  EXPECT_EQ(tlb().stats().misses, 2u);  // the kept translation still answers
  domain.unmap(buf, 64);                // does not overlap the ring
  tlb().translate(ring, memory::dma_read);
  EXPECT_EQ(tlb().stats().misses, 2u);
  domain.unmap(ring, kIovaPageBytes);   // overlaps: the ring's translation goes too
  EXPECT_EQ(tlb().translate(ring, memory::dma_read).error, RingError::iova_unmapped);
}

}  // namespace
}  // namespace virtiosim::device
