// System scenarios: each runs the whole platform (driver, virtio-PCI,
// vhost-net, modeled memory) in its own process and checks conservation —
// every frame sent is received intact (the driver verifies every byte and
// every sequence number) or counted as dropped with a reason — plus what
// the scenario is about.
#include <gtest/gtest.h>

#include <functional>

#include "testbench/system/run_virtiosim.h"

namespace virtiosim::testing {
namespace {

constexpr int kPackets = 3000;

void expect_conserved(const SimRun& r, bool loopback = true) {
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.get<std::string>("result"), "ok") << r.report_text;
  EXPECT_EQ(r.get<uint64_t>("packets.tx"), static_cast<uint64_t>(kPackets));
  if (loopback) {
    const uint64_t dropped = r.get<uint64_t>("packets.dropped.wire_queue_full") +
                             r.get<uint64_t>("packets.dropped.rx_buffer_too_small");
    EXPECT_EQ(r.get<uint64_t>("packets.rx") + dropped, static_cast<uint64_t>(kPackets));
  }
  EXPECT_TRUE(r.report.get_child("errors").empty());
}

// The value of `field` in the report's entry for queue `name`.
uint64_t queue_stat(const SimRun& r, const std::string& name, const std::string& field) {
  for (const auto& [k, q] : r.report.get_child("queues"))
    if (q.get<std::string>("name") == name) return q.get<uint64_t>(field);
  ADD_FAILURE() << "no queue " << name;
  return 0;
}

struct Scenario {
  const char* name;
  const char* args;
  std::function<void(const SimRun&)> check;
};

class SystemScenario : public ::testing::TestWithParam<Scenario> {};

TEST_P(SystemScenario, EveryFrameIsAccountedFor) {
  const Scenario& s = GetParam();
  const SimRun r = run_virtiosim("run --quiet --packets " + std::to_string(kPackets) + " " + s.args);
  if (std::string(s.args).find("wire=sink") != std::string::npos) {
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.get<std::string>("result"), "ok");
    EXPECT_EQ(r.get<uint64_t>("packets.tx"), static_cast<uint64_t>(kPackets));
    EXPECT_EQ(r.get<uint64_t>("packets.rx"), 0u);
  } else {
    expect_conserved(r);
  }
  if (s.check) s.check(r);
}

