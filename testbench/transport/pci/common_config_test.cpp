// The common configuration structure (virtio 1.2, 4.1.4.3) as a driver
// uses it: feature windows, status and its handshake, queue_select and the
// per-queue fields, device reset, and NEEDS_RESET from the device.
#include "testbench/transport/pci/pci_bench.h"

namespace virtiosim::pci::test {
namespace {

constexpr uint8_t kAck = VIRTIO_CONFIG_S_ACKNOWLEDGE, kDriver = VIRTIO_CONFIG_S_DRIVER,
                  kFeaturesOk = VIRTIO_CONFIG_S_FEATURES_OK, kDriverOk = VIRTIO_CONFIG_S_DRIVER_OK,
                  kNeedsReset = VIRTIO_CONFIG_S_NEEDS_RESET;

// 4.1.4.3: device_feature shows 32 bits of the device's features chosen
// by device_feature_select (0: bits 0-31, 1: bits 32-63); windows beyond
// the offered bits read 0.
PCI_BENCH_TEST(PciCommonConfig, DeviceFeatureWindowsShowAll64Bits) {
  uint64_t seen = 0;
  for (uint32_t sel = 0; sel < 2; ++sel) {
    b.c_wr(VIRTIO_PCI_COMMON_DFSELECT, 4, sel);
    EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_DFSELECT, 4), sel);
    seen |= b.c_rd(VIRTIO_PCI_COMMON_DF, 4) << (32 * sel);
  }
  EXPECT_EQ(seen, kDeviceFeatures);
  EXPECT_TRUE(seen & bit(VIRTIO_F_VERSION_1)) << "a modern device offers VERSION_1 (6.1)";
  b.c_wr(VIRTIO_PCI_COMMON_DFSELECT, 4, 2);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_DF, 4), 0u);
}

// 4.1.4.3: driver_feature is written and read back 32 bits at a time
// through driver_feature_select; the device receives all 64 at DRIVER_OK.
PCI_BENCH_TEST(PciCommonConfig, DriverFeatureWindowsCollectAll64Bits) {
  const uint64_t want = bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_RING_PACKED) | bit(5);
  b.negotiate(want);
  for (uint32_t sel = 0; sel < 2; ++sel) {
    b.c_wr(VIRTIO_PCI_COMMON_GFSELECT, 4, sel);
    EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_GFSELECT, 4), sel);
    EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_GF, 4), (want >> (32 * sel)) & 0xffffffff) << "window " << sel;
  }
  b.c_wr(VIRTIO_PCI_COMMON_GFSELECT, 4, 2);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_GF, 4), 0u);
  EXPECT_EQ(b.status(), kAck | kDriver | kFeaturesOk);
  b.setup_queue(0, 64);
  b.set_status(kAck | kDriver | kFeaturesOk | kDriverOk);
  EXPECT_EQ(b.dev.driver_oks, 1);
  EXPECT_EQ(b.dev.ok_features, want);
}

// 3.1.1 steps 5-6 / 2.2.2: the device refuses FEATURES_OK for a feature
// set it did not offer; the driver sees the bit clear on re-read.
PCI_BENCH_TEST(PciCommonConfig, FeaturesOkRefusedForFeatureNotOffered) {
  const uint64_t not_offered = bit(VIRTIO_F_IN_ORDER);
  ASSERT_EQ(kDeviceFeatures & not_offered, 0u);
  b.negotiate(bit(VIRTIO_F_VERSION_1) | not_offered);
  EXPECT_EQ(b.status() & kFeaturesOk, 0);
  EXPECT_EQ(b.status(), kAck | kDriver);
  // The driver may retry with an acceptable subset (after a reset, as
  // negotiate() does).
  b.negotiate(bit(VIRTIO_F_VERSION_1));
  EXPECT_EQ(b.status(), kAck | kDriver | kFeaturesOk);
}

// 2.2.2 / 3.1.1: once FEATURES_OK is accepted the feature set is final;
// later writes to driver_feature do not change what the device gets.
PCI_BENCH_TEST(PciCommonConfig, DriverFeaturesFrozenAfterFeaturesOk) {
  const uint64_t want = bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_RING_PACKED);
  b.negotiate(want);
  b.c_wr(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
  b.c_wr(VIRTIO_PCI_COMMON_GF, 4, 0xffffffff);
  b.c_wr(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
  b.c_wr(VIRTIO_PCI_COMMON_GF, 4, 0);
  b.c_wr(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_GF, 4), want & 0xffffffff);
  b.setup_queue(0, 64);
  b.set_status(kAck | kDriver | kFeaturesOk | kDriverOk);
  EXPECT_EQ(b.dev.ok_features, want);
}

