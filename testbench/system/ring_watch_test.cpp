// The monitor's own shadow of each ring (sim/check/ring_watch.h), end to end:
// for each rule it checks, a run that injects exactly that violation and
// the monitor reports that rule and nothing but what the violation itself
// causes; a legal variation it must not report; spurious notifications
// counted, not reported; delayed notifications that lose nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "testbench/system/run_virtiosim.h"

namespace virtiosim::testing {
namespace {

using Path = boost::property_tree::ptree::path_type;

const std::string kBase = "run --quiet --packets 3000 --set stall_timeout_us=300 ";

std::set<std::string> rules_of(const SimRun& r) {
  std::set<std::string> out;
  for (const auto& [rule, n] : r.report.get_child("monitor.by_rule")) out.insert(rule);
  return out;
}

struct Injected {
  const char* name;
  const char* args;
  const char* rule;          // reported first
  const char* consequence;   // what the violation itself leads to ("" = nothing)
  int exit_code;             // without --strict
  // The ring may or may not stall after it: that depends on where the
  // device was when the violation came (timing), not on the rule.
  bool may_stall = false;
};

class InjectedViolation : public ::testing::TestWithParam<Injected> {};

TEST_P(InjectedViolation, IsReportedAsItsRuleAndNoOther) {
  const Injected& c = GetParam();
  const SimRun r = run_virtiosim(kBase + c.args);
  ASSERT_FALSE(r.report_text.empty()) << r.output;
  std::set<std::string> expected{c.rule};
  if (*c.consequence) expected.insert(c.consequence);
  const bool stalled = c.may_stall && rules_of(r).count("watchdog.stall");
  if (stalled) expected.insert("watchdog.stall");
  EXPECT_EQ(r.exit_code, stalled ? 1 : c.exit_code) << r.output;
  EXPECT_EQ(rules_of(r), expected) << r.report_text;
  const auto& first = r.report.get_child("monitor.first").front().second;
  EXPECT_EQ(first.get<std::string>("rule"), c.rule);
  EXPECT_EQ(first.get<std::string>("queue"), "tx0");
  EXPECT_GT(first.get<double>("time_ns"), 0.0);
  EXPECT_NE(first.get<uint64_t>("addr"), 0u) << "the report names the ring address";
  // The same run without the fault is clean.
  const std::string args = c.args;
  const SimRun clean = run_virtiosim(kBase + args.substr(0, args.find("--set fault.")));
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
  EXPECT_EQ(clean.get<uint64_t>("monitor.violations"), 0u) << clean.report_text;
}

INSTANTIATE_TEST_SUITE_P(
    Faults, InjectedViolation,
    ::testing::Values(
        // P2: the head published with USED == AVAIL; the driver takes it back
        // as used and the device never sees it: the ring stalls.
        Injected{"P2_driver_packed", "--set fault.corrupt_desc_at=100 --set fault.corrupt_desc=avail_encoding", "P2",
                 "watchdog.stall", 1},
        // P2: a used entry whose AVAIL bit does not match the device's wrap.
        Injected{"P2_device_packed", "--set fault.corrupt_used_at=100 --set fault.corrupt_used=encoding", "P2",
                 "watchdog.stall", 1},
        // P6.2: NEXT on a list's last descriptor runs it into a slot not yet
        // available (packets paced so the device gets there first).
        Injected{"P6_2_packed",
                 "--set driver.offered_pps=100000 --set fault.corrupt_desc_at=100 --set fault.corrupt_desc=next_on_last",
                 "P6.2", "", 1},
        // P6.3: WRITE on the head of a two-descriptor TX list.
        Injected{"P6_3_packed", "--set driver.tx_segments=2 --set fault.corrupt_desc_at=100 --set fault.corrupt_desc=write_on_head",
                 "P6.3", "", 1},
        Injected{"P6_3_split",
                 "--ring split --set driver.tx_segments=2 --set fault.corrupt_desc_at=100 --set fault.corrupt_desc=write_on_head",
                 "P6.3", "", 1},
        // P3: a descriptor rewritten (with its own value) while the device
        // owns it; nothing else goes wrong, which is why it needs a monitor.
        Injected{"P3_packed", "--set fault.corrupt_desc_at=100 --set fault.corrupt_desc=rewrite_in_flight", "P3", "", 0},
        Injected{"P3_split", "--ring split --set fault.corrupt_desc_at=100 --set fault.corrupt_desc=rewrite_in_flight",
                 "P3", "", 0},
        // P4: used entries written in another order than completed.
        Injected{"P4_packed", "--set fault.corrupt_used_at=100 --set fault.corrupt_used=write_order", "P4", "", 0},
        Injected{"P4_split", "--ring split --set fault.corrupt_used_at=100 --set fault.corrupt_used=write_order", "P4",
                 "", 0},
        // P5: NEXT in a used descriptor.
        Injected{"P5_packed", "--set fault.corrupt_used_at=100 --set fault.corrupt_used=next", "P5", "", 0},
        // P8: with IN_ORDER a buffer completed before one made available
        // earlier. The packed in-order batch can then cover slots the driver
        // does not skip, and the ring stalls. Split's used idx carries the batch.
        Injected{"P8_packed",
                 "--set in_order=1 --set fault.corrupt_used_at=100 --set fault.corrupt_used=complete_order", "P8", "",
                 0, true},
        Injected{"P8_split",
                 "--ring split --set in_order=1 --set fault.corrupt_used_at=100 --set fault.corrupt_used=complete_order",
                 "P8", "", 0},
        // P15: the device says the queue reset is done before it stopped
        // using the queue. The packed device then also drops the queue the
        // driver enabled again: the ring stalls. The split device may go on
        // from the ring state the driver rewrote, and stall or not.
        Injected{"P15_packed", "--set fault.reset_tx_at_us=1000 --set fault.reset_ack_early=1", "P15", "watchdog.stall", 1},
        Injected{"P15_split", "--ring split --set fault.reset_tx_at_us=1000 --set fault.reset_ack_early=1", "P15", "", 0,
                 true}),
    [](const ::testing::TestParamInfo<Injected>& i) { return std::string(i.param.name); });

// Without IN_ORDER a device may complete buffers in any order: not a violation.
TEST(RingWatch, OutOfOrderCompletionWithoutInOrderIsLegal) {
  for (const char* ring : {"packed", "split"}) {
    const SimRun r = run_virtiosim(kBase + "--ring " + ring +
                                   " --set fault.corrupt_used_at=100 --set fault.corrupt_used=complete_order --strict");
    EXPECT_EQ(r.exit_code, 0) << ring << "\n" << r.output;
    EXPECT_EQ(r.get<uint64_t>("monitor.violations"), 0u) << ring;
    EXPECT_EQ(r.get<uint64_t>("packets.rx"), 3000u) << ring;
  }
}

// A violation that breaks nothing still fails a --strict run.
TEST(RingWatch, StrictFailsOnAnOwnershipViolation) {
  const SimRun r = run_virtiosim(kBase + "--set fault.corrupt_desc_at=100 --set fault.corrupt_desc=rewrite_in_flight --strict");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  ASSERT_EQ(r.report.get_child("errors").size(), 1u) << r.report_text;
  EXPECT_NE(r.report.get_child("errors").front().second.data().find("first P3"), std::string::npos) << r.report_text;
}

// Flag faults need a packed ring: refused with the key named.
TEST(RingWatch, FlagFaultsOnSplitAreRefused) {
  const SimRun r = run_virtiosim("run --quiet --ring split --set fault.corrupt_used=next", false);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("fault.corrupt_used"), std::string::npos) << r.output;
}

// P10: a driver that kicks whatever the device asked sends kicks the
// monitor counts as spurious. Kicking against a DISABLE the driver has
// just read (packed) is also named, once per queue
// (P10.ignored_suppression); a kick outside the device's event-index
// window (split with EVENT_IDX) may be a race with the device moving the
// window, so it is counted only. A driver that follows event suppression
// sends (almost) none.
TEST(RingWatch, SpuriousKicksAreCountedAndIgnoredDisableIsNamed) {
  for (const char* ring : {"packed", "split"}) {
    const std::string base = kBase + "--ring " + ring + " --set vhost.busy_poll_ns=5000";
    const SimRun clean = run_virtiosim(base);
    const SimRun always = run_virtiosim(base + " --set fault.kick_always=1");
    ASSERT_EQ(always.exit_code, 0) << always.output;
    if (std::string(ring) == "packed") {
      EXPECT_EQ(always.get<uint64_t>("monitor.violations"), 2u);  // rx0 and tx0
      const boost::property_tree::ptree::path_type rule("monitor/by_rule/P10.ignored_suppression", '/');
      EXPECT_EQ(always.report.get<uint64_t>(rule), 2u) << always.report_text;
    } else {
      EXPECT_EQ(always.get<uint64_t>("monitor.violations"), 0u);
    }
    const uint64_t spurious = always.get<uint64_t>("monitor.spurious_kicks");
    EXPECT_GT(spurious, 100u) << ring;
    EXPECT_LE(spurious, always.get<uint64_t>("kicks.issued")) << ring;
    EXPECT_LT(clean.get<uint64_t>("monitor.spurious_kicks") * 20, spurious) << ring;
    EXPECT_EQ(clean.get<uint64_t>("monitor.violations"), 0u) << ring;
  }
}

// Delayed kicks and interrupts (faults that hold a notification back, and
// everything behind it) slow the run down and lose nothing.
TEST(RingWatch, DelayedNotificationsLoseNothing) {
  for (const char* ring : {"packed", "split"}) {
    const std::string base = kBase + "--ring " + ring;
    const SimRun clean = run_virtiosim(base);
    const SimRun late = run_virtiosim(
        base + " --set fault.delay_kick_every=5 --set fault.delay_interrupt_every=3 --set fault.delay_ns=50000 --strict");
    ASSERT_EQ(late.exit_code, 0) << late.output;  // a frame lost, duplicated or corrupted fails the run
    EXPECT_GT(late.get<uint64_t>("faults.kicks_delayed"), 0u);
    EXPECT_GT(late.get<uint64_t>("faults.interrupts_delayed"), 0u);
    EXPECT_EQ(late.get<uint64_t>("packets.rx"), 3000u);
    EXPECT_GT(late.get<double>("latency_ns.p99"), clean.get<double>("latency_ns.p99") + 40000) << ring;
  }
}

}  // namespace
}  // namespace virtiosim::testing

