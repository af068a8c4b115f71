// What both driver families (PackedDriver, SplitDriver) keep the same way:
// the per-buffer state of what is in flight and the free descriptor count,
// room for a new buffer (indirect table or direct descriptors), the
// IN_ORDER FIFO and the batch a used entry closes (P8), queue reset
// (detach_unused), the broken state with the failure that caused it, and
// the counters.
//
// A CRTP base: the layout-specific parts (writing descriptors, reading the
// used ring, event suppression) stay in the family and are reached by
// static dispatch; nothing here is virtual.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "models/ring/chain.h"
#include "models/ring/driver_common.h"
#include "models/ring/errors.h"
#include "models/ring/features.h"
#include "models/ring/memory_policy.h"
#include "models/ring/ring_side.h"

namespace virtiosim::ring {

// BufferState: one buffer in flight (Linux vring_desc_state_*), with at
// least token, indirect_table, writable_len, count and in_flight.
// Derived provides, for the base to call:
//   void reinit();                                     zero the rings, a fresh queue
//   void detach(uint16_t id, uint32_t len, UsedBuffer&); hand one buffer back
template <class Derived, class Layout, MemoryPolicy Mem, class BufferState>
class DriverBase : public RingSide<Layout, Mem, DriverOptions, DriverStats> {
  using Side = RingSide<Layout, Mem, DriverOptions, DriverStats>;

 public:
  // Queue reset: hand back every buffer still in flight (their tokens) and
  // re-zero the ring so the queue can start again.
  std::vector<uint64_t> detach_unused() {
    std::vector<uint64_t> tokens;
    for (BufferState& st : state_) {
      if (!st.in_flight) continue;
      tokens.push_back(st.token);
      free_table(st);
    }
    derived().reinit();
    return tokens;
  }

  uint32_t num_free() const { return num_free_; }
  // The id (packed) / head (split) the next buffer gets.
  uint16_t free_head() const { return free_head_; }

 protected:
  DriverBase(Mem mem, Layout layout, Features features, DriverOptions opts)
      : Side(mem, layout, features, opts) {
    state_.resize(layout_.num);
    if (features_.in_order()) in_order_fifo_.resize(layout_.num);
  }
  ~DriverBase() = default;

  // add(), before anything else: a broken queue takes nothing, a buffer
  // needs a segment.
  RingError check_add(uint32_t total) const {
    if (broken_) return RingError::queue_broken;
    if (total == 0) return RingError::empty_buffer;
    return RingError::ok;
  }

  // Room for a buffer of `total` segments: through an indirect table when
  // one is wanted and the pool has one (`table`, one descriptor), else
  // `total` direct descriptors. no_space leaves nothing taken.
  RingError reserve(uint32_t total, uint64_t& table, uint32_t& need) {
    table = 0;
    if (use_indirect(total)) {
      if (auto t = opts_.indirect_pool->alloc(total)) table = *t;
      else ++stats_.indirect_fallbacks;
    }
    need = table ? 1 : total;
    if (need > num_free_) {
      if (table) opts_.indirect_pool->free(table);
      return RingError::no_space;
    }
    return RingError::ok;
  }

  static uint32_t bytes_of(std::span<const Segment> segs) {
    uint32_t n = 0;
    for (const Segment& s : segs) n += s.len;
    return n;
  }

  bool count_kick(bool needed) {
    ++(needed ? stats_.kicks : stats_.kicks_suppressed);
    return needed;
  }

  // detach(), the shared part: the token and len go out, the table and the
  // descriptors come back.
  void release(BufferState& st, uint32_t len, UsedBuffer& out) {
    out = {st.token, len};
    free_table(st);
    num_free_ += st.count;
    st.in_flight = false;
    ++stats_.used;
  }

  // IN_ORDER: ids (packed) / heads (split) in the order they were made
  // available.
  void push_in_order(uint16_t id) {
    uint32_t at = in_order_head_ + in_order_count_;
    if (at >= layout_.num) at -= layout_.num;
    in_order_fifo_[at] = id;
    ++in_order_count_;
  }

  // P8: one used entry stands for every buffer up to `last_id`; it reports
  // `len` for that buffer. Hands back the batch's first buffer.
  bool start_in_order_batch(uint16_t last_id, uint32_t len, UsedBuffer& out) {
    batch_active_ = true;
    batch_last_id_ = last_id;
    batch_last_len_ = len;
    return detach_in_order(out);
  }

  // Hand back the oldest buffer of the current in-order batch. Skipped
  // buffers "are assumed to have been used (read or written) by the device
  // completely": they report their full writable length (as Linux does).
  bool detach_in_order(UsedBuffer& out) {
    const uint16_t id = in_order_fifo_[in_order_head_];
    if (++in_order_head_ == layout_.num) in_order_head_ = 0;
    --in_order_count_;
    const bool last = id == batch_last_id_;
    if (last) batch_active_ = false;
    derived().detach(id, last ? batch_last_len_ : state_[id].writable_len, out);
    return true;
  }

  // reinit(), the shared part: every descriptor free, nothing in flight or
  // batched, the queue healthy.
  void reset_bookkeeping() {
    free_head_ = 0;
    num_free_ = layout_.num;
    in_order_head_ = in_order_count_ = 0;
    batch_active_ = false;
    this->mark_healthy();
  }

  // A fatal error: the device returned something impossible; the queue is
  // broken and refuses all further work.
  RingError fail(RingError e) { return this->mark_broken(e); }

  using Side::mem_, Side::layout_, Side::features_, Side::opts_, Side::broken_, Side::stats_;
  std::vector<BufferState> state_;  // by buffer id (packed) / head (split)
  uint16_t free_head_ = 0;
  uint32_t num_free_ = 0;           // free descriptors (ring slots)
  // IN_ORDER: ids in the order they were made available, and the batch the
  // device's last used entry closes.
  std::vector<uint16_t> in_order_fifo_;
  uint32_t in_order_head_ = 0, in_order_count_ = 0;
  bool batch_active_ = false;
  uint16_t batch_last_id_ = 0;
  uint32_t batch_last_len_ = 0;

 private:
  Derived& derived() { return static_cast<Derived&>(*this); }

  bool use_indirect(uint32_t total) const {
    return opts_.indirect_pool && features_.indirect_desc() && opts_.indirect_threshold > 0 &&
           total >= opts_.indirect_threshold;
  }

  void free_table(BufferState& st) {
    if (st.indirect_table) opts_.indirect_pool->free(st.indirect_table);
  }
};

}  // namespace virtiosim::ring
