// The ring event decoder (waves/read/ring_events.h): its index arithmetic
// (packed wrap counters, split free-running indices), what it refuses, and
// the event kinds it names.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testbench/waves/vcd_fixture.h"
#include "waves/read/ring_events.h"

namespace virtiosim::waves {
namespace {

TEST(RingEventDecoder, PackedIndicesCountAcrossTheWrap) {
  // Size 8: the driver goes 0 -> 6, then 6 -> 2 with its wrap counter flipped (4 slots).
  const std::string body =
      "#200\nb110 s0\nb1 s12\n"
      "#300\nb10 s0\n0s1\nb110 s4\nb11 s12\n"
      "#400\nb10 s4\n0s5\nb101 s6\nb1 s13\nb10 s10\nb1000000000000101 s11\n";
  const auto p = write("packed.vcd", queue_vcd(true, 8, body));
  VcdReader r(p.string());
  RingEventDecoder d(r);
  ASSERT_EQ(d.queues().size(), 1u);
  EXPECT_EQ(d.queues()[0].name, "tx0");
  std::vector<RingEvent> ev;
  RingEvent e;
  while (d.next(e)) ev.push_back(e);
  ASSERT_EQ(ev.size(), 9u);
  EXPECT_EQ(ev[0].kind, EventKind::avail_published);
  EXPECT_EQ(ev[0].count, 6u);
  EXPECT_EQ(ev[0].time_ps, 200u);
  EXPECT_EQ(ev[1].kind, EventKind::kick);
  EXPECT_EQ(ev[1].count, 1u);
  EXPECT_EQ(ev[2].kind, EventKind::avail_published);
  EXPECT_EQ(ev[2].count, 4u);
  EXPECT_FALSE(ev[2].to_wrap);
  EXPECT_EQ(ev[3].kind, EventKind::kick);
  EXPECT_EQ(ev[3].count, 2u);  // two doorbells inside one sample period
  EXPECT_EQ(ev[4].kind, EventKind::avail_seen);
  EXPECT_EQ(ev[4].count, 6u);
  EXPECT_EQ(ev[5].kind, EventKind::avail_seen);
  EXPECT_EQ(ev[5].count, 4u);
  EXPECT_EQ(ev[6].kind, EventKind::used_written);
  EXPECT_EQ(ev[6].count, 5u);
  EXPECT_EQ(ev[7].kind, EventKind::interrupt);
  EXPECT_EQ(ev[8].kind, EventKind::device_area_write);
  EXPECT_EQ(ev[8].flags, 2u);
  EXPECT_EQ(ev[8].off_wrap, 0x8005u);
  // Events of one sample come in kind order whatever the file's order;
  // the device area write closes that sample.
  const auto s = summarize(p.string());
  ASSERT_EQ(s.queues.size(), 1u);
  EXPECT_EQ(s.queues[0].units[static_cast<unsigned>(EventKind::avail_published)], 10u);
  EXPECT_EQ(s.queues[0].units[static_cast<unsigned>(EventKind::kick)], 3u);
  EXPECT_EQ(s.queues[0].events[static_cast<unsigned>(EventKind::device_area_write)], 1u);
  ASSERT_TRUE(s.queues[0].kick_to_avail_seen.seen);
  EXPECT_EQ(s.queues[0].kick_to_avail_seen.effect_ps - s.queues[0].kick_to_avail_seen.cause_ps, 100u);
  EXPECT_NE(s.to_json().find("\"kick\": {\"events\": 2, \"count\": 3}"), std::string::npos) << s.to_json();
}

TEST(RingEventDecoder, SplitIndicesRunFreeAcrossU16) {
  const std::string body = "#200\nb1111111111111110 s0\n#300\nb11 s0\n";
  const auto p = write("split.vcd", queue_vcd(false, 4, body));
  VcdReader r(p.string());
  RingEventDecoder d(r);
  RingEvent a, b, end;
  ASSERT_TRUE(d.next(a));
  ASSERT_TRUE(d.next(b));
  EXPECT_FALSE(d.next(end));
  EXPECT_EQ(a.count, 65534u);
  EXPECT_EQ(b.count, 5u);  // 65534 -> 3 through 65535, 0
  EXPECT_FALSE(d.queues()[0].packed);
}

TEST(RingEventDecoder, RefusesAVcdWithoutQueues) {
  const auto p = write("none.vcd", "$scope module a $end\n$var wire 1 ! x $end\n$upscope $end\n$enddefinitions $end\n");
  VcdReader r(p.string());
  EXPECT_THROW(RingEventDecoder{r}, VcdError);
}

// A VCD from an older tracer (or not ours) is refused with the signal it lacks named.
TEST(RingEventDecoder, NamesTheSignalAQueueLacks) {
  std::string vcd = queue_vcd(true, 8, "");
  const std::string var = "$var wire 32 s6 device.last_used_idx [31:0] $end\n";
  ASSERT_NE(vcd.find(var), std::string::npos);
  vcd.erase(vcd.find(var), var.size());
  const auto p = write("lacking.vcd", vcd);
  VcdReader r(p.string());
  try {
    RingEventDecoder d(r);
    FAIL() << "a queue without device.last_used_idx accepted";
  } catch (const VcdError& e) {
    EXPECT_NE(std::string(e.what()).find("queue tx0 has no signal 'device.last_used_idx'"), std::string::npos)
        << e.what();
  }
}

TEST(EventKinds, NamesRoundTrip) {
  for (unsigned k = 0; k < kEventKinds; ++k) {
    const auto kind = static_cast<EventKind>(k);
    EXPECT_EQ(parse_event_kind(name(kind)), kind);
    EXPECT_NE(std::string(describe(kind)), "");
  }
  EXPECT_FALSE(parse_event_kind("barrier"));
}

}  // namespace
}  // namespace virtiosim::waves
