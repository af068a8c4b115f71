// Saving and restoring a packed ring's device side (GET/SET_VRING_BASE):
// the VU2 encoding, its tolerant decoding, range checks, and migrations in
// the middle of traffic where a fresh PackedDevice carries on from the
// saved state without losing or duplicating a buffer.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "models/ring/packed_device.h"
#include "models/ring/packed_driver.h"
#include "models/ring/ring_state.h"
#include "testbench/ring/guest_memory.h"
#include "testbench/ring/packed_test_support.h"

namespace virtiosim::ring {
namespace {

using testing::GuestMemory;

// ---------------------------------------------------------------------------
// VU2 encoding.

TEST(PackedState, VU2_FreshRingIs0x8000InEachHalf) {
  EXPECT_EQ(encode_vring_base_packed(RingState{}), 0x80008000u);
  EXPECT_EQ(encode_vring_base_packed(RingState{}) & 0xffff, 0x8000u);
  EXPECT_EQ(encode_vring_base_packed(RingState{}) >> 16, 0x8000u);
  EXPECT_EQ(decode_vring_base_packed(0x80008000u), RingState{});
  // P2: a fresh ring's wrap counters are both 1.
  const RingState fresh{};
  EXPECT_TRUE(fresh.avail_wrap_counter);
  EXPECT_TRUE(fresh.used_wrap_counter);
}

TEST(PackedState, VU2_BitLayout) {
  EXPECT_EQ(encode_vring_base_packed({5, false, 3, true}), 0x80030005u);
  EXPECT_EQ(encode_vring_base_packed({5, true, 3, false}), 0x00038005u);
  EXPECT_EQ(encode_vring_base_packed({0, false, 0, false}), 0u);
  EXPECT_EQ(encode_vring_base_packed({0x7fff, true, 0x7fff, true}), 0xffffffffu);
  EXPECT_EQ(encode_vring_base_packed({0x7fff, false, 0, false}), 0x00007fffu);
  EXPECT_EQ(encode_vring_base_packed({0, false, 0x7fff, false}), 0x7fff0000u);
  EXPECT_EQ(decode_vring_base_packed(0x00038005u), (RingState{5, true, 3, false}));
}

// Round trips for every wrap combination and indices up to the largest a
// 32768-entry queue has.
TEST(PackedState, VU2_RoundTripAllWrapCombinations) {
  const uint16_t indices[] = {0, 1, 255, 999, 0x7ffe, 0x7fff};
  int checked = 0;
  for (bool aw : {false, true})
    for (bool uw : {false, true})
      for (uint16_t a : indices)
        for (uint16_t u : indices) {
          const RingState s{a, aw, u, uw};
          const uint32_t v = encode_vring_base_packed(s);
          EXPECT_EQ(v, uint32_t{a} | (aw ? 1u << 15 : 0) | uint32_t{u} << 16 | (uw ? 1u << 31 : 0));
          EXPECT_EQ(decode_vring_base_packed(v), s) << std::hex << v;
          // Tolerant decoding reads a zero upper half (used 0 in lap 0) as
          // "drained"; any other upper half as the strict decoding does.
          const RingState tolerant = (u == 0 && !uw) ? RingState{a, aw, a, aw} : s;
          EXPECT_EQ(decode_vring_base_packed(v, VringBaseCompat::low_half_only), tolerant)
              << std::hex << v;
          ++checked;
        }
  EXPECT_EQ(checked, 4 * 6 * 6);
}

// VU2 tolerance: back-ends such as DPDK 22.11 return only the low 16 bits
// after a drain; a zero upper half then means used == avail.
TEST(PackedState, VU2_LowHalfOnlySemantics) {
  EXPECT_EQ(decode_vring_base_packed(0x0000800au, VringBaseCompat::low_half_only),
            (RingState{10, true, 10, true}));
  EXPECT_EQ(decode_vring_base_packed(0x0000000au, VringBaseCompat::low_half_only),
            (RingState{10, false, 10, false}));
  EXPECT_EQ(decode_vring_base_packed(0x00008000u, VringBaseCompat::low_half_only), RingState{});
  // Strict decoding takes the zero upper half at its word.
  EXPECT_EQ(decode_vring_base_packed(0x0000800au), (RingState{10, true, 0, false}));
  // Any non-zero upper half is trusted in both modes.
  EXPECT_EQ(decode_vring_base_packed(0x00010005u, VringBaseCompat::low_half_only),
            (RingState{5, false, 1, false}));
  // The price of tolerance: a genuine "used 0, wrap 0" is read as drained.
  EXPECT_EQ(decode_vring_base_packed(encode_vring_base_packed({10, true, 0, false}),
                                     VringBaseCompat::low_half_only),
            (RingState{10, true, 10, true}));
}

// ---------------------------------------------------------------------------
// set_state range checks.

class PackedStateRig {
 public:
  explicit PackedStateRig(uint32_t num, Features f = {})
      : gm_(PackedLayout::contiguous_bytes(num) + 0x10000),
        layout_(PackedLayout::place(gm_.alloc(PackedLayout::contiguous_bytes(num)), num)),
        data_(gm_.alloc(0x8000)),
        f_(f) {
    drv.emplace(gm_.native(), layout_, f_);
    dev.emplace(gm_.native(), layout_, f_);
  }

