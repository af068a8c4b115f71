// iommu=1 (VIRTIO_F_ACCESS_PLATFORM): the driver maps every buffer through
// the guest's IOMMU (Linux DMA API), the device translates every access
// through its IOTLB, and the report counts the translations per packet.
#include <gtest/gtest.h>

#include <string>

#include "testbench/system/run_virtiosim.h"

namespace virtiosim::testing {
namespace {

constexpr uint64_t kPackets = 3000;
const std::string kRun = "run --quiet --packets " + std::to_string(kPackets) + " ";

SimRun run_ok(const std::string& args) {
  SimRun r = run_virtiosim(kRun + args);
  EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.output;
  EXPECT_EQ(r.get<std::string>("result"), "ok") << args << "\n" << r.report_text;
  return r;
}

bool negotiated(const SimRun& r, const std::string& feature) {
  for (const auto& [k, v] : r.report.get_child("negotiated_feature_names"))
    if (v.get_value<std::string>() == feature) return true;
  return false;
}

class IommuLayout : public ::testing::TestWithParam<const char*> {};

// Every frame arrives intact through IOVAs; each packet's two buffers (one
// TX, one RX) are mapped, missed once and unmapped once.
TEST_P(IommuLayout, ConservesPacketsThroughIovas) {
  const SimRun r = run_ok(std::string("--ring ") + GetParam() + " --set iommu=1");
  EXPECT_EQ(r.get<uint64_t>("packets.rx"), kPackets);
  EXPECT_EQ(r.get<uint64_t>("packets.rx_bytes"), r.get<uint64_t>("packets.tx_bytes"));
  EXPECT_TRUE(negotiated(r, "VIRTIO_F_ACCESS_PLATFORM"));
  EXPECT_EQ(r.get<uint64_t>("iotlb.faults"), 0u);
  EXPECT_NEAR(r.get("iotlb.invalidations_per_packet"), 2.0, 0.1);
  EXPECT_GE(r.get("iotlb.misses_per_packet"), 1.9);
  EXPECT_GT(r.get("iotlb.hits_per_packet"), 0.0);
  EXPECT_GT(r.get("iotlb.ring_cache_hits_per_packet"), 1.0);
}

INSTANTIATE_TEST_SUITE_P(Layouts, IommuLayout, ::testing::Values("packed", "split"));

TEST(Iommu, TextAndHtmlReportsGiveTheIotlbFiguresPerPacket) {
  const std::filesystem::path html = fresh_dir() / "r.html";
  const SimRun r = run_virtiosim(kRun + "--set iommu=1 --html " + html.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string page = slurp(html);
  EXPECT_NE(page.find("id=\"iotlb-misses-per-packet\""), std::string::npos);
  EXPECT_NE(page.find("id=\"iotlb-invalidations-per-packet\""), std::string::npos);
  const SimRun text = run_virtiosim("run --packets 3000 --set iommu=1", false);
  EXPECT_NE(text.output.find("iotlb per packet: "), std::string::npos) << text.output;
  EXPECT_NE(text.output.find(" misses, 2.000 invalidations, "), std::string::npos) << text.output;
}

TEST(Iommu, WithoutItNothingIsTranslatedOrReported) {
  const SimRun r = run_ok("");
  EXPECT_FALSE(negotiated(r, "VIRTIO_F_ACCESS_PLATFORM"));
  EXPECT_FALSE(r.report.get_child_optional("iotlb"));
}

// Linux vhost's meta_iotlb: ring accesses skip the IOTLB lookups, and the
// rate goes up.
TEST(Iommu, RingCacheLowersLookupsAndRaisesThroughput) {
  const SimRun on = run_ok("--set iommu=1"), off = run_ok("--set iommu=1 --set iommu.ring_cache=0");
  EXPECT_EQ(off.get("iotlb.ring_cache_hits_per_packet"), 0.0);
  EXPECT_GT(off.get("iotlb.hits_per_packet"), on.get("iotlb.hits_per_packet") + 5);
  EXPECT_GT(on.get("rates.tx_mpps"), off.get("rates.tx_mpps"));
  EXPECT_LT(on.get("cpu_ns_per_packet.device"), off.get("cpu_ns_per_packet.device"));
}

// A small IOTLB (a device's own ATC) retires the ring pages as buffers come
// and go: without the ring cache they miss again, with it they do not.
TEST(Iommu, RingCacheLowersMissesWhenTheIotlbIsSmall) {
  const std::string small = "--set iommu=1 --set iommu.entries=4 ";
  const SimRun on = run_ok(small), off = run_ok(small + "--set iommu.ring_cache=0");
  EXPECT_LT(on.get("iotlb.misses_per_packet") + 0.3, off.get("iotlb.misses_per_packet"));
  EXPECT_GT(on.get("rates.tx_mpps"), off.get("rates.tx_mpps"));
}

// The costs move the rate the way they should.
TEST(Iommu, DearerMissesLowerThroughput) {
  const SimRun cheap = run_ok("--set iommu=1 --set iommu.vhost_miss_ns=100"),
               dear = run_ok("--set iommu=1 --set iommu.vhost_miss_ns=20000");
  EXPECT_LT(dear.get("rates.tx_mpps"), cheap.get("rates.tx_mpps"));
  EXPECT_EQ(dear.get("iotlb.misses_per_packet"), cheap.get("iotlb.misses_per_packet"));
}

TEST(Iommu, DearerHitsLowerThroughput) {
  const std::string off = "--set iommu=1 --set iommu.ring_cache=0 ";
  const SimRun cheap = run_ok(off + "--set iommu.hit_ns=5"), dear = run_ok(off + "--set iommu.hit_ns=200");
  EXPECT_LT(dear.get("rates.tx_mpps"), cheap.get("rates.tx_mpps"));
}

TEST(Iommu, PcieDevicePaysThePageWalkNotTheVmmRoundTrip) {
  const std::string pcie = "--set iommu=1 --set path=pcie --set metadata=dma ";
  const SimRun walk = run_ok(pcie), vmm = run_ok(pcie + "--set iommu.pcie_miss_ns=10000");
  EXPECT_GT(walk.get("rates.tx_mpps"), vmm.get("rates.tx_mpps"));
  const SimRun vhost_cost = run_ok(pcie + "--set iommu.vhost_miss_ns=1e6");  // not this path's cost
  EXPECT_EQ(vhost_cost.get("rates.tx_mpps"), walk.get("rates.tx_mpps"));
}

TEST(Iommu, SameSeedSameReport) {
  SimRun a = run_ok("--set iommu=1 --set packet_bytes_max=3000"),
         b = run_ok("--set iommu=1 --set packet_bytes_max=3000");
  a.report.erase("wall");
  b.report.erase("wall");
  std::ostringstream ja, jb;
  boost::property_tree::write_json(ja, a.report);
  boost::property_tree::write_json(jb, b.report);
  EXPECT_EQ(ja.str(), jb.str());
}

// fault.unmap_in_flight: the driver unmaps a TX buffer right after making
// it available. The device's payload read takes the IOVA's typed error and
// touches none of the memory the IOVA named; the queue breaks; the monitor
// names the driver's unmap first, then the device's error. The access log
// is made long enough to hold every access after the unmap.
class UnmapInFlight : public ::testing::TestWithParam<const char*> {};

SimRun run_unmap_in_flight(const std::string& ring, uint64_t packet) {
  return run_virtiosim("run --quiet --packets 200 --ring " + ring + " --set iommu=1 --set fault.unmap_in_flight=" +
                       std::to_string(packet) + " --set log_capacity=1048576");
}

const boost::property_tree::ptree& queue(const SimRun& r, const std::string& name) {
  for (const auto& [k, q] : r.report.get_child("queues"))
    if (q.get<std::string>("name") == name) return q;
  throw std::runtime_error("no queue " + name);
}

TEST_P(UnmapInFlight, DeviceTakesTheTypedErrorTheQueueBreaksAndTheMonitorNamesTheUnmap) {
  const SimRun r = run_unmap_in_flight(GetParam(), 1);
  ASSERT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.get<std::string>("result"), "failed");
  EXPECT_NE(r.output.find("tx payload read: iova_unmapped"), std::string::npos) << r.output;
  const boost::property_tree::ptree& tx = queue(r, "tx0");
  EXPECT_TRUE(tx.get<bool>("device.broken"));
  EXPECT_EQ(tx.get<uint64_t>("device.errors.iova_unmapped"), 1u);
  EXPECT_FALSE(queue(r, "rx0").get<bool>("device.broken"));
  EXPECT_EQ(r.get<uint64_t>("iotlb.faults"), 1u);
  EXPECT_EQ(r.get<uint64_t>("faults.buffers_unmapped_in_flight"), 1u);
  EXPECT_EQ(r.get<uint64_t>("packets.rx"), 0u);  // the first frame never left
  EXPECT_EQ(r.report.get<uint64_t>(boost::property_tree::ptree::path_type("monitor/by_rule/dma.unmap_in_flight", '/')),
            1u);  // the rule id holds a dot
  std::vector<boost::property_tree::ptree> first;
  for (const auto& [k, v] : r.report.get_child("monitor.first")) first.push_back(v);
  ASSERT_EQ(first.size(), 2u) << r.report_text;
  EXPECT_EQ(first[0].get<std::string>("rule"), "dma.unmap_in_flight");
  EXPECT_EQ(first[0].get<std::string>("queue"), "tx0");
  EXPECT_EQ(first[0].get<unsigned>("agent"), 0u);  // driver_vcpu0
  EXPECT_EQ(first[1].get<std::string>("rule"), "ring.iova_unmapped");
  EXPECT_EQ(first[1].get<std::string>("queue"), "tx0");
  // What was unmapped, and who touched that memory afterwards: not the
  // device, not a byte of the page; the driver went on writing later
  // frames into the same page, so the log did see the page.
  EXPECT_EQ(r.get<uint64_t>("unmap_in_flight.packet"), 1u);
  EXPECT_TRUE(r.get<bool>("unmap_in_flight.log_complete"));
  ASSERT_EQ(r.report.get_child("unmap_in_flight.iova").size(), 1u);
  EXPECT_GE(r.report.get_child("unmap_in_flight.iova").front().second.get<uint64_t>("addr"), uint64_t{1} << 38);
  EXPECT_EQ(r.get<uint64_t>("unmap_in_flight.device_accesses_after.buffer"), 0u);
  EXPECT_EQ(r.get<uint64_t>("unmap_in_flight.device_accesses_after.pages"), 0u);
  EXPECT_GT(r.get<uint64_t>("unmap_in_flight.driver_accesses_after.pages"), 0u);
}

// A later packet: the device still reads the buffers made available
// before it, some in the same guest page (through their own IOVAs), and
// never the unmapped buffer's bytes.
TEST_P(UnmapInFlight, TheUnmappedBuffersBytesAreNeverTouchedThoughItsPageIs) {
  const SimRun r = run_unmap_in_flight(GetParam(), 5);
  ASSERT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(r.get<bool>("unmap_in_flight.log_complete"));
  EXPECT_EQ(r.get<uint64_t>("unmap_in_flight.device_accesses_after.buffer"), 0u);
  EXPECT_GT(r.get<uint64_t>("unmap_in_flight.device_accesses_after.pages"), 0u);
  EXPECT_EQ(r.report.get_child("monitor.first").front().second.get<std::string>("rule"), "dma.unmap_in_flight");
  EXPECT_EQ(queue(r, "tx0").get<uint64_t>("device.errors.iova_unmapped"), 1u);
}

TEST_P(UnmapInFlight, SameSeedSameReport) {
  SimRun a = run_unmap_in_flight(GetParam(), 5), b = run_unmap_in_flight(GetParam(), 5);
  a.report.erase("wall");
  b.report.erase("wall");
  std::ostringstream ja, jb;
  boost::property_tree::write_json(ja, a.report);
  boost::property_tree::write_json(jb, b.report);
  EXPECT_EQ(ja.str(), jb.str());
}

INSTANTIATE_TEST_SUITE_P(Layouts, UnmapInFlight, ::testing::Values("packed", "split"));

// Without the fault an iommu=1 run unmaps every buffer only once it is used,
// queue resets included (the driver takes its buffers back from a reset
// queue): the monitor names nothing.
TEST(Iommu, UnmapsOfUsedOrTakenBackBuffersAreNotNamed) {
  const SimRun r = run_ok(
      "--set iommu=1 --set ring_reset=1 --set driver.tx_batch=16 --set fault.reset_tx_at_us=200 --strict");
  EXPECT_EQ(r.get<uint64_t>("faults.queue_resets"), 1u);
  EXPECT_EQ(r.get<uint64_t>("monitor.violations"), 0u);
  EXPECT_FALSE(r.report.get_child_optional("unmap_in_flight"));
}

TEST(Iommu, CombinationsWithoutAGuestIommuAreRejectedNamingTheKey) {
  for (const char* bad : {"--set driver.kind=pmd --set path=user", "--set driver.kind=pmd", "--set indirect=1",
                          "--set vhost.zerocopy=1"}) {
    const SimRun r = run_virtiosim(kRun + "--set iommu=1 " + bad, false);
    EXPECT_EQ(r.exit_code, 2) << bad << "\n" << r.output;
    EXPECT_NE(r.output.find("bad configuration for 'iommu'"), std::string::npos) << bad << "\n" << r.output;
  }
}

}  // namespace
}  // namespace virtiosim::testing
