// serve --check against our own front-end: normal traffic gives no
// finding, packed and split, polling and interrupt-driven; each fault that
// drive --fault injects is reported under its rule id, and only it, in the
// counters and the --json file. Then the arguments both refuse.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include "support/json_text.h"
#include "transport/vhost_user/cli.h"
#include "testbench/vhost_user/serve_peer.h"

namespace virtiosim::vhost_user {
namespace {

struct CheckedRun {
  int serve_rc = -1;
  DriveReport drive;
  json::Json doc;  // serve's --json

  std::vector<std::string> rules() const {
    std::vector<std::string> v;
    for (const auto& [rule, r] : doc["check"]["rules"].items()) v.push_back(rule);
    return v;
  }
  uint64_t findings() const { return doc["check"]["findings"].get<uint64_t>(); }
  uint64_t counter(const char* key) const { return doc["counters"][key].get<uint64_t>(); }
};

std::ostream& operator<<(std::ostream& os, const CheckedRun& r) {
  return os << "serve exit " << r.serve_rc << "; drive: " << r.drive.text() << "\nserve --json: " << json::dump(r.doc);
}

// drive `d` against `serve --check --mode echo --json FILE`. A fault that
// reconnects needs a serve that outlives the first connection: it is
// stopped with SIGTERM, as from a shell.
CheckedRun drive_against_checking_serve(DriveOptions d, uint32_t idle_poll_us = 200) {
  ServeOptions so = ServeThread::once(NetMode::echo);
  so.backend.check = true;
  so.idle_poll_us = idle_poll_us;
  so.once = d.fault != Fault::bad_vring_base;
  so.json_path = temp_socket("check") + ".json";
  ServeThread server(d.packed ? "check-packed" : "check-split", so);
  d.socket_path = server.options().socket_path;
  CheckedRun r;
  r.drive = run_drive(d);
  if (!so.once) ::kill(::getpid(), SIGTERM);
  r.serve_rc = server.join();
  std::ifstream in(so.json_path);
  r.doc = json::Json::parse(in, nullptr, false);
  std::filesystem::remove(so.json_path);
  return r;
}

struct NormalCase {
  bool packed;
  Notify notify;
  bool event_idx;
};

class CheckNormal : public testing::TestWithParam<NormalCase> {};

TEST_P(CheckNormal, NoFindingAndTrafficMoved) {
  const NormalCase& c = GetParam();
  DriveOptions d;
  d.packets = 20000;
  d.packed = c.packed;
  d.notify = c.notify;
  d.event_idx = c.event_idx;
  d.timeout_s = 10;
  const CheckedRun r = drive_against_checking_serve(d);
  EXPECT_EQ(exit_code(r.drive, d), 0) << r;
  EXPECT_EQ(r.serve_rc, 0) << r;
  ASSERT_TRUE(r.doc.contains("check")) << r;
  EXPECT_EQ(r.findings(), 0u) << r;
  EXPECT_EQ(r.counter("tx_packets"), d.packets) << r;
  EXPECT_EQ(r.counter("rx_packets"), d.packets) << r;
}

std::string normal_name(const testing::TestParamInfo<NormalCase>& i) {
  return std::string(i.param.packed ? "packed_" : "split_") + name(i.param.notify) +
         (i.param.event_idx ? "_event_idx" : "_flags");
}

INSTANTIATE_TEST_SUITE_P(ServeCheck, CheckNormal,
                         testing::Values(NormalCase{true, Notify::poll, true}, NormalCase{true, Notify::irq, true},
                                         NormalCase{true, Notify::irq, false}, NormalCase{false, Notify::poll, true},
                                         NormalCase{false, Notify::irq, true}, NormalCase{false, Notify::irq, false}),
                         normal_name);

struct FaultCase {
  Fault fault;
  bool packed;
};

class CheckFault : public testing::TestWithParam<FaultCase> {};

TEST_P(CheckFault, ReportedUnderItsRuleAlone) {
  const FaultCase& c = GetParam();
  const FaultInfo& f = info(c.fault);
  DriveOptions d;
  d.packets = 2000;
  d.packed = c.packed;
  d.fault = c.fault;
  d.timeout_s = 5;
  // The device says DISABLE only while it busy-polls; split says it with
  // NO_NOTIFY, which EVENT_IDX replaces.
  const bool suppress = c.fault == Fault::kick_while_suppressed;
  d.event_idx = !(suppress && !c.packed);
  // The watch judges a kick by the device's flags at the two kick reads
  // before it, and serve reads the kick eventfd every 64 polls: kicks
  // coalesce, so give it enough of them to read.
  if (suppress) d.packets = 50000;
  const CheckedRun r = drive_against_checking_serve(d, suppress ? kMaxPollUs : 200);
  EXPECT_TRUE(r.drive.fault_injected) << r;
  EXPECT_EQ(exit_code(r.drive, d), 0) << r;
  ASSERT_TRUE(r.doc.contains("check")) << r;
  EXPECT_EQ(r.rules(), std::vector<std::string>{f.rule}) << r;
  ASSERT_GE(r.findings(), 1u) << r;
  const json::Json& e = r.doc["check"]["rules"][f.rule]["evidence"][0];
  // RX is vring 0, TX vring 1: the rewrite hits RX, everything else TX.
  EXPECT_EQ(e["vring"].get<uint32_t>(), c.fault == Fault::rewrite_in_flight ? 0u : 1u) << r;
  for (const char* key : {"slot", "id", "flags", "wrap", "what"}) EXPECT_TRUE(e.contains(key)) << key << ": " << r;
  // A list the device cannot take breaks its ring (a ring error, exit 1);
  // findings alone exit 3.
  const bool breaks = c.fault == Fault::next_on_last || c.fault == Fault::write_on_head;
  EXPECT_EQ(r.serve_rc, breaks ? 1 : kServeFindings) << r;
}

std::string fault_name(const testing::TestParamInfo<FaultCase>& i) {
  return std::string(info(i.param.fault).name) + (i.param.packed ? "_packed" : "_split");
}

std::vector<FaultCase> fault_cases() {
  std::vector<FaultCase> v;
  for (const FaultInfo& f : kFaults) {
    if (f.iommu) continue;  // for serve's IOTLB, not its --check (iommu.sh)
    v.push_back({f.fault, true});
    if (!f.packed_only) v.push_back({f.fault, false});
  }
  return v;
}

INSTANTIATE_TEST_SUITE_P(ServeCheck, CheckFault, testing::ValuesIn(fault_cases()), fault_name);

// Without --check the same fault goes unreported: the counters carry no
// check and serve exits 0.
TEST(ServeCheck, OffReportsNothing) {
  ServeOptions so = ServeThread::once(NetMode::echo);
  so.json_path = temp_socket("nocheck") + ".json";
  ServeThread server("nocheck", so);
  DriveOptions d;
  d.packets = 2000;
  d.fault = Fault::rewrite_in_flight;
  d.socket_path = server.options().socket_path;
  const DriveReport rep = run_drive(d);
  EXPECT_TRUE(rep.fault_injected) << rep.text();
  EXPECT_EQ(server.join(), 0);
  std::ifstream in(so.json_path);
  const json::Json doc = json::Json::parse(in, nullptr, false);
  std::filesystem::remove(so.json_path);
  EXPECT_FALSE(doc.contains("check")) << json::dump(doc);
  EXPECT_EQ(doc["counters"]["tx_packets"].get<uint64_t>(), d.packets) << json::dump(doc);
}

// `virtiosim vhost-user ARGS...` without the process: the same app.
int run_cli(std::vector<std::string> args) {
  CLI::App app("", "vhost-user");
  const VhostUserCli cli(app);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());  // argv[0] is the program name
  } catch (const CLI::ParseError&) {
    return 2;
  }
  return cli.run();
}

