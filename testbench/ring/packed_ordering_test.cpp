// Ordering of the packed ring's memory accesses and barriers (P6.5, P13),
// read off a RecordingMemory log in program order. Driver and device share
// one log with separate agent tags, so each side's sequence can be checked
// alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "models/ring/indirect_pool.h"
#include "models/ring/packed_device.h"
#include "models/ring/packed_driver.h"
#include "models/ring/recording_memory.h"
#include "testbench/ring/guest_memory.h"
#include "testbench/ring/packed_test_support.h"

namespace virtiosim::ring {
namespace {

using testing::by_agent;
using testing::GuestMemory;
using testing::is_barrier;
using testing::is_read;
using testing::is_write;
using testing::kDeviceAgent;
using testing::kDriverAgent;
using Op = Access::Op;

class PackedOrdering : public ::testing::Test {
 protected:
  void make(uint32_t num, Features f = {}, DriverOptions dopts = {}) {
    layout_ = PackedLayout::place(gm_.alloc(PackedLayout::contiguous_bytes(num)), num);
    data_ = gm_.alloc(0x4000);
    drv_.emplace(RecordingMemory(gm_.native(), &log_, kDriverAgent), layout_, f, dopts);
    dev_.emplace(RecordingMemory(gm_.native(), &log_, kDeviceAgent), layout_, f);
    log_.clear();
  }

  Segment seg(uint32_t i, uint32_t len = 64) const { return {data_ + uint64_t{i} * 64, len}; }

  // A buffer of `nout` readable and `nin` writable segments.
  void add(uint32_t nout, uint32_t nin, uint64_t token) {
    std::vector<Segment> out, in;
    for (uint32_t i = 0; i < nout; ++i) out.push_back(seg(i));
    for (uint32_t i = 0; i < nin; ++i) in.push_back(seg(nout + i));
    ASSERT_EQ(drv_->add(out, in, token), RingError::ok);
  }

  // Device takes and completes everything; driver takes it all back.
  void exchange_all() {
    Chain c;
    for (uint32_t n = 0;; ++n) {
      ASSERT_LE(n, layout_.num) << "more buffers popped than the ring holds";
      Result<bool> r = dev_->pop(c);
      ASSERT_TRUE(r.ok()) << name(r.error);
      if (!r.value) break;
      ASSERT_EQ(dev_->push_used(c.used(static_cast<uint32_t>(c.writable_bytes))), RingError::ok);
    }
    ASSERT_EQ(dev_->flush(), RingError::ok);
    UsedBuffer u;
    for (uint32_t n = 0;; ++n) {
      ASSERT_LE(n, layout_.num) << "more buffers returned than the ring holds";
      Result<bool> r = drv_->get_used(u);
      ASSERT_TRUE(r.ok()) << name(r.error);
      if (!r.value) break;
    }
    ASSERT_EQ(drv_->num_free(), layout_.num);
  }

  uint64_t flags_of(uint32_t slot) const { return layout_.desc_addr(slot) + packed_off::flags; }

  // P6.5 + P13 for one add(): every write but the head's flags, then the
  // driver_publish barrier, then the head's flags as the very last access.
  void expect_head_flags_last(uint32_t head, uint16_t head_flags,
                              const std::vector<std::pair<uint64_t, uint64_t>>& before) {
    const auto d = by_agent(log_, kDriverAgent);
    ASSERT_GE(d.size(), 2u);
    EXPECT_TRUE(is_write(d.back(), flags_of(head), 2)) << "head flags are not the last write (P6.5)";
    EXPECT_EQ(d.back().value, head_flags);
    EXPECT_TRUE(is_barrier(d[d.size() - 2], BarrierSite::driver_publish))
        << "no driver_publish barrier right before the head flags (P13)";
    size_t barriers = 0;
    for (size_t i = 0; i + 1 < d.size(); ++i) {
      EXPECT_NE(d[i].op, Op::read) << "add() reads nothing";
      if (d[i].op == Op::barrier) ++barriers;
      if (d[i].op == Op::write) {
        EXPECT_FALSE(d[i].gpa == flags_of(head)) << "head flags written before the barrier";
      }
    }
    EXPECT_EQ(barriers, 1u);
    for (const auto& [gpa, size] : before) {
      const bool found = std::any_of(d.begin(), d.end() - 2, [&](const Access& a) { return is_write(a, gpa, size); });
      EXPECT_TRUE(found) << "write to 0x" << std::hex << gpa << " missing before the barrier";
    }
  }

