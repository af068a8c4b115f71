// The vhost-user wire protocol (QEMU docs/interop/vhost-user.rst; SPEC_NOTES
// VU1-VU4): request numbers, flags, payload layouts, and a strict codec.
//
// decode() checks everything the wire can get wrong before any other layer
// sees a message: header flags, payload size against the request's payload
// type, the number of file descriptors the request carries, memory table
// region counts, overflows and overlaps. What it cannot know (how many
// queues the device has, where the regions are) the back-end checks with
// the same error type, so a malformed message always becomes one named
// error, a log line and a closed connection.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "transport/vhost_user/fd.h"

namespace virtiosim::vhost_user {

// Front-end requests (vhost-user.rst "Front-end message types").
enum class Request : uint32_t {
  NONE = 0,
  GET_FEATURES = 1,
  SET_FEATURES = 2,
  SET_OWNER = 3,
  RESET_OWNER = 4,
  SET_MEM_TABLE = 5,
  SET_LOG_BASE = 6,
  SET_LOG_FD = 7,
  SET_VRING_NUM = 8,
  SET_VRING_ADDR = 9,
  SET_VRING_BASE = 10,
  GET_VRING_BASE = 11,
  SET_VRING_KICK = 12,
  SET_VRING_CALL = 13,
  SET_VRING_ERR = 14,
  GET_PROTOCOL_FEATURES = 15,
  SET_PROTOCOL_FEATURES = 16,
  GET_QUEUE_NUM = 17,
  SET_VRING_ENABLE = 18,
  SEND_RARP = 19,
  NET_SET_MTU = 20,
  SET_BACKEND_REQ_FD = 21,
  IOTLB_MSG = 22,
  SET_VRING_ENDIAN = 23,
  GET_CONFIG = 24,
  SET_CONFIG = 25,
  CREATE_CRYPTO_SESSION = 26,
  CLOSE_CRYPTO_SESSION = 27,
  POSTCOPY_ADVISE = 28,
  POSTCOPY_LISTEN = 29,
  POSTCOPY_END = 30,
  GET_INFLIGHT_FD = 31,
  SET_INFLIGHT_FD = 32,
  GPU_SET_SOCKET = 33,
  RESET_DEVICE = 34,
  VRING_KICK = 35,
  GET_MAX_MEM_SLOTS = 36,
  ADD_MEM_REG = 37,
  REM_MEM_REG = 38,
  SET_STATUS = 39,
  GET_STATUS = 40,
};

const char* name(Request r);

// Back-end requests, sent on the back-end channel that SET_BACKEND_REQ_FD
// hands over (vhost-user.rst "Back-end message types"; once SLAVE_*).
enum class BackendRequest : uint32_t {
  NONE = 0,
  IOTLB_MSG = 1,
};

const char* name(BackendRequest r);

// VU1: flags word of the header.
inline constexpr uint32_t kVersionMask = 0x3;
inline constexpr uint32_t kVersion = 0x1;
inline constexpr uint32_t kFlagReply = 1u << 2;
inline constexpr uint32_t kFlagNeedReply = 1u << 3;

inline constexpr size_t kHeaderSize = 12;
// VHOST_USER_F_PROTOCOL_FEATURES: a virtio feature bit reused by vhost-user.
inline constexpr unsigned kFeatureProtocolFeatures = 30;
// VIRTIO_F_ACCESS_PLATFORM (once VIRTIO_F_IOMMU_PLATFORM): negotiated, every
// ring and buffer address is an IOVA the back-end translates through its
// IOTLB (vhost-user.rst "Memory access", "IOMMU support").
inline constexpr unsigned kFeatureAccessPlatform = 33;

// Protocol feature bits (vhost-user.rst "Protocol features").
namespace protocol_feature {
inline constexpr unsigned MQ = 0;
inline constexpr unsigned LOG_SHMFD = 1;
inline constexpr unsigned RARP = 2;
inline constexpr unsigned REPLY_ACK = 3;
inline constexpr unsigned MTU = 4;
inline constexpr unsigned BACKEND_REQ = 5;
inline constexpr unsigned CROSS_ENDIAN = 6;
inline constexpr unsigned CONFIG = 9;
inline constexpr unsigned INFLIGHT_SHMFD = 12;
inline constexpr unsigned RESET_DEVICE = 13;
inline constexpr unsigned CONFIGURE_MEM_SLOTS = 15;
inline constexpr unsigned STATUS = 16;
}  // namespace protocol_feature

// VU3: SET_VRING_KICK/CALL/ERR payload: queue index in bits 0-7, bit 8 says
// no fd follows (the ring is polled / not signalled).
inline constexpr uint64_t kVringIdxMask = 0xff;
inline constexpr uint64_t kVringNoFdMask = 1u << 8;

// Largest number of memory regions one SET_MEM_TABLE carries
// (VHOST_MEMORY_BASELINE_NREGIONS) and of fds one message may carry.
inline constexpr uint32_t kMaxMemRegions = 8;
inline constexpr size_t kMaxFds = kMaxMemRegions;

// Payload layouts (native endian, as on the wire).
struct VringState {
  uint32_t index = 0;
  uint32_t num = 0;
  bool operator==(const VringState&) const = default;
};

// VHOST_VRING_F_LOG: the only defined bit of VringAddr::flags.
inline constexpr uint32_t kVringAddrFlagLog = 1u << 0;

// Ring addresses are front-end user (virtual) addresses, not guest-physical.
// For a packed ring desc is the descriptor ring, avail the driver area and
// used the device area.
struct VringAddr {
  uint32_t index = 0;
  uint32_t flags = 0;
  uint64_t desc_user_addr = 0;
  uint64_t used_user_addr = 0;
  uint64_t avail_user_addr = 0;
  uint64_t log_guest_addr = 0;
  bool operator==(const VringAddr&) const = default;
};

struct MemRegion {
  uint64_t guest_phys_addr = 0;
  uint64_t memory_size = 0;
  uint64_t userspace_addr = 0;
  uint64_t mmap_offset = 0;
  bool operator==(const MemRegion&) const = default;
};

struct MemTable {
  std::vector<MemRegion> regions;  // one fd per region, in order
  bool operator==(const MemTable&) const = default;
};

// struct vhost_iotlb_msg (Linux uapi vhost_types.h): 26 bytes of fields and
// 6 of padding, 32 on the wire from QEMU and DPDK. The padding is not read:
// QEMU leaves it (and, on INVALIDATE, perm and uaddr) uninitialised.
namespace iotlb {
inline constexpr uint8_t kMiss = 1;
inline constexpr uint8_t kUpdate = 2;
inline constexpr uint8_t kInvalidate = 3;
inline constexpr uint8_t kAccessFail = 4;
inline constexpr uint8_t kRead = 0x1;   // VHOST_ACCESS_RO: the device may read
inline constexpr uint8_t kWrite = 0x2;  // VHOST_ACCESS_WO: the device may write
inline constexpr uint8_t kReadWrite = kRead | kWrite;
inline constexpr size_t kWireSize = 32;
}  // namespace iotlb

struct IotlbMsg {
  uint64_t iova = 0;
  uint64_t size = 0;
  uint64_t uaddr = 0;  // the front-end's user address (UPDATE)
  uint8_t perm = 0;    // iotlb::kRead | iotlb::kWrite
  uint8_t type = 0;    // iotlb::kMiss ... kAccessFail
  bool operator==(const IotlbMsg&) const = default;
};

struct NoPayload {
  bool operator==(const NoPayload&) const = default;
};

using Payload = std::variant<NoPayload, uint64_t, VringState, VringAddr, MemTable, IotlbMsg>;

// Every way a message or the sequence of messages can be wrong. The
// back-end adds the checks that need device state.
enum class ProtocolError : uint8_t {
  ok = 0,
  short_header,           // connection ended inside the 12-byte header
  bad_version,            // VU1: flags bits 0-1 not 1
  unexpected_reply_flag,  // a request carrying the reply flag
  payload_too_large,      // size beyond any payload this protocol defines
  truncated_payload,      // connection ended before `size` bytes arrived
  bad_payload_size,       // size does not match the request's payload type
  too_many_fds,           // more fds than the request takes
  missing_fd,             // request needs an fd and none came
  unknown_request,        // request number we neither know nor accept
  bad_region_count,       // SET_MEM_TABLE: 0 or more than kMaxMemRegions, or != fds
  region_overflow,        // SET_MEM_TABLE: gpa/uva/offset + size wraps, or size 0
  region_overlap,         // SET_MEM_TABLE: two regions share guest-physical or user addresses
  region_map_failed,      // SET_MEM_TABLE: mmap of a region's fd failed
  vring_index_out_of_range,
  bad_vring_num,          // SET_VRING_NUM: 0, > 32768, or split not a power of two
  vring_addr_unmapped,    // SET_VRING_ADDR: a ring area outside every region
  bad_iotlb_msg,          // IOTLB_MSG: a type the direction does not allow, size 0, wrap, no permission
  iotlb_uaddr_unmapped,   // IOTLB_MSG UPDATE: [uaddr, uaddr + size) not inside one memory region
  bad_vring_base,         // SET_VRING_BASE: index beyond the ring
  bad_vring_flags,        // SET_VRING_ADDR: unknown flag bits, or logging requested
  unsupported_features,   // SET_FEATURES / SET_PROTOCOL_FEATURES: bits we did not offer
  out_of_order,           // a request that needs an earlier one (features before mem table, ...)
  ring_failed,            // the ring core refused the ring (layout)
  io_error,               // socket error
  timeout,                // peer stalled in the middle of a message
  count_
};

const char* name(ProtocolError e);

struct Header {
  uint32_t request = 0;
  uint32_t flags = 0;
  uint32_t size = 0;
};

// A whole message as it travels: header, payload bytes, fds.
struct RawMessage {
  Header header;
  std::vector<uint8_t> payload;
  std::vector<Fd> fds;  // received with the message (SCM_RIGHTS)
};

// A decoded message. Its fds stay in the RawMessage it came from; the
// handler moves out the ones it keeps and the rest close with the message.
struct Message {
  Request request = Request::NONE;
  uint32_t flags = kVersion;
  Payload payload;

