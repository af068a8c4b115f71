// Split virtqueue, driver side (virtio 1.2 "Split Virtqueues",
// split-ring.tex; Linux drivers/virtio/virtio_ring.c *_split is the
// reference implementation). Same API as PackedDriver, so a caller swaps
// layouts by type.
//
// Nothing the device wrote is trusted: the free list lives in a
// driver-private shadow of the descriptors' `next` fields (Linux
// desc_extra[].next), the used id must name a buffer in flight, and the used
// index may not move past what is in flight. A violation breaks the queue.
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

namespace virtiosim::ring {

// A buffer in flight, by head descriptor index (Linux vring_desc_state_split).
struct DescStateSplit {
  uint64_t token = 0;
  uint64_t indirect_table = 0;  // 0: direct descriptors
  uint32_t writable_len = 0;    // reported for in-order buffers the device skipped
  uint16_t avail_idx = 0;       // avail idx the buffer was exposed at (in-order batch math)
  uint16_t count = 0;           // descriptors the buffer took
  uint16_t last = 0;            // its last descriptor, to splice the chain back
  bool in_flight = false;
};

template <MemoryPolicy Mem = NativeMemory>
class SplitDriver : public DriverBase<SplitDriver<Mem>, SplitLayout, Mem, DescStateSplit> {
  using Base = DriverBase<SplitDriver<Mem>, SplitLayout, Mem, DescStateSplit>;
  friend Base;
  using Base::mem_, Base::layout_, Base::features_, Base::opts_, Base::state_, Base::free_head_, Base::num_free_,
      Base::batch_active_, Base::broken_, Base::stats_;
  using Base::fail;

 public:
  // Zeroes the descriptor table, the available ring and the used ring: a
  // fresh queue ("The driver MUST initialize flags in the used ring to 0").
  SplitDriver(Mem mem, SplitLayout layout, Features features, DriverOptions opts = {})
      : Base(mem, layout, features, opts) {
    desc_next_.resize(layout_.num);
    reinit();
  }

  // Make a buffer of `out` (device-readable) then `in` (device-writable)
  // segments available (P6.3). `token` comes back from get_used.
  [[nodiscard]] RingError add(std::span<const Segment> out, std::span<const Segment> in,
                              uint64_t token) {
    const uint32_t total = static_cast<uint32_t>(out.size() + in.size());
    if (RingError e = this->check_add(total); e != RingError::ok) return e;
    // "A driver MUST NOT create a descriptor chain longer than the Queue
    // Size of the device" holds for indirect tables too (DPDK's split
    // device refuses longer tables), so such a buffer never fits.
    if (total > layout_.num) return RingError::no_space;
    uint64_t table;
    uint32_t need;
    if (RingError e = this->reserve(total, table, need); e != RingError::ok) return e;

    const uint32_t writable_len = this->bytes_of(in);

    const uint16_t head = free_head_;
    uint16_t i = head, last = head;
    if (table) {
      write_indirect_table(table, out, in);
      write_desc(i, table, total * 16, kDescIndirect, desc_next_[i]);
      last = i;
      i = desc_next_[i];
      ++stats_.indirect;
    } else {
      uint32_t k = 0;
      auto put = [&](const Segment& s, uint16_t write) {
        const uint16_t flags = static_cast<uint16_t>((k + 1 < total ? kDescNext : 0) | write);
        write_desc(i, s.addr, s.len, flags, desc_next_[i]);
        last = i;
        i = desc_next_[i];
        ++k;
      };
      for (const Segment& s : out) put(s, 0);
      for (const Segment& s : in) put(s, kDescWrite);
    }
    // In order the descriptors come off the front of a ring-ordered list
    // (desc_next_[x] = x + 1 mod num), so `i` is also where the next buffer
    // starts; out of order `i` is the rest of the free list.
    free_head_ = i;
    num_free_ -= need;

    DescStateSplit& st = state_[head];
    st = {token, table, writable_len, avail_idx_shadow_, static_cast<uint16_t>(need), last, true};
    if (features_.in_order()) this->push_in_order(head);

    // Ring entry, then (P13) a write barrier, then the index that exposes it.
    mem_.write16(layout_.avail_ring_addr(avail_idx_shadow_ & (layout_.num - 1)), head);
    mem_.barrier(BarrierSite::driver_publish);
    ++avail_idx_shadow_;
    mem_.write16(layout_.avail_idx_addr(), avail_idx_shadow_);
    ++num_added_;
    ++stats_.added;
    return RingError::ok;
  }

