// Stage 3: the JSON report and the summary of synthetic figures.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/report/render.h"
#include "testbench/sim/report/synthetic_run.h"

namespace virtiosim::sim {
namespace {

using testing::synthetic_run;

nlohmann::ordered_json rendered(const RunFigures& r) {
  const std::string text = render_json(r, judge(r));
  EXPECT_EQ(text.back(), '\n');
  return nlohmann::ordered_json::parse(text);
}

TEST(Render, FiguresAndRatesPerPacket) {
  const auto j = rendered(synthetic_run());
  EXPECT_EQ(j["result"], "ok");
  EXPECT_TRUE(j["errors"].empty());
  EXPECT_EQ(j["systemc_version"], "2.3.4-test");
  EXPECT_EQ(j["negotiated_features"], 0x130000000ull);
  EXPECT_EQ(j["packets"]["tx"], 1000);
  EXPECT_EQ(j["rates"]["tx_mpps"], 500);
  EXPECT_EQ(j["rates"]["tx_gbps"], 256);
  EXPECT_EQ(j["kicks"]["per_packet"], 0.01);
  EXPECT_EQ(j["interrupts"]["per_packet"], 0.02);
  EXPECT_EQ(j["memory"]["accesses_per_packet"], 4);
  EXPECT_EQ(j["memory"]["cache_line_transfers_per_packet"], 1.5);
  EXPECT_EQ(j["memory"]["barriers_per_packet"]["read"], 0.5);
  EXPECT_EQ(j["latency_ns"]["mean"], 250);
  EXPECT_EQ(j["latency_ns"]["p50"], 300);
  EXPECT_EQ(j["latency_ns"]["max"], 400);
  EXPECT_EQ(j["latency_ns"]["samples"], 4);
  EXPECT_EQ(j["wall"]["simulated_packets_per_second"], 2000);
  ASSERT_EQ(j["queues"].size(), 2u);
  EXPECT_EQ(j["queues"][1]["name"], "tx0");
  EXPECT_EQ(j["queues"][1]["driver"]["added"], 1000);
  EXPECT_EQ(j["queues"][1]["driver"]["broken"], false);
}

// Each side of a queue carries every counter its stats declare, in their
// order, then broken and the ring errors by name.
TEST(Render, QueueSidesCarryEveryDeclaredCounter) {
  RunFigures r = synthetic_run();
  ring::DriverStats& d = r.queues[1].driver->stats;
  d.indirect_fallbacks = 7;
  d.errors.add(ring::RingError::no_space);
  const auto j = rendered(r);
  std::vector<std::string> keys, declared;
  for (const auto& [k, v] : j["queues"][1]["driver"].items()) keys.push_back(k);
  d.visit([&](const char* name, uint64_t) { declared.push_back(name); });
  declared.push_back("broken");
  declared.push_back("errors");
  EXPECT_EQ(keys, declared);
  EXPECT_EQ(j["queues"][1]["driver"]["indirect_fallbacks"], 7);
  EXPECT_EQ(j["queues"][1]["driver"]["errors"]["no_space"], 1);
  ASSERT_TRUE(r.queues[1].device);
  std::vector<std::string> device_keys;
  for (const auto& [k, v] : j["queues"][1]["device"].items()) device_keys.push_back(k);
  EXPECT_EQ(device_keys.front(), "popped");
  EXPECT_NE(std::find(device_keys.begin(), device_keys.end(), "discarded"), device_keys.end());
}

TEST(Render, ConfigIsEchoedWithNumbersAsNumbers) {
  const auto j = rendered(synthetic_run());
  EXPECT_EQ(j["config"]["ring"], "packed");
  EXPECT_EQ(j["config"]["packets"], 1000);
  EXPECT_EQ(j["config"]["event_idx"], 1);
  EXPECT_EQ(j["seed"], 1);
}

TEST(Render, SectionsInTheirOrderWallLast) {
  const auto j = rendered(synthetic_run());
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  const std::vector<std::string> want = {"virtiosim_version", "systemc_version", "result", "errors", "config",
                                         "seed", "timing_mode", "negotiated_features", "negotiated_feature_names",
                                         "sim_time_ns", "packets", "rates", "kicks", "interrupts",
                                         "cpu_ns_per_packet", "memory", "latency_ns", "load", "monitor", "faults",
                                         "timeline", "queues", "wall"};
  EXPECT_EQ(keys, want);
}

TEST(Render, ReportTextIsIndentedTwoSpacesWithWholeFiguresAsIntegers) {
  const RunFigures r = synthetic_run();
  const std::string text = render_json(r, judge(r));
  EXPECT_EQ(text.rfind("{\n  \"virtiosim_version\": ", 0), 0u) << text.substr(0, 80);
  EXPECT_NE(text.find("\n  \"errors\": [],\n"), std::string::npos);
  EXPECT_NE(text.find("\"tx_mpps\": 500,"), std::string::npos);
  EXPECT_NE(text.find("\"per_packet\": 0.01\n"), std::string::npos);
  EXPECT_NE(text.find("\"by_rule\": {},"), std::string::npos);
}

TEST(Render, FailedRunCarriesItsErrorsAndTheFirstViolations) {
  RunFigures r = synthetic_run();
  r.traffic.completed = 999;
  r.monitor.violations = 1;
  r.monitor.by_rule = {{"P13.avail_body", 1}};
  r.monitor.first.push_back(Violation{"P13.avail_body", "body read before flags", 5500, 1, 0x1000, 2, 3, "tx0"});
  const auto j = rendered(r);
  EXPECT_EQ(j["result"], "failed");
  ASSERT_EQ(j["errors"].size(), 1u);
  EXPECT_EQ(j["monitor"]["by_rule"]["P13.avail_body"], 1);
  EXPECT_EQ(j["monitor"]["first"][0]["time_ns"], 5.5);
  EXPECT_EQ(j["monitor"]["first"][0]["addr"], 0x1000);
  EXPECT_EQ(j["monitor"]["first"][0]["queue"], "tx0");
}

TEST(Render, SummaryForPeople) {
  RunFigures r = synthetic_run();
  r.traffic.completed = 999;
  r.monitor.violations = 2;
  r.monitor.first.push_back(Violation{"P10.lost_wakeup", "no kick", 7000, 0, 0, 0, 0, "rx0"});
  const std::string s = render_summary(r, judge(r));
  EXPECT_EQ(s.rfind("virtiosim: packed ring, 256 entries, vhost/direct, tso ordering, lt timing, 1 queue pair(s)\n", 0), 0u)
      << s;
  EXPECT_NE(s.find("  1000 sent, 1000 received, 0 dropped in 2.0 us simulated: 500.000 Mpps, 256.00 Gb/s\n"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("  latency ns: mean 250, p50 300, p99 400\n"), std::string::npos) << s;
  EXPECT_NE(s.find("  monitor: 2 violations; first P10.lost_wakeup at 7 ns on rx0: no kick\n"), std::string::npos) << s;
  EXPECT_NE(s.find("  error: TX buffers: sent 1000 != completed 999"), std::string::npos) << s;
}

TEST(Render, ReportBundlesVerdictJsonAndSummary) {
  RunFigures r = synthetic_run();
  r.rx_corrupt = 1;
  const RunOutcome o = report(r);
  EXPECT_FALSE(o.ok);
  ASSERT_EQ(o.errors.size(), 1u);
  EXPECT_NE(o.report_json.find("\"result\": \"failed\""), std::string::npos);
  EXPECT_NE(o.summary.find("  error: 1 received frames failed verification\n"), std::string::npos);
}

}  // namespace
}  // namespace virtiosim::sim
