// Driver and device sides of one ring, packed and split, exchanging buffers
// in-process through shared memory: every queue size shape the layout
// allows (P1), many laps of the ring (P2) and of split's 16-bit indices,
// completions out of order through the free list, chains up to the queue
// size (P6.4), indirect tables with pool exhaustion (P7), IN_ORDER
// batching (P8).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <span>
#include <type_traits>
#include <vector>

#include "testbench/ring/guest_memory.h"
#include "testbench/ring/ring_typed_test.h"

namespace virtiosim::ring {
namespace {

using testing::GuestMemory;

template <class Ring>
constexpr bool kPacked = std::is_same_v<typename Ring::Layout, PackedLayout>;

// The driver's next available index: packed next_avail_idx, split
// avail_idx_shadow (what avail->idx holds).
template <class Driver>
uint16_t next_avail(const Driver& d) {
  if constexpr (requires { d.next_avail_idx(); }) return d.next_avail_idx();
  else return d.avail_idx_shadow();
}

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

// The device sees the buffer's segments in order, readable first; a packed
// buffer takes one ring slot per descriptor (P6.6), a split one one avail
// ring entry whatever its length.
template <class Ring>
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
  if constexpr (kPacked<Ring>) {
    EXPECT_EQ(chain.count, chain.indirect ? 1u : s.out.size() + s.in.size());
  } else {
    EXPECT_EQ(chain.count, 1u);
  }
}

// One ring of Ring::kNum entries at the start of guest memory, `spare`
// bytes more for buffers, and `tables` indirect tables of 8 entries for the
// driver (none: indirect off on the driver side).
template <class Ring>
struct Rig {
  using Layout = typename Ring::Layout;
  static constexpr uint32_t num = Ring::kNum;

  Rig(uint64_t spare, Features f = {}, uint32_t tables = 0, DeviceOptions dev_opts = {})
      : gm(Layout::contiguous_bytes(num) + spare + IndirectPool::bytes(std::max(tables, 1u), 8)),
        layout(Layout::place(gm.alloc(Layout::contiguous_bytes(num)), num)),
        pool(gm.alloc(IndirectPool::bytes(std::max(tables, 1u), 8)), std::max(tables, 1u), 8),
        drv(gm.native(), layout, f, DriverOptions{.indirect_pool = tables ? &pool : nullptr}),
        dev(gm.native(), layout, f, dev_opts) {}