  // After one or more add(): should the device be notified? A full barrier
  // first, so the index is visible before the device's wish is read (virtio
  // 1.2 "Notifying The Device"); then avail_event with EVENT_IDX, else the
  // used ring's NO_NOTIFY flag (Linux virtqueue_kick_prepare_split). Linux
  // does all of it even with nothing added (try_fill_recv kicks after a
  // refill that added nothing), and so does this: the simulated Linux
  // driver must issue what Linux issues.
  bool kick_prepare() {
    if (broken_) return false;
    mem_.barrier(BarrierSite::driver_kick_check);
    const uint32_t added = num_added_;
    num_added_ = 0;
    bool needed;
    if (features_.event_idx()) {
      const uint16_t event = mem_.read16(layout_.avail_event_addr());
      // 2^16 additions cover every possible event index.
      needed = added > 0xffff ||
               need_event(event, avail_idx_shadow_, static_cast<uint16_t>(avail_idx_shadow_ - added));
    } else {
      needed = !(mem_.read16(layout_.used_flags_addr()) & VRING_USED_F_NO_NOTIFY);
    }
    return this->count_kick(needed);
  }

  // The doorbell value with VIRTIO_F_NOTIFICATION_DATA. virtio 1.2 "Driver
  // Notifications": without VIRTIO_F_RING_PACKED next_off is the 15 low
  // bits of the available index and next_wrap its top bit, i.e. the whole
  // 16-bit avail idx sits in bits 16..31.
  uint32_t notification_data(uint16_t vqn) const {
    return uint32_t{vqn} | uint32_t{avail_idx_shadow_} << 16;
  }

  // Is a used buffer waiting? (busy-poll peek, Linux virtqueue_poll) With
  // DriverOptions::cache_used_idx a valid used idx is kept for the get_used
  // calls that follow, as get_used keeps it; a bad one never is, and the
  // get_used that follows reports it.
  bool has_used() {
    if (broken_) return false;
    if (batch_active_ || used_idx_ != last_used_idx_) return true;
    const uint16_t used_idx = mem_.read16(layout_.used_idx_addr());
    const uint16_t fresh = static_cast<uint16_t>(used_idx - last_used_idx_);
    if (fresh == 0) return false;
    if (opts_.cache_used_idx && fresh <= in_flight()) {
      used_idx_ = used_idx;
      mem_.barrier(BarrierSite::driver_used_read);  // P13: used idx before id/len
    }
    return true;
  }

