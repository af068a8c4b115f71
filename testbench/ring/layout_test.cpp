// The ring layouts' address helpers against the Linux uapi structs they
// stand for (P1), and the P2 flag predicates against the rule's wording.
// The driver, the device and the checker all find ring fields through
// these, so a wrong offset here would be wrong everywhere at once.
#include <gtest/gtest.h>

#include <cstddef>

#include "models/ring/layout.h"
#include "models/ring/packed_flags.h"
#include "models/ring/virtqueue.h"

namespace virtiosim::ring {
namespace {

constexpr uint64_t kBase = 0x10000;
constexpr uint32_t kNum = 256;

TEST(PackedLayout, P1_FieldAddressesAreVringPackedDesc) {
  const PackedLayout l = PackedLayout::place(kBase, kNum);
  const uint64_t d = kBase + 5 * sizeof(vring_packed_desc);
  EXPECT_EQ(l.desc_addr(5), d + offsetof(vring_packed_desc, addr));
  EXPECT_EQ(l.len_addr(5), d + offsetof(vring_packed_desc, len));
  EXPECT_EQ(l.id_addr(5), d + offsetof(vring_packed_desc, id));
  EXPECT_EQ(l.flags_addr(5), d + offsetof(vring_packed_desc, flags));
  EXPECT_EQ(l.driver_event_off_wrap_addr(), l.driver_event + offsetof(vring_packed_desc_event, off_wrap));
  EXPECT_EQ(l.driver_event_flags_addr(), l.driver_event + offsetof(vring_packed_desc_event, flags));
  EXPECT_EQ(l.device_event_off_wrap_addr(), l.device_event + offsetof(vring_packed_desc_event, off_wrap));
  EXPECT_EQ(l.device_event_flags_addr(), l.device_event + offsetof(vring_packed_desc_event, flags));
}

TEST(PackedLayout, SlotOfInvertsDescAddrAndEventAreasAreFourBytes) {
  const PackedLayout l = PackedLayout::place(kBase, kNum);
  EXPECT_TRUE(l.in_driver_event(l.driver_event_flags_addr() + 1));
  EXPECT_FALSE(l.in_driver_event(l.driver_event + sizeof(vring_packed_desc_event)));
  EXPECT_TRUE(l.in_device_event(l.device_event_flags_addr() + 1));
  EXPECT_FALSE(l.in_device_event(l.device_event - 1));
  EXPECT_FALSE(l.in_desc_ring(kBase - 1));
  EXPECT_TRUE(l.in_desc_ring(kBase));
  EXPECT_TRUE(l.in_desc_ring(l.flags_addr(kNum - 1) + 1));
  EXPECT_FALSE(l.in_desc_ring(l.desc_addr(kNum)));
  for (uint32_t slot : {0u, 1u, 17u, kNum - 1}) {
    EXPECT_EQ(l.slot_of(l.desc_addr(slot)), slot);
    EXPECT_EQ(l.slot_of(l.flags_addr(slot) + 1), slot);
  }
}

TEST(SplitLayout, P1_FieldAddressesAreVringDescAvailUsed) {
  const SplitLayout l = SplitLayout::place(kBase, kNum);
  const uint64_t d = kBase + 7 * sizeof(vring_desc);
  EXPECT_EQ(l.len_addr(7), d + offsetof(vring_desc, len));
  EXPECT_EQ(l.flags_addr(7), d + offsetof(vring_desc, flags));
  EXPECT_EQ(l.next_addr(7), d + offsetof(vring_desc, next));
  EXPECT_EQ(l.avail_flags_addr(), l.avail + offsetof(vring_avail, flags));
  EXPECT_EQ(l.avail_idx_addr(), l.avail + offsetof(vring_avail, idx));
  EXPECT_EQ(l.avail_ring_addr(3), l.avail + offsetof(vring_avail, ring) + 3 * sizeof(uint16_t));
  EXPECT_EQ(l.used_flags_addr(), l.used + offsetof(vring_used, flags));
  EXPECT_EQ(l.used_idx_addr(), l.used + offsetof(vring_used, idx));
  EXPECT_EQ(l.used_elem_id_addr(3), l.used + offsetof(vring_used, ring) + 3 * sizeof(vring_used_elem));
  EXPECT_EQ(l.used_elem_len_addr(3), l.used_elem_id_addr(3) + offsetof(vring_used_elem, len));
}

TEST(SplitLayout, DescIndexOfInvertsDescAddr) {
  const SplitLayout l = SplitLayout::place(kBase, kNum);
  EXPECT_FALSE(l.in_desc_table(kBase - 1));
  EXPECT_TRUE(l.in_desc_table(l.next_addr(kNum - 1)));
  EXPECT_FALSE(l.in_desc_table(l.desc_addr(kNum)));
  for (uint32_t i : {0u, 9u, kNum - 1}) EXPECT_EQ(l.desc_index_of(l.next_addr(i)), i);
}

TEST(QueueAreas, ReadAsEitherLayout) {
  const QueueAreas a = place_queue(RingLayout::packed, kBase, kNum);
  EXPECT_EQ(a.packed().flags_addr(2), PackedLayout::place(kBase, kNum).flags_addr(2));
  const QueueAreas s = place_queue(RingLayout::split, kBase, kNum);
  EXPECT_EQ(s.split().used_idx_addr(), SplitLayout::place(kBase, kNum).used_idx_addr());
  EXPECT_EQ(desc_area_bytes(RingLayout::packed, kNum), kNum * sizeof(vring_packed_desc));
  EXPECT_EQ(desc_area_bytes(RingLayout::split, kNum), kNum * sizeof(vring_desc));
}

// P2, word for word: available iff AVAIL == driver wrap and USED != it;
// used iff AVAIL == USED == device wrap. Every combination of the two bits,
// other flag bits set or not.
TEST(PackedFlags, P2_AvailableAndUsedEncodings) {
  for (uint16_t other : {uint16_t{0}, uint16_t(kDescNext | kDescWrite | kDescIndirect)})
    for (bool avail : {false, true})
      for (bool used : {false, true})
        for (bool wrap : {false, true}) {
          const uint16_t flags =
              static_cast<uint16_t>(other | (avail ? kDescAvail : 0) | (used ? kDescUsed : 0));
          SCOPED_TRACE(testing::Message() << "flags " << flags << " wrap " << wrap);
          EXPECT_EQ(packed_desc_is_avail(flags, wrap), avail == wrap && used != wrap);
          EXPECT_EQ(packed_desc_is_used(flags, wrap), avail == wrap && used == wrap);
        }
  EXPECT_TRUE(packed_desc_is_avail(packed_avail_flags(true), true));
  EXPECT_TRUE(packed_desc_is_avail(packed_avail_flags(false), false));
  EXPECT_TRUE(packed_desc_is_used(packed_used_flags(true), true));
  EXPECT_TRUE(packed_desc_is_used(packed_used_flags(false), false));
}

}  // namespace
}  // namespace virtiosim::ring
