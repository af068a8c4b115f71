// Two-thread stress of the ring core over NativeMemory: a driver thread and
// a device thread share one ring with real atomics and move millions of
// buffers, each with a checked sequence token and checksummed payload both
// ways. Both sides busy-poll while there is work; when one side runs dry it
// enables notifications (EVENT_IDX) and waits for the other side's doorbell
// or interrupt, so every kick_prepare() / should_signal() decision is acted
// upon: a notification the ring wrongly suppresses leaves a side waiting and
// the test fails with a "lost notification" error instead of hanging.
//
// Buffer shapes (chain lengths 1..3, readable segments before writable):
//   tx    R[header+payload]                          used len 0
//   rx    W[reply+rx payload]                        device-generated content
//   req   R[header+payload] W[reply]
//   req3  R[header] R[payload] W[reply]              indirect when the pool has a table
//   req3w R[header+payload] W[reply] W[rx payload]   indirect when the pool has a table
// The indirect pool is smaller than the ring, so three-segment buffers also
// take the direct fallback when it runs out.
//
// VIRTIOSIM_STRESS_BUFFERS overrides the number of buffers per ring type
// (default 10,000,000).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "models/ring/chain.h"
#include "models/ring/errors.h"
#include "models/ring/features.h"
#include "models/ring/indirect_pool.h"
#include "models/ring/layout.h"
#include "models/ring/native_memory.h"
#include "models/ring/packed_device.h"
#include "models/ring/packed_driver.h"
#include "models/ring/split_device.h"
#include "models/ring/split_driver.h"
#include "testbench/ring/guest_memory.h"
#include "testbench/ring/ring_typed_test.h"

namespace virtiosim::ring {
namespace {

using testing::GuestMemory;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------- ring types

using testing::PackedRing;
using testing::SplitRing;

// ------------------------------------------------------------ buffer content

uint64_t buffers_to_move() {
  if (const char* s = std::getenv("VIRTIOSIM_STRESS_BUFFERS")) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s, &end, 10);
    if (end != s && *end == '\0' && v > 0) return v;
  }
  return 10'000'000;
}

constexpr uint64_t mix(uint64_t h, uint64_t w) {
  h ^= w + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  h *= 0xff51afd7ed558ccdull;
  return h ^ (h >> 33);
}

// The pseudo-random bytes a sequence number stands for (xorshift64*).
void generate(uint64_t seed, uint8_t* dst, uint32_t len) {
  uint64_t x = mix(seed, 0x5bd1e995) | 1;
  uint32_t i = 0;
  for (; i + 8 <= len; i += 8) {
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    const uint64_t w = x * 0x2545f4914f6cdd1dull;
    std::memcpy(dst + i, &w, 8);
  }
  if (i < len) {
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    const uint64_t w = x * 0x2545f4914f6cdd1dull;
    std::memcpy(dst + i, &w, len - i);
  }
}

uint64_t checksum(const uint8_t* p, uint32_t len) {
  uint64_t h = len;
  uint32_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = mix(h, w);
  }
  if (i < len) {
    uint64_t w = 0;
    std::memcpy(&w, p + i, len - i);
    h = mix(h, w);
  }
  return h;
}

struct Header {
  uint64_t seq;
  uint32_t payload_len;
  uint32_t shape;
  uint64_t checksum;
};
struct Reply {
  uint64_t seq;
  uint64_t digest;  // mix(request checksum, seq), or mix(kRxSalt, seq) for rx
};
static_assert(sizeof(Header) == 24 && sizeof(Reply) == 16);

constexpr uint64_t kRxSalt = 0x7278'7278'7278'7278ull;
constexpr uint64_t kRxSeedSalt = 0xa5a5'0000'0000'0000ull;
constexpr uint32_t kMaxPayload = 160;
constexpr uint32_t kMaxRxPayload = 96;
constexpr uint32_t kMaxReadable = sizeof(Header) + kMaxPayload;
constexpr uint32_t kMaxWritable = sizeof(Reply) + kMaxRxPayload;