  // A fresh device object that continues from `s` (SET_VRING_BASE), the
  // state carried through the 32-bit VU2 encoding as vhost-user does.
  void migrate() {
    ASSERT_EQ(dev->pending_used(), 0u) << "flush before GET_VRING_BASE";
    const RingState s = dev->state();
    const uint32_t wire = encode_vring_base_packed(s);
    dev.emplace(gm_.native(), layout_, f_);
    ASSERT_EQ(dev->set_state(decode_vring_base_packed(wire)), RingError::ok);
    ASSERT_EQ(dev->state(), s);
    ++migrations;
    if (s.avail_wrap_counter != s.used_wrap_counter) ++mixed_lap_migrations;
  }

  Segment seg(uint64_t i, uint32_t len) const { return {data_ + (i % 256) * 64, len}; }

  GuestMemory& gm() { return gm_; }
  const PackedLayout& layout() const { return layout_; }

  std::optional<PackedDriver<>> drv;
  std::optional<PackedDevice<>> dev;
  uint32_t migrations = 0, mixed_lap_migrations = 0;

 private:
  GuestMemory gm_;
  PackedLayout layout_;
  uint64_t data_;
  Features f_;
};

TEST(PackedState, VU2_SetStateRejectsOutOfRangeIndices) {
  const uint32_t num = 8;
  PackedStateRig r(num);
  ASSERT_EQ(r.dev->set_state({3, true, 2, true}), RingError::ok);
  const RingState before = r.dev->state();
  const RingState bad[] = {{num, true, 0, true}, {0, true, num, true}, {0x7fff, false, 0, false},
                           {0, false, 0x7fff, false}, {num, false, num, false}};
  for (const RingState& s : bad) {
    EXPECT_EQ(r.dev->set_state(s), RingError::bad_ring_state) << s.last_avail_idx << "/" << s.last_used_idx;
    EXPECT_EQ(r.dev->state(), before) << "a refused state changes nothing";
    EXPECT_FALSE(r.dev->broken());
  }
  EXPECT_EQ(r.dev->set_state({num - 1, false, num - 1, false}), RingError::ok);
  EXPECT_EQ(r.dev->state(), (RingState{num - 1, false, num - 1, false}));
}

// set_state is also how a broken queue is brought back (P15 reset then base).
TEST(PackedState, P15_SetStateRevivesBrokenDevice) {
  const uint32_t num = 8;
  PackedStateRig r(num);
  testing::put_slot(r.gm(), r.layout(), 0, r.seg(0, 8).addr, 8, 0, kDescAvail | kDescNext);  // P6.2
  Chain c;
  EXPECT_EQ(r.dev->pop(c).error, RingError::unavailable_in_chain);
  ASSERT_TRUE(r.dev->broken());
  r.drv.emplace(r.gm().native(), r.layout(), Features{});  // driver re-zeroes the ring
  ASSERT_EQ(r.dev->set_state(RingState{}), RingError::ok);
  EXPECT_FALSE(r.dev->broken());
  const Segment s = r.seg(1, 32);
  ASSERT_EQ(r.drv->add(std::span(&s, 1), {}, 42), RingError::ok);
  const Result<bool> p = r.dev->pop(c);
  ASSERT_TRUE(p.ok() && p.value) << name(p.error);
  ASSERT_EQ(r.dev->push_used(c.used(0)), RingError::ok);
  ASSERT_EQ(r.dev->flush(), RingError::ok);
  UsedBuffer u;
  ASSERT_TRUE(r.drv->get_used(u).value);
  EXPECT_EQ(u.token, 42u);
}

// ---------------------------------------------------------------------------
// Migrations mid-stream.

// Deterministic: the device is a lap ahead on the avail side (wrap 0) and
// still in lap 1 on the used side when it is saved; the new device finishes
// the buffers the old one had taken.
TEST(PackedState, VU2_MigrateWithAvailAndUsedInDifferentLaps) {
  const uint32_t num = 8;
  PackedStateRig r(num);
  for (uint64_t t = 0; t < num; ++t) {
    const Segment s = r.seg(t, 16);
    ASSERT_EQ(r.drv->add({}, std::span(&s, 1), t), RingError::ok);
  }
  std::vector<Chain> held(num);
  for (Chain& c : held) ASSERT_TRUE(r.dev->pop(c).value);
  for (uint32_t i = 0; i < 5; ++i) ASSERT_EQ(r.dev->push_used(held[i].used(16)), RingError::ok);
  ASSERT_EQ(r.dev->flush(), RingError::ok);
  EXPECT_EQ(r.dev->state(), (RingState{0, false, 5, true}));
  EXPECT_EQ(encode_vring_base_packed(r.dev->state()), 0x80050000u);
  r.migrate();
  for (uint32_t i = 5; i < num; ++i) ASSERT_EQ(r.dev->push_used(held[i].used(16)), RingError::ok);
  ASSERT_EQ(r.dev->flush(), RingError::ok);
  EXPECT_EQ(r.dev->state(), (RingState{0, false, 0, false}));
  std::set<uint64_t> back;
  UsedBuffer u;
  while (back.size() <= num && r.drv->get_used(u).value)
    EXPECT_TRUE(back.insert(u.token).second) << "duplicate " << u.token;
  EXPECT_EQ(back.size(), num);
  EXPECT_EQ(r.drv->num_free(), num);
  // And a further lap on the new device.
  for (uint64_t t = 100; t < 100 + num; ++t) {
    const Segment s = r.seg(t, 16);
    ASSERT_EQ(r.drv->add(std::span(&s, 1), {}, t), RingError::ok);
  }
  Chain c;
  for (uint32_t i = 0; i < num; ++i) {
    ASSERT_TRUE(r.dev->pop(c).value);
    ASSERT_EQ(r.dev->push_used(c.used(0)), RingError::ok);
  }
  ASSERT_EQ(r.dev->flush(), RingError::ok);
  for (uint64_t t = 100; t < 100 + num; ++t) {
    ASSERT_TRUE(r.drv->get_used(u).value);
    EXPECT_EQ(u.token, t);
  }
  EXPECT_FALSE(r.dev->broken());
  EXPECT_FALSE(r.drv->broken());
}

// After a restore the device area's flags are unknown to the new device, so
// enabling notifications must really write them: the old device had left
// DISABLE there, and a skipped write would lose every kick.
TEST(PackedState, P10_RestoredDeviceRewritesEventFlags) {
  for (const Features f : {Features{}, Features{feature_bit(VIRTIO_RING_F_EVENT_IDX)}}) {
    PackedStateRig r(8, f);
    r.dev->disable_notifications();
    r.migrate();
    EXPECT_FALSE(r.dev->enable_notifications());
    const uint16_t flags = testing::get16(r.gm(), r.layout().device_event + packed_off::event_flags);
    EXPECT_EQ(flags, f.event_idx() ? kEventFlagDesc : kEventFlagEnable);
    const Segment s = r.seg(0, 8);
    ASSERT_EQ(r.drv->add(std::span(&s, 1), {}, 1), RingError::ok);
    EXPECT_TRUE(r.drv->kick_prepare()) << "event_idx " << f.event_idx();
  }
}

class PackedStateMidStream : public ::testing::TestWithParam<uint32_t> {};

// Random traffic with lists of several shapes, completions out of order,
// and a migration on about one iteration in three. Buffers the old device
// had taken but not completed are completed by the new one (what inflight
// tracking, VU4, gives a real back-end). Every token must come back exactly
// once with its length, across several laps.
TEST_P(PackedStateMidStream, VU2_NoBufferLostOrDuplicatedAcrossMigrations) {
  const uint32_t num = GetParam();
  PackedStateRig r(num);
  std::mt19937 rng(num * 7919u);
  std::map<uint64_t, uint32_t> in_flight;  // token -> length the device will report
  std::set<uint64_t> returned;
  std::deque<Chain> held;  // taken by a device, not yet completed
  uint64_t next_token = 1;
  uint64_t slots_used = 0;
  const uint32_t max_list = std::min<uint32_t>(num, 4);
  const uint64_t target_slots = 6ull * num + 200;

  auto reap = [&] {
    UsedBuffer u;
    for (;;) {
      const Result<bool> g = r.drv->get_used(u);
      ASSERT_TRUE(g.ok()) << name(g.error);
      if (!g.value) return;
      auto it = in_flight.find(u.token);
      ASSERT_NE(it, in_flight.end()) << "token " << u.token << " returned twice or never sent";
      EXPECT_EQ(u.len, it->second);
      in_flight.erase(it);
      EXPECT_TRUE(returned.insert(u.token).second);
    }
  };

  // Bounded, so that a ring that stops moving fails instead of hanging.
  for (uint64_t iter = 0; slots_used < target_slots; ++iter) {
    ASSERT_LT(iter, 40 * target_slots) << "no progress: driver out of space and nothing comes back";
    // Driver adds a few buffers.
    for (uint32_t n = rng() % 4; n > 0; --n) {
      const uint32_t total = 1 + rng() % max_list;
      const uint32_t nin = rng() % (total + 1);
      std::vector<Segment> out, in;
      uint32_t wlen = 0;
      for (uint32_t i = 0; i < total - nin; ++i) out.push_back(r.seg(next_token + i, 8 + i));
      for (uint32_t i = 0; i < nin; ++i) {
        in.push_back(r.seg(next_token + 16 + i, 32 + i));
        wlen += 32 + i;
      }
      const RingError e = r.drv->add(out, in, next_token);
      if (e == RingError::no_space) break;
      ASSERT_EQ(e, RingError::ok);
      in_flight[next_token] = wlen / 2;
      ++next_token;
      slots_used += total;
    }
    // Device takes some.
    for (uint32_t n = rng() % 5; n > 0; --n) {
      Chain c;
      const Result<bool> p = r.dev->pop(c);
      ASSERT_TRUE(p.ok()) << name(p.error);
      if (!p.value) break;
      held.push_back(c);
    }
    // Device completes some of what it holds, in random order, one flush.
    for (uint32_t n = held.empty() ? 0 : rng() % (held.size() + 1); n > 0; --n) {
      const size_t k = rng() % held.size();
      const Chain& c = held[k];
      ASSERT_EQ(r.dev->push_used(c.used(static_cast<uint32_t>(c.writable_bytes / 2))), RingError::ok);
      held.erase(held.begin() + static_cast<std::ptrdiff_t>(k));
    }
    ASSERT_EQ(r.dev->flush(), RingError::ok);
    if (rng() % 2) reap();
    if (rng() % 3 == 0) r.migrate();
  }

  // Drain everything through the last device.
  for (;;) {
    Chain c;
    const Result<bool> p = r.dev->pop(c);
    ASSERT_TRUE(p.ok()) << name(p.error);
    if (!p.value) break;
    held.push_back(c);
    ASSERT_LE(held.size(), num) << "more buffers taken than the ring holds";
  }
  for (const Chain& c : held)
    ASSERT_EQ(r.dev->push_used(c.used(static_cast<uint32_t>(c.writable_bytes / 2))), RingError::ok);
  ASSERT_EQ(r.dev->flush(), RingError::ok);
  reap();

  EXPECT_TRUE(in_flight.empty()) << in_flight.size() << " buffers lost";
  EXPECT_EQ(returned.size(), next_token - 1);
  EXPECT_EQ(r.drv->num_free(), num);
  EXPECT_EQ(r.dev->last_avail_idx(), r.drv->next_avail_idx());
  EXPECT_EQ(r.dev->avail_wrap_counter(), r.drv->avail_wrap_counter());
  EXPECT_EQ(r.dev->last_used_idx(), r.drv->last_used_idx());
  EXPECT_EQ(r.dev->used_wrap_counter(), r.drv->used_wrap_counter());
  EXPECT_GE(slots_used, 6ull * num) << "several laps";
  EXPECT_GE(r.migrations, 10u);
  EXPECT_GE(r.mixed_lap_migrations, 1u) << "some migration saw avail and used in different laps";
  EXPECT_FALSE(r.drv->broken());
  EXPECT_FALSE(r.dev->broken());
}

INSTANTIATE_TEST_SUITE_P(QueueSizes, PackedStateMidStream, ::testing::Values(2u, 8u, 256u, 1000u));

}  // namespace
}  // namespace virtiosim::ring
