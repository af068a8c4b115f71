// Split ring notifications and ordering: NO_NOTIFY / NO_INTERRUPT flags,
// EVENT_IDX (avail_event, used_event) across the 16-bit index wrap on both
// sides with hand-counted kicks and signals, IN_ORDER batched used entries,
// notification data, save/restore into a fresh device, and the order of
// ring accesses and barriers seen through RecordingMemory.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>
#include <vector>

#include "models/ring/recording_memory.h"
#include "models/ring/split_device.h"
#include "models/ring/split_driver.h"
#include "testbench/ring/guest_memory.h"

namespace virtiosim::ring {
namespace {

using testing::GuestMemory;

constexpr uint64_t kEventIdx = feature_bit(VIRTIO_RING_F_EVENT_IDX);
constexpr uint64_t kInOrder = feature_bit(VIRTIO_F_IN_ORDER);

class SplitEvents : public ::testing::Test {
 protected:
  void make(uint32_t num, uint64_t features) {
    num_ = num;
    gm_.emplace(SplitLayout::contiguous_bytes(num) + 0x10000);
    layout_ = SplitLayout::place(gm_->alloc(SplitLayout::contiguous_bytes(num)), num);
    data_ = gm_->alloc(0x1000);
    drv_.emplace(gm_->native(), layout_, Features{features});
    dev_.emplace(gm_->native(), layout_, Features{features});
  }

  uint16_t get16(uint64_t gpa) const {
    uint16_t v;
    std::memcpy(&v, gm_->host(gpa), 2);
    return le::to_host(v);
  }
  uint32_t get32(uint64_t gpa) const {
    uint32_t v;
    std::memcpy(&v, gm_->host(gpa), 4);
    return le::to_host(v);
  }
  uint16_t used_flags() const { return get16(layout_.used + split_off::used_flags); }
  uint16_t avail_flags() const { return get16(layout_.avail + split_off::avail_flags); }
  uint16_t avail_event() const { return get16(layout_.avail_event_addr()); }
  uint16_t used_event() const { return get16(layout_.used_event_addr()); }
  uint16_t used_idx() const { return get16(layout_.used + split_off::used_idx); }

  void add(uint64_t token, uint32_t segs = 1, uint32_t len = 64) {
    std::vector<Segment> in(segs, Segment{data_, len});
    ASSERT_EQ(drv_->add({}, in, token), RingError::ok);
  }
  // Device: pop `n` buffers and complete each with its full writable length.
  void device_complete(uint32_t n) {
    Chain c;
    for (uint32_t k = 0; k < n; ++k) {
      auto r = dev_->pop(c);
      ASSERT_TRUE(r.ok() && r.value) << name(r.error);
      ASSERT_EQ(dev_->push_used(c.used(static_cast<uint32_t>(c.writable_bytes))), RingError::ok);
    }
  }
  std::vector<UsedBuffer> reap() {
    std::vector<UsedBuffer> out;
    UsedBuffer u;
    for (;;) {
      auto r = drv_->get_used(u);
      EXPECT_TRUE(r.ok()) << name(r.error);
      if (!r.ok() || !r.value) return out;
      out.push_back(u);
    }
  }
  // Move both sides' free-running indices forward by `total` buffers, with
  // every notification check done as a real loop would.
  void advance(uint32_t total) {
    while (total > 0) {
      const uint32_t n = std::min(total, num_);
      for (uint32_t k = 0; k < n; ++k) add(k);
      drv_->kick_prepare();
      device_complete(n);
      ASSERT_EQ(dev_->flush(), RingError::ok);
      dev_->should_signal();
      ASSERT_EQ(reap().size(), n);
      total -= n;
    }
  }