INSTANTIATE_TEST_SUITE_P(
    Matrix, SystemScenario,
    ::testing::Values(
        Scenario{"packed", "--ring packed",
                 [](const SimRun& r) { EXPECT_EQ(r.get<std::string>("config.ring"), "packed"); }},
        Scenario{"split", "--ring split",
                 [](const SimRun& r) { EXPECT_EQ(r.get<std::string>("config.ring"), "split"); }},
        Scenario{"ordering_sc", "--set ordering=sc",
                 [](const SimRun& r) { EXPECT_EQ(r.get<uint64_t>("memory.stores_reordered"), 0u); }},
        Scenario{"ordering_tso", "--set ordering=tso",
                 [](const SimRun& r) { EXPECT_EQ(r.get<uint64_t>("memory.stores_reordered"), 0u); }},
        Scenario{"ordering_weak", "--set ordering=weak",
                 [](const SimRun& r) { EXPECT_GT(r.get<uint64_t>("memory.stores_reordered"), 0u); }},
        Scenario{"split_weak", "--ring split --set ordering=weak", nullptr},
        Scenario{"timing_at", "--set timing=at",
                 [](const SimRun& r) { EXPECT_EQ(r.get<std::string>("timing_mode"), "at"); }},
        Scenario{"busy_poll", "--set vhost.busy_poll_ns=20000",
                 [](const SimRun& r) { EXPECT_LT(r.get("kicks.per_packet"), 0.01); }},
        Scenario{"no_event_idx", "--set event_idx=0", nullptr},
        Scenario{"indirect", "--set indirect=1 --set driver.tx_segments=2",
                 [](const SimRun& r) { EXPECT_EQ(queue_stat(r, "tx0", "driver.indirect"), uint64_t{kPackets}); }},
        Scenario{"chained_tx", "--set driver.tx_segments=2 --ring split",
                 [](const SimRun& r) { EXPECT_EQ(queue_stat(r, "tx0", "driver.indirect"), 0u); }},
        Scenario{"queue_size_1000", "--queue-size 1000",
                 [](const SimRun& r) { EXPECT_EQ(r.get<uint32_t>("config.queue_size"), 1000u); }},
        Scenario{"mergeable_off", "--set mrg_rxbuf=0", nullptr},
        Scenario{"mergeable_large_frames", "--set packet_bytes_max=4000",
                 [](const SimRun& r) {
                   // Frames above one 1536-byte buffer took several (P9).
                   EXPECT_GT(queue_stat(r, "rx0", "device.used"), r.get<uint64_t>("packets.rx"));
                 }},
        Scenario{"queue_pairs_4", "--set queue_pairs=4",
                 [](const SimRun& r) {
                   for (int q = 0; q < 4; ++q)
                     EXPECT_GT(queue_stat(r, "tx" + std::to_string(q), "driver.added"), 0u) << q;
                 }},
        Scenario{"pcie", "--set path=pcie --set metadata=dma",
                 [](const SimRun& r) { EXPECT_EQ(r.get<std::string>("config.path"), "pcie"); }},
        Scenario{"uaccess", "--set metadata=uaccess", nullptr},
        Scenario{"notification_data", "--set notification_data=1", nullptr},
        Scenario{"in_order_packed", "--set in_order=1",
                 [](const SimRun& r) {
                   EXPECT_LT(queue_stat(r, "tx0", "device.used_descs_written"), queue_stat(r, "tx0", "device.used"));
                 }},
        Scenario{"in_order_split", "--ring split --set in_order=1", nullptr},
        Scenario{"sink", "--set wire=sink", nullptr},
        Scenario{"pmd_packed", "--set driver.kind=pmd",
                 [](const SimRun& r) {
                   EXPECT_EQ(r.report.get_child("config").get<std::string>(
                                 boost::property_tree::ptree::path_type("driver.kind", '/')),
                             "pmd");
                 }},
        Scenario{"pmd_split_weak", "--set driver.kind=pmd --ring split --set ordering=weak", nullptr},
        Scenario{"pmd_user_sink", "--set driver.kind=pmd --set path=user --set wire=sink", nullptr},
        Scenario{"pmd_mergeable_large_frames", "--set driver.kind=pmd --set packet_bytes_max=4000 --set driver.burst=8",
                 nullptr}),
    [](const ::testing::TestParamInfo<Scenario>& i) { return std::string(i.param.name); });

// Same config and seed: the same report (wall-clock figures aside) and the
// same waves, byte for byte; another seed changes the weak-ordering run.
TEST(System, DeterministicReportAndWaves) {
  const std::string args = "run --quiet --packets 2000 --set ordering=weak --set packet_bytes_max=300";
  const std::filesystem::path vcd_a = fresh_dir() / "a.vcd", vcd_b = fresh_dir() / "b.vcd";
  SimRun a = run_virtiosim(args + " --seed 7 --vcd " + vcd_a.string());
  SimRun b = run_virtiosim(args + " --seed 7 --vcd " + vcd_b.string());
  SimRun c = run_virtiosim(args + " --seed 8");
  ASSERT_EQ(a.exit_code, 0) << a.output;
  ASSERT_EQ(b.exit_code, 0) << b.output;
  ASSERT_EQ(c.exit_code, 0) << c.output;
  auto without_wall = [](SimRun& r) {
    r.report.erase("wall");
    std::ostringstream o;
    boost::property_tree::write_json(o, r.report);
    return o.str();
  };
  EXPECT_EQ(without_wall(a), without_wall(b));
  EXPECT_NE(without_wall(a), without_wall(c));
  const std::string wa = slurp(vcd_a), wb = slurp(vcd_b);
  EXPECT_GT(wa.size(), 10000u);
  EXPECT_EQ(wa, wb);
}

