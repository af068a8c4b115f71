// A misbehaving driver (or device) against the split ring: every malformed
// input yields its own typed error, the queue is broken afterwards (every
// call answers queue_broken or does nothing) and, seen through
// RecordingMemory, the broken side touches no memory at all. Guest memory is
// byte-for-byte what it was before the bad pop: the device only reads while
// it parses a chain, and publishes nothing after it failed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "models/ring/recording_memory.h"
#include "models/ring/split_device.h"
#include "models/ring/split_driver.h"
#include "testbench/ring/guest_memory.h"

namespace virtiosim::ring {
namespace {

using testing::GuestMemory;

constexpr uint8_t kDriverAgent = 1;
constexpr uint8_t kDeviceAgent = 2;
// Driver fixture: buffers at kData, inside guest memory of kMemSize.
constexpr uint64_t kData = GuestMemory::kBase + 0x10000;
constexpr uint64_t kMemSize = 0x20000;

class SplitDeviceBadInput : public ::testing::Test {
 protected:
  void make(uint32_t num, uint64_t features = feature_bit(VIRTIO_RING_F_INDIRECT_DESC),
            DeviceOptions opts = {}) {
    num_ = num;
    // The ring first, then 64 KiB of buffers, then 64 KiB of indirect tables.
    const uint64_t ring = (SplitLayout::contiguous_bytes(num) + 0xfff) & ~uint64_t{0xfff};
    mem_size_ = ring + 0x20000;
    data_ = GuestMemory::kBase + ring;
    table_ = data_ + 0x10000;
    avail_idx_ = 0;
    gm_.emplace(mem_size_);
    layout_ = SplitLayout::place(gm_->alloc(SplitLayout::contiguous_bytes(num)), num);
    dev_.emplace(RecordingMemory(gm_->native(), &log_, kDeviceAgent), layout_, Features{features},
                 opts);
  }
  void SetUp() override { make(8); }

  void put16(uint64_t gpa, uint16_t v) { v = le::from_host(v), std::memcpy(gm_->host(gpa), &v, 2); }
  void put_desc_at(uint64_t gpa, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
    vring_desc d{le::from_host(addr), le::from_host(len), le::from_host(flags), le::from_host(next)};
    std::memcpy(gm_->host(gpa), &d, sizeof d);
  }
  void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags = 0, uint16_t next = 0) {
    put_desc_at(layout_.desc_addr(i), addr, len, flags, next);
  }
  void table_entry(uint64_t table, uint16_t j, uint64_t addr, uint32_t len, uint16_t flags = 0,
                   uint16_t next = 0) {
    put_desc_at(table + uint64_t{j} * 16, addr, len, flags, next);
  }
  // Play the driver: heads into the avail ring, then the avail idx.
  void publish(std::initializer_list<uint16_t> heads) {
    for (uint16_t h : heads) put16(layout_.avail_ring_addr(avail_idx_++ & (num_ - 1)), h);
    put16(layout_.avail + split_off::avail_idx, avail_idx_);
  }
  std::vector<uint8_t> snapshot() const {
    return {gm_->host(GuestMemory::kBase), gm_->host(GuestMemory::kBase) + mem_size_};
  }
  bool any_write() const {
    for (const Access& a : log_)
      if (a.op == Access::Op::write) return true;
    return false;
  }

  // The next pop must fail with `e`; afterwards the device is broken and,
  // whatever it is asked, touches no memory; guest memory is unchanged.
  void expect_fatal(RingError e) {
    const std::vector<uint8_t> before = snapshot();
    log_.clear();
    Chain c;
    auto r = dev_->pop(c);
    EXPECT_EQ(r.error, e) << "got " << name(r.error) << ", want " << name(e);
    EXPECT_TRUE(dev_->broken());
    EXPECT_EQ(dev_->last_error(), e);
    EXPECT_EQ(dev_->stats().errors[e], 1u);
    EXPECT_FALSE(any_write()) << "a failing pop wrote guest memory";

    log_.clear();
    EXPECT_EQ(dev_->pop(c).error, RingError::queue_broken);
    EXPECT_FALSE(dev_->has_available());
    EXPECT_EQ(dev_->push_used({0, 0, 1, false}), RingError::queue_broken);
    EXPECT_EQ(dev_->flush(), RingError::queue_broken);
    EXPECT_FALSE(dev_->should_signal());
    dev_->disable_notifications();
    EXPECT_FALSE(dev_->enable_notifications());
    EXPECT_EQ(dev_->stats().errors[RingError::queue_broken], 0u) << "queue_broken is not counted as a new fault";
    EXPECT_TRUE(log_.empty()) << log_.size() << " accesses after the queue broke";
    EXPECT_EQ(snapshot(), before) << "guest memory changed";
  }