  std::vector<std::pair<uint64_t, uint64_t>> body_writes(uint32_t slot) const {
    const uint64_t d = layout_.desc_addr(slot);
    return {{d + packed_off::addr, 8}, {d + packed_off::len, 4}, {d + packed_off::id, 2}};
  }

  GuestMemory gm_{1 << 16};
  PackedLayout layout_{};
  uint64_t data_ = 0;
  AccessLog log_;
  std::optional<PackedDriver<RecordingMemory>> drv_;
  std::optional<PackedDevice<RecordingMemory>> dev_;
};

// P6.5, P13: a 3-descriptor list; then again across the ring end, where the
// head is in lap 1 and the rest in lap 0.
TEST_F(PackedOrdering, P6_5_P13_AddWritesHeadFlagsLastAfterPublishBarrier) {
  make(4);
  add(2, 1, 1);
  {
    auto want = body_writes(0);
    for (uint32_t s : {1u, 2u}) {
      auto b = body_writes(s);
      want.insert(want.end(), b.begin(), b.end());
    }
    want.emplace_back(flags_of(1), 2);
    want.emplace_back(flags_of(2), 2);
    expect_head_flags_last(0, kDescAvail | kDescNext, want);
    const auto d = by_agent(log_, kDriverAgent);
    for (const Access& a : d) {
      if (is_write(a, flags_of(1), 2)) { EXPECT_EQ(a.value, kDescAvail | kDescNext); }
      if (is_write(a, flags_of(2), 2)) { EXPECT_EQ(a.value, kDescAvail | kDescWrite); }
    }
  }
  exchange_all();
  log_.clear();
  add(1, 2, 2);  // slots 3 (lap 1), 0 and 1 (lap 0)
  {
    auto want = body_writes(3);
    for (uint32_t s : {0u, 1u}) {
      auto b = body_writes(s);
      want.insert(want.end(), b.begin(), b.end());
    }
    want.emplace_back(flags_of(0), 2);
    want.emplace_back(flags_of(1), 2);
    expect_head_flags_last(3, kDescAvail | kDescNext, want);
    for (const Access& a : by_agent(log_, kDriverAgent)) {
      if (is_write(a, flags_of(0), 2)) { EXPECT_EQ(a.value, kDescUsed | kDescNext | kDescWrite) << "P2 lap 0"; }
      if (is_write(a, flags_of(1), 2)) { EXPECT_EQ(a.value, kDescUsed | kDescWrite) << "P2 lap 0"; }
    }
  }
}

// P6.5, P7: with an indirect table, the table and the head body are written
// before the barrier, the head flags after it.
TEST_F(PackedOrdering, P6_5_P13_IndirectTableWrittenBeforeHeadFlags) {
  GuestMemory& gm = gm_;
  const uint64_t pool_base = gm.alloc(IndirectPool::bytes(2, 8));
  IndirectPool pool(pool_base, 2, 8);
  make(8, Features{feature_bit(VIRTIO_RING_F_INDIRECT_DESC)}, DriverOptions{.indirect_pool = &pool});
  add(2, 1, 1);
  auto want = body_writes(0);
  const auto d = by_agent(log_, kDriverAgent);
  const bool table_written = std::any_of(d.begin(), d.end() - 2, [&](const Access& a) {
    return a.op == Op::write && a.gpa >= pool_base && a.gpa < pool_base + IndirectPool::bytes(2, 8);
  });
  EXPECT_TRUE(table_written) << "table not written before the barrier";
  expect_head_flags_last(0, kDescAvail | kDescIndirect, want);
  EXPECT_EQ(drv_->stats().indirect, 1u);
}

// P13 (device): all id/len of a batch, the device_used_publish barrier,
// then the flags with the batch's first entry's last; no reads. The batch
// has lists of different lengths (P6.6: used slots skip each list) and the
// second flush crosses the ring end.
TEST_F(PackedOrdering, P13_FlushWritesIdLenThenBarrierThenFlagsFirstEntryLast) {
  make(16);
  struct Case {
    std::vector<uint32_t> lens;   // list lengths of the batch
    std::vector<uint32_t> heads;  // their head slots
    std::vector<bool> lap1;       // used in lap 1 (wrap counter 1)?
  };
  // First batch: slots 0 | 1 2 | 3 | 4 5 6. Then 7 single buffers (7..13).
  // Second batch: 14 | 15 0 | 1 2, crossing into lap 0.
  const std::vector<Case> cases = {
      {{1, 2, 1, 3}, {0, 1, 3, 4}, {true, true, true, true}},
      {{1, 1, 1, 1, 1, 1, 1}, {7, 8, 9, 10, 11, 12, 13}, {true, true, true, true, true, true, true}},
      {{1, 2, 2}, {14, 15, 1}, {true, true, false}},
  };
  uint64_t token = 1;
  for (const Case& k : cases) {
    for (uint32_t n : k.lens) add(n > 1 ? 1 : 0, n > 1 ? n - 1 : 1, token++);
    Chain c;
    std::vector<UsedElem> done;
    for (size_t i = 0; i < k.lens.size(); ++i) {
      Result<bool> r = dev_->pop(c);
      ASSERT_TRUE(r.ok() && r.value);
      ASSERT_EQ(c.count, k.lens[i]);
      done.push_back(c.used(static_cast<uint32_t>(100 + i)));
    }
    log_.clear();
    for (const UsedElem& e : done) ASSERT_EQ(dev_->push_used(e), RingError::ok);
    EXPECT_TRUE(log_.empty()) << "push_used only fills the shadow ring";
    ASSERT_EQ(dev_->flush(), RingError::ok);

    const auto d = by_agent(log_, kDeviceAgent);
    const size_t n = k.heads.size();
    ASSERT_EQ(d.size(), 2 * n + 1 + n);
    std::set<std::pair<uint64_t, uint64_t>> want_body, got_body;
    for (uint32_t h : k.heads) {
      want_body.insert({layout_.desc_addr(h) + packed_off::id, 2});
      want_body.insert({layout_.desc_addr(h) + packed_off::len, 4});
    }
    for (size_t i = 0; i < 2 * n; ++i) {
      ASSERT_EQ(d[i].op, Op::write);
      got_body.insert({d[i].gpa, d[i].size});
    }
    EXPECT_EQ(got_body, want_body) << "id/len of every used entry before the barrier";
    EXPECT_TRUE(is_barrier(d[2 * n], BarrierSite::device_used_publish));
    std::vector<uint64_t> flag_order;
    for (size_t i = 2 * n + 1; i < d.size(); ++i) {
      ASSERT_EQ(d[i].op, Op::write);
      ASSERT_EQ(d[i].size, 2u);
      flag_order.push_back(d[i].gpa);
      const auto it = std::find(k.heads.begin(), k.heads.end(),
                                static_cast<uint32_t>((d[i].gpa - layout_.desc) / 16));
      ASSERT_NE(it, k.heads.end());
      const bool lap1 = k.lap1[static_cast<size_t>(it - k.heads.begin())];
      EXPECT_EQ(d[i].value, testing::used_bits(lap1) | kDescWrite) << "P2 used flags";
    }
    EXPECT_EQ(flag_order.back(), flags_of(k.heads.front())) << "batch's first entry's flags not last";
    EXPECT_EQ(std::set<uint64_t>(flag_order.begin(), flag_order.end()).size(), n);

    UsedBuffer u;
    for (size_t i = 0; i < n; ++i) {
      Result<bool> r = drv_->get_used(u);
      ASSERT_TRUE(r.ok() && r.value);
      EXPECT_EQ(u.len, 100 + i);
    }
    ASSERT_EQ(drv_->num_free(), 16u);
  }
}

// P13 (device): pop reads the head flags, then device_avail_read, then the
// bodies; the other descriptors of the list were published by the head.
TEST_F(PackedOrdering, P13_PopReadsHeadFlagsThenBarrierThenBodies) {
  make(8);
  Chain c;
  ASSERT_TRUE(dev_->pop(c).ok());
  {
    const auto d = by_agent(log_, kDeviceAgent);
    ASSERT_EQ(d.size(), 1u) << "an empty ring costs one flags read and no barrier";
    EXPECT_TRUE(is_read(d[0], flags_of(0), 2));
  }
  add(2, 1, 1);
  log_.clear();
  Result<bool> r = dev_->pop(c);
  ASSERT_TRUE(r.ok() && r.value);
  const auto d = by_agent(log_, kDeviceAgent);
  ASSERT_GE(d.size(), 3u);
  EXPECT_TRUE(is_read(d[0], flags_of(0), 2)) << "first access is the head flags";
  EXPECT_TRUE(is_barrier(d[1], BarrierSite::device_avail_read));
  size_t barriers = 0;
  std::set<uint64_t> bodies;
  for (size_t i = 1; i < d.size(); ++i) {
    EXPECT_NE(d[i].op, Op::write) << "pop writes nothing";
    if (d[i].op == Op::barrier) ++barriers;
    if (d[i].op == Op::read && (d[i].gpa - layout_.desc) % 16 != packed_off::flags) bodies.insert(d[i].gpa);
  }
  EXPECT_EQ(barriers, 1u);
  for (uint32_t s = 0; s < 3; ++s) {
    EXPECT_TRUE(bodies.count(layout_.desc_addr(s) + packed_off::addr)) << s;
    EXPECT_TRUE(bodies.count(layout_.desc_addr(s) + packed_off::len)) << s;
  }
}

// P13 (driver): get_used reads the flags, driver_used_read, then id/len.
TEST_F(PackedOrdering, P13_GetUsedReadsFlagsThenBarrierThenIdLen) {
  make(8);
  add(0, 1, 1);
  UsedBuffer u;
  log_.clear();
  ASSERT_FALSE(drv_->get_used(u).value);
  {
    const auto d = by_agent(log_, kDriverAgent);
    ASSERT_EQ(d.size(), 1u) << "nothing used: one flags read, no barrier";
    EXPECT_TRUE(is_read(d[0], flags_of(0), 2));
  }
  Chain c;
  ASSERT_TRUE(dev_->pop(c).value);
  ASSERT_EQ(dev_->push_used(c.used(9)), RingError::ok);
  ASSERT_EQ(dev_->flush(), RingError::ok);
  log_.clear();
  Result<bool> r = drv_->get_used(u);
  ASSERT_TRUE(r.ok() && r.value);
  EXPECT_EQ(u.len, 9u);
  const auto d = by_agent(log_, kDriverAgent);
  ASSERT_EQ(d.size(), 4u);
  EXPECT_TRUE(is_read(d[0], flags_of(0), 2));
  EXPECT_TRUE(is_barrier(d[1], BarrierSite::driver_used_read));
  const std::set<std::pair<uint64_t, uint64_t>> got{{d[2].gpa, d[2].size}, {d[3].gpa, d[3].size}};
  const std::set<std::pair<uint64_t, uint64_t>> want{{layout_.desc_addr(0) + packed_off::id, 2},
                                                     {layout_.desc_addr(0) + packed_off::len, 4}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(d[2].op, Op::read);
  EXPECT_EQ(d[3].op, Op::read);
}

// P13: the full driver_kick_check barrier comes before the device area is
// read, and add() itself never reads it.
TEST_F(PackedOrdering, P13_KickPrepareBarrierBeforeDeviceAreaRead) {
  make(8);
  add(1, 0, 1);
  for (const Access& a : by_agent(log_, kDriverAgent))
    EXPECT_FALSE(a.op == Op::read && a.gpa >= layout_.device_event && a.gpa < layout_.device_event + 4);
  log_.clear();
  EXPECT_TRUE(drv_->kick_prepare());
  const auto d = by_agent(log_, kDriverAgent);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_TRUE(is_barrier(d[0], BarrierSite::driver_kick_check));
  EXPECT_TRUE(is_read(d[1], layout_.device_event, 4));
}

// P13 mirror on the device: device_signal_check before the driver area.
TEST_F(PackedOrdering, P13_ShouldSignalBarrierBeforeDriverAreaRead) {
  make(8);
  add(1, 0, 1);
  Chain c;
  ASSERT_TRUE(dev_->pop(c).value);
  ASSERT_EQ(dev_->push_used(c.used(0)), RingError::ok);
  ASSERT_EQ(dev_->flush(), RingError::ok);
  for (const Access& a : by_agent(log_, kDeviceAgent))
    EXPECT_FALSE(a.op == Op::read && a.gpa >= layout_.driver_event && a.gpa < layout_.driver_event + 4);
  log_.clear();
  EXPECT_TRUE(dev_->should_signal());
  const auto d = by_agent(log_, kDeviceAgent);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_TRUE(is_barrier(d[0], BarrierSite::device_signal_check));
  EXPECT_TRUE(is_read(d[1], layout_.driver_event, 4));
}

// pop_burst takes aligned groups of four one-descriptor buffers at once:
// the four flags, one device_avail_read barrier, then the four bodies; the
// chains are what pop() would have given.
TEST_F(PackedOrdering, P13_PopBurstTakesGroupsOfFourWithOneBarrierEach) {
  make(16);
  for (uint64_t t = 0; t < 8; ++t) add(t % 2, 1 - t % 2, t);
  log_.clear();
  Chain burst[8];
  const Result<uint32_t> r = dev_->pop_burst(burst);
  ASSERT_TRUE(r.ok()) << name(r.error);
  ASSERT_EQ(r.value, 8u);
  for (uint16_t k = 0; k < 8; ++k) {
    EXPECT_EQ(burst[k].id, k);
    EXPECT_EQ(burst[k].count, 1);
    const auto& segs = k % 2 ? burst[k].readable : burst[k].writable;
    ASSERT_EQ(segs.size(), 1u);
    EXPECT_EQ(segs[0].addr, seg(0).addr);
    EXPECT_EQ(burst[k].readable.size() + burst[k].writable.size(), 1u);
  }
  EXPECT_EQ(dev_->stats().popped, 8u);
  EXPECT_EQ(dev_->last_avail_idx(), 8);
  const auto d = by_agent(log_, kDeviceAgent);
  std::vector<size_t> barriers;
  for (size_t i = 0; i < d.size(); ++i)
    if (d[i].op == Op::barrier) {
      EXPECT_EQ(d[i].site, BarrierSite::device_avail_read);
      barriers.push_back(i);
    }
  ASSERT_EQ(barriers.size(), 2u) << "one barrier per group of four";
  for (size_t g = 0; g < 2; ++g) {
    for (uint32_t k = 0; k < 4; ++k) {
      const uint32_t slot = static_cast<uint32_t>(g * 4 + k);
      const auto at = std::find_if(d.begin(), d.end(), [&](const Access& a) { return is_read(a, flags_of(slot), 2); });
      const auto body = std::find_if(d.begin(), d.end(), [&](const Access& a) {
        return is_read(a, layout_.desc_addr(slot) + packed_off::addr, 8);
      });
      ASSERT_NE(at, d.end());
      ASSERT_NE(body, d.end());
      EXPECT_LT(static_cast<size_t>(at - d.begin()), barriers[g]) << "flags of slot " << slot;
      EXPECT_GT(static_cast<size_t>(body - d.begin()), barriers[g]) << "body of slot " << slot;
    }
  }
  for (const Access& a : d) EXPECT_NE(a.op, Op::write) << "a pop writes nothing";
}

// Where no group can be taken (an unaligned start, a list of three, the
// ring's end, fewer than four available) pop_burst goes one buffer at a
// time; across a whole lap and into the next the chains are the buffers
// the driver added, in order.
TEST_F(PackedOrdering, PopBurstMixesGroupsAndSingleBuffersAcrossTheWrap) {
  make(16);
  uint64_t token = 0;
  std::vector<uint32_t> shape;  // segments per buffer, in add order
  auto add_n = [&](uint32_t segs) {
    add(segs, 0, token++);
    shape.push_back(segs);
  };
  add_n(1);
  Chain c;
  ASSERT_TRUE(dev_->pop(c).value);  // the device now starts at slot 1
  ASSERT_EQ(dev_->push_used(c.used(0)), RingError::ok);
  for (uint32_t segs : {1u, 1u, 1u, 3u, 1u, 1u, 1u, 1u, 1u, 1u}) add_n(segs);  // slots 1..12
  size_t next = 1;
  Chain burst[16];
  Result<uint32_t> r = dev_->pop_burst(burst);
  ASSERT_TRUE(r.ok()) << name(r.error);
  ASSERT_EQ(r.value, 10u);
  for (uint32_t k = 0; k < r.value; ++k, ++next) EXPECT_EQ(burst[k].readable.size(), shape[next]) << "buffer " << next;
  for (uint32_t k = 0; k < r.value; ++k) ASSERT_EQ(dev_->push_used(burst[k].used(0)), RingError::ok);
  ASSERT_EQ(dev_->flush(), RingError::ok);
  UsedBuffer u;
  for (int k = 0; k < 11; ++k) ASSERT_TRUE(drv_->get_used(u).value);
  for (int k = 0; k < 7; ++k) add_n(1);  // slots 13, 14, 15, then a group at 0..3 of the next lap
  r = dev_->pop_burst(burst);
  ASSERT_TRUE(r.ok()) << name(r.error);
  ASSERT_EQ(r.value, 7u);
  EXPECT_FALSE(dev_->avail_wrap_counter());
  EXPECT_EQ(dev_->last_avail_idx(), 4);
  EXPECT_EQ(dev_->stats().popped, 18u);
  for (uint32_t k = 0; k < r.value; ++k) ASSERT_EQ(dev_->push_used(burst[k].used(0)), RingError::ok);
  ASSERT_EQ(dev_->flush(), RingError::ok);
  for (uint64_t t = 11; t < 18; ++t) {
    ASSERT_TRUE(drv_->get_used(u).value);
    EXPECT_EQ(u.token, t) << "the buffers come back as the driver added them";
  }
}

// Nothing published since the last call: should_signal answers no without
// a barrier or a read of the driver area. kick_prepare with nothing added
// still does both, as Linux does, and without EVENT_IDX (flags ENABLE)
// still asks for the kick Linux would send.
TEST_F(PackedOrdering, P13_NothingNewToSignalNoBarrierNoRead) {
  make(8);
  add(1, 0, 1);
  EXPECT_TRUE(drv_->kick_prepare());
  Chain c;
  ASSERT_TRUE(dev_->pop(c).value);
  ASSERT_EQ(dev_->push_used(c.used(0)), RingError::ok);
  ASSERT_EQ(dev_->flush(), RingError::ok);
  EXPECT_TRUE(dev_->should_signal());
  log_.clear();
  EXPECT_FALSE(dev_->should_signal());
  EXPECT_TRUE(log_.empty()) << log_.size() << " accesses";
  EXPECT_TRUE(drv_->kick_prepare());
  const auto d = by_agent(log_, kDriverAgent);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_TRUE(is_barrier(d[0], BarrierSite::driver_kick_check));
  EXPECT_TRUE(is_read(d[1], layout_.device_event, 4));
}

// has_used() peeks at the next used descriptor's flags, as get_used would,
// and takes nothing.
TEST_F(PackedOrdering, HasUsedPeeksAtTheNextUsedFlags) {
  make(8);
  add(1, 0, 1);
  EXPECT_FALSE(drv_->has_used());
  Chain c;
  ASSERT_TRUE(dev_->pop(c).value);
  ASSERT_EQ(dev_->push_used(c.used(0)), RingError::ok);
  EXPECT_FALSE(drv_->has_used()) << "pushed, not yet flushed";
  ASSERT_EQ(dev_->flush(), RingError::ok);
  log_.clear();
  EXPECT_TRUE(drv_->has_used());
  EXPECT_TRUE(drv_->has_used());
  const auto d = by_agent(log_, kDriverAgent);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_TRUE(is_read(d[0], flags_of(0), 2));
  UsedBuffer u;
  ASSERT_TRUE(drv_->get_used(u).value);
  EXPECT_EQ(u.token, 1u);
  EXPECT_FALSE(drv_->has_used());
}

// P11, P13: enable_cb with EVENT_IDX writes off_wrap, driver_event_write,
// flags, then driver_enable_recheck before re-reading the ring.
TEST_F(PackedOrdering, P11_P13_EnableCbWithEventIdx) {
  make(8, Features{feature_bit(VIRTIO_RING_F_EVENT_IDX)});
  add(0, 1, 1);
  add(0, 1, 2);
  exchange_all();  // last used index 2
  drv_->disable_cb();
  log_.clear();
  EXPECT_FALSE(drv_->enable_cb());
  const auto d = by_agent(log_, kDriverAgent);
  ASSERT_EQ(d.size(), 5u);
  EXPECT_TRUE(is_write(d[0], layout_.driver_event + packed_off::event_off_wrap, 2));
  EXPECT_EQ(d[0].value, 2u | kEventWrapBit);
  EXPECT_TRUE(is_barrier(d[1], BarrierSite::driver_event_write));
  EXPECT_TRUE(is_write(d[2], layout_.driver_event + packed_off::event_flags, 2));
  EXPECT_EQ(d[2].value, kEventFlagDesc);
  EXPECT_TRUE(is_barrier(d[3], BarrierSite::driver_enable_recheck));
  EXPECT_TRUE(is_read(d[4], flags_of(2), 2));
}

// Without EVENT_IDX there is no off_wrap: flags, then the recheck barrier.
TEST_F(PackedOrdering, P13_EnableCbWithoutEventIdx) {
  make(8);
  drv_->disable_cb();
  {
    const auto d = by_agent(log_, kDriverAgent);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_TRUE(is_write(d[0], layout_.driver_event + packed_off::event_flags, 2));
    EXPECT_EQ(d[0].value, kEventFlagDisable);
  }
  log_.clear();
  EXPECT_FALSE(drv_->enable_cb());
  const auto d = by_agent(log_, kDriverAgent);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_TRUE(is_write(d[0], layout_.driver_event + packed_off::event_flags, 2));
  EXPECT_EQ(d[0].value, kEventFlagEnable);
  EXPECT_TRUE(is_barrier(d[1], BarrierSite::driver_enable_recheck));
  EXPECT_TRUE(is_read(d[2], flags_of(0), 2));
}

// Mirror on the device: enable_notifications writes off_wrap,
// device_event_write, flags, device_enable_recheck, then re-reads the ring.
TEST_F(PackedOrdering, P11_P13_EnableNotificationsWithEventIdx) {
  make(8, Features{feature_bit(VIRTIO_RING_F_EVENT_IDX)});
  add(0, 1, 1);
  exchange_all();  // last avail index 1
  dev_->disable_notifications();
  log_.clear();
  EXPECT_FALSE(dev_->enable_notifications());
  const auto d = by_agent(log_, kDeviceAgent);
  ASSERT_EQ(d.size(), 5u);
  EXPECT_TRUE(is_write(d[0], layout_.device_event + packed_off::event_off_wrap, 2));
  EXPECT_EQ(d[0].value, 1u | kEventWrapBit);
  EXPECT_TRUE(is_barrier(d[1], BarrierSite::device_event_write));
  EXPECT_TRUE(is_write(d[2], layout_.device_event + packed_off::event_flags, 2));
  EXPECT_EQ(d[2].value, kEventFlagDesc);
  EXPECT_TRUE(is_barrier(d[3], BarrierSite::device_enable_recheck));
  EXPECT_TRUE(is_read(d[4], flags_of(1), 2));
}

}  // namespace
}  // namespace virtiosim::ring
