// The virtio-PCI function as a driver probes it (virtio 1.2, 4.1.2-4.1.4):
// identification, the capability list, BAR decoding of each structure,
// doorbells (notify capability, P12 notification data), the ISR, and what
// happens to accesses that hit no structure.
#include <cstddef>
#include <map>

#include "testbench/transport/pci/pci_bench.h"

namespace virtiosim::pci::test {
namespace {

// The address of a BAR as a driver decodes it from configuration space
// (64-bit memory BARs take two registers).
uint64_t bar_address(Bench& b, unsigned bar) {
  const uint64_t lo = b.cfg_rd(PCI_BASE_ADDRESS_0 + 4 * bar, 4);
  EXPECT_EQ(lo & PCI_BASE_ADDRESS_SPACE, PCI_BASE_ADDRESS_SPACE_MEMORY) << "BAR" << bar;
  uint64_t addr = lo & PCI_BASE_ADDRESS_MEM_MASK;
  if ((lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64)
    addr |= b.cfg_rd(PCI_BASE_ADDRESS_0 + 4 * (bar + 1), 4) << 32;
  return addr;
}

struct VirtioCap {
  uint8_t at = 0, len = 0, bar = 0;
  uint32_t offset = 0, length = 0;
};

// Walks the capability list from PCI_CAPABILITY_LIST as Linux's
// virtio_pci_modern probe does; returns vendor capabilities by cfg_type
// and the MSI-X capability's position.
struct CapWalk {
  std::map<uint8_t, VirtioCap> virtio;
  uint8_t msix = 0;
  int count = 0;
};
CapWalk walk(Bench& b) {
  CapWalk w;
  EXPECT_TRUE(b.cfg_rd(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
  uint8_t at = static_cast<uint8_t>(b.cfg_rd(PCI_CAPABILITY_LIST, 1));
  while (at != 0 && w.count < 48) {  // 48: more than fit in 256 bytes, so a loop fails the test
    ++w.count;
    EXPECT_GE(at, 0x40) << "capabilities sit after the standard header";
    EXPECT_EQ(at % 4, 0) << "capabilities are dword aligned";
    const uint8_t id = static_cast<uint8_t>(b.cfg_rd(at + PCI_CAP_LIST_ID, 1));
    if (id == PCI_CAP_ID_VNDR) {
      VirtioCap c;
      c.at = at;
      c.len = static_cast<uint8_t>(b.cfg_rd(at + VIRTIO_PCI_CAP_LEN, 1));
      c.bar = static_cast<uint8_t>(b.cfg_rd(at + VIRTIO_PCI_CAP_BAR, 1));
      c.offset = static_cast<uint32_t>(b.cfg_rd(at + VIRTIO_PCI_CAP_OFFSET, 4));
      c.length = static_cast<uint32_t>(b.cfg_rd(at + VIRTIO_PCI_CAP_LENGTH, 4));
      const auto type = static_cast<uint8_t>(b.cfg_rd(at + VIRTIO_PCI_CAP_CFG_TYPE, 1));
      EXPECT_EQ(w.virtio.count(type), 0u) << "one capability of each type";
      w.virtio[type] = c;
    } else if (id == PCI_CAP_ID_MSIX) {
      w.msix = at;
    }
    at = static_cast<uint8_t>(b.cfg_rd(at + PCI_CAP_LIST_NEXT, 1));
  }
  EXPECT_EQ(at, 0) << "the list ends";
  return w;
}

// 4.1.2: a modern virtio device is vendor 0x1af4, device 0x1040 + type,
// revision >= 1, and has a capability list.
PCI_BENCH_TEST(PciCapabilities, IdentifiesAsModernVirtioDevice) {
  EXPECT_EQ(b.cfg_rd(PCI_VENDOR_ID, 2), 0x1af4u);
  EXPECT_EQ(b.cfg_rd(PCI_DEVICE_ID, 2), 0x1040u + b.dev.device_id());
  EXPECT_GE(b.cfg_rd(PCI_REVISION_ID, 1), 1u);
  EXPECT_TRUE(b.cfg_rd(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
}

// 4.1.4: the list holds the common, notify, ISR and device-specific
// structures (each with a well-formed virtio_pci_cap) and MSI-X, and ends.
PCI_BENCH_TEST(PciCapabilities, ListWalksToEveryVirtioStructureAndMsix) {
  const CapWalk w = walk(b);
  EXPECT_EQ(w.count, 5);
  for (uint8_t type : {VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_CAP_ISR_CFG,
                       VIRTIO_PCI_CAP_DEVICE_CFG}) {
    ASSERT_EQ(w.virtio.count(type), 1u) << "cfg_type " << int(type);
    const VirtioCap& c = w.virtio.at(type);
    EXPECT_GE(c.len, sizeof(virtio_pci_cap));
    EXPECT_LE(c.bar, 5);  // 4.1.4: values 0x0 to 0x5 specify a BAR
    EXPECT_GT(c.length, 0u);
  }
  EXPECT_GE(w.virtio.at(VIRTIO_PCI_CAP_NOTIFY_CFG).len, sizeof(virtio_pci_notify_cap));
  EXPECT_NE(w.msix, 0);
  // 4.1.4.3: the common structure holds at least every field the driver uses.
  EXPECT_GE(w.virtio.at(VIRTIO_PCI_CAP_COMMON_CFG).length, VIRTIO_PCI_COMMON_Q_RESET + 2u);
  EXPECT_EQ(w.msix, Bench::kMsixCap);  // the other suites rely on this position
}

// 4.1.4: each capability's BAR + offset + length names a region that
// answers: common cfg reports num_queues, the device-specific region holds
// the device's config bytes, the ISR reads, the first doorbell accepts a
// write; the MSI-X table and PBA decode through their BIR (PCI 6.8.2).
PCI_BENCH_TEST(PciCapabilities, EachCapabilityPointsAtARegionThatAnswers) {
  const CapWalk w = walk(b);
  auto base = [&](uint8_t type) {
    const VirtioCap& c = w.virtio.at(type);
    return bar_address(b, c.bar) + c.offset;
  };
  ASSERT_EQ(w.virtio.size(), 4u);
  EXPECT_EQ(b.rd(base(VIRTIO_PCI_CAP_COMMON_CFG) + VIRTIO_PCI_COMMON_NUMQ, 2), kNumQueues);
  EXPECT_EQ(b.rd(base(VIRTIO_PCI_CAP_COMMON_CFG) + VIRTIO_PCI_COMMON_Q_SIZE, 2), kMaxQueueSize);
  const uint64_t dev = base(VIRTIO_PCI_CAP_DEVICE_CFG);
  EXPECT_GE(w.virtio.at(VIRTIO_PCI_CAP_DEVICE_CFG).length, b.dev.cfg.size());
  for (size_t i = 0; i < b.dev.cfg.size(); ++i) EXPECT_EQ(b.rd(dev + i, 1), b.dev.cfg[i]) << "byte " << i;
  EXPECT_EQ(b.rd(dev + 0, 4), 0x12005452u);  // multi-byte reads are little-endian
  EXPECT_EQ(b.rd(base(VIRTIO_PCI_CAP_ISR_CFG), 1), 0u);
  uint64_t v = 0;
  EXPECT_EQ(b.access(b.mmio_socket, true, base(VIRTIO_PCI_CAP_NOTIFY_CFG), 2, v), tlm::TLM_OK_RESPONSE);

  // MSI-X: table size N-1 in the flags; table and PBA through BIR.
  const auto flags = static_cast<uint16_t>(b.cfg_rd(w.msix + PCI_MSIX_FLAGS, 2));
  EXPECT_EQ((flags & PCI_MSIX_FLAGS_QSIZE) + 1u, kNumQueues + 1u);  // a vector per queue + config
  EXPECT_EQ(flags & (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL), 0u) << "disabled at reset";
  const auto table = static_cast<uint32_t>(b.cfg_rd(w.msix + PCI_MSIX_TABLE, 4));
  const auto pba = static_cast<uint32_t>(b.cfg_rd(w.msix + PCI_MSIX_PBA, 4));
  const uint64_t table_at = bar_address(b, table & PCI_MSIX_TABLE_BIR) + (table & PCI_MSIX_TABLE_OFFSET);
  const uint64_t pba_at = bar_address(b, pba & PCI_MSIX_PBA_BIR) + (pba & PCI_MSIX_PBA_OFFSET);
  for (uint16_t i = 0; i <= (flags & PCI_MSIX_FLAGS_QSIZE); ++i)
    EXPECT_EQ(b.rd(table_at + i * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL, 4) &
                  PCI_MSIX_ENTRY_CTRL_MASKBIT,
              1u)
        << "vector " << i << " masked at reset (PCI 6.8.2.9)";
  b.wr(table_at + PCI_MSIX_ENTRY_DATA, 4, 0x4321);
  EXPECT_EQ(b.rd(table_at + PCI_MSIX_ENTRY_DATA, 4), 0x4321u);
  EXPECT_EQ(b.rd(pba_at, 8), 0u);
}

// 4.1.4.4: notify_off_multiplier is an even power of 2 (or 0); queue q's
// doorbell is at cap.offset + queue_notify_off * multiplier, inside
// cap.length (+2 bytes, +4 with VIRTIO_F_NOTIFICATION_DATA); a 16-bit
// write of the queue index there reaches the device as notify(q, q)
// (4.1.5.2), after the access path's latency.
PCI_BENCH_TEST(PciCapabilities, EachQueueHasItsOwnDoorbell) {
  const CapWalk w = walk(b);
  const VirtioCap& n = w.virtio.at(VIRTIO_PCI_CAP_NOTIFY_CFG);
  const auto mult =
      static_cast<uint32_t>(b.cfg_rd(n.at + offsetof(virtio_pci_notify_cap, notify_off_multiplier), 4));
  EXPECT_TRUE(mult == 0 || ((mult & (mult - 1)) == 0 && (mult & 0x55555555u) == mult)) << mult;
  EXPECT_NE(mult, 0u) << "one doorbell per queue in this model";

  b.bring_up(kDeviceFeatures & ~bit(VIRTIO_F_NOTIFICATION_DATA));
  std::vector<uint64_t> bells;
  for (uint16_t q = 0; q < kNumQueues; ++q) {
    b.select(q);
    const auto off = static_cast<uint32_t>(b.c_rd(VIRTIO_PCI_COMMON_Q_NOFF, 2));
    EXPECT_LE(off * mult + 4, n.length) << "queue " << q;
    bells.push_back(bar_address(b, n.bar) + n.offset + off * mult);
    EXPECT_EQ(bells.back(), b.doorbell(q));
  }
  // Ring them in reverse order: each reaches the device with its own index.
  for (uint16_t q = kNumQueues; q-- > 0;) b.wr(bells[q], 2, q);
  b.sleep(b.doorbell_latency() + sc_core::sc_time(1, sc_core::SC_NS));
  ASSERT_EQ(b.dev.notifies.size(), size_t{kNumQueues});
  for (uint16_t i = 0; i < kNumQueues; ++i) {
    EXPECT_EQ(b.dev.notifies[i].queue, kNumQueues - 1 - i);
    EXPECT_EQ(b.dev.notifies[i].data, kNumQueues - 1u - i);  // no notification data: the index (4.1.5.2)
  }
  EXPECT_EQ(b.fn.stats().kicks, kNumQueues);
}

// A doorbell costs the vCPU the path's exit / posted write (returned as
// the TLM delay) and reaches the device after the path's doorbell latency
// (ARCHITECTURE: data flow step 3).
void doorbell_timing(Bench& b) {
  b.bring_up(kDeviceFeatures);
  sc_core::sc_time guest;
  uint64_t v = 1;
  const sc_core::sc_time t0 = sc_core::sc_time_stamp();
  EXPECT_EQ(b.access(b.mmio_socket, true, b.doorbell(1), 2, v, &guest), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(guest, sc_core::sc_time(b.fn.doorbell_guest_ns(), sc_core::SC_NS));
  const sc_core::sc_time arrive = t0 + guest + b.doorbell_latency();
  b.sleep(arrive - sc_core::sc_time_stamp() - sc_core::sc_time(1, sc_core::SC_NS));
  EXPECT_TRUE(b.dev.notifies.empty()) << "not before the path's latency";
  b.sleep(sc_core::sc_time(2, sc_core::SC_NS));
  ASSERT_EQ(b.dev.notifies.size(), 1u);
  EXPECT_EQ(b.dev.notifies[0].at, arrive);
  EXPECT_EQ(b.dev.notifies[0].queue, 1);
}
PCI_BENCH_TEST(PciCapabilities, DoorbellReachesDeviceAfterVhostLatency) { doorbell_timing(b); }
PCI_BENCH_TEST_WITH(PciCapabilities, DoorbellReachesDeviceAfterPcieLatency, BenchOptions{AccessPath::pcie}) {
  doorbell_timing(b);
}

// P12 / 4.1.5.2: with VIRTIO_F_NOTIFICATION_DATA the driver writes
// le32 {vqn:16, next_off:15, next_wrap:1}; the device receives all 32 bits
// for the queue whose doorbell was written.
PCI_BENCH_TEST(PciCapabilities, NotificationDataReachesDeviceWhenNegotiated) {
  b.bring_up(kDeviceFeatures);
  EXPECT_TRUE(b.dev.ok_features & bit(VIRTIO_F_NOTIFICATION_DATA));
  const uint32_t data = 2u | (77u << 16) | (1u << 31);  // queue 2, next_off 77, wrap 1
  b.wr(b.doorbell(2), 4, data);
  const uint32_t data0 = 0u | (300u << 16);  // queue 0, next_off 300, wrap 0
  b.wr(b.doorbell(0), 4, data0);
  b.sleep(b.doorbell_latency() + sc_core::sc_time(1, sc_core::SC_NS));
  ASSERT_EQ(b.dev.notifies.size(), 2u);
  EXPECT_EQ(b.dev.notifies[0].queue, 2);
  EXPECT_EQ(b.dev.notifies[0].data, data);
  EXPECT_EQ(b.dev.notifies[1].queue, 0);
  EXPECT_EQ(b.dev.notifies[1].data, data0);
}

// 3.1.1 / 2.1: the device does not act on the ring before DRIVER_OK; this
// model drops a doorbell that arrives before it (and after a reset).
PCI_BENCH_TEST(PciCapabilities, DoorbellBeforeDriverOkIsDropped) {
  b.negotiate(kDeviceFeatures);
  b.setup_queue(0, 64);
  b.wr(b.doorbell(0), 2, 0);
  b.sleep(b.doorbell_latency() * 2);
  EXPECT_TRUE(b.dev.notifies.empty());
  EXPECT_EQ(b.fn.stats().kicks, 1u);  // counted as written, not delivered
}

// 4.1.4.5: reading the ISR returns its bits and clears them; bit 0 is a
// queue interrupt, bit 1 a configuration change.
PCI_BENCH_TEST(PciCapabilities, IsrReadReturnsBitsAndClears) {
  b.bring_up(kDeviceFeatures);
  const uint64_t isr = PciLayout::bar0 + PciLayout::isr_off;
  EXPECT_EQ(b.rd(isr, 1), 0u);
  b.fn.signal_queue(1);
  EXPECT_EQ(b.rd(isr, 1), kIsrQueue);
  EXPECT_EQ(b.rd(isr, 1), 0u) << "read clears";
  b.fn.set_needs_reset();
  EXPECT_EQ(b.rd(isr, 1), VIRTIO_PCI_ISR_CONFIG);
  b.fn.signal_queue(0);
  b.fn.set_needs_reset();
  EXPECT_EQ(b.rd(isr, 1), kIsrQueue | VIRTIO_PCI_ISR_CONFIG);
  EXPECT_EQ(b.rd(isr, 1), 0u);
}

// IEEE 1666-2011 14.13 (data pointer attribute): for a write command the
// target reads the initiator's data array and leaves it as it was. A
// guest's write to any structure, read-only ones included, must not change
// the buffer it wrote from.
PCI_BENCH_TEST(PciCapabilities, WritesLeaveTheInitiatorsDataAlone) {
  b.bring_up(kDeviceFeatures);
  const uint64_t targets[] = {
      b.common(VIRTIO_PCI_COMMON_NUMQ),           // read-only common field
      PciLayout::bar0 + PciLayout::isr_off,       // ISR (read-only)
      PciLayout::bar0 + PciLayout::device_off,    // device-specific (read-only here)
      b.doorbell(0),                              // doorbell
      b.msix_entry(0, PCI_MSIX_ENTRY_DATA),       // MSI-X table
      PciLayout::bar1 + PciLayout::msix_pba_off,  // PBA (read-only)
  };
  for (uint64_t addr : targets) {
    uint8_t buf[4] = {0x11, 0x22, 0x33, 0x44};
    tlm::tlm_generic_payload t;
    t.set_write();
    t.set_address(addr);
    t.set_data_ptr(buf);
    t.set_data_length(sizeof buf);
    t.set_streaming_width(sizeof buf);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    b.mmio_socket->b_transport(t, delay);
    EXPECT_TRUE(t.is_response_ok()) << std::hex << addr;
    EXPECT_EQ(buf[0], 0x11) << std::hex << addr;
    EXPECT_EQ(buf[3], 0x44) << std::hex << addr;
    b.sleep(delay);
  }
}

// ARCHITECTURE "bad input is a result, not a crash": accesses that hit no
// structure complete with an error response (or are ignored where the
// code defines so) and leave the function working.
PCI_BENCH_TEST(PciCapabilities, AccessesOutsideAnyStructureAreAnsweredNotFatal) {
  b.bring_up(kDeviceFeatures);
  uint64_t v = 0;
  auto mmio = [&](bool write, uint64_t addr, unsigned len) {
    v = 0xa5a5a5a5;
    return b.access(b.mmio_socket, write, addr, len, v);
  };
  using tlm::TLM_ADDRESS_ERROR_RESPONSE;
  // Outside both BARs, or straddling the end of one.
  EXPECT_EQ(mmio(false, 0x1000, 4), TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(mmio(true, PciLayout::bar0 - 4, 4), TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(mmio(false, PciLayout::bar0 + PciLayout::bar0_len - 2, 4), TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(mmio(true, PciLayout::bar1 + PciLayout::bar1_len, 4), TLM_ADDRESS_ERROR_RESPONSE);
  // Holes in BAR0 between the structures.
  EXPECT_EQ(mmio(false, PciLayout::bar0 + PciLayout::common_off + PciLayout::common_len, 4),
            TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(mmio(true, PciLayout::bar0 + PciLayout::isr_off + 0x100, 4), TLM_ADDRESS_ERROR_RESPONSE);
  // A read of a doorbell, a doorbell past the last queue: errors, and the
  // device hears nothing.
  EXPECT_EQ(mmio(false, b.doorbell(0), 2), TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(mmio(true, b.doorbell(kNumQueues), 2), TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(mmio(true, PciLayout::bar0 + PciLayout::bar0_len - 2, 2), TLM_ADDRESS_ERROR_RESPONSE);
  // Zero or oversized accesses.
  EXPECT_EQ(mmio(false, b.common(VIRTIO_PCI_COMMON_STATUS), 0), tlm::TLM_BURST_ERROR_RESPONSE);
  EXPECT_EQ(mmio(true, b.common(VIRTIO_PCI_COMMON_STATUS), 16), tlm::TLM_BURST_ERROR_RESPONSE);
  // BAR1 between the table and the PBA, and writes to the PBA: accepted
  // and without effect.
  EXPECT_EQ(mmio(true, PciLayout::bar1 + 0x400, 4), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(mmio(true, PciLayout::bar1 + PciLayout::msix_pba_off, 8), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(b.pba(), 0u);
  // Writes to the read-only device-specific region change nothing.
  EXPECT_EQ(mmio(true, PciLayout::bar0 + PciLayout::device_off, 4), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(b.rd(PciLayout::bar0 + PciLayout::device_off, 1), b.dev.cfg[0]);
  // Configuration space: past 256 bytes or wider than a dword is an error;
  // read-only registers ignore writes.
  EXPECT_EQ(b.access(b.config_socket, false, 0xfe, 4, v), TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(b.access(b.config_socket, false, 0x100, 1, v), TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(b.access(b.config_socket, false, 0x10, 8, v), TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(b.access(b.config_socket, false, 0x10, 0, v), TLM_ADDRESS_ERROR_RESPONSE);
  b.cfg_wr(PCI_VENDOR_ID, 4, 0xffffffff);
  b.cfg_wr(PCI_BASE_ADDRESS_0, 4, 0xffffffff);
  b.cfg_wr(PCI_CAPABILITY_LIST, 1, 0);
  EXPECT_EQ(b.cfg_rd(PCI_VENDOR_ID, 2), 0x1af4u);
  EXPECT_EQ(bar_address(b, 0), PciLayout::bar0);
  EXPECT_EQ(walk(b).count, 5);

  // Nothing of that reached the device or disturbed the function.
  b.sleep(b.doorbell_latency() * 2);
  EXPECT_TRUE(b.dev.notifies.empty());
  EXPECT_EQ(b.c_rd(VIRTIO_PCI_COMMON_NUMQ, 2), kNumQueues);
  EXPECT_TRUE(b.status() & VIRTIO_CONFIG_S_DRIVER_OK);
  b.wr(b.doorbell(1), 2, 1);
  b.sleep(b.doorbell_latency() * 2);
  EXPECT_EQ(b.dev.notifies.size(), 1u);
}

}  // namespace
}  // namespace virtiosim::pci::test