// Loosely timed (quantum) and approximately timed (wait per access) runs
// move the same frames to the same end.
TEST(System, TimingModesAgreeFunctionally) {
  const SimRun lt = run_virtiosim("run --quiet --packets 2000 --set timing=lt");
  const SimRun at = run_virtiosim("run --quiet --packets 2000 --set timing=at");
  for (const SimRun* r : {&lt, &at}) {
    ASSERT_EQ(r->exit_code, 0) << r->output;
    EXPECT_EQ(r->get<uint64_t>("packets.rx"), 2000u);
    EXPECT_EQ(r->get<uint64_t>("packets.rx_bytes"), r->get<uint64_t>("packets.tx_bytes"));
  }
  EXPECT_EQ(lt.get<uint64_t>("packets.tx_bytes"), at.get<uint64_t>("packets.tx_bytes"));
  EXPECT_EQ(lt.get<std::string>("timing_mode"), "lt");
}

// Two runs set side by side; a failed one fails the test and says why.
std::pair<SimRun, SimRun> both(const std::string& a, const std::string& b) {
  std::pair<SimRun, SimRun> r{run_virtiosim(a), run_virtiosim(b)};
  EXPECT_EQ(r.first.exit_code, 0) << a << "\n" << r.first.output;
  EXPECT_EQ(r.second.exit_code, 0) << b << "\n" << r.second.output;
  return r;
}

// The cost model moves results the way physics says it should.
TEST(System, SlowerCacheLineTransfersLowerThroughput) {
  const auto [fast, slow] = both("run --quiet --packets 3000 --set memory.remote_transfer_ns=60",
                                 "run --quiet --packets 3000 --set memory.remote_transfer_ns=300");
  EXPECT_LT(slow.get("rates.tx_mpps"), fast.get("rates.tx_mpps"));
  EXPECT_GT(fast.get("memory.cache_line_transfers_per_packet"), 1.0);
}

// A copy's cache lines are fetched together (memory.line_fill_buffers):
// with one buffer each line of a payload waits for the one before it.
TEST(System, OverlappedCopyMissesRaiseThroughput) {
  const std::string sink = "run --quiet --packets 3000 --set wire=sink --set packet_bytes=1024 --set packet_bytes_max=1024 ";
  const auto [overlapped, serial] = both(sink, sink + "--set memory.line_fill_buffers=1");
  EXPECT_GT(serial.get("cpu_ns_per_packet.device"), overlapped.get("cpu_ns_per_packet.device") + 200);
  // The lines still move: a 1 KB frame is 17 of them each way.
  EXPECT_GT(overlapped.get("memory.cache_line_transfers_per_packet"), 17.0);
}

// pktgen calls start_xmit with a cloned skb: with a device that keeps up,
// the driver's cheaper per-packet work is the rate.
TEST(System, PktgenTxSourceCostsLessThanTheStack) {
  const std::string sink = "run --quiet --packets 3000 --set wire=sink --set vhost.busy_poll_ns=1e9 ";
  const auto [stack, pktgen] = both(sink, sink + "--set driver.tx_source=pktgen");
  EXPECT_EQ(pktgen.report.get_child("config").get<std::string>(
                boost::property_tree::ptree::path_type("driver.tx_source", '/')),
            "pktgen");
  EXPECT_EQ(pktgen.get<uint64_t>("packets.tx"), 3000u);
  EXPECT_GT(pktgen.get("rates.tx_mpps"), 1.3 * stack.get("rates.tx_mpps"));
}

TEST(System, UaccessCostsTheDeviceMoreThanDirectAccess) {
  const auto [direct, uaccess] =
      both("run --quiet --packets 3000 --set metadata=direct", "run --quiet --packets 3000 --set metadata=uaccess");
  EXPECT_GT(uaccess.get("cpu_ns_per_packet.device"), direct.get("cpu_ns_per_packet.device"));
}

