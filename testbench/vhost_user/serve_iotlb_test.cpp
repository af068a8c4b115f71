// serve behind a guest IOMMU (VIRTIO_F_ACCESS_PLATFORM): the back-end's
// IOTLB (transport/vhost_user/iotlb.h) and its use by the data path. The
// test plays the front-end with a small IOMMU of its own: IOVA pages mapped
// to front-end user addresses with a permission, MISSes on the back-end
// channel answered as QEMU answers them (an UPDATE on the main socket, then
// the ack; ack 1 and no UPDATE for what it does not map).
//
// A buffer's IOVA page is mapped to a different page than its guest
// address names, with other bytes in it: the checksum serve computes tells
// which page it read.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstring>
#include <map>
#include <numeric>
#include <string>

#include "testbench/vhost_user/frontside.h"
#include "transport/vhost_user/iotlb.h"
#include "transport/vhost_user/net.h"

namespace virtiosim::vhost_user {
namespace {

using ring::feature_bit;
using namespace frontside;

constexpr size_t kHdr = net::kHdrLenMrg;
constexpr size_t kFrame = 60;
constexpr uint64_t kPage = kIotlbPage;
constexpr uint64_t kBufIova = kGpa + 0x40000;  // what the descriptors say
constexpr uint64_t kBufPage = kGpa + 0x60000;  // where the IOMMU maps it

uint64_t uva(uint64_t gpa) { return kUva + (gpa - kGpa); }

// The front-end's IOMMU and the back-end channel.
class Iommu {
 public:
  explicit Iommu(Frontside& f) : f_(f) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    chan_ = sv[0];
    theirs_ = sv[1];
  }
  ~Iommu() { ::close(chan_); }

  // SET_BACKEND_REQ_FD (acked).
  void connect() {
    const std::vector<uint8_t> b = wire_bytes(encode(Request::SET_BACKEND_REQ_FD, NoPayload{}, kVersion | kFlagNeedReply));
    ASSERT_EQ(send_with_fds(f_.socket(), b.data(), b.size(), {theirs_}), static_cast<ssize_t>(b.size()));
    ::close(theirs_);
    const std::optional<Message> ack = f_.reply(Request::SET_BACKEND_REQ_FD);
    ASSERT_TRUE(ack);
    EXPECT_EQ(std::get<uint64_t>(ack->payload), 0u);
  }

  void map(uint64_t iova, uint64_t gpa, uint64_t size, uint8_t perm) {
    for (uint64_t o = 0; o < size; o += kPage) pages_[iova + o] = {gpa + o, perm};
  }
  void unmap(uint64_t iova) { pages_.erase(iova); }

  // IOTLB_MSG with NEED_REPLY; the back-end's ack.
  uint64_t send(const IotlbMsg& m) {
    f_.send_flags(Request::IOTLB_MSG, m, kVersion | kFlagNeedReply);
    const std::optional<Message> ack = f_.reply(Request::IOTLB_MSG);
    EXPECT_TRUE(ack) << "no ack to IOTLB_MSG";
    return ack ? std::get<uint64_t>(ack->payload) : ~0ull;
  }
  uint64_t invalidate(uint64_t iova, uint64_t size) { return send({iova, size, 0, 0, iotlb::kInvalidate}); }

  // Polls the back-end and answers its MISSes, `rounds` times.
  void serve(int rounds = 8) {
    for (int i = 0; i < rounds; ++i) {
      f_.settle();
      f_.poll();
      while (std::optional<IotlbMsg> miss = next_miss()) answer(*miss);
    }
  }

  std::vector<IotlbMsg> misses;  // every MISS seen
  uint64_t refused = 0;          // MISSes acked 1

 private:
  std::optional<IotlbMsg> next_miss() {
    RawMessage raw;
    if (::recv(chan_, &raw.header, kHeaderSize, MSG_DONTWAIT) != static_cast<ssize_t>(kHeaderSize)) return {};
    raw.payload.resize(raw.header.size);
    EXPECT_EQ(::recv(chan_, raw.payload.data(), raw.header.size, MSG_DONTWAIT), static_cast<ssize_t>(raw.header.size));
    const Decoded d = decode_backend_request(raw);
    EXPECT_EQ(d.error, ProtocolError::ok) << d.detail;
    EXPECT_TRUE(d.message.need_reply()) << "REPLY_ACK was negotiated";
    if (d.error != ProtocolError::ok) return {};
    misses.push_back(std::get<IotlbMsg>(d.message.payload));
    return misses.back();
  }
  // As QEMU's vhost_device_iotlb_miss: the page's UPDATE, then the ack.
  void answer(const IotlbMsg& miss) {
    const uint64_t page = miss.iova & ~(kPage - 1);
    const auto it = pages_.find(page);
    uint64_t status = 1;
    if (it != pages_.end()) {
      EXPECT_EQ(send({page, kPage, uva(it->second.first), it->second.second, iotlb::kUpdate}), 0u);
      status = 0;
    } else {
      ++refused;
    }
    const std::vector<uint8_t> b = wire_bytes(encode_reply(BackendRequest::IOTLB_MSG, status));
    ASSERT_EQ(::send(chan_, b.data(), b.size(), 0), static_cast<ssize_t>(b.size()));
  }