TEST(ServeCheck, BadArgumentsAreRefused) {
  // A packed-ring rule on a split ring, an unknown fault, a frame the
  // rewritten buffer cannot hold: exit 2 before connecting anywhere.
  EXPECT_EQ(run_cli({"vhost-user", "drive", "--socket", "/nonexistent", "--ring", "split", "--fault",
                     "avail_encoding"}),
            2);
  EXPECT_EQ(run_cli({"vhost-user", "drive", "--socket", "/nonexistent", "--fault", "no_such_fault"}), 2);
  EXPECT_EQ(run_cli({"vhost-user", "drive", "--socket", "/nonexistent", "--fault", "rewrite_in_flight", "--size",
                     std::to_string(kMaxDriveFrame)}),
            2);
  // The IOMMU options: strict needs --iommu, and so does the IOMMU fault.
  EXPECT_EQ(run_cli({"vhost-user", "drive", "--socket", "/nonexistent", "--iommu-strict"}), 2);
  EXPECT_EQ(run_cli({"vhost-user", "drive", "--socket", "/nonexistent", "--fault", "unmap_in_flight"}), 2);
  // A --json file that cannot be written: exit 2 before listening.
  EXPECT_EQ(run_cli({"vhost-user", "serve", "--socket", temp_socket("badjson"), "--check", "--json",
                     "/nonexistent-dir/out.json"}),
            2);
}

}  // namespace
}  // namespace virtiosim::vhost_user
