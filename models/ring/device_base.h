// What both device families (PackedDevice, SplitDevice) keep the same way:
// the shadow used ring and the bookkeeping of its flush, the used-buffer
// signal window's counter, the broken state (NEEDS_RESET) with the failure
// that caused it, the counters, and the checks of one segment and of an
// indirect table's extent.
//
// A CRTP base: the layout-specific parts (pop, how a flush writes the used
// ring, rewinding for discard, event suppression) stay in the family and
// are reached by static dispatch; nothing here is virtual.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "models/ring/chain.h"
#include "models/ring/chain_checks.h"
#include "models/ring/errors.h"
#include "models/ring/features.h"
#include "models/ring/memory_policy.h"
#include "models/ring/ring_side.h"
#include "models/ring/shadow_used_ring.h"

namespace virtiosim::ring {

// Derived provides, for the base to call:
//   size_t write_used_batch();      publish shadow_ (non-empty); used descriptors written
//   bool rewind_avail(const Chain&); step last_avail_idx back over `c`; false: refused
//   void reset_ring();               back to a fresh ring's indices and event state
//   Result<bool> pop(Chain&);        take one buffer
//   uint32_t pop_group(std::span<Chain>); take whole groups at once if the
//                                    ring allows it; how many were taken
template <class Derived, class Layout, MemoryPolicy Mem>
class DeviceBase : public RingSide<Layout, Mem, DeviceOptions, DeviceStats> {
  using Side = RingSide<Layout, Mem, DeviceOptions, DeviceStats>;

 public:
  // Take up to out.size() available buffers into out[0, n), in ring order.
  // value: n, 0 when none is available. Every buffer gets pop()'s checks;
  // the first error breaks the queue as pop() does, and value counts the
  // buffers taken before it. Where the family can take a group of buffers
  // at once (PackedDevice::pop_group) it does, and one buffer at a time
  // otherwise.
  [[nodiscard]] Result<uint32_t> pop_burst(std::span<Chain> out) {
    uint32_t n = 0;
    while (n < out.size()) {
      n += derived().pop_group(out.subspan(n));
      if (n == out.size()) break;
      const Result<bool> r = derived().pop(out[n]);
      if (!r.ok()) return {r.error, n};
      if (!r.value) break;
      ++n;
    }
    return {RingError::ok, n};
  }

  // Record a completion in the shadow used ring; flush() publishes it.
  [[nodiscard]] RingError push_used(const UsedElem& e) {
    if (broken_) return RingError::queue_broken;
    if (shadow_.full())
      if (RingError err = flush(); err != RingError::ok) return err;
    shadow_.push_back(e);
    ++stats_.used;
    return RingError::ok;
  }

  // Publish the shadow used ring, the whole batch at once (the family says
  // how: write_used_batch).
  [[nodiscard]] RingError flush() {
    if (broken_) return RingError::queue_broken;
    if (shadow_.empty()) return RingError::ok;
    stats_.used_descs_written += derived().write_used_batch();
    ++stats_.flushes;
    shadow_.clear();
    return RingError::ok;
  }

  // Put back the most recent pop, as Linux vhost_discard_vq_desc does: the
  // buffer becomes the next one pop() takes, so `c` is taken again,
  // unchanged, by a later pop. Several chains go back in the reverse order
  // of their pops. Nothing else moves: completions already recorded stay in
  // the shadow used ring and the used-buffer signal window keeps counting,
  // so the next flush() + should_signal() still notifies for them.
  void discard(const Chain& c) {
    if (broken_ || c.count == 0 || !derived().rewind_avail(c)) return;
    --stats_.popped;
    ++stats_.discarded;
  }

  // Queue reset (P15): back to a fresh ring; unflushed completions are
  // counted as dropped.
  void reset() {
    stats_.completions_dropped += shadow_.size();
    shadow_.clear();
    used_since_signal_ = 0;
    this->mark_healthy();
    derived().reset_ring();
  }

  size_t pending_used() const { return shadow_.size(); }

  // A fatal error the ring's own checks cannot see: the platform refused an
  // address of the buffer at last_avail_idx (behind an IOMMU: an IOVA with
  // no mapping, or none for the access). A buffer already popped goes back
  // first (discard), so that last_avail_idx names it.
  RingError refuse(RingError e) { return fail(e); }

 protected:
  // The device does not touch memory until asked: the driver owns the
  // ring's initial contents.
  DeviceBase(Mem mem, Layout layout, Features features, DeviceOptions opts)
      : Side(mem, layout, features, opts), shadow_(layout_.num) {}
  ~DeviceBase() = default;

  // should_signal(), the shared part: the used slots or buffers published
  // since the last call (none from now on), and the counter of its answer.
  uint32_t take_used_since_signal() {
    const uint32_t fresh = used_since_signal_;
    used_since_signal_ = 0;
    return fresh;
  }
  bool count_signal(bool needed) {
    ++(needed ? stats_.signals : stats_.signals_suppressed);
    return needed;
  }

  RingError add_segment(Chain& c, uint64_t addr, uint32_t len, bool writable) {
    return ring::add_segment(mem_, opts_, c, addr, len, writable);
  }
  RingError check_indirect_table(uint64_t table, uint32_t len) {
    return ring::check_indirect_table(mem_, opts_, table, len);
  }

  // A fatal error: the queue is broken and refuses all further work;
  // completions not yet flushed are dropped (and counted).
  RingError fail(RingError e) {
    stats_.completions_dropped += shadow_.size();
    shadow_.clear();
    return this->mark_broken(e);
  }

  using Side::mem_, Side::layout_, Side::features_, Side::opts_, Side::broken_, Side::stats_;
  ShadowUsedRing shadow_;           // completions not yet flushed
  uint32_t used_since_signal_ = 0;  // used slots (packed) / buffers (split) since should_signal

 private:
  Derived& derived() { return static_cast<Derived&>(*this); }
};

}  // namespace virtiosim::ring