namespace virtiosim::testing {
namespace {

// Ring state saved and restored mid-run (a backend restart through the VU2
// encoding, every 25 us of simulated time): with the monitor watching every
// used entry, nothing is lost (every frame arrives, every TX buffer comes
// back) and nothing is completed twice (no used id out of flight, no
// duplicate frame), --strict.
TEST(RingWatch, RestartsMidRunLoseAndDuplicateNothing) {
  for (const char* args : {"--ring packed", "--ring split", "--ring packed --set in_order=1",
                           "--ring split --set in_order=1",
                           "--ring packed --set mrg_rxbuf=1 --set packet_bytes=3000 --set packet_bytes_max=6000",
                           "--ring split --set queue_pairs=2 --set ordering=weak"}) {
    const SimRun r =
        run_virtiosim(std::string("run --quiet --packets 20000 --set vhost.restart_every_us=25 --strict ") + args);
    ASSERT_EQ(r.exit_code, 0) << args << "\n" << r.output << r.report_text;
    EXPECT_GT(r.get<uint64_t>("faults.device_restarts"), 20u) << args;
    EXPECT_EQ(r.get<uint64_t>("packets.rx"), 20000u) << args;
    EXPECT_EQ(r.get<uint64_t>("monitor.violations"), 0u) << args;
    for (const auto& [k, q] : r.report.get_child("queues"))
      if (q.get<std::string>("name").rfind("tx", 0) == 0) {
        EXPECT_EQ(q.get<uint64_t>("driver.used"), q.get<uint64_t>("driver.added")) << args;
      }
  }
}

}  // namespace
}  // namespace virtiosim::testing

