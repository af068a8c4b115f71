// Split virtqueue, device side: what a vhost worker does with a split ring
// (virtio 1.2 "Split Virtqueues", split-ring.tex; Linux drivers/vhost/vhost.c
// vhost_get_vq_desc / vhost_add_used_n / vhost_notify and DPDK lib/vhost are
// the reference implementations). Same API as PackedDevice.
//
// Everything the driver wrote is untrusted: the avail idx, every head and
// `next` index, every indirect table. Each rule a device can check is
// checked, with a typed error; after a fatal one the queue is broken
// (NEEDS_RESET): it refuses all further work and touches no memory.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "models/ring/chain.h"
#include "models/ring/device_base.h"
#include "models/ring/errors.h"
#include "models/ring/event_idx.h"
#include "models/ring/features.h"
#include "models/ring/layout.h"
#include "models/ring/memory_policy.h"
#include "models/ring/native_memory.h"
#include "models/ring/ring_state.h"

namespace virtiosim::ring {

template <MemoryPolicy Mem = NativeMemory>
class SplitDevice : public DeviceBase<SplitDevice<Mem>, SplitLayout, Mem> {
  using Base = DeviceBase<SplitDevice<Mem>, SplitLayout, Mem>;
  friend Base;
  using Base::mem_, Base::layout_, Base::features_, Base::shadow_, Base::used_since_signal_,
      Base::broken_, Base::stats_;
  using Base::add_segment, Base::fail;

 public:
  SplitDevice(Mem mem, SplitLayout layout, Features features, DeviceOptions opts = {})
      : Base(mem, layout, features, opts) {
    visited_.assign(layout_.num, 0);
    if (features_.in_order()) writable_bytes_.assign(layout_.num, 0);
  }

  // Is a buffer available at last_avail_idx? (busy-poll peek, Linux
  // vhost_vq_avail_empty; a bad avail idx is reported by the pop that
  // follows)
  bool has_available() {
    if (broken_) return false;
    if (avail_idx_ != last_avail_idx_) return true;
    return check_avail_idx(mem_.read16(layout_.avail_idx_addr()));
  }

  // Take the next available buffer into `out`. value: false if none.
  [[nodiscard]] Result<bool> pop(Chain& out) {
    if (broken_) return {RingError::queue_broken};
    if (avail_idx_ == last_avail_idx_) {
      // Re-read the index only when the cached one is used up (vhost's
      // vq->avail_idx), so a burst costs one index read and one barrier.
      const uint16_t idx = mem_.read16(layout_.avail_idx_addr());
      if (RingError e = avail_idx_error(idx); e != RingError::ok) return {fail(e)};
      if (idx == last_avail_idx_) return {RingError::ok, false};
      avail_idx_ = idx;
      mem_.barrier(BarrierSite::device_avail_read);  // avail idx before ring entries and descriptors
    }
    const uint16_t head =
        mem_.read16(layout_.avail_ring_addr(last_avail_idx_ & (layout_.num - 1)));
    if (head >= layout_.num) return {fail(RingError::head_out_of_range)};

    out.clear();
    out.id = head;
    out.count = 1;  // split: one avail ring entry per buffer, whatever its length
    const uint32_t gen = next_generation();
    uint16_t i = head;
    for (;;) {
      // A revisited descriptor is a loop; found on the first repeat, so a
      // two-descriptor loop is not mistaken for a too-long chain.
      if (visited_[i] == gen) return {fail(RingError::chain_loop)};
      visited_[i] = gen;
      vring_desc d;
      mem_.read_bytes(layout_.desc_addr(i), &d, sizeof d);
      const uint16_t flags = le::to_host(d.flags);
      if (flags & kDescIndirect) {
        // "The device MUST handle the case of zero or more normal chained
        // descriptors followed by a single descriptor with INDIRECT": the
        // table ends the chain, so INDIRECT together with NEXT is refused.
        if (!features_.indirect_desc()) return {fail(RingError::indirect_not_negotiated)};
        if (flags & kDescNext) return {fail(RingError::indirect_with_next)};
        if (RingError e = read_indirect(le::to_host(d.addr), le::to_host(d.len), out);
            e != RingError::ok)
          return {fail(e)};
        break;
      }
      if (RingError e = add_segment(out, le::to_host(d.addr), le::to_host(d.len), flags & kDescWrite);
          e != RingError::ok)
        return {fail(e)};
      if (!(flags & kDescNext)) break;
      i = le::to_host(d.next);
      if (i >= layout_.num) return {fail(RingError::next_out_of_range)};
    }
    if (features_.in_order()) writable_bytes_[head] = out.writable_bytes;
    ++last_avail_idx_;
    ++stats_.popped;
    return {RingError::ok, true};
  }

