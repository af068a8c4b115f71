// The memory model joins cost, ordering and the log: what one agent writes
// is visible to another only when its store buffer says so, barriers
// constrain that, and everything is counted.
#include "models/memory/memory_model.h"

#include <gtest/gtest.h>

#include <cstring>
#include <utility>
#include <vector>

namespace virtiosim::memory {
namespace {

constexpr unsigned kDriver = 0, kDevice = 1;
constexpr uint64_t kBase = 0x100000;

uint16_t read16(MemoryModel& m, unsigned agent, uint64_t now, uint64_t gpa) {
  uint16_t v;
  m.read(agent, now, gpa, &v, 2, true);
  return v;
}

TEST(MemoryModel, TsoStoreIsInvisibleToOthersUntilDrainedButVisibleToItself) {
  BackingStore ram(kBase, 1 << 16);
  MemoryModel m(ram, {}, Ordering::tso, 2, 1);
  const uint16_t v = 0xbeef;
  const double transfer_ns = m.write(kDriver, 0, kBase + 0x100, &v, 2, true);  // the line's fetch
  EXPECT_EQ(read16(m, kDriver, 0, kBase + 0x100), 0xbeef);  // forwarding
  EXPECT_EQ(read16(m, kDevice, 0, kBase + 0x100), 0);       // still in the buffer
  // The store waits in the buffer for its line, then drains.
  const double drain_ns = m.params().store_buffer.store_drain_ns;
  EXPECT_EQ(read16(m, kDevice, static_cast<uint64_t>(transfer_ns * 1000), kBase + 0x100), 0);
  const uint64_t later = static_cast<uint64_t>((transfer_ns + drain_ns) * 1000) + 1;
  EXPECT_EQ(read16(m, kDevice, later, kBase + 0x100), 0xbeef);
  EXPECT_EQ(m.log().total(LogRecord::Op::visible), 1u);
}

TEST(MemoryModel, FullBarrierPublishesAndStalls) {
  BackingStore ram(kBase, 1 << 16);
  MemoryModel m(ram, {}, Ordering::tso, 2, 1);
  const uint16_t v = 7;
  m.write(kDriver, 0, kBase, &v, 2, true);
  const double ns = m.barrier(kDriver, 0, ring::BarrierSite::driver_kick_check);
  EXPECT_GE(ns, m.params().mb_ns);
  EXPECT_EQ(read16(m, kDevice, 0, kBase), 7);  // visible at once after the barrier
  EXPECT_EQ(m.stats(kDriver).barriers[static_cast<unsigned>(ring::BarrierKind::full)], 1u);
}

TEST(MemoryModel, SequentialConsistencyNeedsNoDrain) {
  BackingStore ram(kBase, 1 << 16);
  MemoryModel m(ram, {}, Ordering::sc, 2, 1);
  const uint16_t v = 9;
  m.write(kDriver, 0, kBase, &v, 2, true);
  EXPECT_EQ(read16(m, kDevice, 0, kBase), 9);
  EXPECT_EQ(*reinterpret_cast<uint16_t*>(ram.host(kBase)), 9);
}

TEST(MemoryModel, ChargesTheCostModelAndLogsEveryAccess) {
  BackingStore ram(kBase, 1 << 16);
  MemoryModel m(ram, {}, Ordering::sc, 2, 1);
  const uint64_t v = 1;
  const double w = m.write(kDriver, 0, kBase, &v, 8, true);
  EXPECT_DOUBLE_EQ(w, m.params().cost.dram_ns);
  uint64_t r;
  EXPECT_DOUBLE_EQ(m.read(kDevice, 0, kBase, &r, 8, true), m.params().cost.remote_transfer_ns);
  EXPECT_EQ(m.log().total(LogRecord::Op::write), 1u);
  EXPECT_EQ(m.log().total(LogRecord::Op::read), 1u);
  auto snap = m.log().snapshot();
  EXPECT_EQ(snap.back().agent, kDevice);
  EXPECT_EQ(snap.back().value, 1u);
}

// A store fault hits the next matching store only; with `every`, each one
// (a bug in code the agent runs each time).
TEST(MemoryModel, StoreFaultHitsTheNextMatchingStoreOrEvery) {
  for (const bool every : {false, true}) {
    BackingStore ram(kBase, 1 << 16);
    MemoryModel m(ram, {}, Ordering::sc, 2, 1);
    StoreFault f{kDriver, kBase, kBase + 0x40};
    f.stride = 4, f.offset = 2, f.xor_mask = 1, f.every = every;
    m.arm_store_fault(f);
    const uint16_t zero = 0;
    m.write(kDevice, 0, kBase + 2, &zero, 2, true);  // another agent: untouched
    EXPECT_EQ(read16(m, kDriver, 0, kBase + 2), 0);
    for (uint64_t at : {kBase + 2, kBase + 6}) m.write(kDriver, 0, at, &zero, 2, true);
    EXPECT_EQ(read16(m, kDriver, 0, kBase + 2), 1);
    EXPECT_EQ(read16(m, kDriver, 0, kBase + 6), every ? 1 : 0);
    EXPECT_EQ(m.store_faults_applied(), every ? 2u : 1u);
  }
}

// `count` stores in a row are deferred and made, in their program order,
// right after the next store the fault matches and does not take (a list's
// flags written after its head's): the order in which they become visible
// and their program-order numbers both say so.
TEST(MemoryModel, DeferredStoresFollowTheStoreThatReleasesThem) {
  BackingStore ram(kBase, 1 << 16);
  MemoryModel m(ram, {}, Ordering::tso, 2, 1);
  std::vector<std::pair<uint64_t, uint64_t>> visible;  // addr, seq
  m.on_visible([&](unsigned agent, const PendingStore& st) {
    if (agent == kDriver) visible.emplace_back(st.addr, st.seq);
  });
  StoreFault f{kDriver, kBase, kBase + 0x40};
  f.offset = 14, f.skip = 1, f.count = 2, f.defer = true;  // 16-byte records, the flags at 14
  m.arm_store_fault(f);
  const uint16_t one = 1;
  for (uint64_t rec : {0x00, 0x10, 0x20}) m.write(kDriver, 0, kBase + rec + 14, &one, 2, true);
  // Not made yet: the agent's own loads do not see them either.
  EXPECT_EQ(read16(m, kDriver, 0, kBase + 0x10 + 14), 0);
  m.write(kDriver, 0, kBase + 0x08, &one, 2, true);  // not a field the fault matches: releases nothing
  EXPECT_EQ(read16(m, kDriver, 0, kBase + 0x20 + 14), 0);
  m.write(kDriver, 0, kBase + 0x30 + 14, &one, 2, true);  // the releasing store
  EXPECT_EQ(read16(m, kDriver, 0, kBase + 0x10 + 14), 1);
  m.settle(1'000'000'000);
  const std::vector<uint64_t> order = {kBase + 14, kBase + 0x08, kBase + 0x30 + 14, kBase + 0x10 + 14,
                                       kBase + 0x20 + 14};
  ASSERT_EQ(visible.size(), order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    EXPECT_EQ(visible[i].first, order[i]) << i;
    if (i > 0) {
      EXPECT_GT(visible[i].second, visible[i - 1].second) << i;
    }
  }
  EXPECT_EQ(m.store_faults_applied(), 2u);
}

TEST(MemoryModel, RefusesAccessOutsideGuestMemory) {
  BackingStore ram(kBase, 4096);
  MemoryModel m(ram, {}, Ordering::sc, 2, 1);
  uint64_t v = 0;
  EXPECT_THROW(m.read(kDriver, 0, kBase + 4090, &v, 8, true), std::out_of_range);
  EXPECT_THROW(m.write(kDriver, 0, kBase - 8, &v, 8, true), std::out_of_range);
  EXPECT_FALSE(m.maps(kBase + 4096, 1));
}

TEST(BackingStore, IsAZeroedSharableMemfd) {
  BackingStore ram(kBase, 1 << 20);
  EXPECT_GE(ram.fd(), 0);
  for (uint64_t i = 0; i < ram.size(); i += 4096) ASSERT_EQ(*ram.host(kBase + i), 0);
  EXPECT_TRUE(ram.maps(kBase, 1 << 20));
  EXPECT_FALSE(ram.maps(kBase, (1 << 20) + 1));
}

}  // namespace
}  // namespace virtiosim::memory