TEST(System, EventIdxSuppressesKicksAndInterrupts) {
  const auto [on, off] =
      both("run --quiet --packets 3000 --set event_idx=1", "run --quiet --packets 3000 --set event_idx=0");
  EXPECT_LT(on.get("kicks.per_packet"), off.get("kicks.per_packet"));
  EXPECT_LT(on.get("interrupts.per_packet"), off.get("interrupts.per_packet"));
  EXPECT_GT(on.get<uint64_t>("kicks.suppressed"), 0u);
}

// Bad configuration: exit code 2 and a message naming the key.
struct BadConfig {
  const char* name;
  const char* args;
  const char* must_mention;
};

class SystemBadConfig : public ::testing::TestWithParam<BadConfig> {};

TEST_P(SystemBadConfig, IsRejectedNamingTheKey) {
  const SimRun r = run_virtiosim(std::string("run --quiet --packets 10 ") + GetParam().args, false);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(GetParam().must_mention), std::string::npos) << r.output;
}

INSTANTIATE_TEST_SUITE_P(
    Keys, SystemBadConfig,
    ::testing::Values(BadConfig{"zero_queue", "--queue-size 0", "'queue_size'"},
                      BadConfig{"huge_queue", "--queue-size 40000", "'queue_size'"},
                      BadConfig{"split_not_pow2", "--ring split --queue-size 1000", "power of two"},
                      BadConfig{"unknown_key", "--set no_such_key=1", "'no_such_key'"},
                      BadConfig{"bad_enum", "--set ordering=relaxed", "sc|tso|weak"},
                      BadConfig{"not_a_number", "--set memory.dram_ns=fast", "'memory.dram_ns'"},
                      BadConfig{"negative_latency", "--set pci.vhost_interrupt_ns=-5", "'pci.vhost_interrupt_ns'"},
                      BadConfig{"bad_bool", "--set event_idx=maybe", "'event_idx'"},
                      BadConfig{"dma_on_vhost", "--set metadata=dma", "'metadata'"},
                      BadConfig{"user_path_linux_driver", "--set path=user", "driver.kind=pmd"},
                      BadConfig{"pmd_queue_reset", "--set driver.kind=pmd --set fault.reset_tx_at_us=50",
                                "'fault.reset_tx_at_us'"},
                      BadConfig{"unmap_in_flight_without_iommu", "--set fault.unmap_in_flight=1",
                                "'fault.unmap_in_flight': an unmap is the guest IOMMU's: needs iommu=1"},
                      BadConfig{"bad_driver_kind", "--set driver.kind=napi", "linux|pmd"},
                      BadConfig{"pmd_pktgen", "--set driver.kind=pmd --set driver.tx_source=pktgen",
                                "'driver.tx_source'"},
                      BadConfig{"bad_tx_source", "--set driver.tx_source=iperf", "stack|pktgen"},
                      BadConfig{"no_line_fill_buffers", "--set memory.line_fill_buffers=0", "line_fill_buffers"},
                      BadConfig{"missing_config", "--config /nonexistent/x.json", "cannot read config"},
                      BadConfig{"unknown_option", "--frobnicate", "unknown option"}),
    [](const ::testing::TestParamInfo<BadConfig>& i) { return std::string(i.param.name); });

// A JSON config file (nested objects flatten to dotted keys) feeds the same
// parameters as --set, and the report echoes them.
TEST(System, JsonConfigFileSetsParameters) {
  const std::filesystem::path cfg = fresh_dir() / "cfg.json";
  std::ofstream(cfg) << R"({"ring": "split", "queue_size": 64, "memory": {"dram_ns": 120}, "vhost.used_batch": 8})";
  const SimRun r = run_virtiosim("run --quiet --packets 500 --config " + cfg.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.get<std::string>("config.ring"), "split");
  EXPECT_EQ(r.get<uint32_t>("config.queue_size"), 64u);
  // Report keys contain dots: address them with another separator.
  using Path = boost::property_tree::ptree::path_type;
  EXPECT_EQ(r.report.get<double>(Path("config/memory.dram_ns", '/')), 120.0);
  EXPECT_EQ(r.report.get<uint32_t>(Path("config/vhost.used_batch", '/')), 8u);
}

