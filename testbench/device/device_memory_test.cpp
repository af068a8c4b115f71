// The device's memory policy behind an IOMMU (models/device/device_memory.h):
// every access is translated, and a refused one touches nothing.
#include "models/device/device_memory.h"

#include <gtest/gtest.h>

#include <cstring>
#include <tlm>

#include "models/memory/backing_store.h"
#include "models/memory/memory_model.h"

namespace virtiosim::device {
namespace {

using ring::RingError;

constexpr uint64_t kBase = 0x100000;

struct DeviceMemoryTest : ::testing::Test {
  memory::BackingStore ram{kBase, 1 << 16};
  memory::MemoryModel model{ram, {}, memory::Ordering::sc, 2, 1};
  memory::AgentClock clock{memory::TimingMode::lt};
  memory::DmaDomain domain;
  IotlbParams params;
  Iotlb iotlb{domain, params, 1000};
  DeviceMemoryParams mem_params;
  DeviceMemory mem{memory::SimMemory(&model, 1, &clock), MetadataAccess::direct, &mem_params, &iotlb};

  // Outside a SystemC process: charged time stays local (no wait()).
  void SetUp() override { tlm::tlm_global_quantum::instance().set(sc_core::sc_time(1, sc_core::SC_SEC)); }

  uint64_t host64(uint64_t gpa) {
    uint64_t v;
    std::memcpy(&v, ram.host(gpa), 8);
    return v;
  }
};

TEST_F(DeviceMemoryTest, ReadsAndWritesGoThroughTheirIovas) {
  const uint64_t rx = domain.map(kBase + 0x2000, 64, memory::dma_write);
  mem.write64(rx + 8, 0x1122334455667788);
  EXPECT_EQ(host64(kBase + 0x2008), 0x1122334455667788u);
  EXPECT_EQ(mem.fault(), RingError::ok);
  EXPECT_GE(clock.busy_ps(), 1000'000u);  // the miss was charged
}

TEST_F(DeviceMemoryTest, APayloadAcrossIovaPagesIsTranslatedPageByPage) {
  const uint64_t gpa = kBase + 0x3000 - 10;
  const uint64_t iova = domain.map(gpa, 20, memory::dma_read);
  const uint8_t data[20] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
  std::memcpy(ram.host(gpa), data, sizeof data);
  uint8_t out[20] = {};
  mem.read_bytes(iova, out, sizeof out);
  EXPECT_EQ(std::memcmp(out, data, sizeof data), 0);
  EXPECT_EQ(iotlb.stats().misses, 2u);
}

TEST_F(DeviceMemoryTest, AWriteIntoAReadOnlyBufferIsRefusedAndWritesNothing) {
  const uint64_t tx = domain.map(kBase + 0x4000, 64, memory::dma_read);
  const uint64_t writes = model.stats(1).writes;
  mem.write_bytes(tx, "overwrite", 9);
  EXPECT_EQ(mem.fault(), RingError::iova_no_permission);
  EXPECT_EQ(host64(kBase + 0x4000), 0u);
  EXPECT_EQ(model.stats(1).writes, writes);
}

TEST_F(DeviceMemoryTest, AStaleIovaReadsNothingAndEverythingAfterTheFaultIsRefused) {
  const uint64_t buf = domain.map(kBase + 0x5000, 64, memory::dma_read);
  std::memset(ram.host(kBase + 0x5000), 0xab, 64);
  domain.unmap(buf, 64);  // the driver took it back
  const uint64_t reads = model.stats(1).reads;
  uint8_t out[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  mem.read_bytes(buf, out, sizeof out);
  EXPECT_EQ(mem.fault(), RingError::iova_unmapped);
  for (uint8_t b : out) EXPECT_EQ(b, 0);
  // A valid mapping after the fault is not used either: the queue is broken.
  const uint64_t other = domain.map(kBase + 0x6000, 8, memory::dma_read);
  EXPECT_EQ(mem.read64(other), 0u);
  EXPECT_EQ(model.stats(1).reads, reads);
  EXPECT_EQ(mem.fault(), RingError::iova_unmapped);
}

// The ring's address check bounds the IOVA space only: a buffer the driver
// unmapped passes it, and the access is what is refused, with the IOVA's
// own error rather than "outside guest memory" (fault.unmap_in_flight).
TEST_F(DeviceMemoryTest, TheRingsAddressCheckLeavesAnUnmappedIovaToTheAccess) {
  const uint64_t buf = domain.map(kBase + 0x5000, 64, memory::dma_read);
  domain.unmap(buf, 64);
  EXPECT_TRUE(mem.maps(buf, 64));
  EXPECT_FALSE(mem.maps(memory::kIovaLimit - 8, 16));  // past the IOVA space
  EXPECT_FALSE(mem.maps(0xdead000000000000ull, 8));
  uint8_t out[8];
  mem.read_bytes(buf, out, sizeof out);
  EXPECT_EQ(mem.fault(), RingError::iova_unmapped);
}

}  // namespace
}  // namespace virtiosim::device
