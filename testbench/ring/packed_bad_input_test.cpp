// Packed ring against a hostile peer. Descriptors are written by hand into
// guest memory, one rule broken per test, and each test expects exactly that
// rule's RingError (the checker rule of STYLE.md: a check nobody has seen fire
// is not a check). After a fatal error the side is broken (NEEDS_RESET): it
// refuses all further work and, seen through RecordingMemory, touches no
// memory at all; the device never writes guest memory on the way there.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "models/ring/indirect_pool.h"
#include "models/ring/packed_device.h"
#include "models/ring/packed_driver.h"
#include "models/ring/recording_memory.h"
#include "testbench/ring/guest_memory.h"
#include "testbench/ring/packed_test_support.h"

namespace virtiosim::ring {
namespace {

using testing::GuestMemory;
using testing::kDeviceAgent;
using testing::kDriverAgent;

constexpr Features kPlain{};
constexpr Features kIndirect{feature_bit(VIRTIO_RING_F_INDIRECT_DESC)};

// ---------------------------------------------------------------------------
// Device side: a driver that breaks the rules.

// Parameter: the refused pop is pop_burst() over a whole group's worth of
// chains (true) or pop() (false). pop_burst takes aligned groups of
// one-descriptor buffers through its own path (PackedDevice::pop_group),
// which may not skip a check pop() makes: each case must be refused the
// same way, on the same buffer, either way.
class PackedDeviceBadInput : public ::testing::TestWithParam<bool> {
 protected:
  static constexpr uint32_t kNum = 8;
  static constexpr uint32_t kBufLen = 64;

  void make(Features f, DeviceOptions opts = {}, uint32_t num = kNum) {
    layout_ = PackedLayout::place(gm_.alloc(PackedLayout::contiguous_bytes(num)), num);
    data_ = gm_.alloc(0x4000);
    table_ = gm_.alloc(0x400);
    dev_.emplace(RecordingMemory(gm_.native(), &log_, kDeviceAgent), layout_, f, opts);
  }

  uint64_t buf(uint32_t i) const { return data_ + uint64_t{i} * kBufLen; }
  // A descriptor made available in the first lap (P2: AVAIL=1, USED=0).
  void slot(uint32_t s, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags, bool wrap = true) {
    testing::put_slot(gm_, layout_, s, addr, len, id, static_cast<uint16_t>(flags | testing::avail_bits(wrap)));
  }
  void entry(uint32_t i, uint64_t addr, uint32_t len, uint16_t flags) {
    testing::put_desc(gm_, table_ + uint64_t{i} * 16, addr, len, 0, flags);
  }

  // Pops once, expects `want`, then checks the side is broken for good.
  void expect_pop_fails(RingError want) {
    const uint64_t popped = dev_->stats().popped;
    const uint16_t avail = dev_->last_avail_idx();
    const auto before = testing::snapshot(gm_);
    log_.clear();
    Result<bool> r;
    if (GetParam()) {
      Chain burst[4];
      const Result<uint32_t> b = dev_->pop_burst(burst);
      EXPECT_EQ(b.value, 0u) << "buffers taken before the refused one";
      r = {b.error, b.value > 0};
    } else {
      Chain c;
      r = dev_->pop(c);
    }
    EXPECT_EQ(r.error, want) << "got " << name(r.error);
    EXPECT_TRUE(dev_->broken());
    EXPECT_EQ(dev_->last_error(), want);
    EXPECT_EQ(dev_->stats().errors[want], 1u);
    EXPECT_EQ(dev_->stats().errors.total(), 1u);
    EXPECT_EQ(dev_->stats().popped, popped);
    EXPECT_EQ(dev_->last_avail_idx(), avail) << "a refused list must not be consumed";
    for (const Access& a : log_) EXPECT_NE(a.op, Access::Op::write) << "device wrote during a refused pop";
    expect_dead(want);
    // Nothing the device did, while failing or afterwards, changed one byte
    // of guest memory: not the ring, not the buffers, not the tables.
    EXPECT_EQ(testing::snapshot(gm_), before);
  }

