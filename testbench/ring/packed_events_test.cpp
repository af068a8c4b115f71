// Packed ring notifications and optional features: event suppression in
// every mode on both sides (P10), EVENT_IDX windows across the wrap boundary
// (P11), the enable/recheck race, enable_cb_delayed placement, notification
// data (P12), IN_ORDER batches (P8), indirect tables through IndirectPool
// (P7) and detach_unused after a queue reset (P15). Expected numbers of kicks
// and signals are computed by hand in the comments next to each script.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "models/ring/indirect_pool.h"
#include "models/ring/packed_device.h"
#include "models/ring/packed_driver.h"
#include "testbench/ring/guest_memory.h"
#include "testbench/ring/packed_test_support.h"

namespace virtiosim::ring {
namespace {

using testing::GuestMemory;

constexpr Features kEventIdx{feature_bit(VIRTIO_RING_F_EVENT_IDX)};

class Rig {
 public:
  explicit Rig(uint32_t num, Features f = {}, DriverOptions dopts = {}, uint64_t extra = 0)
      : gm_(PackedLayout::contiguous_bytes(num) + 0x10000 + extra),
        layout_(PackedLayout::place(gm_.alloc(PackedLayout::contiguous_bytes(num)), num)),
        data_(gm_.alloc(0x8000)),
        pool_base_(extra ? gm_.alloc(extra) : 0),
        dopts_(dopts) {
    drv.emplace(gm_.native(), layout_, f, dopts_);
    dev.emplace(gm_.native(), layout_, f);
  }

  Segment seg(uint32_t i, uint32_t len = 64) const { return {data_ + (uint64_t{i} % 512) * 64, len}; }

  // One single-segment device-writable buffer.
  void add1(uint64_t token) {
    const Segment s = seg(static_cast<uint32_t>(token));
    ASSERT_EQ(drv->add({}, std::span(&s, 1), token), RingError::ok);
  }

  // Device pops up to `n` buffers (all if n == 0); returns how many.
  uint32_t pop(uint32_t n = 0) {
    uint32_t got = 0;
    Chain c;
    while (n == 0 || got < n) {
      const Result<bool> r = dev->pop(c);
      EXPECT_TRUE(r.ok()) << name(r.error);
      if (!r.ok() || !r.value) break;
      popped.push_back(c);
      if (++got > layout_.num) {
        ADD_FAILURE() << "more buffers popped than the ring holds";
        break;
      }
    }
    return got;
  }

  // Device completes the `n` oldest popped buffers in one flush.
  void complete(uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) {
      ASSERT_FALSE(popped.empty());
      ASSERT_EQ(dev->push_used(popped.front().used(static_cast<uint32_t>(popped.front().writable_bytes))),
                RingError::ok);
      popped.pop_front();
    }
    ASSERT_EQ(dev->flush(), RingError::ok);
  }

  uint32_t reap() {
    uint32_t got = 0;
    UsedBuffer u;
    for (;;) {
      const Result<bool> r = drv->get_used(u);
      EXPECT_TRUE(r.ok()) << name(r.error);
      if (!r.ok() || !r.value) break;
      if (++got > layout_.num) {
        ADD_FAILURE() << "more buffers returned than the ring holds";
        break;
      }
    }
    return got;
  }

  // Moves both sides `k` slots on with single buffers, then clears both
  // sides' "since last check" counters so scripts start from zero.
  void advance(uint32_t k) {
    uint64_t token = 1u << 20;
    while (k > 0) {
      const uint32_t n = std::min<uint32_t>(k, drv->num_free());
      ASSERT_GT(n, 0u) << "driver has no free descriptors";
      for (uint32_t i = 0; i < n; ++i) add1(token++);
      ASSERT_EQ(pop(), n);
      complete(n);
      ASSERT_EQ(reap(), n);
      k -= n;
    }
    (void)drv->kick_prepare();
    (void)dev->should_signal();
  }

