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
#include "models/ring/errors.h"
#include "models/ring/event_idx.h"
#include "models/ring/features.h"
#include "models/ring/indirect_pool.h"
#include "models/ring/layout.h"
#include "models/ring/memory_policy.h"
#include "models/ring/native_memory.h"
#include "models/ring/packed_flags.h"

namespace virtiosim::ring {

struct DriverOptions {
  // Guest memory for indirect tables; null disables them even when
  // VIRTIO_F_INDIRECT_DESC is negotiated.
  IndirectPool* indirect_pool = nullptr;
  // Use an indirect table for buffers of at least this many segments.
  // Linux uses one for any multi-segment buffer (total_sg > 1), hence 2.
  uint32_t indirect_threshold = 2;
};

struct DriverStats {
  uint64_t added = 0;              // buffers made available
  uint64_t used = 0;               // buffers returned by get_used
  uint64_t kicks = 0;              // kick_prepare() said notify
  uint64_t kicks_suppressed = 0;   // kick_prepare() said the device does not want one
  uint64_t indirect = 0;           // buffers sent through an indirect table
  uint64_t indirect_fallbacks = 0; // pool exhausted: sent as direct descriptors
  ErrorCounters errors;
};

template <MemoryPolicy Mem = NativeMemory>
class PackedDriver {
 public:
  // Zeroes the ring and both event areas: a fresh queue (P1).
  PackedDriver(Mem mem, PackedLayout layout, Features features, DriverOptions opts = {})
      : mem_(mem), layout_(layout), features_(features), opts_(opts) {
    validate(layout_, mem_);
    state_.resize(layout_.num);
    if (features_.in_order()) in_order_fifo_.resize(layout_.num);
    reinit();
  }

  // Make a buffer of `out` (device-readable) then `in` (device-writable)
  // segments available (P6.3). `token` comes back from get_used.
  [[nodiscard]] RingError add(std::span<const Segment> out, std::span<const Segment> in,
                              uint64_t token) {
    if (broken_) return RingError::queue_broken;
    const uint32_t total = static_cast<uint32_t>(out.size() + in.size());
    if (total == 0) return RingError::empty_buffer;

    uint64_t table = 0;
    if (use_indirect(total)) {
      if (auto t = opts_.indirect_pool->alloc(total)) table = *t;
      else ++stats_.indirect_fallbacks;
    }
    const uint32_t need = table ? 1 : total;
    if (need > num_free_) {
      if (table) opts_.indirect_pool->free(table);
      return RingError::no_space;
    }

    const uint16_t id = free_head_;
    const uint16_t head = next_avail_idx_;
    uint16_t head_flags;
    uint32_t writable_len = 0;
    for (const Segment& s : in) writable_len += s.len;

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

    BufferState& st = state_[id];
    free_head_ = st.next;
    st = {token, table, writable_len, static_cast<uint16_t>(need), st.next, true};
    num_free_ -= need;
    num_added_ += need;
    if (features_.in_order()) push_in_order(id);
    ++stats_.added;

    // P13: descriptor bodies (and the other flags) before the head flags.
    mem_.barrier(BarrierSite::driver_publish);
    mem_.write16(layout_.flags_addr(head), head_flags);
    return RingError::ok;
  }

  // After one or more add(): should the device be notified? Reads the
  // device area after a full barrier (P13) and applies P10/P11.
  bool kick_prepare() {
    if (broken_) return false;
    mem_.barrier(BarrierSite::driver_kick_check);
    const uint32_t snapshot = mem_.read32(layout_.device_event);  // off_wrap and flags at once
    const uint16_t off_wrap = static_cast<uint16_t>(snapshot & 0xffff);
    const uint16_t flags = static_cast<uint16_t>((snapshot >> 16) & 0x3);
    const uint16_t added = num_added_;
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
    ++(needed ? stats_.kicks : stats_.kicks_suppressed);
    return needed;
  }

  // P12: the doorbell value with VIRTIO_F_NOTIFICATION_DATA: queue index,
  // then the next slot to be made available and its wrap counter.
  uint32_t notification_data(uint16_t vqn) const {
    return uint32_t{vqn} | uint32_t{next_avail_idx_} << 16 | (avail_wrap_counter_ ? 1u << 31 : 0);
  }