  uint32_t num_ = 0;
  uint64_t mem_size_ = 0, data_ = 0, table_ = 0;
  std::optional<GuestMemory> gm_;
  SplitLayout layout_;
  AccessLog log_;
  std::optional<SplitDevice<RecordingMemory>> dev_;
  uint16_t avail_idx_ = 0;
};

TEST_F(SplitDeviceBadInput, HeadOutOfRange) {
  publish({8});
  expect_fatal(RingError::head_out_of_range);
}

TEST_F(SplitDeviceBadInput, HeadOutOfRangeLargeIndex) {
  publish({0xffff});
  expect_fatal(RingError::head_out_of_range);
}

TEST_F(SplitDeviceBadInput, NextOutOfRange) {
  desc(0, data_, 16, kDescNext, 8);
  publish({0});
  expect_fatal(RingError::next_out_of_range);
}

TEST_F(SplitDeviceBadInput, ChainLoopOnItself) {
  desc(3, data_, 16, kDescNext, 3);
  publish({3});
  expect_fatal(RingError::chain_loop);
}

TEST_F(SplitDeviceBadInput, ChainLoopThroughSeveral) {
  desc(0, data_, 16, kDescNext, 5);
  desc(5, data_, 16, kDescNext, 2);
  desc(2, data_, 16, kDescNext, 5);
  publish({0});
  expect_fatal(RingError::chain_loop);
}

// On a big queue a short loop is still a loop, not a chain that hits the
// device's segment limit: it is caught at the first revisit.
TEST_F(SplitDeviceBadInput, ChainLoopFoundAtFirstRevisitOnBigQueue) {
  make(32768);
  desc(0, data_, 16, kDescNext, 1);
  desc(1, data_, 16, kDescNext, 0);
  publish({0});
  log_.clear();
  Chain c;
  EXPECT_EQ(dev_->pop(c).error, RingError::chain_loop);
  size_t desc_reads = 0;
  for (const Access& a : log_) desc_reads += a.op == Access::Op::read && a.size == 16;
  EXPECT_EQ(desc_reads, 2u) << "descriptor 0 is not read a second time";
  EXPECT_EQ(dev_->stats().errors[RingError::chain_exceeds_limit], 0u);
}

TEST_F(SplitDeviceBadInput, ChainLoopIsNotConfusedAcrossPops) {
  // Descriptor 1 visited by the first buffer must not look visited to the next.
  desc(1, data_, 16);
  desc(2, data_, 16, kDescNext, 1);
  publish({1, 2});
  Chain c;
  auto r = dev_->pop(c);
  ASSERT_TRUE(r.ok() && r.value);
  r = dev_->pop(c);
  ASSERT_TRUE(r.ok() && r.value) << name(r.error);
  EXPECT_EQ(c.readable.size(), 2u);
}

TEST_F(SplitDeviceBadInput, ChainExceedsDeviceLimit) {
  make(8, feature_bit(VIRTIO_RING_F_INDIRECT_DESC), DeviceOptions{.max_segments = 2});
  desc(0, data_, 16, kDescNext, 1);
  desc(1, data_, 16, kDescNext, 2);
  desc(2, data_, 16);
  publish({0});
  expect_fatal(RingError::chain_exceeds_limit);
}

TEST_F(SplitDeviceBadInput, IndirectTableExceedsDeviceLimit) {
  make(8, feature_bit(VIRTIO_RING_F_INDIRECT_DESC), DeviceOptions{.max_segments = 2});
  desc(0, table_, 3 * 16, kDescIndirect);
  publish({0});
  expect_fatal(RingError::chain_exceeds_limit);
}

// "A driver MUST NOT create a descriptor chain longer than the Queue Size
// of the device" (indirect descriptors, split-ring.tex); DPDK refuses such
// tables too.
TEST_F(SplitDeviceBadInput, P6_4_IndirectTableLongerThanQueue) {
  for (uint16_t j = 0; j < 9; ++j) table_entry(table_, j, data_, 16, j < 8 ? kDescNext : 0, j + 1);
  desc(0, table_, 9 * 16, kDescIndirect);
  publish({0});
  expect_fatal(RingError::chain_too_long);
}

TEST_F(SplitDeviceBadInput, AvailIdxJump) {
  put16(layout_.avail + split_off::avail_idx, 9);  // 9 > queue size 8 new entries
  expect_fatal(RingError::avail_idx_jump);
}

TEST_F(SplitDeviceBadInput, AvailIdxJumpAfterWrap) {
  // Free-running indices: from 0xfffe a move to 7 is 9 entries.
  ASSERT_EQ(dev_->set_state({0xfffe, true, 0, true}), RingError::bad_ring_state)
      << "0xfffe entries in flight with used idx 0 is impossible";
  put16(layout_.used + split_off::used_idx, 0xfffe);
  ASSERT_EQ(dev_->set_state({0xfffe, true, 0, true}), RingError::ok);
  EXPECT_EQ(dev_->last_used_idx(), 0xfffe);
  put16(layout_.avail + split_off::avail_idx, 7);
  expect_fatal(RingError::avail_idx_jump);
}

TEST_F(SplitDeviceBadInput, AvailIdxOfExactlyQueueSizeIsAccepted) {
  for (uint16_t i = 0; i < 8; ++i) desc(i, data_, 16);
  publish({0, 1, 2, 3, 4, 5, 6, 7});
  Chain c;
  for (int k = 0; k < 8; ++k) {
    auto r = dev_->pop(c);
    ASSERT_TRUE(r.ok() && r.value) << name(r.error);
  }
}

// P3, found by ring_device_fuzz: eight buffers popped and none used leave
// the driver no descriptor; a ninth head in the avail ring (avail idx one
// past last_avail_idx, nine past the used idx) is more in flight than the
// queue holds.
TEST_F(SplitDeviceBadInput, P3_MoreInFlightThanTheQueueSize) {
  for (uint16_t i = 0; i < 8; ++i) desc(i, data_, 16);
  publish({0, 1, 2, 3, 4, 5, 6, 7});
  Chain c;
  for (int k = 0; k < 8; ++k) ASSERT_TRUE(dev_->pop(c).value);
  publish({0});
  expect_fatal(RingError::queue_size_exceeded);
}

// P3 control: once one buffer is published as used, the ninth is taken.
TEST_F(SplitDeviceBadInput, P3_NinthBufferAfterOneUsedIsAccepted) {
  for (uint16_t i = 0; i < 8; ++i) desc(i, data_, 16);
  publish({0, 1, 2, 3, 4, 5, 6, 7});
  Chain c;
  for (int k = 0; k < 8; ++k) ASSERT_TRUE(dev_->pop(c).value);
  ASSERT_EQ(dev_->push_used(UsedElem{0, 0, 1, false}), RingError::ok);
  ASSERT_EQ(dev_->flush(), RingError::ok);
  publish({0});
  auto r = dev_->pop(c);
  ASSERT_TRUE(r.ok() && r.value) << name(r.error);
  EXPECT_EQ(c.id, 0);
}

TEST_F(SplitDeviceBadInput, P7_IndirectNotNegotiated) {
  make(8, 0);
  table_entry(table_, 0, data_, 16);
  desc(0, table_, 16, kDescIndirect);
  publish({0});
  expect_fatal(RingError::indirect_not_negotiated);
}

TEST_F(SplitDeviceBadInput, P7_IndirectWithNext) {
  table_entry(table_, 0, data_, 16);
  desc(0, table_, 16, kDescIndirect | kDescNext, 1);
  desc(1, data_, 16);
  publish({0});
  expect_fatal(RingError::indirect_with_next);
}

TEST_F(SplitDeviceBadInput, P7_IndirectNested) {
  table_entry(table_, 0, data_, 16, kDescNext, 1);
  table_entry(table_, 1, table_ + 0x100, 16, kDescIndirect);
  desc(0, table_, 32, kDescIndirect);
  publish({0});
  expect_fatal(RingError::indirect_nested);
}

TEST_F(SplitDeviceBadInput, P7_IndirectBadLengthZero) {
  desc(0, table_, 0, kDescIndirect);
  publish({0});
  expect_fatal(RingError::indirect_bad_length);
}

TEST_F(SplitDeviceBadInput, P7_IndirectBadLengthNotMultipleOf16) {
  desc(0, table_, 17, kDescIndirect);
  publish({0});
  expect_fatal(RingError::indirect_bad_length);
}

TEST_F(SplitDeviceBadInput, NextOutOfRangeInsideIndirectTable) {
  table_entry(table_, 0, data_, 16, kDescNext, 1);
  table_entry(table_, 1, data_, 16, kDescNext, 2);  // table has 2 entries
  desc(0, table_, 32, kDescIndirect);
  publish({0});
  expect_fatal(RingError::next_out_of_range);
}

TEST_F(SplitDeviceBadInput, ChainLoopInsideIndirectTable) {
  table_entry(table_, 0, data_, 16, kDescNext, 1);
  table_entry(table_, 1, data_, 16, kDescNext, 0);
  desc(0, table_, 32, kDescIndirect);
  publish({0});
  expect_fatal(RingError::chain_loop);
}

// Inside a split table NEXT links are how entries are chained, in any
// order; the table ends at the first entry without NEXT.
TEST_F(SplitDeviceBadInput, P7_IndirectTableWithNonSequentialLinksIsAccepted) {
  table_entry(table_, 0, data_ + 0x00, 10, kDescNext, 2);
  table_entry(table_, 2, data_ + 0x10, 20, kDescNext, 1);
  table_entry(table_, 1, data_ + 0x20, 30, kDescWrite);
  desc(0, table_, 48, kDescIndirect);
  publish({0});
  Chain c;
  auto r = dev_->pop(c);
  ASSERT_TRUE(r.ok() && r.value) << name(r.error);
  EXPECT_TRUE(c.indirect);
  ASSERT_EQ(c.readable.size(), 2u);
  EXPECT_EQ(c.readable[1].addr, data_ + 0x10);
  ASSERT_EQ(c.writable.size(), 1u);
  EXPECT_EQ(c.writable_bytes, 30u);
}

// "The device MUST handle the case of zero or more normal chained
// descriptors followed by a single descriptor with INDIRECT".
TEST_F(SplitDeviceBadInput, P7_DirectDescriptorsFollowedByIndirectAreAccepted) {
  table_entry(table_, 0, data_ + 0x100, 64, kDescWrite);
  desc(4, data_, 12, kDescNext, 6);
  desc(6, table_, 16, kDescIndirect);
  publish({4});
  Chain c;
  auto r = dev_->pop(c);
  ASSERT_TRUE(r.ok() && r.value) << name(r.error);
  EXPECT_EQ(c.id, 4u);
  EXPECT_EQ(c.count, 1u);
  EXPECT_TRUE(c.indirect);
  ASSERT_EQ(c.readable.size(), 1u);
  ASSERT_EQ(c.writable.size(), 1u);
  EXPECT_EQ(c.writable[0].addr, data_ + 0x100);
}

TEST_F(SplitDeviceBadInput, AddressOverflowDirect) {
  desc(0, ~uint64_t{0} - 10, 100);
  publish({0});
  expect_fatal(RingError::address_overflow);
}

TEST_F(SplitDeviceBadInput, AddressOverflowIndirectTable) {
  desc(0, ~uint64_t{0} - 15, 32, kDescIndirect);
  publish({0});
  expect_fatal(RingError::address_overflow);
}

TEST_F(SplitDeviceBadInput, AddressOverflowInsideTable) {
  table_entry(table_, 0, ~uint64_t{0}, 2);
  desc(0, table_, 16, kDescIndirect);
  publish({0});
  expect_fatal(RingError::address_overflow);
}

TEST_F(SplitDeviceBadInput, AddressUnmappedBelowGuestMemory) {
  desc(0, GuestMemory::kBase - 0x1000, 16);
  publish({0});
  expect_fatal(RingError::address_unmapped);
}

TEST_F(SplitDeviceBadInput, AddressUnmappedStraddlingTheEnd) {
  desc(0, GuestMemory::kBase + mem_size_ - 8, 16);
  publish({0});
  expect_fatal(RingError::address_unmapped);
}

TEST_F(SplitDeviceBadInput, AddressUnmappedLaterInChain) {
  desc(0, data_, 16, kDescNext, 1);
  desc(1, GuestMemory::kBase + mem_size_, 1, kDescWrite);
  publish({0});
  expect_fatal(RingError::address_unmapped);
}

TEST_F(SplitDeviceBadInput, AddressUnmappedIndirectTable) {
  desc(0, GuestMemory::kBase + mem_size_, 16, kDescIndirect);
  publish({0});
  expect_fatal(RingError::address_unmapped);
}

TEST_F(SplitDeviceBadInput, AddressUnmappedInsideTable) {
  table_entry(table_, 0, data_, 16, kDescNext, 1);
  table_entry(table_, 1, 0x10, 16);
  desc(0, table_, 32, kDescIndirect);
  publish({0});
  expect_fatal(RingError::address_unmapped);
}

TEST_F(SplitDeviceBadInput, P6_3_ReadableAfterWritableDirect) {
  desc(0, data_, 16, kDescNext | kDescWrite, 1);
  desc(1, data_, 16);
  publish({0});
  expect_fatal(RingError::readable_after_writable);
}

TEST_F(SplitDeviceBadInput, P6_3_ReadableAfterWritableInsideTable) {
  table_entry(table_, 0, data_, 16, kDescNext | kDescWrite, 1);
  table_entry(table_, 1, data_, 16);
  desc(0, table_, 32, kDescIndirect);
  publish({0});
  expect_fatal(RingError::readable_after_writable);
}

TEST_F(SplitDeviceBadInput, P6_3_ReadableAfterWritableAcrossDirectAndTable) {
  table_entry(table_, 0, data_, 16);
  desc(0, data_, 16, kDescNext | kDescWrite, 1);
  desc(1, table_, 16, kDescIndirect);
  publish({0});
  expect_fatal(RingError::readable_after_writable);
}

// Completions pushed but not flushed when the queue breaks are never
// published: counted as dropped, used idx and used ring untouched.
TEST_F(SplitDeviceBadInput, UnflushedCompletionsAreDroppedNotPublished) {
  desc(0, data_, 16, kDescWrite);
  desc(1, data_, 16, kDescNext, 1);
  publish({0, 1});
  Chain c;
  auto r = dev_->pop(c);
  ASSERT_TRUE(r.ok() && r.value);
  ASSERT_EQ(dev_->push_used(c.used(16)), RingError::ok);
  EXPECT_EQ(dev_->pending_used(), 1u);
  expect_fatal(RingError::chain_loop);
  EXPECT_EQ(dev_->pending_used(), 0u);
  EXPECT_EQ(dev_->stats().completions_dropped, 1u);
  uint16_t used_idx;
  std::memcpy(&used_idx, gm_->host(layout_.used + split_off::used_idx), 2);
  EXPECT_EQ(used_idx, 0);
}

// After a reset the queue works again from a fresh state.
TEST_F(SplitDeviceBadInput, ResetClearsBroken) {
  publish({9});
  expect_fatal(RingError::head_out_of_range);
  dev_->reset();
  EXPECT_FALSE(dev_->broken());
  avail_idx_ = 0;
  desc(0, data_, 16);
  publish({0});
  Chain c;
  auto r = dev_->pop(c);
  ASSERT_TRUE(r.ok() && r.value) << name(r.error);
}

// ---- the driver side against a misbehaving device ----

class SplitDriverBadInput : public ::testing::Test {
 protected:
  void make(uint64_t features, DriverOptions opts = {}) {
    gm_.emplace(kMemSize);
    layout_ = SplitLayout::place(gm_->alloc(SplitLayout::contiguous_bytes(8)), 8);
    drv_.emplace(RecordingMemory(gm_->native(), &log_, kDriverAgent), layout_, Features{features}, opts);
  }
  void SetUp() override { make(0); }
  void add(uint64_t token, uint32_t segs = 1) {
    std::vector<Segment> in(segs, Segment{kData, 64});
    ASSERT_EQ(drv_->add({}, in, token), RingError::ok);
  }
  void used(uint16_t pos, uint32_t id, uint32_t len) {
    const uint64_t e = layout_.used_elem_addr(pos & 7);
    uint32_t v = le::from_host(id);
    std::memcpy(gm_->host(e), &v, 4);
    v = le::from_host(len);
    std::memcpy(gm_->host(e + 4), &v, 4);
  }
  void used_idx(uint16_t idx) {
    idx = le::from_host(idx);
    std::memcpy(gm_->host(layout_.used + split_off::used_idx), &idx, 2);
  }
  std::vector<uint8_t> snapshot() const {
    return {gm_->host(GuestMemory::kBase), gm_->host(GuestMemory::kBase) + kMemSize};
  }
  void expect_fatal(RingError e) {
    UsedBuffer u;
    auto r = drv_->get_used(u);
    EXPECT_EQ(r.error, e) << "got " << name(r.error) << ", want " << name(e);
    EXPECT_TRUE(drv_->broken());
    EXPECT_EQ(drv_->stats().errors[e], 1u);
    const std::vector<uint8_t> before = snapshot();
    log_.clear();
    EXPECT_EQ(drv_->get_used(u).error, RingError::queue_broken);
    const Segment s{kData, 1};
    EXPECT_EQ(drv_->add(std::span(&s, 1), {}, 99), RingError::queue_broken);
    EXPECT_FALSE(drv_->kick_prepare());
    drv_->disable_cb();
    EXPECT_FALSE(drv_->enable_cb());
    EXPECT_FALSE(drv_->enable_cb_delayed());
    EXPECT_TRUE(log_.empty()) << log_.size() << " accesses after the queue broke";
    EXPECT_EQ(snapshot(), before);
  }

