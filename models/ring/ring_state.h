// A device side's position in the ring, as vhost saves and restores it
// (GET/SET_VRING_BASE), with the vhost-user encoding of VU2.
#pragma once

#include <cstdint>

namespace virtiosim::ring {

struct RingState {
  uint16_t last_avail_idx = 0;
  bool avail_wrap_counter = true;  // P2: both wrap counters start at 1
  uint16_t last_used_idx = 0;
  bool used_wrap_counter = true;

  bool operator==(const RingState&) const = default;
};

// How to read a 32-bit ring base that came from a peer.
enum class VringBaseCompat : uint8_t {
  strict,         // both halves are what the peer meant (VU2)
  low_half_only,  // some back-ends (DPDK 22.11) fill only bits 0..15 after a
                  // drain: a zero upper half is read as "used == avail"
};

// Packed encoding (VU2): bits 0-14 last avail index, bit 15 avail wrap
// counter, bits 16-30 last used index, bit 31 used wrap counter.
constexpr uint32_t encode_vring_base_packed(const RingState& s) {
  return uint32_t{s.last_avail_idx & 0x7fffu} | (s.avail_wrap_counter ? 1u << 15 : 0) |
         uint32_t{s.last_used_idx & 0x7fffu} << 16 | (s.used_wrap_counter ? 1u << 31 : 0);
}

constexpr RingState decode_vring_base_packed(uint32_t v,
                                             VringBaseCompat compat = VringBaseCompat::strict) {
  RingState s;
  s.last_avail_idx = static_cast<uint16_t>(v & 0x7fff);
  s.avail_wrap_counter = (v >> 15) & 1;
  if (compat == VringBaseCompat::low_half_only && (v >> 16) == 0) {
    s.last_used_idx = s.last_avail_idx;
    s.used_wrap_counter = s.avail_wrap_counter;
  } else {
    s.last_used_idx = static_cast<uint16_t>((v >> 16) & 0x7fff);
    s.used_wrap_counter = (v >> 31) & 1;
  }
  return s;
}

// Split rings carry only the free-running last_avail_idx; the used index is
// read back from the used ring when the queue restarts (as vhost does).
constexpr uint32_t encode_vring_base_split(const RingState& s) { return s.last_avail_idx; }

}  // namespace virtiosim::ring
