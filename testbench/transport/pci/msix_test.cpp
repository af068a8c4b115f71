// MSI-X as a driver uses it (virtio 1.2, 4.1.5.1.2 and 4.1.4.3; PCI Local
// Bus 3.0 / PCIe 6.8.2 for the table, the masks and the PBA): vector
// assignment, delivery, per-vector and function masking with pending bits.
#include "testbench/transport/pci/pci_bench.h"

namespace virtiosim::pci::test {
namespace {

constexpr uint16_t kFlags = Bench::kMsixCap + PCI_MSIX_FLAGS;

void mask_vector(Bench& b, uint16_t v, bool masked) {
  b.wr(b.msix_entry(v, PCI_MSIX_ENTRY_VECTOR_CTRL), 4, masked ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0);
}

// 4.1.5.1.2.1: the driver maps the configuration and each queue to a
// vector and reads the mapping back; a vector outside the table is a
// mapping failure and reads NO_VECTOR; NO_VECTOR unmaps.
PCI_BENCH_TEST(PciMsix, VectorAssignmentReadsBack) {
  b.negotiate(kDeviceFeatures);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_MSIX, 2), kNoVector) << "unmapped at reset";
  b.c_wr(VIRTIO_PCI_COMMON_MSIX, 2, 0);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_MSIX, 2), 0u);
  for (uint16_t q = 0; q < kNumQueues; ++q) {
    b.select(q);
    b.c_wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, kNumQueues - q);  // any valid vector for any queue
  }
  for (uint16_t q = 0; q < kNumQueues; ++q) {
    b.select(q);
    EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_MSIX, 2), kNumQueues - q + 0u);
  }
  b.select(1);
  b.c_wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, b.fn.num_vectors());  // one past the table
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_MSIX, 2), kNoVector);
  b.c_wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, 1);
  b.c_wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, kNoVector);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_MSIX, 2), kNoVector);
  b.c_wr(VIRTIO_PCI_COMMON_MSIX, 2, kNoVector);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_MSIX, 2), kNoVector);
}

// 4.1.5.1.2.1: "Devices MUST report mapping failures by returning the
// NO_VECTOR value when the relevant config_msix_vector field is read" —
// Linux's vp_modern_config_vector checks exactly that.
PCI_BENCH_TEST(PciMsix, ConfigVectorOutsideTableReadsNoVector) {
  b.negotiate(kDeviceFeatures);
  b.c_wr(VIRTIO_PCI_COMMON_MSIX, 2, b.fn.num_vectors());
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_MSIX, 2), kNoVector);
  b.c_wr(VIRTIO_PCI_COMMON_MSIX, 2, 0x7ff);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_MSIX, 2), kNoVector);
}

// 4.1.5.1.2.1: "The device MUST have all queue and configuration change
// events unmapped upon reset."
PCI_BENCH_TEST(PciMsix, DeviceResetUnmapsEveryEvent) {
  b.bring_up(kDeviceFeatures);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_MSIX, 2), 0u);
  b.set_status(0);
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_MSIX, 2), kNoVector);
  for (uint16_t q = 0; q < kNumQueues; ++q) {
    b.select(q);
    EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_Q_MSIX, 2), kNoVector) << "queue " << q;
  }
  // An unmapped configuration change raises no message.
  b.fn.set_needs_reset();
  b.sleep(b.irq_latency() * 2);
  EXPECT_TRUE(b.msix_deliveries[0].empty());
}

// An unmasked vector's message is sent at once: the driver's handler for
// the queue's vector runs after the path's interrupt latency, and nothing
// is left pending. Queues sharing a vector share its message.
PCI_BENCH_TEST(PciMsix, UnmaskedVectorDeliveredAtOnce) {
  b.bring_up(kDeviceFeatures);
  const sc_core::sc_time t0 = sc_core::sc_time_stamp();
  b.fn.signal_queue(1);  // queue 1 -> vector 2
  b.sleep(b.irq_latency() + settle());
  ASSERT_EQ(b.msix_deliveries[2].size(), 1u);
  EXPECT_EQ(b.msix_deliveries[2][0], t0 + b.irq_latency());
  EXPECT_TRUE(b.msix_deliveries[1].empty());
  EXPECT_TRUE(b.msix_deliveries[3].empty());
  EXPECT_EQ(b.pba(), 0u);
  EXPECT_EQ(b.fn.stats().interrupts, 1u);
  // Queue 2 moved onto vector 2 as well.
  b.select(2);
  b.c_wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, 2);
  b.fn.signal_queue(2);
  b.sleep(b.irq_latency() + settle());
  EXPECT_EQ(b.msix_deliveries[2].size(), 2u);
  EXPECT_TRUE(b.msix_deliveries[3].empty());
}