  std::optional<GuestMemory> gm_;
  SplitLayout layout_;
  AccessLog log_;
  std::optional<SplitDriver<RecordingMemory>> drv_;
};

TEST_F(SplitDriverBadInput, P5_UsedIdOutOfRange) {
  add(1);
  used(0, 8, 0);
  used_idx(1);
  expect_fatal(RingError::bad_used_id);
}

TEST_F(SplitDriverBadInput, P5_UsedIdNotAHeadInFlight) {
  add(1, 3);  // descriptors 0, 1, 2; head 0
  used(0, 1, 0);  // 1 is inside the chain, not a head
  used_idx(1);
  expect_fatal(RingError::bad_used_id);
}

TEST_F(SplitDriverBadInput, P5_UsedIdReturnedTwice) {
  add(1);
  add(2);
  used(0, 0, 0);
  used(1, 0, 0);
  used_idx(2);
  UsedBuffer u;
  auto r = drv_->get_used(u);
  ASSERT_TRUE(r.ok() && r.value);
  EXPECT_EQ(u.token, 1u);
  expect_fatal(RingError::bad_used_id);
}

TEST_F(SplitDriverBadInput, UsedIdxJumpPastInFlight) {
  add(1);
  add(2);
  used(0, 0, 0);
  used_idx(3);  // 3 used, 2 in flight
  expect_fatal(RingError::used_idx_jump);
}

// The peek says "look", keeps nothing, and the get_used that follows
// reports the bad idx.
class SplitDriverHasUsed : public SplitDriverBadInput, public ::testing::WithParamInterface<bool> {};

TEST_P(SplitDriverHasUsed, UsedIdxJumpSeenByHasUsedThenReported) {
  make(0, DriverOptions{.cache_used_idx = GetParam()});
  add(1);
  used(0, 0, 0);
  used_idx(2);  // 2 used, 1 in flight
  EXPECT_TRUE(drv_->has_used());
  expect_fatal(RingError::used_idx_jump);
  EXPECT_FALSE(drv_->has_used()) << "a broken queue has nothing to take";
}

INSTANTIATE_TEST_SUITE_P(CacheUsedIdx, SplitDriverHasUsed, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "cached" : "linux"; });

