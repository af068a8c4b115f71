// Driver and device sides of one packed ring exchanging buffers in-process
// through shared memory: every size the spec allows the shape of (P1), many
// laps of the ring (P2), chains up to the queue size (P6), indirect (P7).
#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <vector>

#include "models/ring/packed_device.h"
#include "models/ring/packed_driver.h"
#include "testbench/ring/guest_memory.h"

namespace virtiosim::ring {
namespace {

using testing::GuestMemory;

struct Sent {
  uint64_t token;
  std::vector<Segment> out, in;
};

class PackedRoundTrip : public ::testing::TestWithParam<uint32_t> {};

// Pushes buffers of random shape through the ring for several laps and
// checks that each one arrives with its segments and comes back with its
// token and the length the device reported, in order.
TEST_P(PackedRoundTrip, RandomChainsOverManyLaps) {
  const uint32_t num = GetParam();
  GuestMemory gm(PackedLayout::contiguous_bytes(num) + (1u << 20));
  const PackedLayout layout = PackedLayout::place(gm.alloc(PackedLayout::contiguous_bytes(num)), num);
  const Features f{};
  PackedDriver<> drv(gm.native(), layout, f);
  PackedDevice<> dev(gm.native(), layout, f);

  std::mt19937 rng(num);
  std::deque<Sent> in_ring;
  Chain chain;
  uint64_t next_token = 1, completed = 0;
  const uint64_t target = std::max<uint64_t>(5 * num, 2000);
  const uint32_t max_chain = std::min<uint32_t>(num, 8);

  while (completed < target) {
    // Driver: fill what fits.
    for (;;) {
      Sent s{next_token, {}, {}};
      uint32_t nout = uint32_t(rng() % (max_chain + 1)), nin = uint32_t(rng() % (max_chain + 1 - nout));
      if (nout + nin == 0) nout = 1;
      for (uint32_t i = 0; i < nout; ++i) s.out.push_back({GuestMemory::kBase + rng() % 0x1000, uint32_t(1 + rng() % 1500)});
      for (uint32_t i = 0; i < nin; ++i) s.in.push_back({GuestMemory::kBase + 0x1000 + rng() % 0x1000, uint32_t(1 + rng() % 1500)});
      RingError e = drv.add(s.out, s.in, s.token);
      if (e == RingError::no_space) break;
      ASSERT_EQ(e, RingError::ok);
      in_ring.push_back(std::move(s));
      ++next_token;
    }
    // Device: take everything, complete in order.
    for (;;) {
      auto r = dev.pop(chain);
      ASSERT_TRUE(r.ok()) << name(r.error);
      if (!r.value) break;
      ASSERT_FALSE(in_ring.empty());
      const Sent& s = in_ring[dev.stats().popped - completed - 1];
      ASSERT_EQ(chain.readable.size(), s.out.size());
      ASSERT_EQ(chain.writable.size(), s.in.size());
      for (size_t i = 0; i < s.out.size(); ++i) {
        EXPECT_EQ(chain.readable[i].addr, s.out[i].addr);
        EXPECT_EQ(chain.readable[i].len, s.out[i].len);
      }
      for (size_t i = 0; i < s.in.size(); ++i) EXPECT_EQ(chain.writable[i].addr, s.in[i].addr);
      ASSERT_EQ(dev.push_used(chain.used(static_cast<uint32_t>(chain.writable_bytes))), RingError::ok);
    }
    ASSERT_EQ(dev.flush(), RingError::ok);
    // Driver: reap.
    UsedBuffer u;
    for (;;) {
      auto r = drv.get_used(u);
      ASSERT_TRUE(r.ok()) << name(r.error);
      if (!r.value) break;
      ASSERT_FALSE(in_ring.empty());
      const Sent& s = in_ring.front();
      EXPECT_EQ(u.token, s.token);
      uint32_t in_bytes = 0;
      for (auto& seg : s.in) in_bytes += seg.len;
      EXPECT_EQ(u.len, in_bytes);
      in_ring.pop_front();
      ++completed;
    }
  }
  EXPECT_EQ(drv.num_free(), num);
  EXPECT_EQ(drv.stats().used, completed);
  EXPECT_EQ(dev.last_avail_idx(), drv.next_avail_idx());
  EXPECT_EQ(dev.last_used_idx(), drv.last_used_idx());
  EXPECT_EQ(dev.used_wrap_counter(), drv.used_wrap_counter());
  EXPECT_FALSE(drv.broken());
  EXPECT_FALSE(dev.broken());
}

// A list of exactly queue-size descriptors is legal (P6.4) and uses the
// whole ring; one more is refused by the driver before anything is written.
TEST_P(PackedRoundTrip, ChainOfExactlyQueueSize) {
  const uint32_t num = GetParam();
  GuestMemory gm(PackedLayout::contiguous_bytes(num) + 4096);
  const PackedLayout layout = PackedLayout::place(gm.alloc(PackedLayout::contiguous_bytes(num)), num);
  PackedDriver<> drv(gm.native(), layout, {});
  PackedDevice<> dev(gm.native(), layout, {}, DeviceOptions{.max_segments = num});
  std::vector<Segment> segs(num + 1, Segment{GuestMemory::kBase, 64});
  Chain chain;
  UsedBuffer u;
  for (int lap = 0; lap < 3; ++lap) {
    EXPECT_EQ(drv.add(std::span(segs).first(num + 1), {}, 7), RingError::no_space);
    ASSERT_EQ(drv.add(std::span(segs).first(num), {}, 100 + lap), RingError::ok);
    EXPECT_EQ(drv.num_free(), 0u);
    auto r = dev.pop(chain);
    ASSERT_TRUE(r.ok() && r.value) << name(r.error);
    EXPECT_EQ(chain.count, num);
    EXPECT_EQ(chain.readable.size(), num);
    ASSERT_EQ(dev.push_used(chain.used(0)), RingError::ok);
    ASSERT_EQ(dev.flush(), RingError::ok);
    auto g = drv.get_used(u);
    ASSERT_TRUE(g.ok() && g.value);
    EXPECT_EQ(u.token, 100u + lap);
    EXPECT_EQ(drv.num_free(), num);
    EXPECT_EQ(drv.used_wrap_counter(), lap % 2 == 0 ? false : true);  // one full lap each
  }
}

INSTANTIATE_TEST_SUITE_P(QueueSizes, PackedRoundTrip,
                         ::testing::Values(1u, 2u, 3u, 256u, 1000u, 32768u));

}  // namespace
}  // namespace virtiosim::ring
