// The ring shadow (sim/check/ring_watch.h) fed synthetic stores: for each
// ownership and order rule, the exact stores that break it and the rule it
// must name (with the address), beside the legal variation it must not
// report — a list's head written last, stores made visible out of program
// order, out-of-order completion without IN_ORDER, laps of a packed ring.
#include <gtest/gtest.h>

#include "testbench/sim/check/synthetic_queue.h"

namespace virtiosim::sim::testing {
namespace {

using ring::RingLayout;
using Strings = std::vector<std::string>;

const uint64_t kInOrder = ring::feature_bit(VIRTIO_F_IN_ORDER);

// ---- packed ------------------------------------------------------------------

// Three laps of one buffer at a time: the shadow follows both wrap counters
// and reports nothing.
TEST(RingWatchPacked, LapsOfTheRingAreClean) {
  SyntheticQueue q(RingLayout::packed);
  bool wrap = true;
  for (uint32_t n = 0; n < 3 * kNum; ++n) {
    const uint32_t slot = n % kNum;
    q.packed_avail(slot, static_cast<uint16_t>(slot), wrap);
    q.complete(static_cast<uint16_t>(slot));
    q.packed_used(slot, static_cast<uint16_t>(slot), wrap);
    if (slot == kNum - 1) wrap = !wrap;
  }
  EXPECT_EQ(q.monitor().total(), 0u) << q.rules().front();
}

// A two-descriptor list whose head flags are written last (as Linux does)
// is one buffer; the device returns it with one used entry.
TEST(RingWatchPacked, AListWithItsHeadWrittenLastIsOneBuffer) {
  SyntheticQueue q(RingLayout::packed);
  q.packed_avail(1, 7, true);                   // the list's last descriptor carries the id
  q.packed_avail(0, 0, true, ring::kDescNext);  // then the head
  q.complete(7);
  q.packed_used(0, 7, true);
  q.packed_avail(2, 3, true);  // the next buffer starts behind the list
  q.complete(3);
  q.packed_used(2, 3, true);  // and so does its used entry: the list took two slots
  EXPECT_EQ(q.monitor().total(), 0u) << q.rules().front();
}

// P5: NEXT in a used descriptor's flags.
TEST(RingWatchPacked, UsedEntryWithNextIsP5) {
  SyntheticQueue q(RingLayout::packed);
  q.packed_avail(0, 0, true);
  q.complete(0);
  q.packed_used(0, 0, true, ring::kDescNext);
  ASSERT_EQ(q.rules(), Strings{"P5"});
  const Violation& v = q.monitor().violations().front();
  EXPECT_EQ(v.addr, q.packed().flags_addr(0));
  EXPECT_EQ(v.agent, kDevice);
  EXPECT_EQ(v.queue, "tx0");
  EXPECT_EQ(v.value_read, ring::packed_used_flags(true) | ring::kDescNext);
}

// P5: a used entry naming a buffer id that is not in flight.
TEST(RingWatchPacked, UsedIdNotInFlightIsP5) {
  SyntheticQueue q(RingLayout::packed);
  q.packed_avail(0, 0, true);
  q.packed_used(0, 5, true);
  ASSERT_EQ(q.rules(), Strings{"P5"});
  EXPECT_EQ(q.monitor().violations().front().value_read, 5u);
}

// P3: the driver rewrites a descriptor the device owns.
TEST(RingWatchPacked, DescriptorRewrittenWhileTheDeviceOwnsItIsP3) {
  SyntheticQueue q(RingLayout::packed);
  q.packed_avail(0, 0, true);
  q.store(kDriver, q.packed().len_addr(0), 1500, 4);  // the same value: still not the driver's to write
  ASSERT_EQ(q.rules(), Strings{"P3"});
  EXPECT_EQ(q.monitor().violations().front().addr, q.packed().len_addr(0));
  EXPECT_EQ(q.monitor().violations().front().agent, kDriver);
  // Once the device hands it back, the slot is the driver's again.
  q.complete(0);
  q.packed_used(0, 0, true);
  q.store(kDriver, q.packed().len_addr(0), 64, 4);
  EXPECT_EQ(q.monitor().total(), 1u);
}

// A driver that writes the flags before the body (in program order) hands
// the slot over first: every body store after it is a write to a slot the
// device owns.
TEST(RingWatchPacked, FlagsWrittenBeforeTheBodyIsP3) {
  SyntheticQueue q(RingLayout::packed);
  q.store(kDriver, q.packed().flags_addr(0), ring::packed_avail_flags(true), 2);
  q.packed_avail_body(0, 0);
  EXPECT_EQ(q.rules(), (Strings{"P3", "P3", "P3"}));
}

// The body written first but made visible after the flags (a store buffer
// without a write barrier) is a reordering, the ordering checker's (P13),
// not an ownership violation: the shadow reads the list in the driver's
// program order and stays in step.
TEST(RingWatchPacked, BodyVisibleAfterTheFlagsIsNotP3) {
  SyntheticQueue q(RingLayout::packed);
  const uint64_t addr = q.issue(kDriver, q.packed().desc_addr(0), kBufferAddr, 8);
  const uint64_t len = q.issue(kDriver, q.packed().len_addr(0), 1500, 4);
  const uint64_t id = q.issue(kDriver, q.packed().id_addr(0), 4, 2);
  const uint64_t flags = q.issue(kDriver, q.packed().flags_addr(0), ring::packed_avail_flags(true), 2);
  q.drain(kDriver, flags);
  q.drain(kDriver, id);
  q.drain(kDriver, addr);
  q.drain(kDriver, len);
  q.complete(4);
  q.packed_used(0, 4, true);  // the id the driver meant, though it became visible late
  EXPECT_EQ(q.monitor().total(), 0u) << q.rules().front();
}

// P3: the device writes a slot it does not own.
TEST(RingWatchPacked, DeviceWritingASlotItDoesNotOwnIsP3) {
  SyntheticQueue q(RingLayout::packed);
  q.packed_avail(0, 0, true);
  q.store(kDevice, q.packed().id_addr(3), 0, 2);
  ASSERT_EQ(q.rules(), Strings{"P3"});
  EXPECT_EQ(q.monitor().violations().front().agent, kDevice);
  EXPECT_EQ(q.monitor().violations().front().addr, q.packed().id_addr(3));
}

// P2: head flags that do not encode "available" for the driver's wrap
// counter (AVAIL == USED), and used flags that do not match the device's.
TEST(RingWatchPacked, FlagsNotEncodingTheWrapCounterAreP2) {
  SyntheticQueue driver(RingLayout::packed);
  driver.packed_avail_body(0, 0);
  driver.store(kDriver, driver.packed().flags_addr(0), ring::kDescAvail | ring::kDescUsed, 2);
  ASSERT_EQ(driver.rules(), Strings{"P2"});
  EXPECT_EQ(driver.monitor().violations().front().value_expected, ring::packed_avail_flags(true));

  SyntheticQueue device(RingLayout::packed);
  device.packed_avail(0, 0, true);
  device.complete(0);
  device.store(kDevice, device.packed().flags_addr(0), ring::kDescUsed, 2);  // USED without AVAIL: wrap 0
  ASSERT_EQ(device.rules(), Strings{"P2"});
  EXPECT_EQ(device.monitor().violations().front().value_expected, ring::packed_used_flags(true));
}

// P6.2: a list whose NEXT runs into a slot the driver has not made available.
TEST(RingWatchPacked, ListRunningIntoAnUnavailableSlotIsP6_2) {
  SyntheticQueue q(RingLayout::packed);
  q.packed_avail(0, 0, true, ring::kDescNext);
  ASSERT_EQ(q.rules(), Strings{"P6.2"});
  EXPECT_EQ(q.monitor().violations().front().addr, q.packed().flags_addr(1));
}

// P6.3: a device-readable descriptor after a device-writable one, in a
// packed list (head written last) and in a split chain.
TEST(RingWatchPacked, ReadableAfterWritableIsP6_3) {
  SyntheticQueue q(RingLayout::packed);
  q.packed_avail(1, 0, true);
  q.packed_avail(0, 0, true, ring::kDescNext | ring::kDescWrite);
  ASSERT_EQ(q.rules(), Strings{"P6.3"});
  EXPECT_EQ(q.monitor().violations().front().addr, q.packed().flags_addr(1));
}

TEST(RingWatchSplit, ReadableAfterWritableIsP6_3) {
  SyntheticQueue q(RingLayout::split);
  q.split_desc(0, ring::kDescNext | ring::kDescWrite, 1);
  q.split_desc(1);
  q.split_avail(0, 0);
  ASSERT_EQ(q.rules(), Strings{"P6.3"});
  EXPECT_EQ(q.monitor().violations().front().addr, q.split().flags_addr(1));
}

// P4: used entries in another order than the device completed the buffers;
// without IN_ORDER completing out of order is legal if written as completed.
TEST(RingWatchPacked, UsedEntriesInAnotherOrderThanCompletedAreP4) {
  for (const uint16_t first_completed : {0, 1}) {
    SyntheticQueue q(RingLayout::packed);
    q.packed_avail(0, 0, true);
    q.packed_avail(1, 1, true);
    q.complete(first_completed);
    q.complete(static_cast<uint16_t>(1 - first_completed));
    q.packed_used(0, 1, true);  // used entries for id 1, then id 0
    q.packed_used(1, 0, true);
    if (first_completed == 1) {
      EXPECT_EQ(q.monitor().total(), 0u) << q.rules().front();
      continue;
    }
    ASSERT_EQ(q.rules(), Strings{"P4"});
    EXPECT_EQ(q.monitor().violations().front().value_read, 1u);
    EXPECT_EQ(q.monitor().violations().front().value_expected, 0u);
  }
}

// P8: with IN_ORDER a buffer completed before one made available earlier.
TEST(RingWatchPacked, InOrderCompletionOutOfOrderIsP8) {
  SyntheticQueue q(RingLayout::packed, kInOrder);
  q.packed_avail(0, 0, true);
  q.packed_avail(1, 1, true);
  q.complete(1);
  ASSERT_EQ(q.rules(), Strings{"P8"});
  EXPECT_EQ(q.monitor().violations().front().addr, q.packed().desc_addr(0));
}

// IN_ORDER: one used entry for the last buffer of a batch returns them all.
TEST(RingWatchPacked, InOrderBatchReturnsEveryBufferBeforeIt) {
  SyntheticQueue q(RingLayout::packed, kInOrder);
  for (uint16_t i = 0; i < 3; ++i) q.packed_avail(i, i, true);
  for (uint16_t i = 0; i < 3; ++i) q.complete(i);
  q.packed_used(0, 2, true);
  q.packed_avail(3, 0, true);  // id 0 is free again: not "made available twice"
  EXPECT_EQ(q.monitor().total(), 0u) << q.rules().front();
}

// ---- split -------------------------------------------------------------------

// Buffers 0 and 1, one descriptor each, made available and completed in that order.
void split_two_completed(SyntheticQueue& q) {
  for (uint16_t i = 0; i < 2; ++i) {
    q.split_desc(i);
    q.split_avail(i, i);
  }
  q.complete(0);
  q.complete(1);
}

// A two-descriptor chain made available, used, and its descriptors reused.
TEST(RingWatchSplit, ChainRoundTripAndReuseAreClean) {
  SyntheticQueue q(RingLayout::split);
  for (uint16_t n = 0; n < 3; ++n) {
    q.split_desc(0, ring::kDescNext, 1);
    q.split_desc(1);
    q.split_avail(n, 0);
    q.complete(0);
    q.split_used(n, 0);
  }
  EXPECT_EQ(q.monitor().total(), 0u) << q.rules().front();
}

// P3: the driver writes a descriptor of a chain in flight, also one that
// is not the head.
TEST(RingWatchSplit, DescriptorOfAnInFlightChainRewrittenIsP3) {
  SyntheticQueue q(RingLayout::split);
  q.split_desc(0, ring::kDescNext, 1);
  q.split_desc(1);
  q.split_avail(0, 0);
  q.store(kDriver, q.split().len_addr(1), 1500, 4);
  ASSERT_EQ(q.rules(), Strings{"P3"});
  EXPECT_EQ(q.monitor().violations().front().addr, q.split().len_addr(1));
  EXPECT_NE(q.monitor().violations().front().what.find("head 0"), std::string::npos);
}

// P3: the device writes the descriptor table.
TEST(RingWatchSplit, DeviceWritingTheDescriptorTableIsP3) {
  SyntheticQueue q(RingLayout::split);
  q.split_desc(0);
  q.split_avail(0, 0);
  q.store(kDevice, q.split().len_addr(0), 0, 4);
  ASSERT_EQ(q.rules(), Strings{"P3"});
  EXPECT_EQ(q.monitor().violations().front().agent, kDevice);
}

// P3: a head made available again while its chain is in flight.
TEST(RingWatchSplit, HeadMadeAvailableTwiceIsP3) {
  SyntheticQueue q(RingLayout::split);
  q.split_desc(0);
  q.split_avail(0, 0);
  q.split_avail(1, 0);
  ASSERT_FALSE(q.rules().empty());
  for (const std::string& r : q.rules()) EXPECT_EQ(r, "P3");
  EXPECT_EQ(q.monitor().violations().front().addr, q.split().desc_addr(0));
}

// P5: a used element naming an id beyond the queue, or one not in flight.
TEST(RingWatchSplit, UsedIdBeyondTheQueueOrNotInFlightIsP5) {
  SyntheticQueue q(RingLayout::split);
  q.split_desc(0);
  q.split_avail(0, 0);
  q.split_used(0, kNum + 1);
  q.split_used(1, 3);
  ASSERT_EQ(q.rules(), (Strings{"P5", "P5"}));
  EXPECT_EQ(q.monitor().violations()[0].addr, q.split().used_elem_addr(0));
  EXPECT_EQ(q.monitor().violations()[1].value_read, 3u);
}

// P4 on the split ring.
TEST(RingWatchSplit, UsedElementsInAnotherOrderThanCompletedAreP4) {
  SyntheticQueue q(RingLayout::split);
  split_two_completed(q);
  q.split_used(0, 1);
  q.split_used(1, 0);
  EXPECT_EQ(q.rules(), Strings{"P4"});
}

// IN_ORDER on the split ring: one used element for the last buffer of a
// batch, used->idx moved by the batch, is legal; moved by less it is P8.
TEST(RingWatchSplit, InOrderBatchMustMoveUsedIdxByTheBatch) {
  for (const uint16_t moved : {2, 1}) {
    SyntheticQueue q(RingLayout::split, kInOrder);
    split_two_completed(q);
    q.store(kDevice, q.split().used_elem_id_addr(0), 1, 4);
    q.store(kDevice, q.split().used_idx_addr(), moved, 2);
    if (moved == 2)
      EXPECT_EQ(q.monitor().total(), 0u) << q.rules().front();
    else
      EXPECT_EQ(q.rules(), Strings{"P8"});
  }
}

}  // namespace
}  // namespace virtiosim::sim::testing
