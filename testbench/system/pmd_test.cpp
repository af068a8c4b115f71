// The poll-mode driver (driver.kind=pmd, models/driver/pmd_poll.cpp): the
// same ring core as the Linux driver, run DPDK-style. Conservation is in
// the scenario matrix (system_test.cpp); here: what makes it a PMD (no
// interrupts, no event_idx, kicks only when the device asks, bursts), its
// determinism and the direction of its costs.
#include <gtest/gtest.h>

#include "testbench/system/run_virtiosim.h"

namespace virtiosim::testing {
namespace {

constexpr const char* kPmd = "run --quiet --packets 3000 --set driver.kind=pmd ";

bool negotiated(const SimRun& r, const std::string& feature) {
  for (const auto& [k, v] : r.report.get_child("negotiated_feature_names"))
    if (v.get_value<std::string>() == feature) return true;
  return false;
}

TEST(Pmd, PollsWithInterruptsOffAndWithoutEventIdx) {
  for (const char* ring : {"packed", "split"}) {
    const SimRun pmd = run_virtiosim(std::string(kPmd) + "--ring " + ring);
    const SimRun linux = run_virtiosim(std::string("run --quiet --packets 3000 --ring ") + ring);
    ASSERT_EQ(pmd.exit_code, 0) << pmd.output;
    ASSERT_EQ(linux.exit_code, 0) << linux.output;
    EXPECT_EQ(pmd.get<uint64_t>("packets.rx"), 3000u) << ring;
    // Interrupts stay off (virtqueue_disable_intr): the device suppressed
    // every one it would have sent, and the driver handled none.
    EXPECT_EQ(pmd.get<uint64_t>("interrupts.issued"), 0u) << ring;
    EXPECT_EQ(pmd.get<uint64_t>("interrupts.handled"), 0u) << ring;
    EXPECT_GT(pmd.get<uint64_t>("interrupts.suppressed"), 0u) << ring;
    EXPECT_GT(linux.get<uint64_t>("interrupts.handled"), 0u) << ring;
    // The device offers event_idx; DPDK's PMD does not take it, Linux does.
    EXPECT_FALSE(negotiated(pmd, "VIRTIO_RING_F_EVENT_IDX")) << ring;
    EXPECT_TRUE(negotiated(linux, "VIRTIO_RING_F_EVENT_IDX")) << ring;
  }
}

// A device that never sleeps (busy-polling vhost, as DPDK vhost with guest
// notifications off) is never kicked after the start; one that sleeps is
// kicked when it asks, and only then.
TEST(Pmd, KicksOnlyWhenTheDeviceAsks) {
  const SimRun polled = run_virtiosim(std::string(kPmd) + "--set vhost.busy_poll_ns=1e9");
  const SimRun notified = run_virtiosim(std::string(kPmd) + "--set driver.offered_pps=200000");
  ASSERT_EQ(polled.exit_code, 0) << polled.output;
  ASSERT_EQ(notified.exit_code, 0) << notified.output;
  EXPECT_LE(polled.get<uint64_t>("kicks.issued"), 2u);  // the RX queue's start-up notify
  EXPECT_GT(polled.get<uint64_t>("kicks.suppressed"), 100u);
  // At 200 kpps the worker drains the ring and sleeps between packets:
  // each burst finds it asleep and kicks.
  EXPECT_GT(notified.get<uint64_t>("kicks.issued"), 1000u);
  EXPECT_EQ(notified.get<uint64_t>("packets.rx"), 3000u);
}

TEST(Pmd, DeterministicReport) {
  const std::string args = std::string(kPmd) + "--set packet_bytes_max=600 --set ordering=weak --seed 5";
  SimRun a = run_virtiosim(args), b = run_virtiosim(args);
  ASSERT_EQ(a.exit_code, 0) << a.output;
  ASSERT_EQ(b.exit_code, 0) << b.output;
  a.report.erase("wall");
  b.report.erase("wall");
  std::ostringstream oa, ob;
  boost::property_tree::write_json(oa, a.report);
  boost::property_tree::write_json(ob, b.report);
  EXPECT_EQ(oa.str(), ob.str());
}

// TX into a sink with a cheap device: the driver is the bottleneck, so its
// per-packet cost sets the rate; and a host process (path=user) is not
// slowed by kicks the way a guest's VM exits slow it.
TEST(Pmd, DriverCostsMoveTheRate) {
  const std::string sink = std::string(kPmd) + "--set wire=sink --set vhost.tx_packet_cycles=50 ";
  const SimRun cheap = run_virtiosim(sink + "--set driver.pmd_tx_packet_cycles=100");
  const SimRun dear = run_virtiosim(sink + "--set driver.pmd_tx_packet_cycles=1000");
  ASSERT_EQ(cheap.exit_code, 0) << cheap.output;
  ASSERT_EQ(dear.exit_code, 0) << dear.output;
  EXPECT_GT(cheap.get("rates.tx_mpps"), 1.5 * dear.get("rates.tx_mpps"));

  // Kicking on every burst (a device that always asks: notification mode
  // at a rate it keeps up with) costs a guest a VM exit per kick and a host
  // process an eventfd write.
  const std::string paced = std::string(kPmd) + "--set driver.offered_pps=200000 --set driver.burst=1 ";
  const SimRun guest = run_virtiosim(paced + "--set path=vhost");
  const SimRun host = run_virtiosim(paced + "--set path=user");
  ASSERT_EQ(guest.exit_code, 0) << guest.output;
  ASSERT_EQ(host.exit_code, 0) << host.output;
  EXPECT_EQ(host.get<std::string>("config.path"), "user");
  EXPECT_GT(guest.get("latency_ns.mean"), host.get("latency_ns.mean"));
}

}  // namespace
}  // namespace virtiosim::testing
