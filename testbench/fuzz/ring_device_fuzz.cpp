// libFuzzer target: the ring core's device side (PackedDevice, SplitDevice)
// against a hostile driver. The input picks the layout, the queue size, the
// features (INDIRECT_DESC, EVENT_IDX, IN_ORDER) and the device's segment
// limit, then a sequence of operations: the driver writes any bytes
// anywhere in guest memory (descriptors, tables, indices, event areas) at
// any time, the device pops, completes, flushes, discards, signals, turns
// notifications on and off, and resets.
//
// Invariants (a violation traps):
//  - every device access lies in guest memory; a pop writes nothing; a
//    flush writes only the descriptor slots the device owns (packed: the
//    slots it popped and has not yet marked used, P3) or the used ring
//    (split); notification changes write only the device's event area;
//  - a popped chain's segments all lie in guest memory, readable before
//    writable (P6.3), within the segment limit, and its slot count matches
//    what it took (P6.6);
//  - the device's indices move exactly by what was popped and flushed: its
//    used position never passes its avail position;
//  - has_available() agrees with the pop that follows;
//  - pop_burst() (packed: whole aligned groups at once) keeps pop()'s
//    contract for every buffer it takes;
//  - discard() of the last pop hands the same chain to the next pop;
//  - a flush publishes: the first used entry is visible where it belongs;
//  - after a fatal error the queue reports broken, refuses every call with
//    queue_broken and performs no memory access at all, until reset().
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

#include "models/ring/packed_device.h"
#include "models/ring/split_device.h"
#include "testbench/fuzz/checked_memory.h"
#include "testbench/ring/guest_memory.h"

namespace virtiosim::fuzz {
namespace {

using ring::Chain;
using ring::Features;
using ring::RingError;
using testing::GuestMemory;

constexpr uint64_t kMemBytes = 4096;

// An address for a descriptor: mostly inside guest memory (near its edges
// too), sometimes any 64-bit value.
uint64_t pick_addr(FuzzedDataProvider& in) {
  if (in.ConsumeIntegral<uint8_t>() < 240)
    return GuestMemory::kBase + in.ConsumeIntegralInRange<uint64_t>(0, kMemBytes + 16) - 8;
  return in.ConsumeIntegral<uint64_t>();
}
uint32_t pick_len(FuzzedDataProvider& in) {
  if (in.ConsumeIntegral<uint8_t>() < 240) return in.ConsumeIntegralInRange<uint32_t>(0, 600);
  return in.ConsumeIntegral<uint32_t>();
}

bool same_segments(const std::vector<ring::Segment>& a, const std::vector<ring::Segment>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].addr != b[i].addr || a[i].len != b[i].len) return false;
  return true;
}
bool same_chain(const Chain& a, const Chain& b) {
  return a.id == b.id && a.count == b.count && a.indirect == b.indirect &&
         a.readable_bytes == b.readable_bytes && a.writable_bytes == b.writable_bytes &&
         same_segments(a.readable, b.readable) && same_segments(a.writable, b.writable);
}

template <bool Packed>
class DeviceHarness {
  using Layout = std::conditional_t<Packed, ring::PackedLayout, ring::SplitLayout>;
  using Device = std::conditional_t<Packed, ring::PackedDevice<CheckedMemory>, ring::SplitDevice<CheckedMemory>>;

 public:
  DeviceHarness(FuzzedDataProvider& in, uint32_t num, Features f, ring::DeviceOptions opts)
      : in_(in),
        f_(f),
        opts_(opts),
        layout_(Layout::place(gm_.alloc(Layout::contiguous_bytes(num)), num)),
        dev_(CheckedMemory(gm_.native(), &rules_), layout_, f, opts) {}

  void run() {
    while (in_.remaining_bytes() > 0) {
      step(in_.ConsumeIntegral<uint8_t>());
      check_indices();
    }
  }