  uint32_t num_ = 0;
  uint64_t data_ = 0;
  std::optional<GuestMemory> gm_;
  SplitLayout layout_;
  std::optional<SplitDriver<>> drv_;
  std::optional<SplitDevice<>> dev_;
};

// Without EVENT_IDX the device's VRING_USED_F_NO_NOTIFY decides every kick.
TEST_F(SplitEvents, P10_NoNotifyFlagSuppressesKicks) {
  make(16, 0);
  add(1);
  EXPECT_TRUE(drv_->kick_prepare());
  dev_->disable_notifications();
  EXPECT_EQ(used_flags(), VRING_USED_F_NO_NOTIFY);
  add(2);
  EXPECT_FALSE(drv_->kick_prepare());
  add(3);
  add(4);
  EXPECT_FALSE(drv_->kick_prepare());
  EXPECT_TRUE(dev_->enable_notifications()) << "4 buffers wait: the caller must process them";
  EXPECT_EQ(used_flags(), 0);
  device_complete(4);
  EXPECT_FALSE(dev_->enable_notifications()) << "nothing pending any more";
  add(5);
  EXPECT_TRUE(drv_->kick_prepare());
  EXPECT_EQ(drv_->stats().kicks, 2u);
  EXPECT_EQ(drv_->stats().kicks_suppressed, 2u);
}

// Without EVENT_IDX the driver's VRING_AVAIL_F_NO_INTERRUPT decides every
// signal; enable_cb reports buffers used while callbacks were off.
TEST_F(SplitEvents, P10_NoInterruptFlagSuppressesSignals) {
  make(16, 0);
  add(1);
  device_complete(1);
  ASSERT_EQ(dev_->flush(), RingError::ok);
  EXPECT_TRUE(dev_->should_signal());
  EXPECT_FALSE(dev_->should_signal()) << "nothing new since the last check";
  drv_->disable_cb();
  EXPECT_EQ(avail_flags(), VRING_AVAIL_F_NO_INTERRUPT);
  add(2);
  add(3);
  device_complete(2);
  ASSERT_EQ(dev_->flush(), RingError::ok);
  EXPECT_FALSE(dev_->should_signal());
  EXPECT_TRUE(drv_->enable_cb()) << "buffers were used while callbacks were off";
  EXPECT_EQ(avail_flags(), 0);
  EXPECT_EQ(reap().size(), 3u);
  EXPECT_FALSE(drv_->enable_cb());
  add(4);
  device_complete(1);
  ASSERT_EQ(dev_->flush(), RingError::ok);
  EXPECT_TRUE(dev_->should_signal());
  EXPECT_EQ(dev_->stats().signals, 2u);
  EXPECT_EQ(dev_->stats().signals_suppressed, 1u);
}

// EVENT_IDX on the driver side across the avail idx wrap. Hand count:
//   avail_event 65534; add 4 (65534 -> 2): event in [65534, 2) -> kick
//   add 1 (2 -> 3): event behind -> none
//   avail_event 3; add 1 (3 -> 4) -> kick; add 1 (4 -> 5) -> none
//   device disables (EVENT_IDX: avail_event left at 3); add 1 -> none
// = 2 kicks, 3 suppressed. A comparison that ignores the u16 wrap gets the
// first one wrong.
TEST_F(SplitEvents, P11_EventIdxKicksAcrossAvailIdxWrap) {
  make(256, kEventIdx);
  advance(65534);
  ASSERT_EQ(drv_->avail_idx_shadow(), 65534);
  const DriverStats base = drv_->stats();
  EXPECT_FALSE(dev_->enable_notifications());
  EXPECT_EQ(avail_event(), 65534);
  EXPECT_EQ(used_flags(), 0) << "with EVENT_IDX the device MUST set flags to 0";
  for (int k = 0; k < 4; ++k) add(k);
  EXPECT_EQ(drv_->avail_idx_shadow(), 2);
  EXPECT_TRUE(drv_->kick_prepare());
  add(4);
  EXPECT_FALSE(drv_->kick_prepare());
  device_complete(5);
  EXPECT_FALSE(dev_->enable_notifications());
  EXPECT_EQ(avail_event(), 3);
  add(5);
  EXPECT_TRUE(drv_->kick_prepare());
  add(6);
  EXPECT_FALSE(drv_->kick_prepare());
  dev_->disable_notifications();
  EXPECT_EQ(avail_event(), 3);
  EXPECT_EQ(used_flags(), 0);
  add(7);
  EXPECT_FALSE(drv_->kick_prepare());
  EXPECT_EQ(drv_->stats().kicks - base.kicks, 2u);
  EXPECT_EQ(drv_->stats().kicks_suppressed - base.kicks_suppressed, 3u);
}

// EVENT_IDX on the device side across the used idx wrap, with
// enable_cb_delayed. Hand count:
//   last_used 65530, 8 in flight: used_event = 65530 + 8*3/4 = 0 (wrapped)
//   flush 4 (65530 -> 65534): 0 not in (65530, 65534] -> none
//   flush 4 (65534 -> 2): 0 in (65534, 2] -> signal
//   driver reaps 8 (used_event follows last_used: 2); flush 1 (2 -> 3) -> signal
//   disable_cb: used_event = 2 (one behind 3), flags stay 0; flush 3 -> none
//   enable_cb: used_event = 3, 3 already used -> pending; flush 1 -> none
//   (the window (6, 7] does not hold 3: the driver has not reaped them)
// = 2 signals, 3 suppressed.
TEST_F(SplitEvents, P11_EventIdxSignalsAcrossUsedIdxWrap) {
  make(256, kEventIdx);
  advance(65530);
  const DeviceStats base = dev_->stats();
  for (int k = 0; k < 8; ++k) add(k);
  EXPECT_FALSE(drv_->enable_cb_delayed());
  EXPECT_EQ(used_event(), 0);
  device_complete(4);
  ASSERT_EQ(dev_->flush(), RingError::ok);
  EXPECT_EQ(used_idx(), 65534);
  EXPECT_FALSE(dev_->should_signal());
  device_complete(4);
  ASSERT_EQ(dev_->flush(), RingError::ok);
  EXPECT_EQ(used_idx(), 2);
  EXPECT_TRUE(dev_->should_signal());
  EXPECT_EQ(reap().size(), 8u);
  EXPECT_EQ(used_event(), 2);
  add(8);
  device_complete(1);
  ASSERT_EQ(dev_->flush(), RingError::ok);
  EXPECT_TRUE(dev_->should_signal());
  EXPECT_EQ(reap().size(), 1u);

  drv_->disable_cb();
  EXPECT_EQ(used_event(), 2);
  EXPECT_EQ(avail_flags(), 0) << "with EVENT_IDX the driver MUST set flags to 0";
  for (int k = 0; k < 3; ++k) add(9 + k);
  device_complete(3);
  ASSERT_EQ(dev_->flush(), RingError::ok);
  EXPECT_FALSE(dev_->should_signal());
  EXPECT_TRUE(drv_->enable_cb()) << "3 used while callbacks were off";
  EXPECT_EQ(used_event(), 3);
  add(12);
  device_complete(1);
  ASSERT_EQ(dev_->flush(), RingError::ok);
  EXPECT_FALSE(dev_->should_signal());
  EXPECT_EQ(dev_->stats().signals - base.signals, 2u);
  EXPECT_EQ(dev_->stats().signals_suppressed - base.signals_suppressed, 3u);
}

// With EVENT_IDX the driver re-arms used_event after every buffer it takes
// (Linux virtqueue_get_buf_ctx_split), but not while callbacks are off.
TEST_F(SplitEvents, P11_EventIdxGetUsedWritesUsedEvent) {
  make(16, kEventIdx);
  for (int k = 0; k < 3; ++k) add(k);
  device_complete(3);
  ASSERT_EQ(dev_->flush(), RingError::ok);
  UsedBuffer u;
  ASSERT_TRUE(drv_->get_used(u).value);
  EXPECT_EQ(used_event(), 1);
  ASSERT_TRUE(drv_->get_used(u).value);
  EXPECT_EQ(used_event(), 2);
  drv_->disable_cb();
  EXPECT_EQ(used_event(), 1);
  ASSERT_TRUE(drv_->get_used(u).value);
  EXPECT_EQ(used_event(), 1);
}

// IN_ORDER (virtio 1.2 "In-order use of descriptors"): the driver takes
// descriptors in ring order with next = x + 1 (0 after the last); the
// device writes ONE used entry per batch, at the offset of the batch's
// first buffer, carrying the head of its last buffer, and moves used idx by
// the number of buffers. A buffer not used completely ends a batch.
TEST_F(SplitEvents, P8_InOrderBatchedUsedEntry) {
  make(8, kInOrder);
  add(1, 1);
  add(2, 3);
  add(3, 2);
  add(4, 1);  // heads 0, 1, 4, 6
  const uint16_t heads[] = {0, 1, 4, 6};
  for (int k = 0; k < 4; ++k) EXPECT_EQ(get16(layout_.avail_ring_addr(k)), heads[k]);
  EXPECT_EQ(get16(layout_.desc_addr(1) + split_off::next), 2);
  EXPECT_EQ(get16(layout_.desc_addr(2) + split_off::next), 3);
  EXPECT_EQ(get16(layout_.desc_addr(4) + split_off::next), 5);
  device_complete(4);
  ASSERT_EQ(dev_->flush(), RingError::ok);
  EXPECT_EQ(used_idx(), 4);
  EXPECT_EQ(get32(layout_.used_elem_addr(0) + split_off::used_elem_id), 6u);
  EXPECT_EQ(get32(layout_.used_elem_addr(0) + split_off::used_elem_len), 64u);
  for (int k = 1; k < 4; ++k) EXPECT_EQ(get32(layout_.used_elem_addr(k)), 0u) << "skipped entry " << k;
  EXPECT_EQ(dev_->stats().used_descs_written, 1u);
  auto got = reap();
  ASSERT_EQ(got.size(), 4u);
  const uint32_t lens[] = {64, 192, 128, 64};
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(got[k].token, uint64_t(k + 1));
    EXPECT_EQ(got[k].len, lens[k]);
  }
  EXPECT_EQ(drv_->num_free(), 8u);