// A queue with NO_VECTOR raises no MSI-X message (INTx is not modeled);
// the ISR still records the queue interrupt (4.1.4.5).
PCI_BENCH_TEST(PciMsix, QueueWithoutVectorSendsNoMessage) {
  b.bring_up(kDeviceFeatures);
  b.select(0);
  b.c_wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, kNoVector);
  b.fn.signal_queue(0);
  b.sleep(b.irq_latency() * 2);
  for (uint16_t v = 0; v < b.fn.num_vectors(); ++v) EXPECT_TRUE(b.msix_deliveries[v].empty()) << v;
  EXPECT_EQ(b.pba(), 0u);
  EXPECT_EQ(b.rd(PciLayout::bar0 + PciLayout::isr_off, 1), kIsrQueue);
}

// PCI 6.8.2.9-10: a masked vector's message is not sent; its PBA bit is
// set instead. Unmasking sends it and clears the bit. Only that vector is
// held.
PCI_BENCH_TEST(PciMsix, MaskedVectorHeldPendingAndDeliveredOnUnmask) {
  b.bring_up(kDeviceFeatures);
  mask_vector(b, 2, true);
  EXPECT_EQ(b.rd(b.msix_entry(2, PCI_MSIX_ENTRY_VECTOR_CTRL), 4), PCI_MSIX_ENTRY_CTRL_MASKBIT);
  b.fn.signal_queue(1);  // vector 2, masked
  b.fn.signal_queue(2);  // vector 3, unmasked
  b.sleep(b.irq_latency() * 2);
  EXPECT_TRUE(b.msix_deliveries[2].empty());
  EXPECT_EQ(b.msix_deliveries[3].size(), 1u);
  EXPECT_EQ(b.pba(), bit(2));
  EXPECT_EQ(b.fn.stats().interrupts_masked, 1u);
  // A second interrupt while masked stays one pending message.
  b.fn.signal_queue(1);
  b.sleep(b.irq_latency() * 2);
  EXPECT_EQ(b.pba(), bit(2));
  mask_vector(b, 2, false);
  ASSERT_EQ(b.msix_deliveries[2].size(), 1u);
  EXPECT_EQ(b.pba(), 0u);
  // And from now on it is delivered at once again.
  b.fn.signal_queue(1);
  b.sleep(b.irq_latency() + settle());
  EXPECT_EQ(b.msix_deliveries[2].size(), 2u);
  EXPECT_EQ(b.pba(), 0u);
}

