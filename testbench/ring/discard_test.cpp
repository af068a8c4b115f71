// discard(): a device puts back buffers it popped but cannot use yet (Linux
// vhost_discard_vq_desc; an echo back-end whose RX ring ran dry puts the TX
// frame back). The next pops take the same buffers again, across the wrap
// boundary too, and completions recorded before the discard still reach
// the driver with the used-buffer notification it asked for (P10, P11).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testbench/ring/guest_memory.h"
#include "testbench/ring/ring_typed_test.h"

namespace virtiosim::ring {
namespace {

using testing::GuestMemory;
using testing::PackedRing;
using testing::SplitRing;

constexpr Features kPlain{feature_bit(VIRTIO_F_VERSION_1)};
constexpr Features kEventIdx{feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_RING_F_EVENT_IDX)};

template <class Ring>
class Rig {
 public:
  Rig(uint32_t num, Features f)
      : gm_(Ring::Layout::contiguous_bytes(num) + 0x10000),
        layout_(Ring::Layout::place(gm_.alloc(Ring::Layout::contiguous_bytes(num), 4096), num)),
        data_(gm_.alloc(0x8000)),
        drv(gm_.native(), layout_, f),
        dev(gm_.native(), layout_, f) {}

  // A buffer of `segs` device-readable segments (one ring slot each on a
  // packed ring), identified by `token`.
  void add(uint64_t token, uint32_t segs = 1) {
    std::vector<Segment> out;
    for (uint32_t i = 0; i < segs; ++i) out.push_back({data_ + (token % 64) * 256 + i * 64, 64});
    ASSERT_EQ(drv.add(out, {}, token), RingError::ok);
  }

  Chain pop() {
    Chain c;
    const Result<bool> r = dev.pop(c);
    EXPECT_TRUE(r.ok()) << name(r.error);
    EXPECT_TRUE(r.value) << "no buffer available";
    return c;
  }

  std::vector<uint64_t> reap() {
    std::vector<uint64_t> tokens;
    UsedBuffer u;
    for (;;) {
      const Result<bool> r = drv.get_used(u);
      EXPECT_TRUE(r.ok()) << name(r.error);
      if (!r.ok() || !r.value) return tokens;
      tokens.push_back(u.token);
    }
  }

 private:
  GuestMemory gm_;
  typename Ring::Layout layout_;
  uint64_t data_;

 public:
  typename Ring::Driver drv;
  typename Ring::Device dev;
};

template <class Ring>
class Discard : public ::testing::Test {};

TYPED_TEST_SUITE(Discard, testing::RingTypes, testing::RingName);

bool same_buffer(const Chain& a, const Chain& b) {
  if (a.id != b.id || a.count != b.count || a.readable.size() != b.readable.size()) return false;
  for (size_t i = 0; i < a.readable.size(); ++i)
    if (a.readable[i].addr != b.readable[i].addr || a.readable[i].len != b.readable[i].len) return false;
  return true;
}

// Chains of three descriptors on a ring of 7 (packed: not a power of two,
// so the third chain straddles the wrap): discarded in reverse order they
// come back identical, and the device's position is as before the pops.
TYPED_TEST(Discard, PutsBackInReverseOrderAndPopsTheSameBuffersAgain) {
  constexpr uint32_t kNum = std::is_same_v<TypeParam, PackedRing> ? 7 : 8;
  Rig<TypeParam> rig(kNum, kPlain);
  for (uint64_t t = 0; t < 2; ++t) rig.add(t, 3);
  const Chain a = rig.pop(), b = rig.pop();
  ASSERT_EQ(rig.dev.push_used(a.used(0)), RingError::ok);
  ASSERT_EQ(rig.dev.push_used(b.used(0)), RingError::ok);
  ASSERT_EQ(rig.dev.flush(), RingError::ok);
  EXPECT_EQ(rig.reap(), (std::vector<uint64_t>{0, 1}));

  for (uint64_t t = 2; t < 4; ++t) rig.add(t, 3);  // packed: slots 6,0,1 then 2,3,4
  const RingState before = rig.dev.state();
  const Chain c = rig.pop(), d = rig.pop();
  rig.dev.discard(d);
  rig.dev.discard(c);
  EXPECT_EQ(rig.dev.state(), before);
  EXPECT_EQ(rig.dev.stats().popped, 2u);
  EXPECT_EQ(rig.dev.stats().discarded, 2u);
  const Chain c2 = rig.pop(), d2 = rig.pop();
  EXPECT_TRUE(same_buffer(c, c2));
  EXPECT_TRUE(same_buffer(d, d2));
  Chain none;
  const Result<bool> r = rig.dev.pop(none);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value) << "discard made a buffer available twice";