namespace virtiosim::testing {
namespace {

// P15: the driver resets TX queue 0 with buffers in flight, takes them back
// and enables the queue again. Every buffer comes back once (completed or
// taken back), every frame arrives once or was never sent, --strict.
TEST(QueueReset, MidRunWithBuffersInFlightLosesNothing) {
  for (const char* args : {"--ring packed", "--ring split", "--ring packed --set in_order=1 --set ordering=weak",
                           "--ring split --set vhost.busy_poll_ns=5000"}) {
    const SimRun r = run_virtiosim(std::string("run --quiet --packets 20000 --set driver.tx_batch=16 "
                                               "--set fault.reset_tx_at_us=1000 --strict ") + args);
    ASSERT_EQ(r.exit_code, 0) << args << "\n" << r.output << r.report_text;
    EXPECT_EQ(r.get<uint64_t>("faults.queue_resets"), 1u) << args;
    const uint64_t back = r.get<uint64_t>("packets.tx_taken_back_at_reset");
    const uint64_t lost = r.get<uint64_t>("packets.lost_at_reset");
    EXPECT_GT(back, 0u) << args << ": no buffer was in flight at the reset";
    EXPECT_LE(lost, back) << args;
    EXPECT_EQ(r.get<uint64_t>("packets.rx") + lost, 20000u) << args;
    EXPECT_EQ(r.get<uint64_t>("monitor.violations"), 0u) << args;
  }
}

TEST(QueueReset, NeedsTheFeature) {
  const SimRun r = run_virtiosim("run --quiet --set ring_reset=0 --set fault.reset_tx_at_us=100", false);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("fault.reset_tx_at_us"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace virtiosim::testing
