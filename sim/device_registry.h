// The device models the platform can put behind its virtio-PCI function,
// by name: device.kind chooses one. vhost-net (models/device/vhost_net.h)
// is built in; a program that embeds the simulator registers its own
// before it hands the command line to virtiosim::app::main
// (examples/custom_device). The platform asks the registry, never a
// concrete device type.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/device/net_device.h"
#include "models/memory/memory_model.h"
#include "sim/config.h"

namespace virtiosim::sim {

// The built-in device: VhostNet.
inline constexpr const char* kVhostNetKind = "vhost-net";

// Builds the device of a run: a SystemC module named `name` whose queue
// pair qp reaches guest memory through `mem` as agent
// NetDevice::agent_of(qp), shaped by `cfg` (ring layout, features(),
// queue_pairs, queue_size, timing, ...).
using DeviceFactory = std::function<std::unique_ptr<device::NetDevice>(
    sc_core::sc_module_name name, memory::MemoryModel& mem, const Config& cfg)>;

// Add a device kind; throws std::invalid_argument if `kind` is taken or empty.
void register_device(const std::string& kind, DeviceFactory make);
// The registered kinds, the built-in first, then in registration order.
std::vector<std::string> device_kinds();
// The device of kind `kind`; throws ConfigError("device.kind", ...) for an unknown one.
std::unique_ptr<device::NetDevice> make_device(const std::string& kind, sc_core::sc_module_name name,
                                               memory::MemoryModel& mem, const Config& cfg);

}  // namespace virtiosim::sim
