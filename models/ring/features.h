// Feature bits the ring core acts on. Names and values come from the Linux
// uapi headers; bits that Debian 12's headers (Linux 6.1) predate are
// defined here with the value the virtio 1.2 specification gives them.
#pragma once

// The uapi header's legacy vring_init() is C only; we use the layouts alone.
#ifndef VIRTIO_RING_NO_LEGACY
#define VIRTIO_RING_NO_LEGACY
#endif
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include <cstdint>

#ifndef VIRTIO_F_NOTIFICATION_DATA
#define VIRTIO_F_NOTIFICATION_DATA 38  // virtio 1.2, 6 "Reserved Feature Bits"
#endif
#ifndef VIRTIO_F_RING_RESET
#define VIRTIO_F_RING_RESET 40
#endif

namespace virtiosim::ring {

constexpr uint64_t feature_bit(unsigned bit) { return uint64_t{1} << bit; }

// The negotiated feature set as the ring sees it.
struct Features {
  uint64_t bits = 0;

  constexpr bool has(unsigned bit) const { return (bits & feature_bit(bit)) != 0; }
  constexpr bool indirect_desc() const { return has(VIRTIO_RING_F_INDIRECT_DESC); }
  constexpr bool event_idx() const { return has(VIRTIO_RING_F_EVENT_IDX); }
  constexpr bool in_order() const { return has(VIRTIO_F_IN_ORDER); }
  constexpr bool notification_data() const { return has(VIRTIO_F_NOTIFICATION_DATA); }
};

// Descriptor flag words (P2). The uapi header gives bit numbers for the
// packed AVAIL/USED flags; these are the masks.
inline constexpr uint16_t kDescNext = VRING_DESC_F_NEXT;
inline constexpr uint16_t kDescWrite = VRING_DESC_F_WRITE;
inline constexpr uint16_t kDescIndirect = VRING_DESC_F_INDIRECT;
inline constexpr uint16_t kDescAvail = 1u << VRING_PACKED_DESC_F_AVAIL;
inline constexpr uint16_t kDescUsed = 1u << VRING_PACKED_DESC_F_USED;

// Packed event suppression (P10).
inline constexpr uint16_t kEventFlagEnable = VRING_PACKED_EVENT_FLAG_ENABLE;
inline constexpr uint16_t kEventFlagDisable = VRING_PACKED_EVENT_FLAG_DISABLE;
inline constexpr uint16_t kEventFlagDesc = VRING_PACKED_EVENT_FLAG_DESC;
inline constexpr uint16_t kEventWrapBit = 1u << VRING_PACKED_EVENT_F_WRAP_CTR;

// Largest queue either layout allows (P1).
inline constexpr uint32_t kMaxQueueSize = 32768;

}  // namespace virtiosim::ring
