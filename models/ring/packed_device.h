// Packed virtqueue, device side: what a vhost worker does with a ring
// (virtio 1.2 "Packed Virtqueues"; DPDK lib/vhost and QEMU hw/virtio are
// the reference implementations).
//
// Everything the driver wrote is untrusted. Every rule a device can check is
// checked, with a typed error; after a fatal one the queue is broken
// (NEEDS_RESET): it refuses all further work and touches no memory.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "models/ring/chain.h"
#include "models/ring/device_base.h"
#include "models/ring/errors.h"
#include "models/ring/event_idx.h"
#include "models/ring/features.h"
#include "models/ring/layout.h"
#include "models/ring/memory_policy.h"
#include "models/ring/native_memory.h"
#include "models/ring/packed_flags.h"
#include "models/ring/ring_state.h"

namespace virtiosim::ring {

template <MemoryPolicy Mem = NativeMemory>
class PackedDevice : public DeviceBase<PackedDevice<Mem>, PackedLayout, Mem> {
  using Base = DeviceBase<PackedDevice<Mem>, PackedLayout, Mem>;
  friend Base;
  using Base::mem_, Base::layout_, Base::features_, Base::shadow_, Base::used_since_signal_,
      Base::broken_, Base::stats_;
  using Base::add_segment, Base::fail;

 public:
  PackedDevice(Mem mem, PackedLayout layout, Features features, DeviceOptions opts = {})
      : Base(mem, layout, features, opts) {}

  // Is a buffer available at last_avail_idx? (busy-poll peek)
  bool has_available() {
    if (broken_) return false;
    return packed_desc_is_avail(read_flags(last_avail_idx_), avail_wrap_counter_);
  }

  // Take the next available buffer into `out`. value: false if none.
  [[nodiscard]] Result<bool> pop(Chain& out) {
    if (broken_) return {RingError::queue_broken};
    uint16_t slot = last_avail_idx_;
    bool wrap = avail_wrap_counter_;
    uint16_t flags = read_flags(slot);
    if (!packed_desc_is_avail(flags, wrap)) return {RingError::ok, false};
    mem_.barrier(BarrierSite::device_avail_read);  // P13: flags before the bodies

    // P3: the slots popped and not yet marked used are the device's; the
    // driver has no free slot to make available past them (QEMU refuses
    // this as "Virtqueue size exceeded"). Without this check the device
    // would take a slot it owns a second time and its used index would lap
    // its avail index.
    const uint32_t in_flight = slots_in_flight();
    if (in_flight >= layout_.num) return {fail(RingError::queue_size_exceeded)};
    out.clear();
    uint32_t count = 0;
    for (;;) {
      const uint64_t d = layout_.desc_addr(slot);
      const uint64_t addr = mem_.read64(d + packed_off::addr);
      const uint32_t len = mem_.read32(d + packed_off::len);
      out.id = mem_.read16(d + packed_off::id);  // the last descriptor's id counts (P6.1)
      if (flags & kDescIndirect) {
        if (RingError e = read_indirect(addr, len, flags, count, out); e != RingError::ok)
          return {fail(e)};
      } else if (RingError e = add_segment(out, addr, len, flags & kDescWrite); e != RingError::ok) {
        return {fail(e)};
      }
      ++count;
      if (++slot >= layout_.num) slot = 0, wrap = !wrap;
      if (!(flags & kDescNext)) break;
      if (count >= layout_.num) return {fail(RingError::chain_too_long)};  // P6.4
      if (in_flight + count >= layout_.num) return {fail(RingError::queue_size_exceeded)};  // P3
      flags = read_flags(slot);
      if (!packed_desc_is_avail(flags, wrap)) return {fail(RingError::unavailable_in_chain)};  // P6.2
    }
    out.count = static_cast<uint16_t>(count);
    last_avail_idx_ = slot;
    avail_wrap_counter_ = wrap;
    ++stats_.popped;
    return {RingError::ok, true};
  }

