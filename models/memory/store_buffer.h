// Per-agent ordering model: when does a store become visible to the other
// agents? Selected per run:
//   sc    every store is visible at once (sequential consistency);
//   tso   stores drain in program order, each after its line's transfer
//         and a delay (x86-TSO store buffer);
//   weak  stores to different addresses may become visible out of order,
//         after their lines' transfers and seeded random delays (Arm-like);
//         stores to the same location stay in order (coherence).
// A write barrier keeps every later store from becoming visible before the
// earlier ones; a full barrier stalls the agent until its buffer is empty.
// Loads see the agent's own pending stores (store-to-load forwarding);
// loads performed early (tso: past the agent's own stores; weak: past its
// loads too) are the memory model's (memory_model.h, docs/memory-model.md).
#pragma once

#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <random>
#include <vector>

#include "models/param.h"

namespace virtiosim::memory {

enum class Ordering : uint8_t { sc, tso, weak };

const char* name(Ordering o);
bool parse_ordering(const char* text, Ordering& out);

#define VIRTIOSIM_STORE_BUFFER_PARAMS(X)                                                     \
  X(double, store_drain_ns, 5.0, "ns",                                                       \
    "time for a store to leave the store buffer once at its head (~L1 write, ~15 cycles)")   \
  X(double, weak_max_delay_ns, 50.0, "ns",                                                   \
    "weak ordering: a store becomes visible up to this long after its line's transfer (seeded uniform); ~ a remote line fetch") \
  X(uint32_t, store_buffer_entries, 56, "",                                                  \
    "store buffer depth; a full buffer stalls the agent (Intel Skylake: 56 entries)")

struct StoreBufferParams {
  VIRTIOSIM_STORE_BUFFER_PARAMS(VIRTIOSIM_PARAM_FIELD)
  template <class F>
  void visit(F&& f) {
    VIRTIOSIM_STORE_BUFFER_PARAMS(VIRTIOSIM_PARAM_VISIT)
  }
};

// A store on its way to memory. Times are in picoseconds of simulated time.
struct PendingStore {
  static constexpr uint64_t kInlineBytes = 16;  // ring fields and descriptors: no allocation

  uint64_t addr = 0;
  uint64_t issued_ps = 0;
  uint64_t visible_ps = 0;
  uint64_t seq = 0;  // program order within the agent
  uint64_t size = 0;

  const uint8_t* data() const { return size <= sizeof small ? small : large.data(); }
  void assign(const void* src, uint64_t n) {
    size = n;
    if (n <= sizeof small) std::memcpy(small, src, n);
    else large.assign(static_cast<const uint8_t*>(src), static_cast<const uint8_t*>(src) + n);
  }
  // A payload copy's storage, handed from a store made visible to the next
  // payload store (StoreBuffer keeps them), so that payload stores do not
  // allocate once the run is warm. Taking it empties this store's data.
  std::vector<uint8_t> take_storage() { return std::move(large); }
  void reuse_storage(std::vector<uint8_t> storage) { large = std::move(storage); }
  bool has_storage() const { return large.capacity() != 0; }

 private:
  uint8_t small[kInlineBytes];
  std::vector<uint8_t> large;  // payload copies
};

class StoreBuffer {
 public:
  // Called for each store as it becomes visible, in visibility order.
  using Sink = std::function<void(const PendingStore&)>;

  StoreBuffer(Ordering ordering, StoreBufferParams p, uint64_t seed, Sink sink);

  // Issue a store at `now_ps`. Returns the stall (ps) the agent suffers
  // because the buffer was full (the oldest store is forced out first).
  // `transfer_ps` (tso, weak): the time the store waits in the buffer for
  // its cache line before it can become visible.
  uint64_t store(uint64_t now_ps, uint64_t addr, const void* data, uint64_t size, uint64_t transfer_ps = 0);

  // Overlay the agent's own pending stores onto `data` (a load of
  // [addr, addr+size) just read from memory): a load sees its own stores.
  void forward(uint64_t addr, void* data, uint64_t size) const {
    if (!pending_.empty()) forward_pending(addr, data, size);
  }

  // Make visible every store whose time has come (visible_ps <= now_ps).
  void drain(uint64_t now_ps) {
    if (earliest_ps_ <= now_ps) drain_due(now_ps);  // most calls: nothing due
  }
  // The earliest time a pending store becomes visible (UINT64_MAX: none).
  uint64_t earliest_ps() const { return earliest_ps_; }

  // Write barrier: no later store may become visible before these.
  void write_barrier();
  // Full barrier: every pending store becomes visible now; returns how long
  // the agent stalls (ps) waiting for the last of them.
  uint64_t full_barrier(uint64_t now_ps);

  size_t depth() const { return pending_.size(); }
  // Stores not yet visible, in program order.
  const std::deque<PendingStore>& pending() const { return pending_; }
  Ordering ordering() const { return ordering_; }
  uint64_t stores() const { return seq_; }
  uint64_t reordered() const { return reordered_; }  // became visible before an older store

 private:
  void drain_due(uint64_t now_ps);
  void forward_pending(uint64_t addr, void* data, uint64_t size) const;
  void make_visible(size_t index);
  void update_earliest();
  void recycle(PendingStore& s) {
    if (s.has_storage()) spare_storage_.push_back(s.take_storage());
  }

  Ordering ordering_;
  StoreBufferParams p_;
  std::mt19937_64 rng_;
  Sink sink_;
  std::deque<PendingStore> pending_;  // program order
  std::vector<std::vector<uint8_t>> spare_storage_;  // of payload stores made visible
  uint64_t drain_ps_ = 0, weak_max_delay_ps_ = 0;    // the parameters in ps, converted once
  uint64_t earliest_ps_ = UINT64_MAX;  // smallest visible_ps pending: drain's fast exit
  uint64_t fence_ps_ = 0;             // earliest visibility allowed after the last write barrier
  uint64_t last_visible_ps_ = 0;      // tso: visibility is FIFO
  uint64_t seq_ = 0;
  uint64_t reordered_ = 0;
};

}  // namespace virtiosim::memory