// A JSON config value of the wrong type, or an unknown key, is refused
// naming the key (nlohmann-json keeps the types PropertyTree lost).
TEST(System, JsonConfigFileWrongTypeOrUnknownKeyNamesIt) {
  const std::filesystem::path dir = fresh_dir();
  const struct {
    const char* json;
    const char* must_mention;
  } cases[] = {{R"({"queue_size": "big"})", "bad configuration for 'queue_size': a JSON string where a number"},
               {R"({"ring": 1})", "bad configuration for 'ring': a JSON number where a string"},
               {R"({"memory": {"dram_ns": [1]}})", "bad configuration for 'memory.dram_ns': a JSON array"},
               {R"({"event_idx": "yes"})", "bad configuration for 'event_idx'"},
               {R"({"memory": {"no_such_key": 1}})", "bad configuration for 'memory.no_such_key': unknown parameter"},
               {R"({"ring": )", "cannot read config"},
               {R"([1, 2])", "is not a JSON object"}};
  for (const auto& c : cases) {
    std::ofstream(dir / "cfg.json") << c.json;
    const SimRun r = run_virtiosim("run --quiet --packets 10 --config " + (dir / "cfg.json").string(), false);
    EXPECT_EQ(r.exit_code, 2) << c.json << "\n" << r.output;
    EXPECT_NE(r.output.find(c.must_mention), std::string::npos) << c.json << "\n" << r.output;
  }
  // true/false for a flag, whole floats for counts.
  std::ofstream(dir / "cfg.json") << R"({"event_idx": false, "queue_size": 64.0})";
  const SimRun r = run_virtiosim("run --quiet --packets 10 --config " + (dir / "cfg.json").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.get<int>("config.event_idx"), 0);
  EXPECT_EQ(r.get<uint32_t>("config.queue_size"), 64u);
  std::filesystem::remove_all(dir);
}

// Every parameter is listed with a unit column and a reason.
TEST(System, ParamsListsEveryKeyWithItsReason) {
  const SimRun r = run_virtiosim("params --json", false);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  boost::property_tree::ptree list;
  std::istringstream in(r.output);
  boost::property_tree::read_json(in, list);
  size_t n = 0;
  bool has_dram = false;
  for (const auto& [k, p] : list) {
    ++n;
    EXPECT_FALSE(p.get<std::string>("why").empty()) << p.get<std::string>("key");
    if (p.get<std::string>("accepted").rfind("comma-separated", 0) != 0) {  // lists may default to empty
      EXPECT_FALSE(p.get<std::string>("default").empty()) << p.get<std::string>("key");
    }
    if (p.get<std::string>("key") == "memory.dram_ns") {
      has_dram = true;
      EXPECT_EQ(p.get<std::string>("unit"), "ns");
    }
  }
  EXPECT_GT(n, 50u);
  EXPECT_TRUE(has_dram);
}

// The waves carry the ring state per queue and parse with GTKWave's own
// reader (vcd2fst, from the gtkwave package).
TEST(System, WavesOpenInGtkwave) {
  const std::filesystem::path vcd = fresh_dir() / "run.vcd";
  const SimRun r = run_virtiosim("run --quiet --packets 500 --vcd " + vcd.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string text = slurp(vcd);
  for (const char* signal : {"next_avail_idx", "last_used_idx", "used_wrap_counter", "off_wrap", "kick",
                             "interrupt", "in_flight", "driver_vcpu0", "vhost_worker0", "store_buffer_depth"})
    EXPECT_NE(text.find(signal), std::string::npos) << signal;
  EXPECT_NE(text.find("$enddefinitions"), std::string::npos);
  const std::filesystem::path fst = vcd.parent_path() / "run.fst";
  const int rc = std::system(("vcd2fst " + vcd.string() + " " + fst.string() + " > /dev/null 2>&1").c_str());
  ASSERT_EQ(WEXITSTATUS(rc), 0) << "vcd2fst (gtkwave) could not read the VCD";
  EXPECT_GT(std::filesystem::file_size(fst), 0u);
}

}  // namespace
}  // namespace virtiosim::testing