  // pop_burst(): whole groups of kGroup one-descriptor buffers, as DPDK's
  // virtio_dev_tx_batch_packed takes them: kGroup descriptors fill one
  // 64-byte line, so their flags come in one line transfer, and one barrier
  // orders all their bodies. A group is taken only when every condition
  // holds up front: the group starts on a multiple of kGroup and does not
  // wrap, every flag says available for this lap without NEXT or INDIRECT,
  // the ring has room in flight, and every segment passes add_segment's
  // checks. Otherwise nothing is taken and pop() goes on one buffer at a
  // time, so it, not this path, reports any error, on the very buffer
  // where the single path would have. Returns how many were taken.
  uint32_t pop_group(std::span<Chain> out) {
    uint32_t taken = 0;
    while (out.size() - taken >= kGroup && take_group(out.subspan(taken, kGroup))) taken += kGroup;
    return taken;
  }

  // After flush(): does the driver want a used-buffer notification? Reads
  // the driver area after a full barrier (P10, P11).
  // False, with neither barrier nor read, when nothing was published since
  // the last call: a busy device that calls it after every flush pays for
  // the driver's line only when there is something to signal.
  bool should_signal() {
    if (broken_) return false;
    const uint32_t fresh = this->take_used_since_signal();
    if (fresh == 0) return false;
    mem_.barrier(BarrierSite::device_signal_check);
    const uint32_t snapshot = mem_.read32(layout_.driver_event);
    const uint16_t off_wrap = static_cast<uint16_t>(snapshot & 0xffff);
    const uint16_t flags = static_cast<uint16_t>((snapshot >> 16) & 0x3);
    bool needed;
    if (flags != kEventFlagDesc) {
      needed = flags != kEventFlagDisable;
    } else {
      // A window covering the whole ring contains any event offset.
      needed = fresh >= layout_.num ||
               packed_need_event(off_wrap, used_wrap_counter_, layout_.num, last_used_idx_,
                                 static_cast<uint16_t>(last_used_idx_ - fresh));
    }
    return this->count_signal(needed);
  }

  // Ask the driver not to notify available buffers (P10).
  void disable_notifications() { write_event_flags(kEventFlagDisable); }

  // Ask for a notification on the next available buffer; returns true if one
  // is already available, which the caller must process: it may have been
  // published before the driver could see the enable.
  [[nodiscard]] bool enable_notifications() {
    if (broken_) return false;
    if (features_.event_idx()) {
      mem_.write16(layout_.device_event_off_wrap_addr(), packed_off_wrap(last_avail_idx_, avail_wrap_counter_));
      mem_.barrier(BarrierSite::device_event_write);  // P11: off_wrap before flags
    }
    write_event_flags(features_.event_idx() ? kEventFlagDesc : kEventFlagEnable);
    mem_.barrier(BarrierSite::device_enable_recheck);
    return packed_desc_is_avail(read_flags(last_avail_idx_), avail_wrap_counter_);
  }

  // GET_VRING_BASE: where the device stands. Flush first: shadow entries
  // are not part of the state.
  RingState state() const {
    return {last_avail_idx_, avail_wrap_counter_, last_used_idx_, used_wrap_counter_};
  }

  // SET_VRING_BASE: continue from a saved state.
  [[nodiscard]] RingError set_state(const RingState& s) {
    if (s.last_avail_idx >= layout_.num || s.last_used_idx >= layout_.num)
      return RingError::bad_ring_state;
    this->reset();
    last_avail_idx_ = s.last_avail_idx;
    avail_wrap_counter_ = s.avail_wrap_counter;
    last_used_idx_ = s.last_used_idx;
    used_wrap_counter_ = s.used_wrap_counter;
    return RingError::ok;
  }

  uint16_t last_avail_idx() const { return last_avail_idx_; }
  bool avail_wrap_counter() const { return avail_wrap_counter_; }
  uint16_t last_used_idx() const { return last_used_idx_; }
  bool used_wrap_counter() const { return used_wrap_counter_; }

