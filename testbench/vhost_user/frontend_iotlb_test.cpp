// The front-end's side of the IOTLB (drive --iommu), against a back-end
// scripted here message by message: a MISS is answered with an UPDATE of
// its page (acked) and then acked 0, or refused with ack 1 and no UPDATE;
// misses that arrive while the front-end waits for a reply of its own, or
// while an INVALIDATE waits for its ack, are served without deadlock and
// the replies matched in order; and a back-end without ACCESS_PLATFORM or
// without BACKEND_REQ is refused with a message that says so.
#include <gtest/gtest.h>
#include <poll.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include "models/ring/features.h"
#include "testbench/vhost_user/serve_peer.h"
#include "transport/vhost_user/dma_domain.h"
#include "transport/vhost_user/drive.h"
#include "transport/vhost_user/frontend.h"

namespace virtiosim::vhost_user {
namespace {

using ring::feature_bit;

constexpr uint64_t kIommuFeatures = feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_F_RING_PACKED) |
                                    feature_bit(kFeatureProtocolFeatures) | feature_bit(kFeatureAccessPlatform);
constexpr uint64_t kIommuProtocol = feature_bit(protocol_feature::REPLY_ACK) |
                                    feature_bit(protocol_feature::BACKEND_REQ);

// The back-end's end of the conversation.
struct Script {
  Connection& conn;

  Message next(RawMessage& raw) {
    ReceiveResult rr = conn.receive(raw);
    EXPECT_EQ(rr.error, ProtocolError::ok) << rr.detail;
    EXPECT_FALSE(rr.peer_closed);
    Decoded d = decode_request(raw);
    EXPECT_EQ(d.error, ProtocolError::ok) << d.detail;
    return d.message;
  }
  Message expect(Request r) {
    RawMessage raw;
    Message m = next(raw);
    EXPECT_EQ(m.request, r) << name(m.request) << " instead of " << name(r);
    return m;
  }
  void answer(Request r, const Payload& p) { EXPECT_EQ(conn.send(encode_reply(r, p)), ProtocolError::ok); }
  void ack(const Message& m, uint64_t status = 0) {
    EXPECT_TRUE(m.need_reply()) << name(m.request) << " asked for no ack";
    answer(m.request, status);
  }
  // SET_OWNER, GET_FEATURES, and with PROTOCOL_FEATURES offered the
  // protocol features (REPLY_ACK: the front-end asks for acks from then on).
  void negotiate(uint64_t features, uint64_t protocol) {
    expect(Request::SET_OWNER);
    expect(Request::GET_FEATURES);
    answer(Request::GET_FEATURES, features);
    expect(Request::GET_PROTOCOL_FEATURES);
    answer(Request::GET_PROTOCOL_FEATURES, protocol);
    EXPECT_EQ(std::get<uint64_t>(expect(Request::SET_PROTOCOL_FEATURES).payload), protocol);
    ack(expect(Request::SET_FEATURES));
  }
};

// The back-end channel, seen from the back-end.
struct Channel {
  Connection conn;

