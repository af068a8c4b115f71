// Virtqueue reset (VIRTIO_F_RING_RESET, P15; virtio 1.2, 2.6.1 and
// 4.1.4.3.2): the driver writes 1 to queue_reset, reads 1 until the device
// has reset the queue, then 0 with queue_enable 0; the queue can then be
// configured and enabled again as a fresh ring.
#include "testbench/transport/pci/pci_bench.h"

namespace virtiosim::pci::test {
namespace {

// P15 / 4.1.4.3.2: queue_reset reads 1 while the reset is in progress and
// 0 once the device has acknowledged it; queue_enable reads 0; the other
// queues are untouched.
PCI_BENCH_TEST(PciQueueReset, ReadsOneUntilDeviceAcknowledges) {
  b.bring_up(kDeviceFeatures);
  std::vector<std::pair<VirtioPciFunction::Event, uint16_t>> events;
  b.fn.on_event([&](VirtioPciFunction::Event e, uint16_t q) { events.emplace_back(e, q); });
  b.select(1);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_RESET, 2), 0u);
  b.c_wr(VIRTIO_PCI_COMMON_Q_RESET, 2, 1);
  ASSERT_EQ(b.dev.queue_resets.size(), 1u);
  EXPECT_EQ(b.dev.queue_resets[0], 1);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_RESET, 2), 1u) << "device has not acknowledged";
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0u);
  b.sleep(sc_core::sc_time(10, sc_core::SC_US));  // however long the device takes
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_RESET, 2), 1u);
  b.fn.queue_reset_done(1);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_RESET, 2), 0u);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0u);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].first, VirtioPciFunction::Event::queue_reset);
  EXPECT_EQ(events[0].second, 1);
  for (uint16_t q : {0, 2}) {
    b.select(q);
    EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1u) << "queue " << q;
    EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_RESET, 2), 0u);
  }
  EXPECT_EQ(b.status() & VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_DRIVER_OK) << "the device stays live";
  EXPECT_EQ(b.dev.resets, 1) << "only negotiate()'s reset, no device reset";
}

// 2.6.1.2.1: after the reset completes the driver may set the queue's
// fields to new values and enable it; the device gets the fresh queue
// (enable_queue), and the fields freeze again. While the reset is still in
// progress neither the fields nor queue_enable can be written.
PCI_BENCH_TEST(PciQueueReset, QueueReconfiguredAndReenabledAfterReset) {
  b.bring_up(kDeviceFeatures, 128);
  std::vector<std::pair<VirtioPciFunction::Event, uint16_t>> events;
  b.fn.on_event([&](VirtioPciFunction::Event e, uint16_t q) { events.emplace_back(e, q); });
  b.select(2);
  b.c_wr(VIRTIO_PCI_COMMON_Q_RESET, 2, 1);
  // In progress: writes are ignored.
  b.c_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, 64);
  b.write_queue_addrs(0x10000, 0x20000, 0x30000);
  b.c_wr(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), 128u);
  EXPECT_EQ(b.q_desc(), Bench::desc_addr(2));
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0u);
  EXPECT_TRUE(b.dev.enabled.empty());
  // Done: writable again.
  b.fn.queue_reset_done(2);
  b.c_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, 64);
  b.write_queue_addrs(0x10000, 0x20000, 0x30000);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), 64u);
  EXPECT_EQ(b.q_desc(), 0x10000u);
  EXPECT_EQ(b.q_driver(), 0x20000u);
  EXPECT_EQ(b.q_device(), 0x30000u);
  b.c_wr(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1u);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_RESET, 2), 0u);
  ASSERT_EQ(b.dev.enabled.size(), 1u);
  EXPECT_EQ(b.dev.enabled[0].first, 2);
  const QueueConfig& c = b.dev.enabled[0].second;
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.size, 64);
  EXPECT_EQ(c.desc, 0x10000u);
  EXPECT_EQ(c.driver, 0x20000u);
  EXPECT_EQ(c.device, 0x30000u);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].first, VirtioPciFunction::Event::queue_enabled);
  EXPECT_EQ(events[1].second, 2);
  // Live again: frozen, and its doorbell reaches the device.
  b.c_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, 32);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), 64u);
  b.wr(b.doorbell(2), 4, 2);
  b.sleep(b.doorbell_latency() * 2);
  ASSERT_EQ(b.dev.notifies.size(), 1u);
  EXPECT_EQ(b.dev.notifies[0].queue, 2);
  // And it can be reset a second time.
  b.c_wr(VIRTIO_PCI_COMMON_Q_RESET, 2, 1);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_RESET, 2), 1u);
  EXPECT_EQ(b.dev.queue_resets.size(), 2u);
}

