// Packed virtqueue, driver side (virtio 1.2 "Packed Virtqueues"; Linux
// drivers/virtio/virtio_ring.c *_packed is the reference implementation).
//
// The driver owns buffer ids: a free list hands out one id per buffer, the
// list length is remembered per id (P6.6), and the id the device returns is
// checked against what is in flight, so a buggy device yields bad_used_id
// and a broken queue, never a wild access.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "models/ring/chain.h"
#include "models/ring/driver_base.h"
#include "models/ring/driver_common.h"
#include "models/ring/errors.h"
#include "models/ring/event_idx.h"
#include "models/ring/features.h"
#include "models/ring/indirect_pool.h"
#include "models/ring/layout.h"
#include "models/ring/memory_policy.h"
#include "models/ring/native_memory.h"
#include "models/ring/packed_flags.h"

namespace virtiosim::ring {

// A buffer in flight, by buffer id (Linux vring_desc_state_packed).
struct DescStatePacked {
  uint64_t token = 0;
  uint64_t indirect_table = 0;  // 0: direct descriptors
  uint32_t writable_len = 0;    // reported for in-order buffers the device skipped
  uint16_t count = 0;           // ring slots the buffer took (P6.6)
  uint16_t next = 0;            // free list link
  bool in_flight = false;
};

template <MemoryPolicy Mem = NativeMemory>
class PackedDriver : public DriverBase<PackedDriver<Mem>, PackedLayout, Mem, DescStatePacked> {
  using Base = DriverBase<PackedDriver<Mem>, PackedLayout, Mem, DescStatePacked>;
  friend Base;
  using Base::mem_, Base::layout_, Base::features_, Base::state_, Base::free_head_,
      Base::num_free_, Base::batch_active_, Base::broken_, Base::stats_;
  using Base::fail;

 public:
  // Zeroes the ring and both event areas: a fresh queue (P1).
  PackedDriver(Mem mem, PackedLayout layout, Features features, DriverOptions opts = {})
      : Base(mem, layout, features, opts) {
    reinit();
  }

  // Make a buffer of `out` (device-readable) then `in` (device-writable)
  // segments available (P6.3). `token` comes back from get_used.
  [[nodiscard]] RingError add(std::span<const Segment> out, std::span<const Segment> in,
                              uint64_t token) {
    const uint32_t total = static_cast<uint32_t>(out.size() + in.size());
    if (RingError e = this->check_add(total); e != RingError::ok) return e;
    uint64_t table;
    uint32_t need;
    if (RingError e = this->reserve(total, table, need); e != RingError::ok) return e;

    const uint16_t id = free_head_;
    const uint16_t head = next_avail_idx_;
    uint16_t head_flags;
    const uint32_t writable_len = this->bytes_of(in);

    if (table) {
      write_indirect_table(table, out, in);
      write_desc_body(head, table, total * 16, id);
      head_flags = kDescIndirect | avail_used_flags_;
      advance_avail();
      ++stats_.indirect;
    } else {
      head_flags = 0;
      uint32_t k = 0;
      auto put = [&](const Segment& s, uint16_t write) {
        const uint16_t slot = next_avail_idx_;
        const uint16_t flags =
            static_cast<uint16_t>((k + 1 < total ? kDescNext : 0) | write | avail_used_flags_);
        write_desc_body(slot, s.addr, s.len, id);
        // P6.5: every flag but the head's now; the head's after the barrier.
        if (k == 0) head_flags = flags;
        else mem_.write16(layout_.flags_addr(slot), flags);
        advance_avail();
        ++k;
      };
      for (const Segment& s : out) put(s, 0);
      for (const Segment& s : in) put(s, kDescWrite);
    }

    DescStatePacked& st = state_[id];
    free_head_ = st.next;
    st = {token, table, writable_len, static_cast<uint16_t>(need), st.next, true};
    num_free_ -= need;
    num_added_ += need;
    if (features_.in_order()) this->push_in_order(id);
    ++stats_.added;

    // P13: descriptor bodies (and the other flags) before the head flags.
    mem_.barrier(BarrierSite::driver_publish);
    mem_.write16(layout_.flags_addr(head), head_flags);
    return RingError::ok;
  }