  // Take the next used buffer if there is one. value: false when none is
  // used yet. A used id that is not in flight breaks the queue.
  [[nodiscard]] Result<bool> get_used(UsedBuffer& out) {
    if (broken_) return {RingError::queue_broken};
    if (batch_active_) return {RingError::ok, detach_in_order(out)};
    if (!packed_desc_is_used(mem_.read16(layout_.flags_addr(last_used_idx_)), used_wrap_counter_))
      return {RingError::ok, false};
    mem_.barrier(BarrierSite::driver_used_read);  // P13: flags before id/len
    const uint16_t id = mem_.read16(layout_.id_addr(last_used_idx_));
    const uint32_t len = mem_.read32(layout_.len_addr(last_used_idx_));
    if (id >= layout_.num || !state_[id].in_flight) return {fail(RingError::bad_used_id)};
    if (features_.in_order()) {
      // P8: one used descriptor may stand for every buffer up to `id`.
      batch_active_ = true;
      batch_last_id_ = id;
      batch_last_len_ = len;
      return {RingError::ok, detach_in_order(out)};
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

  // Queue reset: hand back every buffer still in flight (their tokens) and
  // re-zero the ring so the queue can start again.
  std::vector<uint64_t> detach_unused() {
    std::vector<uint64_t> tokens;
    for (BufferState& st : state_) {
      if (!st.in_flight) continue;
      tokens.push_back(st.token);
      if (st.indirect_table) opts_.indirect_pool->free(st.indirect_table);
    }
    reinit();
    return tokens;
  }

  bool broken() const { return broken_; }
  RingError last_error() const { return last_error_; }
  uint32_t num_free() const { return num_free_; }
  uint32_t num() const { return layout_.num; }
  uint16_t next_avail_idx() const { return next_avail_idx_; }
  bool avail_wrap_counter() const { return avail_wrap_counter_; }
  uint16_t last_used_idx() const { return last_used_idx_; }
  bool used_wrap_counter() const { return used_wrap_counter_; }
  const DriverStats& stats() const { return stats_; }
  const PackedLayout& layout() const { return layout_; }
  Mem& mem() { return mem_; }

 private:
  struct BufferState {
    uint64_t token = 0;
    uint64_t indirect_table = 0;  // 0: direct descriptors
    uint32_t writable_len = 0;    // reported for in-order buffers the device skipped
    uint16_t count = 0;           // ring slots the buffer took (P6.6)
    uint16_t next = 0;            // free list link
    bool in_flight = false;
  };

  void reinit() {
    mem_.write_bytes(layout_.desc, zeros(PackedLayout::desc_bytes(layout_.num)).data(),
                     PackedLayout::desc_bytes(layout_.num));
    mem_.write32(layout_.driver_event, 0);
    mem_.write32(layout_.device_event, 0);
    for (uint32_t i = 0; i < layout_.num; ++i) state_[i] = {0, 0, 0, 0, static_cast<uint16_t>(i + 1), false};
    free_head_ = 0;
    num_free_ = layout_.num;
    next_avail_idx_ = last_used_idx_ = 0;
    avail_wrap_counter_ = used_wrap_counter_ = true;  // P2
    avail_used_flags_ = packed_avail_flags(true);
    num_added_ = 0;
    event_flags_shadow_ = kEventFlagEnable;
    in_order_head_ = in_order_count_ = 0;
    batch_active_ = false;
    broken_ = false;
    last_error_ = RingError::ok;
  }

  static std::vector<uint8_t> zeros(uint64_t n) { return std::vector<uint8_t>(n, 0); }

  bool use_indirect(uint32_t total) const {
    return opts_.indirect_pool && features_.indirect_desc() && opts_.indirect_threshold > 0 &&
           total >= opts_.indirect_threshold;
  }

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

  void detach(uint16_t id, uint32_t len, UsedBuffer& out) {
    BufferState& st = state_[id];
    out = {st.token, len};
    last_used_idx_ = static_cast<uint16_t>(last_used_idx_ + st.count);
    if (last_used_idx_ >= layout_.num) {
      last_used_idx_ = static_cast<uint16_t>(last_used_idx_ - layout_.num);
      used_wrap_counter_ = !used_wrap_counter_;
    }
    if (st.indirect_table) opts_.indirect_pool->free(st.indirect_table);
    num_free_ += st.count;
    st.in_flight = false;
    st.next = free_head_;
    free_head_ = id;
    ++stats_.used;
  }

  void push_in_order(uint16_t id) {
    in_order_fifo_[(in_order_head_ + in_order_count_) % layout_.num] = id;
    ++in_order_count_;
  }

  // Hand back the oldest buffer of the current in-order batch. Buffers the
  // device skipped report their full writable length (as Linux does).
  bool detach_in_order(UsedBuffer& out) {
    const uint16_t id = in_order_fifo_[in_order_head_];
    in_order_head_ = (in_order_head_ + 1) % layout_.num;
    --in_order_count_;
    const bool last = id == batch_last_id_;
    if (last) batch_active_ = false;
    detach(id, last ? batch_last_len_ : state_[id].writable_len, out);
    return true;
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

  RingError fail(RingError e) {
    broken_ = true;
    last_error_ = e;
    stats_.errors.add(e);
    return e;
  }

  Mem mem_;
  PackedLayout layout_;
  Features features_;
  DriverOptions opts_;
  std::vector<BufferState> state_;  // by buffer id
  uint16_t free_head_ = 0;
  uint32_t num_free_ = 0;           // free descriptors (ring slots)
  uint16_t next_avail_idx_ = 0;
  bool avail_wrap_counter_ = true;
  uint16_t avail_used_flags_ = packed_avail_flags(true);  // AVAIL/USED bits for the current lap
  uint16_t last_used_idx_ = 0;
  bool used_wrap_counter_ = true;
  uint16_t num_added_ = 0;          // slots made available since kick_prepare
  uint16_t event_flags_shadow_ = kEventFlagEnable;
  // IN_ORDER: ids in the order they were made available, and the batch the
  // device's last used descriptor closes.
  std::vector<uint16_t> in_order_fifo_;
  uint32_t in_order_head_ = 0, in_order_count_ = 0;
  bool batch_active_ = false;
  uint16_t batch_last_id_ = 0;
  uint32_t batch_last_len_ = 0;
  bool broken_ = false;
  RingError last_error_ = RingError::ok;
  DriverStats stats_;
};

}  // namespace virtiosim::ring