  // A broken queue refuses everything and performs zero memory accesses.
  void expect_dead(RingError cause) {
    log_.clear();
    Chain c;
    EXPECT_EQ(dev_->pop(c).error, RingError::queue_broken);
    EXPECT_EQ(dev_->push_used(UsedElem{0, 0, 1, false}), RingError::queue_broken);
    EXPECT_EQ(dev_->flush(), RingError::queue_broken);
    EXPECT_FALSE(dev_->has_available());
    EXPECT_FALSE(dev_->should_signal());
    EXPECT_FALSE(dev_->enable_notifications());
    dev_->disable_notifications();
    EXPECT_TRUE(log_.empty()) << log_.size() << " memory accesses by a broken queue";
    EXPECT_EQ(dev_->last_error(), cause);
    EXPECT_EQ(dev_->stats().errors[cause], 1u);
    EXPECT_EQ(dev_->stats().errors[RingError::queue_broken], 0u);
  }

  void expect_pop_ok(Chain& c) {
    const Result<bool> r = dev_->pop(c);
    ASSERT_TRUE(r.ok()) << name(r.error);
    ASSERT_TRUE(r.value);
    EXPECT_FALSE(dev_->broken());
  }

  GuestMemory gm_{1 << 16};
  PackedLayout layout_{};
  uint64_t data_ = 0, table_ = 0;
  AccessLog log_;
  std::optional<PackedDevice<RecordingMemory>> dev_;
};

// P6.4: NEXT on every descriptor of the ring is a list longer than the queue.
TEST_P(PackedDeviceBadInput, P6_4_ChainTooLongWhenEveryDescriptorHasNext) {
  make(kPlain);
  for (uint32_t s = 0; s < kNum; ++s) slot(s, buf(s), kBufLen, 0, kDescNext);
  expect_pop_fails(RingError::chain_too_long);
}

// P6.4 on a one-slot queue: the only descriptor cannot point at a next one.
TEST_P(PackedDeviceBadInput, P6_4_ChainTooLongOnQueueOfOne) {
  make(kPlain, {}, 1);
  slot(0, buf(0), kBufLen, 0, kDescNext);
  expect_pop_fails(RingError::chain_too_long);
}

// P6.4 control: a list of exactly the queue size is legal.
TEST_P(PackedDeviceBadInput, P6_4_ChainOfQueueSizeIsAccepted) {
  make(kPlain);
  for (uint32_t s = 0; s < kNum; ++s) slot(s, buf(s), kBufLen, 3, s + 1 < kNum ? kDescNext : 0);
  Chain c;
  expect_pop_ok(c);
  EXPECT_EQ(c.count, kNum);
  EXPECT_EQ(c.id, 3);
  EXPECT_EQ(c.readable.size(), kNum);
  EXPECT_FALSE(dev_->avail_wrap_counter()) << "P2: the device flips its wrap counter past the last slot";
}

// The device's own segment limit (DeviceOptions::max_segments).
TEST_P(PackedDeviceBadInput, ChainExceedsDeviceLimit) {
  make(kPlain, DeviceOptions{.max_segments = 3});
  for (uint32_t s = 0; s < 4; ++s) slot(s, buf(s), kBufLen, 0, s < 3 ? kDescNext : 0);
  expect_pop_fails(RingError::chain_exceeds_limit);
}

TEST_P(PackedDeviceBadInput, ChainAtDeviceLimitIsAccepted) {
  make(kPlain, DeviceOptions{.max_segments = 3});
  for (uint32_t s = 0; s < 3; ++s) slot(s, buf(s), kBufLen, 0, s < 2 ? kDescNext : 0);
  Chain c;
  expect_pop_ok(c);
  EXPECT_EQ(c.readable.size(), 3u);
}

// P7 + limit: a table of len/16 > max_segments entries.
TEST_P(PackedDeviceBadInput, IndirectTableExceedsDeviceLimit) {
  make(kIndirect, DeviceOptions{.max_segments = 3});
  for (uint32_t i = 0; i < 4; ++i) entry(i, buf(i), kBufLen, 0);
  slot(0, table_, 4 * 16, 0, kDescIndirect);
  expect_pop_fails(RingError::chain_exceeds_limit);
}

// P7 control: a well-formed table is one ring slot carrying all segments.
TEST_P(PackedDeviceBadInput, P7_WellFormedIndirectTableIsAccepted) {
  make(kIndirect);
  entry(0, buf(0), 10, 0);
  entry(1, buf(1), 20, 0);
  entry(2, buf(2), 30, kDescWrite);
  slot(0, table_, 3 * 16, 5, kDescIndirect);
  Chain c;
  expect_pop_ok(c);
  EXPECT_TRUE(c.indirect);
  EXPECT_EQ(c.count, 1);
  EXPECT_EQ(c.id, 5);
  ASSERT_EQ(c.readable.size(), 2u);
  ASSERT_EQ(c.writable.size(), 1u);
  EXPECT_EQ(c.readable[1].addr, buf(1));
  EXPECT_EQ(c.readable_bytes, 30u);
  EXPECT_EQ(c.writable[0].len, 30u);
}

// P7: INDIRECT without VIRTIO_F_INDIRECT_DESC.
TEST_P(PackedDeviceBadInput, P7_IndirectNotNegotiated) {
  make(kPlain);
  entry(0, buf(0), kBufLen, 0);
  slot(0, table_, 16, 0, kDescIndirect);
  expect_pop_fails(RingError::indirect_not_negotiated);
}

// P7: an indirect descriptor must not be part of a NEXT-linked list:
// INDIRECT and NEXT on the same descriptor ...
TEST_P(PackedDeviceBadInput, P7_IndirectWithNextOnSameDescriptor) {
  make(kIndirect);
  entry(0, buf(0), kBufLen, 0);
  slot(0, table_, 16, 0, kDescIndirect | kDescNext);
  slot(1, buf(1), kBufLen, 0, 0);
  expect_pop_fails(RingError::indirect_with_next);
}

// ... and an indirect descriptor reached through a predecessor's NEXT.
TEST_P(PackedDeviceBadInput, P7_IndirectAfterNext) {
  make(kIndirect);
  entry(0, buf(0), kBufLen, 0);
  slot(0, buf(1), kBufLen, 0, kDescNext);
  slot(1, table_, 16, 0, kDescIndirect);
  expect_pop_fails(RingError::indirect_with_next);
}

// P7: no INDIRECT inside a table.
TEST_P(PackedDeviceBadInput, P7_IndirectNested) {
  make(kIndirect);
  entry(0, buf(0), kBufLen, 0);
  entry(1, table_ + 0x100, 16, kDescIndirect);
  slot(0, table_, 2 * 16, 0, kDescIndirect);
  expect_pop_fails(RingError::indirect_nested);
}

// P7: the table length must be a non-zero multiple of 16.
TEST_P(PackedDeviceBadInput, P7_IndirectBadLengthZero) {
  make(kIndirect);
  slot(0, table_, 0, 0, kDescIndirect);
  expect_pop_fails(RingError::indirect_bad_length);
}

TEST_P(PackedDeviceBadInput, P7_IndirectBadLengthNotMultipleOf16) {
  make(kIndirect);
  entry(0, buf(0), kBufLen, 0);
  entry(1, buf(1), kBufLen, 0);
  slot(0, table_, 24, 0, kDescIndirect);
  expect_pop_fails(RingError::indirect_bad_length);
}

// P7: inside a table WRITE is the only valid flag; NEXT is refused.
TEST_P(PackedDeviceBadInput, P7_IndirectBadFlagsNextInTable) {
  make(kIndirect);
  entry(0, buf(0), kBufLen, kDescNext);
  entry(1, buf(1), kBufLen, 0);
  slot(0, table_, 2 * 16, 0, kDescIndirect);
  expect_pop_fails(RingError::indirect_bad_flags);
}

// P6.2: the second descriptor of a list was never made available.
TEST_P(PackedDeviceBadInput, P6_2_UnavailableInChainNeverWritten) {
  make(kPlain);
  slot(0, buf(0), kBufLen, 0, kDescNext);
  expect_pop_fails(RingError::unavailable_in_chain);
}

// P6.2: AVAIL right but USED also set (AVAIL == USED reads as used).
TEST_P(PackedDeviceBadInput, P6_2_UnavailableInChainUsedBitSet) {
  make(kPlain);
  slot(0, buf(0), kBufLen, 0, kDescNext);
  testing::put_slot(gm_, layout_, 1, buf(1), kBufLen, 0, kDescAvail | kDescUsed);
  expect_pop_fails(RingError::unavailable_in_chain);
}

// P6.2 + P2 across the ring end: the list starts at slot num-2 in lap 1 and
// continues at slot 0, which belongs to lap 0 (AVAIL=0, USED=1). A driver
// that keeps lap 1's bits there has not made slot 0 available.
TEST_P(PackedDeviceBadInput, P6_2_UnavailableInChainAcrossRingEndWithStaleWrapBits) {
  make(kPlain);
  ASSERT_EQ(dev_->set_state({kNum - 2, true, kNum - 2, true}), RingError::ok);
  slot(kNum - 2, buf(0), kBufLen, 0, kDescNext, true);
  slot(kNum - 1, buf(1), kBufLen, 0, kDescNext, true);
  slot(0, buf(2), kBufLen, 0, 0, /*wrap=*/true);  // wrong lap
  expect_pop_fails(RingError::unavailable_in_chain);
}

// P2 control for the test above: with lap 0's bits the list is accepted.
TEST_P(PackedDeviceBadInput, P2_ChainAcrossRingEndWithRightWrapBitsIsAccepted) {
  make(kPlain);
  ASSERT_EQ(dev_->set_state({kNum - 2, true, kNum - 2, true}), RingError::ok);
  slot(kNum - 2, buf(0), kBufLen, 0, kDescNext, true);
  slot(kNum - 1, buf(1), kBufLen, 0, kDescNext, true);
  slot(0, buf(2), kBufLen, 9, 0, /*wrap=*/false);
  Chain c;
  expect_pop_ok(c);
  EXPECT_EQ(c.count, 3);
  EXPECT_EQ(c.id, 9);
  EXPECT_EQ(dev_->last_avail_idx(), 1);
  EXPECT_FALSE(dev_->avail_wrap_counter());
}

// P3, found by ring_device_fuzz: with the whole ring popped and nothing
// marked used, the driver owns no slot. Slot 0 made available again for
// the next lap is a descriptor the device still owns; taking it would pop
// more than the queue size and let the used index lap the avail index.
TEST_P(PackedDeviceBadInput, P3_SlotTheDeviceOwnsMadeAvailableAgain) {
  make(kPlain);
  for (uint32_t s = 0; s < kNum; ++s) slot(s, buf(s), kBufLen, static_cast<uint16_t>(s), 0);
  Chain c;
  for (uint32_t s = 0; s < kNum; ++s) expect_pop_ok(c);
  slot(0, buf(0), kBufLen, 0, 0, /*wrap=*/false);
  expect_pop_fails(RingError::queue_size_exceeded);
}

// P3 in the middle of a list: 6 slots in flight leave the driver 2, so a
// list of 3 (slots 6, 7, then 0 of the next lap) cannot be the driver's.
TEST_P(PackedDeviceBadInput, P3_ListRunningIntoSlotsTheDeviceOwns) {
  make(kPlain);
  for (uint32_t s = 0; s < 6; ++s) slot(s, buf(s), kBufLen, static_cast<uint16_t>(s), 0);
  Chain c;
  for (uint32_t s = 0; s < 6; ++s) expect_pop_ok(c);
  slot(6, buf(6), kBufLen, 6, kDescNext);
  slot(7, buf(7), kBufLen, 6, kDescNext);
  slot(0, buf(0), kBufLen, 6, 0, /*wrap=*/false);
  expect_pop_fails(RingError::queue_size_exceeded);
}

// P3 control: once the device marked slot 0 used, it is the driver's again
// and a buffer made available there in the next lap is taken.
TEST_P(PackedDeviceBadInput, P3_SlotMarkedUsedMayBeMadeAvailableAgain) {
  make(kPlain);
  for (uint32_t s = 0; s < kNum; ++s) slot(s, buf(s), kBufLen, static_cast<uint16_t>(s), 0);
  Chain c;
  expect_pop_ok(c);
  const Chain first = c;
  for (uint32_t s = 1; s < kNum; ++s) expect_pop_ok(c);
  ASSERT_EQ(dev_->push_used(first.used(0)), RingError::ok);
  ASSERT_EQ(dev_->flush(), RingError::ok);
  slot(0, buf(0), kBufLen, 0, 0, /*wrap=*/false);
  expect_pop_ok(c);
  EXPECT_EQ(dev_->last_avail_idx(), 1);
  EXPECT_FALSE(dev_->avail_wrap_counter());
}

// A group whose flags all look right but whose third buffer points outside
// guest memory: nothing is taken as a group, the single path takes the two
// good buffers and refuses the third, as four pop() calls would.
TEST_P(PackedDeviceBadInput, PopBurstGroupWithAnUnmappedThirdBuffer) {
  make(kPlain);
  for (uint32_t s = 0; s < 4; ++s)
    slot(s, s == 2 ? 0x10 : buf(s), kBufLen, static_cast<uint16_t>(s), 0);
  log_.clear();
  Chain burst[4];
  const Result<uint32_t> r = dev_->pop_burst(burst);
  EXPECT_EQ(r.error, RingError::address_unmapped);
  EXPECT_EQ(r.value, 2u);
  EXPECT_EQ(burst[0].id, 0);
  EXPECT_EQ(burst[1].id, 1);
  EXPECT_TRUE(dev_->broken());
  EXPECT_EQ(dev_->stats().popped, 2u);
  EXPECT_EQ(dev_->last_avail_idx(), 2) << "the refused buffer is not consumed";
  for (const Access& a : log_) EXPECT_NE(a.op, Access::Op::write);
  expect_dead(RingError::address_unmapped);
}

TEST_P(PackedDeviceBadInput, AddressOverflowDirect) {
  make(kPlain);
  slot(0, ~uint64_t{0} - 15, 32, 0, 0);
  expect_pop_fails(RingError::address_overflow);
}

TEST_P(PackedDeviceBadInput, AddressOverflowIndirectTable) {
  make(kIndirect);
  slot(0, ~uint64_t{0} - 15, 32, 0, kDescIndirect);
  expect_pop_fails(RingError::address_overflow);
}

TEST_P(PackedDeviceBadInput, AddressOverflowInsideTable) {
  make(kIndirect);
  entry(0, buf(0), kBufLen, 0);
  entry(1, ~uint64_t{0} - 3, 8, kDescWrite);
  slot(0, table_, 2 * 16, 0, kDescIndirect);
  expect_pop_fails(RingError::address_overflow);
}

TEST_P(PackedDeviceBadInput, AddressUnmappedBelowGuestMemory) {
  make(kPlain);
  slot(0, GuestMemory::kBase - 0x1000, 16, 0, 0);
  expect_pop_fails(RingError::address_unmapped);
}

TEST_P(PackedDeviceBadInput, AddressUnmappedStraddlingTheEnd) {
  make(kPlain);
  slot(0, GuestMemory::kBase + gm_.size() - 8, 16, 0, 0);
  expect_pop_fails(RingError::address_unmapped);
}

TEST_P(PackedDeviceBadInput, AddressUnmappedLaterInChain) {
  make(kPlain);
  slot(0, buf(0), kBufLen, 0, kDescNext);
  slot(1, GuestMemory::kBase + gm_.size(), 1, 0, kDescWrite);
  expect_pop_fails(RingError::address_unmapped);
}

TEST_P(PackedDeviceBadInput, AddressUnmappedIndirectTable) {
  make(kIndirect);
  slot(0, GuestMemory::kBase + gm_.size() - 16, 32, 0, kDescIndirect);
  expect_pop_fails(RingError::address_unmapped);
}

TEST_P(PackedDeviceBadInput, AddressUnmappedInsideTable) {
  make(kIndirect);
  entry(0, buf(0), kBufLen, 0);
  entry(1, GuestMemory::kBase - 64, 64, kDescWrite);
  slot(0, table_, 2 * 16, 0, kDescIndirect);
  expect_pop_fails(RingError::address_unmapped);
}

// P6.3: device-readable descriptors come before device-writable ones.
TEST_P(PackedDeviceBadInput, P6_3_ReadableAfterWritableDirect) {
  make(kPlain);
  slot(0, buf(0), kBufLen, 0, kDescNext | kDescWrite);
  slot(1, buf(1), kBufLen, 0, 0);
  expect_pop_fails(RingError::readable_after_writable);
}

TEST_P(PackedDeviceBadInput, P6_3_ReadableAfterWritableInsideTable) {
  make(kIndirect);
  entry(0, buf(0), kBufLen, 0);
  entry(1, buf(1), kBufLen, kDescWrite);
  entry(2, buf(2), kBufLen, 0);
  slot(0, table_, 3 * 16, 0, kDescIndirect);
  expect_pop_fails(RingError::readable_after_writable);
}

// Completions pushed but not flushed when the queue breaks are dropped and
// counted; flush() on the broken queue writes nothing.
TEST_P(PackedDeviceBadInput, BreakingDropsUnflushedCompletions) {
  make(kPlain);
  slot(0, buf(0), kBufLen, 1, kDescWrite);
  slot(1, buf(1), kBufLen, 2, kDescWrite);
  slot(2, buf(2), kBufLen, 0, kDescWrite | kDescNext);
  slot(3, buf(3), kBufLen, 0, 0);  // P6.3 violation
  Chain c;
  expect_pop_ok(c);
  ASSERT_EQ(dev_->push_used(c.used(8)), RingError::ok);
  expect_pop_ok(c);
  ASSERT_EQ(dev_->push_used(c.used(8)), RingError::ok);
  EXPECT_EQ(dev_->pending_used(), 2u);
  expect_pop_fails(RingError::readable_after_writable);
  EXPECT_EQ(dev_->pending_used(), 0u);
  EXPECT_EQ(dev_->stats().completions_dropped, 2u);
  EXPECT_EQ(dev_->stats().used_descs_written, 0u);
}

// P15: a reset brings a broken queue back.
TEST_P(PackedDeviceBadInput, ResetClearsBrokenState) {
  make(kPlain);
  slot(0, buf(0), kBufLen, 0, kDescNext);
  expect_pop_fails(RingError::unavailable_in_chain);
  dev_->reset();
  EXPECT_FALSE(dev_->broken());
  EXPECT_EQ(dev_->last_error(), RingError::ok);
  slot(1, buf(1), kBufLen, 4, 0);
  Chain c;
  expect_pop_ok(c);
  EXPECT_EQ(c.count, 2);
  EXPECT_EQ(c.id, 4);
}

// ---------------------------------------------------------------------------
// Driver side: a device that returns ids that are not in flight (P5).

class PackedDriverBadUsed : public ::testing::Test {
 protected:
  static constexpr uint32_t kNum = 8;

