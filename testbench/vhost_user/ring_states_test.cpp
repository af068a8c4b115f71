// Ring states as real front-ends drive them (SPEC_NOTES VU3; vhost-user.rst
// "Ring states"; docs/vhost-user.md): QEMU 7.2's order, SET_VRING_ENABLE
// before SET_FEATURES, the enabled state remembered while a ring is
// stopped, no processing before the call eventfd is known, and a ring the
// core breaks reported through its SET_VRING_ERR eventfd. Each test speaks
// the protocol over a real socket pair to an in-process back-end and drives
// the ring from the front-end side with the ring core's driver.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>

#include "models/ring/native_memory.h"
#include "models/ring/packed_driver.h"
#include "models/ring/split_driver.h"
#include "testbench/vhost_user/raw_socket.h"
#include "transport/vhost_user/backend.h"

namespace virtiosim::vhost_user {
namespace {

using ring::feature_bit;

constexpr uint64_t kGpa = 0x100000;
constexpr uint64_t kUva = 0x7f0000000000;  // the front-end's address of kGpa
constexpr uint64_t kMemBytes = 1 << 20;
constexpr uint32_t kNum = 64;
constexpr uint32_t kTx = 1;  // vring 1: TX of queue pair 0

// The front-end's side: guest memory in a memfd, raw requests on a socket
// pair, eventfds for call, kick and err of the TX ring.
class Frontside {
 public:
  explicit Frontside(NetMode mode = NetMode::sink) : backend_(io_, {mode, 1, 64, false}) {
    Socket a(io_), b(io_);
    boost::asio::local::connect_pair(a, b);
    fd_ = b.release();
    backend_.attach(std::move(a));
    memfd_ = ::memfd_create("guest", MFD_CLOEXEC);
    EXPECT_EQ(::ftruncate(memfd_, kMemBytes), 0);
    host_ = ::mmap(nullptr, kMemBytes, PROT_READ | PROT_WRITE, MAP_SHARED, memfd_, 0);
    EXPECT_NE(host_, MAP_FAILED);
    call_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    kick_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    err_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  }
  ~Frontside() {
    ::munmap(host_, kMemBytes);
    for (int fd : {fd_, memfd_, call_, kick_, err_}) ::close(fd);
  }

  void send(Request r, const Payload& p, std::vector<int> fds = {}) {
    const std::vector<uint8_t> b = wire_bytes(encode(r, p));
    ASSERT_EQ(send_with_fds(fd_, b.data(), b.size(), fds), static_cast<ssize_t>(b.size()));
  }

  // Lets the back-end handle what was sent; true if it is still connected.
  bool settle() {
    io_.restart();
    io_.run_for(std::chrono::milliseconds(20));
    return backend_.connected();
  }

  // The back-end's reply to `r` (a GET_* request), decoded.
  std::optional<Message> reply(Request r) {
    settle();
    RawMessage raw;
    if (::recv(fd_, &raw.header, kHeaderSize, MSG_DONTWAIT) != static_cast<ssize_t>(kHeaderSize)) return {};
    raw.payload.resize(raw.header.size);
    if (raw.header.size && ::recv(fd_, raw.payload.data(), raw.header.size, MSG_DONTWAIT) !=
                               static_cast<ssize_t>(raw.header.size))
      return {};
    Decoded d = decode_reply(raw, r);
    if (d.error != ProtocolError::ok) return {};
    return d.message;
  }
  uint64_t reply_u64(Request r) {
    send(r, NoPayload{});
    const std::optional<Message> m = reply(r);
    EXPECT_TRUE(m && m->request == r) << name(r);
    return m ? std::get<uint64_t>(m->payload) : 0;
  }

  void mem_table() { send(Request::SET_MEM_TABLE, MemTable{{{kGpa, kMemBytes, kUva, 0}}}, {memfd_}); }
  void vring_addr(uint32_t index, uint64_t desc, uint64_t driver_area, uint64_t device_area) {
    auto uva = [](uint64_t gpa) { return kUva + (gpa - kGpa); };
    send(Request::SET_VRING_ADDR, VringAddr{index, 0, uva(desc), uva(device_area), uva(driver_area), 0});
  }
  void call(uint32_t index) { send(Request::SET_VRING_CALL, uint64_t{index}, {call_}); }
  void err(uint32_t index) { send(Request::SET_VRING_ERR, uint64_t{index}, {err_}); }
  void kick(uint32_t index) { send(Request::SET_VRING_KICK, uint64_t{index}, {kick_}); }
  void enable(uint32_t index, bool on) { send(Request::SET_VRING_ENABLE, VringState{index, on ? 1u : 0u}); }

