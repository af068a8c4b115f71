// The back-end's data path by the burst (transport/vhost_user/backend.cpp):
// a poll takes a whole burst from TX before reading any frame, completes it
// with one flush and at most one call per ring; echo copies each frame
// straight from its TX buffer into RX buffers, rebuilding the net header
// and swapping the MAC addresses wherever the segments split them; and a
// burst that RX cannot take whole goes back to TX in order. Each test
// speaks the protocol to an in-process back-end over a socket pair and
// drives the rings with the ring core's driver side.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <vector>

#include "testbench/vhost_user/frontside.h"
#include "transport/vhost_user/net.h"

namespace virtiosim::vhost_user {
namespace {

using ring::feature_bit;
using namespace frontside;

constexpr uint64_t kTxBuffers = kGpa + 0x40000;  // frames the front-end sends
constexpr uint64_t kRxBuffers = kGpa + 0x80000;  // buffers it receives into
constexpr size_t kHdr = net::kHdrLenMrg;           // VERSION_1: 12 bytes
constexpr size_t kFrame = 60;

template <class L>
class ServeBurst : public ::testing::Test {
 protected:
  static uint64_t echo_features() { return base_features<L>() | feature_bit(net::kFeatureMrgRxbuf); }

  // An echo back-end: features negotiated and both rings enabled, before
  // the rings are placed; then both started (RX with interrupts asked for).
  static void open_echo(Frontside& f) {
    negotiate(f, echo_features());
    f.enable(0, true);
    f.enable(kTx, true);
  }
  static bool start_echo(Frontside& f, RingOf<L>& tx, RingOf<L>& rx) {
    start_ring<L>(f, tx);
    start_ring<L>(f, rx, true, 0);
    return f.settle();
  }