enum Shape : uint32_t { tx, rx, req, req3, req3w, kShapes };

// Per buffer a fixed region: readable bytes, then writable bytes.
constexpr uint64_t kSlotBytes = 512;
static_assert(kMaxReadable + kMaxWritable <= kSlotBytes);

// ------------------------------------------------------------ shared state

struct Shared {
  std::atomic<uint64_t> doorbell{0};   // driver -> device notifications
  std::atomic<uint64_t> interrupt{0};  // device -> driver notifications
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::string error;

  void fail(const std::string& what) {
    std::lock_guard lock(mu);
    if (error.empty()) error = what;
    failed.store(true, std::memory_order_relaxed);
  }
};

// How long a side may wait for a notification before the test calls it
// lost. Generous: a spinning thread on a loaded 2-core CI machine under
// ThreadSanitizer can be descheduled for a while, never for this long.
constexpr auto kNotificationTimeout = std::chrono::seconds(60);
// Empty polls before a side stops busy-polling and asks for a notification.
constexpr unsigned kIdlePollsBeforeWait = 64;

// Spins until `counter` moves past `seen`; false on timeout or failure.
bool wait_for(const std::atomic<uint64_t>& counter, uint64_t seen, Shared& sh) {
  const auto deadline = Clock::now() + kNotificationTimeout;
  for (unsigned spins = 0;; ++spins) {
    if (counter.load(std::memory_order_acquire) != seen) return true;
    if (sh.failed.load(std::memory_order_relaxed)) return false;
    if ((spins & 1023) == 1023) {
      if (Clock::now() > deadline) return false;
      std::this_thread::yield();  // be fair to the other side on a busy machine
    }
  }
}

struct Counts {
  uint64_t driver_waits = 0, device_waits = 0;
  uint64_t shapes[kShapes] = {};
};

// -------------------------------------------------------------- the sides

template <class Ring>
void run_device(typename Ring::Device& dev, GuestMemory& gm, uint64_t total, uint32_t batch, Shared& sh,
                Counts& counts) {
  NativeMemory mem = gm.native();
  Chain chain;
  uint8_t in[kMaxReadable];
  uint8_t out[kMaxWritable];
  uint64_t expected = 0;
  unsigned idle = 0;
  dev.disable_notifications();
  while (expected < total && !sh.failed.load(std::memory_order_relaxed)) {
    uint32_t n = 0;
    while (n < batch) {
      auto r = dev.pop(chain);
      if (!r.ok()) return sh.fail(std::string("device pop: ") + name(r.error));
      if (!r.value) break;
      const uint64_t seq = expected++;
      uint64_t digest;
      if (chain.readable_bytes > 0) {
        if (chain.readable_bytes < sizeof(Header) || chain.readable_bytes > kMaxReadable)
          return sh.fail("device: readable bytes " + std::to_string(chain.readable_bytes) + " at seq " +
                         std::to_string(seq));
        uint32_t at = 0;
        for (const Segment& s : chain.readable) {
          mem.read_bytes(s.addr, in + at, s.len);
          at += s.len;
        }
        Header h;
        std::memcpy(&h, in, sizeof h);
        if (h.seq != seq)
          return sh.fail("device: header seq " + std::to_string(h.seq) + ", expected " + std::to_string(seq));
        if (h.payload_len != at - sizeof h || checksum(in + sizeof h, h.payload_len) != h.checksum)
          return sh.fail("device: payload checksum mismatch at seq " + std::to_string(seq));
        digest = mix(h.checksum, seq);
      } else {
        digest = mix(kRxSalt, seq);
      }
      uint32_t written = 0;
      if (chain.writable_bytes > 0) {
        if (chain.writable_bytes < sizeof(Reply) || chain.writable_bytes > kMaxWritable)
          return sh.fail("device: writable bytes " + std::to_string(chain.writable_bytes) + " at seq " +
                         std::to_string(seq));
        const Reply rep{seq, digest};
        std::memcpy(out, &rep, sizeof rep);
        written = static_cast<uint32_t>(chain.writable_bytes);
        generate(seq ^ kRxSeedSalt, out + sizeof rep, written - static_cast<uint32_t>(sizeof rep));
        uint32_t at = 0;
        for (const Segment& s : chain.writable) {
          mem.write_bytes(s.addr, out + at, s.len);
          at += s.len;
        }
      }
      if (RingError e = dev.push_used(chain.used(written)); e != RingError::ok)
        return sh.fail(std::string("device push_used: ") + name(e));
      ++n;
    }
    if (n > 0) {
      idle = 0;
      if (RingError e = dev.flush(); e != RingError::ok)
        return sh.fail(std::string("device flush: ") + name(e));
      if (dev.should_signal()) sh.interrupt.fetch_add(1, std::memory_order_release);
      continue;
    }
    if (++idle < kIdlePollsBeforeWait) continue;
    // Nothing available for a while: ask for a kick and wait for it.
    idle = 0;
    const uint64_t seen = sh.doorbell.load(std::memory_order_acquire);
    if (dev.enable_notifications()) {
      dev.disable_notifications();
      continue;
    }
    ++counts.device_waits;
    if (!wait_for(sh.doorbell, seen, sh)) {
      if (!sh.failed.load())
        sh.fail("lost available-buffer notification: device waited " +
                std::to_string(kNotificationTimeout.count()) + " s at last_avail_idx " +
                std::to_string(dev.last_avail_idx()) + " after " + std::to_string(expected) + " buffers");
      return;
    }
    dev.disable_notifications();
  }
}

