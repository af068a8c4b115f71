#include "sim/device_registry.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "models/device/vhost_net.h"

namespace virtiosim::sim {

namespace {

std::unique_ptr<device::NetDevice> make_vhost_net(sc_core::sc_module_name name, memory::MemoryModel& mem,
                                                  const Config& c) {
  device::VhostNetConfig d;
  d.layout = c.ring;
  d.features = c.features();
  d.queue_pairs = static_cast<uint16_t>(c.queue_pairs);
  d.max_queue_size = static_cast<uint16_t>(std::min<uint32_t>(c.queue_size, 32768));
  d.access = c.metadata;
  d.wire = c.wire;
  d.timing = c.timing;
  d.params = c.vhost;
  d.memory_params = c.device_memory;
  d.iotlb = c.iotlb;
  d.iotlb_miss_ns = c.path == pci::AccessPath::pcie ? c.iotlb.pcie_miss_ns : c.iotlb.vhost_miss_ns;
  return std::make_unique<device::VhostNet>(name, mem, d);
}

std::vector<std::pair<std::string, DeviceFactory>>& registry() {
  static std::vector<std::pair<std::string, DeviceFactory>> kinds{{kVhostNetKind, make_vhost_net}};
  return kinds;
}

}  // namespace

void register_device(const std::string& kind, DeviceFactory make) {
  if (kind.empty()) throw std::invalid_argument("a device kind needs a name");
  for (const auto& [k, f] : registry())
    if (k == kind) throw std::invalid_argument("device kind '" + kind + "' is registered already");
  registry().emplace_back(kind, std::move(make));
}

std::vector<std::string> device_kinds() {
  std::vector<std::string> names;
  for (const auto& [k, f] : registry()) names.push_back(k);
  return names;
}

std::unique_ptr<device::NetDevice> make_device(const std::string& kind, sc_core::sc_module_name name,
                                               memory::MemoryModel& mem, const Config& cfg) {
  for (const auto& [k, make] : registry())
    if (k == kind) return make(name, mem, cfg);
  std::string accepted;
  for (const std::string& k : device_kinds()) accepted += (accepted.empty() ? "" : "|") + k;
  throw ConfigError("device.kind", "'" + kind + "' is not one of " + accepted);
}

}  // namespace virtiosim::sim