  // pop_burst(): a split ring has no group path. Its heads sit in the avail
  // ring and their descriptors anywhere in the table, so nothing is shared
  // between buffers beyond what pop() already shares: one avail idx read
  // and one barrier for every buffer that idx announced.
  uint32_t pop_group(std::span<Chain>) { return 0; }

  // After flush(): does the driver want a used-buffer notification? A full
  // barrier between the used idx write and reading the driver's wish, then
  // used_event with EVENT_IDX (vhost_notify: window (signalled_used, used
  // idx]), else the NO_INTERRUPT flag. False, with neither barrier nor
  // read, when nothing was published since the last call.
  bool should_signal() {
    if (broken_) return false;
    if (this->take_used_since_signal() == 0) return false;
    mem_.barrier(BarrierSite::device_signal_check);
    bool needed;
    if (features_.event_idx()) {
      const uint16_t old = signalled_used_;
      const bool valid = signalled_used_valid_;
      signalled_used_ = last_used_idx_;
      signalled_used_valid_ = true;
      const uint16_t event = mem_.read16(layout_.used_event_addr());
      needed = !valid || need_event(event, last_used_idx_, old);
    } else {
      needed = !(mem_.read16(layout_.avail_flags_addr()) & VRING_AVAIL_F_NO_INTERRUPT);
    }
    return this->count_signal(needed);
  }

  // Ask the driver not to notify available buffers. Without EVENT_IDX: the
  // NO_NOTIFY flag. With it the flags must stay 0, and, as vhost does,
  // nothing is written: avail_event keeps naming the entry asked for when
  // notifications were last enabled, so at most that one notification comes.
  void disable_notifications() {
    if (broken_ || no_notify_) return;
    no_notify_ = true;
    if (!features_.event_idx()) write_used_flags(VRING_USED_F_NO_NOTIFY);
  }

  // Ask for a notification on the next available buffer; returns true if one
  // is already available, which the caller must process: it may have been
  // published before the driver could see the enable (vhost_enable_notify).
  [[nodiscard]] bool enable_notifications() {
    if (broken_) return false;
    no_notify_ = false;
    if (features_.event_idx()) mem_.write16(layout_.avail_event_addr(), last_avail_idx_);
    else write_used_flags(0);
    mem_.barrier(BarrierSite::device_enable_recheck);
    return check_avail_idx(mem_.read16(layout_.avail_idx_addr()));
  }

  // GET_VRING_BASE: where the device stands. Flush first: shadow entries are
  // not part of the state. Split rings have no wrap counters; they read true.
  RingState state() const { return {last_avail_idx_, true, last_used_idx_, true}; }

  // SET_VRING_BASE: continue from a saved state. Only last_avail_idx is
  // taken from it (a split vring base carries nothing else, see
  // encode_vring_base_split); the used idx is read back from the used ring,
  // as Linux vhost_vq_init_access does, so a state saved before the last
  // flush cannot rewind what the driver has already seen. (DPDK instead
  // resets both indices to used->idx when they disagree.) More buffers in
  // flight than the queue holds is bad_ring_state.
  [[nodiscard]] RingError set_state(const RingState& s) {
    const uint16_t used_idx = mem_.read16(layout_.used_idx_addr());
    if (static_cast<uint16_t>(s.last_avail_idx - used_idx) > layout_.num)
      return RingError::bad_ring_state;
    this->reset();
    last_avail_idx_ = avail_idx_ = s.last_avail_idx;
    last_used_idx_ = used_idx;
    return RingError::ok;
  }