  // Counter values an eventfd holds (0: not signalled); reading resets it.
  static uint64_t take(int efd) {
    uint64_t n = 0;
    return ::read(efd, &n, sizeof n) == sizeof n ? n : 0;
  }
  uint64_t take_err() { return take(err_); }

  ring::NativeMemory guest() const { return {host_, kMemBytes, kGpa}; }
  Backend& backend() { return backend_; }
  size_t poll() { return backend_.poll(); }

 private:
  boost::asio::io_context io_;
  Backend backend_;
  int fd_ = -1, memfd_ = -1, call_ = -1, kick_ = -1, err_ = -1;
  void* host_ = nullptr;
};

// A ring in guest memory (TX at kGpa, RX at kGpa + 64 KiB), driven by the
// ring core's driver side.
template <class Driver, class Layout>
struct TxRing {
  explicit TxRing(Frontside& f, uint64_t features, uint64_t at = kGpa)
      : layout(Layout::place(at, kNum)), drv(f.guest(), layout, ring::Features{features}) {}

  // One frame: net header (12 bytes with VERSION_1) and 60 bytes.
  void send_frame(uint64_t token, uint64_t addr = kGpa + 0x10000) {
    const ring::Segment s{addr, 12 + 60};
    ASSERT_EQ(drv.add(std::span(&s, 1), {}, token), ring::RingError::ok);
  }
  uint64_t device_area() const {
    if constexpr (std::is_same_v<Layout, ring::PackedLayout>) return layout.device_event;
    else return layout.used;
  }
  uint64_t driver_area() const {
    if constexpr (std::is_same_v<Layout, ring::PackedLayout>) return layout.driver_event;
    else return layout.avail;
  }

  Layout layout;
  Driver drv;
};

struct Packed {
  using Driver = ring::PackedDriver<ring::NativeMemory>;
  using Layout = ring::PackedLayout;
  static constexpr uint64_t kLayoutBit = uint64_t{1} << VIRTIO_F_RING_PACKED;
  static constexpr uint32_t kFreshBase = 0x80008000;  // VU2: both wrap counters 1
};
struct Split {
  using Driver = ring::SplitDriver<ring::NativeMemory>;
  using Layout = ring::SplitLayout;
  static constexpr uint64_t kLayoutBit = 0;
  static constexpr uint32_t kFreshBase = 0;
};

template <class L>
class RingStates : public ::testing::Test {
 protected:
  static uint64_t features() {
    return feature_bit(VIRTIO_F_VERSION_1) | feature_bit(kFeatureProtocolFeatures) | L::kLayoutBit;
  }
  // Per ring, as QEMU's vhost_virtqueue_start: NUM, BASE, ADDR, KICK, CALL.
  void start_tx(Frontside& f, TxRing<typename L::Driver, typename L::Layout>& tx, bool with_call = true,
                uint32_t index = kTx) {
    f.send(Request::SET_VRING_NUM, VringState{index, kNum});
    f.send(Request::SET_VRING_BASE, VringState{index, L::kFreshBase});
    f.vring_addr(index, tx.layout.desc, tx.driver_area(), tx.device_area());
    f.kick(index);
    if (with_call) f.call(index);
  }
  // The protocol prefix with protocol features negotiated (STATUS among them).
  void negotiate(Frontside& f) {
    f.send(Request::SET_OWNER, NoPayload{});
    EXPECT_EQ(f.reply_u64(Request::GET_FEATURES) & features(), features());
    (void)f.reply_u64(Request::GET_PROTOCOL_FEATURES);
    f.send(Request::SET_PROTOCOL_FEATURES, feature_bit(protocol_feature::STATUS));
    f.send(Request::SET_FEATURES, features());
    f.mem_table();
  }
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