  ASSERT_EQ(rig.dev.push_used(c2.used(0)), RingError::ok);
  ASSERT_EQ(rig.dev.push_used(d2.used(0)), RingError::ok);
  ASSERT_EQ(rig.dev.flush(), RingError::ok);
  EXPECT_EQ(rig.reap(), (std::vector<uint64_t>{2, 3}));
}

// The defect this exists for: a device completes buffer A, pops B, cannot
// place B and puts it back. The driver, which enabled callbacks before A
// was used, must still be notified for A: the signal window survives the
// discard (restoring a saved ring state instead zeroed it and the
// interrupt-driven driver stalled).
template <class Ring>
void completion_before_discard_is_signalled(Features f) {
  Rig<Ring> rig(8, f);
  rig.add(10);
  rig.add(11);
  ASSERT_FALSE(rig.drv.enable_cb()) << "nothing used yet";
  const Chain a = rig.pop(), b = rig.pop();
  ASSERT_EQ(rig.dev.push_used(a.used(0)), RingError::ok);
  rig.dev.discard(b);
  ASSERT_EQ(rig.dev.flush(), RingError::ok);
  EXPECT_TRUE(rig.dev.should_signal()) << "the completion of A was published without its notification";
  EXPECT_EQ(rig.reap(), std::vector<uint64_t>{10});

  // B comes back, is completed, and is signalled in its turn.
  ASSERT_FALSE(rig.drv.enable_cb());
  const Chain b2 = rig.pop();
  EXPECT_TRUE(same_buffer(b, b2));
  ASSERT_EQ(rig.dev.push_used(b2.used(0)), RingError::ok);
  ASSERT_EQ(rig.dev.flush(), RingError::ok);
  EXPECT_TRUE(rig.dev.should_signal());
  EXPECT_EQ(rig.reap(), std::vector<uint64_t>{11});
}

TYPED_TEST(Discard, CompletionBeforeTheDiscardIsSignalled) {
  completion_before_discard_is_signalled<TypeParam>(kPlain);
}

TYPED_TEST(Discard, CompletionBeforeTheDiscardIsSignalledWithEventIdx) {
  completion_before_discard_is_signalled<TypeParam>(kEventIdx);
}

// A broken queue touches nothing: discard is ignored like every other call.
TYPED_TEST(Discard, IgnoredOnABrokenQueue) {
  Rig<TypeParam> rig(8, kPlain);
  rig.add(1);
  const Chain a = rig.pop();
  const RingState after_pop = rig.dev.state();
  // Break the queue with an unmapped buffer address (P3 / address_unmapped).
  const Segment bad{0xdead0000000ull, 64};
  ASSERT_EQ(rig.drv.add(std::span(&bad, 1), {}, 2), RingError::ok);
  Chain c;
  ASSERT_EQ(rig.dev.pop(c).error, RingError::address_unmapped);
  rig.dev.discard(a);
  EXPECT_EQ(rig.dev.state(), after_pop);
  EXPECT_EQ(rig.dev.stats().discarded, 0u);
}

}  // namespace
}  // namespace virtiosim::ring
