#include "models/ring/errors.h"

namespace virtiosim::ring {

namespace {
struct Text {
  const char* name;
  const char* description;
};

constexpr Text kTexts[kRingErrorKinds] = {
    {"ok", "no error"},
    {"no_space", "not enough free descriptors for this buffer"},
    {"chain_too_long", "P6.4: descriptor list longer than the queue size"},
    {"chain_exceeds_limit", "descriptor list has more segments than the device accepts"},
    {"chain_loop", "descriptor chain loops back onto itself"},
    {"next_out_of_range", "NEXT index is outside the descriptor table"},
    {"head_out_of_range", "available ring names a head outside the descriptor table"},
    {"avail_idx_jump", "available index moved by more than the queue size"},
    {"unavailable_in_chain", "P6.2: unexpected unavailable descriptor in a chain"},
    {"indirect_not_negotiated", "P7: INDIRECT flag without VIRTIO_F_INDIRECT_DESC"},
    {"indirect_with_next", "P7: INDIRECT descriptor is part of a NEXT-linked list"},
    {"indirect_nested", "P7: INDIRECT descriptor inside an indirect table"},
    {"indirect_bad_length", "P7: indirect table length is not a non-zero multiple of 16"},
    {"indirect_bad_flags", "P7: only WRITE is valid inside a packed indirect table"},
    {"address_overflow", "buffer address + length overflows 64 bits"},
    {"address_unmapped", "buffer lies outside guest memory"},
    {"readable_after_writable", "P6.3: device-readable descriptor after a device-writable one"},
    {"bad_used_id", "P5: device returned a buffer id that is not in flight"},
    {"used_idx_jump", "used index moved past the buffers in flight"},
    {"bad_ring_state", "restored ring state is out of range for this queue"},
    {"queue_broken", "queue is broken (NEEDS_RESET) after an earlier fatal error"},
    {"bad_queue_size", "P1: queue size must be 1..32768 (split: a power of two)"},
    {"bad_layout", "ring areas misaligned or outside guest memory"},
    {"empty_buffer", "a buffer needs at least one segment"},
};
}  // namespace

const char* name(RingError e) {
  auto i = static_cast<unsigned>(e);
  return i < kRingErrorKinds ? kTexts[i].name : "unknown";
}

const char* describe(RingError e) {
  auto i = static_cast<unsigned>(e);
  return i < kRingErrorKinds ? kTexts[i].description : "unknown error";
}

std::string rule(RingError e) {
  const std::string d = describe(e);
  const size_t colon = d.find(':');
  if (!d.empty() && d[0] == 'P' && colon != std::string::npos && colon < 6) return d.substr(0, colon);
  return std::string("ring.") + name(e);
}

}  // namespace virtiosim::ring
