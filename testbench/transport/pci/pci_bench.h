// A bench for the virtio-PCI modern function: the function under test, a
// fake device behind VirtioDeviceIf that records what reaches it, and a
// driver side that talks to the function only as a guest would, through
// its two TLM sockets (configuration space, and MMIO on the BARs).
//
// A SystemC kernel elaborates once per process, so every test runs its
// scenario in a forked child (EXPECT_EXIT): PCI_BENCH_TEST(Suite, Name)
// { body } defines a test whose body runs as the driver's SC_THREAD with
// `b` the bench; the child exits 0 only if no expectation failed.
#pragma once

#include <gtest/gtest.h>
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <tlm_utils/simple_initiator_socket.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <systemc>
#include <tlm>
#include <vector>

#include "models/ring/features.h"  // VIRTIO_F_NOTIFICATION_DATA where the uapi header lacks it
#include "testbench/sc_scenario.h"
#include "transport/pci/virtio_pci.h"

namespace virtiosim::pci::test {

constexpr uint64_t bit(unsigned b) { return uint64_t{1} << b; }

// What the fake device offers: VERSION_1, RING_PACKED, RING_RESET (P15),
// NOTIFICATION_DATA (P12) and virtio-net's MAC feature; three queues.
constexpr uint64_t kDeviceFeatures = bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_RING_PACKED) |
                                     bit(VIRTIO_F_RING_RESET) | bit(VIRTIO_F_NOTIFICATION_DATA) |
                                     bit(5) /* VIRTIO_NET_F_MAC */;
constexpr uint16_t kNumQueues = 3;
constexpr uint16_t kMaxQueueSize = 256;
constexpr uint16_t kNoVector = VIRTIO_MSI_NO_VECTOR;
// A waiter that wakes at the same instant as a delivery may run before it
// (delta order); waiting this much longer sees it.
inline sc_core::sc_time settle() { return sc_core::sc_time(1, sc_core::SC_NS); }
constexpr uint8_t kIsrQueue = 0x1;  // ISR bit 0: queue interrupt (4.1.4.5)

// A device that records every call the transport makes.
struct FakeDevice : VirtioDeviceIf {
  struct Notify {
    uint16_t queue;
    uint32_t data;
    sc_core::sc_time at;
  };
  std::vector<uint8_t> cfg{0x52, 0x54, 0x00, 0x12, 0x34,
                           0x56, 0x01, 0x00, 0xdc, 0x05};  // mac, status, mtu...
  std::vector<Notify> notifies;
  int resets = 0;
  int driver_oks = 0;
  uint64_t ok_features = 0;
  std::vector<QueueConfig> ok_queues;
  std::vector<uint16_t> queue_resets;
  std::vector<std::pair<uint16_t, QueueConfig>> enabled;

  uint16_t device_id() const override { return 1; }  // net
  uint64_t device_features() const override { return kDeviceFeatures; }
  uint16_t num_queues() const override { return kNumQueues; }
  uint16_t max_queue_size() const override { return kMaxQueueSize; }
  std::vector<uint8_t> config_space() const override { return cfg; }
  void driver_ok(uint64_t features, const std::vector<QueueConfig>& queues) override {
    ++driver_oks;
    ok_features = features;
    ok_queues = queues;
  }
  void notify(uint16_t queue, uint32_t data) override {
    notifies.push_back({queue, data, sc_core::sc_time_stamp()});
  }
  void reset() override { ++resets; }
  void reset_queue(uint16_t queue) override { queue_resets.push_back(queue); }
  void enable_queue(uint16_t queue, const QueueConfig& config) override {
    enabled.emplace_back(queue, config);
  }
};

struct BenchOptions {
  AccessPath path = AccessPath::vhost;
};

// The driver's MSI-X end: when each vector's messages arrived.
struct MsiRecorder : MsiSinkIf {
  std::vector<std::vector<sc_core::sc_time>> deliveries;  // per vector
  void msi(uint16_t vector) override { deliveries.at(vector).push_back(sc_core::sc_time_stamp()); }
};

