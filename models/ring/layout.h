// Where a ring lives in guest memory, and the offsets of its fields.
// Packed: Linux uapi struct vring_packed_desc / vring_packed_desc_event (P1).
// Split: struct vring_desc / vring_avail / vring_used.
#pragma once

#include <cstdint>
#include <string>

#include "models/ring/errors.h"
#include "models/ring/features.h"

namespace virtiosim::ring {

static_assert(sizeof(vring_packed_desc) == 16);
static_assert(sizeof(vring_packed_desc_event) == 4);
static_assert(sizeof(vring_desc) == 16);
static_assert(sizeof(vring_used_elem) == 8);

namespace packed_off {
inline constexpr uint64_t addr = 0, len = 8, id = 12, flags = 14;
inline constexpr uint64_t event_off_wrap = 0, event_flags = 2;
}  // namespace packed_off

namespace split_off {
inline constexpr uint64_t addr = 0, len = 8, flags = 12, next = 14;
inline constexpr uint64_t avail_flags = 0, avail_idx = 2, avail_ring = 4;
inline constexpr uint64_t used_flags = 0, used_idx = 2, used_ring = 4;
inline constexpr uint64_t used_elem_id = 0, used_elem_len = 4;
}  // namespace split_off

// A packed ring: descriptor ring, driver area (driver event suppression,
// written by the driver, read by the device) and device area (device event
// suppression, written by the device, read by the driver) (P10).
struct PackedLayout {
  uint64_t desc = 0;
  uint64_t driver_event = 0;
  uint64_t device_event = 0;
  uint32_t num = 0;

  uint64_t desc_addr(uint32_t slot) const { return desc + uint64_t{slot} * 16; }
  uint64_t len_addr(uint32_t slot) const { return desc_addr(slot) + packed_off::len; }
  uint64_t id_addr(uint32_t slot) const { return desc_addr(slot) + packed_off::id; }
  uint64_t flags_addr(uint32_t slot) const { return desc_addr(slot) + packed_off::flags; }

  uint64_t driver_event_off_wrap_addr() const { return driver_event + packed_off::event_off_wrap; }
  uint64_t driver_event_flags_addr() const { return driver_event + packed_off::event_flags; }
  uint64_t device_event_off_wrap_addr() const { return device_event + packed_off::event_off_wrap; }
  uint64_t device_event_flags_addr() const { return device_event + packed_off::event_flags; }

  // The other way, for whoever watches raw accesses (the checker): is
  // `addr` in the descriptor ring, and in which slot; is it in an event
  // suppression structure.
  bool in_desc_ring(uint64_t addr) const { return addr >= desc && addr - desc < desc_bytes(num); }
  uint32_t slot_of(uint64_t addr) const { return static_cast<uint32_t>((addr - desc) / 16); }
  bool in_driver_event(uint64_t addr) const {
    return addr >= driver_event && addr - driver_event < event_bytes;
  }
  bool in_device_event(uint64_t addr) const {
    return addr >= device_event && addr - device_event < event_bytes;
  }

  static constexpr uint64_t desc_bytes(uint32_t num) { return uint64_t{num} * 16; }
  static constexpr uint64_t event_bytes = sizeof(vring_packed_desc_event);
  // Contiguous placement at `base` (16-aligned): ring, driver area, device area.
  static PackedLayout place(uint64_t base, uint32_t num) {
    return {base, base + desc_bytes(num), base + desc_bytes(num) + event_bytes, num};
  }
  static constexpr uint64_t contiguous_bytes(uint32_t num) { return desc_bytes(num) + 2 * event_bytes; }
};

// A split ring: descriptor table, available ring (driver area), used ring
// (device area); used_event and avail_event trail the rings (EVENT_IDX).
struct SplitLayout {
  uint64_t desc = 0;
  uint64_t avail = 0;
  uint64_t used = 0;
  uint32_t num = 0;

  uint64_t desc_addr(uint32_t i) const { return desc + uint64_t{i} * 16; }
  uint64_t len_addr(uint32_t i) const { return desc_addr(i) + split_off::len; }
  uint64_t flags_addr(uint32_t i) const { return desc_addr(i) + split_off::flags; }
  uint64_t next_addr(uint32_t i) const { return desc_addr(i) + split_off::next; }

