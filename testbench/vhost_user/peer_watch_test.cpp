// serve --check's watch of one vring (peer_watch.h) sampling memory that
// the test writes store by store: a driver caught at any point of a
// correct publish gives no finding, wherever a sample falls; a store that
// breaks a rule gives that rule once it is sampled; a ring resumed at a
// base is watched from there; kicks count only after DISABLE held for two
// kick reads.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "models/ring/packed_flags.h"
#include "transport/vhost_user/peer_watch.h"

namespace virtiosim::vhost_user {
namespace {

using ring::kDescNext;
using ring::kDescWrite;
using ring::packed_avail_flags;
using Rules = std::vector<std::string>;

constexpr uint32_t kNum = 8;
constexpr uint64_t kGpa = 0x100000;
constexpr uint32_t kTx = 1;  // vring index in the evidence

// A queue in memory the test owns, and the watch of it.
class Queue {
 public:
  explicit Queue(bool packed, ring::RingState state = {}, bool event_idx = true)
      : mem_(0x4000, 0), packed_(packed) {
    MappedRegion r;
    r.gpa = kGpa;
    r.size = mem_.size();
    r.uva = reinterpret_cast<uint64_t>(mem_.data());
    r.host = mem_.data();
    areas_ = packed ? ring::QueueAreas{kGpa, kGpa + 0x1000, kGpa + 0x1100, kNum}
                    : ring::QueueAreas{kGpa, kGpa + 0x1000, kGpa + 0x2000, kNum};
    uint64_t f = ring::feature_bit(VIRTIO_F_VERSION_1) | (packed ? ring::feature_bit(VIRTIO_F_RING_PACKED) : 0) |
                 (event_idx ? ring::feature_bit(VIRTIO_RING_F_EVENT_IDX) : 0);
    watch_ = std::make_unique<VringWatch>(kTx, MemoryTable::borrow({r}), areas_, ring::Features{f}, state);
  }

  template <class T>
  void put(uint64_t gpa, T v) { std::memcpy(&mem_[gpa - kGpa], &v, sizeof v); }
  // Packed: a descriptor's body (addr, len, id), then its flags.
  void body(uint32_t slot, uint16_t id, uint32_t len = 64) {
    put(areas_.packed().desc_addr(slot), uint64_t{kGpa + 0x3000});
    put(areas_.packed().len_addr(slot), len);
    put(areas_.packed().id_addr(slot), id);
  }
  void flags(uint32_t slot, uint16_t f) { put(areas_.packed().flags_addr(slot), f); }
  // Split: descriptor `i`, an avail entry, avail->idx.
  void split_desc(uint16_t i, uint16_t f = 0, uint16_t next = 0, uint32_t len = 64) {
    put(areas_.split().desc_addr(i), uint64_t{kGpa + 0x3000});
    put(areas_.split().len_addr(i), len);
    put(areas_.split().flags_addr(i), f);
    put(areas_.split().next_addr(i), next);
  }
  void split_entry(uint16_t idx, uint16_t head) { put(areas_.split().avail_ring_addr(idx % kNum), head); }
  void split_idx(uint16_t idx) { put(areas_.split().avail_idx_addr(), idx); }

  Rules sync() { return take([&](auto& out) { watch_->sync(out); }); }
  Rules kicked() { return take([&](auto& out) { watch_->kicked(out); }); }
  // serve completes `e` and flushes from `before`, writing what the device
  // writes, as the watch is told.
  Rules complete(ring::UsedElem e, ring::RingState before) {
    sync();
    watch_->completed(e);
    if (packed_) {
      put(areas_.packed().id_addr(before.last_used_idx), e.id);
      put(areas_.packed().len_addr(before.last_used_idx), e.len);
      flags(before.last_used_idx, ring::packed_used_flags(before.used_wrap_counter));
    } else {
      put(areas_.split().used_elem_id_addr(before.last_used_idx % kNum), uint32_t{e.id});
      put(areas_.split().used_elem_len_addr(before.last_used_idx % kNum), e.len);
      put(areas_.split().used_idx_addr(), static_cast<uint16_t>(before.last_used_idx + 1));
    }
    return take([&](auto& out) { watch_->flushed(before, out); });
  }
  VringWatch& watch() { return *watch_; }
  const PeerFinding& last() const { return last_; }

 private:
  template <class F>
  Rules take(F&& f) {
    std::vector<PeerFinding> out;
    f(out);
    Rules r;
    for (const PeerFinding& p : out) r.push_back(p.rule);
    if (!out.empty()) last_ = out.back();
    return r;
  }