  GuestMemory gm;
  const Layout layout;
  IndirectPool pool;
  typename Ring::Driver drv;
  typename Ring::Device dev;
};

template <class Ring>
class RoundTrip : public ::testing::Test {};
TYPED_TEST_SUITE(RoundTrip, testing::RingSizes, testing::RingSizeName);

// Random buffers for several laps of the ring and well past one wrap of
// split's 16-bit indices; the device completes each round in a shuffled
// order, so the driver's free list is exercised with chains coming back out
// of order. Every buffer arrives, under the id the driver gave it, with its
// segments, and returns with its token and the length the device reported,
// in the order the device completed it.
TYPED_TEST(RoundTrip, RandomChainsOutOfOrderOverManyLaps) {
  using Ring = TypeParam;
  constexpr uint32_t num = Ring::kNum;
  Rig<Ring> rig(1u << 20);
  auto& drv = rig.drv;
  auto& dev = rig.dev;

  std::mt19937 rng(num);
  std::map<uint64_t, Sent> in_ring;   // by token
  std::map<uint16_t, uint64_t> by_id;  // buffer id (packed) / head (split) -> token
  std::vector<UsedElem> popped;
  Chain chain;
  uint64_t next_token = 1, completed = 0;
  const uint64_t target = std::max<uint64_t>(5 * uint64_t{num}, 70000);  // > 2^16: index wrap
  const uint32_t max_chain = std::min<uint32_t>(num, 8);

  while (completed < target) {
    std::vector<uint64_t> order;
    for (;;) {
      Sent s = random_buffer(rng, next_token, max_chain);
      const uint16_t id = drv.free_head();
      RingError e = drv.add(s.out, s.in, s.token);
      if (e == RingError::no_space) break;
      ASSERT_EQ(e, RingError::ok);
      by_id[id] = s.token;
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
      ASSERT_EQ(by_id.at(chain.id), order[k]) << "ring order";
      const Sent& s = in_ring.at(order[k++]);
      expect_chain_matches<Ring>(chain, s);
      popped.push_back(chain.used(uint32_t(rng() % (chain.writable_bytes + 1))));
    }
    ASSERT_EQ(k, order.size());
    std::shuffle(popped.begin(), popped.end(), rng);
    std::vector<std::pair<uint64_t, uint32_t>> completions;  // (token, len), in completion order
    for (const UsedElem& e : popped) {
      ASSERT_EQ(dev.push_used(e), RingError::ok);
      completions.emplace_back(by_id.at(e.id), e.len);
    }
    ASSERT_EQ(dev.flush(), RingError::ok);
    UsedBuffer u;
    size_t got = 0;
    for (;;) {
      auto r = drv.get_used(u);
      ASSERT_TRUE(r.ok()) << name(r.error);
      if (!r.value) break;
      ASSERT_LT(got, completions.size());
      ASSERT_EQ(in_ring.count(u.token), 1u) << "token returned twice or never sent";
      EXPECT_EQ(u.token, completions[got].first) << "completion order";
      EXPECT_EQ(u.len, completions[got].second);
      in_ring.erase(u.token);
      ++got;
      ++completed;
    }
    ASSERT_EQ(got, popped.size());
    ASSERT_TRUE(in_ring.empty());
  }
  EXPECT_EQ(drv.num_free(), num);
  EXPECT_EQ(drv.stats().used, completed);
  EXPECT_EQ(dev.last_avail_idx(), next_avail(drv));
  EXPECT_EQ(dev.last_used_idx(), drv.last_used_idx());
  if constexpr (kPacked<Ring>) {
    EXPECT_EQ(dev.avail_wrap_counter(), drv.avail_wrap_counter());
    EXPECT_EQ(dev.used_wrap_counter(), drv.used_wrap_counter());
  } else {
    EXPECT_EQ(uint16_t(completed), drv.last_used_idx());  // free-running, wrapped at least once
  }
  EXPECT_FALSE(drv.broken());
  EXPECT_FALSE(dev.broken());
}

// A list of exactly queue-size descriptors is legal (P6.4) and uses the
// whole ring; one more is refused by the driver before anything is written.
TYPED_TEST(RoundTrip, P6_4_ChainOfExactlyQueueSize) {
  using Ring = TypeParam;
  constexpr uint32_t num = Ring::kNum;
  Rig<Ring> rig(4096, {}, 0, DeviceOptions{.max_segments = num});
  auto& drv = rig.drv;
  auto& dev = rig.dev;
  std::vector<Segment> segs(num + 1, Segment{GuestMemory::kBase, 64});
  Chain chain;
  UsedBuffer u;
  for (int lap = 0; lap < 3; ++lap) {
    const uint16_t avail = next_avail(drv);
    EXPECT_EQ(drv.add(std::span(segs).first(num + 1), {}, 7), RingError::no_space);
    EXPECT_EQ(next_avail(drv), avail) << "a refused add must not publish";
    ASSERT_EQ(drv.add(std::span(segs).first(num), {}, 100 + lap), RingError::ok);
    EXPECT_EQ(drv.num_free(), 0u);
    EXPECT_EQ(drv.add(std::span(segs).first(1), {}, 8), RingError::no_space);
    auto r = dev.pop(chain);
    ASSERT_TRUE(r.ok() && r.value) << name(r.error);
    if constexpr (kPacked<Ring>) {
      EXPECT_EQ(chain.count, num);
    }
    EXPECT_EQ(chain.readable.size(), num);
    EXPECT_EQ(chain.readable_bytes, uint64_t{num} * 64);
    ASSERT_EQ(dev.push_used(chain.used(0)), RingError::ok);
    ASSERT_EQ(dev.flush(), RingError::ok);
    auto g = drv.get_used(u);
    ASSERT_TRUE(g.ok() && g.value);
    EXPECT_EQ(u.token, 100u + lap);
    EXPECT_EQ(drv.num_free(), num);
    if constexpr (kPacked<Ring>) {
      EXPECT_EQ(drv.used_wrap_counter(), lap % 2 == 0 ? false : true);  // one full lap each
    }
  }
}

// IN_ORDER + INDIRECT + EVENT_IDX together, random shapes and random
// written lengths (so some in-order batches are cut short by a partial
// buffer, P8), across index wrap: tokens come back in order with the right
// lengths and the device writes fewer used entries than buffers.
TYPED_TEST(RoundTrip, P7_P8_InOrderIndirectRandom) {
  using Ring = TypeParam;
  constexpr uint32_t num = Ring::kNum;
  const Features f{feature_bit(VIRTIO_F_IN_ORDER) | feature_bit(VIRTIO_RING_F_INDIRECT_DESC) |
                   feature_bit(VIRTIO_RING_F_EVENT_IDX)};
  Rig<Ring> rig(1u << 20, f, 16);
  auto& drv = rig.drv;
  auto& dev = rig.dev;

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
      if constexpr (!kPacked<Ring>) {
        ASSERT_EQ(rig.gm.native().read16(rig.layout.avail_ring_addr((drv.avail_idx_shadow() - 1) & (num - 1))),
                  expect_head);
      }
      in_ring.push_back(std::move(s));
      ++next_token;
    }
    lens.clear();
    for (size_t k = 0;; ++k) {
      auto r = dev.pop(chain);
      ASSERT_TRUE(r.ok()) << name(r.error);
      if (!r.value) break;
      ASSERT_LT(k, in_ring.size());
      expect_chain_matches<Ring>(chain, in_ring[k]);
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
  EXPECT_EQ(rig.pool.free_slots(), 16u);
  EXPECT_FALSE(drv.broken());
  EXPECT_FALSE(dev.broken());
}

}  // namespace
}  // namespace virtiosim::ring