  // Next lap: a chain across the table's end (7 -> 0 -> 1), then a buffer
  // the device uses only partly, then a full one: two used entries.
  add(5, 3);
  EXPECT_EQ(get16(layout_.desc_addr(7) + split_off::next), 0) << "next of the last descriptor is 0";
  add(6, 1);
  add(7, 1);  // heads 7, 2, 3
  Chain c;
  ASSERT_TRUE(dev_->pop(c).value);
  EXPECT_EQ(c.id, 7u);
  ASSERT_EQ(dev_->push_used(c.used(192)), RingError::ok);
  ASSERT_TRUE(dev_->pop(c).value);
  EXPECT_EQ(c.id, 2u);
  ASSERT_EQ(dev_->push_used(c.used(10)), RingError::ok);  // partial
  ASSERT_TRUE(dev_->pop(c).value);
  ASSERT_EQ(dev_->push_used(c.used(64)), RingError::ok);
  ASSERT_EQ(dev_->flush(), RingError::ok);
  EXPECT_EQ(used_idx(), 7);
  EXPECT_EQ(get32(layout_.used_elem_addr(4) + split_off::used_elem_id), 2u);
  EXPECT_EQ(get32(layout_.used_elem_addr(4) + split_off::used_elem_len), 10u);
  EXPECT_EQ(get32(layout_.used_elem_addr(5)), 0u);
  EXPECT_EQ(get32(layout_.used_elem_addr(6) + split_off::used_elem_id), 3u);
  EXPECT_EQ(dev_->stats().used_descs_written, 3u);
  got = reap();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].len, 192u);
  EXPECT_EQ(got[1].len, 10u);
  EXPECT_EQ(got[2].len, 64u);
  EXPECT_EQ(got[2].token, 7u);
}

