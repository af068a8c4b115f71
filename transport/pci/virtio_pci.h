// A virtio-PCI modern function (virtio 1.2, 4.1): PCI configuration space
// with the vendor capabilities (common, notify, ISR, device-specific) and
// an MSI-X capability, BAR0 holding those structures, BAR1 the MSI-X table
// and PBA. MMIO reaches it through a TLM-2.0 target socket (absolute
// addresses, decoded against the BARs), configuration space through
// another. Doorbells and interrupts take the latency of the chosen access
// path:
//   vhost  a software device on a host core: doorbell = KVM ioeventfd
//          wake-up of the vhost thread; interrupt = irqfd injection;
//   pcie   a hardware device: posted MMIO writes and MSI-X writes as TLPs.
#pragma once

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/param.h"
#include "transport/pci/virtio_if.h"

namespace virtiosim::pci {

// How the driver and the device reach each other:
//   vhost: the driver in a guest, software vhost on a host core (KVM exits);
//   pcie:  the driver in a guest, a PCIe device (device assignment);
//   user:  the driver is a host process (DPDK virtio-user) talking to
//          software vhost on another core: no VM exits, a kick is an
//          eventfd write.
enum class AccessPath : uint8_t { vhost, pcie, user };
const char* name(AccessPath p);
bool parse_access_path(const std::string& text, AccessPath& out);

#define VIRTIOSIM_PCI_PARAMS(X)                                                              \
  X(double, vhost_mmio_ns, 5000.0, "ns",                                                     \
    "vhost: trapped config MMIO, VM exit to the VMM and back (~5 us, KVM + QEMU userspace exit)") \
  X(double, vhost_kick_ns, 2500.0, "ns",                                                     \
    "vhost: kick (doorbell write) to vhost worker running: VM exit + ioeventfd + thread wake-up (~2-3 us)") \
  X(double, vhost_kick_guest_ns, 1200.0, "ns",                                               \
    "vhost: guest vCPU time lost to the kick's VM exit (~1.2 us exit/entry round trip)")     \
  X(double, vhost_interrupt_ns, 2000.0, "ns",                                                \
    "vhost: irqfd signal to guest handler running (~2 us with interrupt injection)")         \
  X(double, pcie_mmio_write_ns, 300.0, "ns",                                                 \
    "pcie: posted MMIO write reaching the device (root complex + link, ~300 ns)")            \
  X(double, pcie_mmio_read_ns, 900.0, "ns",                                                  \
    "pcie: non-posted MMIO read round trip (~0.9 us, typical Gen3 x8 measurements)")         \
  X(double, pcie_kick_guest_ns, 100.0, "ns",                                                 \
    "pcie: vCPU cost of a kick, a posted doorbell write (no exit with device assignment)")   \
  X(double, pcie_interrupt_ns, 1000.0, "ns",                                                 \
    "pcie: MSI-X write to guest handler running (~1 us with posted interrupts)")            \
  X(double, user_config_ns, 100.0, "ns",                                                     \
    "user: a config access is a call into virtio-user in the same process (no exit)")       \
  X(double, user_kick_caller_ns, 300.0, "ns",                                                \
    "user: the caller's cost of a kick, one eventfd write(2) (~0.3 us on bare metal; 2.4-2.9 us measured in this project's sandboxed CI VM)") \
  X(double, user_kick_ns, 1300.0, "ns",                                                      \
    "user: eventfd write to vhost worker running (vhost_kick_ns without the VM exit round trip of vhost_kick_guest_ns)")

struct PciParams {
  VIRTIOSIM_PCI_PARAMS(VIRTIOSIM_PARAM_FIELD)
  template <class F>
  void visit(F&& f) {
    VIRTIOSIM_PCI_PARAMS(VIRTIOSIM_PARAM_VISIT)
  }
};

// Where the structures sit (the driver learns it from the capabilities).
struct PciLayout {
  static constexpr uint64_t bar0 = 0xfe000000;  // BAR0: virtio structures
  static constexpr uint64_t bar1 = 0xfe100000;  // BAR1: MSI-X table and PBA
  static constexpr uint32_t common_off = 0x0000, common_len = 0x40;
  static constexpr uint32_t isr_off = 0x1000, isr_len = 4;
  static constexpr uint32_t device_off = 0x2000, device_len = 0x100;
  static constexpr uint32_t notify_off = 0x3000;
  static constexpr uint32_t notify_multiplier = 4;  // bytes between queue doorbells
  static constexpr uint32_t bar0_len = 0x4000;
  static constexpr uint32_t msix_table_off = 0x0, msix_pba_off = 0x800, bar1_len = 0x1000;
};

struct PciStats {
  uint64_t mmio_reads = 0, mmio_writes = 0;
  uint64_t kicks = 0;  // doorbell writes
  uint64_t interrupts = 0;        // MSI-X messages sent
  uint64_t interrupts_masked = 0; // held pending because the vector was masked
};

// The function is the device's transport (VirtioTransportIf); it reaches
// the device through VirtioDeviceIf and the driver's interrupt handling
// through `msi`.
class VirtioPciFunction : public sc_core::sc_module, public VirtioTransportIf {
 public:
  SC_HAS_PROCESS(VirtioPciFunction);
  tlm_utils::simple_target_socket<VirtioPciFunction> mmio;    // BAR0 and BAR1, absolute addresses
  tlm_utils::simple_target_socket<VirtioPciFunction> config;  // configuration space, offsets 0..255
  sc_core::sc_port<MsiSinkIf> msi;                            // MSI-X messages, to the driver

