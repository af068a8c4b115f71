// Event index arithmetic shared by both layouts and both sides (P11).
#pragma once

#include <cstdint>

#include "models/ring/features.h"

namespace virtiosim::ring {

// True iff `event` lies in the window (old, new], all free-running u16
// (Linux vring_need_event; QEMU and DPDK use the same expression).
constexpr bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx) {
  return static_cast<uint16_t>(new_idx - event - 1) < static_cast<uint16_t>(new_idx - old_idx);
}

// Packed ring: the other side asked (flags == DESC) for an event when the
// descriptor at off_wrap becomes available/used. `own_wrap` is the wrap
// counter of the indices new/old; an offset from the other lap is moved
// back by the queue size so that the u16 window test above applies.
constexpr bool packed_need_event(uint16_t off_wrap, bool own_wrap, uint32_t num,
                                 uint16_t new_idx, uint16_t old_idx) {
  uint16_t off = off_wrap & static_cast<uint16_t>(~kEventWrapBit);
  bool wrap = (off_wrap & kEventWrapBit) != 0;
  if (wrap != own_wrap) off = static_cast<uint16_t>(off - num);
  return need_event(off, new_idx, old_idx);
}

constexpr uint16_t packed_off_wrap(uint16_t idx, bool wrap) {
  return static_cast<uint16_t>(idx | (wrap ? kEventWrapBit : 0));
}

}  // namespace virtiosim::ring