// With cache_used_idx a used idx announced earlier is not read again while
// its entries last; a jump written meanwhile is caught when the idx is read
// next.
TEST_F(SplitDriverBadInput, UsedIdxJumpAfterACachedBurst) {
  make(0, DriverOptions{.cache_used_idx = true});
  add(1);
  add(2);
  used(0, 0, 0);
  used_idx(1);
  UsedBuffer u;
  ASSERT_TRUE(drv_->get_used(u).value);
  used_idx(5);  // 4 more used, 1 in flight
  expect_fatal(RingError::used_idx_jump);
}

TEST_F(SplitDriverBadInput, UsedIdxBackwardsIsAJump) {
  add(1);
  used_idx(0xffff);  // (u16)(0xffff - 0) = 65535 > 1 in flight
  expect_fatal(RingError::used_idx_jump);
}

// IN_ORDER: the batch named by the used id may not reach past the buffers
// the used idx says are used.
TEST_F(SplitDriverBadInput, P5_P8_InOrderBatchBeyondUsedIdx) {
  make(feature_bit(VIRTIO_F_IN_ORDER));
  add(1);
  add(2);
  add(3);  // heads 0, 1, 2
  used(0, 2, 0);  // batch up to head 2 = 3 buffers...
  used_idx(2);    // ...but only 2 used
  expect_fatal(RingError::bad_used_id);
}

