// The malformed-message table: each row sends one violation to a live
// back-end over a real Unix socket and expects exactly that error, a closed
// connection (the peer reads end-of-file) and no crash.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>

#include <chrono>
#include <cstring>
#include <functional>

#include "testbench/vhost_user/raw_socket.h"
#include "transport/vhost_user/backend.h"

namespace virtiosim::vhost_user {
namespace {

using ring::feature_bit;

class Peer {
 public:
  Peer() : backend_(io_, {NetMode::sink, 1, 64, false}) {
    Socket a(io_), b(io_);
    boost::asio::local::connect_pair(a, b);
    fd_ = b.release();
    backend_.attach(std::move(a));
  }
  ~Peer() { ::close(fd_); }

  void send_bytes(const void* p, size_t n, std::vector<int> fds = {}) {
    ASSERT_EQ(send_with_fds(fd_, p, n, fds), static_cast<ssize_t>(n));
  }
  void send(const RawMessage& m, std::vector<int> fds = {}) {
    const std::vector<uint8_t> b = wire_bytes(m);
    send_bytes(b.data(), b.size(), std::move(fds));
  }
  void send(Request r, const Payload& p, std::vector<int> fds = {}) { send(encode(r, p), std::move(fds)); }
  void end_writes() { ::shutdown(fd_, SHUT_WR); }

  // Lets the back-end handle what was sent; true if it is still connected.
  bool settle() {
    io_.restart();
    io_.run_for(std::chrono::milliseconds(50));
    return backend_.connected();
  }
  // Reads replies until the back-end's close shows: end-of-file, or a
  // reset when it closed with our unread bytes still queued (Linux).
  bool peer_sees_eof() {
    uint8_t buf[256];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }
  Backend& backend() { return backend_; }

  // A usable prefix: features (packed, protocol features) and one memfd
  // region of `size` bytes at gpa 0x100000, user address 0x7f0000000000.
  void setup(uint64_t size = 1 << 20) {
    send(Request::SET_OWNER, NoPayload{});
    send(Request::SET_FEATURES, feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_F_RING_PACKED) |
                                    feature_bit(kFeatureProtocolFeatures));
    const int mfd = ::memfd_create("t", MFD_CLOEXEC);
    ASSERT_EQ(::ftruncate(mfd, static_cast<off_t>(size)), 0);
    send(Request::SET_MEM_TABLE, MemTable{{{0x100000, size, 0x7f0000000000, 0}}}, {mfd});
    ::close(mfd);
  }