  Frontside& f_;
  int chan_ = -1, theirs_ = -1;
  std::map<uint64_t, std::pair<uint64_t, uint8_t>> pages_;  // IOVA page -> (guest page, perm)
};

template <class L>
uint64_t iommu_features() {
  return base_features<L>() | feature_bit(kFeatureAccessPlatform);
}

// Negotiation as QEMU with a vIOMMU: ACCESS_PLATFORM, REPLY_ACK and
// BACKEND_REQ, the back-end channel, then the TX ring (identity IOVAs for
// the ring: the IOTLB still has to translate them).
template <class L>
void open_iommu(Frontside& f, Iommu& mmu, RingOf<L>& tx) {
  f.send(Request::SET_OWNER, NoPayload{});
  ASSERT_EQ(f.reply_u64(Request::GET_FEATURES) & iommu_features<L>(), iommu_features<L>());
  const uint64_t pf = f.reply_u64(Request::GET_PROTOCOL_FEATURES);
  const uint64_t want = feature_bit(protocol_feature::REPLY_ACK) | feature_bit(protocol_feature::BACKEND_REQ);
  ASSERT_EQ(pf & want, want);
  f.send(Request::SET_PROTOCOL_FEATURES, want | feature_bit(protocol_feature::STATUS));
  mmu.connect();
  f.send(Request::SET_FEATURES, iommu_features<L>());
  f.mem_table();
  f.enable(kTx, true);
  // As QEMU's vhost_virtqueue_start; the ring addresses are IOVAs.
  f.send(Request::SET_VRING_NUM, VringState{kTx, kNum});
  f.send(Request::SET_VRING_BASE, VringState{kTx, L::kFreshBase});
  f.send(Request::SET_VRING_ADDR, VringAddr{kTx, 0, tx.layout.desc, tx.device_area(), tx.driver_area(), 0});
  f.kick(kTx);
  f.call(kTx);
  f.err(kTx);
  ASSERT_TRUE(f.settle());
  mmu.map(kGpa, kGpa, 0x10000, iotlb::kReadWrite);  // the rings (Linux maps them coherent, both ways)
}

// A frame at IOVA `iova` whose bytes sit in guest page `page`; the IOVA's
// own guest address holds only junk. Returns the frame's byte sum.
template <class L>
uint64_t iommu_frame(Frontside& f, RingOf<L>& tx, uint64_t iova, uint64_t page, uint64_t seq) {
  std::memset(f.at(iova), 0xee, kHdr + kFrame);
  std::memset(f.at(page), 0xaa, kHdr);
  net::make_frame(f.at(page + kHdr), kFrame, seq);
  tx.send_frame(seq, iova);
  return std::accumulate(f.at(page + kHdr), f.at(page + kHdr + kFrame), uint64_t{0});
}

template <class L>
class ServeIotlb : public ::testing::Test {
 protected:
  static uint64_t features() { return iommu_features<L>(); }
  void open(Frontside& f, Iommu& mmu, RingOf<L>& tx) { open_iommu<L>(f, mmu, tx); }
  static uint64_t frame(Frontside& f, RingOf<L>& tx, uint64_t iova, uint64_t page, uint64_t seq) {
    return iommu_frame<L>(f, tx, iova, page, seq);
  }
};

struct LayoutName {
  template <class L>
  static std::string GetName(int) {
    return std::is_same_v<L, Packed> ? "packed" : "split";
  }
};
using Layouts = ::testing::Types<Packed, Split>;
TYPED_TEST_SUITE(ServeIotlb, Layouts, LayoutName);

TEST(ServeIotlbOffer, AccessPlatformComesWithBackendReqAndNotWithCheck) {
  Frontside f;
  EXPECT_TRUE(f.backend().offered_features() & feature_bit(kFeatureAccessPlatform));
  EXPECT_TRUE(f.backend().offered_protocol_features() & feature_bit(protocol_feature::BACKEND_REQ));
  EXPECT_TRUE(f.backend().offered_protocol_features() & feature_bit(protocol_feature::REPLY_ACK));
  boost::asio::io_context io;
  const Backend checked(io, {NetMode::sink, 1, 64, false, true});
  EXPECT_FALSE(checked.offered_features() & feature_bit(kFeatureAccessPlatform));
  EXPECT_FALSE(checked.offered_protocol_features() & feature_bit(protocol_feature::BACKEND_REQ));
}

// Nothing is touched before it is translated: the ring's three areas and
// the buffer are each asked for, the frame is read from the page the
// IOMMU maps, and the ring keeps its translation for the next frames.
TYPED_TEST(ServeIotlb, TranslatesRingsAndBuffersThroughMisses) {
  Frontside f;
  Iommu mmu(f);
  RingOf<TypeParam> tx(f, this->features());
  this->open(f, mmu, tx);
  mmu.map(kBufIova, kBufPage, kPage, iotlb::kRead);
  const uint64_t sum = this->frame(f, tx, kBufIova, kBufPage, 1);
  mmu.serve();
  const BackendCounters& c = f.backend().counters();
  EXPECT_EQ(c.tx_packets, 1u);
  EXPECT_EQ(c.tx_checksum, sum) << "read the IOVA's guest page, not the page the IOMMU maps";
  EXPECT_EQ(c.iotlb.faults, 0u);
  EXPECT_EQ(mmu.refused, 0u);
  // The rings share the first 64 KiB: desc, driver and device areas miss
  // (once per page they touch), then the buffer's page, read-only.
  ASSERT_FALSE(mmu.misses.empty());
  EXPECT_EQ(mmu.misses.back().iova & ~(kPage - 1), kBufIova);
  EXPECT_EQ(mmu.misses.back().perm, iotlb::kRead);
  EXPECT_EQ(c.iotlb.misses, mmu.misses.size());
  EXPECT_EQ(c.iotlb.updates, mmu.misses.size());
  EXPECT_EQ(c.iotlb.ring_translations, 1u);
  EXPECT_GT(c.iotlb.miss_wait_ns, 0u);

  // Nine more frames in the same page: no miss, the ring cache answers.
  const uint64_t misses = c.iotlb.misses, ring_hits = c.iotlb.ring_cache_hits;
  uint64_t more = 0;
  for (uint64_t i = 0; i < 9; ++i) more += this->frame(f, tx, kBufIova + 128 * (i + 1), kBufPage + 128 * (i + 1), i + 2);
  mmu.serve(2);
  EXPECT_EQ(c.tx_packets, 10u);
  EXPECT_EQ(c.tx_checksum, sum + more);
  EXPECT_EQ(c.iotlb.misses, misses);
  EXPECT_GT(c.iotlb.ring_cache_hits, ring_hits);
  EXPECT_EQ(c.ring_errors, 0u);
}

// The unmap-in-flight race, from a hostile front-end: the buffer is made
// available, then its page is invalidated (acked) before the back-end
// looks, and the front-end refuses the miss. The back-end breaks the ring
// with ring.iova_unmapped, signals the error eventfd, completes nothing,
// and never reads the page (the poison in it is not summed).
TYPED_TEST(ServeIotlb, UnmapInFlightBreaksTheRingWithoutTouchingThePage) {
  Frontside f(NetMode::sink, true);
  Iommu mmu(f);
  RingOf<TypeParam> tx(f, this->features());
  this->open(f, mmu, tx);
  mmu.map(kBufIova, kBufPage, kPage, iotlb::kRead);
  const uint64_t sum = this->frame(f, tx, kBufIova, kBufPage, 1);
  mmu.serve();
  ASSERT_EQ(f.backend().counters().tx_packets, 1u);

  constexpr uint64_t kIova2 = kBufIova + kPage, kPage2 = kBufPage + kPage;
  mmu.map(kIova2, kPage2, kPage, iotlb::kRead);
  ASSERT_EQ(mmu.send({kIova2, kPage, uva(kPage2), iotlb::kRead, iotlb::kUpdate}), 0u);  // mapped and known
  (void)this->frame(f, tx, kIova2, kPage2, 2);
  mmu.unmap(kIova2);
  EXPECT_EQ(mmu.invalidate(kIova2, kPage), 0u);
  std::memset(f.at(kPage2), 0x5a, kPage);  // the page is the guest's again
  ::testing::internal::CaptureStderr();
  mmu.serve();
  const std::string log = ::testing::internal::GetCapturedStderr();
  const BackendCounters& c = f.backend().counters();
  EXPECT_EQ(mmu.refused, 1u);
  EXPECT_EQ(c.tx_packets, 1u);
  EXPECT_EQ(c.tx_checksum, sum) << "the unmapped page was read";
  EXPECT_EQ(c.vring_used[kTx], 1u) << "the unmapped buffer was completed";
  EXPECT_EQ(c.ring_errors, 1u);
  EXPECT_EQ(c.iotlb.faults, 1u);
  EXPECT_EQ(f.take_err(), 1u);
  EXPECT_NE(log.find("ring.iova_unmapped"), std::string::npos) << log;
  EXPECT_TRUE(f.reply_u64(Request::GET_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

// A page mapped for the device to write only is no TX buffer: the miss
// for reading it gets no better UPDATE, so the ring breaks with
// ring.iova_no_permission.
TYPED_TEST(ServeIotlb, AccessTheMappingDoesNotPermitIsRefused) {
  Frontside f(NetMode::sink, true);
  Iommu mmu(f);
  RingOf<TypeParam> tx(f, this->features());
  this->open(f, mmu, tx);
  mmu.map(kBufIova, kBufPage, kPage, iotlb::kWrite);
  ASSERT_EQ(mmu.send({kBufIova, kPage, uva(kBufPage), iotlb::kWrite, iotlb::kUpdate}), 0u);
  (void)this->frame(f, tx, kBufIova, kBufPage, 1);
  ::testing::internal::CaptureStderr();
  mmu.serve();
  const std::string log = ::testing::internal::GetCapturedStderr();
  const BackendCounters& c = f.backend().counters();
  EXPECT_EQ(c.tx_packets, 0u);
  EXPECT_EQ(c.tx_checksum, 0u);
  EXPECT_EQ(c.iotlb.faults, 1u);
  EXPECT_EQ(c.ring_errors, 1u);
  EXPECT_NE(log.find("ring.iova_no_permission"), std::string::npos) << log;
}

// An INVALIDATE of a ring's page drops the ring's kept translation: the
// ring is asked for again before it moves.
TYPED_TEST(ServeIotlb, InvalidatingARingPageTranslatesTheRingAgain) {
  Frontside f;
  Iommu mmu(f);
  RingOf<TypeParam> tx(f, this->features());
  this->open(f, mmu, tx);
  mmu.map(kBufIova, kBufPage, kPage, iotlb::kRead);
  (void)this->frame(f, tx, kBufIova, kBufPage, 1);
  mmu.serve();
  const BackendCounters& c = f.backend().counters();
  ASSERT_EQ(c.iotlb.ring_translations, 1u);
  EXPECT_EQ(mmu.invalidate(tx.layout.desc, kPage), 0u);
  (void)this->frame(f, tx, kBufIova + 128, kBufPage + 128, 2);
  const size_t before = mmu.misses.size();
  mmu.serve();
  EXPECT_EQ(c.tx_packets, 2u);
  EXPECT_EQ(c.iotlb.ring_translations, 2u);
  ASSERT_GT(mmu.misses.size(), before);
  EXPECT_EQ(mmu.misses[before].iova & ~(kPage - 1), tx.layout.desc & ~(kPage - 1));
}

// Bad IOTLB input: an UPDATE whose user range is outside the memory table
// is answered 1 and translates nothing (the connection stays); IOTLB_MSG
// before ACCESS_PLATFORM closes the connection.
TEST(ServeIotlbInput, UpdateOutsideTheMemoryTableIsRefusedAndIotlbBeforeFeaturesCloses) {
  {
    Frontside f(NetMode::sink, true);
    Iommu mmu(f);
    RingOf<Packed> tx(f, iommu_features<Packed>());
    open_iommu<Packed>(f, mmu, tx);
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(mmu.send({kBufIova, kPage, kUva + kMemBytes, iotlb::kRead, iotlb::kUpdate}), 1u);
    EXPECT_NE(::testing::internal::GetCapturedStderr().find("not in one memory region"), std::string::npos);
    EXPECT_TRUE(f.settle());
    EXPECT_EQ(f.backend().counters().iotlb.updates, 0u);
    EXPECT_EQ(f.backend().last_error(), ProtocolError::iotlb_uaddr_unmapped);
  }
  Frontside f;
  f.send(Request::SET_OWNER, NoPayload{});
  ::testing::internal::CaptureStderr();
  f.send(Request::IOTLB_MSG, IotlbMsg{kBufIova, kPage, kUva, iotlb::kRead, iotlb::kUpdate});
  EXPECT_FALSE(f.settle());
  ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(f.backend().last_error(), ProtocolError::out_of_order);
}

}  // namespace
}  // namespace virtiosim::vhost_user