template <class Ring>
void run_driver(typename Ring::Driver& drv, GuestMemory& gm, uint64_t slots_base, uint32_t slots,
                uint64_t total, uint32_t batch, Shared& sh, Counts& counts) {
  NativeMemory mem = gm.native();
  uint8_t buf[kMaxReadable];
  uint8_t want[kMaxWritable];
  uint8_t got[kMaxWritable];
  // Per in-flight buffer what the reply must be (indexed like the slots).
  struct Expect {
    uint64_t digest;
    uint32_t writable_len;
  };
  std::vector<Expect> expect(slots);
  uint64_t next_seq = 0, completed = 0, rng = 0x243f6a8885a308d3ull;
  unsigned idle = 0;
  drv.disable_cb();

  auto next_rand = [&rng] {
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
  };

  while (completed < total && !sh.failed.load(std::memory_order_relaxed)) {
    // Make up to `batch` buffers available.
    uint32_t added = 0;
    while (added < batch && next_seq < total && next_seq - completed < slots) {
      const uint64_t seq = next_seq;
      const uint64_t r = next_rand();
      const Shape shape = static_cast<Shape>(r % kShapes);
      const uint32_t payload_len = 1 + static_cast<uint32_t>((r >> 8) % kMaxPayload);
      const uint32_t rx_len = static_cast<uint32_t>((r >> 24) % (kMaxRxPayload + 1));
      const uint64_t slot = slots_base + (seq % slots) * kSlotBytes;
      const uint64_t wbase = slot + kMaxReadable;
      Segment out[2], in[2];
      size_t nout = 0, nin = 0;
      uint64_t digest = mix(kRxSalt, seq);
      if (shape != rx) {
        Header h{seq, payload_len, shape, 0};
        generate(seq, buf + sizeof h, payload_len);
        h.checksum = checksum(buf + sizeof h, payload_len);
        std::memcpy(buf, &h, sizeof h);
        mem.write_bytes(slot, buf, sizeof h + payload_len);
        digest = mix(h.checksum, seq);
        if (shape == req3) {
          out[nout++] = {slot, static_cast<uint32_t>(sizeof h)};
          out[nout++] = {slot + sizeof h, payload_len};
        } else {
          out[nout++] = {slot, static_cast<uint32_t>(sizeof h + payload_len)};
        }
      }
      switch (shape) {
        case tx:
          break;
        case rx:
          in[nin++] = {wbase, static_cast<uint32_t>(sizeof(Reply) + rx_len)};
          break;
        case req:
        case req3:
          in[nin++] = {wbase, static_cast<uint32_t>(sizeof(Reply))};
          break;
        case req3w:
          in[nin++] = {wbase, static_cast<uint32_t>(sizeof(Reply))};
          in[nin++] = {wbase + sizeof(Reply), 1 + rx_len % kMaxRxPayload};
          break;
        case kShapes:
          break;
      }
      uint32_t wlen = 0;
      for (size_t i = 0; i < nin; ++i) wlen += in[i].len;
      const RingError e = drv.add(std::span(out, nout), std::span(in, nin), seq);
      if (e == RingError::no_space) break;
      if (e != RingError::ok) return sh.fail(std::string("driver add: ") + name(e));
      expect[seq % slots] = {digest, wlen};
      ++counts.shapes[shape];
      ++next_seq;
      ++added;
    }
    if (added > 0 && drv.kick_prepare()) sh.doorbell.fetch_add(1, std::memory_order_release);

    // Take back whatever is used.
    uint32_t reaped = 0;
    UsedBuffer u;
    for (;;) {
      auto r = drv.get_used(u);
      if (!r.ok()) return sh.fail(std::string("driver get_used: ") + name(r.error));
      if (!r.value) break;
      const uint64_t seq = completed;
      if (u.token != seq)
        return sh.fail("driver: token " + std::to_string(u.token) + ", expected " + std::to_string(seq));
      const Expect& ex = expect[seq % slots];
      if (u.len != ex.writable_len)
        return sh.fail("driver: used len " + std::to_string(u.len) + ", expected " +
                       std::to_string(ex.writable_len) + " at seq " + std::to_string(seq));
      if (u.len > 0) {
        const uint64_t wbase = slots_base + (seq % slots) * kSlotBytes + kMaxReadable;
        mem.read_bytes(wbase, got, u.len);
        const Reply rep{seq, ex.digest};
        std::memcpy(want, &rep, sizeof rep);
        generate(seq ^ kRxSeedSalt, want + sizeof rep, u.len - static_cast<uint32_t>(sizeof rep));
        if (std::memcmp(want, got, u.len) != 0)
          return sh.fail("driver: reply mismatch at seq " + std::to_string(seq));
      }
      ++completed;
      ++reaped;
    }
    if (added > 0 || reaped > 0) {
      idle = 0;
      continue;
    }
    if (++idle < kIdlePollsBeforeWait) continue;
    // Nothing to add (ring full or all sent) and nothing used: wait for a
    // used-buffer notification.
    idle = 0;
    const uint64_t seen = sh.interrupt.load(std::memory_order_acquire);
    if (drv.enable_cb()) {
      drv.disable_cb();
      continue;
    }
    ++counts.driver_waits;
    if (!wait_for(sh.interrupt, seen, sh)) {
      if (!sh.failed.load())
        sh.fail("lost used-buffer notification: driver waited " +
                std::to_string(kNotificationTimeout.count()) + " s at last_used_idx " +
                std::to_string(drv.last_used_idx()) + " with " + std::to_string(next_seq - completed) +
                " buffers in flight");
      return;
    }
    drv.disable_cb();
  }
}

