// The modeled memory system: guest RAM seen by several agents through the
// cost model (what an access costs) and each agent's store buffer (when its
// stores become visible), with every access in the access log. Time is the
// caller's: each call passes the agent's current simulated time and gets
// back the latency to charge. SystemC-free, so its behaviour is testable
// in-process; models/memory/sim_memory.h binds it to SystemC time.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "models/memory/access_log.h"
#include "models/memory/backing_store.h"
#include "models/memory/cost_model.h"
#include "models/memory/store_buffer.h"
#include "models/param.h"
#include "models/ring/memory_policy.h"

namespace virtiosim::memory {

#define VIRTIOSIM_BARRIER_PARAMS(X)                                                          \
  X(double, wmb_ns, 1.0, "ns", "write barrier: x86 smp_wmb is a compiler barrier, Arm dmb ishst ~ a few cycles") \
  X(double, rmb_ns, 1.0, "ns", "read barrier: x86 smp_rmb is a compiler barrier, Arm dmb ishld ~ a few cycles") \
  X(double, mb_ns, 10.0, "ns", "full barrier before the drain: locked op / mfence ~33 cycles at 3.3 GHz (Agner Fog)")

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
  uint64_t barriers[3] = {};  // by ring::BarrierKind
  double stall_ns = 0;        // waiting on full store buffers and full barriers
};

class MemoryModel {
 public:
  // Called for every store as it becomes visible to all agents.
  using VisibleObserver = std::function<void(unsigned agent, const PendingStore&)>;

  MemoryModel(BackingStore& ram, MemoryParams p, Ordering ordering, unsigned agents, uint64_t seed,
              size_t log_capacity = 1 << 16);

  bool maps(uint64_t gpa, uint64_t n) const { return ram_.maps(gpa, n); }

  // Each returns the latency in ns the agent is charged. `typed` accesses
  // (ring fields) log their value.
  double read(unsigned agent, uint64_t now_ps, uint64_t gpa, void* dst, uint64_t n, bool typed);
  double write(unsigned agent, uint64_t now_ps, uint64_t gpa, const void* src, uint64_t n, bool typed);
  double barrier(unsigned agent, uint64_t now_ps, ring::BarrierSite site);

  // Make every store that is due by `now_ps` visible (all agents).
  void settle(uint64_t now_ps);

  void on_visible(VisibleObserver obs) { observer_ = std::move(obs); }

  unsigned agents() const { return static_cast<unsigned>(buffers_.size()); }
  const CostModel& cost() const { return cost_; }
  const StoreBuffer& store_buffer(unsigned agent) const { return buffers_.at(agent); }
  const AgentMemoryStats& stats(unsigned agent) const { return stats_.at(agent); }
  const AccessLog& log() const { return log_; }
  const MemoryParams& params() const { return p_; }
  Ordering ordering() const { return ordering_; }
  BackingStore& ram() { return ram_; }

 private:
  void log_access(LogRecord::Op op, unsigned agent, uint64_t now_ps, uint64_t gpa, uint64_t n,
                  const void* data, bool typed);

  BackingStore& ram_;
  MemoryParams p_;
  Ordering ordering_;
  CostModel cost_;
  std::vector<StoreBuffer> buffers_;
  std::vector<AgentMemoryStats> stats_;
  AccessLog log_;
  VisibleObserver observer_;
};

}  // namespace virtiosim::memory