  void make(Features f) {
    layout_ = PackedLayout::place(gm_.alloc(PackedLayout::contiguous_bytes(kNum)), kNum);
    data_ = gm_.alloc(0x1000);
    drv_.emplace(RecordingMemory(gm_.native(), &log_, kDriverAgent), layout_, f);
  }

  void add(uint64_t token) {
    const Segment in{data_ + token * 64, 64};
    ASSERT_EQ(drv_->add({}, std::span(&in, 1), token), RingError::ok);
  }

  // Plays the device: a used descriptor in lap `wrap` at `slot`.
  void used(uint32_t slot, uint16_t id, uint32_t len, bool wrap = true) {
    testing::put_slot(gm_, layout_, slot, 0, len, id,
                      static_cast<uint16_t>(testing::used_bits(wrap) | kDescWrite));
  }
  uint16_t id_at(uint32_t slot) const { return testing::get_slot(gm_, layout_, slot).id; }

  void expect_get_used_fails() {
    const auto before = testing::snapshot(gm_);
    UsedBuffer u{};
    const Result<bool> r = drv_->get_used(u);
    EXPECT_EQ(r.error, RingError::bad_used_id) << "got " << name(r.error);
    EXPECT_TRUE(drv_->broken());
    EXPECT_EQ(drv_->last_error(), RingError::bad_used_id);
    EXPECT_EQ(drv_->stats().errors[RingError::bad_used_id], 1u);
    EXPECT_EQ(drv_->stats().errors.total(), 1u);

    log_.clear();
    EXPECT_EQ(drv_->get_used(u).error, RingError::queue_broken);
    const Segment s{data_, 8};
    EXPECT_EQ(drv_->add(std::span(&s, 1), {}, 99), RingError::queue_broken);
    EXPECT_FALSE(drv_->kick_prepare());
    EXPECT_FALSE(drv_->enable_cb());
    EXPECT_FALSE(drv_->enable_cb_delayed());
    drv_->disable_cb();
    EXPECT_TRUE(log_.empty()) << log_.size() << " memory accesses by a broken driver";
    EXPECT_EQ(drv_->stats().errors[RingError::queue_broken], 0u);
    EXPECT_EQ(testing::snapshot(gm_), before);
  }

