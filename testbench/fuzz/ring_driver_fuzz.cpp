// libFuzzer target: the ring core's driver side (PackedDriver, SplitDriver)
// reaping from a hostile device. The input picks the layout, the queue
// size, the features (INDIRECT_DESC with a small table pool, EVENT_IDX,
// IN_ORDER), then a sequence of operations: our driver adds buffers, kicks,
// reaps, turns callbacks on and off and resets the queue; the device writes
// used entries (mostly well-formed, with ids in flight or not), its event
// area, or any bytes of the ring.
//
// Invariants (a violation traps):
//  - every token comes back at most once, and only while it is in flight;
//    with IN_ORDER in the order the buffers were added (P8);
//  - the free descriptor count is the queue size less what is in flight;
//  - every driver access lies in guest memory; the driver writes only its
//    own areas (packed: the free slots from next_avail_idx on, P3, the
//    driver event area and indirect tables; split: descriptor table, avail
//    ring with used_event, indirect tables), never the used ring or the
//    device area;
//  - a used entry naming nothing in flight, or a used idx moved past what
//    is in flight, breaks the queue with that error; a broken queue refuses
//    every call and performs no memory access;
//  - detach_unused() hands back exactly the tokens in flight and leaves a
//    healthy, empty queue.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <optional>
#include <type_traits>
#include <vector>

#include "models/ring/indirect_pool.h"
#include "models/ring/packed_driver.h"
#include "models/ring/split_driver.h"
#include "testbench/fuzz/checked_memory.h"
#include "testbench/ring/guest_memory.h"

namespace virtiosim::fuzz {
namespace {

using ring::Features;
using ring::RingError;
using ring::Segment;
using testing::GuestMemory;

constexpr uint64_t kMemBytes = 8192;
constexpr uint32_t kPoolSlots = 4;
constexpr uint32_t kPoolEntries = 4;
constexpr uint32_t kMaxSegments = 6;  // per buffer; more than a pool slot holds

template <bool Packed>
class DriverHarness {
  using Layout = std::conditional_t<Packed, ring::PackedLayout, ring::SplitLayout>;
  using Driver = std::conditional_t<Packed, ring::PackedDriver<CheckedMemory>, ring::SplitDriver<CheckedMemory>>;

  struct InFlight {
    uint64_t token;
    uint16_t id;     // buffer id (packed) / head (split): what the device names
    uint32_t slots;  // descriptors it took
  };

 public:
  DriverHarness(FuzzedDataProvider& in, uint32_t num, Features f, bool pool)
      : in_(in),
        f_(f),
        layout_(Layout::place(gm_.alloc(Layout::contiguous_bytes(num)), num)),
        pool_base_(gm_.alloc(ring::IndirectPool::bytes(kPoolSlots, kPoolEntries))),
        data_(gm_.alloc(1024)) {
    if (pool) pool_.emplace(pool_base_, kPoolSlots, kPoolEntries);
    allow_reinit_writes();  // the constructor zeroes the rings
    driver_.emplace(CheckedMemory(gm_.native(), &rules_), layout_, f,
                    ring::DriverOptions{pool_ ? &*pool_ : nullptr, 2});
    rules_.forbid_writes();
  }

  void run() {
    while (in_.remaining_bytes() > 0) {
      step(in_.ConsumeIntegral<uint8_t>());
      rules_.forbid_writes();
      check_free_count();
    }
  }

 private:
  enum Op : uint8_t {
    kAdd,
    kKick,
    kGetUsed,
    kDeviceUsed,   // device: a used entry, mostly well-formed
    kDevicePoke,   // device: any bytes in the ring areas
    kDeviceEvent,  // device: its event suppression (packed) / avail_event and used flags (split)
    kEnableCb,
    kEnableCbDelayed,
    kDisableCb,
    kDetachUnused,
    kOps
  };

  void step(uint8_t op) {
    switch (op % kOps) {
      case kAdd: add(); break;
      case kKick:
        (void)driver_->kick_prepare();
        break;
      case kGetUsed: get_used(); break;
      case kDeviceUsed: device_used(); break;
      case kDevicePoke: {
        const uint64_t bytes = Layout::contiguous_bytes(layout_.num);
        const uint64_t off = in_.ConsumeIntegralInRange<uint64_t>(0, bytes - 1);
        const auto b = in_.ConsumeBytes<uint8_t>(in_.ConsumeIntegralInRange<size_t>(1, 16));
        if (!b.empty()) std::memcpy(gm_.host(layout_.desc + off), b.data(), std::min<size_t>(b.size(), bytes - off));
        break;
      }
      case kDeviceEvent:
        if constexpr (Packed) {
          set16(layout_.device_event_off_wrap_addr(), in_.ConsumeIntegral<uint16_t>());
          set16(layout_.device_event_flags_addr(), in_.ConsumeIntegral<uint16_t>());
        } else {
          set16(layout_.avail_event_addr(), in_.ConsumeIntegral<uint16_t>());
          set16(layout_.used_flags_addr(), in_.ConsumeIntegral<uint16_t>());
        }
        break;
      case kEnableCb:
        allow_event_writes();
        (void)driver_->enable_cb();
        break;
      case kEnableCbDelayed:
        allow_event_writes();
        (void)driver_->enable_cb_delayed();
        break;
      case kDisableCb:
        allow_event_writes();
        driver_->disable_cb();
        break;
      case kDetachUnused: detach_unused(); break;
    }
  }