// An IN_ORDER driver also accepts a device that writes every used entry.
TEST_F(SplitEvents, P8_InOrderDriverAcceptsUnbatchedDevice) {
  make(8, kInOrder);
  SplitDevice<> plain(gm_->native(), layout_, Features{0});
  for (int k = 0; k < 3; ++k) add(k + 1, 2);
  Chain c;
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(plain.pop(c).value);
    ASSERT_EQ(plain.push_used(c.used(5)), RingError::ok);
  }
  ASSERT_EQ(plain.flush(), RingError::ok);
  auto got = reap();
  ASSERT_EQ(got.size(), 3u);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(got[k].len, 5u);
}

// virtio 1.2 "Driver Notifications": split next_off/next_wrap are the 15
// low bits and the top bit of the avail idx, i.e. the whole idx << 16.
TEST_F(SplitEvents, P12_NotificationDataCarriesAvailIdx) {
  make(256, feature_bit(VIRTIO_F_NOTIFICATION_DATA));
  EXPECT_EQ(drv_->notification_data(3), 3u);
  add(1);
  add(2);
  EXPECT_EQ(drv_->notification_data(5), 5u | 2u << 16);
  device_complete(2);
  ASSERT_EQ(dev_->flush(), RingError::ok);
  ASSERT_EQ(reap().size(), 2u);
  advance(65533 - 2);
  EXPECT_EQ(drv_->avail_idx_shadow(), 65533);
  EXPECT_EQ(drv_->notification_data(0x1234), 0xfffd1234u) << "bit 31 is the idx's top bit";
  for (int k = 0; k < 4; ++k) add(k);
  EXPECT_EQ(drv_->notification_data(1), 1u | 1u << 16);
}