TEST_F(SplitDriverBadInput, P15_DetachUnusedRecoversBrokenDriver) {
  add(1);
  add(2);
  used(0, 7, 0);
  used_idx(1);
  UsedBuffer u;
  EXPECT_EQ(drv_->get_used(u).error, RingError::bad_used_id);
  auto tokens = drv_->detach_unused();
  std::sort(tokens.begin(), tokens.end());
  EXPECT_EQ(tokens, (std::vector<uint64_t>{1, 2}));
  EXPECT_FALSE(drv_->broken());
  EXPECT_EQ(drv_->num_free(), 8u);
  EXPECT_EQ(drv_->avail_idx_shadow(), 0);
  add(3);
}

// Split queue sizes are powers of two (split-ring.tex: "Queue Size value is
// always a power of 2"); anything else, and 0 or > 32768, is refused by both
// sides at construction.
TEST(SplitConfig, P1_NonPowerOfTwoSizesThrow) {
  GuestMemory gm(SplitLayout::contiguous_bytes(65536) + 4096);
  for (uint32_t num : {3u, 1000u, 0u, 65536u}) {
    const SplitLayout layout{GuestMemory::kBase, GuestMemory::kBase + 0x80000,
                             GuestMemory::kBase + 0x100000, num};
    try {
      SplitDriver<> drv(gm.native(), layout, {});
      ADD_FAILURE() << "driver accepted queue size " << num;
    } catch (const RingConfigError& e) {
      EXPECT_EQ(e.error(), RingError::bad_queue_size) << num;
    }
    try {
      SplitDevice<> dev(gm.native(), layout, {});
      ADD_FAILURE() << "device accepted queue size " << num;
    } catch (const RingConfigError& e) {
      EXPECT_EQ(e.error(), RingError::bad_queue_size) << num;
    }
  }
}

TEST(SplitConfig, P1_MisalignedOrUnmappedLayoutThrows) {
  GuestMemory gm(SplitLayout::contiguous_bytes(256) + 4096);
  SplitLayout l = SplitLayout::place(GuestMemory::kBase, 256);
  l.used += 2;  // used ring must be 4-aligned
  EXPECT_THROW((SplitDriver<>(gm.native(), l, {})), RingConfigError);
  l = SplitLayout::place(GuestMemory::kBase + gm.size(), 256);
  EXPECT_THROW((SplitDevice<>(gm.native(), l, {})), RingConfigError);
}

}  // namespace
}  // namespace virtiosim::ring