  void set16(uint64_t gpa, uint16_t v) {
    v = ring::le::from_host(v);
    std::memcpy(gm_.host(gpa), &v, 2);
  }
  void set32(uint64_t gpa, uint32_t v) {
    v = ring::le::from_host(v);
    std::memcpy(gm_.host(gpa), &v, 4);
  }
  uint16_t get16(uint64_t gpa) const {
    uint16_t v;
    std::memcpy(&v, gm_.host(gpa), 2);
    return ring::le::to_host(v);
  }

  void add() {
    const uint32_t outs = in_.ConsumeIntegralInRange<uint32_t>(0, kMaxSegments);
    const uint32_t ins = in_.ConsumeIntegralInRange<uint32_t>(0, kMaxSegments - outs);
    std::vector<Segment> out(outs), inn(ins);
    for (Segment& s : out) s = {data_ + in_.ConsumeIntegralInRange<uint32_t>(0, 960), in_.ConsumeIntegralInRange<uint32_t>(1, 64)};
    for (Segment& s : inn) s = {data_ + in_.ConsumeIntegralInRange<uint32_t>(0, 960), in_.ConsumeIntegralInRange<uint32_t>(1, 64)};

    const bool was_broken = driver_->broken();
    const uint16_t id = driver_->free_head();
    const uint32_t free_before = driver_->num_free();
    const uint64_t indirect_before = driver_->stats().indirect;
    allow_add_writes();
    const RingError e = driver_->add(out, inn, next_token_);
    if (was_broken) {
      FUZZ_CHECK(e == RingError::queue_broken);
      return;
    }
    if (outs + ins == 0) {
      FUZZ_CHECK(e == RingError::empty_buffer);
      return;
    }
    if (e == RingError::no_space) {
      FUZZ_CHECK(driver_->num_free() == free_before);
      return;
    }
    FUZZ_CHECK(e == RingError::ok);
    const uint32_t slots = driver_->stats().indirect != indirect_before ? 1 : outs + ins;
    FUZZ_CHECK(driver_->num_free() == free_before - slots);
    FUZZ_CHECK(std::none_of(in_flight_.begin(), in_flight_.end(), [&](const InFlight& b) { return b.id == id; }));
    in_flight_.push_back({next_token_++, id, slots});
  }

  void get_used() {
    const bool was_broken = driver_->broken();
    allow_get_used_writes();
    ring::UsedBuffer u;
    const ring::Result<bool> r = driver_->get_used(u);
    if (was_broken) {
      FUZZ_CHECK(r.error == RingError::queue_broken);
      return;
    }
    if (!r.ok()) {
      FUZZ_CHECK(r.error == RingError::bad_used_id || r.error == RingError::used_idx_jump);
      FUZZ_CHECK(!Packed || r.error == RingError::bad_used_id);
      FUZZ_CHECK(driver_->broken() && driver_->last_error() == r.error);
      rules_.silent = true;
      expect_dead();
      return;
    }
    if (!r.value) return;
    // The token is in flight (never returned before); with IN_ORDER it is
    // the oldest one.
    auto it = std::find_if(in_flight_.begin(), in_flight_.end(), [&](const InFlight& b) { return b.token == u.token; });
    FUZZ_CHECK(it != in_flight_.end());
    if (f_.in_order()) FUZZ_CHECK(it == in_flight_.begin());
    in_flight_.erase(it);
  }

  // A used entry where the device writes next (packed: its cursor slot, with
  // the used bits of its lap; split: the entry at used idx, then used idx
  // moved on), naming a buffer in flight or, if the input says so, anything.
  void device_used() {
    uint16_t id = in_.ConsumeIntegral<uint16_t>();
    uint32_t skip = 1;
    if (!in_flight_.empty() && in_.ConsumeIntegral<uint8_t>() < 224) {
      const InFlight& b = in_flight_[in_.ConsumeIntegralInRange<size_t>(0, in_flight_.size() - 1)];
      id = b.id;
      skip = b.slots;
    }
    const uint32_t len = in_.ConsumeIntegralInRange<uint32_t>(0, 256);
    if constexpr (Packed) {
      const uint64_t d = layout_.desc_addr(dev_slot_);
      set16(d + ring::packed_off::id, id);
      set32(d + ring::packed_off::len, len);
      const bool wrap = in_.ConsumeIntegral<uint8_t>() < 240 ? dev_wrap_ : !dev_wrap_;
      set16(d + ring::packed_off::flags, wrap ? ring::kDescAvail | ring::kDescUsed : 0);
      // P6.6: the device skips the buffer's length.
      dev_slot_ += skip;
      if (dev_slot_ >= layout_.num) dev_slot_ -= layout_.num, dev_wrap_ = !dev_wrap_;
    } else {
      const uint16_t idx = get16(layout_.used_idx_addr());
      const uint32_t slot = idx & (layout_.num - 1);
      set32(layout_.used_elem_id_addr(slot), in_.ConsumeIntegral<uint8_t>() < 240 ? id : in_.ConsumeIntegral<uint32_t>());
      set32(layout_.used_elem_len_addr(slot), len);
      set16(layout_.used_idx_addr(), static_cast<uint16_t>(idx + in_.ConsumeIntegralInRange<uint16_t>(1, 2)));
    }
  }