  VirtioPciFunction(sc_core::sc_module_name name, VirtioDeviceIf& device, AccessPath path, PciParams p = {});

  // VirtioTransportIf. signal_queue raises the queue's MSI-X vector after
  // the path's latency; after queue_reset_done the driver reads
  // queue_reset as 0.
  void signal_queue(uint16_t queue) override;
  void queue_reset_done(uint16_t queue) override;
  void set_needs_reset() override;

  // Transport events per queue, for observers. The function itself reports
  // a kick as the driver writes it (kick_sent), an MSI-X message as it is
  // sent (interrupt_delivered), a queue reset complete and the queue
  // enabled again (P15). The device-side ends, a kick delivered to the
  // device (kick_delivered) and a queue interrupt as the device raises it
  // (interrupt_sent), are seen where the device is bound (sim/).
  using Event = TransportEvent;
  using EventSink = std::function<void(Event e, uint16_t queue)>;
  void on_event(EventSink sink) { event_ = std::move(sink); }
  // MSI-X table entries: one per queue and one for configuration changes (last).
  uint16_t num_vectors() const { return static_cast<uint16_t>(msix_.size()); }

  // The guest-side cost of a doorbell write (the vCPU is held this long).
  double doorbell_guest_ns() const;
  double doorbell_arrive_ns() const;  // the kick reaches the device this long after it was sent
  double interrupt_ns() const;        // a queue interrupt reaches the driver this long after it was raised
  uint8_t device_status() const { return status_; }
  bool needs_reset() const;
  const PciStats& stats() const { return stats_; }
  AccessPath path() const { return path_; }

 private:
  void b_transport_mmio(tlm::tlm_generic_payload& t, sc_core::sc_time& delay);
  void b_transport_config(tlm::tlm_generic_payload& t, sc_core::sc_time& delay);
  uint64_t read_common(uint32_t off, unsigned len);
  void write_common(uint32_t off, unsigned len, uint64_t v);
  void write_status(uint8_t v);
  void deliver_doorbells();
  void deliver_interrupts();
  void send_msix(uint16_t vector);
  struct PathCosts {
    double mmio_read_ns, mmio_write_ns;  // a config / common-structure access
    double kick_caller_ns;               // the driver's CPU held by a doorbell write
    double kick_arrive_ns;               // doorbell written -> device told
    double interrupt_ns;                 // interrupt raised -> driver's handler running
  };
  PathCosts path_costs() const;
  double mmio_ns(bool write) const;
  void build_config_space();

  VirtioDeviceIf& device_;
  AccessPath path_;
  PciParams p_;
  EventSink event_;
  std::vector<uint8_t> cfg_;  // 256 bytes of PCI configuration space
  // Common configuration state.
  uint32_t device_feature_select_ = 0, driver_feature_select_ = 0;
  uint64_t driver_features_ = 0;
  uint16_t msix_config_ = 0xffff;
  uint8_t status_ = 0;
  uint8_t config_generation_ = 0;
  uint16_t queue_select_ = 0;
  std::vector<QueueConfig> queues_;
  enum class QueueReset : uint8_t { none, in_progress, done };  // P15, per queue
  std::vector<QueueReset> queue_reset_;
  uint8_t isr_ = 0;
  // MSI-X table: address, data, vector control (bit 0 = masked), pending.
  struct MsixEntry {
    uint64_t addr = 0;
    uint32_t data = 0;
    uint32_t control = 1;  // masked at reset (PCI spec)
    bool pending = false;
  };
  std::vector<MsixEntry> msix_;
  bool msix_enabled_ = false;
  // In-flight doorbells and interrupts, in arrival order (latency is fixed
  // per path, so FIFO is arrival order).
  struct Doorbell {
    sc_core::sc_time at;
    uint16_t queue;
    uint32_t data;
  };
  std::deque<Doorbell> doorbells_;
  sc_core::sc_event doorbell_ev_;
  std::deque<std::pair<sc_core::sc_time, uint16_t>> irqs_;
  sc_core::sc_event irq_ev_;
  PciStats stats_;
};

}  // namespace virtiosim::pci