// Save the device mid-stream (after a flush: shadow entries are not state)
// across the index wrap, restore into a fresh SplitDevice: it continues at
// the next available buffer; every token comes back exactly once. The used
// idx is taken from the used ring, not from the state.
TEST_F(SplitEvents, VU2_SaveRestoreMidStreamIntoFreshDevice) {
  make(16, kEventIdx);
  advance(65530);
  for (uint64_t t = 100; t < 112; ++t) add(t);
  device_complete(5);
  ASSERT_EQ(dev_->flush(), RingError::ok);
  EXPECT_TRUE(dev_->should_signal());
  RingState saved = dev_->state();
  EXPECT_EQ(saved.last_avail_idx, uint16_t(65535));
  const uint32_t base = encode_vring_base_split(saved);  // split: only the avail idx travels
  EXPECT_EQ(base, 65535u);
  dev_.reset();

  SplitDevice<> fresh(gm_->native(), layout_, Features{kEventIdx});
  RingState restored;
  restored.last_avail_idx = static_cast<uint16_t>(base);
  restored.last_used_idx = 0x1234;  // ignored: read back from the used ring
  ASSERT_EQ(fresh.set_state(restored), RingError::ok);
  EXPECT_EQ(fresh.last_avail_idx(), 65535);
  EXPECT_EQ(fresh.last_used_idx(), 65535);
  Chain c;
  for (int k = 0; k < 7; ++k) {
    auto r = fresh.pop(c);
    ASSERT_TRUE(r.ok() && r.value) << name(r.error);
    ASSERT_EQ(fresh.push_used(c.used(64)), RingError::ok);
  }
  auto r = fresh.pop(c);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value);
  ASSERT_EQ(fresh.flush(), RingError::ok);
  EXPECT_TRUE(fresh.should_signal()) << "after a restore the first check signals (vhost signalled_used_valid)";
  auto got = reap();
  ASSERT_EQ(got.size(), 12u);
  std::set<uint64_t> tokens;
  for (const UsedBuffer& u : got) tokens.insert(u.token);
  EXPECT_EQ(tokens.size(), 12u);
  EXPECT_EQ(*tokens.begin(), 100u);
  EXPECT_EQ(*tokens.rbegin(), 111u);
  EXPECT_EQ(drv_->num_free(), 16u);
  EXPECT_EQ(used_idx(), uint16_t(65530 + 12));
}

// ---- order of accesses and barriers ----

constexpr uint8_t kDriverAgent = 1;
constexpr uint8_t kDeviceAgent = 2;

size_t find(const AccessLog& log, size_t from, auto pred) {
  for (size_t i = from; i < log.size(); ++i)
    if (pred(log[i])) return i;
  return log.size();
}
auto write_at(uint64_t gpa) {
  return [gpa](const Access& a) { return a.op == Access::Op::write && a.gpa == gpa; };
}
auto read_at(uint64_t gpa) {
  return [gpa](const Access& a) { return a.op == Access::Op::read && a.gpa == gpa; };
}
auto barrier_at(BarrierSite s) {
  return [s](const Access& a) { return a.op == Access::Op::barrier && a.site == s; };
}

class SplitOrdering : public ::testing::Test {
 protected:
  void SetUp() override {
    layout_ = SplitLayout::place(gm_.alloc(SplitLayout::contiguous_bytes(8)), 8);
    data_ = gm_.alloc(0x100);
    drv_.emplace(RecordingMemory(gm_.native(), &log_, kDriverAgent), layout_, Features{kEventIdx});
    dev_.emplace(RecordingMemory(gm_.native(), &log_, kDeviceAgent), layout_, Features{kEventIdx});
  }
  // Buffers 1, 2 and 3 added, used and published in one flush; the log
  // starts after them.
  void used_burst_of_three() {
    for (uint64_t t = 1; t <= 3; ++t) {
      const Segment in{data_, 16};
      ASSERT_EQ(drv_->add({}, std::span(&in, 1), t), RingError::ok);
    }
    Chain c;
    for (int k = 0; k < 3; ++k) {
      ASSERT_TRUE(dev_->pop(c).value);
      ASSERT_EQ(dev_->push_used(c.used(16)), RingError::ok);
    }
    ASSERT_EQ(dev_->flush(), RingError::ok);
    log_.clear();
  }

  GuestMemory gm_{0x10000};
  SplitLayout layout_;
  uint64_t data_ = 0;
  AccessLog log_;
  std::optional<SplitDriver<RecordingMemory>> drv_;
  std::optional<SplitDevice<RecordingMemory>> dev_;
};