 private:
  boost::asio::io_context io_;
  Backend backend_;
  int fd_ = -1;
};

struct Row {
  const char* what;
  ProtocolError expected;
  std::function<void(Peer&)> send;
};

const std::vector<Row>& table() {
  static const std::vector<Row> rows = {
      {"short header", ProtocolError::short_header,
       [](Peer& p) {
         const uint8_t five[5] = {1, 0, 0, 0, 1};
         p.send_bytes(five, sizeof five);
         p.end_writes();
       }},
      {"size larger than the payload", ProtocolError::truncated_payload,
       [](Peer& p) {
         RawMessage m = encode(Request::SET_FEATURES, uint64_t{0});
         m.payload.resize(3);  // header still says 8
         p.send(m);
         p.end_writes();
       }},
      {"size larger than any payload", ProtocolError::payload_too_large,
       [](Peer& p) {
         RawMessage m = encode(Request::SET_FEATURES, uint64_t{0});
         m.header.size = 1u << 20;
         p.send(m);
       }},
      {"payload size wrong for the request", ProtocolError::bad_payload_size,
       [](Peer& p) {
         RawMessage m = encode(Request::SET_VRING_NUM, VringState{0, 256});
         m.payload.resize(4);
         m.header.size = 4;
         p.send(m);
       }},
      {"bad version", ProtocolError::bad_version,
       [](Peer& p) { p.send(encode(Request::SET_OWNER, NoPayload{}, 0)); }},
      {"too many fds for the request", ProtocolError::too_many_fds,
       [](Peer& p) { p.send(Request::SET_OWNER, NoPayload{}, {0}); }},
      {"too many fds for any request", ProtocolError::too_many_fds,
       [](Peer& p) { p.send(Request::SET_OWNER, NoPayload{}, std::vector<int>(kMaxFds + 4, 0)); }},
      {"kick without its fd", ProtocolError::missing_fd,
       [](Peer& p) { p.send(Request::SET_VRING_KICK, uint64_t{0}); }},
      {"region overlap", ProtocolError::region_overlap,
       [](Peer& p) {
         p.send(Request::SET_MEM_TABLE,
                MemTable{{{0x0, 0x2000, 0x7f0000000000, 0}, {0x1000, 0x1000, 0x7f1000000000, 0}}}, {0, 0});
       }},
      {"region overflow (wraps 64 bits)", ProtocolError::region_overflow,
       [](Peer& p) { p.send(Request::SET_MEM_TABLE, MemTable{{{~0ull - 0xfff, 0x2000, 0x7f0000000000, 0}}}, {0}); }},
      {"region beyond the end of its fd", ProtocolError::region_overflow,
       [](Peer& p) {
         const int mfd = ::memfd_create("t", MFD_CLOEXEC);
         ASSERT_EQ(::ftruncate(mfd, 4096), 0);
         p.send(Request::SET_MEM_TABLE, MemTable{{{0x0, 0x100000, 0x7f0000000000, 0}}}, {mfd});
         ::close(mfd);
       }},
      {"vring index out of range", ProtocolError::vring_index_out_of_range,
       [](Peer& p) { p.send(Request::SET_VRING_NUM, VringState{2, 256}); }},
      {"kick for a vring out of range", ProtocolError::vring_index_out_of_range,
       [](Peer& p) { p.send(Request::SET_VRING_KICK, uint64_t{7 | kVringNoFdMask}); }},
      {"vring num not a queue size", ProtocolError::bad_vring_num,
       [](Peer& p) { p.send(Request::SET_VRING_NUM, VringState{0, 40000}); }},
      {"SET_VRING_ADDR outside every region", ProtocolError::vring_addr_unmapped,
       [](Peer& p) {
         p.setup();
         p.send(Request::SET_VRING_NUM, VringState{0, 256});
         // Descriptor ring at the region's last 16 bytes: 256 descriptors do not fit.
         p.send(Request::SET_VRING_ADDR,
                VringAddr{0, 0, 0x7f0000000000 + (1 << 20) - 16, 0x7f0000001000, 0x7f0000002000, 0});
       }},
      {"SET_VRING_ADDR before SET_MEM_TABLE", ProtocolError::out_of_order,
       [](Peer& p) {
         p.send(Request::SET_FEATURES, feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_F_RING_PACKED));
         p.send(Request::SET_VRING_NUM, VringState{0, 256});
         p.send(Request::SET_VRING_ADDR, VringAddr{0, 0, 0x7f0000000000, 0x7f0000001000, 0x7f0000002000, 0});
       }},
      {"SET_VRING_BASE beyond the ring", ProtocolError::bad_vring_base,
       [](Peer& p) {
         p.setup();
         p.send(Request::SET_VRING_NUM, VringState{0, 256});
         p.send(Request::SET_VRING_BASE, VringState{0, 0x80008000 | 300});
       }},
      {"features not offered", ProtocolError::unsupported_features,
       [](Peer& p) { p.send(Request::SET_FEATURES, uint64_t{1} << 63); }},
      {"SET_VRING_ENABLE without protocol features", ProtocolError::out_of_order,
       [](Peer& p) { p.send(Request::SET_VRING_ENABLE, VringState{0, 1}); }},
      // An early enable (VU3) must not let a ring start before it has a size
      // and addresses.
      {"SET_VRING_KICK before the ring's size and addresses", ProtocolError::out_of_order,
       [](Peer& p) {
         p.setup();
         p.send(Request::SET_VRING_ENABLE, VringState{0, 1});
         p.send(Request::SET_VRING_KICK, uint64_t{0 | kVringNoFdMask});
       }},
      {"SET_FEATURES switching packed to split on a started ring", ProtocolError::out_of_order,
       [](Peer& p) {
         p.setup();
         p.send(Request::SET_VRING_NUM, VringState{0, 256});
         p.send(Request::SET_VRING_ADDR, VringAddr{0, 0, 0x7f0000000000, 0x7f0000002000, 0x7f0000001000, 0});
         p.send(Request::SET_VRING_KICK, uint64_t{0 | kVringNoFdMask});
         p.send(Request::SET_FEATURES, feature_bit(VIRTIO_F_VERSION_1) | feature_bit(kFeatureProtocolFeatures));
       }},
      {"unknown request", ProtocolError::unknown_request,
       [](Peer& p) {
         RawMessage m;
         m.header = {999, kVersion, 0};
         p.send(m);
       }},
      {"request we do not accept (POSTCOPY_ADVISE)", ProtocolError::unknown_request,
       [](Peer& p) { p.send(Request::POSTCOPY_ADVISE, NoPayload{}); }},
      {"IOTLB_MSG without its payload", ProtocolError::bad_payload_size,
       [](Peer& p) { p.send(Request::IOTLB_MSG, NoPayload{}); }},
      {"IOTLB_MSG of a type only the back-end sends (MISS)", ProtocolError::bad_iotlb_msg,
       [](Peer& p) { p.send(Request::IOTLB_MSG, IotlbMsg{0x1000, 0x1000, 0x7f0000000000, 1, iotlb::kMiss}); }},
      {"IOTLB_MSG UPDATE without ACCESS_PLATFORM", ProtocolError::out_of_order,
       [](Peer& p) {
         p.setup();
         p.send(Request::IOTLB_MSG, IotlbMsg{0x1000, 0x1000, 0x7f0000000000, 1, iotlb::kUpdate});
       }},
      {"SET_BACKEND_REQ_FD without BACKEND_REQ", ProtocolError::out_of_order,
       [](Peer& p) { p.send(Request::SET_BACKEND_REQ_FD, NoPayload{}, {0}); }},
  };
  return rows;
}

