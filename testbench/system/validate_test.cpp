// scripts/validate.py, as `make validate` runs it: every published row of
// scripts/validation/rows.json gets its simulated figures and a verdict in
// the table; the live row measures DPDK testpmd here when it is installed.
#include <gtest/gtest.h>

#include <boost/property_tree/json_parser.hpp>

#include <filesystem>

#include "testbench/system/run_virtiosim.h"

namespace virtiosim::testing {
namespace {

const std::filesystem::path kBuild = std::filesystem::path(VIRTIOSIM_BIN).parent_path().parent_path();
const std::filesystem::path kSource = VIRTIOSIM_SOURCE_DIR;

struct ScriptRun {
  int exit_code;
  std::string output, table;
};

ScriptRun validate(const std::string& args) {
  const std::filesystem::path dir = fresh_dir(), out = dir / "validation.md", log = dir / "log.txt";
  const std::string cmd = "/usr/bin/python3 " + (kSource / "scripts/validate.py").string() + " " + args +
                          " --out " + out.string() + " > " + log.string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(log),
          std::filesystem::exists(out) ? slurp(out) : ""};
}

// The table line of a row, or "" if it has none.
std::string table_line(const std::string& table, const std::string& id) {
  const size_t at = table.find("| " + id + " |");
  return at == std::string::npos ? "" : table.substr(at, table.find('\n', at) - at);
}

TEST(Validate, EveryPublishedRowIsSimulatedAndJudged) {
  const ScriptRun r = validate("--build " + kBuild.string() + " --no-live --packets 3000");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  boost::property_tree::ptree rows;
  boost::property_tree::read_json((kSource / "scripts/validation/rows.json").string(), rows);
  ASSERT_GE(rows.get_child("rows").size(), 6u);
  for (const auto& [k, row] : rows.get_child("rows")) {
    const std::string id = row.get<std::string>("id");
    const std::string line = table_line(r.table, id);
    ASSERT_FALSE(line.empty()) << id << "\n" << r.table;
    EXPECT_NE(line.find("Mpps ("), std::string::npos) << line;  // simulated before -> after (ratio)
    EXPECT_TRUE(line.find("agrees") != std::string::npos || line.find("off by") != std::string::npos) << line;
    // Its source and quote are in the document, for a reader to check.
    EXPECT_NE(r.table.find(row.get<std::string>("quote")), std::string::npos) << id;
  }
  EXPECT_EQ(r.table.find("| live:"), std::string::npos);
}

TEST(Validate, NoSimulatorIsAUsageError) {
  const ScriptRun r = validate("--build /nonexistent --no-live");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("no simulator"), std::string::npos) << r.output;
}

// One short rep of the live row: testpmd's own packed and split rates, and
// the model's, in one table line; each side's busy time per packet, from
// testpmd's cycle counts and from the model run with the defaults and with
// this machine's probed clock and line transfer.
TEST(Validate, LiveRowMeasuresTestpmdHere) {
  if (std::system("command -v dpdk-testpmd > /dev/null") != 0) GTEST_SKIP() << "dpdk-testpmd is not installed";
  const ScriptRun r = validate("--build " + kBuild.string() + " --packets 3000 --live-reps 1 --live-seconds 10");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string line = table_line(r.table, "live: testpmd virtio-user txonly → testpmd net_vhost rxonly, split → packed (this machine)");
  ASSERT_FALSE(line.empty()) << r.table;
  EXPECT_NE(r.output.find("live packed rep 1:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("live split rep 1:"), std::string::npos) << r.output;
  for (const char* row : {"measured", "model, defaults", "model, this machine's figures"}) {
    const std::string busy = table_line(r.table, row);
    ASSERT_FALSE(busy.empty()) << row << "\n" << r.table;
    EXPECT_EQ(busy.find(" 0 ns"), std::string::npos) << busy;  // every side measured and modelled
  }
  EXPECT_NE(r.table.find("one-way transfer of a modified line between CPUs 0 and 1"), std::string::npos);
}

}  // namespace
}  // namespace virtiosim::testing
