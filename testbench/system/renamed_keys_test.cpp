// Keys renamed for one vocabulary (kick: driver to device, interrupt:
// device to driver) keep working under their old names for one release:
// on the command line, in a JSON config file, and they land on the new key.
#include <gtest/gtest.h>

#include <fstream>

#include "testbench/system/run_virtiosim.h"

namespace virtiosim::testing {
namespace {

// A key of the report's config echo (keys hold dots: '/' separates).
template <class T>
T config_value(const SimRun& r, const std::string& key) {
  return r.report.get<T>(boost::property_tree::ptree::path_type("config/" + key, '/'));
}
bool echoes(const SimRun& r, const std::string& key) {
  return static_cast<bool>(r.report.get_child_optional(boost::property_tree::ptree::path_type("config/" + key, '/')));
}

TEST(RenamedKeys, OldNameOnTheCommandLineSetsTheNewKey) {
  const SimRun r = run_virtiosim("run --quiet --packets 300 --set fault.delay_irq_every=7 --set pci.vhost_doorbell_ns=2600");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(config_value<int>(r, "fault.delay_interrupt_every"), 7);
  EXPECT_EQ(config_value<double>(r, "pci.vhost_kick_ns"), 2600);
  EXPECT_FALSE(echoes(r, "fault.delay_irq_every")) << "the old name is not echoed";
}

TEST(RenamedKeys, OldNameInAConfigFileSetsTheNewKey) {
  const std::filesystem::path dir = fresh_dir();
  std::ofstream(dir / "old.json") << R"({"driver": {"irq_cycles": 2000}, "fault.corrupt_notify_every": 0})";
  const SimRun r = run_virtiosim("run --quiet --packets 300 --config " + (dir / "old.json").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(config_value<int>(r, "driver.interrupt_cycles"), 2000);
}

TEST(RenamedKeys, AnUnknownKeyIsStillRefused) {
  const SimRun r = run_virtiosim("run --quiet --packets 300 --set fault.lose_irqs_every=7", false);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("fault.lose_irqs_every"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace virtiosim::testing