  GuestMemory gm_{1 << 14};
  PackedLayout layout_{};
  uint64_t data_ = 0;
  AccessLog log_;
  std::optional<PackedDriver<RecordingMemory>> drv_;
};

TEST_F(PackedDriverBadUsed, P5_UsedIdOutOfRange) {
  make(kPlain);
  add(1);
  used(0, kNum, 0);
  expect_get_used_fails();
}

TEST_F(PackedDriverBadUsed, P5_UsedIdNeverMadeAvailable) {
  make(kPlain);
  add(1);
  add(2);
  uint16_t stranger = 0;
  while (stranger == id_at(0) || stranger == id_at(1)) ++stranger;
  used(0, stranger, 0);
  expect_get_used_fails();
}

TEST_F(PackedDriverBadUsed, P5_UsedIdAlreadyCompleted) {
  make(kPlain);
  add(1);
  add(2);
  const uint16_t first = id_at(0);
  used(0, first, 5);
  UsedBuffer u{};
  const Result<bool> r = drv_->get_used(u);
  ASSERT_TRUE(r.ok() && r.value) << name(r.error);
  EXPECT_EQ(u.token, 1u);
  EXPECT_EQ(u.len, 5u);
  used(1, first, 5);  // the same id a second time
  expect_get_used_fails();
}

// P8: with IN_ORDER one used descriptor closes a batch; naming a buffer of
// a batch already returned is still an id that is not in flight.
TEST_F(PackedDriverBadUsed, P5_P8_InOrderUsedIdAlreadyCompleted) {
  make(Features{feature_bit(VIRTIO_F_IN_ORDER)});
  add(1);
  add(2);
  add(3);
  const uint16_t second = id_at(1);
  used(0, second, 7);
  UsedBuffer u{};
  ASSERT_TRUE(drv_->get_used(u).value);
  EXPECT_EQ(u.token, 1u);
  EXPECT_EQ(u.len, 64u) << "P8: a skipped buffer reports its writable length";
  ASSERT_TRUE(drv_->get_used(u).value);
  EXPECT_EQ(u.token, 2u);
  EXPECT_EQ(u.len, 7u);
  used(2, second, 7);
  expect_get_used_fails();
}

// ---------------------------------------------------------------------------
// Setup mistakes throw RingConfigError with the kind.

template <class Fn>
RingError config_error_of(Fn&& fn) {
  try {
    fn();
  } catch (const RingConfigError& e) {
    return e.error();
  }
  return RingError::ok;
}

TEST(PackedConfig, P1_QueueSizeOutOfRange) {
  GuestMemory gm(1 << 20);
  const uint64_t base = gm.alloc(PackedLayout::contiguous_bytes(kMaxQueueSize + 1));
  for (uint32_t num : {0u, kMaxQueueSize + 1}) {
    const PackedLayout l = PackedLayout::place(base, num);
    EXPECT_EQ(config_error_of([&] { PackedDriver<> d(gm.native(), l, kPlain); }), RingError::bad_queue_size)
        << num;
    EXPECT_EQ(config_error_of([&] { PackedDevice<> d(gm.native(), l, kPlain); }), RingError::bad_queue_size)
        << num;
  }
  // P1: the largest size, and sizes that are not powers of two, are fine.
  for (uint32_t num : {kMaxQueueSize, 1000u, 3u, 1u}) {
    const PackedLayout l = PackedLayout::place(base, num);
    EXPECT_EQ(config_error_of([&] { PackedDriver<> d(gm.native(), l, kPlain); }), RingError::ok) << num;
    EXPECT_EQ(config_error_of([&] { PackedDevice<> d(gm.native(), l, kPlain); }), RingError::ok) << num;
  }
}

TEST(PackedConfig, P1_MisalignedOrUnmappedLayout) {
  GuestMemory gm(1 << 14);
  const uint32_t num = 16;
  const uint64_t base = gm.alloc(PackedLayout::contiguous_bytes(num) + 64);
  const PackedLayout good = PackedLayout::place(base, num);
  const uint64_t end = GuestMemory::kBase + gm.size();

  std::vector<std::pair<const char*, PackedLayout>> bad;
  auto with = [&](const char* what, auto change) {
    PackedLayout l = good;
    change(l);
    bad.emplace_back(what, l);
  };
  with("desc 8-aligned", [](PackedLayout& l) { l.desc += 8; });
  with("driver area 2-aligned", [](PackedLayout& l) { l.driver_event += 2; });
  with("device area 2-aligned", [](PackedLayout& l) { l.device_event += 2; });
  with("desc below guest memory", [](PackedLayout& l) { l.desc = GuestMemory::kBase - 0x1000; });
  with("desc ring straddles the end", [&](PackedLayout& l) { l.desc = end - 16 * (num / 2); });
  with("driver area past the end", [&](PackedLayout& l) { l.driver_event = end; });
  with("device area past the end", [&](PackedLayout& l) { l.device_event = end; });
  with("device area below guest memory", [](PackedLayout& l) { l.device_event = GuestMemory::kBase - 4; });

  for (const auto& [what, l] : bad) {
    EXPECT_EQ(config_error_of([&] { PackedDriver<> d(gm.native(), l, kPlain); }), RingError::bad_layout) << what;
    EXPECT_EQ(config_error_of([&] { PackedDevice<> d(gm.native(), l, kPlain); }), RingError::bad_layout) << what;
  }
  EXPECT_EQ(config_error_of([&] { PackedDriver<> d(gm.native(), good, kPlain); }), RingError::ok);
  EXPECT_EQ(config_error_of([&] { PackedDevice<> d(gm.native(), good, kPlain); }), RingError::ok);
}

TEST(PackedConfig, P7_IndirectPoolMustBeAligned) {
  EXPECT_EQ(config_error_of([] { IndirectPool p(GuestMemory::kBase + 8, 4, 4); }), RingError::bad_layout);
  EXPECT_EQ(config_error_of([] { IndirectPool p(GuestMemory::kBase, 4, 0); }), RingError::bad_layout);
  EXPECT_EQ(config_error_of([] { IndirectPool p(GuestMemory::kBase, 4, 4); }), RingError::ok);
}

INSTANTIATE_TEST_SUITE_P(Pop, PackedDeviceBadInput, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "pop_burst" : "pop"; });

}  // namespace
}  // namespace virtiosim::ring