// ------------------------------------------------------------------ the test

template <class Ring>
class RingStress : public ::testing::Test {};

TYPED_TEST_SUITE(RingStress, testing::RingTypes, testing::RingName);

TYPED_TEST(RingStress, TwoThreadsMoveMillionsOfCheckedBuffers) {
  using Ring = TypeParam;
  using Layout = typename Ring::Layout;
  constexpr uint32_t kNum = 256;
  constexpr uint32_t kBatch = 16;
  constexpr uint32_t kIndirectSlots = 12;  // fewer than a batch needs: the fallback is taken too
  constexpr uint32_t kIndirectEntries = 4;
  const uint64_t total = buffers_to_move();

  GuestMemory gm(Layout::contiguous_bytes(kNum) + IndirectPool::bytes(kIndirectSlots, kIndirectEntries) +
                 uint64_t{kNum} * kSlotBytes + 4096);
  const Layout layout = Layout::place(gm.alloc(Layout::contiguous_bytes(kNum), 4096), kNum);
  IndirectPool pool(gm.alloc(IndirectPool::bytes(kIndirectSlots, kIndirectEntries)), kIndirectSlots,
                    kIndirectEntries);
  const uint64_t slots_base = gm.alloc(uint64_t{kNum} * kSlotBytes, 64);

  const Features features{feature_bit(VIRTIO_RING_F_EVENT_IDX) | feature_bit(VIRTIO_RING_F_INDIRECT_DESC) |
                          feature_bit(VIRTIO_F_VERSION_1)};
  typename Ring::Driver drv(gm.native(), layout, features,
                            DriverOptions{.indirect_pool = &pool, .indirect_threshold = 3});
  typename Ring::Device dev(gm.native(), layout, features);

  Shared sh;
  Counts drv_counts, dev_counts;
  const auto start = Clock::now();
  std::thread device([&] { run_device<Ring>(dev, gm, total, kBatch, sh, dev_counts); });
  run_driver<Ring>(drv, gm, slots_base, kNum, total, kBatch, sh, drv_counts);
  if (sh.failed.load()) {
    // The device may be waiting for a doorbell that will not come.
    sh.doorbell.fetch_add(1, std::memory_order_release);
  }
  device.join();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();

  ASSERT_EQ(sh.error, "");
  const DriverStats& ds = drv.stats();
  const DeviceStats& vs = dev.stats();
  EXPECT_EQ(ds.added, total);
  EXPECT_EQ(ds.used, total);
  EXPECT_EQ(vs.popped, total);
  EXPECT_EQ(vs.used, total);
  EXPECT_EQ(drv.num_free(), kNum);
  EXPECT_EQ(pool.free_slots(), kIndirectSlots);
  EXPECT_FALSE(drv.broken());
  EXPECT_FALSE(dev.broken());
  EXPECT_EQ(ds.errors.total(), 0u);
  EXPECT_EQ(vs.errors.total(), 0u);
  for (uint32_t s = 0; s < kShapes; ++s) EXPECT_GT(drv_counts.shapes[s], 0u) << "shape " << s;
  if (total >= 100'000) {
    // Both indirect tables and the direct fallback were exercised, and the
    // notification decisions went both ways.
    EXPECT_GT(ds.indirect, 0u);
    EXPECT_GT(ds.indirect_fallbacks, 0u);
    EXPECT_GT(ds.kicks + ds.kicks_suppressed, 0u);
    EXPECT_GT(vs.signals + vs.signals_suppressed, 0u);
  }
  std::printf(
      "[ stress ] %llu buffers in %.2f s (%.2f M/s); indirect %llu, fallbacks %llu; "
      "kicks %llu / suppressed %llu, signals %llu / suppressed %llu; "
      "waits driver %llu, device %llu\n",
      static_cast<unsigned long long>(total), secs, total / secs / 1e6,
      static_cast<unsigned long long>(ds.indirect), static_cast<unsigned long long>(ds.indirect_fallbacks),
      static_cast<unsigned long long>(ds.kicks), static_cast<unsigned long long>(ds.kicks_suppressed),
      static_cast<unsigned long long>(vs.signals), static_cast<unsigned long long>(vs.signals_suppressed),
      static_cast<unsigned long long>(drv_counts.driver_waits),
      static_cast<unsigned long long>(dev_counts.device_waits));
}

}  // namespace
}  // namespace virtiosim::ring