 private:
  enum Op : uint8_t {
    kPoke,          // driver: any bytes anywhere in guest memory
    kPutDesc,       // driver: one descriptor (ring slot or table entry)
    kPublish,       // driver: make the next descriptor available (packed) / bump avail idx (split)
    kPop,
    kPopDiscard,    // pop, put it back, pop again: the same chain
    kComplete,      // push_used for a popped chain
    kFlush,
    kSignal,
    kNotifyOn,
    kNotifyOff,
    kReset,
    kPopBurst,      // pop_burst over 1..8 chains (packed: the group path)
    kOps
  };

  void step(uint8_t op) {
    switch (op % kOps) {
      case kPoke: {
        const uint64_t off = in_.ConsumeIntegralInRange<uint64_t>(0, kMemBytes - 1);
        const auto bytes = in_.ConsumeBytes<uint8_t>(in_.ConsumeIntegralInRange<size_t>(1, 32));
        if (!bytes.empty())
          std::memcpy(gm_.host(GuestMemory::kBase + off), bytes.data(), std::min<size_t>(bytes.size(), kMemBytes - off));
        break;
      }
      case kPutDesc: {
        // Descriptors are 16-byte aligned wherever they live.
        const uint64_t at = GuestMemory::kBase + in_.ConsumeIntegralInRange<uint64_t>(0, kMemBytes / 16 - 1) * 16;
        put_desc(at, pick_addr(in_), pick_len(in_), in_.ConsumeIntegral<uint16_t>(),
                 static_cast<uint16_t>(in_.ConsumeIntegral<uint8_t>() & 0x7));
        break;
      }
      case kPublish: publish(); break;
      case kPop: pop(); break;
      case kPopDiscard: pop_discard(); break;
      case kPopBurst: pop_burst(); break;
      case kComplete: complete(); break;
      case kFlush: flush(); break;
      case kSignal:
        rules_.forbid_writes();
        (void)dev_.should_signal();
        break;
      case kNotifyOn:
        allow_event_writes();
        (void)dev_.enable_notifications();
        break;
      case kNotifyOff:
        allow_event_writes();
        dev_.disable_notifications();
        break;
      case kReset:
        dev_.reset();
        FUZZ_CHECK(!dev_.broken() && dev_.pending_used() == 0);
        popped_.clear();
        shadow_.clear();
        rules_.silent = false;
        break;
    }
    rules_.forbid_writes();
  }

  // Packed: id at offset 12, flags (only NEXT/WRITE/INDIRECT from the input,
  // the AVAIL/USED bits are kPublish's job) at 14. Split: flags at 12, next at 14.
  void put_desc(uint64_t at, uint64_t addr, uint32_t len, uint16_t id_or_next, uint16_t flags) {
    if constexpr (Packed) {
      vring_packed_desc d{ring::le::from_host(addr), ring::le::from_host(len), ring::le::from_host(id_or_next),
                          ring::le::from_host(flags)};
      std::memcpy(gm_.host(at), &d, sizeof d);
    } else {
      vring_desc d{ring::le::from_host(addr), ring::le::from_host(len), ring::le::from_host(flags),
                   ring::le::from_host(id_or_next)};
      std::memcpy(gm_.host(at), &d, sizeof d);
    }
  }

  void set16(uint64_t gpa, uint16_t v) {
    v = ring::le::from_host(v);
    std::memcpy(gm_.host(gpa), &v, 2);
  }
  uint16_t get16(uint64_t gpa) const {
    uint16_t v;
    std::memcpy(&v, gm_.host(gpa), 2);
    return ring::le::to_host(v);
  }
  uint32_t get32(uint64_t gpa) const {
    uint32_t v;
    std::memcpy(&v, gm_.host(gpa), 4);
    return ring::le::to_host(v);
  }

