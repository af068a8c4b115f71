// Reading waves back: the streaming VCD reader, the ring event decoder's
// index arithmetic (packed wrap counters, split free-running indices), and
// the GTKWave save file naming only signals the VCD holds.
#include <gtest/gtest.h>

#include <bitset>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "waves/gtkw.h"
#include "waves/ring_events.h"
#include "waves/vcd_reader.h"

namespace virtiosim::waves {
namespace {

std::filesystem::path write(const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("virtiosim_waves_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  std::filesystem::create_directories(dir);
  const auto p = dir / name;
  std::ofstream(p) << text;
  return p;
}

// One queue in the tracer's shape; `body` holds the value changes after time 0.
std::string queue_vcd(bool packed, uint32_t size, const std::string& body) {
  std::ostringstream o;
  o << "$date x $end\n$timescale 1 ps $end\n$scope module SystemC $end\n$scope module tx0 $end\n";
  const char* sigs[] = {"driver.next_avail_idx", "driver.avail_wrap_counter", "driver.last_used_idx",
                        "driver.used_wrap_counter", "device.last_avail_idx", "device.avail_wrap_counter",
                        "device.last_used_idx", "device.used_wrap_counter", "driver_area.flags",
                        "driver_area.off_wrap", "device_area.flags", "device_area.off_wrap", "kicks",
                        "interrupts", "queue_size", "packed"};
  // Flat names with dots inside one scope read the same as nested scopes.
  for (int i = 0; i < 16; ++i) {
    const bool bit = std::string(sigs[i]).find("wrap_counter") != std::string::npos || i == 15;
    o << "$var wire " << (bit ? 1 : 32) << " s" << i << " " << sigs[i] << (bit ? "" : " [31:0]") << " $end\n";
  }
  o << "$upscope $end\n$upscope $end\n$enddefinitions $end\n#0\n$dumpvars\n";
  for (int i = 0; i < 16; ++i) {
    const bool bit = std::string(sigs[i]).find("wrap_counter") != std::string::npos || i == 15;
    if (bit) o << (i == 15 ? (packed ? "1" : "0") : "1") << "s" << i << "\n";
    else o << "b0 s" << i << "\n";
  }
  o << "$end\n#100\nb" << std::bitset<32>(size).to_string() << " s14\n" << body;
  return o.str();
}

TEST(VcdReader, ReadsScopesRangesScalarsAndTime) {
  const auto p = write("basic.vcd",
                       "$timescale 10 ns $end\n$scope module top $end\n$var wire 8 ! data [7:0] $end\n"
                       "$var wire 1 \" clk $end\n$var wire 4 # bus[3:0] $end\n$var wire 1 \" clk_alias $end\n"
                       "$upscope $end\n$enddefinitions $end\n$comment ignored $end\n#0\n$dumpvars\nb0 !\n0\"\nbx0 #\n$end\n"
                       "#5\nb101 !\n1\"\n");
  VcdReader r(p.string());
  ASSERT_EQ(r.vars().size(), 4u);
  EXPECT_EQ(r.vars()[0].name, "top.data");
  EXPECT_EQ(r.vars()[0].range, "[7:0]");
  EXPECT_EQ(r.vars()[0].width, 8u);
  EXPECT_EQ(r.vars()[2].name, "top.bus");
  EXPECT_EQ(r.vars()[2].range, "[3:0]");
  EXPECT_EQ(r.find("top.clk"), 1);
  EXPECT_EQ(r.find("top.nothing"), -1);
  EXPECT_DOUBLE_EQ(r.unit_ps(), 10000);
  std::vector<VcdChange> all;
  VcdChange c;
  while (r.next(c)) all.push_back(c);
  // The alias code yields one change per variable it names.
  ASSERT_EQ(all.size(), 7u);
  EXPECT_FALSE(all[3].known);  // bx0
  EXPECT_EQ(all[4].time, 5u);
  EXPECT_EQ(all[4].value, 5u);
  EXPECT_EQ(all[5].value, 1u);
  EXPECT_EQ(all[6].value, 1u);
}

TEST(VcdReader, BadFilesNameTheLine) {
  EXPECT_THROW(VcdReader("/nonexistent/x.vcd"), VcdError);
  const auto p = write("bad.vcd", "$scope module a $end\n$var wire 1 ! x $end\n$enddefinitions $end\n#1\n1?\n");
  VcdReader r(p.string());
  VcdChange c;
  try {
    r.next(c);
    FAIL() << "unknown identifier accepted";
  } catch (const VcdError& e) {
    EXPECT_NE(std::string(e.what()).find(":5: unknown identifier '?'"), std::string::npos) << e.what();
  }
}

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

TEST(EventKinds, NamesRoundTrip) {
  for (unsigned k = 0; k < kEventKinds; ++k) {
    const auto kind = static_cast<EventKind>(k);
    EXPECT_EQ(parse_event_kind(name(kind)), kind);
    EXPECT_NE(std::string(describe(kind)), "");
  }
  EXPECT_FALSE(parse_event_kind("barrier"));
}

TEST(Gtkw, NamesOnlySignalsOfTheVcdGroupedPerQueue) {
  const auto p = write("g.vcd", queue_vcd(true, 8, "#200\nb1 s0\n"));
  const std::vector<std::string> written = write_gtkw(p.string());
  ASSERT_EQ(written.size(), 3u);
  EXPECT_EQ(written[0], gtkw_path_for(p.string()));
  VcdReader r(p.string());
  std::set<std::string> names;
  for (const VcdVar& v : r.vars()) names.insert(v.name + v.range);
  std::ifstream in(written[0]);
  std::string line;
  int signals = 0, groups = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '[' || line[0] == '@' || line[0] == '*') continue;
    if (line[0] == '-') {
      ++groups;
      continue;
    }
    if (line[0] == '^') {
      EXPECT_TRUE(std::filesystem::exists(line.substr(line.find(' ') + 1))) << line;
      continue;
    }
    EXPECT_TRUE(names.count(line)) << line;
    ++signals;
  }
  EXPECT_EQ(signals, 16);
  EXPECT_EQ(groups, 2);  // the begin and end markers of tx0
  std::ifstream filter(written[1]);
  std::getline(filter, line);
  EXPECT_EQ(line, "0 ENABLE");
}

}  // namespace
}  // namespace virtiosim::waves
