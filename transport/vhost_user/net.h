// virtio-net pieces both ends use: the feature bits we negotiate, the net
// header in front of every frame (models/net's, as for the simulator), and
// the test frames drive sends and checks (a sequence number and a pattern
// derived from it, so a returned frame proves which one it was and that no
// byte changed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "models/net/net_header.h"

namespace virtiosim::vhost_user::net {

inline constexpr unsigned kFeatureMrgRxbuf = VIRTIO_NET_F_MRG_RXBUF;
inline constexpr unsigned kFeatureMq = VIRTIO_NET_F_MQ;

inline constexpr size_t kHdrLenMrg = virtiosim::net::kNetHdrBytes;
inline constexpr size_t kNumBuffersOffset = virtiosim::net::kNumBuffersOffset;
constexpr size_t header_len(uint64_t features) { return virtiosim::net::net_hdr_bytes(features); }

inline constexpr size_t kMacLen = 6;
inline constexpr size_t kEthHeader = 14;
inline constexpr size_t kMinFrame = kEthHeader + 8;  // room for the sequence number

inline void swap_macs(uint8_t* frame, size_t len) {
  if (len < 2 * kMacLen) return;
  uint8_t tmp[kMacLen];
  std::memcpy(tmp, frame, kMacLen);
  std::memmove(frame, frame + kMacLen, kMacLen);
  std::memcpy(frame + kMacLen, tmp, kMacLen);
}

inline constexpr uint8_t kDriveSrcMac[kMacLen] = {0x02, 0x76, 0x73, 0x69, 0x6d, 0x01};  // locally administered
inline constexpr uint8_t kDriveDstMac[kMacLen] = {0x02, 0x76, 0x73, 0x69, 0x6d, 0x02};
inline constexpr uint16_t kEtherTypeExperimental = 0x88b5;  // IEEE 802 local experimental

inline uint8_t pattern_byte(uint64_t seq, size_t i) { return static_cast<uint8_t>(seq * 131 + i * 7 + 1); }

// A frame of `len` bytes: dst, src, ethertype, le64 sequence, pattern.
inline void make_frame(uint8_t* f, size_t len, uint64_t seq) {
  std::memcpy(f, kDriveDstMac, kMacLen);
  std::memcpy(f + kMacLen, kDriveSrcMac, kMacLen);
  f[12] = kEtherTypeExperimental >> 8;
  f[13] = kEtherTypeExperimental & 0xff;
  std::memcpy(f + kEthHeader, &seq, 8);
  for (size_t i = kEthHeader + 8; i < len; ++i) f[i] = pattern_byte(seq, i);
}

// What came back must be the frame sent with `seq`, MACs swapped. Returns
// the sequence number through `seq_out`; false if any byte is wrong.
inline bool check_echo(const uint8_t* f, size_t len, size_t sent_len, uint64_t& seq_out) {
  if (len != sent_len || len < kMinFrame) return false;
  if (std::memcmp(f, kDriveSrcMac, kMacLen) != 0 || std::memcmp(f + kMacLen, kDriveDstMac, kMacLen) != 0)
    return false;
  if (f[12] != (kEtherTypeExperimental >> 8) || f[13] != (kEtherTypeExperimental & 0xff)) return false;
  std::memcpy(&seq_out, f + kEthHeader, 8);
  for (size_t i = kEthHeader + 8; i < len; ++i)
    if (f[i] != pattern_byte(seq_out, i)) return false;
  return true;
}

}  // namespace virtiosim::vhost_user::net
