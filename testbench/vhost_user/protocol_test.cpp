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
  RawMessage unknown = encode(Request::IOTLB_MSG, NoPayload{});
  EXPECT_EQ(err(std::move(unknown)), ProtocolError::unknown_request);
  RawMessage wild;
  wild.header = {999, kVersion, 0};
  EXPECT_EQ(err(std::move(wild)), ProtocolError::unknown_request);
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