  std::vector<uint8_t> mem_;
  bool packed_;
  ring::QueueAreas areas_;
  std::unique_ptr<VringWatch> watch_;
  PeerFinding last_;
};

// A two-descriptor list published as Linux and DPDK do (tail, head body,
// head flags last), sampled after every store, then used and reused.
TEST(PeerWatchPacked, ASampleAnywhereInACorrectPublishIsClean) {
  Queue q(true);
  const uint16_t avail = packed_avail_flags(true);
  q.body(1, 7);
  EXPECT_EQ(q.sync(), Rules{});
  q.flags(1, avail);  // the tail's flags: available, its head not yet
  EXPECT_EQ(q.sync(), Rules{});
  q.body(0, 7);
  EXPECT_EQ(q.sync(), Rules{});
  q.flags(0, avail | kDescNext);  // the head last: the list is the device's
  EXPECT_EQ(q.sync(), Rules{});
  EXPECT_EQ(q.complete({7, 0, 2}, {0, true, 0, true}), Rules{});
  // The driver takes slot 0 back and publishes a new buffer there and at 2.
  q.body(2, 3);
  q.flags(2, avail);
  EXPECT_EQ(q.sync(), Rules{});
  EXPECT_EQ(q.kicked(), Rules{});  // fresh ring: its memory said ENABLE before it started
}

// The body changes after the flags made the slot available: the driver
// wrote a descriptor the device owns (P3), with evidence.
TEST(PeerWatchPacked, ABodyChangedAfterPublishIsP3) {
  Queue q(true);
  q.body(0, 0);
  q.flags(0, packed_avail_flags(true));
  EXPECT_EQ(q.sync(), Rules{});
  q.body(0, 0, 32);
  EXPECT_EQ(q.sync(), Rules{"P3"});
  EXPECT_EQ(q.last().vring, kTx);
  EXPECT_EQ(q.last().slot, 0u);
  EXPECT_EQ(q.last().flags, packed_avail_flags(true));
}

// A head whose flags do not say available, sampled together with an
// earlier correct buffer: P2 all the same.
TEST(PeerWatchPacked, ABadHeadBehindAGoodOneInOneSampleIsP2) {
  Queue q(true);
  q.body(0, 0);
  q.flags(0, packed_avail_flags(true));
  q.body(1, 1);
  q.flags(1, ring::packed_used_flags(true));  // AVAIL == USED: reads as used
  EXPECT_EQ(q.sync(), Rules{"P2"});
  EXPECT_EQ(q.last().slot, 1u);
}

// A sample reads the head's flags first: the bad head at slot 1 is seen in
// a sample that still found slot 0 unpublished, and judged when the head
// reaches it in the next sample, where its flags did not change (serve
// --check missed such P2s about once in 30 runs).
TEST(PeerWatchPacked, ABadHeadSeenBeforeTheHeadReachesItIsP2) {
  Queue q(true);
  q.body(1, 1);
  q.flags(1, ring::packed_used_flags(true));  // AVAIL == USED: reads as used
  EXPECT_EQ(q.sync(), Rules{});               // slot 0 not yet published: not the head
  q.body(0, 0);
  q.flags(0, packed_avail_flags(true));
  EXPECT_EQ(q.sync(), Rules{"P2"});
  EXPECT_EQ(q.last().slot, 1u);
  EXPECT_EQ(q.sync(), Rules{});  // once
}

// Resumed at slot 5, wrap 0 (SET_VRING_BASE): a publish there is clean,
// and a slot behind it left as it was is not taken for a new one.
TEST(PeerWatchPacked, AResumedRingIsWatchedFromItsBase) {
  Queue q(true, {5, false, 5, false});
  q.body(4, 4);
  q.flags(4, ring::packed_used_flags(false));  // used on the lap before
  q.body(5, 2);
  q.flags(5, packed_avail_flags(false));
  EXPECT_EQ(q.sync(), Rules{});
  EXPECT_EQ(q.complete({2, 0, 1}, {5, false, 5, false}), Rules{});
}

// Split: descriptors and the avail entry before avail->idx, sampled in
// between; then a chain with a readable descriptor after a writable one.
TEST(PeerWatchSplit, ASampleAnywhereInACorrectPublishIsClean) {
  Queue q(false);
  q.split_desc(0, kDescNext, 1);
  EXPECT_EQ(q.sync(), Rules{});
  q.split_desc(1);
  q.split_entry(0, 0);
  EXPECT_EQ(q.sync(), Rules{});
  q.split_idx(1);
  EXPECT_EQ(q.sync(), Rules{});
  EXPECT_EQ(q.complete({0, 0, 1}, {1, true, 0, true}), Rules{});
  q.split_desc(2, kDescNext | kDescWrite, 3);
  q.split_desc(3);
  q.split_entry(1, 2);
  q.split_idx(2);
  EXPECT_EQ(q.sync(), Rules{"P6.3"});
}

// P10: kicks for new buffers while serve never asked for one count from
// the third kick read on (the driver may have decided the second after
// seeing an older ENABLE); one arm in between excuses the next two.
TEST(PeerWatchPacked, KicksAfterTwoReadsOfDisableAreP10) {
  Queue q(true);
  q.put(kGpa + 0x1100 + ring::packed_off::event_flags, ring::kEventFlagDisable);  // as serve's start_ring
  auto publish = [&q](uint16_t slot) {
    q.body(slot, slot);
    q.flags(slot, packed_avail_flags(true));
  };
  publish(0);
  EXPECT_EQ(q.kicked(), Rules{});
  publish(1);
  EXPECT_EQ(q.kicked(), Rules{});
  publish(2);
  EXPECT_EQ(q.kicked(), Rules{"P10"});
  EXPECT_EQ(q.kicked(), Rules{});  // nothing new: not counted
  q.watch().armed();
  q.watch().disarmed();
  publish(3);
  EXPECT_EQ(q.kicked(), Rules{});
  publish(4);
  EXPECT_EQ(q.kicked(), Rules{});
  publish(5);
  EXPECT_EQ(q.kicked(), Rules{"P10"});
}

}  // namespace
}  // namespace virtiosim::vhost_user
