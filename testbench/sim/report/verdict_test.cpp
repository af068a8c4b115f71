// Stage 2: pass or fail, and why, from synthetic figures; and the
// conservation rule the run controller stops on.
#include <gtest/gtest.h>

#include "sim/report/verdict.h"
#include "testbench/sim/report/synthetic_run.h"

namespace virtiosim::sim {
namespace {

using testing::synthetic_run;

TEST(Conservation, ShortExactOrBeyondOnBothSums) {
  Accounting a;
  a.completed = 60, a.taken_back = 40;         // 100 TX buffers back
  a.received = 90, a.received_bad = 2, a.dropped = 5, a.lost_at_reset = 3;  // 100 frames
  EXPECT_EQ(conservation(a, 100, true).tx_buffers, Balance::exact);
  EXPECT_EQ(conservation(a, 100, true).frames, Balance::exact);
  EXPECT_TRUE(conservation(a, 100, true).complete());
  EXPECT_EQ(conservation(a, 101, true).tx_buffers, Balance::short_of);
  EXPECT_FALSE(conservation(a, 101, true).complete());
  EXPECT_EQ(conservation(a, 99, true).frames, Balance::beyond);
  EXPECT_TRUE(conservation(a, 99, true).complete());
}

TEST(Conservation, FramesAreNotCountedWithoutLoopback) {
  Accounting a;
  a.completed = 100;  // a sink wire: nothing comes back
  EXPECT_EQ(conservation(a, 100, false).frames, Balance::exact);
  EXPECT_TRUE(conservation(a, 100, false).complete());
  EXPECT_FALSE(conservation(a, 100, true).complete());
}

TEST(Verdict, EverythingAccountedForPasses) {
  const Verdict v = judge(synthetic_run());
  EXPECT_TRUE(v.ok);
  EXPECT_TRUE(v.errors.empty());
}

TEST(Verdict, RunErrorsComeFirstAndHideTheConservationChecks) {
  RunFigures r = synthetic_run();
  r.run_errors = {"stall: no progress"};
  r.traffic.completed = 10;
  const Verdict v = judge(r);
  EXPECT_FALSE(v.ok);
  ASSERT_EQ(v.errors.size(), 1u);
  EXPECT_EQ(v.errors[0], "stall: no progress");
}

TEST(Verdict, BadFramesAreErrors) {
  RunFigures r = synthetic_run();
  r.rx_corrupt = 1, r.rx_duplicate = 2, r.rx_unexpected = 3;
  const Verdict v = judge(r);
  ASSERT_EQ(v.errors.size(), 3u);
  EXPECT_EQ(v.errors[0], "1 received frames failed verification");
  EXPECT_EQ(v.errors[1], "2 frames received twice");
  EXPECT_EQ(v.errors[2], "3 frames that were never sent on that queue");
}

TEST(Verdict, TxBuffersNotBack) {
  RunFigures r = synthetic_run();
  r.traffic.completed = 990, r.traffic.taken_back = 5;
  const Verdict v = judge(r);
  ASSERT_EQ(v.errors.size(), 1u);
  EXPECT_EQ(v.errors[0], "TX buffers: sent 1000 != completed 990 + taken back at a queue reset 5");
}

TEST(Verdict, FramesMissingOnLoopbackButNotOnASink) {
  RunFigures r = synthetic_run();
  r.traffic.received = 900, r.traffic.dropped = 50, r.traffic.lost_at_reset = 10;
  Verdict v = judge(r);
  ASSERT_EQ(v.errors.size(), 1u);
  EXPECT_EQ(v.errors[0], "conservation: sent 1000 != received 900 + dropped 50 + taken back unsent at a queue reset 10");
  r.cfg.wire = device::Wire::sink;
  v = judge(r);
  EXPECT_TRUE(v.ok);
}

TEST(Verdict, StrictFailsOnTheFirstViolation) {
  RunFigures r = synthetic_run();
  r.monitor.violations = 3;
  r.monitor.first.push_back(Violation{"P13.avail_body", "body read before flags", 5000, 1, 0, 0, 0, "tx0"});
  EXPECT_TRUE(judge(r).ok);  // counted, not fatal
  r.cfg.monitor.strict = true;
  const Verdict v = judge(r);
  ASSERT_EQ(v.errors.size(), 1u);
  EXPECT_EQ(v.errors[0], "strict: 3 conformance violations, first P13.avail_body (body read before flags)");
}

}  // namespace
}  // namespace virtiosim::sim
