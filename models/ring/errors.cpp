#include "models/ring/errors.h"

namespace virtiosim::ring {

namespace {
struct Text {
  const char* name;
  const char* rule;  // the SPEC_NOTES id the description starts with, else "ring.<name>"
  const char* description;
};

constexpr Text kTexts[kRingErrorKinds] = {
    {"ok", "ring.ok", "no error"},
    {"no_space", "ring.no_space", "not enough free descriptors for this buffer"},
    {"chain_too_long", "P6.4", "P6.4: descriptor list longer than the queue size"},
    {"chain_exceeds_limit", "ring.chain_exceeds_limit", "descriptor list has more segments than the device accepts"},
    {"chain_loop", "ring.chain_loop", "descriptor chain loops back onto itself"},
    {"next_out_of_range", "ring.next_out_of_range", "NEXT index is outside the descriptor table"},
    {"head_out_of_range", "ring.head_out_of_range", "available ring names a head outside the descriptor table"},
    {"avail_idx_jump", "ring.avail_idx_jump", "available index moved by more than the queue size"},
    {"queue_size_exceeded", "P3",
     "P3: more buffers in flight than the queue size (the driver made available a descriptor the device still owns)"},
    {"unavailable_in_chain", "P6.2", "P6.2: unexpected unavailable descriptor in a chain"},
    {"indirect_not_negotiated", "P7", "P7: INDIRECT flag without VIRTIO_F_INDIRECT_DESC"},
    {"indirect_with_next", "P7", "P7: INDIRECT descriptor is part of a NEXT-linked list"},
    {"indirect_nested", "P7", "P7: INDIRECT descriptor inside an indirect table"},
    {"indirect_bad_length", "P7", "P7: indirect table length is not a non-zero multiple of 16"},
    {"indirect_bad_flags", "P7", "P7: only WRITE is valid inside a packed indirect table"},
    {"address_overflow", "ring.address_overflow", "buffer address + length overflows 64 bits"},
    {"address_unmapped", "ring.address_unmapped", "buffer lies outside guest memory"},
    {"readable_after_writable", "P6.3", "P6.3: device-readable descriptor after a device-writable one"},
    {"iova_unmapped", "ring.iova_unmapped",
     "device access to an IOVA with no IOMMU mapping (never mapped, or unmapped by the driver); nothing was accessed"},
    {"iova_no_permission", "ring.iova_no_permission",
     "device access the IOMMU mapping does not permit (write to a read-only page or read of a write-only one); nothing was accessed"},
    {"bad_used_id", "P5", "P5: device returned a buffer id that is not in flight"},
    {"used_idx_jump", "ring.used_idx_jump", "used index moved past the buffers in flight"},
    {"bad_ring_state", "ring.bad_ring_state", "restored ring state is out of range for this queue"},
    {"queue_broken", "ring.queue_broken", "queue is broken (NEEDS_RESET) after an earlier fatal error"},
    {"bad_queue_size", "P1", "P1: queue size must be 1..32768 (split: a power of two)"},
    {"bad_layout", "ring.bad_layout", "ring areas misaligned or outside guest memory"},
    {"empty_buffer", "ring.empty_buffer", "a buffer needs at least one segment"},
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

const char* rule(RingError e) {
  auto i = static_cast<unsigned>(e);
  return i < kRingErrorKinds ? kTexts[i].rule : "ring.unknown";
}

}  // namespace virtiosim::ring
