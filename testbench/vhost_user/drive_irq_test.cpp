// drive against serve in one process, interrupt-driven (--notify irq) and
// polling, with RX starved (--rx-buffers) so serve must hold frames back in
// the TX ring (echo never drops): every frame must come back exactly once
// and intact, with no stall, and an interrupt-driven drive must have been
// woken by calls. Then the two ways a run can end without every echo: a
// stall, named by the ring that waited, and --allow-drops.
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "testbench/vhost_user/serve_peer.h"

namespace virtiosim::vhost_user {
namespace {

struct EchoCase {
  Notify notify;
  bool packed;
  bool event_idx;
  uint32_t rx_buffers;  // 0: the whole ring
  uint64_t packets;
};

std::string case_name(const testing::TestParamInfo<EchoCase>& i) {
  const EchoCase& c = i.param;
  return std::string(name(c.notify)) + (c.packed ? "_packed" : "_split") +
         (c.event_idx ? "_event_idx" : "_flags") + "_rx" +
         (c.rx_buffers ? std::to_string(c.rx_buffers) : std::string("ring"));
}

void PrintTo(const EchoCase& c, std::ostream* os) {
  *os << "--notify " << name(c.notify) << " --ring " << (c.packed ? "packed" : "split") << " --event-idx "
      << (c.event_idx ? "on" : "off") << " --rx-buffers " << (c.rx_buffers ? std::to_string(c.rx_buffers) : "ring")
      << " --packets " << c.packets;
}

class DriveEcho : public testing::TestWithParam<EchoCase> {};

TEST_P(DriveEcho, EveryFrameBackOnceIntactWithoutStall) {
  const EchoCase& c = GetParam();
  DriveOptions d;
  d.packets = c.packets;
  d.packed = c.packed;
  d.queue_size = 256;
  d.notify = c.notify;
  d.event_idx = c.event_idx;
  d.rx_buffers = c.rx_buffers;
  d.timeout_s = 5;  // a lost notification fails in seconds, not minutes
  const DriveReport r = drive_against_serve(d, NetMode::echo);
  EXPECT_FALSE(r.stalled) << r.text();
  EXPECT_EQ(r.sent, c.packets) << r.text();
  EXPECT_EQ(r.echoed(), c.packets) << r.text();
  EXPECT_EQ(r.corrupted, 0u) << r.text();
  EXPECT_EQ(r.duplicates, 0u) << r.text();
  EXPECT_EQ(r.dropped, 0u) << r.text();
  EXPECT_EQ(r.lost, 0u) << r.text();
  EXPECT_EQ(r.errors(), 0u) << r.text();
  EXPECT_EQ(r.event_idx, c.event_idx) << r.text();
  EXPECT_EQ(exit_code(r, d), 0) << r.text();
  if (c.notify == Notify::irq) {
    EXPECT_GT(r.rx_calls, 0u) << r.text();  // woken by RX interrupts
  }
}

std::vector<EchoCase> echo_cases() {
  std::vector<EchoCase> v;
  for (bool packed : {true, false})
    for (bool event_idx : {true, false})
      for (uint32_t rx : {1u, 4u, 0u})
        v.push_back({Notify::irq, packed, event_idx, rx, rx == 1 ? 3000u : 10000u});
  for (bool packed : {true, false})
    for (uint32_t rx : {1u, 4u}) v.push_back({Notify::poll, packed, true, rx, rx == 1 ? 3000u : 10000u});
  return v;
}

INSTANTIATE_TEST_SUITE_P(VhostUserDrive, DriveEcho, testing::ValuesIn(echo_cases()), case_name);

// serve --mode sink takes every frame and returns none: the drive does not
// wait --timeout for echoes that never come, it says within kNoEchoMs that
// the back-end does not echo and names serve's echo mode.
TEST(VhostUserDrive, SinkIsAnErrorNamingEchoMode) {
  for (Notify n : {Notify::irq, Notify::poll}) {
    DriveOptions d;
    d.packets = 1000;
    d.notify = n;
    d.timeout_s = 30;
    const DriveReport r = drive_against_serve(d, NetMode::sink);
    EXPECT_TRUE(r.no_echo) << r.text();
    EXPECT_FALSE(r.stalled) << r.text();
    EXPECT_NE(r.error.find("no echo: the back-end took"), std::string::npos) << r.text();
    EXPECT_NE(r.error.find("(serve --mode echo)"), std::string::npos) << r.text();
    EXPECT_LT(r.seconds, 3.0) << r.text();
    EXPECT_EQ(r.echoed(), 0u) << r.text();
    EXPECT_EQ(exit_code(r, d), 1) << r.text();
  }
}

// With --allow-drops the same run ends once every TX buffer is back and RX
// stayed quiet: every frame taken and not returned is reported as dropped.
TEST(VhostUserDrive, AllowDropsCountsFramesTakenAndNeverReturned) {
  DriveOptions d;
  d.packets = 1000;
  d.notify = Notify::irq;
  d.rx_buffers = 4;
  d.allow_drops = true;
  d.timeout_s = 5;
  const DriveReport r = drive_against_serve(d, NetMode::sink);
  EXPECT_FALSE(r.stalled) << r.text();
  EXPECT_EQ(r.sent, 1000u) << r.text();
  EXPECT_EQ(r.dropped, 1000u) << r.text();
  EXPECT_EQ(r.lost, 0u) << r.text();
  EXPECT_GT(r.tx_calls, 0u) << r.text();  // TX buffers came back by interrupt
  EXPECT_EQ(exit_code(r, d), 0) << r.text();
}

}  // namespace
}  // namespace virtiosim::vhost_user