class Malformed : public ::testing::TestWithParam<size_t> {};

TEST_P(Malformed, IsRefusedWithItsErrorAndTheConnectionCloses) {
  const Row& row = table()[GetParam()];
  SCOPED_TRACE(row.what);
  Peer p;
  row.send(p);
  EXPECT_FALSE(p.settle()) << "connection still open";
  EXPECT_EQ(name(p.backend().last_error()), std::string(name(row.expected)));
  EXPECT_EQ(p.backend().counters().protocol_errors, 1u);
  EXPECT_TRUE(p.peer_sees_eof());
}

INSTANTIATE_TEST_SUITE_P(Table, Malformed, ::testing::Range<size_t>(0, 27));

TEST(Malformed, TableHasEveryRow) { EXPECT_EQ(table().size(), 27u); }

TEST(Malformed, AWellFormedPrefixKeepsTheConnection) {
  Peer p;
  p.setup();
  p.send(Request::SET_VRING_NUM, VringState{0, 256});
  p.send(Request::SET_VRING_ADDR, VringAddr{0, 0, 0x7f0000000000, 0x7f0000001000, 0x7f0000001004, 0});
  EXPECT_TRUE(p.settle());
  EXPECT_EQ(p.backend().last_error(), ProtocolError::ok);
}

TEST(Malformed, AnOrderlyCloseIsNotAnError) {
  Peer p;
  p.send(Request::SET_OWNER, NoPayload{});
  p.end_writes();
  EXPECT_FALSE(p.settle());
  EXPECT_EQ(p.backend().counters().protocol_errors, 0u);
}

}  // namespace
}  // namespace virtiosim::vhost_user
