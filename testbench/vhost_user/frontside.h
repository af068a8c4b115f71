// For tests that drive an in-process back-end (Backend) from the
// front-end's side: raw requests on a socket pair, guest memory in a memfd,
// eventfds for call, kick and err, and rings in guest memory driven by the
// ring core's driver side. Shared by ring_states_test and serve_burst_test.
#pragma once

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>

#include <chrono>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "models/ring/native_memory.h"
#include "models/ring/packed_driver.h"
#include "models/ring/split_driver.h"
#include "testbench/vhost_user/raw_socket.h"
#include "transport/vhost_user/backend.h"

namespace virtiosim::vhost_user::frontside {

constexpr uint64_t kGpa = 0x100000;
constexpr uint64_t kUva = 0x7f0000000000;  // the front-end's address of kGpa
constexpr uint64_t kMemBytes = 1 << 20;
constexpr uint32_t kNum = 64;
constexpr uint32_t kTx = 1;  // vring 1: TX of queue pair 0

// The front-end's side: guest memory in a memfd, raw requests on a socket
// pair, eventfds for call, kick and err of the TX ring.
class Frontside {
 public:
  // `log`: the back-end's log lines go to stderr (for tests that read them).
  explicit Frontside(NetMode mode = NetMode::sink, bool log = false) : backend_(io_, {mode, 1, 64, log}) {
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

  void send(Request r, const Payload& p, std::vector<int> fds = {}) { send_flags(r, p, kVersion, std::move(fds)); }
  void send_flags(Request r, const Payload& p, uint32_t flags, std::vector<int> fds = {}) {
    const std::vector<uint8_t> b = wire_bytes(encode(r, p, flags));
    ASSERT_EQ(send_with_fds(fd_, b.data(), b.size(), fds), static_cast<ssize_t>(b.size()));
  }
  int socket() const { return fd_; }

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
  uint64_t take_call() { return take(call_); }

  ring::NativeMemory guest() const { return {host_, kMemBytes, kGpa}; }
  // Our address of guest-physical `gpa`.
  uint8_t* at(uint64_t gpa) const { return static_cast<uint8_t*>(host_) + (gpa - kGpa); }
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
using RingOf = TxRing<typename L::Driver, typename L::Layout>;

template <class L>
uint64_t base_features() {
  return ring::feature_bit(VIRTIO_F_VERSION_1) | ring::feature_bit(kFeatureProtocolFeatures) | L::kLayoutBit;
}

// Per ring, as QEMU's vhost_virtqueue_start: NUM, BASE, ADDR, KICK, CALL.
template <class L>
void start_ring(Frontside& f, RingOf<L>& r, bool with_call = true, uint32_t index = kTx) {
  f.send(Request::SET_VRING_NUM, VringState{index, kNum});
  f.send(Request::SET_VRING_BASE, VringState{index, L::kFreshBase});
  f.vring_addr(index, r.layout.desc, r.driver_area(), r.device_area());
  f.kick(index);
  if (with_call) f.call(index);
}

// The protocol prefix with protocol features negotiated (STATUS among them).
inline void negotiate(Frontside& f, uint64_t features) {
  f.send(Request::SET_OWNER, NoPayload{});
  EXPECT_EQ(f.reply_u64(Request::GET_FEATURES) & features, features);
  (void)f.reply_u64(Request::GET_PROTOCOL_FEATURES);
  f.send(Request::SET_PROTOCOL_FEATURES, ring::feature_bit(protocol_feature::STATUS));
  f.send(Request::SET_FEATURES, features);
  f.mem_table();
}

}  // namespace virtiosim::vhost_user::frontside
