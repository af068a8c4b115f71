// Ring states as real front-ends drive them (SPEC_NOTES VU3; vhost-user.rst
// "Ring states"; docs/vhost-user.md): QEMU 7.2's order, SET_VRING_ENABLE
// before SET_FEATURES, the enabled state remembered while a ring is
// stopped, no processing before the call eventfd is known, and a ring the
// core breaks reported through its SET_VRING_ERR eventfd. Each test speaks
// the protocol over a real socket pair to an in-process back-end and drives
// the ring from the front-end side with the ring core's driver.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "testbench/vhost_user/frontside.h"

namespace virtiosim::vhost_user {
namespace {

using ring::feature_bit;
using namespace frontside;

template <class L>
class RingStates : public ::testing::Test {
 protected:
  static uint64_t features() { return base_features<L>(); }
  void start_tx(Frontside& f, RingOf<L>& tx, bool with_call = true, uint32_t index = kTx) {
    start_ring<L>(f, tx, with_call, index);
  }
  void negotiate(Frontside& f) { frontside::negotiate(f, features()); }
};

struct LayoutName {
  template <class L>
  static std::string GetName(int) {
    return std::is_same_v<L, Packed> ? "packed" : "split";
  }
};
using Layouts = ::testing::Types<Packed, Split>;
TYPED_TEST_SUITE(RingStates, Layouts, LayoutName);

// QEMU 7.2 with virtio-net: GET_FEATURES, GET/SET_PROTOCOL_FEATURES,
// GET_QUEUE_NUM, SET_OWNER, GET_FEATURES, SET_VRING_CALL/ERR and
// SET_VRING_ENABLE 1 for each ring, all before SET_FEATURES; then the
// memory table and each ring's setup. The ring runs without another
// SET_VRING_ENABLE: the early one was remembered.
TYPED_TEST(RingStates, QemuOrderEnableBeforeSetFeaturesIsAcceptedAndRemembered) {
  Frontside f;
  EXPECT_NE(f.reply_u64(Request::GET_FEATURES) & feature_bit(kFeatureProtocolFeatures), 0u);
  (void)f.reply_u64(Request::GET_PROTOCOL_FEATURES);
  f.send(Request::SET_PROTOCOL_FEATURES, feature_bit(protocol_feature::MQ) | feature_bit(protocol_feature::STATUS));
  EXPECT_EQ(f.reply_u64(Request::GET_QUEUE_NUM), 1u);
  f.send(Request::SET_OWNER, NoPayload{});
  (void)f.reply_u64(Request::GET_FEATURES);
  for (uint32_t i = 0; i < 2; ++i) f.call(i), f.err(i);
  for (uint32_t i = 0; i < 2; ++i) f.enable(i, true);
  ASSERT_TRUE(f.settle()) << "early SET_VRING_ENABLE refused: " << name(f.backend().last_error());

  f.send(Request::SET_FEATURES, this->features());
  f.mem_table();
  TxRing<typename TypeParam::Driver, typename TypeParam::Layout> tx(f, this->features());
  this->start_tx(f, tx);
  ASSERT_TRUE(f.settle()) << name(f.backend().last_error());
  tx.send_frame(1);
  tx.send_frame(2);
  EXPECT_EQ(f.poll(), 2u);
  EXPECT_EQ(f.backend().counters().tx_packets, 2u);
  EXPECT_EQ(f.backend().counters().protocol_errors, 0u);
}

// A front-end that never negotiated protocol features has no
// SET_VRING_ENABLE (its rings are enabled by SET_FEATURES): refused.
TYPED_TEST(RingStates, EnableWithoutProtocolFeaturesIsRefused) {
  Frontside f;
  f.send(Request::SET_OWNER, NoPayload{});
  f.enable(kTx, true);
  EXPECT_FALSE(f.settle());
  EXPECT_EQ(f.backend().last_error(), ProtocolError::out_of_order);
}

// Without protocol features SET_FEATURES enables every ring.
TYPED_TEST(RingStates, SetFeaturesWithoutProtocolFeaturesEnablesEveryRing) {
  Frontside f;
  f.send(Request::SET_OWNER, NoPayload{});
  const uint64_t plain = feature_bit(VIRTIO_F_VERSION_1) | TypeParam::kLayoutBit;
  f.send(Request::SET_FEATURES, plain);
  f.mem_table();
  TxRing<typename TypeParam::Driver, typename TypeParam::Layout> tx(f, plain);
  this->start_tx(f, tx);
  ASSERT_TRUE(f.settle());
  tx.send_frame(1);
  EXPECT_EQ(f.poll(), 1u);
}

// Started but disabled: nothing moves; SET_VRING_ENABLE 1 lets it run.
// Disabled again, then stopped and restarted: still disabled.
TYPED_TEST(RingStates, DisabledRingMovesNothingAndTheStateSurvivesAStop) {
  Frontside f;
  this->negotiate(f);
  TxRing<typename TypeParam::Driver, typename TypeParam::Layout> tx(f, this->features());
  this->start_tx(f, tx);
  ASSERT_TRUE(f.settle());
  tx.send_frame(1);
  EXPECT_EQ(f.poll(), 0u) << "a ring that was never enabled moved data";
  f.enable(kTx, true);
  ASSERT_TRUE(f.settle());
  EXPECT_EQ(f.poll(), 1u);

  f.enable(kTx, false);
  f.send(Request::GET_VRING_BASE, VringState{kTx, 0});  // stops the ring
  const std::optional<Message> base = f.reply(Request::GET_VRING_BASE);
  ASSERT_TRUE(base);
  f.send(Request::SET_VRING_BASE, VringState{kTx, std::get<VringState>(base->payload).num});
  f.kick(kTx);
  ASSERT_TRUE(f.settle());
  tx.send_frame(2);
  EXPECT_EQ(f.poll(), 0u) << "restarting a ring enabled it";
  f.enable(kTx, true);
  ASSERT_TRUE(f.settle());
  EXPECT_EQ(f.poll(), 1u);
  EXPECT_EQ(f.backend().counters().tx_packets, 2u);
}

// Started and enabled, but no call eventfd yet: completions could not be
// signalled, so nothing is processed until SET_VRING_CALL arrives.
TYPED_TEST(RingStates, NothingMovesBeforeTheCallEventfdIsKnown) {
  Frontside f;
  this->negotiate(f);
  f.enable(kTx, true);
  TxRing<typename TypeParam::Driver, typename TypeParam::Layout> tx(f, this->features());
  this->start_tx(f, tx, /*with_call=*/false);
  ASSERT_TRUE(f.settle());
  tx.send_frame(1);
  EXPECT_EQ(f.poll(), 0u);
  f.call(kTx);
  ASSERT_TRUE(f.settle());
  EXPECT_EQ(f.poll(), 1u);
}

// A malformed descriptor (a buffer outside guest memory) breaks the ring:
// the back-end signals the ring's SET_VRING_ERR eventfd once, sets
// NEEDS_RESET, keeps the connection, and completes nothing after it.
TYPED_TEST(RingStates, BrokenRingSignalsItsErrorEventfd) {
  Frontside f;
  this->negotiate(f);
  f.err(kTx);
  f.enable(kTx, true);
  TxRing<typename TypeParam::Driver, typename TypeParam::Layout> tx(f, this->features());
  this->start_tx(f, tx);
  ASSERT_TRUE(f.settle());
  tx.send_frame(1);
  tx.send_frame(2, kGpa + kMemBytes + 0x1000);  // not guest memory
  tx.send_frame(3);
  (void)f.poll();
  (void)f.poll();
  EXPECT_EQ(f.take_err(), 1u) << "the error eventfd was not signalled";
  EXPECT_TRUE(f.settle()) << "a broken ring closed the connection";
  EXPECT_EQ(f.backend().counters().ring_errors, 1u);
  EXPECT_EQ(f.backend().counters().error_signals, 1u);
  EXPECT_EQ(f.backend().counters().tx_packets, 1u) << "frames after the bad one were taken";
  EXPECT_NE(f.reply_u64(Request::GET_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0u);
  (void)f.poll();
  EXPECT_EQ(f.take_err(), 0u) << "signalled twice";
}

// Echo: the RX ring breaks while a TX frame waits for room in it. The TX
// frame is put back, not completed and not lost: nothing of TX is used,
// and TX is not taken from again while RX stays broken.
TYPED_TEST(RingStates, EchoPutsTheTxFrameBackWhenRxBreaks) {
  Frontside f(NetMode::echo);
  this->negotiate(f);
  f.enable(0, true);
  f.enable(kTx, true);
  TxRing<typename TypeParam::Driver, typename TypeParam::Layout> tx(f, this->features());
  TxRing<typename TypeParam::Driver, typename TypeParam::Layout> rx(f, this->features(), kGpa + 0x10000);
  this->start_tx(f, tx);
  this->start_tx(f, rx, true, 0);
  ASSERT_TRUE(f.settle());
  const ring::Segment bad{kGpa + kMemBytes + 0x1000, 2048};  // an RX buffer outside guest memory
  ASSERT_EQ(rx.drv.add({}, std::span(&bad, 1), 100), ring::RingError::ok);
  tx.send_frame(1, kGpa + 0x20000);
  for (int i = 0; i < 3; ++i) (void)f.poll();
  EXPECT_EQ(f.backend().counters().ring_errors, 1u);
  EXPECT_EQ(f.backend().counters().tx_packets, 0u);
  EXPECT_EQ(f.backend().counters().vring_used[kTx], 0u);
  ring::UsedBuffer u;
  const ring::Result<bool> r = tx.drv.get_used(u);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value) << "the TX frame was completed although it was never echoed";
  // GET_VRING_BASE: TX resumes at the frame, which was not consumed.
  f.send(Request::GET_VRING_BASE, VringState{kTx, 0});
  const std::optional<Message> base = f.reply(Request::GET_VRING_BASE);
  ASSERT_TRUE(base);
  EXPECT_EQ(std::get<VringState>(base->payload).num & 0x7fff, 0u) << "the TX frame was taken and dropped";
}

}  // namespace
}  // namespace virtiosim::vhost_user