class Bench : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Bench);
  FakeDevice dev;
  VirtioPciFunction fn;
  tlm_utils::simple_initiator_socket<Bench> mmio_socket{"mmio_socket"};
  tlm_utils::simple_initiator_socket<Bench> config_socket{"config_socket"};
  MsiRecorder msis;
  std::vector<std::vector<sc_core::sc_time>>& msix_deliveries = msis.deliveries;

  Bench(sc_core::sc_module_name n, std::function<void(Bench&)> body, BenchOptions opt)
      : sc_module(n), fn("fn", dev, opt.path), body_(std::move(body)) {
    mmio_socket.bind(fn.mmio);
    config_socket.bind(fn.config);
    fn.msi.bind(msis);
    msix_deliveries.resize(fn.num_vectors());
    SC_THREAD(run);
  }

  // The driver thread lets simulated time pass.
  void sleep(const sc_core::sc_time& t) { wait(t); }

  // One transaction as an LT initiator: the caller's thread waits out the
  // returned delay, so simulated time advances as the guest's would.
  tlm::tlm_response_status access(tlm_utils::simple_initiator_socket<Bench>& s, bool write, uint64_t addr,
                                  unsigned len, uint64_t& value, sc_core::sc_time* delay_out = nullptr) {
    uint8_t buf[16] = {};
    if (write) std::memcpy(buf, &value, std::min<unsigned>(len, 8));
    tlm::tlm_generic_payload t;
    t.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    t.set_address(addr);
    t.set_data_ptr(buf);
    t.set_data_length(len);
    t.set_streaming_width(len);
    t.set_byte_enable_ptr(nullptr);
    t.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    s->b_transport(t, delay);
    if (delay_out) *delay_out = delay;
    wait(delay);
    if (!write) {
      value = 0;
      std::memcpy(&value, buf, std::min<unsigned>(len, 8));
    }
    return t.get_response_status();
  }

  // MMIO at an absolute address, or configuration space at an offset; the
  // access must succeed.
  uint64_t rd(uint64_t addr, unsigned len) { return must(mmio_socket, false, addr, len, 0, "read"); }
  void wr(uint64_t addr, unsigned len, uint64_t v) { must(mmio_socket, true, addr, len, v, "write"); }
  uint64_t cfg_rd(uint64_t off, unsigned len) { return must(config_socket, false, off, len, 0, "config read"); }
  void cfg_wr(uint64_t off, unsigned len, uint64_t v) { must(config_socket, true, off, len, v, "config write"); }
  uint64_t must(tlm_utils::simple_initiator_socket<Bench>& s, bool write, uint64_t addr, unsigned len, uint64_t v,
                const char* what) {
    EXPECT_EQ(access(s, write, addr, len, v), tlm::TLM_OK_RESPONSE) << what << " 0x" << std::hex << addr;
    return v;
  }

  // Common configuration (virtio_pci_common_cfg), at the fixed layout;
  // PciCapabilities checks that the capabilities point there.
  static uint64_t common(uint32_t field) { return PciLayout::bar0 + PciLayout::common_off + field; }
  uint64_t c_rd(uint32_t field, unsigned len) { return rd(common(field), len); }
  void c_wr(uint32_t field, unsigned len, uint64_t v) { wr(common(field), len, v); }
  uint8_t status() { return static_cast<uint8_t>(c_rd(VIRTIO_PCI_COMMON_STATUS, 1)); }
  void set_status(uint8_t s) { c_wr(VIRTIO_PCI_COMMON_STATUS, 1, s); }
  void select(uint16_t q) { c_wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, q); }
  uint64_t doorbell(uint16_t q) {
    return PciLayout::bar0 + PciLayout::notify_off + q * PciLayout::notify_multiplier;
  }
  uint64_t msix_entry(uint16_t v, uint32_t field) {
    return PciLayout::bar1 + PciLayout::msix_table_off + v * PCI_MSIX_ENTRY_SIZE + field;
  }
  uint64_t pba() { return rd(PciLayout::bar1 + PciLayout::msix_pba_off, 8); }

  // Driver initialisation (virtio 1.2, 3.1.1) up to FEATURES_OK.
  void negotiate(uint64_t features) {
    set_status(0);
    set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE);
    set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    for (uint32_t sel = 0; sel < 2; ++sel) {
      c_wr(VIRTIO_PCI_COMMON_GFSELECT, 4, sel);
      c_wr(VIRTIO_PCI_COMMON_GF, 4, (features >> (32 * sel)) & 0xffffffff);
    }
    set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
  }
  // Queue q's addresses as this bench assigns them (distinct per queue and
  // above 4 GiB, so both halves of every field matter).
  static uint64_t desc_addr(uint16_t q) { return 0x1'0000'0000ull + q * 0x10000ull; }
  static uint64_t driver_addr(uint16_t q) { return 0x2'0000'4000ull + q * 0x10000ull; }
  static uint64_t device_addr(uint16_t q) { return 0x3'0000'8000ull + q * 0x10000ull; }
  void write_queue_addrs(uint64_t desc, uint64_t driver, uint64_t device) {
    c_wr(VIRTIO_PCI_COMMON_Q_DESCLO, 4, desc & 0xffffffff);
    c_wr(VIRTIO_PCI_COMMON_Q_DESCHI, 4, desc >> 32);
    c_wr(VIRTIO_PCI_COMMON_Q_AVAILLO, 4, driver & 0xffffffff);
    c_wr(VIRTIO_PCI_COMMON_Q_AVAILHI, 4, driver >> 32);
    c_wr(VIRTIO_PCI_COMMON_Q_USEDLO, 4, device & 0xffffffff);
    c_wr(VIRTIO_PCI_COMMON_Q_USEDHI, 4, device >> 32);
  }
  uint64_t q_desc() {
    return c_rd(VIRTIO_PCI_COMMON_Q_DESCLO, 4) | c_rd(VIRTIO_PCI_COMMON_Q_DESCHI, 4) << 32;
  }
  uint64_t q_driver() {
    return c_rd(VIRTIO_PCI_COMMON_Q_AVAILLO, 4) | c_rd(VIRTIO_PCI_COMMON_Q_AVAILHI, 4) << 32;
  }
  uint64_t q_device() {
    return c_rd(VIRTIO_PCI_COMMON_Q_USEDLO, 4) | c_rd(VIRTIO_PCI_COMMON_Q_USEDHI, 4) << 32;
  }
  // Configure and enable queue q with `size` entries and MSI-X vector q + 1
  // (vector 0 is the configuration vector, as Linux assigns them).
  void setup_queue(uint16_t q, uint16_t size) {
    select(q);
    c_wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
    write_queue_addrs(desc_addr(q), driver_addr(q), device_addr(q));
    c_wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, q + 1u);
    c_wr(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
  }
  // MSI-X on, function unmasked, every vector unmasked.
  void enable_msix() {
    cfg_wr(kMsixCap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
    for (uint16_t v = 0; v < fn.num_vectors(); ++v) {
      wr(msix_entry(v, PCI_MSIX_ENTRY_LOWER_ADDR), 4, 0xfee00000);
      wr(msix_entry(v, PCI_MSIX_ENTRY_DATA), 4, 0x40 + v);
      wr(msix_entry(v, PCI_MSIX_ENTRY_VECTOR_CTRL), 4, 0);
    }
  }
  // The whole initialisation: features, every queue, MSI-X, DRIVER_OK.
  void bring_up(uint64_t features, uint16_t size = 128) {
    negotiate(features);
    c_wr(VIRTIO_PCI_COMMON_MSIX, 2, 0);
    for (uint16_t q = 0; q < kNumQueues; ++q) setup_queue(q, size);
    enable_msix();
    set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
               VIRTIO_CONFIG_S_DRIVER_OK);
  }

  // Where the MSI-X capability sits (found by walking the list in
  // PciCapabilities; the other tests use the constant).
  static constexpr uint8_t kMsixCap = 0x84;

  sc_core::sc_time doorbell_latency() const {
    const PciParams p;
    return sc_core::sc_time(fn.path() == AccessPath::vhost ? p.vhost_kick_ns : p.pcie_mmio_write_ns,
                            sc_core::SC_NS);
  }
  sc_core::sc_time irq_latency() const {
    const PciParams p;
    return sc_core::sc_time(fn.path() == AccessPath::vhost ? p.vhost_interrupt_ns : p.pcie_interrupt_ns, sc_core::SC_NS);
  }

 private:
  void run() {
    body_(*this);
    sc_core::sc_stop();
  }
  std::function<void(Bench&)> body_;
};

// Runs one scenario in this (forked) process and exits (testbench/sc_scenario.h).
inline void run_bench(const std::function<void(Bench&)>& body, BenchOptions opt = {}) {
  ::virtiosim::test::run_scenario([&] {
    Bench bench("bench", body, opt);
    sc_core::sc_start();
  });
}

}  // namespace virtiosim::pci::test

// A test whose body runs as the guest driver's thread in its own kernel.
#define PCI_BENCH_TEST_WITH(Suite, Name, Options)                                   \
  static void Suite##_##Name##_body(::virtiosim::pci::test::Bench& b);              \
  TEST(Suite, Name) {                                                               \
    EXPECT_EXIT(::virtiosim::pci::test::run_bench(&Suite##_##Name##_body, Options), \
                ::testing::ExitedWithCode(0), "");                                  \
  }                                                                                 \
  static void Suite##_##Name##_body([[maybe_unused]] ::virtiosim::pci::test::Bench& b)
#define PCI_BENCH_TEST(Suite, Name) PCI_BENCH_TEST_WITH(Suite, Name, ::virtiosim::pci::test::BenchOptions{})