  // A driver that mostly follows the rules, so that pops get somewhere:
  // packed, the AVAIL/USED bits of its lap on its next slot (or, if the
  // input says so, of the other lap); split, the next avail ring entry and
  // the index that exposes it.
  void publish() {
    if constexpr (Packed) {
      const bool wrap = in_.ConsumeBool() ? drv_wrap_ : !drv_wrap_;
      const uint64_t f = layout_.flags_addr(drv_slot_);
      set16(f, static_cast<uint16_t>((get16(f) & ~(ring::kDescAvail | ring::kDescUsed)) |
                                     (wrap ? ring::kDescAvail : ring::kDescUsed)));
      if (++drv_slot_ == layout_.num) drv_slot_ = 0, drv_wrap_ = !drv_wrap_;
    } else {
      const uint16_t idx = get16(layout_.avail_idx_addr());
      set16(layout_.avail_ring_addr(idx & (layout_.num - 1)),
            in_.ConsumeIntegralInRange<uint16_t>(0, static_cast<uint16_t>(layout_.num)));
      set16(layout_.avail_idx_addr(), static_cast<uint16_t>(idx + in_.ConsumeIntegralInRange<uint16_t>(1, 2)));
    }
  }

  using Result = ring::Result<bool>;

  // The pop() contract, whatever memory holds.
  Result checked_pop(Chain& c) {
    const bool was_broken = dev_.broken();
    rules_.forbid_writes();
    const bool avail = dev_.has_available();
    const Result r = dev_.pop(c);
    if (was_broken) {
      FUZZ_CHECK(!avail && r.error == RingError::queue_broken);
      return r;
    }
    if (!r.ok()) {
      FUZZ_CHECK(ring::is_fatal(r.error) && r.error != RingError::queue_broken);
      FUZZ_CHECK(dev_.broken() && dev_.last_error() == r.error);
      FUZZ_CHECK(avail);  // nothing available means nothing to refuse
      FUZZ_CHECK(dev_.pending_used() == 0);  // unflushed completions are dropped
      // From here on the queue must not touch memory (until reset).
      rules_.silent = true;
      popped_.clear();
      shadow_.clear();
      expect_dead();
      return r;
    }
    FUZZ_CHECK(r.value == avail);
    if (r.value) check_chain(c);
    return r;
  }

  void check_chain(const Chain& c) {
    FUZZ_CHECK(c.count >= 1 && c.count <= layout_.num);
    if constexpr (!Packed) FUZZ_CHECK(c.count == 1 && c.id < layout_.num);
    const size_t segs = c.readable.size() + c.writable.size();
    FUZZ_CHECK(segs >= 1 && segs <= opts_.max_segments);
    if (Packed && !c.indirect) FUZZ_CHECK(segs == c.count);
    if (c.indirect) FUZZ_CHECK(f_.indirect_desc());
    uint64_t r = 0, w = 0;
    for (const ring::Segment& s : c.readable) {
      FUZZ_CHECK(gm_.native().maps(s.addr, s.len));
      r += s.len;
    }
    for (const ring::Segment& s : c.writable) {
      FUZZ_CHECK(gm_.native().maps(s.addr, s.len));
      w += s.len;
    }
    FUZZ_CHECK(r == c.readable_bytes && w == c.writable_bytes);
  }

  void pop() {
    Chain c;
    const Result r = checked_pop(c);
    if (r.ok() && r.value) popped_.push_back(c);
  }

  // pop_burst(): pop()'s contract for every buffer it takes; it stops
  // early only when nothing more is available or on an error, which breaks
  // the queue after the buffers it counts.
  void pop_burst() {
    Chain burst[8];
    const size_t want = in_.ConsumeIntegralInRange<size_t>(1, 8);
    const bool was_broken = dev_.broken();
    const bool avail = dev_.has_available();
    const uint64_t popped = dev_.stats().popped;
    rules_.forbid_writes();
    const ring::Result<uint32_t> r = dev_.pop_burst(std::span(burst, want));
    FUZZ_CHECK(r.value <= want);
    if (was_broken) {
      FUZZ_CHECK(!avail && r.error == RingError::queue_broken && r.value == 0);
      return;
    }
    FUZZ_CHECK(dev_.stats().popped == popped + r.value);
    for (uint32_t k = 0; k < r.value; ++k) check_chain(burst[k]);
    if (!r.ok()) {
      FUZZ_CHECK(ring::is_fatal(r.error) && r.error != RingError::queue_broken);
      FUZZ_CHECK(dev_.broken() && dev_.last_error() == r.error);
      FUZZ_CHECK(avail);
      FUZZ_CHECK(dev_.pending_used() == 0);
      rules_.silent = true;
      popped_.clear();
      shadow_.clear();
      expect_dead();
      return;
    }
    FUZZ_CHECK((r.value > 0) == avail);
    if (r.value < want) FUZZ_CHECK(!dev_.has_available());
    popped_.insert(popped_.end(), burst, burst + r.value);
  }

