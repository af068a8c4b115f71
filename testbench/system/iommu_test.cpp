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
