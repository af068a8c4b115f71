// The memory model's fast path (memory.fast_path) is a speed-up only: the
// same config and seed give the same report, every figure but the wall
// clock's and the switch's own echo, and the same waves byte for byte,
// with it forced off and on. Checked on the default scenario and on weak
// ordering (reordered stores, hoisted loads), with and without a dropped
// barrier that makes the monitor report findings.
#include <gtest/gtest.h>

#include "testbench/system/run_virtiosim.h"

namespace virtiosim::testing {
namespace {

struct Equivalence {
  const char* name;
  const char* args;
  bool findings;  // the monitor reports violations (the report's timeline is then around the first)
};

class FastPath : public ::testing::TestWithParam<Equivalence> {};

// The config echo's keys hold dots ("memory.fast_path"): not a path.
std::string fast_path_echo(const SimRun& r) {
  return r.report.get_child("config").get<std::string>(boost::property_tree::ptree::path_type("memory.fast_path", '/'));
}

std::string without_wall_and_switch(SimRun& r) {
  r.report.erase("wall");
  r.report.get_child("config").erase("memory.fast_path");
  std::ostringstream o;
  boost::property_tree::write_json(o, r.report);
  return o.str();
}

TEST_P(FastPath, OffAndOnGiveTheSameReportAndWaves) {
  const std::string args = std::string("run --quiet ") + GetParam().args;
  const std::filesystem::path vcd_off = fresh_dir() / "off.vcd", vcd_on = fresh_dir() / "on.vcd";
  SimRun off = run_virtiosim(args + " --set memory.fast_path=0 --vcd " + vcd_off.string());
  SimRun on = run_virtiosim(args + " --set memory.fast_path=1 --vcd " + vcd_on.string());
  ASSERT_EQ(off.exit_code, on.exit_code) << off.output << on.output;
  ASSERT_FALSE(off.report_text.empty()) << off.output;
  ASSERT_FALSE(on.report_text.empty()) << on.output;
  // The switch took effect (the report echoes it) ...
  EXPECT_EQ(fast_path_echo(off), "0");
  EXPECT_EQ(fast_path_echo(on), "1");
  EXPECT_GT(on.get<uint64_t>("packets.rx"), 0u);
  EXPECT_EQ(on.get<uint64_t>("monitor.violations") > 0, GetParam().findings);
  // ... and changed nothing else.
  EXPECT_EQ(without_wall_and_switch(off), without_wall_and_switch(on));
  const std::string waves_off = slurp(vcd_off), waves_on = slurp(vcd_on);
  EXPECT_GT(waves_off.size(), 10000u);
  EXPECT_TRUE(waves_off == waves_on) << "the waves differ";
}

INSTANTIATE_TEST_SUITE_P(
    Scenarios, FastPath,
    ::testing::Values(Equivalence{"default", "--seed 5 --packets 3000", false},
                      Equivalence{"weak", "--seed 5 --packets 3000 --set ordering=weak --set packet_bytes_max=300", false},
                      Equivalence{"weak_split", "--seed 5 --packets 3000 --ring split --set ordering=weak", false},
                      // The busy-poll exploration scenario of monitor_test.cpp; seed 1 is caught.
                      Equivalence{"weak_dropped_barrier",
                                  "--seed 1 --packets 3000 --set ordering=weak --set memory.weak_max_delay_ns=200 "
                                  "--set vhost.busy_poll_ns=5000 "
                                  "--set driver.tx_batch=16 --set fault.drop_barriers=driver_publish",
                                  true}),
    [](const ::testing::TestParamInfo<Equivalence>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace virtiosim::testing
