// flags_stores_before (models/ring/store_order.h) says in which order one
// add() stores the flags of a list's descriptors; fault injection relies on
// it to corrupt the descriptor it means. These tests hold the ring core to
// the function: a change of add()'s store order fails here first.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "models/ring/packed_driver.h"
#include "models/ring/recording_memory.h"
#include "models/ring/split_driver.h"
#include "models/ring/store_order.h"
#include "testbench/ring/guest_memory.h"

namespace virtiosim::ring {
namespace {

using testing::GuestMemory;

constexpr Features kPlain{feature_bit(VIRTIO_F_VERSION_1)};

// The slots whose flags one add() of `n` segments stores, in store order.
template <class Driver, class Layout>
std::vector<uint64_t> flags_stores(uint32_t n, const std::vector<uint64_t>& flags_addrs_by_slot,
                                   const Layout& layout, GuestMemory& gm) {
  AccessLog log;
  Driver drv(RecordingMemory(gm.native(), &log, 0), layout, kPlain);
  std::vector<Segment> out;
  for (uint32_t i = 0; i < n; ++i) out.push_back({gm.alloc(64), 64});
  log.clear();
  EXPECT_EQ(drv.add(out, {}, 1), RingError::ok);
  std::vector<uint64_t> slots;
  for (const Access& a : log)
    for (uint64_t slot = 0; slot < flags_addrs_by_slot.size(); ++slot)
      if (a.op == Access::Op::write && a.gpa == flags_addrs_by_slot[slot]) slots.push_back(slot);
  return slots;
}

// For lists of several lengths on a fresh ring, whose free list hands out
// slots 0, 1, 2, ...: the k-th flags store of add() is the one
// flags_stores_before says.
template <class Driver, class Layout>
void expect_store_order(RingLayout layout) {
  for (uint32_t n : {1u, 2u, 3u, 5u}) {
    GuestMemory gm(1 << 16);
    const Layout ring = Layout::place(gm.alloc(Layout::contiguous_bytes(8)), 8);
    std::vector<uint64_t> flags;
    for (uint16_t s = 0; s < 8; ++s) flags.push_back(ring.flags_addr(s));
    const std::vector<uint64_t> order = flags_stores<Driver>(n, flags, ring, gm);
    ASSERT_EQ(order.size(), n);
    for (uint32_t i = 0; i < n; ++i) EXPECT_EQ(order[flags_stores_before(layout, i, n)], i) << "list of " << n;
  }
}

TEST(StoreOrder, P2_PackedAddStoresTheHeadFlagsLast) {
  expect_store_order<PackedDriver<RecordingMemory>, PackedLayout>(RingLayout::packed);
}

TEST(StoreOrder, P6_SplitAddStoresDescriptorsInListOrder) {
  expect_store_order<SplitDriver<RecordingMemory>, SplitLayout>(RingLayout::split);
}

}  // namespace
}  // namespace virtiosim::ring
