// The GTKWave save file of a recorded VCD (waves/record/gtkw.h): it names
// only signals the VCD holds, one group per queue, with its filter files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "testbench/waves/vcd_fixture.h"
#include "waves/read/vcd_reader.h"
#include "waves/record/gtkw.h"

namespace virtiosim::waves {
namespace {

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