  // Take the next used buffer if there is one. value: false when none is
  // used yet. A used id that is not in flight, or a used index that moved
  // past what is in flight, breaks the queue.
  //
  // The used idx is read on every call, as Linux does, or with
  // DriverOptions::cache_used_idx only when the entries it announced last
  // time are all taken; the barrier after a read orders every entry it
  // announced.
  [[nodiscard]] Result<bool> get_used(UsedBuffer& out) {
    if (broken_) return {RingError::queue_broken};
    if (batch_active_) return {RingError::ok, this->detach_in_order(out)};
    if (!opts_.cache_used_idx || used_idx_ == last_used_idx_) {
      const uint16_t used_idx = mem_.read16(layout_.used_idx_addr());
      const uint16_t fresh = static_cast<uint16_t>(used_idx - last_used_idx_);
      if (fresh == 0) return {RingError::ok, false};
      if (fresh > in_flight()) return {fail(RingError::used_idx_jump)};
      used_idx_ = used_idx;
      mem_.barrier(BarrierSite::driver_used_read);  // P13: used idx before id/len
    }
    const uint16_t pending = static_cast<uint16_t>(used_idx_ - last_used_idx_);
    const uint32_t slot = last_used_idx_ & (layout_.num - 1);
    const uint32_t id = mem_.read32(layout_.used_elem_id_addr(slot));
    const uint32_t len = mem_.read32(layout_.used_elem_len_addr(slot));
    if (id >= layout_.num || !state_[id].in_flight) return {fail(RingError::bad_used_id)};
    if (features_.in_order()) {
      // virtio 1.2 "In-order use of descriptors": one used entry, at the
      // offset of the batch's first buffer, carries the head of the batch's
      // LAST buffer; used idx moved by the number of buffers. The batch is
      // every buffer in flight up to that head, and it cannot reach past
      // what the used idx says is used.
      const uint16_t position = static_cast<uint16_t>(state_[id].avail_idx - last_used_idx_);
      if (position >= pending) return {fail(RingError::bad_used_id)};
      return {RingError::ok, this->start_in_order_batch(static_cast<uint16_t>(id), len, out)};
    }
    detach(static_cast<uint16_t>(id), len, out);
    return {RingError::ok, true};
  }

  // Ask the device not to signal used buffers. Without EVENT_IDX: the
  // NO_INTERRUPT flag. With it the flags must stay 0 (virtio 1.2 "Used
  // Buffer Notification Suppression"), so used_event is moved behind the
  // driver: Linux writes 0 there, which still asks for a signal when the
  // used idx crosses 0; one behind last_used_idx is ~2^16 buffers away.
  void disable_cb() {
    if (broken_ || no_interrupt_shadow_) return;
    no_interrupt_shadow_ = true;
    if (features_.event_idx())
      mem_.write16(layout_.used_event_addr(), static_cast<uint16_t>(last_used_idx_ - 1));
    else
      mem_.write16(layout_.avail_flags_addr(), VRING_AVAIL_F_NO_INTERRUPT);
  }

  // Ask for a signal on the next used buffer; returns true if used buffers
  // are already pending, which the caller must poll for: a buffer used
  // before the device saw the enable would otherwise never be signalled
  // (Linux virtqueue_enable_cb_prepare_split + virtqueue_poll_split).
  [[nodiscard]] bool enable_cb() {
    if (broken_) return false;
    arm(last_used_idx_);
    return pending_after_arm(0);
  }

  // As enable_cb(), but with EVENT_IDX the event is set after about 3/4 of
  // the outstanding buffers (Linux virtqueue_enable_cb_delayed_split).
  // Returns true if more than that many are already used.
  [[nodiscard]] bool enable_cb_delayed() {
    if (broken_) return false;
    const uint16_t bufs = static_cast<uint16_t>(in_flight() * 3 / 4);
    arm(static_cast<uint16_t>(last_used_idx_ + bufs));
    return pending_after_arm(bufs);
  }

  uint16_t avail_idx_shadow() const { return avail_idx_shadow_; }
  uint16_t last_used_idx() const { return last_used_idx_; }

 private:
  void reinit() {
    const uint32_t num = layout_.num;
    zero(layout_.desc, SplitLayout::desc_bytes(num));
    zero(layout_.avail, SplitLayout::avail_bytes(num));
    zero(layout_.used, SplitLayout::used_bytes(num));
    // Ring order: in order this is the allocation order the spec requires
    // ("next ... 0 for the last descriptor in the table and x + 1 for the
    // rest"); out of order it is simply the initial free list.
    for (uint32_t i = 0; i < num; ++i) {
      desc_next_[i] = static_cast<uint16_t>((i + 1) & (num - 1));
      state_[i] = {};
    }
    this->reset_bookkeeping();
    avail_idx_shadow_ = last_used_idx_ = used_idx_ = 0;
    num_added_ = 0;
    no_interrupt_shadow_ = false;
  }

