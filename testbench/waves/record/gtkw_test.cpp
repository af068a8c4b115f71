// The GTKWave save file of a recorded VCD (waves/record/gtkw.h): it names
// only signals the VCD holds, one group per queue with driver and device
// sub-groups, one radix per kind, with its filter files. The view window
// and markers over real runs: testbench/waves/run/waves_run_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
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
  std::vector<std::string> groups, shown;
  std::string flags;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '[' || line[0] == '*') continue;
    if (line[0] == '@') {
      flags = line.substr(1);
      continue;
    }
    if (line[0] == '-') {
      groups.push_back(line.substr(1));
      continue;
    }
    if (line[0] == '^') {
      EXPECT_TRUE(std::filesystem::exists(line.substr(line.find(' ') + 1))) << line;
      continue;
    }
    // "+{tx0/driver/last_used_idx} SystemC.tx0.driver.last_used_idx[31:0]": shown below the top scope.
    ASSERT_EQ(line.substr(0, 2), "+{") << line;
    const std::string alias = line.substr(2, line.find('}') - 2), name = line.substr(line.find("} ") + 2);
    EXPECT_TRUE(names.count(name)) << line;
    std::string dotted = alias;
    std::replace(dotted.begin(), dotted.end(), '/', '.');
    EXPECT_EQ("SystemC." + dotted, name.substr(0, name.find('['))) << line;
    shown.push_back(alias);
    // One radix per kind: one-bit in binary (0x8), flags by name (filter), every other value decimal (0x4).
    const unsigned f = std::stoul(flags, nullptr, 16);
    if (alias.find("wrap_counter") != std::string::npos || alias == "tx0/packed") EXPECT_EQ(f & 0xe, 0x8u) << line;
    else EXPECT_EQ(f & 0xe, 0x4u) << line;
    EXPECT_EQ((f & 0x2000) != 0, alias.find("area/flags") != std::string::npos) << line;
  }
  EXPECT_EQ(shown.size(), 16u);
  // Driver and device apart, with distinct names; each sub-group opened and closed.
  EXPECT_EQ(groups, (std::vector<std::string>{"tx0", "tx0.driver", "tx0.driver", "tx0.device", "tx0.device",
                                              "tx0.driver_area", "tx0.driver_area", "tx0.device_area",
                                              "tx0.device_area", "tx0"}));
  EXPECT_EQ(shown[2], "tx0/driver/last_used_idx");
  EXPECT_EQ(shown[6], "tx0/device/last_used_idx");
  std::ifstream filter(written[1]);
  std::getline(filter, line);
  EXPECT_EQ(line, "0 ENABLE");
}

}  // namespace
}  // namespace virtiosim::waves
