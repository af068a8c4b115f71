// The ordering model decides when a store becomes visible to the other
// agents; the barriers of the ring core constrain it. These tests pin the
// three modes down.
#include "models/memory/store_buffer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <vector>

namespace virtiosim::memory {
namespace {

struct Visible {
  uint64_t addr, visible_ps, seq;
};

struct Harness {
  std::vector<Visible> seen;
  StoreBuffer sb;
  Harness(Ordering o, uint64_t seed = 1, StoreBufferParams p = {})
      : sb(o, p, seed, [this](const PendingStore& s) { seen.push_back({s.addr, s.visible_ps, s.seq}); }) {}
  void store(uint64_t now, uint64_t addr, uint16_t v = 1) { sb.store(now, addr, &v, sizeof v); }
};

TEST(StoreBuffer, SequentialConsistencyIsVisibleAtOnce) {
  Harness h(Ordering::sc);
  h.store(1000, 0x10);
  ASSERT_EQ(h.seen.size(), 1u);
  EXPECT_EQ(h.seen[0].visible_ps, 1000u);
  EXPECT_EQ(h.sb.depth(), 0u);
}

TEST(StoreBuffer, TsoDrainsInProgramOrderAfterTheDelay) {
  Harness h(Ordering::tso);
  h.store(0, 0x1000);   // different lines
  h.store(0, 0x2000);
  h.sb.drain(1000);     // 1 ns: not yet
  EXPECT_TRUE(h.seen.empty());
  h.sb.drain(100000);
  ASSERT_EQ(h.seen.size(), 2u);
  EXPECT_EQ(h.seen[0].addr, 0x1000u);
  EXPECT_EQ(h.seen[1].addr, 0x2000u);
  EXPECT_EQ(h.sb.reordered(), 0u);
}

TEST(StoreBuffer, WeakReordersStoresToDifferentLinesForSomeSeed) {
  bool reordered = false;
  for (uint64_t seed = 1; seed <= 32 && !reordered; ++seed) {
    Harness h(Ordering::weak, seed);
    h.store(0, 0x1000);  // e.g. descriptor body
    h.store(0, 0x2000);  // e.g. flags on another line
    h.sb.drain(UINT64_MAX);
    reordered = h.seen[0].addr == 0x2000;
  }
  EXPECT_TRUE(reordered);
}

TEST(StoreBuffer, WeakKeepsOneLocationInOrder) {
  for (uint64_t seed = 1; seed <= 64; ++seed) {
    Harness h(Ordering::weak, seed);
    h.store(0, 0x1000, 1);
    h.store(0, 0x1000, 2);  // same location: coherence keeps the order
    h.sb.drain(UINT64_MAX);
    ASSERT_EQ(h.seen[0].seq, 0u) << "seed " << seed;
  }
}

TEST(StoreBuffer, WeakMayReorderStoresWithinOneCacheLine) {
  bool reordered = false;
  for (uint64_t seed = 1; seed <= 64 && !reordered; ++seed) {
    Harness h(Ordering::weak, seed);
    h.store(0, 0x1000);  // descriptor body ...
    h.store(0, 0x100e);  // ... and its flags, in the same 16 bytes
    h.sb.drain(UINT64_MAX);
    reordered = h.seen[0].addr == 0x100e;
  }
  EXPECT_TRUE(reordered);
}

TEST(StoreBuffer, WriteBarrierOrdersLaterStoresAfterEarlierOnes) {
  for (uint64_t seed = 1; seed <= 64; ++seed) {
    Harness h(Ordering::weak, seed);
    h.store(0, 0x1000);
    h.store(0, 0x1800);
    h.sb.write_barrier();
    h.store(0, 0x2000);
    h.sb.drain(UINT64_MAX);
    ASSERT_EQ(h.seen.size(), 3u);
    EXPECT_EQ(h.seen[2].addr, 0x2000u) << "seed " << seed;
  }
}

TEST(StoreBuffer, FullBarrierEmptiesTheBufferAndReportsTheStall) {
  Harness h(Ordering::tso);
  h.store(0, 0x1000);
  const uint64_t stall = h.sb.full_barrier(0);
  EXPECT_EQ(h.sb.depth(), 0u);
  ASSERT_EQ(h.seen.size(), 1u);
  EXPECT_EQ(stall, h.seen[0].visible_ps);
  EXPECT_GT(stall, 0u);
}

TEST(StoreBuffer, LoadsSeeTheAgentsOwnPendingStores) {
  Harness h(Ordering::tso);
  uint32_t v = 0xAABBCCDD;
  h.sb.store(0, 0x100, &v, 4);
  uint16_t w = 0x1122;
  h.sb.store(0, 0x102, &w, 2);  // later store overlaps the top half
  uint8_t mem[8] = {};
  h.sb.forward(0x100, mem, sizeof mem);
  uint32_t got;
  std::memcpy(&got, mem, 4);
  EXPECT_EQ(got, 0x1122CCDDu);
  EXPECT_EQ(mem[4], 0);
}

TEST(StoreBuffer, FullBufferStallsAndForcesTheOldestOut) {
  StoreBufferParams p;
  p.store_buffer_entries = 2;
  Harness h(Ordering::tso, 1, p);
  h.store(0, 0x1000);
  h.store(0, 0x2000);
  EXPECT_TRUE(h.seen.empty());
  uint16_t v = 3;
  const uint64_t stall = h.sb.store(0, 0x3000, &v, 2);
  EXPECT_GT(stall, 0u);
  ASSERT_EQ(h.seen.size(), 1u);
  EXPECT_EQ(h.seen[0].addr, 0x1000u);
  EXPECT_EQ(h.sb.depth(), 2u);
}

TEST(StoreBuffer, SameSeedSameSchedule) {
  auto run = [](uint64_t seed) {
    Harness h(Ordering::weak, seed);
    for (uint64_t i = 0; i < 50; ++i) h.store(i * 1000, 0x1000 + i * 64);
    h.sb.drain(UINT64_MAX);
    std::vector<uint64_t> order;
    for (auto& s : h.seen) order.push_back(s.seq);
    return order;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

TEST(Ordering, ParsesItsNames) {
  Ordering o;
  EXPECT_TRUE(parse_ordering("weak", o));
  EXPECT_EQ(o, Ordering::weak);
  EXPECT_TRUE(parse_ordering("tso", o));
  EXPECT_EQ(o, Ordering::tso);
  EXPECT_FALSE(parse_ordering("relaxed", o));
}

}  // namespace
}  // namespace virtiosim::memory