// 4.1.4.3: queue_select chooses which queue the queue_* fields address;
// each queue keeps its own size, vector and areas; queue_size starts at
// the device's maximum; an unavailable queue reads queue_size 0
// (4.1.4.3.2) and ignores writes.
PCI_BENCH_TEST(PciCommonConfig, QueueSelectAddressesEachQueue) {
  b.negotiate(kDeviceFeatures);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_NUMQ, 2), kNumQueues);
  for (uint16_t q = 0; q < kNumQueues; ++q) {
    b.select(q);
    EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_SELECT, 2), q);
    EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), kMaxQueueSize) << "queue " << q;
    EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0u);
    EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_MSIX, 2), kNoVector);
  }
  for (uint16_t q = 0; q < kNumQueues; ++q) {
    b.select(q);
    b.c_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, 16u * (q + 1));
    b.write_queue_addrs(Bench::desc_addr(q), Bench::driver_addr(q), Bench::device_addr(q));
    b.c_wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, q + 1u);
  }
  for (uint16_t q = 0; q < kNumQueues; ++q) {
    b.select(q);
    EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), 16u * (q + 1));
    EXPECT_EQ(b.q_desc(), Bench::desc_addr(q));
    EXPECT_EQ(b.q_driver(), Bench::driver_addr(q));
    EXPECT_EQ(b.q_device(), Bench::device_addr(q));
    EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_MSIX, 2), q + 1u);
  }
  // A queue that does not exist.
  b.select(kNumQueues);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), 0u);
  b.c_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, 8);
  b.write_queue_addrs(0x1000, 0x2000, 0x3000);
  b.c_wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, 1);
  b.c_wr(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), 0u);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0u);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_MSIX, 2), kNoVector);
  EXPECT_EQ(b.q_desc(), 0u);
  b.select(0xffff);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), 0u);
}

// 4.1.4.3.2: the driver may write a smaller queue_size, never a larger one
// (the device's maximum) and never 0; a packed ring need not be a power of
// two (P1), so any size in between is taken.
PCI_BENCH_TEST(PciCommonConfig, QueueSizeAcceptsOnlySizesUpToTheMaximum) {
  b.negotiate(kDeviceFeatures);
  b.select(1);
  b.c_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, kMaxQueueSize + 1u);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), kMaxQueueSize);
  b.c_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, 0);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), kMaxQueueSize);
  b.c_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, 100);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), 100u);
  b.c_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, 1);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), 1u);
  b.c_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, kMaxQueueSize);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), kMaxQueueSize);
}

// 4.1.4.3.2: the driver configures a queue before enabling it; once
// queue_enable is 1, queue_size and the three areas no longer change, and
// writing 0 to queue_enable does not disable it.
PCI_BENCH_TEST(PciCommonConfig, QueueFieldsFrozenOnceEnabled) {
  b.negotiate(kDeviceFeatures);
  b.setup_queue(1, 64);
  b.select(1);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1u);
  b.c_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, 32);
  b.write_queue_addrs(0x1000, 0x2000, 0x3000);
  b.c_wr(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 0);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), 64u);
  EXPECT_EQ(b.q_desc(), Bench::desc_addr(1));
  EXPECT_EQ(b.q_driver(), Bench::driver_addr(1));
  EXPECT_EQ(b.q_device(), Bench::device_addr(1));
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1u);
  // Its neighbour, not yet enabled, is still writable.
  b.select(2);
  b.c_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, 32);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), 32u);
}

// 3.1.1 step 7 then 8: queues are set up before DRIVER_OK. In this model a
// queue left disabled at DRIVER_OK cannot be configured or enabled later
// (only a queue reset, P15, reopens a live queue).
PCI_BENCH_TEST(PciCommonConfig, QueueFieldsFrozenAfterDriverOk) {
  b.negotiate(kDeviceFeatures);
  b.setup_queue(0, 64);
  b.set_status(kAck | kDriver | kFeaturesOk | kDriverOk);
  b.select(2);
  b.c_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, 32);
  b.write_queue_addrs(0x1000, 0x2000, 0x3000);
  b.c_wr(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), kMaxQueueSize);
  EXPECT_EQ(b.q_desc(), 0u);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0u);
  EXPECT_TRUE(b.dev.enabled.empty());
}

