// The test frames the simulated driver sends: Ethernet frames whose body
// carries the sequence number, the send time and a checksum, with the rest
// pseudo-random from (seed, sequence), so a receiver can verify every byte
// without keeping a copy. The virtio-net header in front of them is
// models/net/net_header.h.
#pragma once

#include "models/net/net_header.h"

#include <cstdint>
#include <span>

namespace virtiosim::net {

inline constexpr uint32_t kMinFrameBytes = 64;   // Ethernet minimum (without FCS: 60; 64 keeps it simple)
inline constexpr uint32_t kMaxFrameBytes = 9018; // jumbo frame + VLAN header
inline constexpr uint16_t kEtherType = 0x88b5;   // IEEE 802 local experimental

struct FrameInfo {
  uint64_t seq = 0;
  uint64_t sent_ps = 0;
  uint32_t queue_pair = 0;
};

// Size of frame `seq` for a run: fixed when min == max, else seeded uniform.
uint32_t frame_bytes(uint64_t seed, uint64_t seq, uint32_t min_bytes, uint32_t max_bytes);

// Fill `out` (its size is the frame size, >= kMinFrameBytes).
void build_frame(std::span<uint8_t> out, uint64_t seed, const FrameInfo& info);

// Check a received frame; returns false on any corrupted byte.
bool verify_frame(std::span<const uint8_t> frame, uint64_t seed, FrameInfo& info);

}  // namespace virtiosim::net
