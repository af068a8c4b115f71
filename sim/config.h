// One Config holds every parameter of a simulation: the run's shape
// (ring, queue size, packets, features, modes) and every model's latency
// and cost parameters. Each has a key, a unit, a default and a one-line
// reason, declared once in its model (VIRTIOSIM_*_PARAMS); `virtiosim
// params`, JSON config files, --set, Python and the report echo all walk
// the same table.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/device/device_memory.h"
#include "models/device/vhost_net.h"
#include "models/driver/net_driver.h"
#include "models/memory/agent_clock.h"
#include "models/memory/memory_model.h"
#include "models/ring/virtqueue.h"
#include "sim/faults/ring_faults.h"
#include "transport/pci/virtio_pci.h"

namespace virtiosim::sim {

// A configuration value that is not accepted; names the key.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(const std::string& key, const std::string& what)
      : std::runtime_error(key.empty() ? what : "bad configuration for '" + key + "': " + what), key_(key) {}
  const std::string& key() const { return key_; }

 private:
  std::string key_;
};

struct Config {
  // The run.
  ring::RingLayout ring = ring::RingLayout::packed;
  uint32_t queue_size = 256;
  uint32_t queue_pairs = 1;
  uint64_t packets = 100000;
  uint32_t packet_bytes = 64;
  uint32_t packet_bytes_max = 0;  // 0: every frame is packet_bytes
  uint64_t seed = 1;
  memory::Ordering ordering = memory::Ordering::tso;
  memory::TimingMode timing = memory::TimingMode::lt;
  pci::AccessPath path = pci::AccessPath::vhost;
  device::MetadataAccess metadata = device::MetadataAccess::direct;
  device::Wire wire = device::Wire::loopback;
  bool event_idx = true;
  bool indirect = false;
  bool mrg_rxbuf = true;
  bool in_order = false;
  bool notification_data = false;
  bool ring_reset = true;
  double quantum_ns = 1000;
  double stall_timeout_us = 2000;
  uint32_t log_capacity = 4096;
  double vcd_sample_ns = 100;
  // Fault injection and the conformance monitor.
  std::string drop_barriers;      // comma-separated ring::BarrierSite names
  uint32_t lose_kick_every = 0;   // every Nth doorbell is lost (0: none)
  uint32_t lose_irq_every = 0;    // every Nth MSI-X message is lost (0: none)
  uint32_t corrupt_notify_every = 0;  // every Nth doorbell's data names another queue (0: none)
  uint32_t delay_kick_every = 0;  // every Nth doorbell is delayed by delay_ns (0: none)
  uint32_t delay_irq_every = 0;   // every Nth queue interrupt is delayed by delay_ns (0: none)
  double delay_ns = 20000;        // 20 us: far beyond any modeled notification latency
  bool kick_always = false;       // the driver ignores the device's event suppression
  double reset_tx_at_us = 0;      // the driver resets TX queue 0 at this time (P15); 0 = never
  bool reset_ack_early = false;   // the device acknowledges a queue reset before it stops the queue
  faults::DescCorruption corrupt_desc = faults::DescCorruption::none;
  uint64_t corrupt_desc_at = 1;   // TX packet (1-based) whose descriptor is corrupted
  faults::UsedCorruption corrupt_used = faults::UsedCorruption::none;
  uint64_t corrupt_used_at = 1;   // TX completion (1-based) whose used entry is corrupted
  std::string monitor_disable;    // comma-separated rule ids switched off
  bool strict = false;            // a monitor violation fails the run
  double wakeup_grace_us = 100;   // an owed notification missing this long is a lost wake-up
  // The models.
  memory::MemoryParams memory;
  pci::PciParams pci;
  device::DeviceMemoryParams device_memory;
  device::VhostParams vhost;
  driver::DriverParams driver;

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

  void set(const std::string& key, const std::string& value);  // throws ConfigError
  std::string get(const std::string& key);
  // Cross-parameter rules (split needs a power-of-two queue, pcie means dma, ...).
  void validate() const;  // throws ConfigError
  // Load a JSON object of key: value (nested objects flatten with '.').
  void load_json_file(const std::string& file);  // throws ConfigError
  // Feature bits the device offers and the driver accepts.
  uint64_t features() const;
  std::vector<ring::BarrierSite> dropped_barriers() const;
  std::vector<std::string> disabled_rules() const;
  uint32_t max_frame_bytes() const { return packet_bytes_max ? packet_bytes_max : packet_bytes; }
};

}  // namespace virtiosim::sim