  void detach_unused() {
    rules_.silent = false;  // a queue reset is the way out of NEEDS_RESET
    allow_reinit_writes();
    std::vector<uint64_t> tokens = driver_->detach_unused();
    std::sort(tokens.begin(), tokens.end());
    std::vector<uint64_t> want;
    for (const InFlight& b : in_flight_) want.push_back(b.token);
    std::sort(want.begin(), want.end());
    FUZZ_CHECK(tokens == want);
    FUZZ_CHECK(!driver_->broken() && driver_->num_free() == layout_.num);
    if (pool_) FUZZ_CHECK(pool_->free_slots() == kPoolSlots);
    in_flight_.clear();
    dev_slot_ = 0;
    dev_wrap_ = true;
  }

  void expect_dead() {
    ring::UsedBuffer u;
    FUZZ_CHECK(driver_->get_used(u).error == RingError::queue_broken);
    const Segment s{data_, 1};
    FUZZ_CHECK(driver_->add({&s, 1}, {}, 0) == RingError::queue_broken);
    FUZZ_CHECK(!driver_->kick_prepare() && !driver_->enable_cb() && !driver_->enable_cb_delayed());
    driver_->disable_cb();
  }

  // Free descriptors: the queue size less what is in flight.
  void check_free_count() {
    if (driver_->broken()) return;
    uint32_t used = 0;
    for (const InFlight& b : in_flight_) used += b.slots;
    FUZZ_CHECK(used <= layout_.num && driver_->num_free() == layout_.num - used);
  }

  // add(): packed, the free slots from next_avail_idx on (P3: the rest is
  // the device's until it marks it used); split, the descriptor table and
  // the avail ring. Indirect tables in both.
  void allow_add_writes() {
    rules_.forbid_writes();
    if constexpr (Packed) {
      const uint32_t n = driver_->num_free();
      const uint32_t first = driver_->next_avail_idx();
      const uint32_t head = std::min(n, layout_.num - first);
      rules_.allow(layout_.desc_addr(first), uint64_t{head} * 16);
      if (n > head) rules_.allow(layout_.desc_addr(0), uint64_t{n - head} * 16);
    } else {
      rules_.allow(layout_.desc, ring::SplitLayout::desc_bytes(layout_.num));
      rules_.allow(layout_.avail, ring::SplitLayout::avail_bytes(layout_.num));
    }
    rules_.allow(pool_base_, ring::IndirectPool::bytes(kPoolSlots, kPoolEntries));
  }
  // Callbacks on/off and reaping: the driver's event area (packed) / avail
  // flags and used_event (split).
  void allow_event_writes() {
    rules_.forbid_writes();
    if constexpr (Packed) rules_.allow(layout_.driver_event, ring::PackedLayout::event_bytes);
    else rules_.allow(layout_.avail, ring::SplitLayout::avail_bytes(layout_.num));
  }
  void allow_get_used_writes() {
    allow_event_writes();
    if constexpr (Packed) rules_.forbid_writes();  // packed reaping writes nothing
  }
  void allow_reinit_writes() {
    rules_.forbid_writes();
    rules_.allow(layout_.desc, Layout::contiguous_bytes(layout_.num));
  }

  FuzzedDataProvider& in_;
  Features f_;
  GuestMemory gm_{kMemBytes};
  AccessRules rules_;
  Layout layout_;
  uint64_t pool_base_;
  uint64_t data_;
  std::optional<ring::IndirectPool> pool_;
  std::optional<Driver> driver_;
  std::deque<InFlight> in_flight_;  // in the order added
  uint64_t next_token_ = 1;
  uint32_t dev_slot_ = 0;  // packed: where a rule-following device writes its next used entry
  bool dev_wrap_ = true;
};

}  // namespace
}  // namespace virtiosim::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace virtiosim;
  FuzzedDataProvider in(data, size);
  const uint8_t cfg = in.ConsumeIntegral<uint8_t>();
  const bool packed = cfg & 1;
  const ring::Features f = fuzz::ring_features(cfg);
  const bool pool = cfg & 16;
  const uint8_t q = in.ConsumeIntegral<uint8_t>();
  if (packed) {
    fuzz::DriverHarness<true>(in, 1u + q % 16, f, pool).run();
  } else {
    fuzz::DriverHarness<false>(in, 1u << (q % 5), f, pool).run();
  }
  return 0;
}
