// Codec round-trips for every message the back-end accepts or sends, and
// the ring base encoding (VU2).
#include <gtest/gtest.h>

#include "models/ring/ring_state.h"
#include "transport/vhost_user/protocol.h"

namespace virtiosim::vhost_user {
namespace {

RawMessage with_fds(RawMessage m, int n) {
  for (int i = 0; i < n; ++i) m.fds.emplace_back(::dup(0));
  return m;
}

struct Case {
  Request r;
  Payload p;
  int fds;
};

TEST(VhostUserCodec, EveryAcceptedRequestRoundTrips) {
  const std::vector<Case> cases = {
      {Request::GET_FEATURES, NoPayload{}, 0},
      {Request::SET_FEATURES, uint64_t{0x1'4000'0000}, 0},
      {Request::SET_OWNER, NoPayload{}, 0},
      {Request::RESET_OWNER, NoPayload{}, 0},
      {Request::SET_MEM_TABLE, MemTable{{{0x1000, 0x2000, 0x7f0000001000, 0}, {0x10000, 0x1000, 0x7f0000100000, 4096}}}, 2},
      {Request::SET_VRING_NUM, VringState{1, 256}, 0},
      {Request::SET_VRING_ADDR, VringAddr{1, 0, 0x7f00, 0x7f80, 0x7f40, 0}, 0},
      {Request::SET_VRING_BASE, VringState{0, 0x80008000}, 0},
      {Request::GET_VRING_BASE, VringState{1, 0}, 0},
      {Request::SET_VRING_KICK, uint64_t{1}, 1},
      {Request::SET_VRING_KICK, uint64_t{1 | kVringNoFdMask}, 0},
      {Request::SET_VRING_CALL, uint64_t{0}, 1},
      {Request::SET_VRING_ERR, uint64_t{0}, 1},
      {Request::GET_PROTOCOL_FEATURES, NoPayload{}, 0},
      {Request::SET_PROTOCOL_FEATURES, uint64_t{0x10009}, 0},
      {Request::GET_QUEUE_NUM, NoPayload{}, 0},
      {Request::SET_VRING_ENABLE, VringState{1, 1}, 0},
      {Request::SET_STATUS, uint64_t{0x0f}, 0},
      {Request::GET_STATUS, NoPayload{}, 0},
      {Request::RESET_DEVICE, NoPayload{}, 0},
      {Request::SET_BACKEND_REQ_FD, NoPayload{}, 1},
      {Request::IOTLB_MSG, IotlbMsg{0x7ffff000, 0x1000, 0x7f0000001000, iotlb::kReadWrite, iotlb::kUpdate}, 0},
      {Request::IOTLB_MSG, IotlbMsg{0x7fffe000, 0x2000, 0, 0, iotlb::kInvalidate}, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(name(c.r));
    const RawMessage raw = with_fds(encode(c.r, c.p, kVersion | kFlagNeedReply), c.fds);
    EXPECT_EQ(raw.header.size, raw.payload.size());
    const Decoded d = decode_request(raw);
    ASSERT_EQ(d.error, ProtocolError::ok) << d.detail;
    EXPECT_EQ(d.message.request, c.r);
    EXPECT_TRUE(d.message.need_reply());
    EXPECT_EQ(d.message.payload, c.p);
  }
}

TEST(VhostUserCodec, EveryReplyRoundTrips) {
  const std::vector<std::pair<Request, Payload>> cases = {
      {Request::GET_FEATURES, uint64_t{0x1'7000'8000}},
      {Request::GET_PROTOCOL_FEATURES, uint64_t{0x10009}},
      {Request::GET_QUEUE_NUM, uint64_t{4}},
      {Request::GET_STATUS, uint64_t{0x0f}},
      {Request::GET_VRING_BASE, VringState{1, 0x80058005}},
      {Request::SET_MEM_TABLE, uint64_t{0}},  // REPLY_ACK
      {Request::SET_VRING_ADDR, uint64_t{1}},
  };
  for (const auto& [r, p] : cases) {
    SCOPED_TRACE(name(r));
    const Decoded d = decode_reply(encode_reply(r, p), r);
    ASSERT_EQ(d.error, ProtocolError::ok) << d.detail;
    EXPECT_TRUE(d.message.is_reply());
    EXPECT_EQ(d.message.payload, p);
  }
}

TEST(VhostUserCodec, ReplyToAnotherRequestIsOutOfOrder) {
  EXPECT_EQ(decode_reply(encode_reply(Request::GET_FEATURES, uint64_t{1}), Request::GET_STATUS).error,
            ProtocolError::out_of_order);
  EXPECT_EQ(decode_reply(encode(Request::GET_FEATURES, uint64_t{1}), Request::GET_FEATURES).error,
            ProtocolError::out_of_order);  // no reply flag
}

TEST(VhostUserCodec, HeaderIsNativeEndianRequestFlagsSize) {
  const RawMessage m = encode(Request::SET_VRING_NUM, VringState{1, 256});
  EXPECT_EQ(m.header.request, 8u);
  EXPECT_EQ(m.header.flags, kVersion);
  EXPECT_EQ(m.header.size, 8u);
  uint8_t bytes[kHeaderSize] = {8, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0};
  const Header h = parse_header(std::span<const uint8_t, kHeaderSize>(bytes, kHeaderSize));
  EXPECT_EQ(h.request, 8u);
  EXPECT_EQ(h.flags, 1u);
  EXPECT_EQ(h.size, 8u);
}

// Decode-level rejections (the socket-level ones are in malformed_test).
TEST(VhostUserCodec, StrictDecoding) {
  auto err = [](RawMessage m) { return decode_request(m).error; };
  RawMessage m = encode(Request::SET_FEATURES, uint64_t{0});
  m.payload.resize(4);
  m.header.size = 4;
  EXPECT_EQ(err(std::move(m)), ProtocolError::bad_payload_size);
  m = encode(Request::GET_FEATURES, uint64_t{0});  // no payload allowed
  EXPECT_EQ(err(std::move(m)), ProtocolError::bad_payload_size);
  m = encode(Request::SET_OWNER, NoPayload{}, 2);  // version 2
  EXPECT_EQ(err(std::move(m)), ProtocolError::bad_version);
  m = encode(Request::SET_OWNER, NoPayload{}, kVersion | kFlagReply);
  EXPECT_EQ(err(std::move(m)), ProtocolError::unexpected_reply_flag);
  EXPECT_EQ(err(with_fds(encode(Request::SET_VRING_KICK, uint64_t{0}), 2)), ProtocolError::too_many_fds);
  EXPECT_EQ(err(with_fds(encode(Request::SET_VRING_KICK, uint64_t{kVringNoFdMask}), 1)), ProtocolError::too_many_fds);
  EXPECT_EQ(err(encode(Request::SET_VRING_CALL, uint64_t{0})), ProtocolError::missing_fd);
  EXPECT_EQ(err(encode(Request::SET_VRING_CALL, uint64_t{1u << 9})), ProtocolError::bad_vring_flags);
  EXPECT_EQ(err(with_fds(encode(Request::SET_OWNER, NoPayload{}), 1)), ProtocolError::too_many_fds);
  const MemRegion r{0x1000, 0x1000, 0x7f0000000000, 0};
  EXPECT_EQ(err(with_fds(encode(Request::SET_MEM_TABLE, MemTable{{r}}), 0)), ProtocolError::missing_fd);
  EXPECT_EQ(err(with_fds(encode(Request::SET_MEM_TABLE, MemTable{{r}}), 2)), ProtocolError::too_many_fds);
  EXPECT_EQ(err(with_fds(encode(Request::SET_MEM_TABLE, MemTable{}), 0)), ProtocolError::bad_region_count);
  // Nine regions do not fit the largest payload we accept.
  EXPECT_EQ(err(with_fds(encode(Request::SET_MEM_TABLE, MemTable{std::vector<MemRegion>(9, r)}), 8)),
            ProtocolError::payload_too_large);
  EXPECT_EQ(err(with_fds(encode(Request::SET_MEM_TABLE, MemTable{{{0x1000, 0, 0x7f00, 0}}}), 1)),
            ProtocolError::region_overflow);
  EXPECT_EQ(err(with_fds(encode(Request::SET_MEM_TABLE, MemTable{{{~0ull - 10, 0x1000, 0x7f00, 0}}}), 1)),
            ProtocolError::region_overflow);
  EXPECT_EQ(err(with_fds(encode(Request::SET_MEM_TABLE, MemTable{{{0x1000, 0x1000, 0x7f00, ~0ull}}}), 1)),
            ProtocolError::region_overflow);
  EXPECT_EQ(err(with_fds(encode(Request::SET_MEM_TABLE,
                                MemTable{{{0x1000, 0x2000, 0x7f0000000000, 0}, {0x2000, 0x1000, 0x7f1000000000, 0}}}),
                         2)),
            ProtocolError::region_overlap);  // guest-physical overlap
  EXPECT_EQ(err(with_fds(encode(Request::SET_MEM_TABLE,
                                MemTable{{{0x1000, 0x1000, 0x7f0000000000, 0}, {0x8000, 0x1000, 0x7f0000000800, 0}}}),
                         2)),
            ProtocolError::region_overlap);  // user-address overlap
  RawMessage unknown = encode(Request::POSTCOPY_ADVISE, NoPayload{});
  EXPECT_EQ(err(std::move(unknown)), ProtocolError::unknown_request);
  RawMessage wild;
  wild.header = {999, kVersion, 0};
  EXPECT_EQ(err(std::move(wild)), ProtocolError::unknown_request);
}

// struct vhost_iotlb_msg as QEMU and DPDK send it: 32 bytes, fields at
// 0/8/16/24/25, padding not read (QEMU leaves it uninitialised, and perm and
// uaddr too on INVALIDATE).
TEST(VhostUserCodec, IotlbMessageLayoutAndPaddingAsTheUapiHasThem) {
  RawMessage m = encode(Request::IOTLB_MSG, IotlbMsg{0x1122334455667788, 0x1000, 0x7f0000002000, 1, 2});
  ASSERT_EQ(m.payload.size(), 32u);
  EXPECT_EQ(m.payload[0], 0x88);
  EXPECT_EQ(m.payload[8], 0x00);
  EXPECT_EQ(m.payload[9], 0x10);
  EXPECT_EQ(m.payload[24], 1);
  EXPECT_EQ(m.payload[25], 2);
  for (size_t i = 26; i < 32; ++i) EXPECT_EQ(m.payload[i], 0) << i;
  for (size_t i = 26; i < 32; ++i) m.payload[i] = 0xa5;
  const Decoded d = decode_request(m);
  ASSERT_EQ(d.error, ProtocolError::ok) << d.detail;
  EXPECT_EQ(d.message.payload, Payload(IotlbMsg{0x1122334455667788, 0x1000, 0x7f0000002000, 1, 2}));
  // INVALIDATE: perm and uaddr are whatever QEMU's stack held.
  EXPECT_EQ(decode_request(encode(Request::IOTLB_MSG, IotlbMsg{0x1000, 0x1000, 0xdead, 0xff, 3})).error,
            ProtocolError::ok);
}

TEST(VhostUserCodec, IotlbMessagesTheFrontEndMayNotSendAreRefused) {
  auto err = [](const IotlbMsg& t) { return decode_request(encode(Request::IOTLB_MSG, t)).error; };
  EXPECT_EQ(err({0x1000, 0x1000, 0x7f00, 1, iotlb::kMiss}), ProtocolError::bad_iotlb_msg);        // back-end's type
  EXPECT_EQ(err({0x1000, 0x1000, 0x7f00, 1, iotlb::kAccessFail}), ProtocolError::bad_iotlb_msg);  // back-end's type
  EXPECT_EQ(err({0x1000, 0x1000, 0x7f00, 1, 0}), ProtocolError::bad_iotlb_msg);
  EXPECT_EQ(err({0x1000, 0x1000, 0x7f00, 1, 9}), ProtocolError::bad_iotlb_msg);
  EXPECT_EQ(err({0x1000, 0, 0x7f00, 1, iotlb::kUpdate}), ProtocolError::bad_iotlb_msg);            // empty
  EXPECT_EQ(err({0x1000, 0, 0, 0, iotlb::kInvalidate}), ProtocolError::bad_iotlb_msg);             // empty
  EXPECT_EQ(err({~0ull - 0xfff, 0x2000, 0x7f00, 1, iotlb::kUpdate}), ProtocolError::bad_iotlb_msg);  // wraps
  EXPECT_EQ(err({0x1000, 0x2000, ~0ull - 0xfff, 1, iotlb::kUpdate}), ProtocolError::bad_iotlb_msg);  // uaddr wraps
  EXPECT_EQ(err({0x1000, 0x1000, 0x7f00, 0, iotlb::kUpdate}), ProtocolError::bad_iotlb_msg);         // no access
  EXPECT_EQ(err({0x1000, 0x1000, 0x7f00, 4, iotlb::kUpdate}), ProtocolError::bad_iotlb_msg);         // unknown bit
  // The largest range that ends exactly at 2^64 - 1 is fine.
  EXPECT_EQ(err({~0ull - 0xfff, 0x1000, 0x7f00, 1, iotlb::kUpdate}), ProtocolError::ok);
  RawMessage short_msg = encode(Request::IOTLB_MSG, IotlbMsg{0x1000, 0x1000, 0x7f00, 1, iotlb::kUpdate});
  short_msg.payload.resize(26);
  short_msg.header.size = 26;
  EXPECT_EQ(decode_request(short_msg).error, ProtocolError::bad_payload_size);
  EXPECT_EQ(decode_request(encode(Request::SET_BACKEND_REQ_FD, NoPayload{})).error, ProtocolError::missing_fd);
  EXPECT_EQ(decode_request(with_fds(encode(Request::SET_BACKEND_REQ_FD, NoPayload{}), 2)).error,
            ProtocolError::too_many_fds);
}

TEST(VhostUserCodec, BackendChannelCarriesMissesOneWayAndAcksTheOther) {
  const IotlbMsg miss{0x7ffff000, 0, 0, iotlb::kWrite, iotlb::kMiss};
  const RawMessage m = encode(BackendRequest::IOTLB_MSG, miss, kVersion | kFlagNeedReply);
  EXPECT_EQ(m.header.request, 1u);
  const Decoded d = decode_backend_request(m);
  ASSERT_EQ(d.error, ProtocolError::ok) << d.detail;
  EXPECT_TRUE(d.message.need_reply());
  EXPECT_EQ(d.message.payload, Payload(miss));
  // The front-end's types, and a miss that asks for no access, are refused.
  EXPECT_EQ(decode_backend_request(encode(BackendRequest::IOTLB_MSG, IotlbMsg{0x1000, 0x1000, 0x7f00, 1, 2})).error,
            ProtocolError::bad_iotlb_msg);
  EXPECT_EQ(decode_backend_request(encode(BackendRequest::IOTLB_MSG, IotlbMsg{0x1000, 0, 0, 0, 1})).error,
            ProtocolError::bad_iotlb_msg);
  EXPECT_EQ(decode_backend_request(encode(static_cast<BackendRequest>(2), uint64_t{0})).error,
            ProtocolError::unknown_request);
  // Acks: a u64 with the reply flag, for the request sent.
  const Decoded ack = decode_backend_ack(encode_reply(BackendRequest::IOTLB_MSG, uint64_t{1}), BackendRequest::IOTLB_MSG);
  ASSERT_EQ(ack.error, ProtocolError::ok) << ack.detail;
  EXPECT_EQ(std::get<uint64_t>(ack.message.payload), 1u);
  EXPECT_EQ(decode_backend_ack(encode(BackendRequest::IOTLB_MSG, uint64_t{0}), BackendRequest::IOTLB_MSG).error,
            ProtocolError::out_of_order);  // no reply flag
}

TEST(VhostUserRingBase, PackedEncodingRoundTrips) {
  using ring::RingState;
  EXPECT_EQ(ring::encode_vring_base_packed(RingState{}), 0x80008000u);  // fresh ring (VU2)
  const RingState states[] = {{0, true, 0, true}, {5, false, 3, true}, {0x7fff, true, 0x7ffe, false},
                              {255, false, 255, false}, {1, true, 2, true}};
  // (A state whose used half encodes to zero, {x, w, 0, false}, is the one
  // the tolerant reading cannot tell from DPDK's low-half-only answer.)
  for (const RingState& s : states) {
    const uint32_t v = ring::encode_vring_base_packed(s);
    EXPECT_EQ(ring::decode_vring_base_packed(v), s);
    EXPECT_EQ(ring::decode_vring_base_packed(v, ring::VringBaseCompat::low_half_only), s)
        << "a full encoding reads the same in tolerant mode";
    // Round trip through the wire message, too.
    const Decoded d = decode_request(encode(Request::SET_VRING_BASE, VringState{1, v}));
    ASSERT_EQ(d.error, ProtocolError::ok);
    EXPECT_EQ(std::get<VringState>(d.message.payload).num, v);
  }
  // DPDK 22.11's back-end fills only the low half after a drain: read as
  // used == avail in tolerant mode.
  const RingState low = ring::decode_vring_base_packed(0x0000800a, ring::VringBaseCompat::low_half_only);
  EXPECT_EQ(low, (RingState{10, true, 10, true}));
  EXPECT_EQ(ring::decode_vring_base_packed(0x0000800a), (RingState{10, true, 0, false}));
}

TEST(VhostUserRingBase, SplitCarriesTheFreeRunningAvailIndex) {
  EXPECT_EQ(ring::encode_vring_base_split({0xfffe, true, 3, true}), 0xfffeu);
}

}  // namespace
}  // namespace virtiosim::vhost_user
