// The modeled memory system: guest RAM seen by several agents through the
// cost model (what an access costs) and each agent's store buffer (when its
// stores become visible), with every access in the access log. Time is the
// caller's: each call passes the agent's current simulated time and gets
// back the latency to charge. SystemC-free, so its behaviour is testable
// in-process; models/memory/sim_memory.h binds it to SystemC time.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <random>
#include <unordered_map>
#include <vector>

#include "models/memory/access_log.h"
#include "models/memory/backing_store.h"
#include "models/memory/cost_model.h"
#include "models/memory/dma_domain.h"
#include "models/memory/store_buffer.h"
#include "models/param.h"
#include "models/ring/memory_policy.h"

namespace virtiosim::memory {

#define VIRTIOSIM_BARRIER_PARAMS(X)                                                          \
  X(double, wmb_ns, 1.0, "ns", "write barrier: x86 smp_wmb is a compiler barrier, Arm dmb ishst ~ a few cycles") \
  X(double, rmb_ns, 1.0, "ns", "read barrier: x86 smp_rmb is a compiler barrier, Arm dmb ishld ~ a few cycles") \
  X(double, mb_ns, 10.0, "ns", "full barrier before the drain: locked op / mfence ~33 cycles at 3.3 GHz (Agner Fog)") \
  X(double, weak_load_hoist, 0.5, "probability",                                             \
    "weak and tso: chance that a load that may be performed early is (weak: back to the agent's last read or full barrier; tso: a load after a store, back to the agent's previous load)") \
  X(double, weak_load_window_ns, 100.0, "ns",                                                \
    "weak and tso: how far back a hoisted load may reach (~ a reorder-buffer's worth of instructions)") \
  X(bool, fast_path, true, "bool",                                                           \
    "skip the store buffers' walks while no store is due anywhere (same results, byte for byte; 0 cross-checks that)")

struct MemoryParams {
  CostParams cost;
  StoreBufferParams store_buffer;
  VIRTIOSIM_BARRIER_PARAMS(VIRTIOSIM_PARAM_FIELD)
  template <class F>
  void visit(F&& f) {
    cost.visit(f);
    store_buffer.visit(f);
    VIRTIOSIM_BARRIER_PARAMS(VIRTIOSIM_PARAM_VISIT)
  }
};

struct AgentMemoryStats {
  uint64_t reads = 0, writes = 0;
  uint64_t barriers[3] = {};    // by ring::BarrierKind
  uint64_t barriers_dropped = 0;// fault injection: barriers that were not executed
  uint64_t loads_hoisted = 0;   // weak, tso: loads performed early that returned an older value
  double stall_ns = 0;          // waiting on full store buffers and full barriers
};

// A message-passing anomaly: `reader` read [addr, addr+size) and got an
// older value than a store `writer` issued BEFORE another of its stores that
// `reader` has already observed. With every barrier in place the ring
// protocol never shows one on the fields it depends on; a missing barrier
// (or a wrong one) does.
struct OrderingAnomaly {
  uint64_t time_ps = 0;
  unsigned reader = 0, writer = 0;
  uint64_t addr = 0;
  uint32_t size = 0;
  uint64_t value_read = 0;    // what the reader got
  uint64_t value_missed = 0;  // the writer's newer value it should have seen
  bool hoisted = false;       // the reader's own load ran early (missing read barrier)
};

// Which store a granule of memory holds: the writing agent and that
// agent's store sequence number (program order).
struct Origin {
  int agent = -1;  // -1: never written through the model
  uint64_t seq = 0;
};

// Fault injection at an agent's memory port: the next typed store of
// `size` bytes by `agent` to the field at `offset` of a `stride`-byte record
// in [lo, hi), after `skip` such stores, leaves as ((value & and_mask) |
// or_mask) ^ xor_mask, `displace` bytes away from where it was meant to go
// (a store to the wrong field); `count` such stores in a row, or with
// `every` each such store from then on (a bug in code the agent runs each
// time, not one bad store). With `defer` the store is made later than the
// agent's program put it: right after the agent's next store that this
// fault matches and does not take (a store moved after another, e.g. a
// list's descriptor flags written after its head's). Models a bug in that
// agent: its own later loads see the corrupted (or not yet made) store too.
struct StoreFault {
  unsigned agent = 0;
  uint64_t lo = 0, hi = 0;
  uint32_t stride = 16, offset = 0, size = 2, skip = 0, count = 1;
  uint64_t and_mask = ~uint64_t{0}, or_mask = 0, xor_mask = 0;
  int64_t displace = 0;
  bool every = false, defer = false;
  bool matches(unsigned a, uint64_t gpa, uint64_t n) const {
    return a == agent && n == size && gpa >= lo && gpa + n <= hi && (gpa - lo) % stride == offset;
  }
};

class MemoryModel {
 public:
  // Called for every store as it becomes visible to all agents.
  using VisibleObserver = std::function<void(unsigned agent, const PendingStore&)>;
  using AnomalyObserver = std::function<void(const OrderingAnomaly&)>;
  // Called for every typed load (ring fields) with the value the agent got.
  using LoadObserver =
      std::function<void(unsigned agent, uint64_t now_ps, uint64_t gpa, const void* data, uint64_t n)>;

  MemoryModel(BackingStore& ram, MemoryParams p, Ordering ordering, unsigned agents, uint64_t seed,
              size_t log_capacity = 1 << 16);

  bool maps(uint64_t gpa, uint64_t n) const { return ram_.maps(gpa, n); }

  // The IOMMU domain between devices and this memory, when the platform has
  // one (iommu=1): the driver maps through it, a device translates through
  // it. Null without one.
  void attach_iommu(DmaDomain* domain) { iommu_ = domain; }
  DmaDomain* iommu() const { return iommu_; }