// Driver: descriptors and the avail ring entry, then driver_publish, then
// avail idx, written last.
TEST_F(SplitOrdering, P13_AvailIdxAfterRingEntryWithPublishBarrier) {
  log_.clear();
  const Segment segs[] = {{data_, 8}, {data_ + 8, 8}};
  ASSERT_EQ(drv_->add(segs, {}, 1), RingError::ok);
  const size_t entry = find(log_, 0, write_at(layout_.avail_ring_addr(0)));
  const size_t bar = find(log_, 0, barrier_at(BarrierSite::driver_publish));
  const size_t idx = find(log_, 0, write_at(layout_.avail + split_off::avail_idx));
  ASSERT_LT(entry, log_.size());
  ASSERT_LT(idx, log_.size());
  EXPECT_LT(entry, bar);
  EXPECT_LT(bar, idx);
  EXPECT_EQ(idx, log_.size() - 1) << "avail idx is the add's last access";
  for (size_t i = bar + 1; i < idx; ++i) EXPECT_NE(log_[i].op, Access::Op::write);
  const size_t last_desc = find(log_, 0, write_at(layout_.desc_addr(1) + split_off::next));
  EXPECT_LT(last_desc, bar);

  log_.clear();
  drv_->kick_prepare();
  const size_t kb = find(log_, 0, barrier_at(BarrierSite::driver_kick_check));
  const size_t ev = find(log_, 0, read_at(layout_.avail_event_addr()));
  ASSERT_LT(ev, log_.size());
  EXPECT_LT(kb, ev);
}

// Device: avail idx, device_avail_read, then the ring entry and descriptors;
// on flush used elems, device_used_publish, then used idx last; the signal
// check reads used_event after device_signal_check.
TEST_F(SplitOrdering, P13_UsedIdxAfterUsedElemsWithPublishBarrier) {
  for (uint64_t t = 1; t <= 3; ++t) {
    const Segment in{data_, 16};
    ASSERT_EQ(drv_->add({}, std::span(&in, 1), t), RingError::ok);
  }
  log_.clear();
  Chain c;
  ASSERT_TRUE(dev_->pop(c).value);
  const size_t ai = find(log_, 0, read_at(layout_.avail + split_off::avail_idx));
  const size_t ab = find(log_, 0, barrier_at(BarrierSite::device_avail_read));
  const size_t ar = find(log_, 0, read_at(layout_.avail_ring_addr(0)));
  const size_t dr = find(log_, 0, read_at(layout_.desc_addr(0)));
  ASSERT_LT(dr, log_.size());
  EXPECT_LT(ai, ab);
  EXPECT_LT(ab, ar);
  EXPECT_LT(ar, dr);
  ASSERT_EQ(dev_->push_used(c.used(16)), RingError::ok);
  for (int k = 0; k < 2; ++k) {
    ASSERT_TRUE(dev_->pop(c).value);
    ASSERT_EQ(dev_->push_used(c.used(16)), RingError::ok);
  }
  log_.clear();
  ASSERT_EQ(dev_->flush(), RingError::ok);
  const size_t pb = find(log_, 0, barrier_at(BarrierSite::device_used_publish));
  const size_t ui = find(log_, 0, write_at(layout_.used + split_off::used_idx));
  ASSERT_LT(ui, log_.size());
  EXPECT_LT(pb, ui);
  EXPECT_EQ(ui, log_.size() - 1);
  size_t elem_writes = 0;
  for (size_t i = 0; i < log_.size(); ++i) {
    const Access& a = log_[i];
    if (a.op == Access::Op::write && a.gpa >= layout_.used_elem_addr(0) &&
        a.gpa < layout_.used_elem_addr(8)) {
      ++elem_writes;
      EXPECT_LT(i, pb) << "used elem written after the publish barrier";
    }
  }
  EXPECT_EQ(elem_writes, 6u);  // id and len of 3 entries

  log_.clear();
  dev_->should_signal();
  const size_t sb = find(log_, 0, barrier_at(BarrierSite::device_signal_check));
  const size_t ue = find(log_, 0, read_at(layout_.used_event_addr()));
  ASSERT_LT(ue, log_.size());
  EXPECT_LT(sb, ue);

  // Driver: used idx, driver_used_read, then the element.
  log_.clear();
  UsedBuffer u;
  ASSERT_TRUE(drv_->get_used(u).value);
  const size_t ri = find(log_, 0, read_at(layout_.used + split_off::used_idx));
  const size_t rb = find(log_, 0, barrier_at(BarrierSite::driver_used_read));
  const size_t re = find(log_, 0, read_at(layout_.used_elem_addr(0) + split_off::used_elem_id));
  ASSERT_LT(re, log_.size());
  EXPECT_LT(ri, rb);
  EXPECT_LT(rb, re);
}

