// A virtiosim of one's own: the whole `virtiosim` command line, with one
// more device kind registered. Every `virtiosim run` option works;
//   custom_virtiosim run --set device.kind=eager-net --strict
// runs EagerNet behind the virtio-PCI function, and the monitor names its
// deliberate difference (P10.ignored_suppression).
#include <systemc>

#include <memory>

#include "eager_net.h"
#include "sim/app/command.h"
#include "sim/device_registry.h"

int sc_main(int argc, char** argv) {
  virtiosim::sim::register_device(
      "eager-net",
      [](sc_core::sc_module_name name, virtiosim::memory::MemoryModel& mem,
         const virtiosim::sim::Config& cfg) { return std::make_unique<example::EagerNet>(name, mem, cfg); });
  return virtiosim::app::main(argc, argv);
}
