// The run as JUnit cases: one per monitor rule, its findings as evidence.
#include "sim/report/junit_cases.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "testbench/sim/report/synthetic_run.h"

namespace virtiosim::sim {
namespace {

const junit::TestCase& find_case(const junit::TestSuite& s, const std::string& name) {
  const auto it = std::find_if(s.cases.begin(), s.cases.end(), [&](const junit::TestCase& c) { return c.name == name; });
  if (it == s.cases.end()) throw std::runtime_error("no case " + name);
  return *it;
}

TEST(JUnitCases, OneCasePerRuleAllPassedOnACleanRun) {
  const RunFigures run = testing::synthetic_run();
  const junit::TestSuite s = junit_cases(run, judge(run));
  ASSERT_EQ(s.cases.size(), monitor_rules().size() + 2);  // + ring.error + run.verdict
  for (const junit::TestCase& c : s.cases) EXPECT_EQ(c.outcome, junit::Outcome::passed) << c.name;
  EXPECT_EQ(find_case(s, "P10.lost_kick").classname, "P10");
  EXPECT_EQ(find_case(s, "watchdog.stall").classname, "watchdog");
}

TEST(JUnitCases, AFindingFailsItsRuleWithTheEvidence) {
  RunFigures run = testing::synthetic_run();
  run.cfg.monitor.strict = true;
  run.cfg.monitor.disable.text = "P4";
  run.monitor.violations = 3;
  run.monitor.by_rule = {{"P2", 2}};
  run.monitor.first = {{"P2", "head flags 0x1 at slot 0", 1500, 0, 0x40001000, 0x1, 0x80, "tx0"},
                       {"ring.bad_ring_state", "restored ring state is out of range", 2500, 1, 0x40002000, 0, 0, "tx0"}};
  const Verdict v = judge(run);
  const junit::TestSuite s = junit_cases(run, v);
  const junit::TestCase& p2 = find_case(s, "P2");
  EXPECT_EQ(p2.outcome, junit::Outcome::failure);
  EXPECT_NE(p2.message.find("2 findings"), std::string::npos) << p2.message;
  EXPECT_NE(p2.text.find("t=1.500 ns queue=tx0 agent=0 addr=0x40001000 got=0x1 expected=0x80"), std::string::npos)
      << p2.text;
  EXPECT_NE(p2.text.find("1 more not kept"), std::string::npos) << p2.text;
  EXPECT_EQ(find_case(s, "P4").outcome, junit::Outcome::skipped);
  EXPECT_EQ(find_case(s, "P3").outcome, junit::Outcome::passed);
  const junit::TestCase& other = find_case(s, "ring.error");
  EXPECT_EQ(other.outcome, junit::Outcome::failure);
  EXPECT_NE(other.text.find("restored ring state"), std::string::npos);
  const junit::TestCase& verdict = find_case(s, "run.verdict");
  EXPECT_EQ(verdict.outcome, junit::Outcome::failure);  // --strict: the violations fail the run
  EXPECT_NE(verdict.text.find("strict"), std::string::npos) << verdict.text;
}

}  // namespace
}  // namespace virtiosim::sim
