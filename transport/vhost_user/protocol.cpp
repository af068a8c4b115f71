#include "transport/vhost_user/protocol.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>

namespace virtiosim::vhost_user {

static_assert(sizeof(VringState) == 8);
static_assert(sizeof(VringAddr) == 40);
static_assert(sizeof(MemRegion) == 32);
static_assert(std::is_trivially_copyable_v<VringAddr> && std::is_trivially_copyable_v<MemRegion>);

namespace {
// struct vhost_iotlb_msg's field offsets (Linux uapi), checked against a
// replica of its C layout.
struct WireIotlbMsg {
  uint64_t iova, size, uaddr;
  uint8_t perm, type;
};
static_assert(sizeof(WireIotlbMsg) == iotlb::kWireSize);
static_assert(offsetof(WireIotlbMsg, perm) == 24 && offsetof(WireIotlbMsg, type) == 25);
}  // namespace

const char* name(Request r) {
  switch (r) {
#define VU_REQ(n) case Request::n: return #n;
    VU_REQ(NONE) VU_REQ(GET_FEATURES) VU_REQ(SET_FEATURES) VU_REQ(SET_OWNER) VU_REQ(RESET_OWNER)
    VU_REQ(SET_MEM_TABLE) VU_REQ(SET_LOG_BASE) VU_REQ(SET_LOG_FD) VU_REQ(SET_VRING_NUM)
    VU_REQ(SET_VRING_ADDR) VU_REQ(SET_VRING_BASE) VU_REQ(GET_VRING_BASE) VU_REQ(SET_VRING_KICK)
    VU_REQ(SET_VRING_CALL) VU_REQ(SET_VRING_ERR) VU_REQ(GET_PROTOCOL_FEATURES)
    VU_REQ(SET_PROTOCOL_FEATURES) VU_REQ(GET_QUEUE_NUM) VU_REQ(SET_VRING_ENABLE) VU_REQ(SEND_RARP)
    VU_REQ(NET_SET_MTU) VU_REQ(SET_BACKEND_REQ_FD) VU_REQ(IOTLB_MSG) VU_REQ(SET_VRING_ENDIAN)
    VU_REQ(GET_CONFIG) VU_REQ(SET_CONFIG) VU_REQ(CREATE_CRYPTO_SESSION) VU_REQ(CLOSE_CRYPTO_SESSION)
    VU_REQ(POSTCOPY_ADVISE) VU_REQ(POSTCOPY_LISTEN) VU_REQ(POSTCOPY_END) VU_REQ(GET_INFLIGHT_FD)
    VU_REQ(SET_INFLIGHT_FD) VU_REQ(GPU_SET_SOCKET) VU_REQ(RESET_DEVICE) VU_REQ(VRING_KICK)
    VU_REQ(GET_MAX_MEM_SLOTS) VU_REQ(ADD_MEM_REG) VU_REQ(REM_MEM_REG) VU_REQ(SET_STATUS)
    VU_REQ(GET_STATUS)
#undef VU_REQ
  }
  return "UNKNOWN";
}

const char* name(BackendRequest r) {
  switch (r) {
    case BackendRequest::NONE: return "NONE";
    case BackendRequest::IOTLB_MSG: return "BACKEND_IOTLB_MSG";
  }
  return "UNKNOWN";
}

const char* name(ProtocolError e) {
  switch (e) {
#define VU_ERR(n) case ProtocolError::n: return #n;
    VU_ERR(ok) VU_ERR(short_header) VU_ERR(bad_version) VU_ERR(unexpected_reply_flag)
    VU_ERR(payload_too_large) VU_ERR(truncated_payload) VU_ERR(bad_payload_size)
    VU_ERR(too_many_fds) VU_ERR(missing_fd) VU_ERR(unknown_request) VU_ERR(bad_region_count)
    VU_ERR(region_overflow) VU_ERR(region_overlap) VU_ERR(region_map_failed)
    VU_ERR(vring_index_out_of_range) VU_ERR(bad_vring_num) VU_ERR(vring_addr_unmapped) VU_ERR(bad_iotlb_msg) VU_ERR(iotlb_uaddr_unmapped)
    VU_ERR(bad_vring_base) VU_ERR(bad_vring_flags) VU_ERR(unsupported_features)
    VU_ERR(out_of_order) VU_ERR(ring_failed) VU_ERR(io_error) VU_ERR(timeout) VU_ERR(count_)
#undef VU_ERR
  }
  return "unknown";
}

RequestInfo info(Request r) {
  using K = PayloadKind;
  switch (r) {
    case Request::GET_FEATURES:
    case Request::GET_PROTOCOL_FEATURES:
    case Request::GET_QUEUE_NUM:
    case Request::GET_STATUS: return {true, K::none, K::u64, 0, 0};
    case Request::SET_FEATURES:
    case Request::SET_PROTOCOL_FEATURES:
    case Request::SET_STATUS: return {true, K::u64, K::none, 0, 0};
    case Request::SET_OWNER:
    case Request::RESET_OWNER:
    case Request::RESET_DEVICE: return {true, K::none, K::none, 0, 0};
    case Request::SET_MEM_TABLE: return {true, K::mem_table, K::none, 1, kMaxMemRegions};
    case Request::SET_VRING_NUM:
    case Request::SET_VRING_BASE:
    case Request::SET_VRING_ENABLE: return {true, K::vring_state, K::none, 0, 0};
    case Request::GET_VRING_BASE: return {true, K::vring_state, K::vring_state, 0, 0};
    case Request::SET_VRING_ADDR: return {true, K::vring_addr, K::none, 0, 0};
    // 0 or 1 fd, as the no-fd bit of the payload says (checked in decode).
    case Request::SET_VRING_KICK:
    case Request::SET_VRING_CALL:
    case Request::SET_VRING_ERR: return {true, K::u64, K::none, 0, 1};
    case Request::SET_BACKEND_REQ_FD: return {true, K::none, K::none, 1, 1};
    case Request::IOTLB_MSG: return {true, K::iotlb, K::none, 0, 0};
    default: return {};
  }
}

Header parse_header(std::span<const uint8_t, kHeaderSize> bytes) {
  Header h;
  std::memcpy(&h.request, bytes.data(), 4);
  std::memcpy(&h.flags, bytes.data() + 4, 4);
  std::memcpy(&h.size, bytes.data() + 8, 4);
  return h;
}

ProtocolError check_header(const Header& h, bool expect_reply) {
  if ((h.flags & kVersionMask) != kVersion) return ProtocolError::bad_version;
  if (!expect_reply && (h.flags & kFlagReply)) return ProtocolError::unexpected_reply_flag;
  if (expect_reply && !(h.flags & kFlagReply)) return ProtocolError::out_of_order;
  if (h.size > kMaxPayload) return ProtocolError::payload_too_large;
  return ProtocolError::ok;
}

namespace {

template <class T>
T load(const std::vector<uint8_t>& p, size_t at = 0) {
  T v;
  std::memcpy(&v, p.data() + at, sizeof v);
  return v;
}

Decoded fail(ProtocolError e, std::string detail) { return {e, {}, std::move(detail)}; }

bool add_overflows(uint64_t a, uint64_t b) { return a + b < a; }

// Region sanity the codec can check without mapping anything: sizes,
// wrap-around and overlap in both address spaces (a region overlapping
// another would make translation ambiguous).
ProtocolError check_regions(const MemTable& t, std::string& detail) {
  for (size_t i = 0; i < t.regions.size(); ++i) {
    const MemRegion& r = t.regions[i];
    if (r.memory_size == 0 || add_overflows(r.guest_phys_addr, r.memory_size) ||
        add_overflows(r.userspace_addr, r.memory_size) ||
        add_overflows(r.mmap_offset, r.memory_size)) {
      detail = "region " + std::to_string(i) + " size 0 or wraps 64 bits";
      return ProtocolError::region_overflow;
    }
    for (size_t j = 0; j < i; ++j) {
      const MemRegion& o = t.regions[j];
      auto overlap = [](uint64_t a, uint64_t an, uint64_t b, uint64_t bn) {
        return a < b + bn && b < a + an;
      };
      if (overlap(r.guest_phys_addr, r.memory_size, o.guest_phys_addr, o.memory_size) ||
          overlap(r.userspace_addr, r.memory_size, o.userspace_addr, o.memory_size)) {
        detail = "regions " + std::to_string(j) + " and " + std::to_string(i) + " overlap";
        return ProtocolError::region_overlap;
      }
    }
  }
  return ProtocolError::ok;
}

// Parses a payload of `kind` from raw bytes, checking its size exactly.
ProtocolError parse_payload(PayloadKind kind, const std::vector<uint8_t>& p, Payload& out,
                            std::string& detail) {
  auto want = [&](size_t n) {
    if (p.size() == n) return true;
    detail = "payload " + std::to_string(p.size()) + " bytes, expected " + std::to_string(n);
    return false;
  };
  switch (kind) {
    case PayloadKind::none:
      if (!want(0)) return ProtocolError::bad_payload_size;
      out = NoPayload{};
      return ProtocolError::ok;
    case PayloadKind::u64:
      if (!want(8)) return ProtocolError::bad_payload_size;
      out = load<uint64_t>(p);
      return ProtocolError::ok;
    case PayloadKind::vring_state:
      if (!want(sizeof(VringState))) return ProtocolError::bad_payload_size;
      out = load<VringState>(p);
      return ProtocolError::ok;
    case PayloadKind::vring_addr:
      if (!want(sizeof(VringAddr))) return ProtocolError::bad_payload_size;
      out = load<VringAddr>(p);
      return ProtocolError::ok;
    case PayloadKind::mem_table: {
      if (p.size() < 8) {
        detail = "memory table shorter than its count";
        return ProtocolError::bad_payload_size;
      }
      const uint32_t n = load<uint32_t>(p);
      if (n == 0 || n > kMaxMemRegions) {
        detail = std::to_string(n) + " regions";
        return ProtocolError::bad_region_count;
      }
      if (!want(8 + size_t{n} * sizeof(MemRegion))) return ProtocolError::bad_payload_size;
      MemTable t;
      t.regions.resize(n);
      std::memcpy(t.regions.data(), p.data() + 8, size_t{n} * sizeof(MemRegion));
      if (ProtocolError e = check_regions(t, detail); e != ProtocolError::ok) return e;
      out = std::move(t);
      return ProtocolError::ok;
    }
    case PayloadKind::iotlb: {
      if (!want(iotlb::kWireSize)) return ProtocolError::bad_payload_size;
      const auto w = load<WireIotlbMsg>(p);
      out = IotlbMsg{w.iova, w.size, w.uaddr, w.perm, w.type};
      return ProtocolError::ok;
    }
  }
  return ProtocolError::bad_payload_size;
}

bool valid_perm(uint8_t perm) { return perm >= iotlb::kRead && perm <= iotlb::kReadWrite; }

// What the front-end may send: an UPDATE of a non-empty, non-wrapping range
// with some permission (QEMU never sends perm 0: "IOMMU_NONE" is -EINVAL in
// vhost_backend_update_device_iotlb), or an INVALIDATE of a non-empty,
// non-wrapping range, whose perm and uaddr mean nothing.
ProtocolError check_iotlb_from_frontend(const IotlbMsg& m, std::string& detail) {
  if (m.type != iotlb::kUpdate && m.type != iotlb::kInvalidate) {
    detail = "type " + std::to_string(m.type) + " (the front-end sends UPDATE 2 or INVALIDATE 3)";
    return ProtocolError::bad_iotlb_msg;
  }
  if (m.size == 0 || m.iova + (m.size - 1) < m.iova) {
    detail = "range size 0 or wraps 64 bits";
    return ProtocolError::bad_iotlb_msg;
  }
  if (m.type == iotlb::kUpdate && (!valid_perm(m.perm) || m.uaddr + (m.size - 1) < m.uaddr)) {
    detail = "UPDATE perm " + std::to_string(m.perm) + " (1 to 3) or user range wraps";
    return ProtocolError::bad_iotlb_msg;
  }
  return ProtocolError::ok;
}

}  // namespace

Decoded decode_request(const RawMessage& raw) {
  const Header& h = raw.header;
  if (ProtocolError e = check_header(h, false); e != ProtocolError::ok)
    return fail(e, "flags " + std::to_string(h.flags) + " size " + std::to_string(h.size));
  if (raw.payload.size() != h.size) return fail(ProtocolError::truncated_payload, "payload shorter than size");
  const Request r = static_cast<Request>(h.request);
  const RequestInfo ri = info(r);
  if (!ri.known) return fail(ProtocolError::unknown_request, "request " + std::to_string(h.request));
  Decoded d;
  d.message.request = r;
  d.message.flags = h.flags;
  if (ProtocolError e = parse_payload(ri.request, raw.payload, d.message.payload, d.detail);
      e != ProtocolError::ok)
    return fail(e, std::string(name(r)) + ": " + d.detail);
  const size_t nfds = raw.fds.size();
  if (nfds > ri.max_fds)
    return fail(ProtocolError::too_many_fds, std::string(name(r)) + " with " + std::to_string(nfds) + " fds");
  if (r == Request::SET_MEM_TABLE) {
    const size_t n = std::get<MemTable>(d.message.payload).regions.size();
    if (nfds < n) return fail(ProtocolError::missing_fd, "SET_MEM_TABLE: fewer fds than regions");
    if (nfds > n) return fail(ProtocolError::too_many_fds, "SET_MEM_TABLE: more fds than regions");
  } else if (r == Request::SET_VRING_KICK || r == Request::SET_VRING_CALL || r == Request::SET_VRING_ERR) {
    const uint64_t v = std::get<uint64_t>(d.message.payload);
    if (v & ~(kVringIdxMask | kVringNoFdMask))
      return fail(ProtocolError::bad_vring_flags, std::string(name(r)) + ": reserved bits set");
    const bool nofd = v & kVringNoFdMask;
    if (nofd && nfds) return fail(ProtocolError::too_many_fds, std::string(name(r)) + ": fd despite no-fd bit");
    if (!nofd && !nfds) return fail(ProtocolError::missing_fd, std::string(name(r)) + " without an fd");
  } else if (nfds < ri.min_fds) {
    return fail(ProtocolError::missing_fd, name(r));
  } else if (r == Request::IOTLB_MSG) {
    if (ProtocolError e = check_iotlb_from_frontend(std::get<IotlbMsg>(d.message.payload), d.detail);
        e != ProtocolError::ok)
      return fail(e, std::string(name(r)) + ": " + d.detail);
  }
  return d;
}

Decoded decode_backend_request(const RawMessage& raw) {
  const Header& h = raw.header;
  if (ProtocolError e = check_header(h, false); e != ProtocolError::ok)
    return fail(e, "back-end request flags " + std::to_string(h.flags));
  if (raw.payload.size() != h.size) return fail(ProtocolError::truncated_payload, "payload shorter than size");
  if (h.request != static_cast<uint32_t>(BackendRequest::IOTLB_MSG))
    return fail(ProtocolError::unknown_request, "back-end request " + std::to_string(h.request));
  if (!raw.fds.empty()) return fail(ProtocolError::too_many_fds, "fds with BACKEND_IOTLB_MSG");
  Decoded d;
  d.message.flags = h.flags;
  if (ProtocolError e = parse_payload(PayloadKind::iotlb, raw.payload, d.message.payload, d.detail);
      e != ProtocolError::ok)
    return fail(e, "BACKEND_IOTLB_MSG: " + d.detail);
  // MISS and ACCESS_FAIL name an address and the access wanted.
  const IotlbMsg& m = std::get<IotlbMsg>(d.message.payload);
  if ((m.type != iotlb::kMiss && m.type != iotlb::kAccessFail) || !valid_perm(m.perm))
    return fail(ProtocolError::bad_iotlb_msg, "BACKEND_IOTLB_MSG type " + std::to_string(m.type) + " perm " +
                                                  std::to_string(m.perm) + " (MISS 1 or ACCESS_FAIL 4, perm 1 to 3)");
  return d;
}

Decoded decode_reply(const RawMessage& raw, Request sent) {
  const Header& h = raw.header;
  if (ProtocolError e = check_header(h, true); e != ProtocolError::ok)
    return fail(e, std::string("reply to ") + name(sent));
  if (raw.payload.size() != h.size) return fail(ProtocolError::truncated_payload, "reply payload");
  if (h.request != static_cast<uint32_t>(sent))
    return fail(ProtocolError::out_of_order, std::string("reply to ") + name(static_cast<Request>(h.request)) +
                                                 " while waiting for " + name(sent));
  if (!raw.fds.empty()) return fail(ProtocolError::too_many_fds, "fds in a reply");
  const RequestInfo ri = info(sent);
  // A request without a reply of its own answers REPLY_ACK with a u64.
  const PayloadKind kind = ri.reply == PayloadKind::none ? PayloadKind::u64 : ri.reply;
  Decoded d;
  d.message.request = sent;
  d.message.flags = h.flags;
  if (ProtocolError e = parse_payload(kind, raw.payload, d.message.payload, d.detail); e != ProtocolError::ok)
    return fail(e, std::string("reply to ") + name(sent) + ": " + d.detail);
  return d;
}

Decoded decode_backend_ack(const RawMessage& raw, BackendRequest sent) {
  const Header& h = raw.header;
  if (ProtocolError e = check_header(h, true); e != ProtocolError::ok)
    return fail(e, std::string("ack of ") + name(sent));
  if (raw.payload.size() != h.size) return fail(ProtocolError::truncated_payload, "ack payload");
  if (h.request != static_cast<uint32_t>(sent))
    return fail(ProtocolError::out_of_order, "ack of back-end request " + std::to_string(h.request) +
                                                 " while waiting for " + name(sent));
  if (!raw.fds.empty()) return fail(ProtocolError::too_many_fds, "fds in an ack");
  Decoded d;
  d.message.flags = h.flags;
  if (ProtocolError e = parse_payload(PayloadKind::u64, raw.payload, d.message.payload, d.detail);
      e != ProtocolError::ok)
    return fail(e, std::string("ack of ") + name(sent) + ": " + d.detail);
  return d;
}

namespace {

void append(std::vector<uint8_t>& out, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  out.insert(out.end(), b, b + n);
}

std::vector<uint8_t> payload_bytes(const Payload& payload) {
  std::vector<uint8_t> out;
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, NoPayload>) {
        } else if constexpr (std::is_same_v<T, IotlbMsg>) {
          WireIotlbMsg w;
          std::memset(&w, 0, sizeof w);  // the padding goes out zero
          w.iova = v.iova, w.size = v.size, w.uaddr = v.uaddr, w.perm = v.perm, w.type = v.type;
          append(out, &w, sizeof w);
        } else if constexpr (std::is_same_v<T, MemTable>) {
          const uint32_t n = static_cast<uint32_t>(v.regions.size()), pad = 0;
          append(out, &n, 4);
          append(out, &pad, 4);
          append(out, v.regions.data(), v.regions.size() * sizeof(MemRegion));
        } else {
          append(out, &v, sizeof v);
        }
      },
      payload);
  return out;
}

RawMessage encode_request(uint32_t request, const Payload& payload, uint32_t flags) {
  RawMessage m;
  m.payload = payload_bytes(payload);
  m.header = {request, flags, static_cast<uint32_t>(m.payload.size())};
  return m;
}

}  // namespace

RawMessage encode(Request r, const Payload& payload, uint32_t flags) {
  return encode_request(static_cast<uint32_t>(r), payload, flags);
}

RawMessage encode_reply(Request r, const Payload& payload) {
  return encode(r, payload, kVersion | kFlagReply);
}

RawMessage encode(BackendRequest r, const Payload& payload, uint32_t flags) {
  return encode_request(static_cast<uint32_t>(r), payload, flags);
}

RawMessage encode_reply(BackendRequest r, const Payload& payload) {
  return encode(r, payload, kVersion | kFlagReply);
}

}  // namespace virtiosim::vhost_user