  // discard(): "the buffer becomes the next one pop() takes": nothing in
  // between writes memory, so the next pop must return the same chain.
  void pop_discard() {
    Chain c;
    const Result r = checked_pop(c);
    if (!r.ok() || !r.value) return;
    const uint64_t popped = dev_.stats().popped;
    dev_.discard(c);
    FUZZ_CHECK(dev_.stats().popped == popped - 1);
    Chain again;
    const Result r2 = checked_pop(again);
    FUZZ_CHECK(r2.ok() && r2.value && same_chain(c, again));
    popped_.push_back(again);
  }

  // Completes a popped chain with a length it can hold. With IN_ORDER the
  // device uses buffers in the order it took them (P8).
  void complete() {
    if (popped_.empty()) {
      if (dev_.broken()) FUZZ_CHECK(dev_.push_used(ring::UsedElem{}) == RingError::queue_broken);
      return;
    }
    const size_t k = f_.in_order() ? 0 : in_.ConsumeIntegralInRange<size_t>(0, popped_.size() - 1);
    const Chain c = popped_[k];
    popped_.erase(popped_.begin() + static_cast<long>(k));
    const uint32_t len = static_cast<uint32_t>(
        std::min<uint64_t>(c.writable_bytes, in_.ConsumeIntegralInRange<uint32_t>(0, UINT32_MAX)));
    // A full shadow ring is flushed before the new entry goes in.
    if (shadow_.size() == layout_.num) {
      allow_flush_writes();
      shadow_.clear();
    }
    FUZZ_CHECK(dev_.push_used(c.used(len)) == RingError::ok);
    shadow_.push_back(c.used(len));
  }

  void flush() {
    const uint16_t used_before = dev_.last_used_idx();
    bool wrap_before = true;
    if constexpr (Packed) wrap_before = dev_.used_wrap_counter();
    allow_flush_writes();
    const RingError e = dev_.flush();
    if (dev_.broken()) {
      FUZZ_CHECK(e == RingError::queue_broken);
      return;
    }
    FUZZ_CHECK(e == RingError::ok && dev_.pending_used() == 0);
    if (!shadow_.empty()) {
      // The batch is visible: packed, the first slot carries the used bits
      // of the lap it was written in (its id is the first buffer's, or with
      // IN_ORDER the batch's last); split, the used idx and the first entry.
      if constexpr (Packed) {
        const uint16_t flags = get16(layout_.flags_addr(used_before));
        FUZZ_CHECK(ring::packed_desc_is_used(flags, wrap_before));
        if (!f_.in_order()) FUZZ_CHECK(get16(layout_.id_addr(used_before)) == shadow_.front().id);
      } else {
        FUZZ_CHECK(get16(layout_.used_idx_addr()) == dev_.last_used_idx());
        const uint32_t slot = used_before & (layout_.num - 1);
        if (!f_.in_order()) {
          FUZZ_CHECK(get32(layout_.used_elem_id_addr(slot)) == shadow_.front().id);
          FUZZ_CHECK(get32(layout_.used_elem_len_addr(slot)) == shadow_.front().len);
        }
      }
    }
    shadow_.clear();
  }

