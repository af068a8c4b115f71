// libFuzzer target: the vhost-user codec (protocol.h): decode_request and
// decode_reply over any header, payload and number of fds, and the
// back-end channel's decode_backend_request and decode_backend_ack.
//
// Invariants (a violation traps):
//  - what decode accepts is what the protocol allows: a known request, the
//    payload type and size of its table entry, the fds it takes (a memory
//    table: one per region, 1..8 regions, none empty, wrapping or
//    overlapping; KICK/CALL/ERR: an fd unless the no-fd bit, no reserved
//    bits; an IOTLB message: UPDATE or INVALIDATE of a non-empty range
//    that does not wrap, an UPDATE with permission 1 to 3); a reply: the
//    reply flag, the request waited for, no fds; on the back-end channel: a
//    MISS or ACCESS_FAIL with permission 1 to 3, and u64 acks;
//  - encode(decode(x)) gives x back byte for byte (the memory table's
//    padding word and the IOTLB message's 6 padding bytes aside: encode
//    writes them zero), and decoding that again
//    gives the same message;
//  - a refusal names an error and says why.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <variant>
#include <vector>

#include "testbench/fuzz/checked_memory.h"
#include "testbench/vhost_user/raw_socket.h"
#include "transport/vhost_user/protocol.h"

namespace virtiosim::fuzz {
namespace {

using namespace vhost_user;

constexpr size_t kind_index(PayloadKind k) {
  switch (k) {
    case PayloadKind::none: return 0;
    case PayloadKind::u64: return 1;
    case PayloadKind::vring_state: return 2;
    case PayloadKind::vring_addr: return 3;
    case PayloadKind::mem_table: return 4;
    case PayloadKind::iotlb: return 5;
  }
  return 0;
}
static_assert(std::is_same_v<std::variant_alternative_t<4, Payload>, MemTable>);
static_assert(std::is_same_v<std::variant_alternative_t<5, Payload>, IotlbMsg>);

bool overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn) { return a < b + bn && b < a + an; }

void check_regions(const MemTable& t) {
  FUZZ_CHECK(!t.regions.empty() && t.regions.size() <= kMaxMemRegions);
  for (size_t i = 0; i < t.regions.size(); ++i) {
    const MemRegion& r = t.regions[i];
    FUZZ_CHECK(r.memory_size != 0);
    FUZZ_CHECK(r.guest_phys_addr + r.memory_size > r.guest_phys_addr);
    FUZZ_CHECK(r.userspace_addr + r.memory_size > r.userspace_addr);
    FUZZ_CHECK(r.mmap_offset + r.memory_size > r.mmap_offset);
    for (size_t j = 0; j < i; ++j) {
      const MemRegion& o = t.regions[j];
      FUZZ_CHECK(!overlap(r.guest_phys_addr, r.memory_size, o.guest_phys_addr, o.memory_size));
      FUZZ_CHECK(!overlap(r.userspace_addr, r.memory_size, o.userspace_addr, o.memory_size));
    }
  }
}

// The wire bytes of `m` with the padding decode ignores cleared: the memory
// table's word at payload bytes 4..7, the IOTLB message's bytes 26..31.
std::vector<uint8_t> normalised(const RawMessage& m, const Payload& p) {
  std::vector<uint8_t> b = wire_bytes(m);
  if (std::holds_alternative<MemTable>(p)) std::memset(b.data() + kHeaderSize + 4, 0, 4);
  if (std::holds_alternative<IotlbMsg>(p)) std::memset(b.data() + kHeaderSize + 26, 0, 6);
  return b;
}

// encode(decode(raw)) == raw, and decoding the encoding again agrees.
template <class Encode, class Decode>
void check_round_trip(const RawMessage& raw, const Message& msg, Encode&& encode_it, Decode&& decode) {
  RawMessage again = encode_it(msg);
  FUZZ_CHECK(normalised(again, NoPayload{}) == normalised(raw, msg.payload));
  FUZZ_CHECK(parse_header(std::span<const uint8_t, kHeaderSize>(wire_bytes(again).data(), kHeaderSize)).request ==
             raw.header.request);
  again.fds.resize(raw.fds.size());
  const Decoded d2 = decode(again);
  FUZZ_CHECK(d2.error == ProtocolError::ok);
  FUZZ_CHECK(d2.message.request == msg.request && d2.message.flags == msg.flags && d2.message.payload == msg.payload);
}

RawMessage encode_request_again(const Message& m) { return encode(m.request, m.payload, m.flags); }
RawMessage encode_backend_again(const Message& m) { return encode(BackendRequest::IOTLB_MSG, m.payload, m.flags); }

void check_request(const RawMessage& raw) {
  const Decoded d = decode_request(raw);
  if (d.error != ProtocolError::ok) {
    FUZZ_CHECK(d.error < ProtocolError::count_ && !d.detail.empty());
    return;
  }
  const Message& m = d.message;
  const RequestInfo ri = info(m.request);
  FUZZ_CHECK(ri.known && static_cast<uint32_t>(m.request) == raw.header.request);
  FUZZ_CHECK(m.flags == raw.header.flags && !m.is_reply() && (m.flags & kVersionMask) == kVersion);
  FUZZ_CHECK(raw.header.size <= kMaxPayload && raw.payload.size() == raw.header.size);
  FUZZ_CHECK(m.payload.index() == kind_index(ri.request));
  FUZZ_CHECK(raw.fds.size() >= ri.min_fds && raw.fds.size() <= ri.max_fds);
  if (const MemTable* t = std::get_if<MemTable>(&m.payload)) {
    check_regions(*t);
    FUZZ_CHECK(t->regions.size() == raw.fds.size());
  }
  if (m.request == Request::SET_VRING_KICK || m.request == Request::SET_VRING_CALL ||
      m.request == Request::SET_VRING_ERR) {
    const uint64_t v = std::get<uint64_t>(m.payload);
    FUZZ_CHECK(!(v & ~(kVringIdxMask | kVringNoFdMask)));
    FUZZ_CHECK(((v & kVringNoFdMask) != 0) == raw.fds.empty());
  }
  if (const IotlbMsg* t = std::get_if<IotlbMsg>(&m.payload)) {
    FUZZ_CHECK(t->type == iotlb::kUpdate || t->type == iotlb::kInvalidate);
    FUZZ_CHECK(t->size != 0 && t->iova + (t->size - 1) >= t->iova);
    if (t->type == iotlb::kUpdate) FUZZ_CHECK(t->perm >= 1 && t->perm <= 3 && t->uaddr + (t->size - 1) >= t->uaddr);
  }
  check_round_trip(raw, m, encode_request_again, [](const RawMessage& r) { return decode_request(r); });
}

void check_reply(const RawMessage& raw, Request sent) {
  const Decoded d = decode_reply(raw, sent);
  if (d.error != ProtocolError::ok) {
    FUZZ_CHECK(d.error < ProtocolError::count_ && !d.detail.empty());
    return;
  }
  const Message& m = d.message;
  FUZZ_CHECK(m.request == sent && raw.header.request == static_cast<uint32_t>(sent));
  FUZZ_CHECK(m.is_reply() && m.flags == raw.header.flags && raw.fds.empty());
  const PayloadKind want = info(sent).reply == PayloadKind::none ? PayloadKind::u64 : info(sent).reply;
  FUZZ_CHECK(m.payload.index() == kind_index(want));
  check_round_trip(raw, m, encode_request_again, [sent](const RawMessage& r) { return decode_reply(r, sent); });
}

// The back-end channel: what the back-end sends (decoded by a front-end)
// and the front-end's acks (decoded by the back-end).
void check_backend_request(const RawMessage& raw) {
  const Decoded d = decode_backend_request(raw);
  if (d.error != ProtocolError::ok) {
    FUZZ_CHECK(d.error < ProtocolError::count_ && !d.detail.empty());
    return;
  }
  const IotlbMsg* t = std::get_if<IotlbMsg>(&d.message.payload);
  FUZZ_CHECK(t && raw.header.request == static_cast<uint32_t>(BackendRequest::IOTLB_MSG) && raw.fds.empty());
  FUZZ_CHECK(!d.message.is_reply() && (d.message.flags & kVersionMask) == kVersion);
  FUZZ_CHECK((t->type == iotlb::kMiss || t->type == iotlb::kAccessFail) && t->perm >= 1 && t->perm <= 3);
  check_round_trip(raw, d.message, encode_backend_again, [](const RawMessage& r) { return decode_backend_request(r); });
}

void check_backend_ack(const RawMessage& raw) {
  const Decoded d = decode_backend_ack(raw, BackendRequest::IOTLB_MSG);
  if (d.error != ProtocolError::ok) {
    FUZZ_CHECK(d.error < ProtocolError::count_ && !d.detail.empty());
    return;
  }
  FUZZ_CHECK(d.message.is_reply() && raw.fds.empty() && std::holds_alternative<uint64_t>(d.message.payload));
  check_round_trip(raw, d.message, encode_backend_again,
                   [](const RawMessage& r) { return decode_backend_ack(r, BackendRequest::IOTLB_MSG); });
}

}  // namespace
}  // namespace virtiosim::fuzz