  uint64_t avail_flags_addr() const { return avail + split_off::avail_flags; }
  uint64_t avail_idx_addr() const { return avail + split_off::avail_idx; }
  uint64_t used_flags_addr() const { return used + split_off::used_flags; }
  uint64_t used_idx_addr() const { return used + split_off::used_idx; }

  uint64_t avail_ring_addr(uint32_t i) const { return avail + split_off::avail_ring + uint64_t{i} * 2; }
  uint64_t used_event_addr() const { return avail + split_off::avail_ring + uint64_t{num} * 2; }
  uint64_t used_elem_addr(uint32_t i) const { return used + split_off::used_ring + uint64_t{i} * 8; }
  uint64_t used_elem_id_addr(uint32_t i) const { return used_elem_addr(i) + split_off::used_elem_id; }
  uint64_t used_elem_len_addr(uint32_t i) const { return used_elem_addr(i) + split_off::used_elem_len; }
  uint64_t avail_event_addr() const { return used + split_off::used_ring + uint64_t{num} * 8; }

  // The other way, for whoever watches raw accesses (the checker): is
  // `addr` in the descriptor table, and in which descriptor.
  bool in_desc_table(uint64_t addr) const { return addr >= desc && addr - desc < desc_bytes(num); }
  uint32_t desc_index_of(uint64_t addr) const { return static_cast<uint32_t>((addr - desc) / 16); }

  static constexpr uint64_t desc_bytes(uint32_t num) { return uint64_t{num} * 16; }
  static constexpr uint64_t avail_bytes(uint32_t num) { return 6 + uint64_t{num} * 2; }
  static constexpr uint64_t used_bytes(uint32_t num) { return 6 + uint64_t{num} * 8; }
  // Contiguous placement at `base` (16-aligned), each area naturally aligned.
  static SplitLayout place(uint64_t base, uint32_t num) {
    uint64_t avail = base + desc_bytes(num);
    uint64_t used = (avail + avail_bytes(num) + 3) & ~uint64_t{3};
    return {base, avail, used, num};
  }
  static constexpr uint64_t contiguous_bytes(uint32_t num) {
    return ((desc_bytes(num) + avail_bytes(num) + 3) & ~uint64_t{3}) + used_bytes(num);
  }
};

// Throws RingConfigError unless the layout is usable through `mem`.
template <class Mem>
void validate(const PackedLayout& l, const Mem& mem) {
  if (l.num == 0 || l.num > kMaxQueueSize)
    throw RingConfigError(RingError::bad_queue_size, "packed queue size " + std::to_string(l.num));
  if (l.desc % 16 || l.driver_event % 4 || l.device_event % 4)
    throw RingConfigError(RingError::bad_layout, "packed ring areas must be 16/4/4-byte aligned");
  if (!mem.maps(l.desc, PackedLayout::desc_bytes(l.num)) ||
      !mem.maps(l.driver_event, PackedLayout::event_bytes) ||
      !mem.maps(l.device_event, PackedLayout::event_bytes))
    throw RingConfigError(RingError::bad_layout, "packed ring areas outside guest memory");
}

template <class Mem>
void validate(const SplitLayout& l, const Mem& mem) {
  if (l.num == 0 || l.num > kMaxQueueSize || (l.num & (l.num - 1)) != 0)
    throw RingConfigError(RingError::bad_queue_size, "split queue size " + std::to_string(l.num));
  if (l.desc % 16 || l.avail % 2 || l.used % 4)
    throw RingConfigError(RingError::bad_layout, "split ring areas must be 16/2/4-byte aligned");
  if (!mem.maps(l.desc, SplitLayout::desc_bytes(l.num)) ||
      !mem.maps(l.avail, SplitLayout::avail_bytes(l.num)) ||
      !mem.maps(l.used, SplitLayout::used_bytes(l.num)))
    throw RingConfigError(RingError::bad_layout, "split ring areas outside guest memory");
}

}  // namespace virtiosim::ring