  // Plays the other side's event suppression structure by hand.
  void set_device_area(uint16_t off_wrap, uint16_t flags) {
    testing::set16(gm_, layout_.device_event + packed_off::event_off_wrap, off_wrap);
    testing::set16(gm_, layout_.device_event + packed_off::event_flags, flags);
  }
  void set_driver_area(uint16_t off_wrap, uint16_t flags) {
    testing::set16(gm_, layout_.driver_event + packed_off::event_off_wrap, off_wrap);
    testing::set16(gm_, layout_.driver_event + packed_off::event_flags, flags);
  }
  uint16_t driver_area(uint64_t off) const { return testing::get16(gm_, layout_.driver_event + off); }
  uint16_t device_area(uint64_t off) const { return testing::get16(gm_, layout_.device_event + off); }

  GuestMemory& gm() { return gm_; }
  const PackedLayout& layout() const { return layout_; }
  uint64_t pool_base() const { return pool_base_; }

  std::optional<PackedDriver<>> drv;
  std::optional<PackedDevice<>> dev;
  std::deque<Chain> popped;

 private:
  GuestMemory gm_;
  PackedLayout layout_;
  uint64_t data_;
  uint64_t pool_base_;
  DriverOptions dopts_;
};

// ---------------------------------------------------------------------------
// P10: available-buffer notifications (driver's kick_prepare) per mode.

TEST(PackedEvents, P10_KicksWithFlagsEnableAndDisable) {
  Rig r(16);
  std::vector<bool> got;
  r.add1(1);
  got.push_back(r.drv->kick_prepare());  // ENABLE: kick
  r.add1(2);
  r.add1(3);
  got.push_back(r.drv->kick_prepare());  // ENABLE: kick
  r.dev->disable_notifications();
  EXPECT_EQ(r.device_area(packed_off::event_flags), kEventFlagDisable);
  r.add1(4);
  got.push_back(r.drv->kick_prepare());  // DISABLE: none
  r.add1(5);
  r.add1(6);
  got.push_back(r.drv->kick_prepare());  // DISABLE: none
  // Six buffers are waiting: enabling reports them (the race of P10).
  EXPECT_TRUE(r.dev->enable_notifications());
  EXPECT_EQ(r.device_area(packed_off::event_flags), kEventFlagEnable);
  r.add1(7);
  got.push_back(r.drv->kick_prepare());  // ENABLE: kick
  EXPECT_EQ(got, (std::vector<bool>{true, true, false, false, true}));
  EXPECT_EQ(r.drv->stats().kicks, 3u);
  EXPECT_EQ(r.drv->stats().kicks_suppressed, 2u);
}

// P10, P11 with EVENT_IDX: the device asks for a kick when the descriptor
// at its last_avail_idx becomes available.
TEST(PackedEvents, P10_P11_KicksWithFlagsDesc) {
  Rig r(16, kEventIdx);
  EXPECT_FALSE(r.dev->enable_notifications());  // event at slot 0
  EXPECT_EQ(r.device_area(packed_off::event_flags), kEventFlagDesc);
  EXPECT_EQ(r.device_area(packed_off::event_off_wrap), 0 | kEventWrapBit);
  std::vector<bool> got;
  r.add1(1);                             // slot 0
  got.push_back(r.drv->kick_prepare());  // window [0,0] holds 0: kick
  r.add1(2);                             // slot 1
  got.push_back(r.drv->kick_prepare());  // [1,1]: none
  r.add1(3);
  r.add1(4);                             // slots 2, 3
  got.push_back(r.drv->kick_prepare());  // [2,3]: none
  EXPECT_EQ(r.pop(), 4u);
  EXPECT_FALSE(r.dev->enable_notifications());  // event at slot 4
  EXPECT_EQ(r.device_area(packed_off::event_off_wrap), 4 | kEventWrapBit);
  r.add1(5);
  r.add1(6);
  r.add1(7);                             // slots 4..6
  got.push_back(r.drv->kick_prepare());  // [4,6] holds 4: kick
  EXPECT_EQ(r.pop(1), 1u);
  EXPECT_TRUE(r.dev->enable_notifications()) << "slot 5 is already available: the race";
  r.add1(8);                             // slot 7
  got.push_back(r.drv->kick_prepare());  // event 5 not in [7,7]: none
  r.dev->disable_notifications();
  r.add1(9);
  got.push_back(r.drv->kick_prepare());  // DISABLE: none
  EXPECT_EQ(got, (std::vector<bool>{true, false, false, true, false, false}));
  EXPECT_EQ(r.drv->stats().kicks, 2u);
  EXPECT_EQ(r.drv->stats().kicks_suppressed, 4u);
}

// ---------------------------------------------------------------------------
// P10: used-buffer notifications (device's should_signal) per mode.

TEST(PackedEvents, P10_SignalsWithFlagsEnableAndDisable) {
  Rig r(16);
  for (uint64_t t = 1; t <= 6; ++t) r.add1(t);
  ASSERT_EQ(r.pop(), 6u);
  std::vector<bool> got;
  r.complete(1);
  got.push_back(r.dev->should_signal());  // ENABLE: signal
  got.push_back(r.dev->should_signal());  // nothing new: none (not counted)
  r.complete(2);
  got.push_back(r.dev->should_signal());  // ENABLE: signal
  r.drv->disable_cb();
  EXPECT_EQ(r.driver_area(packed_off::event_flags), kEventFlagDisable);
  r.complete(1);
  got.push_back(r.dev->should_signal());  // DISABLE: none
  EXPECT_EQ(r.reap(), 4u);
  EXPECT_FALSE(r.drv->enable_cb()) << "nothing used after the four reaped";
  r.complete(1);
  got.push_back(r.dev->should_signal());  // ENABLE: signal
  r.drv->disable_cb();
  r.complete(1);
  got.push_back(r.dev->should_signal());  // DISABLE: none
  EXPECT_TRUE(r.drv->enable_cb()) << "two used buffers are waiting: the race";
  EXPECT_EQ(got, (std::vector<bool>{true, false, true, false, true, false}));
  EXPECT_EQ(r.dev->stats().signals, 3u);
  EXPECT_EQ(r.dev->stats().signals_suppressed, 2u);
}

TEST(PackedEvents, P10_P11_SignalsWithFlagsDesc) {
  Rig r(16, kEventIdx);
  EXPECT_FALSE(r.drv->enable_cb());  // event at slot 0
  EXPECT_EQ(r.driver_area(packed_off::event_flags), kEventFlagDesc);
  EXPECT_EQ(r.driver_area(packed_off::event_off_wrap), 0 | kEventWrapBit);
  for (uint64_t t = 1; t <= 9; ++t) r.add1(t);
  ASSERT_EQ(r.pop(), 9u);
  std::vector<bool> got;
  r.complete(1);                          // used slot 0
  got.push_back(r.dev->should_signal());  // [0,0] holds 0: signal
  r.complete(1);                          // slot 1
  got.push_back(r.dev->should_signal());  // none
  r.complete(2);                          // slots 2, 3
  got.push_back(r.dev->should_signal());  // none
  EXPECT_EQ(r.reap(), 4u);
  EXPECT_FALSE(r.drv->enable_cb());       // event at slot 4
  EXPECT_EQ(r.driver_area(packed_off::event_off_wrap), 4 | kEventWrapBit);
  r.complete(3);                          // slots 4..6 in one flush
  got.push_back(r.dev->should_signal());  // [4,6] holds 4: signal
  r.complete(1);                          // slot 7
  got.push_back(r.dev->should_signal());  // none
  EXPECT_EQ(r.reap(), 4u);                // now at slot 8
  r.drv->disable_cb();
  r.complete(1);                          // slot 8
  got.push_back(r.dev->should_signal());  // DISABLE: none
  EXPECT_TRUE(r.drv->enable_cb()) << "slot 8 is already used: the race";
  EXPECT_EQ(got, (std::vector<bool>{true, false, false, true, false, false}));
  EXPECT_EQ(r.dev->stats().signals, 2u);
  EXPECT_EQ(r.dev->stats().signals_suppressed, 4u);
}

// ---------------------------------------------------------------------------
// P11 across the wrap boundary, on a power-of-two and a non-power-of-two
// queue. Both sides start at slot num-3 of lap 1 (wrap counter 1).

class PackedEventsWrap : public ::testing::TestWithParam<uint32_t> {};

// Device area written by hand: event offsets in the next lap (wrap bit 0),
// in the current lap seen from the next, and one lap stale.
TEST_P(PackedEventsWrap, P11_KickWindowAcrossWrap) {
  const uint32_t num = GetParam();
  {
    Rig r(num, kEventIdx);
    r.advance(num - 3);
    r.set_device_area(1, kEventFlagDesc);  // slot 1 of lap 0
    r.add1(1);
    r.add1(2);                               // num-3, num-2
    EXPECT_FALSE(r.drv->kick_prepare());
    r.add1(3);
    r.add1(4);                               // num-1, 0: driver now in lap 0
    EXPECT_FALSE(r.drv->avail_wrap_counter());
    EXPECT_FALSE(r.drv->kick_prepare());
    r.add1(5);                               // slot 1
    EXPECT_TRUE(r.drv->kick_prepare());
  }
  {
    Rig r(num, kEventIdx);
    r.advance(num - 3);
    // Event at num-1 of lap 1; four buffers cross into lap 0, so the
    // driver compares against the other lap's offset (off - num).
    r.set_device_area(static_cast<uint16_t>((num - 1) | kEventWrapBit), kEventFlagDesc);
    for (uint64_t t = 1; t <= 4; ++t) r.add1(t);
    EXPECT_TRUE(r.drv->kick_prepare());
  }
  {
    Rig r(num, kEventIdx);
    r.advance(num - 3);
    // Event at num-4 of lap 1: already behind the window num-3 .. 0.
    r.set_device_area(static_cast<uint16_t>((num - 4) | kEventWrapBit), kEventFlagDesc);
    for (uint64_t t = 1; t <= 4; ++t) r.add1(t);
    EXPECT_FALSE(r.drv->kick_prepare());
  }
  {
    Rig r(num, kEventIdx);
    r.advance(num - 3);
    EXPECT_FALSE(r.dev->enable_notifications());
    EXPECT_EQ(r.device_area(packed_off::event_off_wrap), (num - 3) | kEventWrapBit);
    for (uint64_t t = 1; t <= 5; ++t) r.add1(t);  // num-3 .. 1
    EXPECT_TRUE(r.drv->kick_prepare());
    ASSERT_EQ(r.pop(), 5u);
    EXPECT_FALSE(r.dev->enable_notifications());
    EXPECT_EQ(r.device_area(packed_off::event_off_wrap), 2) << "lap 0: wrap bit clear";
    r.add1(6);  // slot 2 of lap 0
    EXPECT_TRUE(r.drv->kick_prepare());
  }
}

TEST_P(PackedEventsWrap, P11_SignalWindowAcrossWrap) {
  const uint32_t num = GetParam();
  auto setup = [&](Rig& r) {
    r.advance(num - 3);
    for (uint64_t t = 1; t <= 6; ++t) r.add1(t);  // num-3 .. 2
    ASSERT_EQ(r.pop(), 6u);
  };
  {
    Rig r(num, kEventIdx);
    setup(r);
    r.set_driver_area(1, kEventFlagDesc);  // slot 1 of lap 0
    r.complete(2);                         // num-3, num-2
    EXPECT_FALSE(r.dev->should_signal());
    r.complete(2);                         // num-1, 0: device now in lap 0
    EXPECT_FALSE(r.dev->used_wrap_counter());
    EXPECT_FALSE(r.dev->should_signal());
    r.complete(1);                         // slot 1
    EXPECT_TRUE(r.dev->should_signal());
  }
  {
    Rig r(num, kEventIdx);
    setup(r);
    r.set_driver_area(static_cast<uint16_t>((num - 1) | kEventWrapBit), kEventFlagDesc);
    r.complete(4);  // num-3 .. 0 in one flush
    EXPECT_TRUE(r.dev->should_signal());
  }
  {
    Rig r(num, kEventIdx);
    setup(r);
    r.set_driver_area(static_cast<uint16_t>((num - 4) | kEventWrapBit), kEventFlagDesc);
    r.complete(4);
    EXPECT_FALSE(r.dev->should_signal());
  }
  {
    Rig r(num, kEventIdx);
    setup(r);
    EXPECT_FALSE(r.drv->enable_cb());
    EXPECT_EQ(r.driver_area(packed_off::event_off_wrap), (num - 3) | kEventWrapBit);
    r.complete(5);  // num-3 .. 1
    EXPECT_TRUE(r.dev->should_signal());
    EXPECT_EQ(r.reap(), 5u);
    EXPECT_FALSE(r.drv->enable_cb());
    EXPECT_EQ(r.driver_area(packed_off::event_off_wrap), 2) << "lap 0: wrap bit clear";
    r.complete(1);  // slot 2 of lap 0
    EXPECT_TRUE(r.dev->should_signal());
  }
}

// enable_cb_delayed: with EVENT_IDX the event lands 3/4 of the outstanding
// descriptors ahead (Linux virtqueue_enable_cb_delayed), also across the
// wrap, and the device signals exactly when that slot is used.
TEST_P(PackedEventsWrap, P11_EnableCbDelayedPlacement) {
  const uint32_t num = GetParam();
  for (const uint32_t start : {0u, num - 4}) {
    Rig r(num, kEventIdx);
    r.advance(start);
    for (uint64_t t = 1; t <= 16; ++t) r.add1(t);  // 16 outstanding: event 12 ahead
    EXPECT_FALSE(r.drv->enable_cb_delayed());
    const uint32_t at = (start + 12) % num;
    const bool lap1 = start + 12 < num;
    EXPECT_EQ(r.driver_area(packed_off::event_off_wrap), at | (lap1 ? kEventWrapBit : 0)) << start;
    EXPECT_EQ(r.driver_area(packed_off::event_flags), kEventFlagDesc);
    ASSERT_EQ(r.pop(), 16u);
    std::vector<uint32_t> signalled;
    for (uint32_t i = 0; i < 16; ++i) {
      r.complete(1);
      if (r.dev->should_signal()) signalled.push_back(i);
    }
    EXPECT_EQ(signalled, std::vector<uint32_t>{12}) << start;
  }
  {
    // Lists: four lists of four descriptors; the event (12 ahead) is the
    // fourth list's head, so its completion is the one that signals.
    Rig r(num, kEventIdx);
    std::vector<Segment> segs(4, r.seg(0));
    for (uint64_t t = 1; t <= 4; ++t) ASSERT_EQ(r.drv->add({}, segs, t), RingError::ok);
    EXPECT_FALSE(r.drv->enable_cb_delayed());
    EXPECT_EQ(r.driver_area(packed_off::event_off_wrap), 12 | kEventWrapBit);
    ASSERT_EQ(r.pop(), 4u);
    std::vector<bool> got;
    for (int i = 0; i < 4; ++i) {
      r.complete(1);
      got.push_back(r.dev->should_signal());
    }
    EXPECT_EQ(got, (std::vector<bool>{false, false, false, true}));
  }
  {
    // The named slot is already used: report it (the race).
    Rig r(num, kEventIdx);
    for (uint64_t t = 1; t <= 16; ++t) r.add1(t);
    ASSERT_EQ(r.pop(), 16u);
    r.complete(13);
    EXPECT_TRUE(r.drv->enable_cb_delayed());
  }
}

INSTANTIATE_TEST_SUITE_P(QueueSizes, PackedEventsWrap, ::testing::Values(256u, 1000u));

// ---------------------------------------------------------------------------
// P12: notification data = vqn | next_off << 16 | next_wrap << 31.

TEST(PackedEvents, P12_NotificationData) {
  Rig r(8, Features{feature_bit(VIRTIO_F_NOTIFICATION_DATA)});
  EXPECT_EQ(r.drv->notification_data(5), 0x80000005u);
  EXPECT_EQ(r.drv->notification_data(0xffff), 0x8000ffffu);
  std::vector<Segment> three(3, r.seg(0));
  ASSERT_EQ(r.drv->add(three, {}, 1), RingError::ok);  // slots 0..2
  EXPECT_EQ(r.drv->notification_data(5), 0x80030005u);
  ASSERT_EQ(r.pop(), 1u);
  r.complete(1);
  ASSERT_EQ(r.reap(), 1u);
  for (uint64_t t = 2; t <= 7; ++t) r.add1(t);  // slots 3..7, 0: next is 1 of lap 0
  EXPECT_EQ(r.drv->notification_data(5), 0x00010005u);
  EXPECT_EQ(r.drv->notification_data(2), 0x00010002u);
  ASSERT_EQ(r.pop(), 6u);
  r.complete(6);
  ASSERT_EQ(r.reap(), 6u);
  for (uint64_t t = 8; t <= 14; ++t) r.add1(t);  // slots 1..7: next is 0 of lap 1
  EXPECT_EQ(r.drv->notification_data(5), 0x80000005u);
}

// ---------------------------------------------------------------------------
// P8 IN_ORDER: one used descriptor per batch, carrying the last id.

TEST(PackedEvents, P8_InOrderBatchesOverSeveralLaps) {
  const uint32_t num = 16;
  Rig r(num, Features{feature_bit(VIRTIO_F_IN_ORDER)});
  // Each round: the list shapes of one batch as {readable, writable}.
  const std::vector<std::vector<std::pair<uint32_t, uint32_t>>> rounds = {
      {{1, 0}, {1, 1}, {0, 2}, {2, 1}},  // 1+2+2+3 = 8 slots
      {{0, 1}, {1, 2}, {0, 1}},          // 5, crosses nothing yet (8..12)
      {{2, 2}, {1, 0}},                  // 13..15, 0..1: crosses the end
      {{1, 0}},                          // a batch of one
      {{0, 3}, {0, 3}, {0, 3}, {0, 3}, {1, 2}},  // 15 slots, crosses again
      {{4, 4}, {0, 1}, {3, 4}},                  // 16 slots: a full lap
      {{0, 1}, {0, 1}},
  };
  uint64_t token = 1;
  uint64_t descs_written = 0;
  for (const auto& shapes : rounds) {
    const uint16_t start = r.drv->next_avail_idx();
    const bool start_lap = r.drv->avail_wrap_counter();
    std::vector<uint64_t> tokens;
    std::vector<uint32_t> writable;
    for (const auto& [nr, nw] : shapes) {
      std::vector<Segment> out, in;
      uint32_t wlen = 0;
      for (uint32_t i = 0; i < nr; ++i) out.push_back(r.seg(i, 10 + i));
      for (uint32_t i = 0; i < nw; ++i) {
        in.push_back(r.seg(8 + i, 100 + 10 * i));
        wlen += 100 + 10 * i;
      }
      ASSERT_EQ(r.drv->add(out, in, token), RingError::ok);
      tokens.push_back(token++);
      writable.push_back(wlen);
    }
    ASSERT_EQ(r.pop(), shapes.size());
    const Chain last = r.popped.back();
    const uint32_t last_len = 7;
    // Device: fills every skipped buffer completely (only those may share a
    // used descriptor); the last one reports 7 bytes.
    while (!r.popped.empty()) {
      const Chain& c = r.popped.front();
      const uint32_t len = r.popped.size() == 1 ? last_len : static_cast<uint32_t>(c.writable_bytes);
      ASSERT_EQ(r.dev->push_used(c.used(len)), RingError::ok);
      r.popped.pop_front();
    }
    ASSERT_EQ(r.dev->flush(), RingError::ok);
    ++descs_written;
    EXPECT_EQ(r.dev->stats().used_descs_written, descs_written) << "P8: one used descriptor per batch";
    const vring_packed_desc d = testing::get_slot(r.gm(), r.layout(), start);
    EXPECT_EQ(d.id, last.id);
    EXPECT_EQ(d.len, last_len);
    EXPECT_EQ(d.flags, testing::used_bits(start_lap) | (last.writable.empty() ? 0 : kDescWrite));
    // The batch's other slots still hold what the driver wrote: not used.
    uint32_t slots = 0;
    for (const auto& [nr, nw] : shapes) slots += nr + nw;
    for (uint32_t i = 1; i < slots; ++i) {
      const uint32_t s = (start + i) % num;
      const bool lap = (start + i < num) ? start_lap : !start_lap;
      const uint16_t f = testing::get_slot(r.gm(), r.layout(), s).flags;
      EXPECT_EQ(f & (kDescAvail | kDescUsed), testing::avail_bits(lap)) << "slot " << s;
    }
    // Driver: every buffer, in order, with its token.
    UsedBuffer u;
    for (size_t i = 0; i < tokens.size(); ++i) {
      const Result<bool> g = r.drv->get_used(u);
      ASSERT_TRUE(g.ok() && g.value) << name(g.error);
      EXPECT_EQ(u.token, tokens[i]);
      EXPECT_EQ(u.len, i + 1 == tokens.size() ? last_len : writable[i])
          << "skipped buffers report their writable length";
    }
    EXPECT_FALSE(r.drv->get_used(u).value);
    EXPECT_EQ(r.drv->num_free(), num);
    EXPECT_EQ(r.drv->last_used_idx(), r.dev->last_used_idx());
    EXPECT_EQ(r.drv->used_wrap_counter(), r.dev->used_wrap_counter());
  }
  EXPECT_EQ(r.drv->stats().used, token - 1);
  EXPECT_FALSE(r.drv->used_wrap_counter()) << "the rounds cover an odd number of laps";
}

// P8 + P10: while a batch is only partly taken, enable_cb reports work.
TEST(PackedEvents, P8_InOrderEnableCbSeesRestOfBatch) {
  Rig r(8, Features{feature_bit(VIRTIO_F_IN_ORDER) | feature_bit(VIRTIO_RING_F_EVENT_IDX)});
  for (uint64_t t = 1; t <= 3; ++t) r.add1(t);
  ASSERT_EQ(r.pop(), 3u);
  r.complete(3);
  UsedBuffer u;
  ASSERT_TRUE(r.drv->get_used(u).value);
  EXPECT_EQ(u.token, 1u);
  EXPECT_TRUE(r.drv->enable_cb()) << "two buffers of the batch are still to be taken";
  EXPECT_EQ(r.reap(), 2u);
  EXPECT_FALSE(r.drv->enable_cb());
}

// ---------------------------------------------------------------------------
// P7: indirect tables through IndirectPool, and the fallback to direct
// descriptors when no table is free.

TEST(PackedEvents, P7_IndirectPoolAndFallback) {
  const uint32_t num = 16, slots = 2, entries = 8;
  const uint64_t pool_bytes = IndirectPool::bytes(slots, entries);
  const Features f{feature_bit(VIRTIO_RING_F_INDIRECT_DESC)};
  // The rig reserves guest memory for the pool; the driver is rebuilt on
  // the fresh ring with the pool attached.
  Rig r(num, f, {}, pool_bytes);
  std::optional<IndirectPool> pool;
  pool.emplace(r.pool_base(), slots, entries);
  r.drv.emplace(r.gm().native(), r.layout(), f, DriverOptions{.indirect_pool = &*pool});

  struct Buf {
    std::vector<Segment> out, in;
    bool indirect;
    uint16_t count;
  };
  auto segs = [&](uint32_t first, uint32_t n) {
    std::vector<Segment> v;
    for (uint32_t i = 0; i < n; ++i) v.push_back(r.seg(first + i, 16 + first + i));
    return v;
  };
  std::vector<Buf> bufs = {
      {segs(0, 2), segs(2, 1), true, 1},    // table 1
      {segs(3, 1), segs(4, 2), true, 1},    // table 2: pool now empty
      {segs(6, 2), segs(8, 1), false, 3},   // fallback: 3 direct descriptors
      {segs(9, 1), {}, false, 1},           // single segment: direct by threshold
      {segs(10, 5), segs(15, 4), false, 9}, // 9 > entries per table: fallback
  };
  for (size_t i = 0; i < bufs.size(); ++i)
    ASSERT_EQ(r.drv->add(bufs[i].out, bufs[i].in, 100 + i), RingError::ok) << i;
  EXPECT_EQ(r.drv->stats().indirect, 2u);
  EXPECT_EQ(r.drv->stats().indirect_fallbacks, 2u);
  EXPECT_EQ(pool->free_slots(), 0u);
  EXPECT_EQ(r.drv->num_free(), num - (1 + 1 + 3 + 1 + 9));

  ASSERT_EQ(r.pop(), bufs.size());
  for (size_t i = 0; i < bufs.size(); ++i) {
    const Chain& c = r.popped[i];
    EXPECT_EQ(c.indirect, bufs[i].indirect) << i;
    EXPECT_EQ(c.count, bufs[i].count) << i;
    ASSERT_EQ(c.readable.size(), bufs[i].out.size()) << i;
    ASSERT_EQ(c.writable.size(), bufs[i].in.size()) << i;
    for (size_t k = 0; k < c.readable.size(); ++k) {
      EXPECT_EQ(c.readable[k].addr, bufs[i].out[k].addr);
      EXPECT_EQ(c.readable[k].len, bufs[i].out[k].len);
    }
    for (size_t k = 0; k < c.writable.size(); ++k) {
      EXPECT_EQ(c.writable[k].addr, bufs[i].in[k].addr);
      EXPECT_EQ(c.writable[k].len, bufs[i].in[k].len);
    }
  }
  r.complete(static_cast<uint32_t>(bufs.size()));
  UsedBuffer u;
  for (size_t i = 0; i < bufs.size(); ++i) {
    ASSERT_TRUE(r.drv->get_used(u).value);
    EXPECT_EQ(u.token, 100 + i);
  }
  EXPECT_EQ(pool->free_slots(), slots) << "tables return to the pool with their buffers";
  EXPECT_EQ(r.drv->num_free(), num);
  // The pool is usable again.
  ASSERT_EQ(r.drv->add(bufs[0].out, bufs[0].in, 200), RingError::ok);
  EXPECT_EQ(r.drv->stats().indirect, 3u);
  ASSERT_EQ(r.pop(), 1u);
  EXPECT_TRUE(r.popped.back().indirect);
  EXPECT_EQ(r.popped.back().count, 1);
}

// ---------------------------------------------------------------------------
// P15: detach_unused hands back every buffer in flight, frees their tables,
// and leaves a fresh ring that works again with a reset device.

TEST(PackedEvents, P15_DetachUnusedThenRingWorksAgain) {
  const uint32_t num = 8;
  const Features f{feature_bit(VIRTIO_RING_F_INDIRECT_DESC)};
  Rig r(num, f, {}, IndirectPool::bytes(2, 4));
  IndirectPool pool(r.pool_base(), 2, 4);
  r.drv.emplace(r.gm().native(), r.layout(), f, DriverOptions{.indirect_pool = &pool});

  const std::vector<Segment> two = {r.seg(0), r.seg(1)};
  r.add1(1);
  ASSERT_EQ(r.drv->add(two, {}, 2), RingError::ok);  // indirect
  r.add1(3);
  r.add1(4);
  EXPECT_EQ(pool.free_slots(), 1u);
  ASSERT_EQ(r.pop(2), 2u);
  r.complete(1);  // buffer 1 used but not yet taken by the driver

  std::vector<uint64_t> tokens = r.drv->detach_unused();
  std::sort(tokens.begin(), tokens.end());
  EXPECT_EQ(tokens, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(r.drv->num_free(), num);
  EXPECT_EQ(pool.free_slots(), 2u);
  EXPECT_EQ(r.drv->next_avail_idx(), 0);
  EXPECT_TRUE(r.drv->avail_wrap_counter());
  for (uint32_t s = 0; s < num; ++s) {
    const vring_packed_desc d = testing::get_slot(r.gm(), r.layout(), s);
    EXPECT_EQ(d.flags, 0) << "ring re-zeroed, slot " << s;
    EXPECT_EQ(d.addr, 0u);
  }
  UsedBuffer u;
  EXPECT_FALSE(r.drv->get_used(u).value);
  EXPECT_TRUE(r.drv->detach_unused().empty());

  r.dev->reset();
  r.popped.clear();
  std::mt19937 rng(7);
  std::deque<uint64_t> expect;
  uint64_t token = 10;
  for (int round = 0; round < 40; ++round) {
    const uint32_t n = 1 + rng() % 3;
    for (uint32_t i = 0; i < n; ++i) {
      const RingError e = (rng() % 2) ? r.drv->add(two, {}, token) : r.drv->add({}, std::span(&two[0], 1), token);
      if (e == RingError::no_space) break;
      ASSERT_EQ(e, RingError::ok);
      expect.push_back(token++);
    }
    r.pop();
    r.complete(static_cast<uint32_t>(r.popped.size()));
    for (;;) {
      const Result<bool> g = r.drv->get_used(u);
      ASSERT_TRUE(g.ok()) << name(g.error);
      if (!g.value) break;
      ASSERT_FALSE(expect.empty());
      EXPECT_EQ(u.token, expect.front());
      expect.pop_front();
    }
  }
  EXPECT_TRUE(expect.empty());
  EXPECT_GE(r.dev->stats().popped, 2 * num) << "several laps after the reset";
  EXPECT_EQ(r.drv->num_free(), num);
  EXPECT_EQ(pool.free_slots(), 2u);
  EXPECT_FALSE(r.drv->broken());
  EXPECT_FALSE(r.dev->broken());
}

}  // namespace
}  // namespace virtiosim::ring
