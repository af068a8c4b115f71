// Driver and device sides of one split ring exchanging buffers in-process
// through shared memory: every power-of-two size shape (1, 2, 256, 32768),
// refusal of the others, many laps of the 16-bit indices, chains up to the
// queue size, out-of-order completion through the free list, indirect tables
// with pool exhaustion, IN_ORDER batching.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "models/ring/split_device.h"
#include "models/ring/split_driver.h"
#include "testbench/ring/guest_memory.h"

namespace virtiosim::ring {
namespace {

using testing::GuestMemory;

struct Sent {
  uint64_t token;
  std::vector<Segment> out, in;
  uint32_t in_bytes() const {
    uint32_t n = 0;
    for (const Segment& s : in) n += s.len;
    return n;
  }
};

Sent random_buffer(std::mt19937& rng, uint64_t token, uint32_t max_chain) {
  Sent s{token, {}, {}};
  uint32_t nout = uint32_t(rng() % (max_chain + 1));
  uint32_t nin = uint32_t(rng() % (max_chain + 1 - nout));
  if (nout + nin == 0) nout = 1;
  for (uint32_t i = 0; i < nout; ++i)
    s.out.push_back({GuestMemory::kBase + rng() % 0x1000, uint32_t(1 + rng() % 1500)});
  for (uint32_t i = 0; i < nin; ++i)
    s.in.push_back({GuestMemory::kBase + 0x1000 + rng() % 0x1000, uint32_t(1 + rng() % 1500)});
  return s;
}

void expect_chain_matches(const Chain& chain, const Sent& s) {
  ASSERT_EQ(chain.readable.size(), s.out.size());
  ASSERT_EQ(chain.writable.size(), s.in.size());
  for (size_t i = 0; i < s.out.size(); ++i) {
    EXPECT_EQ(chain.readable[i].addr, s.out[i].addr);
    EXPECT_EQ(chain.readable[i].len, s.out[i].len);
  }
  for (size_t i = 0; i < s.in.size(); ++i) {
    EXPECT_EQ(chain.writable[i].addr, s.in[i].addr);
    EXPECT_EQ(chain.writable[i].len, s.in[i].len);
  }
  EXPECT_EQ(chain.count, 1u);  // split: one avail entry per buffer
}

class SplitRoundTrip : public ::testing::TestWithParam<uint32_t> {};

// Random buffers for several laps of the ring and well past one wrap of the
// 16-bit indices; the device completes each round in a shuffled order, so
// the driver's free list is exercised with chains coming back out of order.
// Every buffer arrives with its segments and returns with its token and the
// length the device reported.
TEST_P(SplitRoundTrip, RandomChainsOutOfOrderOverManyLaps) {
  const uint32_t num = GetParam();
  GuestMemory gm(SplitLayout::contiguous_bytes(num) + (1u << 20));
  const SplitLayout layout = SplitLayout::place(gm.alloc(SplitLayout::contiguous_bytes(num)), num);
  SplitDriver<> drv(gm.native(), layout, {});
  SplitDevice<> dev(gm.native(), layout, {});

  std::mt19937 rng(num);
  std::map<uint64_t, Sent> in_ring;   // by token
  std::map<uint16_t, uint64_t> by_head;
  std::vector<std::pair<uint16_t, uint32_t>> popped;  // (head, len to report)
  Chain chain;
  uint64_t next_token = 1, completed = 0;
  const uint64_t target = std::max<uint64_t>(3 * uint64_t{num}, 70000);  // > 2^16: index wrap
  const uint32_t max_chain = std::min<uint32_t>(num, 8);

  while (completed < target) {
    std::vector<uint64_t> order;
    for (;;) {
      Sent s = random_buffer(rng, next_token, max_chain);
      const uint16_t head = drv.free_head();
      RingError e = drv.add(s.out, s.in, s.token);
      if (e == RingError::no_space) break;
      ASSERT_EQ(e, RingError::ok);
      by_head[head] = s.token;
      order.push_back(s.token);
      in_ring.emplace(s.token, std::move(s));
      ++next_token;
    }
    size_t k = 0;
    popped.clear();
    for (;;) {
      auto r = dev.pop(chain);
      ASSERT_TRUE(r.ok()) << name(r.error);
      if (!r.value) break;
      ASSERT_LT(k, order.size());
      ASSERT_EQ(by_head.at(chain.id), order[k]) << "avail ring order";
      const Sent& s = in_ring.at(order[k++]);
      expect_chain_matches(chain, s);
      popped.emplace_back(chain.id, uint32_t(rng() % (chain.writable_bytes + 1)));
    }
    ASSERT_EQ(k, order.size());
    std::shuffle(popped.begin(), popped.end(), rng);
    std::map<uint64_t, uint32_t> reported;
    for (auto [head, len] : popped) {
      ASSERT_EQ(dev.push_used({head, len, 1, false}), RingError::ok);
      reported[by_head.at(head)] = len;
    }
    ASSERT_EQ(dev.flush(), RingError::ok);
    UsedBuffer u;
    size_t got = 0;
    for (;;) {
      auto r = drv.get_used(u);
      ASSERT_TRUE(r.ok()) << name(r.error);
      if (!r.value) break;
      ASSERT_EQ(in_ring.count(u.token), 1u) << "token returned twice or never sent";
      EXPECT_EQ(u.len, reported.at(u.token));
      in_ring.erase(u.token);
      ++got;
      ++completed;
    }
    ASSERT_EQ(got, popped.size());
    ASSERT_TRUE(in_ring.empty());
  }
  EXPECT_EQ(drv.num_free(), num);
  EXPECT_EQ(drv.stats().used, completed);
  EXPECT_EQ(dev.last_avail_idx(), drv.avail_idx_shadow());
  EXPECT_EQ(dev.last_used_idx(), drv.last_used_idx());
  EXPECT_EQ(uint16_t(completed), drv.last_used_idx());  // free-running, wrapped at least once
  EXPECT_FALSE(drv.broken());
  EXPECT_FALSE(dev.broken());
}

// A chain of exactly queue-size descriptors is legal and uses the whole
// table; one more is refused by the driver before anything is written.
TEST_P(SplitRoundTrip, ChainOfExactlyQueueSize) {
  const uint32_t num = GetParam();
  GuestMemory gm(SplitLayout::contiguous_bytes(num) + 4096);
  const SplitLayout layout = SplitLayout::place(gm.alloc(SplitLayout::contiguous_bytes(num)), num);
  SplitDriver<> drv(gm.native(), layout, {});
  SplitDevice<> dev(gm.native(), layout, {}, DeviceOptions{.max_segments = num});
  std::vector<Segment> segs(num + 1, Segment{GuestMemory::kBase, 64});
  Chain chain;
  UsedBuffer u;
  for (int lap = 0; lap < 3; ++lap) {
    EXPECT_EQ(drv.add(std::span(segs).first(num + 1), {}, 7), RingError::no_space);
    EXPECT_EQ(drv.avail_idx_shadow(), lap) << "a refused add must not publish";
    ASSERT_EQ(drv.add(std::span(segs).first(num), {}, 100 + lap), RingError::ok);
    EXPECT_EQ(drv.num_free(), 0u);
    EXPECT_EQ(drv.add(std::span(segs).first(1), {}, 8), RingError::no_space);
    auto r = dev.pop(chain);
    ASSERT_TRUE(r.ok() && r.value) << name(r.error);
    EXPECT_EQ(chain.readable.size(), num);
    EXPECT_EQ(chain.readable_bytes, uint64_t{num} * 64);
    ASSERT_EQ(dev.push_used(chain.used(0)), RingError::ok);
    ASSERT_EQ(dev.flush(), RingError::ok);
    auto g = drv.get_used(u);
    ASSERT_TRUE(g.ok() && g.value);
    EXPECT_EQ(u.token, 100u + lap);
    EXPECT_EQ(drv.num_free(), num);
  }
}

// IN_ORDER + INDIRECT + EVENT_IDX together, random shapes and random
// written lengths (so some in-order batches are cut short by a partial
// buffer), across index wrap: tokens come back in order with the right
// lengths and the device writes fewer used entries than buffers.
TEST_P(SplitRoundTrip, InOrderIndirectRandom) {
  const uint32_t num = GetParam();
  GuestMemory gm(SplitLayout::contiguous_bytes(num) + (1u << 20) + IndirectPool::bytes(16, 8));
  const SplitLayout layout = SplitLayout::place(gm.alloc(SplitLayout::contiguous_bytes(num)), num);
  IndirectPool pool(gm.alloc(IndirectPool::bytes(16, 8)), 16, 8);
  const Features f{feature_bit(VIRTIO_F_IN_ORDER) | feature_bit(VIRTIO_RING_F_INDIRECT_DESC) |
                   feature_bit(VIRTIO_RING_F_EVENT_IDX)};
  SplitDriver<> drv(gm.native(), layout, f, DriverOptions{.indirect_pool = &pool});
  SplitDevice<> dev(gm.native(), layout, f);

  std::mt19937 rng(num * 7 + 1);
  std::vector<Sent> in_ring;
  std::vector<uint32_t> lens;
  Chain chain;
  uint64_t next_token = 1, completed = 0;
  const uint32_t max_chain = std::min<uint32_t>(num, 8);
  while (completed < 70000) {
    for (;;) {
      Sent s = random_buffer(rng, next_token, max_chain);
      // IN_ORDER: descriptors are used in ring order from 0.
      const uint16_t expect_head = drv.free_head();
      RingError e = drv.add(s.out, s.in, s.token);
      if (e == RingError::no_space) break;
      ASSERT_EQ(e, RingError::ok);
      ASSERT_EQ(gm.native().read16(layout.avail_ring_addr((drv.avail_idx_shadow() - 1) & (num - 1))),
                expect_head);
      in_ring.push_back(std::move(s));
      ++next_token;
    }
    lens.clear();
    for (size_t k = 0;; ++k) {
      auto r = dev.pop(chain);
      ASSERT_TRUE(r.ok()) << name(r.error);
      if (!r.value) break;
      expect_chain_matches(chain, in_ring[k]);
      const uint32_t len = rng() % 4 == 0 ? uint32_t(rng() % (chain.writable_bytes + 1))
                                          : uint32_t(chain.writable_bytes);
      lens.push_back(len);
      ASSERT_EQ(dev.push_used(chain.used(len)), RingError::ok);
    }
    ASSERT_EQ(lens.size(), in_ring.size());
    ASSERT_EQ(dev.flush(), RingError::ok);
    UsedBuffer u;
    for (size_t k = 0; k < lens.size(); ++k) {
      auto r = drv.get_used(u);
      ASSERT_TRUE(r.ok() && r.value) << name(r.error);
      EXPECT_EQ(u.token, in_ring[k].token);
      EXPECT_EQ(u.len, lens[k]);
      ++completed;
    }
    auto r = drv.get_used(u);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r.value);
    in_ring.clear();
  }
  // One buffer in flight at a time (num 1) leaves nothing to batch.
  if (num > 1) EXPECT_LT(dev.stats().used_descs_written, dev.stats().used);
  else EXPECT_EQ(dev.stats().used_descs_written, dev.stats().used);
  EXPECT_EQ(drv.num_free(), num);
  EXPECT_EQ(pool.free_slots(), 16u);
  EXPECT_FALSE(drv.broken());
  EXPECT_FALSE(dev.broken());
}

INSTANTIATE_TEST_SUITE_P(QueueSizes, SplitRoundTrip, ::testing::Values(1u, 2u, 256u, 32768u));

// Split queue sizes are powers of two (split-ring.tex: "Queue Size value is
// always a power of 2"); anything else, and 0 or > 32768, is refused by both
// sides at construction.
TEST(SplitConfig, NonPowerOfTwoSizesThrow) {
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

TEST(SplitConfig, MisalignedOrUnmappedLayoutThrows) {
  GuestMemory gm(SplitLayout::contiguous_bytes(256) + 4096);
  SplitLayout l = SplitLayout::place(GuestMemory::kBase, 256);
  l.used += 2;  // used ring must be 4-aligned
  EXPECT_THROW((SplitDriver<>(gm.native(), l, {})), RingConfigError);
  l = SplitLayout::place(GuestMemory::kBase + gm.size(), 256);
  EXPECT_THROW((SplitDevice<>(gm.native(), l, {})), RingConfigError);
}

// Indirect tables from a two-slot pool: the first two multi-segment buffers
// take one descriptor each through a table, the third falls back to direct
// descriptors when the pool is empty, and a slot freed by a completion is
// used again. The device sees the same segments either way.
TEST(SplitIndirect, PoolExhaustionFallsBackToDirect) {
  const uint32_t num = 8;
  GuestMemory gm(SplitLayout::contiguous_bytes(num) + IndirectPool::bytes(2, 4) + 4096);
  const SplitLayout layout = SplitLayout::place(gm.alloc(SplitLayout::contiguous_bytes(num)), num);
  IndirectPool pool(gm.alloc(IndirectPool::bytes(2, 4)), 2, 4);
  const Features f{feature_bit(VIRTIO_RING_F_INDIRECT_DESC)};
  SplitDriver<> drv(gm.native(), layout, f, DriverOptions{.indirect_pool = &pool});
  SplitDevice<> dev(gm.native(), layout, f);

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
TEST(SplitIndirect, TableUpToQueueSize) {
  const uint32_t num = 2;
  GuestMemory gm(SplitLayout::contiguous_bytes(num) + IndirectPool::bytes(4, 4) + 4096);
  const SplitLayout layout = SplitLayout::place(gm.alloc(SplitLayout::contiguous_bytes(num)), num);
  IndirectPool pool(gm.alloc(IndirectPool::bytes(4, 4)), 4, 4);
  const Features f{feature_bit(VIRTIO_RING_F_INDIRECT_DESC)};
  SplitDriver<> drv(gm.native(), layout, f, DriverOptions{.indirect_pool = &pool});
  SplitDevice<> dev(gm.native(), layout, f);
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