// PCI 6.8.2.3 (Function Mask): with the function masked every vector is
// masked whatever its own bit; messages are held in the PBA, unmasking a
// single vector does not send while the function is masked, and clearing
// the function mask sends what is pending on unmasked vectors.
PCI_BENCH_TEST(PciMsix, FunctionMaskHoldsEveryVectorUntilCleared) {
  b.bring_up(kDeviceFeatures);
  b.cfg_wr(kFlags, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
  EXPECT_EQ(b.cfg_rd(kFlags, 2) & (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL),
            PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
  EXPECT_EQ(b.cfg_rd(kFlags, 2) & PCI_MSIX_FLAGS_QSIZE, kNumQueues + 0u) << "table size is read-only";
  mask_vector(b, 3, true);
  b.fn.signal_queue(0);  // vector 1
  b.fn.signal_queue(2);  // vector 3, also masked on its own
  b.sleep(b.irq_latency() * 2);
  for (uint16_t v = 0; v < b.fn.num_vectors(); ++v) EXPECT_TRUE(b.msix_deliveries[v].empty()) << v;
  EXPECT_EQ(b.pba(), bit(1) | bit(3));
  // Toggling vector 1's own mask while the function is masked sends nothing.
  mask_vector(b, 1, true);
  mask_vector(b, 1, false);
  EXPECT_TRUE(b.msix_deliveries[1].empty()) << "function mask still set";
  EXPECT_EQ(b.pba(), bit(1) | bit(3));
  // Clearing the function mask sends vector 1; vector 3 stays pending.
  b.cfg_wr(kFlags, 2, PCI_MSIX_FLAGS_ENABLE);
  b.sleep(sc_core::SC_ZERO_TIME);
  EXPECT_EQ(b.msix_deliveries[1].size(), 1u);
  EXPECT_TRUE(b.msix_deliveries[3].empty());
  EXPECT_EQ(b.pba(), bit(3));
  mask_vector(b, 3, false);
  EXPECT_EQ(b.msix_deliveries[3].size(), 1u);
  EXPECT_EQ(b.pba(), 0u);
}

// PCI 6.8.2.3: in the MSI-X capability only Message Control's Enable and
// Function Mask bits are writable, and a write there touches nothing
// beyond it: a 2-byte write at its upper byte (0x87) sets Enable and
// leaves the Table Offset/BIR register after it as it was. (The function
// used to copy both bytes into a 2-byte local from its second byte on, one
// byte past its end: ASan reported a stack-buffer-overflow here.)
PCI_BENCH_TEST(PciMsix, MessageControlWriteTouchesOnlyItsBits) {
  const uint64_t table = b.cfg_rd(Bench::kMsixCap + PCI_MSIX_TABLE, 4);
  const uint64_t id_next = b.cfg_rd(Bench::kMsixCap, 2);
  b.cfg_wr(kFlags + 1, 2, (PCI_MSIX_FLAGS_ENABLE >> 8) | 0xff00);
  EXPECT_EQ(b.cfg_rd(kFlags, 2), PCI_MSIX_FLAGS_ENABLE | (kNumQueues + 0u));
  EXPECT_EQ(b.cfg_rd(Bench::kMsixCap + PCI_MSIX_TABLE, 4), table);
  b.cfg_wr(kFlags, 4, 0xffffffff);  // the table size is read-only, the register after it too
  EXPECT_EQ(b.cfg_rd(kFlags, 2), PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | kNumQueues);
  EXPECT_EQ(b.cfg_rd(Bench::kMsixCap + PCI_MSIX_TABLE, 4), table);
  EXPECT_EQ(b.cfg_rd(Bench::kMsixCap, 2), id_next);
}

// The table holds what the driver programs (message address and data per
// vector, PCI 6.8.2.6-8), 32 bits at a time, and vectors start masked.
PCI_BENCH_TEST(PciMsix, TableEntriesHoldAddressDataAndControl) {
  for (uint16_t v = 0; v < b.fn.num_vectors(); ++v)
    EXPECT_EQ(b.rd(b.msix_entry(v, PCI_MSIX_ENTRY_VECTOR_CTRL), 4), PCI_MSIX_ENTRY_CTRL_MASKBIT) << v;
  for (uint16_t v = 0; v < b.fn.num_vectors(); ++v) {
    b.wr(b.msix_entry(v, PCI_MSIX_ENTRY_LOWER_ADDR), 4, 0xfee00000u + 0x1000u * v);
    b.wr(b.msix_entry(v, PCI_MSIX_ENTRY_UPPER_ADDR), 4, v);
    b.wr(b.msix_entry(v, PCI_MSIX_ENTRY_DATA), 4, 0x4000u + v);
  }
  for (uint16_t v = 0; v < b.fn.num_vectors(); ++v) {
    EXPECT_EQ(b.rd(b.msix_entry(v, PCI_MSIX_ENTRY_LOWER_ADDR), 4), 0xfee00000u + 0x1000u * v);
    EXPECT_EQ(b.rd(b.msix_entry(v, PCI_MSIX_ENTRY_UPPER_ADDR), 4), v);
    EXPECT_EQ(b.rd(b.msix_entry(v, PCI_MSIX_ENTRY_DATA), 4), 0x4000u + v);
  }
}

// PCI 6.8.2: software accesses the MSI-X table and PBA with aligned DWORD
// or aligned QWORD transactions. A QWORD covers two fields (address low +
// high; data + vector control), and PBA bit N sits at bit N of the PBA,
// so the DWORD at PBA + 4 holds vectors 32-63.
PCI_BENCH_TEST(PciMsix, TableAndPbaAnswerQwordAndDwordAccesses) {
  b.bring_up(kDeviceFeatures);
  b.wr(b.msix_entry(1, PCI_MSIX_ENTRY_LOWER_ADDR), 8, 0x0000000a'fee01000ull);
  EXPECT_EQ(b.rd(b.msix_entry(1, PCI_MSIX_ENTRY_LOWER_ADDR), 4), 0xfee01000u);
  EXPECT_EQ(b.rd(b.msix_entry(1, PCI_MSIX_ENTRY_UPPER_ADDR), 4), 0xau);
  EXPECT_EQ(b.rd(b.msix_entry(1, PCI_MSIX_ENTRY_LOWER_ADDR), 8), 0x0000000a'fee01000ull);
  // Data and vector control in one QWORD: masking and unmasking work.
  b.wr(b.msix_entry(1, PCI_MSIX_ENTRY_DATA), 8, uint64_t{PCI_MSIX_ENTRY_CTRL_MASKBIT} << 32 | 0x51);
  EXPECT_EQ(b.rd(b.msix_entry(1, PCI_MSIX_ENTRY_DATA), 4), 0x51u);
  EXPECT_EQ(b.rd(b.msix_entry(1, PCI_MSIX_ENTRY_VECTOR_CTRL), 4), PCI_MSIX_ENTRY_CTRL_MASKBIT);
  EXPECT_EQ(b.rd(b.msix_entry(1, PCI_MSIX_ENTRY_DATA), 8),
            uint64_t{PCI_MSIX_ENTRY_CTRL_MASKBIT} << 32 | 0x51);
  b.fn.signal_queue(0);  // vector 1, masked
  b.sleep(b.irq_latency() + settle());
  EXPECT_TRUE(b.msix_deliveries[1].empty());
  EXPECT_EQ(b.rd(PciLayout::bar1 + PciLayout::msix_pba_off, 4), bit(1));
  EXPECT_EQ(b.rd(PciLayout::bar1 + PciLayout::msix_pba_off + 4, 4), 0u) << "vectors 32-63";
  b.wr(b.msix_entry(1, PCI_MSIX_ENTRY_DATA), 8, 0x51);
  EXPECT_EQ(b.msix_deliveries[1].size(), 1u);
  EXPECT_EQ(b.pba(), 0u);
}

}  // namespace
}  // namespace virtiosim::pci::test
