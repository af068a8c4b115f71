// Known-bug replays (fault.replay), end to end: each puts one historical
// bug of a real driver or device into the simulated one, and the monitor
// must name it by its rule first in every seed tried; the same scenario
// without the replay reports nothing. README, "Known-bug replays".
#include <gtest/gtest.h>

#include "testbench/system/run_virtiosim.h"

namespace virtiosim::testing {
namespace {

const std::string kBase = "run --quiet --packets 1000 --set stall_timeout_us=300 --strict ";
constexpr int kSeeds = 3;

struct Replay {
  const char* name;
  const char* scenario;  // the config keys the replay needs (fault_plan.h)
  const char* rule;      // what the monitor names first
};

class KnownBug : public ::testing::TestWithParam<Replay> {};

TEST_P(KnownBug, IsNamedByItsRuleInEverySeed) {
  const Replay& r = GetParam();
  for (int seed = 1; seed <= kSeeds; ++seed) {
    const SimRun run = run_virtiosim(kBase + r.scenario + " --set fault.replay=" + r.name + " --seed " +
                                     std::to_string(seed));
    ASSERT_EQ(run.exit_code, 1) << "seed " << seed << "\n" << run.output;
    const auto& first = run.report.get_child("monitor.first");
    ASSERT_FALSE(first.empty()) << "seed " << seed;
    EXPECT_EQ(first.front().second.get<std::string>("rule"), r.rule) << "seed " << seed << "\n" << run.report_text;
    EXPECT_FALSE(first.front().second.get<std::string>("queue").empty());
  }
}

TEST_P(KnownBug, SameScenarioWithoutItReportsNothing) {
  const Replay& r = GetParam();
  for (int seed = 1; seed <= kSeeds; ++seed) {
    const SimRun run = run_virtiosim(kBase + r.scenario + " --seed " + std::to_string(seed));
    ASSERT_EQ(run.exit_code, 0) << "seed " << seed << "\n" << run.output;
    EXPECT_EQ(run.get<uint64_t>("monitor.violations"), 0u) << "seed " << seed;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Replays, KnownBug,
    ::testing::Values(Replay{"event_idx_equality", "", "P10.lost_interrupt"},
                      Replay{"always_interrupt", "", "P10.ignored_suppression"},
                      Replay{"inverted_enable", "--set event_idx=0", "P10.disabled_wait"},
                      Replay{"chain_len_qsize_wrap", "--queue-size 2 --set driver.tx_segments=2", "P2"},
                      Replay{"vring_base_used_mask", "--set vhost.restart_every_us=25", "VU2"},
                      Replay{"dpdk_event_flags_overwrite", "", "P10.area_owner"},
                      Replay{"missing_avail_rmb", "--ring split --set ordering=weak --set vhost.busy_poll_ns=5000",
                             "P13.avail_body"},
                      Replay{"dpdk_wrap_head_not_last", "--queue-size 255 --set driver.tx_segments=2", "P6.5"}),
    [](const ::testing::TestParamInfo<Replay>& i) { return std::string(i.param.name); });

// A replay without the scenario it needs is refused, naming the key and
// what it needs.
TEST(KnownBug, WithoutItsScenarioIsRefused) {
  for (const char* args : {"--set fault.replay=inverted_enable", "--set fault.replay=chain_len_qsize_wrap",
                           "--set fault.replay=vring_base_used_mask",
                           "--ring split --set fault.replay=dpdk_event_flags_overwrite",
                           "--set event_idx=0 --set fault.replay=event_idx_equality",
                           "--ring split --set fault.replay=missing_avail_rmb",
                           "--set ordering=weak --set fault.replay=missing_avail_rmb",
                           "--ring split --set ordering=weak --set fault.replay=missing_avail_rmb",
                           "--set driver.tx_segments=2 --set fault.replay=dpdk_wrap_head_not_last"}) {
    const SimRun r = run_virtiosim(std::string("run --quiet ") + args, false);
    EXPECT_EQ(r.exit_code, 2) << args;
    EXPECT_NE(r.output.find("fault.replay"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("needs"), std::string::npos) << r.output;
  }
  const SimRun unknown = run_virtiosim("run --quiet --set fault.replay=heisenbug", false);
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.output.find("always_interrupt"), std::string::npos) << unknown.output;
}

}  // namespace
}  // namespace virtiosim::testing
