// The streaming VCD reader (waves/read/vcd_reader.h): scopes, ranges,
// scalars, aliases and time units; a bad file names its line.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testbench/waves/vcd_fixture.h"
#include "waves/read/vcd_reader.h"

namespace virtiosim::waves {
namespace {

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

}  // namespace
}  // namespace virtiosim::waves