// 3.1.1 step 8: DRIVER_OK hands the device the negotiated features and
// every queue as configured (64-bit areas assembled from both halves),
// once; further status writes that keep DRIVER_OK do not repeat it.
PCI_BENCH_TEST(PciCommonConfig, DriverOkHandsFeaturesAndQueuesToDevice) {
  const uint64_t features = kDeviceFeatures & ~bit(VIRTIO_F_NOTIFICATION_DATA);
  b.negotiate(features);
  b.setup_queue(0, 128);
  b.setup_queue(1, 77);
  EXPECT_EQ(b.dev.driver_oks, 0);
  b.set_status(kAck | kDriver | kFeaturesOk | kDriverOk);
  EXPECT_EQ(b.status(), kAck | kDriver | kFeaturesOk | kDriverOk);
  ASSERT_EQ(b.dev.driver_oks, 1);
  EXPECT_EQ(b.dev.ok_features, features);
  ASSERT_EQ(b.dev.ok_queues.size(), size_t{kNumQueues});
  const uint16_t sizes[] = {128, 77};
  for (uint16_t q = 0; q < 2; ++q) {
    const QueueConfig& c = b.dev.ok_queues[q];
    EXPECT_TRUE(c.enabled);
    EXPECT_EQ(c.size, sizes[q]);
    EXPECT_EQ(c.desc, Bench::desc_addr(q));
    EXPECT_EQ(c.driver, Bench::driver_addr(q));
    EXPECT_EQ(c.device, Bench::device_addr(q));
    EXPECT_EQ(c.msix_vector, q + 1u);
  }
  EXPECT_FALSE(b.dev.ok_queues[2].enabled);
  b.set_status(kAck | kDriver | kFeaturesOk | kDriverOk);
  EXPECT_EQ(b.dev.driver_oks, 1);
}

// 2.4 / 4.1.4.3.2: writing 0 to device_status resets the device: status
// reads 0, the device is told, every queue is disabled and back at its
// defaults (size = maximum, areas 0, NO_VECTOR), negotiated features are
// gone, and the queues can be configured again.
PCI_BENCH_TEST(PciCommonConfig, StatusZeroResetsDeviceAndQueues) {
  b.bring_up(kDeviceFeatures, 64);
  const int resets_before = b.dev.resets;
  b.set_status(0);
  EXPECT_EQ(b.status(), 0);
  EXPECT_EQ(b.dev.resets, resets_before + 1);
  for (uint16_t q = 0; q < kNumQueues; ++q) {
    b.select(q);
    EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0u) << "queue " << q;
    EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), kMaxQueueSize);
    EXPECT_EQ(b.q_desc(), 0u);
    EXPECT_EQ(b.q_driver(), 0u);
    EXPECT_EQ(b.q_device(), 0u);
    EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_MSIX, 2), kNoVector);  // 4.1.5.1.2.1: unmapped on reset
  }
  for (uint32_t sel = 0; sel < 2; ++sel) {
    b.c_wr(VIRTIO_PCI_COMMON_GFSELECT, 4, sel);
    EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_GF, 4), 0u);
  }
  // A second life: the same queue set up again with other values.
  b.negotiate(bit(VIRTIO_F_VERSION_1));
  b.select(0);
  b.c_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, 32);
  b.write_queue_addrs(0x1000, 0x2000, 0x3000);
  b.c_wr(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
  b.set_status(kAck | kDriver | kFeaturesOk | kDriverOk);
  EXPECT_EQ(b.dev.driver_oks, 2);
  EXPECT_EQ(b.dev.ok_features, bit(VIRTIO_F_VERSION_1));
  EXPECT_EQ(b.dev.ok_queues[0].size, 32);
  EXPECT_EQ(b.dev.ok_queues[0].desc, 0x1000u);
  // A doorbell now reaches the device again.
  b.wr(b.doorbell(0), 2, 0);
  b.sleep(b.doorbell_latency() * 2);
  EXPECT_EQ(b.dev.notifies.size(), 1u);
}

// 2.1.1-2.1.2: when the device sets NEEDS_RESET the driver sees it in
// device_status (with its other bits), config_generation changes, and the
// configuration vector fires (4.1.5.3); the driver cannot clear it except
// by resetting the device.
PCI_BENCH_TEST(PciCommonConfig, NeedsResetSurfacesUntilDeviceReset) {
  b.bring_up(kDeviceFeatures);
  const auto generation = b.c_rd(VIRTIO_PCI_COMMON_CFGGENERATION, 1);
  EXPECT_FALSE(b.fn.needs_reset());
  b.fn.set_needs_reset();
  EXPECT_TRUE(b.fn.needs_reset());
  EXPECT_EQ(b.status(), kAck | kDriver | kFeaturesOk | kDriverOk | kNeedsReset);
  EXPECT_NE(b.c_rd(VIRTIO_PCI_COMMON_CFGGENERATION, 1), generation);
  b.sleep(b.irq_latency() + settle());
  EXPECT_EQ(b.msix_deliveries[0].size(), 1u) << "config vector 0";
  // Rewriting status without the bit keeps it.
  b.set_status(kAck | kDriver | kFeaturesOk | kDriverOk);
  EXPECT_TRUE(b.status() & kNeedsReset);
  b.set_status(0);
  EXPECT_EQ(b.status(), 0);
  EXPECT_FALSE(b.fn.needs_reset());
}

}  // namespace
}  // namespace virtiosim::pci::test