// Driver: one used idx read and one driver_used_read barrier announce a
// burst; the entries it announced are taken without reading the idx again
// (its line is the one the device writes on every flush), and the idx is
// read again, after the barrier, only when they are all taken. has_used()
// answers from the announced entries first.
TEST_F(SplitOrdering, P13_UsedIdxReadOncePerBurst) {
  drv_.emplace(RecordingMemory(gm_.native(), &log_, kDriverAgent), layout_, Features{kEventIdx},
               DriverOptions{.cache_used_idx = true});
  used_burst_of_three();
  UsedBuffer u;
  for (uint64_t t = 1; t <= 3; ++t) {
    EXPECT_TRUE(drv_->has_used());
    ASSERT_TRUE(drv_->get_used(u).value);
    EXPECT_EQ(u.token, t);
  }
  const uint64_t idx_addr = layout_.used + split_off::used_idx;
  auto count = [&](auto pred) { return std::count_if(log_.begin(), log_.end(), pred); };
  EXPECT_EQ(count(read_at(idx_addr)), 1) << "used idx read once for the burst of 3";
  EXPECT_EQ(count(barrier_at(BarrierSite::driver_used_read)), 1);
  const size_t ri = find(log_, 0, read_at(idx_addr));
  const size_t rb = find(log_, 0, barrier_at(BarrierSite::driver_used_read));
  const size_t third = find(log_, 0, read_at(layout_.used_elem_addr(2) + split_off::used_elem_id));
  ASSERT_LT(third, log_.size());
  EXPECT_LT(ri, rb);
  EXPECT_LT(rb, third);

  log_.clear();
  EXPECT_FALSE(drv_->has_used());
  EXPECT_FALSE(drv_->get_used(u).value);
  EXPECT_EQ(count(read_at(idx_addr)), 2) << "the burst taken: has_used and get_used look again";
}

// Without DriverOptions::cache_used_idx the driver reads the used idx, and
// passes driver_used_read, on every get_used, as Linux more_used_split does:
// the simulated Linux driver must read what Linux reads.
TEST_F(SplitOrdering, P13_UsedIdxReadPerBufferByDefault) {
  used_burst_of_three();
  UsedBuffer u;
  for (uint64_t t = 1; t <= 3; ++t) ASSERT_TRUE(drv_->get_used(u).value);
  const uint64_t idx_addr = layout_.used + split_off::used_idx;
  EXPECT_EQ(std::count_if(log_.begin(), log_.end(), read_at(idx_addr)), 3);
  EXPECT_EQ(std::count_if(log_.begin(), log_.end(), barrier_at(BarrierSite::driver_used_read)), 3);
}

// Nothing published since the last call: should_signal answers no without
// a barrier or a read of used_event. kick_prepare with nothing added still
// does both (Linux virtqueue_kick_prepare_split), and says no.
TEST_F(SplitOrdering, P13_NothingNewToSignalNoBarrierNoRead) {
  const Segment in{data_, 16};
  ASSERT_EQ(drv_->add({}, std::span(&in, 1), 1), RingError::ok);
  drv_->kick_prepare();
  Chain c;
  ASSERT_TRUE(dev_->pop(c).value);
  ASSERT_EQ(dev_->push_used(c.used(16)), RingError::ok);
  ASSERT_EQ(dev_->flush(), RingError::ok);
  dev_->should_signal();
  log_.clear();
  EXPECT_FALSE(dev_->should_signal());
  EXPECT_TRUE(log_.empty()) << log_.size() << " accesses";
  EXPECT_FALSE(drv_->kick_prepare());
  EXPECT_EQ(std::count_if(log_.begin(), log_.end(), barrier_at(BarrierSite::driver_kick_check)), 1);
  EXPECT_EQ(std::count_if(log_.begin(), log_.end(), read_at(layout_.avail_event_addr())), 1);
}

// A split ring of `num` entries with VIRTIO_F_INDIRECT_DESC and a pool of
// `tables` indirect tables of 4 entries for the driver.
struct IndirectRig {
  IndirectRig(uint32_t num, uint32_t tables)
      : gm(SplitLayout::contiguous_bytes(num) + IndirectPool::bytes(tables, 4) + 4096),
        layout(SplitLayout::place(gm.alloc(SplitLayout::contiguous_bytes(num)), num)),
        pool(gm.alloc(IndirectPool::bytes(tables, 4)), tables, 4),
        drv(gm.native(), layout, kIndirect, DriverOptions{.indirect_pool = &pool}),
        dev(gm.native(), layout, kIndirect) {}