 private:
  // discard(): the chain's slots become the next ones pop() takes.
  bool rewind_avail(const Chain& c) {
    if (c.count > layout_.num) return false;
    if (last_avail_idx_ < c.count) {  // the chain wrapped the ring (P2)
      last_avail_idx_ = static_cast<uint16_t>(last_avail_idx_ + layout_.num - c.count);
      avail_wrap_counter_ = !avail_wrap_counter_;
    } else {
      last_avail_idx_ = static_cast<uint16_t>(last_avail_idx_ - c.count);
    }
    return true;
  }

  // flush(): ids and lens of the whole batch, a write barrier, then the
  // flags, the batch's first entry last so the driver sees the batch at
  // once (P13, as DPDK's vhost_flush_enqueue_shadow_packed). With IN_ORDER
  // one used descriptor, carrying the batch's last id, stands for the whole
  // batch (P8). Returns the used descriptors written.
  size_t write_used_batch() {
    uint16_t idx = last_used_idx_;
    bool wrap = used_wrap_counter_;
    auto flags_of = [](const UsedElem& e, bool w) {
      return static_cast<uint16_t>(packed_used_flags(w) | (e.writable ? kDescWrite : 0));
    };
    auto advance = [this](uint16_t& i, bool& w, uint32_t skip) {
      i = static_cast<uint16_t>(i + skip);  // P6.6: skip the list's length
      if (i >= layout_.num) i = static_cast<uint16_t>(i - layout_.num), w = !w;
    };
    auto write_body = [this](uint16_t i, const UsedElem& e) {
      mem_.write16(layout_.id_addr(i), e.id);
      mem_.write32(layout_.len_addr(i), e.len);
    };
    // Bodies of every used descriptor, the barrier, then the flags in a
    // second walk, the batch's first entry last.
    size_t descs = 0;
    for_each_used_desc([&](const UsedElem& e, uint32_t skip) {
      write_body(idx, e);
      advance(idx, wrap, skip);
      ++descs;
    });
    mem_.barrier(BarrierSite::device_used_publish);
    uint16_t i = last_used_idx_;
    bool w = used_wrap_counter_;
    uint16_t head_flags = 0;
    bool head = true;
    for_each_used_desc([&](const UsedElem& e, uint32_t skip) {
      if (head) head_flags = flags_of(e, w), head = false;
      else mem_.write16(layout_.flags_addr(i), flags_of(e, w));
      advance(i, w, skip);
    });
    mem_.write16(layout_.flags_addr(last_used_idx_), head_flags);

    used_since_signal_ += static_cast<uint32_t>(idx - last_used_idx_ + (wrap != used_wrap_counter_ ? layout_.num : 0));
    last_used_idx_ = idx;
    used_wrap_counter_ = wrap;
    return descs;
  }

  // reset(): a fresh ring's indices and wrap counters (P2).
  void reset_ring() {
    last_avail_idx_ = last_used_idx_ = 0;
    avail_wrap_counter_ = used_wrap_counter_ = true;
    event_flags_shadow_ = kEventFlagsUnknown;
  }

  // The used descriptors a flush writes, each with the ring slots it
  // covers: one per buffer; with IN_ORDER one per run of buffers (P8), a run
  // ending at the shadow's last buffer or at one not used completely, since
  // the driver takes every buffer a used descriptor skips as "used
  // completely" and only the last one's len reaches it.
  template <class Fn>
  void for_each_used_desc(Fn&& fn) const {
    const UsedElem* const end = shadow_.end();
    if (!features_.in_order()) {
      for (const UsedElem* e = shadow_.begin(); e != end; ++e) fn(*e, uint32_t{e->count});
      return;
    }
    uint32_t skip = 0;
    for (const UsedElem* e = shadow_.begin(); e != end; ++e) {
      skip += e->count;
      if (e + 1 == end || !e->complete) {
        fn(*e, skip);
        skip = 0;
      }
    }
  }