  // After one or more add(): should the device be notified? Reads the
  // device area after a full barrier (P13) and applies P10/P11, even with
  // nothing added, as Linux virtqueue_kick_prepare_packed does.
  bool kick_prepare() {
    if (broken_) return false;
    mem_.barrier(BarrierSite::driver_kick_check);
    const uint32_t snapshot = mem_.read32(layout_.device_event);  // off_wrap and flags at once
    const uint16_t off_wrap = static_cast<uint16_t>(snapshot & 0xffff);
    const uint16_t flags = static_cast<uint16_t>((snapshot >> 16) & 0x3);
    const uint32_t added = num_added_;
    num_added_ = 0;
    bool needed;
    if (flags != kEventFlagDesc) {
      needed = flags != kEventFlagDisable;
    } else {
      // A window covering the whole ring contains any event offset.
      needed = added >= layout_.num ||
               packed_need_event(off_wrap, avail_wrap_counter_, layout_.num, next_avail_idx_,
                                 static_cast<uint16_t>(next_avail_idx_ - added));
    }
    return this->count_kick(needed);
  }

  // P12: the doorbell value with VIRTIO_F_NOTIFICATION_DATA: queue index,
  // then the next slot to be made available and its wrap counter.
  uint32_t notification_data(uint16_t vqn) const {
    return uint32_t{vqn} | uint32_t{next_avail_idx_} << 16 | (avail_wrap_counter_ ? 1u << 31 : 0);
  }

  // Is a used buffer waiting? (busy-poll peek, Linux virtqueue_poll; a bad
  // used id is reported by the get_used that follows)
  bool has_used() {
    if (broken_) return false;
    if (batch_active_) return true;
    return packed_desc_is_used(mem_.read16(layout_.flags_addr(last_used_idx_)), used_wrap_counter_);
  }

  // Take the next used buffer if there is one. value: false when none is
  // used yet. A used id that is not in flight breaks the queue.
  [[nodiscard]] Result<bool> get_used(UsedBuffer& out) {
    if (broken_) return {RingError::queue_broken};
    if (batch_active_) return {RingError::ok, this->detach_in_order(out)};
    if (!packed_desc_is_used(mem_.read16(layout_.flags_addr(last_used_idx_)), used_wrap_counter_))
      return {RingError::ok, false};
    mem_.barrier(BarrierSite::driver_used_read);  // P13: flags before id/len
    const uint16_t id = mem_.read16(layout_.id_addr(last_used_idx_));
    const uint32_t len = mem_.read32(layout_.len_addr(last_used_idx_));
    if (id >= layout_.num || !state_[id].in_flight) return {fail(RingError::bad_used_id)};
    if (features_.in_order()) {
      // P8: one used descriptor may stand for every buffer up to `id`.
      return {RingError::ok, this->start_in_order_batch(id, len, out)};
    }
    detach(id, len, out);
    return {RingError::ok, true};
  }

  // Ask the device not to signal used buffers (P10).
  void disable_cb() { write_event_flags(kEventFlagDisable); }

  // Ask for a signal on the next used buffer; returns true if used buffers
  // are already pending, which the caller must poll for: a buffer used
  // before the device saw the enable would otherwise never be signalled.
  [[nodiscard]] bool enable_cb() {
    return enable_cb_at(last_used_idx_, used_wrap_counter_);
  }

  // As enable_cb(), but with EVENT_IDX the event is set after about 3/4 of
  // the outstanding descriptors (Linux virtqueue_enable_cb_delayed).
  // Returns true if the slot the event names is already used.
  [[nodiscard]] bool enable_cb_delayed() {
    uint32_t idx = last_used_idx_ + (layout_.num - num_free_) * 3 / 4;
    bool wrap = used_wrap_counter_;
    if (idx >= layout_.num) idx -= layout_.num, wrap = !wrap;
    return enable_cb_at(static_cast<uint16_t>(idx), wrap);
  }

  uint16_t next_avail_idx() const { return next_avail_idx_; }
  bool avail_wrap_counter() const { return avail_wrap_counter_; }
  uint16_t last_used_idx() const { return last_used_idx_; }
  bool used_wrap_counter() const { return used_wrap_counter_; }

