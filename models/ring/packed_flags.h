// What a packed descriptor's AVAIL/USED bits say for a wrap counter (P2).
// One definition for the ring core, which acts on it, and for the checker
// (sim/check/ring_watch), which shares this encoding but decides ownership itself.
#pragma once

#include <cstdint>

#include "models/ring/features.h"

namespace virtiosim::ring {

// The AVAIL/USED bits a driver writes to make a descriptor available in
// driver wrap `wrap`: AVAIL = wrap, USED = !wrap.
constexpr uint16_t packed_avail_flags(bool wrap) { return wrap ? kDescAvail : kDescUsed; }
// The AVAIL/USED bits a device writes to mark a descriptor used in device
// wrap `wrap`: AVAIL = USED = wrap.
constexpr uint16_t packed_used_flags(bool wrap) { return wrap ? kDescAvail | kDescUsed : 0; }

// Available for a driver wrap counter: AVAIL == wrap and USED != wrap.
constexpr bool packed_desc_is_avail(uint16_t flags, bool wrap) {
  return (flags & (kDescAvail | kDescUsed)) == packed_avail_flags(wrap);
}
// Used for a device wrap counter: AVAIL == USED == wrap.
constexpr bool packed_desc_is_used(uint16_t flags, bool wrap) {
  return (flags & (kDescAvail | kDescUsed)) == packed_used_flags(wrap);
}

static_assert(packed_desc_is_avail(kDescAvail, true) && packed_desc_is_avail(kDescUsed, false));
static_assert(!packed_desc_is_avail(kDescAvail | kDescUsed, true) && !packed_desc_is_avail(0, false));
static_assert(packed_desc_is_used(kDescAvail | kDescUsed, true) && packed_desc_is_used(0, false));
static_assert(!packed_desc_is_used(kDescAvail, true) && !packed_desc_is_used(kDescUsed, false));

}  // namespace virtiosim::ring