  void zero(uint64_t gpa, uint64_t n) {
    const std::vector<uint8_t> z(n, 0);
    mem_.write_bytes(gpa, z.data(), n);
  }

  uint16_t in_flight() const { return static_cast<uint16_t>(avail_idx_shadow_ - last_used_idx_); }

  void write_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
    const uint64_t d = layout_.desc_addr(i);
    mem_.write64(d + split_off::addr, addr);
    mem_.write32(d + split_off::len, len);
    mem_.write16(d + split_off::flags, flags);
    mem_.write16(d + split_off::next, next);
  }

  // An indirect table is chained by `next` like the descriptor table;
  // entries are sequential (index k links to k + 1), which is also what
  // IN_ORDER requires ("next taking the value of 1 for the 1st descriptor,
  // 2 for the 2nd one, etc.").
  void write_indirect_table(uint64_t table, std::span<const Segment> out,
                            std::span<const Segment> in) {
    const uint32_t total = static_cast<uint32_t>(out.size() + in.size());
    uint32_t k = 0;
    auto put = [&](const Segment& s, uint16_t write) {
      const bool more = k + 1 < total;
      vring_desc d{le::from_host(s.addr), le::from_host(s.len),
                   le::from_host(static_cast<uint16_t>((more ? kDescNext : 0) | write)),
                   le::from_host(static_cast<uint16_t>(more ? k + 1 : 0))};
      mem_.write_bytes(table + uint64_t{k} * 16, &d, sizeof d);
      ++k;
    };
    for (const Segment& s : out) put(s, 0);
    for (const Segment& s : in) put(s, kDescWrite);
  }

  // One buffer back: its chain onto the free list, the used idx one on.
  void detach(uint16_t head, uint32_t len, UsedBuffer& out) {
    DescStateSplit& st = state_[head];
    this->release(st, len, out);
    // Out of order the chain goes back on the front of the free list; in
    // order the descriptors free up in ring order behind the ones in use,
    // so the ring-ordered links stay as they are.
    if (!features_.in_order()) {
      desc_next_[st.last] = free_head_;
      free_head_ = head;
    }
    ++last_used_idx_;
    // With EVENT_IDX and callbacks on, ask for a signal on the next used
    // buffer, with a full barrier so the next get_used reads used idx after
    // the device can see the event (Linux virtio_store_mb on used_event).
    if (features_.event_idx() && !no_interrupt_shadow_) {
      mem_.write16(layout_.used_event_addr(), last_used_idx_);
      mem_.barrier(BarrierSite::driver_enable_recheck);
    }
  }

  // Callbacks on: clear NO_INTERRUPT (without EVENT_IDX) and, with it, set
  // used_event to `event`; then a full barrier before the caller re-checks.
  void arm(uint16_t event) {
    if (no_interrupt_shadow_) {
      no_interrupt_shadow_ = false;
      if (!features_.event_idx()) mem_.write16(layout_.avail_flags_addr(), 0);
    }
    if (features_.event_idx()) mem_.write16(layout_.used_event_addr(), event);
    mem_.barrier(BarrierSite::driver_enable_recheck);
  }

  bool pending_after_arm(uint16_t bufs) {
    if (batch_active_) return true;
    const uint16_t used_idx = mem_.read16(layout_.used_idx_addr());
    return static_cast<uint16_t>(used_idx - last_used_idx_) > bufs;
  }

  std::vector<uint16_t> desc_next_; // driver-private `next` of every descriptor: the free list
  uint16_t avail_idx_shadow_ = 0;   // Linux split.avail_idx_shadow: what avail->idx holds
  uint16_t last_used_idx_ = 0;      // next used ring entry to read, free-running
  uint16_t used_idx_ = 0;           // used idx as last read: entries up to it are announced
  uint32_t num_added_ = 0;          // buffers made available since kick_prepare
  bool no_interrupt_shadow_ = false;// Linux avail_flags_shadow & VRING_AVAIL_F_NO_INTERRUPT
};

}  // namespace virtiosim::ring
