// The device registry and device.kind (sim/device_registry.h): kinds by
// name, vhost-net built in, the parameter's accepted values taken from the
// registry when it is read, and the faults another kind cannot carry.
// (examples/custom_device runs a registered kind end to end: the install
// test.) Each ctest runs one test in its own process, so each registers
// what it needs.
#include <gtest/gtest.h>

#include <stdexcept>

#include "models/memory/backing_store.h"
#include "sim/config.h"
#include "sim/device_registry.h"

namespace virtiosim::sim {
namespace {

DeviceFactory counting(int& calls) {
  return [&calls](sc_core::sc_module_name, memory::MemoryModel&, const Config&) {
    ++calls;
    return std::unique_ptr<device::NetDevice>();
  };
}

TEST(DeviceRegistry, VhostNetIsBuiltInAndTheDefault) {
  ASSERT_FALSE(device_kinds().empty());
  EXPECT_EQ(device_kinds().front(), kVhostNetKind);
  EXPECT_EQ(Config{}.get("device.kind"), "vhost-net");
}

TEST(DeviceRegistry, KindsAreUniqueAndNamed) {
  int calls = 0;
  register_device("test-kind", counting(calls));
  EXPECT_EQ(device_kinds(), (std::vector<std::string>{"vhost-net", "test-kind"}));
  EXPECT_THROW(register_device("test-kind", counting(calls)), std::invalid_argument);
  EXPECT_THROW(register_device("vhost-net", counting(calls)), std::invalid_argument);
  EXPECT_THROW(register_device("", counting(calls)), std::invalid_argument);
}

TEST(DeviceRegistry, MakeDeviceCallsTheFactoryOfItsKind) {
  int calls = 0;
  register_device("test-kind", counting(calls));
  memory::BackingStore ram(0x1000, 1 << 16);
  memory::MemoryModel mem(ram, {}, memory::Ordering::sc, 2, 1, 16);
  EXPECT_EQ(make_device("test-kind", "device", mem, Config{}), nullptr);
  EXPECT_EQ(calls, 1);
  try {
    (void)make_device("no-such-kind", "device", mem, Config{});
    FAIL() << "an unknown kind was built";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "device.kind");
    EXPECT_NE(std::string(e.what()).find("vhost-net|test-kind"), std::string::npos) << e.what();
  }
}

TEST(DeviceRegistry, DeviceKindAcceptsTheRegisteredNames) {
  int calls = 0;
  Config before;
  EXPECT_THROW(before.set("device.kind", "test-kind"), ConfigError);  // not registered yet
  register_device("test-kind", counting(calls));
  Config c;
  c.set("device.kind", "test-kind");
  EXPECT_EQ(c.device.kind.name, "test-kind");
  try {
    c.set("device.kind", "no-such-kind");
    FAIL() << "an unknown kind was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "device.kind");
    EXPECT_NE(std::string(e.what()).find("'no-such-kind' is not one of vhost-net|test-kind"),
              std::string::npos)
        << e.what();
  }
  for (const Config::Param& p : c.params())
    if (p.key == "device.kind") {
      EXPECT_EQ(p.accepted, "vhost-net|test-kind");
    }
}

// VhostNet's hook points carry these faults; another kind has none.
TEST(DeviceRegistry, DeviceFaultsNeedVhostNet) {
  int calls = 0;
  register_device("test-kind", counting(calls));
  Config c;
  c.set("fault.replay", "always_interrupt");
  EXPECT_NO_THROW(c.validate());
  c.set("device.kind", "test-kind");
  try {
    c.validate();
    FAIL() << "a device fault was accepted for another kind";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "fault.replay");
  }
  c.set("event_idx", "0");
  c.set("fault.replay", "inverted_enable");  // the driver's stores: any device
  EXPECT_NO_THROW(c.validate());
}

}  // namespace
}  // namespace virtiosim::sim
