// Stage 3: the JSON report and the summary of synthetic figures.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/report/feature_names.h"
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
                                         "agents", "timeline", "queues", "wall"};
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

TEST(Render, SummaryStatesWhatFaultsDid) {
  RunFigures r = synthetic_run();
  r.faults.device_restarts = 334;
  r.faults.queue_resets = 1;
  r.traffic.lost_at_reset = 22, r.traffic.taken_back = 22;
  r.monitor.spurious_kicks = 10001;
  const std::string s = render_summary(r, judge(r));
  EXPECT_NE(s.find("  fault effects: 334 device restarts, 1 queue resets, 22 frames lost at reset, 22 TX buffers "
                   "taken back at reset\n"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("  notifications: 10001 spurious kicks, 0 spurious interrupts"), std::string::npos) << s;
  EXPECT_NE(s.find("  monitor: no violations\n"), std::string::npos) << s;
  const std::string quiet = render_summary(synthetic_run(), judge(synthetic_run()));
  EXPECT_EQ(quiet.find("fault effects"), std::string::npos) << quiet;
  EXPECT_EQ(quiet.find("notifications:"), std::string::npos) << quiet;
}

TEST(Render, FeaturesByName) {
  const RunFigures r = synthetic_run();  // bits 28, 29, 32
  const std::vector<std::string> want = {"VIRTIO_RING_F_INDIRECT_DESC", "VIRTIO_RING_F_EVENT_IDX", "VIRTIO_F_VERSION_1"};
  EXPECT_EQ(rendered(r)["negotiated_feature_names"].get<std::vector<std::string>>(), want);
  EXPECT_NE(render_summary(r, judge(r))
                .find("  features: VIRTIO_RING_F_INDIRECT_DESC VIRTIO_RING_F_EVENT_IDX VIRTIO_F_VERSION_1\n"),
            std::string::npos);
  EXPECT_EQ(feature_names(uint64_t{1} << 50), std::vector<std::string>{"bit 50"});
}

TEST(Render, QueueingAtFullLoadIsSaid) {
  RunFigures r = synthetic_run();
  r.device_busy_ps = 1000 * 10 * 1000;  // 10 ns a packet; the mean latency, 250 ns, is 25 of them
  std::string s = render_summary(r, judge(r));
  EXPECT_NE(s.find("  latency was measured at full offered load (driver.offered_pps=0) and is queueing-dominated: "
                   "mean 250 ns is 25 times the 10 ns a packet costs the busier side\n"),
            std::string::npos)
      << s;
  EXPECT_EQ(rendered(r)["load"]["queueing_dominated"], true);
  r.device_busy_ps = 1000 * 100 * 1000;  // 100 ns a packet: latency is 2.5 service times
  EXPECT_EQ(render_summary(r, judge(r)).find("queueing-dominated"), std::string::npos);
  r.device_busy_ps = 1000 * 10 * 1000;
  r.cfg.driver.offered_pps = 1e5;  // not at full load: no claim
  EXPECT_EQ(render_summary(r, judge(r)).find("queueing-dominated"), std::string::npos);
  EXPECT_EQ(rendered(r)["load"]["full"], false);
}

TEST(Render, LatencyHistogramCountsEverySample) {
  const auto h = rendered(synthetic_run())["latency_ns"]["histogram"];  // 100, 200, 300, 400
  EXPECT_EQ(h["bin_ns"], 10);
  const std::vector<uint64_t> counts = h["counts"].get<std::vector<uint64_t>>();
  ASSERT_EQ(counts.size(), 40u);
  EXPECT_EQ(counts[10] + counts[20] + counts[30] + counts[39], 4u);
  EXPECT_EQ(std::accumulate(counts.begin(), counts.end(), uint64_t{0}), 4u);
}

TEST(Render, TimelineEventsWithTheirRingField) {
  RunFigures r = synthetic_run();
  memory::LogRecord w;
  w.time_ps = 1500, w.addr = 0x1000, w.value = 0x8080, w.size = 2, w.op = memory::LogRecord::Op::write;
  r.timeline = {{w, "tx0 desc[3]"}};
  r.timeline_around_finding = true;
  const auto t = rendered(r)["timeline"];
  EXPECT_EQ(t["around"], "first finding");
  ASSERT_EQ(t["events"].size(), 1u);
  EXPECT_EQ(t["events"][0]["time_ns"], 1.5);
  EXPECT_EQ(t["events"][0]["op"], "write");
  EXPECT_EQ(t["events"][0]["where"], "tx0 desc[3]");
}

TEST(Render, RingFieldNamesQueueAndArea) {
  const ring::QueueAreas a = ring::place_queue(ring::RingLayout::packed, 0x10000, 256);
  const std::vector<std::pair<std::string, ring::QueueAreas>> q = {{"rx0", a}};
  EXPECT_EQ(ring_field(ring::RingLayout::packed, q, a.desc + 3 * 16 + 14), "rx0 desc[3]");
  EXPECT_EQ(ring_field(ring::RingLayout::packed, q, a.driver + 2), "rx0 driver event");
  EXPECT_EQ(ring_field(ring::RingLayout::packed, q, a.device), "rx0 device event");
  EXPECT_EQ(ring_field(ring::RingLayout::packed, q, 0x900000), "");
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