  uint16_t last_avail_idx() const { return last_avail_idx_; }
  uint16_t last_used_idx() const { return last_used_idx_; }
  uint16_t signalled_used() const { return signalled_used_; }

 private:
  // What is wrong with an avail idx the driver published, if anything.
  RingError avail_idx_error(uint16_t idx) const {
    if (static_cast<uint16_t>(idx - last_avail_idx_) > layout_.num) return RingError::avail_idx_jump;
    // Buffers popped and not yet published as used are the device's: a
    // driver cannot have more than the queue size in flight (QEMU:
    // "Virtqueue size exceeded"). Checked against the used idx too, or the
    // device would pop a head it still holds and its used ring would
    // overrun what the driver has read.
    if (static_cast<uint16_t>(idx - last_used_idx_) > layout_.num) return RingError::queue_size_exceeded;
    return RingError::ok;
  }

  // An emptiness check (has_available, enable_notifications) read `idx`:
  // does it show buffers? A valid one is kept for the pops that follow, as
  // vhost keeps vq->avail_idx, so they read neither the index nor pass a
  // barrier again; the entries they read must then be ordered after this
  // read here (Linux "vhost: Add smp_rmb() in vhost_vq_avail_empty()" and
  // "... in vhost_enable_notify()", 2024: without it arm64 read stale ring
  // entries; fault.replay=missing_avail_rmb). A bad one is not kept: the
  // pop re-reads it and fails.
  bool check_avail_idx(uint16_t idx) {
    if (idx == last_avail_idx_) return false;
    if (avail_idx_error(idx) != RingError::ok) return true;
    avail_idx_ = idx;
    mem_.barrier(BarrierSite::device_avail_check);
    return true;
  }

  // flush(): the used elements, a write barrier, then the used idx, once
  // for the whole batch ("The device MUST set len prior to updating the
  // used idx"; vhost_add_used_n). Returns the used ring entries written.
  //
  // IN_ORDER (virtio 1.2 "In-order use of descriptors"): the device "writes
  // out a single used ring entry with the id corresponding to the head entry
  // of the descriptor chain describing the last buffer in the batch", at the
  // offset of the batch's first buffer, and "increments the used idx by the
  // size of the batch". Since "the skipped buffers ... are assumed to have
  // been used ... completely", a buffer whose len is short of its writable
  // bytes cannot be skipped: it closes a batch with an entry of its own.
  size_t write_used_batch() {
    const uint32_t mask = layout_.num - 1;
    uint32_t written = 0;
    if (features_.in_order()) {
      uint16_t batch_start = last_used_idx_;
      const uint32_t n = shadow_.size();
      for (uint32_t k = 0; k < n; ++k) {
        const UsedElem& e = shadow_[k];
        const bool complete = e.id < layout_.num && e.len == writable_bytes_[e.id];
        if (k + 1 == n || !complete) {
          write_used_elem(batch_start & mask, e);
          ++written;
          batch_start = static_cast<uint16_t>(last_used_idx_ + k + 1);
        }
      }
    } else {
      uint32_t slot = last_used_idx_;
      for (const UsedElem& e : shadow_) write_used_elem(slot++ & mask, e);
      written = static_cast<uint32_t>(shadow_.size());
    }
    mem_.barrier(BarrierSite::device_used_publish);
    const uint16_t old = last_used_idx_;
    const uint16_t now = static_cast<uint16_t>(old + shadow_.size());
    mem_.write16(layout_.used_idx_addr(), now);
    last_used_idx_ = now;
    // vhost_add_used_n: if the used idx ran past signalled_used (the driver
    // went 2^16 buffers without a signal check) the window math no longer
    // holds; the next should_signal then signals unconditionally.
    if (static_cast<uint16_t>(now - signalled_used_) < static_cast<uint16_t>(now - old))
      signalled_used_valid_ = false;
    used_since_signal_ += static_cast<uint32_t>(shadow_.size());
    return written;
  }