  // Slots between the used and the avail position: popped, completed or
  // not, and not yet marked used. Positions count two laps (the wrap
  // counter is the lap's parity); a compare instead of a modulo keeps a
  // division off every pop.
  uint32_t slots_in_flight() const {
    const uint32_t avail = last_avail_idx_ + (avail_wrap_counter_ ? 0 : layout_.num);
    const uint32_t used = last_used_idx_ + (used_wrap_counter_ ? 0 : layout_.num);
    return avail >= used ? avail - used : avail + 2 * layout_.num - used;
  }

  static constexpr uint32_t kGroup = 4;  // descriptors in one 64-byte line

  bool take_group(std::span<Chain> out) {
    const uint16_t slot = last_avail_idx_;
    if (broken_ || slot % kGroup != 0 || slot + kGroup > layout_.num) return false;
    // The group's last flags first: while the driver is not four buffers
    // ahead, one read says so.
    uint16_t flags[kGroup];
    for (uint32_t k = kGroup; k-- > 0;) {
      flags[k] = read_flags(static_cast<uint16_t>(slot + k));
      if (!packed_desc_is_avail(flags[k], avail_wrap_counter_) || (flags[k] & (kDescNext | kDescIndirect)))
        return false;
    }
    if (slots_in_flight() + kGroup > layout_.num) return false;
    mem_.barrier(BarrierSite::device_avail_read);  // P13: flags before the bodies
    for (uint32_t k = 0; k < kGroup; ++k) {
      const uint64_t d = layout_.desc_addr(slot + k);
      const uint64_t addr = mem_.read64(d + packed_off::addr);
      const uint32_t len = mem_.read32(d + packed_off::len);
      Chain& c = out[k];
      c.clear();
      c.id = mem_.read16(d + packed_off::id);
      c.count = 1;
      if (add_segment(c, addr, len, flags[k] & kDescWrite) != RingError::ok) return false;
    }
    last_avail_idx_ = static_cast<uint16_t>(slot + kGroup);
    if (last_avail_idx_ == layout_.num) last_avail_idx_ = 0, avail_wrap_counter_ = !avail_wrap_counter_;
    stats_.popped += kGroup;
    return true;
  }

  // The device area's flags as last written; unknown after a restore, so
  // the next write is never skipped.
  static constexpr uint16_t kEventFlagsUnknown = 0xffff;

  uint16_t read_flags(uint16_t slot) { return mem_.read16(layout_.flags_addr(slot)); }

  // P7: one indirect descriptor, alone, pointing at len/16 descriptors that
  // carry nothing but WRITE.
  RingError read_indirect(uint64_t table, uint32_t len, uint16_t flags, uint32_t count, Chain& c) {
    if (!features_.indirect_desc()) return RingError::indirect_not_negotiated;
    if ((flags & kDescNext) || count > 0) return RingError::indirect_with_next;
    if (RingError e = this->check_indirect_table(table, len); e != RingError::ok) return e;
    c.indirect = true;
    for (uint64_t at = table; at < table + len; at += 16) {
      vring_packed_desc d;
      mem_.read_bytes(at, &d, sizeof d);
      const uint16_t f = le::to_host(d.flags);
      if (f & kDescIndirect) return RingError::indirect_nested;
      if (f & kDescNext) return RingError::indirect_bad_flags;
      if (RingError e = add_segment(c, le::to_host(d.addr), le::to_host(d.len), f & kDescWrite);
          e != RingError::ok)
        return e;
    }
    return RingError::ok;
  }

  void write_event_flags(uint16_t flags) {
    if (broken_ || event_flags_shadow_ == flags) return;
    event_flags_shadow_ = flags;
    mem_.write16(layout_.device_event_flags_addr(), flags);
  }

  uint16_t last_avail_idx_ = 0;
  bool avail_wrap_counter_ = true;  // P2
  uint16_t last_used_idx_ = 0;
  bool used_wrap_counter_ = true;
  uint16_t event_flags_shadow_ = kEventFlagEnable;
};

}  // namespace virtiosim::ring