  bool need_reply() const { return flags & kFlagNeedReply; }
  bool is_reply() const { return flags & kFlagReply; }
};

// The largest payload any request we accept can carry (a full memory table);
// a header announcing more is refused before reading the payload.
inline constexpr size_t kMaxPayload = 8 + kMaxMemRegions * sizeof(MemRegion);

Header parse_header(std::span<const uint8_t, kHeaderSize> bytes);

// Checks that are possible on the header alone (before reading the payload).
ProtocolError check_header(const Header& h, bool expect_reply);

// Strict decoding of a request from the front-end.
struct Decoded {
  ProtocolError error = ProtocolError::ok;
  Message message;
  std::string detail;  // human-readable context for the log
};
Decoded decode_request(const RawMessage& raw);

// Decoding of a reply from the back-end to `sent` (the front-end side).
Decoded decode_reply(const RawMessage& raw, Request sent);

// The back-end channel, where the roles swap: the back-end sends requests
// (an IOTLB MISS) and the front-end answers with a u64 ack when the request
// asked for one (NEED_REPLY, with REPLY_ACK negotiated).
Decoded decode_backend_request(const RawMessage& raw);
// The front-end's ack of `sent` on the back-end channel: 0 done, else failed.
Decoded decode_backend_ack(const RawMessage& raw, BackendRequest sent);

// Encoding (both directions). The payload type must match the request.
RawMessage encode(Request r, const Payload& payload, uint32_t flags = kVersion);
RawMessage encode_reply(Request r, const Payload& payload);
RawMessage encode(BackendRequest r, const Payload& payload, uint32_t flags = kVersion);
RawMessage encode_reply(BackendRequest r, const Payload& payload);

// The payload type a request carries (in the request direction and in its
// reply), and the number of fds the request takes.
enum class PayloadKind : uint8_t { none, u64, vring_state, vring_addr, mem_table, iotlb };
struct RequestInfo {
  bool known = false;         // we decode it
  PayloadKind request = PayloadKind::none;
  PayloadKind reply = PayloadKind::none;  // none: no reply unless REPLY_ACK
  uint8_t min_fds = 0;
  uint8_t max_fds = 0;
};
RequestInfo info(Request r);

}  // namespace virtiosim::vhost_user
