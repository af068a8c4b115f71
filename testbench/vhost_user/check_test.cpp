// The conformance checker's own judgments, on ring memory written by hand
// as a back-end would: every rule it names must fire on the bug and stay
// quiet on the right behaviour. (The catalogue itself runs against serve
// and DPDK in conformance.sh.)
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <set>

#include "models/ring/features.h"
#include "transport/vhost_user/check/check.h"
#include "transport/vhost_user/check/observe.h"
#include "transport/vhost_user/check/packed_front.h"
#include "transport/vhost_user/check/scenario.h"

namespace virtiosim::vhost_user::check {
namespace {

using ring::kDescAvail;
using ring::kDescNext;
using ring::kDescUsed;
using ring::kDescWrite;

class Judge : public ::testing::Test {
 protected:
  GuestMemfd mem{1 << 20};
  PackedFront ring{mem, 8};

  // What a device writes to mark slot `slot` used.
  void device_writes(uint16_t slot, uint16_t id, uint32_t len, uint16_t flags) {
    uint8_t* p = mem.host(ring.desc_area() + 16u * slot);
    std::memcpy(p + 8, &len, 4);
    std::memcpy(p + 12, &id, 2);
    std::memcpy(p + 14, &flags, 2);
  }
  Violation take() {
    Violation v;
    ring.take_used(v);
    return v;
  }
};

TEST_F(Judge, SoundUsedDescriptorIsTakenAndSkipsTheList) {
  const std::vector<Desc> list{{mem.alloc(64), 64, 0, kDescNext}, {mem.alloc(64), 64, 0, 0}};
  ring.add(list, 5);
  device_writes(0, 5, 0, kDescAvail | kDescUsed);
  Violation v;
  const auto u = ring.take_used(v);
  ASSERT_TRUE(u);
  EXPECT_FALSE(v);
  EXPECT_EQ(u->id, 5);
  EXPECT_EQ(ring.next_used(), 2);  // P6.6: the list's length skipped
  EXPECT_EQ(ring.in_flight(), 0u);
}

TEST_F(Judge, NothingUsedWhileOnlyTheDriversFlagsAreThere) {
  ring.add_one(mem.alloc(64), 64, 1);
  Violation v;
  EXPECT_FALSE(ring.take_used(v));
  EXPECT_FALSE(v);
}

TEST_F(Judge, UsedBitWithoutAvailIsP2) {
  ring.add_one(mem.alloc(64), 64, 1);
  device_writes(0, 1, 0, kDescUsed);  // USED == wrap, AVAIL != USED
  EXPECT_STREQ(take().rule, "P2");
}

TEST_F(Judge, IdNeverMadeAvailableIsP3) {
  ring.add_one(mem.alloc(64), 64, 1);
  device_writes(0, 2, 0, kDescAvail | kDescUsed);
  EXPECT_STREQ(take().rule, "P3");
}

TEST_F(Judge, IdReturnedTwiceIsP3) {
  ring.add_one(mem.alloc(64), 64, 1);
  ring.add_one(mem.alloc(64), 64, 2);
  device_writes(0, 1, 0, kDescAvail | kDescUsed);
  EXPECT_FALSE(take());
  device_writes(1, 1, 0, kDescAvail | kDescUsed);
  EXPECT_STREQ(take().rule, "P3");
}

TEST_F(Judge, LenBeyondWritableBytesIsP5) {
  ring.add_one(mem.alloc(64), 64, 1, kDescWrite);
  device_writes(0, 1, 65, kDescAvail | kDescUsed);
  EXPECT_STREQ(take().rule, "P5");
}

TEST_F(Judge, ReservedFieldsOnlyWhenAsked) {
  ring.add_one(mem.alloc(64), 64, 1);
  ring.add_one(mem.alloc(64), 64, 2);
  // A TX buffer's len left as the driver wrote it, and NEXT kept: a habit
  // judged only by the dedicated scenario.
  device_writes(0, 1, 64, kDescAvail | kDescUsed | kDescNext);
  EXPECT_FALSE(take());
  ring.judge_reserved_fields(true);
  device_writes(1, 2, 64, kDescAvail | kDescUsed);
  EXPECT_STREQ(take().rule, "P5");
  device_writes(1, 2, 0, kDescAvail | kDescUsed | kDescNext);
  EXPECT_STREQ(take().rule, "P5");
}

TEST_F(Judge, SecondLapNeedsTheFlippedWrap) {
  for (uint16_t i = 0; i < 8; ++i) {
    ring.add_one(mem.alloc(64), 64, i);
    device_writes(i, i, 0, kDescAvail | kDescUsed);
    ASSERT_FALSE(take());
  }
  EXPECT_FALSE(ring.used_wrap());
  ring.add_one(mem.alloc(64), 64, 0);
  device_writes(0, 0, 0, kDescAvail | kDescUsed);  // the first lap's encoding again
  Violation v;
  EXPECT_FALSE(ring.take_used(v));                 // not a used descriptor in wrap 0
  device_writes(0, 0, 0, 0);
  EXPECT_TRUE(ring.take_used(v));
  EXPECT_FALSE(v);
}

TEST_F(Judge, BodiesBeforeFlagsHeadLast) {
  const std::vector<std::vector<Desc>> lists{{{mem.alloc(8), 8, 0, 0}}, {{mem.alloc(8), 8, 0, 0}}};
  const uint16_t ids[] = {0, 1};
  ring.add_batch(lists, ids);
  EXPECT_EQ(ring.read_desc(0).flags, kDescAvail);
  EXPECT_EQ(ring.read_desc(1).flags, kDescAvail);
  EXPECT_EQ(ring.read_desc(1).id, 1);
  EXPECT_EQ(ring.next_avail(), 2);
}

// P11 as the checker computes it, on cases worked by hand.
TEST(EventOracle, WindowNotEquality) {
  // Ring of 8, the device moves 2 -> 5 in wrap 1: events 2, 3, 4 are crossed.
  for (uint16_t e = 0; e < 8; ++e)
    EXPECT_EQ(event_crossed(static_cast<uint16_t>(e | 0x8000), 2, 5, true, 8), e >= 2 && e <= 4) << e;
  // The same step with the event in the other lap: nothing crossed.
  for (uint16_t e = 0; e < 8; ++e) EXPECT_FALSE(event_crossed(e, 2, 5, true, 8)) << e;
  // Across the end: 6 -> 1, now in wrap 0; events 6 and 7 of wrap 1, 0 of wrap 0.
  EXPECT_TRUE(event_crossed(0x8006, 6, 1, false, 8));
  EXPECT_TRUE(event_crossed(0x8007, 6, 1, false, 8));
  EXPECT_TRUE(event_crossed(0x0000, 6, 1, false, 8));
  EXPECT_FALSE(event_crossed(0x0001, 6, 1, false, 8));
  EXPECT_FALSE(event_crossed(0x8005, 6, 1, false, 8));
}

TEST(Catalogue, BigEnoughNamedOnceTiedToRules) {
  const std::vector<Scenario> all = catalogue();
  EXPECT_GE(all.size(), 80u);
  std::set<std::string> names;
  for (const Scenario& s : all) {
    EXPECT_TRUE(names.insert(s.name).second) << "twice: " << s.name;
    EXPECT_FALSE(s.rule.empty()) << s.name;
    EXPECT_NE(s.statement.find(s.rule.substr(0, 2)), std::string::npos) << s.name << ": statement names its rule";
    EXPECT_TRUE(s.raw ? bool(s.run_raw) : bool(s.run)) << s.name;
  }
}

TEST(Catalogue, VerdictsAcceptedByInput) {
  Scenario valid, hostile;
  hostile.input = Input::hostile;
  EXPECT_TRUE(accepted(valid, Verdict::PASS));
  EXPECT_FALSE(accepted(valid, Verdict::REJECT));  // refusing valid traffic is a defect
  EXPECT_TRUE(accepted(hostile, Verdict::REJECT));
  EXPECT_FALSE(accepted(hostile, Verdict::FAIL));
  EXPECT_FALSE(accepted(hostile, Verdict::WEDGED));
}

TEST(CheckCommand, BadExpectFileAndUnknownScenarioAreBadArguments) {
  CheckOptions o;
  o.socket_path = "/nonexistent/sock";
  o.expect_path = ::testing::TempDir() + "/bad.expect";
  std::ofstream(o.expect_path) << "wrap/size-1/one-by-one MAYBE\n";
  EXPECT_EQ(run_check(o), kCheckBadArguments);
  std::ofstream(o.expect_path) << "no/such/scenario FAIL\n";
  EXPECT_EQ(run_check(o), kCheckBadArguments);
  o.expect_path.clear();
  o.scenarios = {"no/such/*"};
  EXPECT_EQ(run_check(o), kCheckBadArguments);
  o.scenarios.clear();
  EXPECT_EQ(run_check(o), kCheckFailed);  // nothing listening
}

}  // namespace
}  // namespace virtiosim::vhost_user::check