 private:
  void reinit() {
    mem_.write_bytes(layout_.desc, zeros(PackedLayout::desc_bytes(layout_.num)).data(),
                     PackedLayout::desc_bytes(layout_.num));
    mem_.write32(layout_.driver_event, 0);
    mem_.write32(layout_.device_event, 0);
    for (uint32_t i = 0; i < layout_.num; ++i) state_[i] = {0, 0, 0, 0, static_cast<uint16_t>(i + 1), false};
    this->reset_bookkeeping();
    next_avail_idx_ = last_used_idx_ = 0;
    avail_wrap_counter_ = used_wrap_counter_ = true;  // P2
    avail_used_flags_ = packed_avail_flags(true);
    num_added_ = 0;
    event_flags_shadow_ = kEventFlagEnable;
  }

  static std::vector<uint8_t> zeros(uint64_t n) { return std::vector<uint8_t>(n, 0); }

  void write_desc_body(uint16_t slot, uint64_t addr, uint32_t len, uint16_t id) {
    const uint64_t d = layout_.desc_addr(slot);
    mem_.write64(d + packed_off::addr, addr);
    mem_.write32(d + packed_off::len, len);
    mem_.write16(d + packed_off::id, id);
  }

  // P7: table entries carry only WRITE; id is ignored by the device.
  void write_indirect_table(uint64_t table, std::span<const Segment> out,
                            std::span<const Segment> in) {
    uint64_t at = table;
    auto put = [&](const Segment& s, uint16_t flags) {
      vring_packed_desc d{le::from_host(s.addr), le::from_host(s.len), 0, le::from_host(flags)};
      mem_.write_bytes(at, &d, sizeof d);
      at += sizeof d;
    };
    for (const Segment& s : out) put(s, 0);
    for (const Segment& s : in) put(s, kDescWrite);
  }

  void advance_avail() {
    if (++next_avail_idx_ >= layout_.num) {
      next_avail_idx_ = 0;
      avail_wrap_counter_ = !avail_wrap_counter_;
      avail_used_flags_ = packed_avail_flags(avail_wrap_counter_);
    }
  }

  // One buffer back: skip its slots (P6.6), its id back on the free list.
  void detach(uint16_t id, uint32_t len, UsedBuffer& out) {
    DescStatePacked& st = state_[id];
    this->release(st, len, out);
    last_used_idx_ = static_cast<uint16_t>(last_used_idx_ + st.count);
    if (last_used_idx_ >= layout_.num) {
      last_used_idx_ = static_cast<uint16_t>(last_used_idx_ - layout_.num);
      used_wrap_counter_ = !used_wrap_counter_;
    }
    st.next = free_head_;
    free_head_ = id;
  }

  bool enable_cb_at(uint16_t idx, bool wrap) {
    if (broken_) return false;
    if (features_.event_idx()) {
      // P11: off_wrap before flags.
      mem_.write16(layout_.driver_event_off_wrap_addr(), packed_off_wrap(idx, wrap));
      mem_.barrier(BarrierSite::driver_event_write);
    }
    write_event_flags(features_.event_idx() ? kEventFlagDesc : kEventFlagEnable);
    mem_.barrier(BarrierSite::driver_enable_recheck);
    return batch_active_ || packed_desc_is_used(mem_.read16(layout_.flags_addr(idx)), wrap);
  }

  void write_event_flags(uint16_t flags) {
    if (broken_ || event_flags_shadow_ == flags) return;
    event_flags_shadow_ = flags;
    mem_.write16(layout_.driver_event_flags_addr(), flags);
  }

  uint16_t next_avail_idx_ = 0;
  bool avail_wrap_counter_ = true;
  uint16_t avail_used_flags_ = packed_avail_flags(true);  // AVAIL/USED bits for the current lap
  uint16_t last_used_idx_ = 0;
  bool used_wrap_counter_ = true;
  uint32_t num_added_ = 0;          // slots made available since kick_prepare (wider than an index: never wraps to 0)
  uint16_t event_flags_shadow_ = kEventFlagEnable;
};

}  // namespace virtiosim::ring