  // discard(): the avail ring entry of the most recent pop becomes the next
  // one pop() takes; the signal window (signalled_used) is untouched.
  bool rewind_avail(const Chain&) {
    --last_avail_idx_;  // free-running: wraps at 2^16 with avail idx
    return true;
  }

  // reset(): a fresh ring's indices and notification state.
  void reset_ring() {
    last_avail_idx_ = avail_idx_ = last_used_idx_ = 0;
    signalled_used_ = 0;
    signalled_used_valid_ = false;
    used_flags_shadow_ = kUsedFlagsUnknown;
    no_notify_ = false;
  }

  // used->flags as last written; unknown after a reset or restore, so the
  // next write is never skipped.
  static constexpr uint32_t kUsedFlagsUnknown = 0xffffffff;

  // A fresh stamp for the visited_ marks; the marks are cleared only when
  // the 32-bit stamp wraps, so a pop costs nothing per queue entry.
  uint32_t next_generation() {
    if (++generation_ == 0) {
      std::fill(visited_.begin(), visited_.end(), 0);
      generation_ = 1;
    }
    return generation_;
  }

  // An indirect table: len/16 descriptors chained by `next` from index 0
  // ("additional indirect descriptors are chained by next"); NEXT links are
  // allowed here, unlike packed, and get the same range and loop checks.
  // No nested INDIRECT. A table longer than the queue is refused, as DPDK
  // does: "A driver MUST NOT create a descriptor chain longer than the Queue
  // Size of the device".
  RingError read_indirect(uint64_t table, uint32_t len, Chain& c) {
    if (RingError e = this->check_indirect_table(table, len); e != RingError::ok) return e;
    const uint32_t entries = len / 16;
    if (entries > layout_.num) return RingError::chain_too_long;
    c.indirect = true;
    const uint32_t gen = next_generation();
    uint32_t j = 0;
    for (;;) {
      if (visited_[j] == gen) return RingError::chain_loop;
      visited_[j] = gen;
      vring_desc d;
      mem_.read_bytes(table + uint64_t{j} * 16, &d, sizeof d);
      const uint16_t f = le::to_host(d.flags);
      if (f & kDescIndirect) return RingError::indirect_nested;
      if (RingError e = add_segment(c, le::to_host(d.addr), le::to_host(d.len), f & kDescWrite);
          e != RingError::ok)
        return e;
      if (!(f & kDescNext)) return RingError::ok;
      j = le::to_host(d.next);
      if (j >= entries) return RingError::next_out_of_range;
    }
  }

  void write_used_elem(uint32_t slot, const UsedElem& e) {
    mem_.write32(layout_.used_elem_id_addr(slot), e.id);
    mem_.write32(layout_.used_elem_len_addr(slot), e.len);
  }

  void write_used_flags(uint16_t flags) {
    if (used_flags_shadow_ == flags) return;
    used_flags_shadow_ = flags;
    mem_.write16(layout_.used_flags_addr(), flags);
  }

  uint16_t last_avail_idx_ = 0;      // next avail ring entry to take, free-running
  uint16_t avail_idx_ = 0;           // avail idx as last read (vhost vq->avail_idx)
  uint16_t last_used_idx_ = 0;       // used idx as last written
  uint16_t signalled_used_ = 0;      // used idx at the last should_signal (vhost)
  bool signalled_used_valid_ = false;
  uint32_t used_flags_shadow_ = 0;   // the driver zeroes used->flags
  bool no_notify_ = false;
  std::vector<uint32_t> visited_;    // loop detection stamps, by descriptor index
  uint32_t generation_ = 0;
  std::vector<uint64_t> writable_bytes_;  // IN_ORDER: by head, to tell a complete use
};

}  // namespace virtiosim::ring
