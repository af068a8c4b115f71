// IN_ORDER (P8) with buffers the device fills only partly: one used
// descriptor may stand for a run of buffers only when every buffer it skips
// was used completely, so a partial buffer ends the run and its length
// reaches the driver.
#include <gtest/gtest.h>

#include "models/ring/packed_device.h"
#include "models/ring/packed_driver.h"
#include "testbench/ring/guest_memory.h"

namespace virtiosim::ring {
namespace {

using testing::GuestMemory;

// An 8-entry packed ring with IN_ORDER negotiated, both sides, and buffer memory.
class PackedInOrder : public ::testing::Test {
 protected:
  static constexpr uint32_t num = 8;
  GuestMemory gm{1 << 16};
  const PackedLayout layout = PackedLayout::place(gm.alloc(PackedLayout::contiguous_bytes(num)), num);
  const Features f{feature_bit(VIRTIO_F_IN_ORDER)};
  PackedDriver<> drv{gm.native(), layout, f};
  PackedDevice<> dev{gm.native(), layout, f};
  const uint64_t buf = gm.alloc(4096);
};

TEST_F(PackedInOrder, PartialBufferEndsTheBatchAndKeepsItsLength) {
  for (uint64_t t = 1; t <= 4; ++t) {
    const Segment in{buf + t * 256, 100};
    ASSERT_EQ(drv.add({}, std::span(&in, 1), t), RingError::ok);
  }
  const uint32_t written[4] = {100, 40, 100, 100};  // the second buffer is used partly
  Chain c;
  for (uint32_t len : written) {
    auto r = dev.pop(c);
    ASSERT_TRUE(r.ok() && r.value);
    ASSERT_EQ(dev.push_used(c.used(len)), RingError::ok);
  }
  ASSERT_EQ(dev.flush(), RingError::ok);
  // Runs: {1, 2} ends at the partial buffer, {3, 4} at the end of the batch.
  EXPECT_EQ(dev.stats().used_descs_written, 2u);
  UsedBuffer u;
  for (uint64_t t = 1; t <= 4; ++t) {
    auto r = drv.get_used(u);
    ASSERT_TRUE(r.ok() && r.value) << name(r.error);
    EXPECT_EQ(u.token, t);
    EXPECT_EQ(u.len, written[t - 1]) << "token " << t;
  }
  EXPECT_EQ(drv.num_free(), num);
  EXPECT_EQ(drv.last_used_idx(), dev.last_used_idx());
}

TEST_F(PackedInOrder, CompleteBuffersShareOneUsedDescriptor) {
  for (uint64_t t = 1; t <= 3; ++t) {
    const Segment out{buf + t * 256, 64};
    ASSERT_EQ(drv.add(std::span(&out, 1), {}, t), RingError::ok);  // TX: nothing to write, always complete
  }
  Chain c;
  for (int i = 0; i < 3; ++i) {
    auto r = dev.pop(c);
    ASSERT_TRUE(r.ok() && r.value);
    ASSERT_EQ(dev.push_used(c.used(0)), RingError::ok);
  }
  ASSERT_EQ(dev.flush(), RingError::ok);
  EXPECT_EQ(dev.stats().used_descs_written, 1u);
  UsedBuffer u;
  for (uint64_t t = 1; t <= 3; ++t) {
    auto r = drv.get_used(u);
    ASSERT_TRUE(r.ok() && r.value);
    EXPECT_EQ(u.token, t);
  }
}

}  // namespace
}  // namespace virtiosim::ring
