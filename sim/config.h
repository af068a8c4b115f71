// One Config holds every parameter of a simulation: the run's shape
// (ring, queue size, packets, features, modes), the fault plan, the
// monitor's settings and every model's latency and cost parameters. Each
// has a key, a unit, a default and a one-line reason, declared once where
// it belongs (VIRTIOSIM_RUN_PARAMS here, VIRTIOSIM_FAULT_PARAMS in
// sim/faults, VIRTIOSIM_MONITOR_PARAMS in sim/check, VIRTIOSIM_*_PARAMS in
// each model); `virtiosim params`, JSON config files, --set, Python and the
// report echo all walk the same table.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "models/device/device_memory.h"
#include "models/device/vhost_net.h"
#include "models/driver/net_driver.h"
#include "models/memory/agent_clock.h"
#include "models/memory/memory_model.h"
#include "models/ring/virtqueue.h"
#include "models/net/frame.h"
#include "sim/check/monitor_params.h"
#include "sim/config_error.h"
#include "sim/faults/fault_plan.h"
#include "transport/pci/virtio_pci.h"

namespace virtiosim::sim {

// The run's shape: layout, sizes, features, modes. (`virtiosim params`
// lists these first, then fault., monitor. and each model's keys.)
#define VIRTIOSIM_RUN_PARAMS(X)                                                                             \
  X(ring::RingLayout, ring, ring::RingLayout::packed, "", 0, 0, "virtqueue layout (virtio 1.2 2.7 packed, 2.6 split)") \
  X(uint32_t, queue_size, 256, "entries", 1, 32768, "descriptors per virtqueue (P1; split: power of two)")   \
  X(uint32_t, queue_pairs, 1, "", 1, 4, "RX/TX queue pairs, one driver vCPU and one vhost worker each")      \
  X(uint64_t, packets, 100000, "packets", 1, 1e12, "frames the driver sends in total")                       \
  X(uint32_t, packet_bytes, 64, "bytes", net::kMinFrameBytes, net::kMaxFrameBytes,                           \
    "frame size (Ethernet, without FCS)")                                                                    \
  X(uint32_t, packet_bytes_max, 0, "bytes", 0, net::kMaxFrameBytes,                                          \
    "if set: frame sizes uniform in [packet_bytes, packet_bytes_max], seeded")                               \
  X(uint64_t, seed, 1, "", 0, 1.8e19, "seed of every random choice (frame sizes, weak-ordering schedules)")  \
  X(memory::Ordering, ordering, memory::Ordering::tso, "", 0, 0, "memory ordering model of every agent")     \
  X(memory::TimingMode, timing, memory::TimingMode::lt, "", 0, 0,                                            \
    "lt: loosely timed (quantum), at: wait per access (exact order)")                                        \
  X(pci::AccessPath, path, pci::AccessPath::vhost, "", 0, 0,                                                 \
    "vhost: guest driver, software vhost on a host core; pcie: guest driver, a PCIe device; user: host-process driver (virtio-user, driver.kind=pmd), software vhost") \
  X(device::MetadataAccess, metadata, device::MetadataAccess::direct, "", 0, 0,                              \
    "how the device reads and writes ring metadata (pcie: dma)")                                             \
  X(device::Wire, wire, device::Wire::loopback, "", 0, 0,                                                    \
    "loopback: TX comes back as RX; sink: TX is consumed at a bandwidth")                                    \
  X(bool, event_idx, true, "bool", 0, 1, "negotiate VIRTIO_RING_F_EVENT_IDX (P10, P11)")                     \
  X(bool, indirect, false, "bool", 0, 1, "negotiate VIRTIO_RING_F_INDIRECT_DESC (P7)")                       \
  X(bool, mrg_rxbuf, true, "bool", 0, 1, "negotiate VIRTIO_NET_F_MRG_RXBUF (P9)")                            \
  X(bool, in_order, false, "bool", 0, 1, "negotiate VIRTIO_F_IN_ORDER (P8)")                                 \
  X(bool, notification_data, false, "bool", 0, 1, "negotiate VIRTIO_F_NOTIFICATION_DATA (P12)")             \
  X(bool, ring_reset, true, "bool", 0, 1,                                                                    \
    "negotiate VIRTIO_F_RING_RESET (P15): the driver may reset one queue (Linux 6.0+, vhost-net)")           \
  X(bool, iommu, false, "bool", 0, 1,                                                                       \
    "negotiate VIRTIO_F_ACCESS_PLATFORM (33): the guest's IOMMU maps every buffer (Linux DMA API), the device translates through its IOTLB (iommu.*)") \
  X(double, quantum_ns, 1000, "ns", 1, 1e9, "lt: time an agent may run ahead of the kernel (TLM global quantum)") \
  X(double, stall_timeout_us, 2000, "us", 1, 1e9,                                                            \
    "no progress for this long with packets pending ends the run as a stall")                                \
  X(uint32_t, log_capacity, 4096, "records", 1, 1 << 26,                                                     \
    "access log ring buffer: the most recent accesses kept (4096 x 32 B stays in L2; totals are never lost)") \
  X(double, vcd_sample_ns, 100, "ns", 1, 1e9,                                                                \
    "with --vcd: ring state is sampled this often (kicks and interrupts are counted, never missed)")           \
  X(double, vcd_window_us, 0, "us", 0, 1e9,                                                                  \
    "with --vcd: keep only the last this-many us of waves, written at the monitor's first finding (plus half " \
    "this after it) or at the end; 0 = the whole run")

// Which device model sits behind the virtio-PCI function: a kind
// registered in sim/device_registry.h, known only at run time (a program
// embedding the simulator adds its own).
struct DeviceKind {
  std::string name;
};
#define VIRTIOSIM_DEVICE_PARAMS(X)                                                                      \
  X(DeviceKind, kind, {"vhost-net"}, "", 0, 0,                                                          \
    "device model behind the virtio-PCI function: a registered kind (built in: vhost-net)")

struct DeviceParams {
  VIRTIOSIM_DEVICE_PARAMS(VIRTIOSIM_RANGED_FIELD)
  template <class F>
  void visit(F&& f) {
    VIRTIOSIM_DEVICE_PARAMS(VIRTIOSIM_RANGED_VISIT)
  }
};

struct Config {
  VIRTIOSIM_RUN_PARAMS(VIRTIOSIM_RANGED_FIELD)
  DeviceParams device;       // device.*
  faults::FaultPlan fault;   // fault.*
  MonitorParams monitor;     // monitor.*
  // The models.
  memory::MemoryParams memory;
  pci::PciParams pci;
  device::DeviceMemoryParams device_memory;
  device::VhostParams vhost;
  driver::DriverParams driver;
  device::IotlbParams iotlb;  // iommu.*

  // Every parameter, in listing order.
  struct Param {
    std::string key;
    std::string unit;
    std::string why;
    std::string accepted;  // human-readable range or value list
    std::function<std::string()> get;
    std::function<void(const std::string&)> set;  // throws ConfigError
    bool is_number = true;
  };
  std::vector<Param> params();

  // Keys accept their old names too (renamed_keys(): old -> current).
  void set(const std::string& key, const std::string& value);  // throws ConfigError
  std::string get(const std::string& key);
  static const std::map<std::string, std::string>& renamed_keys();
  // Cross-parameter rules (split needs a power-of-two queue, pcie means dma, ...).
  void validate() const;  // throws ConfigError
  // Load a JSON object of key: value (nested objects flatten with '.').
  void load_json_file(const std::string& file);  // throws ConfigError
  // Feature bits the device offers and the driver accepts.
  uint64_t features() const;
  uint32_t max_frame_bytes() const { return packet_bytes_max ? packet_bytes_max : packet_bytes; }

 private:
  static Param& find(std::vector<Param>& all, const std::string& key);  // throws ConfigError
};

}  // namespace virtiosim::sim