  // Each returns the latency in ns the agent is charged. `typed` accesses
  // (ring fields) log their value.
  double read(unsigned agent, uint64_t now_ps, uint64_t gpa, void* dst, uint64_t n, bool typed);
  double write(unsigned agent, uint64_t now_ps, uint64_t gpa, const void* src, uint64_t n, bool typed);
  double barrier(unsigned agent, uint64_t now_ps, ring::BarrierSite site);

  // Make every store that is due by `now_ps` visible (all agents). With
  // the fast path, an access before the earliest due time of any buffer
  // (most of them: a store is due store_drain_ns after its issue) returns
  // at once instead of asking each buffer.
  void settle(uint64_t now_ps) {
    if (p_.fast_path && now_ps < next_due_ps_) return;
    settle_buffers(now_ps);
  }

  void on_visible(VisibleObserver obs) { observer_ = std::move(obs); }
  void on_anomaly(AnomalyObserver obs) { anomaly_observer_ = std::move(obs); }
  void on_load(LoadObserver obs) { load_observer_ = std::move(obs); }

  // Fault injection: barriers at these sites are not executed (SPEC_NOTES
  // P13 names what each one orders).
  void drop_barrier(ring::BarrierSite site) { dropped_[static_cast<unsigned>(site)] = true; }
  bool dropped(ring::BarrierSite site) const { return dropped_[static_cast<unsigned>(site)]; }
  // Armed until a matching store takes it (with StoreFault::every, never).
  void arm_store_fault(const StoreFault& f) { store_faults_.push_back(f); }
  uint64_t store_faults_applied() const { return store_faults_applied_; }

  unsigned agents() const { return static_cast<unsigned>(buffers_.size()); }
  const CostModel& cost() const { return cost_; }
  const StoreBuffer& store_buffer(unsigned agent) const { return buffers_.at(agent); }
  const AgentMemoryStats& stats(unsigned agent) const { return stats_.at(agent); }
  const AccessLog& log() const { return log_; }
  const MemoryParams& params() const { return p_; }
  Ordering ordering() const { return ordering_; }
  BackingStore& ram() { return ram_; }

 private:
  DmaDomain* iommu_ = nullptr;
  void settle_buffers(uint64_t now_ps);
  void log_access(LogRecord::Op op, unsigned agent, uint64_t now_ps, uint64_t gpa, uint64_t n,
                  const void* data, bool typed);
  void store_visible(unsigned agent, const PendingStore& s);
  bool hoist(unsigned agent, uint64_t gpa, uint8_t* dst, uint64_t n, Origin* origins);
  void check_order(unsigned reader, uint64_t now_ps, uint64_t gpa, const uint8_t* got, uint64_t n,
                   const Origin* origins, bool hoisted);

  BackingStore& ram_;
  MemoryParams p_;
  Ordering ordering_;
  CostModel cost_;
  std::vector<StoreBuffer> buffers_;
  // A lower bound of every buffer's earliest due store (UINT64_MAX: none
  // pending): settle's fast exit. Lowered by each store, made exact by
  // each walk of the buffers.
  uint64_t next_due_ps_ = 0;
  std::vector<AgentMemoryStats> stats_;
  AccessLog log_;
  VisibleObserver observer_;
  AnomalyObserver anomaly_observer_;
  LoadObserver load_observer_;
  bool dropped_[ring::kBarrierSites] = {};
  std::vector<StoreFault> store_faults_;  // armed: not yet applied, or `every`
  uint64_t store_faults_applied_ = 0;
  enum class Faulted : uint8_t { no, changed, deferred };
  Faulted apply_store_fault(unsigned agent, uint64_t& gpa, uint64_t n, uint8_t* value);
  // Stores a `defer` fault took, in program order, each with the fault
  // whose next untaken match releases it.
  struct DeferredStore {
    StoreFault released_by;
    uint64_t gpa, n;
    uint8_t value[8];
  };
  std::vector<DeferredStore> deferred_;
  double issue(unsigned agent, uint64_t now_ps, uint64_t gpa, const void* src, uint64_t n, bool typed);

  // Ordering bookkeeping for ring fields (typed accesses of at most 8
  // bytes), tracked per 2-byte granule: which store the memory's value came
  // from, the newest store of each agent each reader has observed, recently
  // overwritten values (for hoisted loads) and each agent's hoisting epoch.
  std::unordered_map<uint64_t, Origin> origin_;  // by granule address
  std::vector<std::vector<uint64_t>> observed_;  // [reader][writer] -> newest seq + 1 seen
  uint64_t visible_count_ = 0;  // stores made visible so far: the order of visibility
  struct Overwritten {
    uint64_t vseq;  // position in the order of visibility
    uint64_t visible_ps;
    uint64_t granule;
    uint16_t old_value;
    Origin old_origin, new_origin;
  };
  std::deque<Overwritten> recent_;
  // Hoisting is measured in the order stores became visible, not in time:
  // with temporal decoupling (lt) agents' clocks differ by up to a quantum,
  // but the order in which the model made stores visible is one order.
  // epoch_ is the earliest point a load may be performed at: weak, the
  // visibility count at the agent's last read or full barrier (loads are not
  // ordered among themselves); tso, the point its previous load was
  // performed at, or its last full barrier (loads stay in order, but pass
  // the agent's own earlier stores: x86's one reordering).
  std::vector<uint64_t> epoch_;
  std::vector<bool> stored_since_load_;  // tso: a store since the agent's last load, which that load may pass
  // Per agent, the visibility count when it last read each granule: a
  // hoisted load never returns an older value than the agent saw there
  // (read-read coherence).
  std::vector<std::unordered_map<uint64_t, uint64_t>> last_read_;
  std::mt19937_64 hoist_rng_;
};

}  // namespace virtiosim::memory