  static constexpr Features kIndirect{feature_bit(VIRTIO_RING_F_INDIRECT_DESC)};
  GuestMemory gm;
  const SplitLayout layout;
  IndirectPool pool;
  SplitDriver<> drv;
  SplitDevice<> dev;
};

// Indirect tables from a two-slot pool: the first two multi-segment buffers
// take one descriptor each through a table, the third falls back to direct
// descriptors when the pool is empty, and a slot freed by a completion is
// used again. The device sees the same segments either way.
TEST(SplitIndirect, P7_PoolExhaustionFallsBackToDirect) {
  const uint32_t num = 8;
  IndirectRig rig(num, 2);
  auto& pool = rig.pool;
  auto& drv = rig.drv;
  auto& dev = rig.dev;

  const Segment out[] = {{GuestMemory::kBase + 0x10, 12}, {GuestMemory::kBase + 0x40, 100}};
  const Segment in[] = {{GuestMemory::kBase + 0x200, 1500}};
  Chain chain;
  for (uint64_t t = 1; t <= 3; ++t) ASSERT_EQ(drv.add(out, in, t), RingError::ok);
  EXPECT_EQ(drv.stats().indirect, 2u);
  EXPECT_EQ(drv.stats().indirect_fallbacks, 1u);
  EXPECT_EQ(drv.num_free(), num - 1 - 1 - 3);
  EXPECT_EQ(pool.free_slots(), 0u);
  for (int k = 0; k < 3; ++k) {
    auto r = dev.pop(chain);
    ASSERT_TRUE(r.ok() && r.value) << name(r.error);
    EXPECT_EQ(chain.indirect, k < 2);
    ASSERT_EQ(chain.readable.size(), 2u);
    ASSERT_EQ(chain.writable.size(), 1u);
    EXPECT_EQ(chain.readable[1].addr, out[1].addr);
    EXPECT_EQ(chain.readable_bytes, 112u);
    EXPECT_EQ(chain.writable_bytes, 1500u);
    ASSERT_EQ(dev.push_used(chain.used(1500)), RingError::ok);
    if (k == 0) {
      ASSERT_EQ(dev.flush(), RingError::ok);
      UsedBuffer u;
      auto g = drv.get_used(u);
      ASSERT_TRUE(g.ok() && g.value);
      EXPECT_EQ(u.token, 1u);
      EXPECT_EQ(pool.free_slots(), 1u);
      ASSERT_EQ(drv.add(out, in, 4), RingError::ok);  // reuses the freed table
      EXPECT_EQ(drv.stats().indirect, 3u);
    }
  }
  auto r = dev.pop(chain);
  ASSERT_TRUE(r.ok() && r.value);
  EXPECT_TRUE(chain.indirect);
  ASSERT_EQ(dev.push_used(chain.used(1500)), RingError::ok);
  ASSERT_EQ(dev.flush(), RingError::ok);
  UsedBuffer u;
  std::vector<uint64_t> tokens;
  while (true) {
    auto g = drv.get_used(u);
    ASSERT_TRUE(g.ok());
    if (!g.value) break;
    tokens.push_back(u.token);
  }
  EXPECT_EQ(tokens, (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_EQ(pool.free_slots(), 2u);
  EXPECT_EQ(drv.num_free(), num);
}

// A table may hold up to queue-size descriptors; a buffer with more
// segments than the queue never fits, with or without a table.
TEST(SplitIndirect, P6_4_P7_TableUpToQueueSize) {
  IndirectRig rig(2, 4);
  auto& pool = rig.pool;
  auto& drv = rig.drv;
  auto& dev = rig.dev;
  const Segment two[] = {{GuestMemory::kBase, 8}, {GuestMemory::kBase + 8, 8}};
  const Segment three[] = {{GuestMemory::kBase, 8}, {GuestMemory::kBase + 8, 8}, {GuestMemory::kBase + 16, 8}};
  EXPECT_EQ(drv.add(three, {}, 1), RingError::no_space);
  EXPECT_EQ(pool.free_slots(), 4u) << "a refused add must give its table back";
  ASSERT_EQ(drv.add(two, {}, 2), RingError::ok);
  ASSERT_EQ(drv.add(two, {}, 3), RingError::ok);  // two tables, one descriptor each
  Chain chain;
  for (int k = 0; k < 2; ++k) {
    auto r = dev.pop(chain);
    ASSERT_TRUE(r.ok() && r.value) << name(r.error);
    EXPECT_TRUE(chain.indirect);
    EXPECT_EQ(chain.readable.size(), 2u);
  }
}

}  // namespace
}  // namespace virtiosim::ring