  // A broken queue refuses everything and touches nothing; rules_.silent
  // makes any access trap.
  void expect_dead() {
    Chain c;
    FUZZ_CHECK(dev_.pop(c).error == RingError::queue_broken);
    FUZZ_CHECK(dev_.push_used(ring::UsedElem{}) == RingError::queue_broken);
    FUZZ_CHECK(dev_.flush() == RingError::queue_broken);
    FUZZ_CHECK(!dev_.has_available() && !dev_.should_signal() && !dev_.enable_notifications());
    dev_.disable_notifications();
  }

  // Slots the device may write in a flush: packed, the slots it popped and
  // has not marked used yet (from last_used_idx on, P3), split, the used
  // ring (entries and idx).
  void allow_flush_writes() {
    rules_.forbid_writes();
    if constexpr (Packed) {
      const uint32_t n = owned_slots();
      const uint32_t first = dev_.last_used_idx();
      const uint32_t head = std::min(n, layout_.num - first);
      rules_.allow(layout_.desc_addr(first), uint64_t{head} * 16);
      if (n > head) rules_.allow(layout_.desc_addr(0), uint64_t{n - head} * 16);
    } else {
      rules_.allow(layout_.used, ring::SplitLayout::used_bytes(layout_.num));
    }
  }
  // Enabling and disabling notifications write the device's own area:
  // packed, the device event structure; split, used flags and avail_event.
  void allow_event_writes() {
    rules_.forbid_writes();
    if constexpr (Packed) rules_.allow(layout_.device_event, ring::PackedLayout::event_bytes);
    else rules_.allow(layout_.used, ring::SplitLayout::used_bytes(layout_.num));
  }

  // Slots (packed) or buffers (split) between the device's used and avail
  // positions.
  uint32_t owned_slots() const {
    if constexpr (Packed) {
      const uint32_t n = layout_.num;
      const uint32_t a = dev_.last_avail_idx() + (dev_.avail_wrap_counter() ? 0 : n);
      const uint32_t u = dev_.last_used_idx() + (dev_.used_wrap_counter() ? 0 : n);
      return (a + 2 * n - u) % (2 * n);
    } else {
      return static_cast<uint16_t>(dev_.last_avail_idx() - dev_.last_used_idx());
    }
  }

  // The device's indices moved by exactly what it popped and published:
  // the distance from used to avail is what is popped or in the shadow.
  void check_indices() {
    if (dev_.broken()) return;
    uint32_t outstanding = 0;
    for (const Chain& c : popped_) outstanding += c.count;
    for (const ring::UsedElem& e : shadow_) outstanding += e.count;
    FUZZ_CHECK(owned_slots() == outstanding);
    FUZZ_CHECK(outstanding <= layout_.num);
    FUZZ_CHECK(dev_.pending_used() == shadow_.size());
  }

  FuzzedDataProvider& in_;
  Features f_;
  ring::DeviceOptions opts_;
  GuestMemory gm_{kMemBytes};
  AccessRules rules_;
  Layout layout_;
  Device dev_;
  std::vector<Chain> popped_;           // taken, not yet completed
  std::vector<ring::UsedElem> shadow_;  // completed, not yet flushed
  uint32_t drv_slot_ = 0;               // packed: where a rule-following driver publishes next
  bool drv_wrap_ = true;
};

}  // namespace
}  // namespace virtiosim::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace virtiosim;
  FuzzedDataProvider in(data, size);
  const uint8_t cfg = in.ConsumeIntegral<uint8_t>();
  const bool packed = cfg & 1;
  const ring::Features f = fuzz::ring_features(cfg);
  ring::DeviceOptions opts;
  if (cfg & 16) opts.max_segments = 1u + (cfg >> 5);  // a small device limit: 1..8 segments
  // Small queues: every wrap and boundary is a few operations away. Packed
  // sizes need not be powers of two (P1).
  const uint8_t q = in.ConsumeIntegral<uint8_t>();
  if (packed) {
    fuzz::DeviceHarness<true>(in, 1u + q % 16, f, opts).run();
  } else {
    fuzz::DeviceHarness<false>(in, 1u << (q % 5), f, opts).run();
  }
  return 0;
}
