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
#include "transport/pci/virtio_device_if.h"

namespace virtiosim::pci {

enum class AccessPath : uint8_t { vhost, pcie };
const char* name(AccessPath p);
bool parse_access_path(const std::string& text, AccessPath& out);

#define VIRTIOSIM_PCI_PARAMS(X)                                                              \
  X(double, vhost_mmio_ns, 5000.0, "ns",                                                     \
    "vhost: trapped config MMIO, VM exit to the VMM and back (~5 us, KVM + QEMU userspace exit)") \
  X(double, vhost_doorbell_ns, 2500.0, "ns",                                                 \
    "vhost: doorbell to vhost worker running: VM exit + ioeventfd + thread wake-up (~2-3 us)") \
  X(double, vhost_doorbell_guest_ns, 1200.0, "ns",                                           \
    "vhost: guest vCPU time lost to the doorbell VM exit (~1.2 us exit/entry round trip)") \
  X(double, vhost_irq_ns, 2000.0, "ns",                                                      \
    "vhost: irqfd signal to guest handler running (~2 us with interrupt injection)")         \
  X(double, pcie_mmio_write_ns, 300.0, "ns",                                                 \
    "pcie: posted MMIO write reaching the device (root complex + link, ~300 ns)")            \
  X(double, pcie_mmio_read_ns, 900.0, "ns",                                                  \
    "pcie: non-posted MMIO read round trip (~0.9 us, typical Gen3 x8 measurements)")         \
  X(double, pcie_doorbell_guest_ns, 100.0, "ns",                                             \
    "pcie: vCPU cost of a posted doorbell write (no exit with device assignment)")           \
  X(double, pcie_irq_ns, 1000.0, "ns",                                                       \
    "pcie: MSI-X write to guest handler running (~1 us with posted interrupts)")

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
  static constexpr uint16_t vendor_id = 0x1af4;      // Red Hat, Inc. (virtio)
  static constexpr uint16_t device_id_base = 0x1040; // modern virtio: 0x1040 + device type
};

// Fault injection (every Nth; 0: none). A delayed doorbell or interrupt
// also holds back those behind it: posted writes and MSI-X messages do not
// pass each other.
struct PciFaults {
  uint32_t lose_doorbell_every = 0;
  uint32_t lose_irq_every = 0;
  uint32_t corrupt_notify_data_every = 0;  // every Nth doorbell's data names the neighbouring queue (P12)
  uint32_t delay_doorbell_every = 0;
  uint32_t delay_irq_every = 0;
  double delay_ns = 0;  // added to the delayed ones' latency
};

struct PciStats {
  uint64_t mmio_reads = 0, mmio_writes = 0;
  uint64_t doorbells = 0;
  uint64_t doorbells_lost = 0;   // fault injection
  uint64_t doorbells_corrupted = 0;  // fault injection
  uint64_t interrupts = 0;       // MSI-X messages sent
  uint64_t interrupts_lost = 0;  // fault injection
  uint64_t doorbells_delayed = 0, interrupts_delayed = 0;  // fault injection
  uint64_t interrupts_masked = 0;// held pending because the vector was masked
};

class VirtioPciFunction : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(VirtioPciFunction);
  tlm_utils::simple_target_socket<VirtioPciFunction> mmio;    // BAR0 and BAR1, absolute addresses
  tlm_utils::simple_target_socket<VirtioPciFunction> config;  // configuration space, offsets 0..255

  VirtioPciFunction(sc_core::sc_module_name name, VirtioDeviceIf& device, AccessPath path,
                    PciParams p = {}, PciFaults faults = {});

  // Device side: raise the interrupt of `queue` (its MSI-X vector) after
  // the path's latency.
  void signal_queue(uint16_t queue);
  // Device side: the queue reset the driver asked for is complete; the
  // driver reads queue_reset as 0 from now on.
  void queue_reset_done(uint16_t queue);

  // Transport events per queue, for observers: every notification as it is
  // sent (a doorbell the driver writes, a queue interrupt the device
  // raises, before any fault acts on it) and as it is delivered (to the
  // device; as an MSI-X message to the driver); a queue reset complete and
  // the queue enabled again (P15).
  enum class Event : uint8_t { kick_sent, kick_delivered, interrupt_sent, interrupt_delivered, queue_reset, queue_enabled };
  using EventSink = std::function<void(Event e, uint16_t queue)>;
  void on_event(EventSink sink) { event_ = std::move(sink); }
  // Driver side: fires when MSI-X `vector` is delivered.
  const sc_core::sc_event& msix_event(uint16_t vector) const { return *msix_events_.at(vector); }
  uint16_t num_vectors() const { return static_cast<uint16_t>(msix_events_.size()); }

  // The guest-side cost of a doorbell write (the vCPU is held this long).
  double doorbell_guest_ns() const;
  uint8_t device_status() const { return status_; }
  bool needs_reset() const;
  // The device reports an error it cannot recover from (NEEDS_RESET).
  void set_needs_reset();
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
  double mmio_ns(bool write) const;
  void build_config_space();

  VirtioDeviceIf& device_;
  AccessPath path_;
  PciParams p_;
  PciFaults faults_;
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
  std::vector<std::unique_ptr<sc_core::sc_event>> msix_events_;
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
  uint64_t irqs_raised_ = 0;  // queue interrupts raised (the delay fault counts these)
  sc_core::sc_event irq_ev_;
  PciStats stats_;
};

}  // namespace virtiosim::pci
