// The tracer's VCD writer (waves/record/vcd_writer.h): streaming, it writes
// a value only when it changed, under the sample's time, with no wall-clock
// date; as a triggered window it writes the state at the window's start and
// the changes after it, up to half a window past the trigger, or the last
// window at the end. Read back with our VCD reader.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "testbench/waves/vcd_fixture.h"
#include "waves/read/vcd_reader.h"
#include "waves/record/vcd_writer.h"

namespace virtiosim::waves {
namespace {

std::string slurp(const std::string& path) {
  std::ostringstream o;
  o << std::ifstream(path).rdbuf();
  return o.str();
}

// (time, name, value) of every value in file order, $dumpvars first.
struct Seen {
  uint64_t time;
  std::string name;
  uint64_t value;
  bool operator==(const Seen& o) const { return time == o.time && name == o.name && value == o.value; }
};
std::vector<Seen> read_back(const std::string& path) {
  VcdReader r(path);
  std::vector<Seen> out;
  VcdChange c;
  while (r.next(c)) out.push_back({c.time, r.vars()[c.var].name, c.value});
  return out;
}

// Samples every 100 ps: `a` counts up every other sample, `b` stays 1.
void samples(VcdWriter& w, uint64_t n, uint64_t trigger_at = 0) {
  const VcdWriter::Id a = w.add("q.a", 16), b = w.add("q.sub.b", 1);
  for (uint64_t i = 0; i < n; ++i) {
    w.begin_sample(100 * i);
    w.set(a, i / 2);
    w.set(b, 1);
    if (trigger_at && i * 100 == trigger_at) w.trigger(100 * i);
  }
  w.close(100 * n);
}

TEST(VcdWriter, StreamsOnlyChangesUnderTheirTime) {
  const std::string p = write("stream.vcd", "").string();
  {
    VcdWriter w(p, 0);
    samples(w, 6);
  }
  const std::string text = slurp(p);
  EXPECT_EQ(text.find("$date virtiosim (deterministic) $end"), 0u);
  EXPECT_NE(text.find("$scope module SystemC $end\n$scope module q $end\n$var wire 16 ! a [15:0] $end\n"
                      "$scope module sub $end\n$var wire 1 \" b $end\n"),
            std::string::npos)
      << text;
  // The first sample is the $dumpvars; then a at 200 and 400 only; b never again.
  const std::vector<Seen> want = {{0, "SystemC.q.a", 0}, {0, "SystemC.q.sub.b", 1}, {200, "SystemC.q.a", 1},
                                  {400, "SystemC.q.a", 2}};
  EXPECT_EQ(read_back(p), want);
  EXPECT_EQ(text.substr(text.size() - 5), "#600\n");  // the end of the run closes the file
}

TEST(VcdWriter, WindowKeepsTheLastStretchWithItsStartingState) {
  const std::string p = write("last.vcd", "").string();
  {
    VcdWriter w(p, 300);
    samples(w, 20);  // no trigger: the last 300 ps of 2000
  }
  const std::vector<Seen> want = {{1700, "SystemC.q.a", 8}, {1700, "SystemC.q.sub.b", 1}, {1800, "SystemC.q.a", 9}};
  EXPECT_EQ(read_back(p), want);
}

TEST(VcdWriter, TriggerKeepsAWindowBeforeAndHalfAWindowAfter) {
  const std::string p = write("trig.vcd", "").string();
  VcdWriter w(p, 400);
  const VcdWriter::Id a = w.add("q.a", 16);
  for (uint64_t i = 0; i < 40 && !w.done(); ++i) {
    w.begin_sample(100 * i);
    w.set(a, i);
    if (i == 10) w.trigger(1000);
  }
  EXPECT_TRUE(w.done());  // written at 1000 + 200: later samples are not kept
  w.close(4000);
  std::vector<Seen> want = {{600, "SystemC.q.a", 6}};
  for (uint64_t t = 700; t < 1200; t += 100) want.push_back({t, "SystemC.q.a", t / 100});
  EXPECT_EQ(read_back(p), want);
  const std::string text = slurp(p);
  EXPECT_EQ(text.substr(text.size() - 6), "#1200\n");
}

}  // namespace
}  // namespace virtiosim::waves