  // A frame with sequence number `seq` behind a net header of junk (the
  // back-end must not echo it), at `gpa`.
  static void write_frame(Frontside& f, uint64_t gpa, uint64_t seq) {
    std::memset(f.at(gpa), 0xaa, kHdr);
    net::make_frame(f.at(gpa + kHdr), kFrame, seq);
  }
};

struct LayoutName {
  template <class L>
  static std::string GetName(int) {
    return std::is_same_v<L, Packed> ? "packed" : "split";
  }
};
using Layouts = ::testing::Types<Packed, Split>;
TYPED_TEST_SUITE(ServeBurst, Layouts, LayoutName);

// 40 frames available at once: one poll takes all of them, publishes them
// with one flush and signals the front-end (which asked for interrupts)
// once; the counters add up over the whole burst.
TYPED_TEST(ServeBurst, SinkTakesTheBurstInOnePollWithOneSignal) {
  Frontside f;
  negotiate(f, base_features<TypeParam>());
  f.enable(kTx, true);
  RingOf<TypeParam> tx(f, base_features<TypeParam>());
  start_ring<TypeParam>(f, tx);
  ASSERT_TRUE(f.settle());

  constexpr uint64_t kFrames = 40;
  uint64_t checksum = 0;
  for (uint64_t i = 0; i < kFrames; ++i) {
    const uint64_t gpa = kTxBuffers + i * 128;
    this->write_frame(f, gpa, i);
    checksum = std::accumulate(f.at(gpa + kHdr), f.at(gpa + kHdr + kFrame), checksum);
    const ring::Segment s{gpa, static_cast<uint32_t>(kHdr + kFrame)};
    ASSERT_EQ(tx.drv.add(std::span(&s, 1), {}, i), ring::RingError::ok);
  }
  EXPECT_EQ(f.poll(), kFrames);
  EXPECT_EQ(f.take_call(), 1u) << "one call for the burst";
  const BackendCounters& c = f.backend().counters();
  EXPECT_EQ(c.calls, 1u);
  EXPECT_EQ(c.vring_used[kTx], kFrames);
  EXPECT_EQ(c.tx_packets, kFrames);
  EXPECT_EQ(c.tx_bytes, kFrames * kFrame);
  EXPECT_EQ(c.tx_checksum, checksum);
  for (uint64_t i = 0; i < kFrames; ++i) {
    ring::UsedBuffer u;
    const ring::Result<bool> r = tx.drv.get_used(u);
    ASSERT_TRUE(r.ok() && r.value) << "frame " << i << " not completed";
    EXPECT_EQ(u.token, i);
  }
  EXPECT_EQ(f.poll(), 0u);
  EXPECT_EQ(f.take_call(), 0u) << "an idle poll signalled";
}

// One frame whose header and MAC addresses are split over three TX
// segments, echoed into RX buffers of two segments (10 + 14 bytes) each:
// it needs three of them (num_buffers = 3), comes back with a zeroed header
// and the MACs swapped, and every other byte unchanged.
TYPED_TEST(ServeBurst, EchoRebuildsAFrameSplitAcrossSegments) {
  Frontside f(NetMode::echo);
  this->open_echo(f);
  RingOf<TypeParam> tx(f, this->echo_features());
  RingOf<TypeParam> rx(f, this->echo_features(), kGpa + 0x10000);
  ASSERT_TRUE(this->start_echo(f, tx, rx));

  // The frame, contiguous at kTxBuffers, handed over as 17 + 4 + 51 bytes:
  // the first segment ends inside the destination MAC, the second inside
  // the source MAC.
  this->write_frame(f, kTxBuffers, 7);
  const ring::Segment out[] = {{kTxBuffers, 17}, {kTxBuffers + 17, 4}, {kTxBuffers + 21, 51}};
  for (uint64_t b = 0; b < 5; ++b) {
    const uint64_t gpa = kRxBuffers + b * 64;
    const ring::Segment in[] = {{gpa, 10}, {gpa + 32, 14}};
    ASSERT_EQ(rx.drv.add({}, in, 100 + b), ring::RingError::ok);
  }
  ASSERT_EQ(tx.drv.add(out, {}, 1), ring::RingError::ok);
  EXPECT_EQ(f.poll(), 1u);

  std::vector<uint8_t> got;
  for (uint64_t b = 0; b < 3; ++b) {
    ring::UsedBuffer u;
    const ring::Result<bool> r = rx.drv.get_used(u);
    ASSERT_TRUE(r.ok() && r.value) << "RX buffer " << b << " not used";
    EXPECT_EQ(u.token, 100 + b);
    EXPECT_EQ(u.len, 24u);
    const uint64_t gpa = kRxBuffers + b * 64;
    got.insert(got.end(), f.at(gpa), f.at(gpa + 10));
    got.insert(got.end(), f.at(gpa + 32), f.at(gpa + 46));
  }
  ring::UsedBuffer u;
  const ring::Result<bool> more = rx.drv.get_used(u);
  EXPECT_TRUE(more.ok() && !more.value) << "a fourth RX buffer was used";
  ASSERT_EQ(got.size(), kHdr + kFrame);
  uint16_t num_buffers;
  std::memcpy(&num_buffers, got.data() + net::kNumBuffersOffset, 2);
  EXPECT_EQ(num_buffers, 3u);
  for (size_t i = 0; i < net::kNumBuffersOffset; ++i) EXPECT_EQ(got[i], 0u) << "header byte " << i;
  uint64_t seq = 0;
  EXPECT_TRUE(net::check_echo(got.data() + kHdr, kFrame, kFrame, seq)) << "frame bytes or MACs wrong";
  EXPECT_EQ(seq, 7u);
  EXPECT_EQ(f.backend().counters().rx_buffers, 3u);
}

// Ten TX frames and room in RX for four: the poll echoes four and puts the
// other six back, in order, without completing them; once RX has room they
// come back in the order they were sent.
TYPED_TEST(ServeBurst, EchoPutsWhatRxCannotTakeBackInOrder) {
  Frontside f(NetMode::echo);
  this->open_echo(f);
  RingOf<TypeParam> tx(f, this->echo_features());
  RingOf<TypeParam> rx(f, this->echo_features(), kGpa + 0x10000);
  ASSERT_TRUE(this->start_echo(f, tx, rx));

  auto add_rx = [&](uint64_t first, uint64_t n) {
    for (uint64_t b = first; b < first + n; ++b) {
      const ring::Segment in{kRxBuffers + b * 128, 128};
      ASSERT_EQ(rx.drv.add({}, std::span(&in, 1), b), ring::RingError::ok);
    }
  };
  for (uint64_t i = 0; i < 10; ++i) {
    const uint64_t gpa = kTxBuffers + i * 128;
    this->write_frame(f, gpa, i);
    const ring::Segment s{gpa, static_cast<uint32_t>(kHdr + kFrame)};
    ASSERT_EQ(tx.drv.add(std::span(&s, 1), {}, i), ring::RingError::ok);
  }
  add_rx(0, 4);
  EXPECT_EQ(f.poll(), 4u);
  EXPECT_EQ(f.backend().counters().vring_used[kTx], 4u) << "TX frames completed without being echoed";
  EXPECT_EQ(f.poll(), 0u) << "RX is full: nothing may move";
  add_rx(4, 6);
  EXPECT_EQ(f.poll(), 6u);

  for (uint64_t i = 0; i < 10; ++i) {
    ring::UsedBuffer u;
    ASSERT_TRUE(rx.drv.get_used(u).value) << "RX buffer " << i;
    EXPECT_EQ(u.token, i);
    uint64_t seq = ~uint64_t{0};
    EXPECT_TRUE(net::check_echo(f.at(kRxBuffers + i * 128 + kHdr), u.len - kHdr, kFrame, seq));
    EXPECT_EQ(seq, i) << "frames came back out of order";
    ASSERT_TRUE(tx.drv.get_used(u).value) << "TX frame " << i;
    EXPECT_EQ(u.token, i);
  }
  EXPECT_EQ(f.backend().counters().rx_packets, 10u);
  EXPECT_EQ(f.backend().counters().tx_packets, 10u);
}

}  // namespace
}  // namespace virtiosim::vhost_user