// 4.1.4.3 / P15: queue_reset exists only with VIRTIO_F_RING_RESET
// negotiated; without it a write does nothing.
PCI_BENCH_TEST(PciQueueReset, IgnoredWithoutRingResetFeature) {
  b.bring_up(kDeviceFeatures & ~bit(VIRTIO_F_RING_RESET));
  b.select(0);
  b.c_wr(VIRTIO_PCI_COMMON_Q_RESET, 2, 1);
  EXPECT_TRUE(b.dev.queue_resets.empty());
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_RESET, 2), 0u);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1u);
}

// 2.6.1: a queue reset applies to a live queue: before DRIVER_OK, on a
// queue that is not enabled, with a value other than 1, or on a queue whose
// reset is already in progress, the write is ignored (the device is asked
// once).
PCI_BENCH_TEST(PciQueueReset, IgnoredWhereNoLiveQueueIsReset) {
  b.negotiate(kDeviceFeatures);
  b.setup_queue(0, 64);
  b.select(0);
  b.c_wr(VIRTIO_PCI_COMMON_Q_RESET, 2, 1);  // before DRIVER_OK
  EXPECT_TRUE(b.dev.queue_resets.empty());
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_RESET, 2), 0u);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1u);
  b.set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
               VIRTIO_CONFIG_S_DRIVER_OK);
  b.select(1);  // never enabled
  b.c_wr(VIRTIO_PCI_COMMON_Q_RESET, 2, 1);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_RESET, 2), 0u);
  b.select(kNumQueues);  // no such queue
  b.c_wr(VIRTIO_PCI_COMMON_Q_RESET, 2, 1);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_RESET, 2), 0u);
  b.select(0);
  b.c_wr(VIRTIO_PCI_COMMON_Q_RESET, 2, 2);  // not 1
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_RESET, 2), 0u);
  EXPECT_TRUE(b.dev.queue_resets.empty());
  b.c_wr(VIRTIO_PCI_COMMON_Q_RESET, 2, 1);
  b.c_wr(VIRTIO_PCI_COMMON_Q_RESET, 2, 1);  // again while in progress
  EXPECT_EQ(b.dev.queue_resets.size(), 1u);
  b.c_wr(VIRTIO_PCI_COMMON_Q_RESET, 2, 0);  // the driver cannot cancel it
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_RESET, 2), 1u);
}

// The device's acknowledgement counts only for a reset in progress: a
// stray queue_reset_done (wrong queue, none asked, out of range) changes
// nothing the driver can see.
PCI_BENCH_TEST(PciQueueReset, StrayAcknowledgementChangesNothing) {
  b.bring_up(kDeviceFeatures);
  b.fn.queue_reset_done(0);  // no reset asked
  b.fn.queue_reset_done(kNumQueues);
  b.fn.queue_reset_done(0xffff);
  b.select(0);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1u);
  b.c_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, 16);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), 128u) << "still live, still frozen";
  b.select(1);
  b.c_wr(VIRTIO_PCI_COMMON_Q_RESET, 2, 1);
  b.fn.queue_reset_done(0);  // the other queue
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_RESET, 2), 1u);
  b.c_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, 16);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), 128u) << "in progress, still frozen";
}

// 4.1.4.3.2: "the device MUST present a 0 in queue_reset on reset": a
// device reset during a queue reset ends it.
PCI_BENCH_TEST(PciQueueReset, DeviceResetEndsQueueReset) {
  b.bring_up(kDeviceFeatures);
  b.select(1);
  b.c_wr(VIRTIO_PCI_COMMON_Q_RESET, 2, 1);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_RESET, 2), 1u);
  b.set_status(0);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_RESET, 2), 0u);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0u);
  b.fn.queue_reset_done(1);  // a late acknowledgement is ignored
  // The next life configures the queue as usual.
  b.bring_up(kDeviceFeatures, 32);
  b.select(1);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1u);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_SIZE, 2), 32u);
  EXPECT_TRUE(b.dev.enabled.empty()) << "set up through DRIVER_OK, not enable_queue";
}

}  // namespace
}  // namespace virtiosim::pci::test