  void miss(uint64_t iova, uint8_t perm) {
    IotlbMsg m;
    m.iova = iova;
    m.perm = perm;
    m.type = iotlb::kMiss;
    EXPECT_EQ(conn.send(encode(BackendRequest::IOTLB_MSG, m, kVersion | kFlagNeedReply)), ProtocolError::ok);
  }
  uint64_t ack() {
    RawMessage raw;
    EXPECT_EQ(conn.receive(raw).error, ProtocolError::ok);
    Decoded d = decode_backend_ack(raw, BackendRequest::IOTLB_MSG);
    EXPECT_EQ(d.error, ProtocolError::ok) << d.detail;
    return d.error == ProtocolError::ok ? std::get<uint64_t>(d.message.payload) : UINT64_MAX;
  }
};

// The UPDATE a MISS of `page` must bring: that page, 4 KiB, our user
// address of it, its permission.
void expect_update(const Message& m, uint64_t page, uint64_t uaddr, uint8_t perm) {
  ASSERT_EQ(m.request, Request::IOTLB_MSG);
  const IotlbMsg& u = std::get<IotlbMsg>(m.payload);
  EXPECT_EQ(u.type, iotlb::kUpdate);
  EXPECT_EQ(u.iova, page);
  EXPECT_EQ(u.size, kIommuPageSize);
  EXPECT_EQ(u.uaddr, uaddr);
  EXPECT_EQ(u.perm, perm);
  EXPECT_TRUE(m.need_reply());
}

bool readable(Connection& c, int ms) {
  pollfd p{c.socket().native_handle(), POLLIN, 0};
  return ::poll(&p, 1, ms) > 0;
}

TEST(FrontendIotlb, MissesAnsweredFromTheDomainWhileRepliesAreAwaited) {
  boost::asio::io_context io;
  Socket ours(io), theirs(io);
  boost::asio::local::connect_pair(ours, theirs);
  GuestMemfd mem(64 << 10);
  DmaDomain dma(mem.mapping());
  const uint64_t page0 = dma.iova(mem.gpa_base()), page1 = page0 + kIommuPageSize, page2 = page1 + kIommuPageSize;
  dma.map(page0, kIommuPageSize, iotlb::kRead);
  dma.map(page1, kIommuPageSize, iotlb::kReadWrite);
  dma.map(page2, kIommuPageSize, iotlb::kWrite);
  const uint64_t unmapped = page2 + kIommuPageSize;

  std::thread backend([&] {
    Connection main(std::move(theirs));
    Script s{main};
    s.negotiate(kIommuFeatures, kIommuProtocol);
    // The back-end channel: one fd, acked.
    RawMessage raw;
    Message m = s.next(raw);
    ASSERT_EQ(m.request, Request::SET_BACKEND_REQ_FD);
    ASSERT_EQ(raw.fds.size(), 1u);
    Socket ch(io);
    ch.assign(boost::asio::local::stream_protocol(), raw.fds[0].release());
    Channel c{Connection(std::move(ch))};
    s.ack(m);

    // 1. While the front-end waits for GET_VRING_BASE's reply: a mapped
    //    page (its UPDATE, acked, before the MISS's ack), an unmapped one,
    //    a write to a read-only page and a read of a write-only one (ack 1,
    //    no UPDATE).
    s.expect(Request::GET_VRING_BASE);
    c.miss(page0 + 5, iotlb::kRead);
    Message u = s.expect(Request::IOTLB_MSG);
    expect_update(u, page0, mem.uva(mem.gpa_base()), iotlb::kRead);
    EXPECT_FALSE(readable(c.conn, 50)) << "the MISS acked before its UPDATE was";
    s.ack(u);
    EXPECT_EQ(c.ack(), 0u);
    c.miss(unmapped, iotlb::kRead);
    EXPECT_EQ(c.ack(), 1u);
    c.miss(page0, iotlb::kWrite);
    EXPECT_EQ(c.ack(), 1u);
    c.miss(page2, iotlb::kRead);
    EXPECT_EQ(c.ack(), 1u);
    EXPECT_FALSE(readable(main, 50)) << "an UPDATE for a refused MISS";
    // As QEMU: a miss that wants a write is a write; the UPDATE carries
    // the page's own permission.
    c.miss(page2 + 8, iotlb::kReadWrite);
    u = s.expect(Request::IOTLB_MSG);
    expect_update(u, page2, mem.uva(mem.gpa_base()) + 2 * kIommuPageSize, iotlb::kWrite);
    s.ack(u);
    EXPECT_EQ(c.ack(), 0u);
    s.answer(Request::GET_VRING_BASE, VringState{0, 42});

    // 2. An INVALIDATE whose ack waits behind a MISS: the UPDATE goes out
    //    while the INVALIDATE is unanswered; the acks come back in order.
    Message inv = s.expect(Request::IOTLB_MSG);
    EXPECT_EQ(std::get<IotlbMsg>(inv.payload).type, iotlb::kInvalidate);
    EXPECT_EQ(std::get<IotlbMsg>(inv.payload).iova, page0);
    EXPECT_EQ(std::get<IotlbMsg>(inv.payload).size, kIommuPageSize);
    c.miss(page1 + 100, iotlb::kWrite);
    u = s.expect(Request::IOTLB_MSG);
    expect_update(u, page1, mem.uva(mem.gpa_base()) + kIommuPageSize, iotlb::kReadWrite);
    s.ack(inv);
    s.ack(u);
    EXPECT_EQ(c.ack(), 0u);

    // 3. Outside any request: served by serve_backend.
    c.miss(page1, iotlb::kRead);
    u = s.expect(Request::IOTLB_MSG);
    expect_update(u, page1, mem.uva(mem.gpa_base()) + kIommuPageSize, iotlb::kReadWrite);
    s.ack(u);
    EXPECT_EQ(c.ack(), 0u);
    // The front-end closes when done.
    RawMessage end;
    EXPECT_TRUE(main.receive(end).peer_closed);
  });

  Frontend fe(std::move(ours));
  uint64_t features = 0;
  ASSERT_EQ(fe.negotiate(kIommuFeatures & ~feature_bit(kFeatureProtocolFeatures), 0, features, kIommuProtocol),
            ProtocolError::ok)
      << fe.detail();
  EXPECT_TRUE(features & feature_bit(kFeatureAccessPlatform));
  ASSERT_EQ(fe.open_backend_channel(dma), ProtocolError::ok) << fe.detail();
  uint32_t base = 0;
  EXPECT_EQ(fe.get_vring_base(0, base), ProtocolError::ok) << fe.detail();
  EXPECT_EQ(base, 42u);
  EXPECT_EQ(fe.invalidate({page0, kIommuPageSize}), ProtocolError::ok) << fe.detail();
  for (int i = 0; i < 100 && fe.iotlb().misses < 4; ++i) ASSERT_EQ(fe.serve_backend(50), ProtocolError::ok) << fe.detail();
  fe.connection().close();
  backend.join();
  const IommuCounters& k = fe.iotlb();
  EXPECT_EQ(k.misses, 4u);
  EXPECT_EQ(k.misses_refused, 3u);
  EXPECT_EQ(k.updates, 4u);
  EXPECT_EQ(k.invalidates, 1u);
  EXPECT_EQ(k.access_fails, 0u);
}

// A back-end on a Unix socket that negotiates as scripted, then waits for
// the front-end to leave.
class ScriptedBackend {
 public:
  ScriptedBackend(const std::string& tag, std::function<void(Script&)> script)
      : path_(temp_socket(tag)), acceptor_(io_, boost::asio::local::stream_protocol::endpoint(path_)) {
    thread_ = std::thread([this, script] {
      Connection c(acceptor_.accept());
      Script s{c};
      script(s);
      RawMessage end;
      while (!c.receive(end).peer_closed && c.is_open()) {
      }
    });
  }
  ~ScriptedBackend() {
    thread_.join();
    std::filesystem::remove(path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  boost::asio::io_context io_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::thread thread_;
};

DriveReport drive_iommu_against(ScriptedBackend& b) {
  DriveOptions d;
  d.socket_path = b.path();
  d.iommu = true;
  d.packets = 10;
  d.timeout_s = 2;
  DriveReport r = run_drive(d);
  EXPECT_EQ(exit_code(r, d), 1) << r.text();
  EXPECT_TRUE(r.protocol_failed) << r.text();
  EXPECT_EQ(r.sent, 0u) << r.text();
  return r;
}

TEST(FrontendIotlb, BackendWithoutAccessPlatformIsRefusedSayingSo) {
  ScriptedBackend b("no-access-platform", [](Script& s) {
    s.expect(Request::SET_OWNER);
    s.expect(Request::GET_FEATURES);
    s.answer(Request::GET_FEATURES, kIommuFeatures & ~feature_bit(kFeatureAccessPlatform));
  });
  const DriveReport r = drive_iommu_against(b);
  EXPECT_NE(r.error.find("--iommu"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("VIRTIO_F_ACCESS_PLATFORM"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("lacks wanted features: bit 33"), std::string::npos) << r.error;
}

TEST(FrontendIotlb, BackendWithoutBackendChannelIsRefusedSayingSo) {
  ScriptedBackend b("no-backend-req", [](Script& s) {
    s.expect(Request::SET_OWNER);
    s.expect(Request::GET_FEATURES);
    s.answer(Request::GET_FEATURES, kIommuFeatures);
    s.expect(Request::GET_PROTOCOL_FEATURES);
    s.answer(Request::GET_PROTOCOL_FEATURES, feature_bit(protocol_feature::REPLY_ACK));
  });
  const DriveReport r = drive_iommu_against(b);
  EXPECT_NE(r.error.find("BACKEND_REQ"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("lacks wanted protocol features: bit 5"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace virtiosim::vhost_user