// Input: a control byte (bit 0: a reply; bit 1: header size taken from the
// payload, so most inputs reach the payload checks; bits 2-5: fds
// attached; bit 6: the back-end channel), for a reply the request it
// answers, the 12-byte header, then the payload.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace virtiosim::vhost_user;
  FuzzedDataProvider in(data, size);
  const uint8_t ctl = in.ConsumeIntegral<uint8_t>();
  const bool reply = ctl & 1;
  const Request sent = static_cast<Request>(in.ConsumeIntegral<uint8_t>() % 41);
  RawMessage raw;
  raw.header.request = in.ConsumeIntegral<uint32_t>();
  raw.header.flags = in.ConsumeIntegral<uint32_t>();
  raw.header.size = in.ConsumeIntegral<uint32_t>();
  // The codec only counts fds; invalid ones (-1) are never closed.
  raw.fds.resize((ctl >> 2) & 0xf);
  raw.payload = in.ConsumeRemainingBytes<uint8_t>();
  if (ctl & 2) raw.header.size = static_cast<uint32_t>(raw.payload.size());
  if (ctl & 0x40) reply ? virtiosim::fuzz::check_backend_ack(raw) : virtiosim::fuzz::check_backend_request(raw);
  else if (reply) virtiosim::fuzz::check_reply(raw, sent);
  else virtiosim::fuzz::check_request(raw);
  return 0;
}
