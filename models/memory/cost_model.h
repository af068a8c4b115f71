// Cost of a guest-memory access by one agent (a guest vCPU running the
// driver, a host core running vhost, a device's DMA engine): enough MESI to
// tell a hit in the agent's own cache, a line held clean by another agent's
// cache (served by the shared LLC), a line modified in another agent's cache
// (a cross-core transfer), and a line in no cache (DRAM).
//
// Caches are unbounded: ring metadata and the working set of a simulated
// queue are far smaller than an LLC, so capacity misses are not modeled.
// That is a stated simplification, not an oversight.
#pragma once

#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "models/param.h"

namespace virtiosim::memory {

// Defaults: a 2020s x86 server socket, both agents on one socket.
#define VIRTIOSIM_COST_PARAMS(X)                                                             \
  X(double, own_hit_ns, 1.5, "ns",                                                           \
    "line in the agent's own L1/L2: ~5 cycles at 3.3 GHz (Intel optimisation manual, L1D 4-5 cycles)") \
  X(double, llc_hit_ns, 15.0, "ns",                                                          \
    "line clean in another core or in the shared LLC: ~50 cycles (Intel MLC idle L3 latency)") \
  X(double, remote_transfer_ns, 60.0, "ns",                                                  \
    "line modified in the other agent's cache: core-to-core transfer, ~60 ns on one socket (Intel MLC c2c HITM)") \
  X(double, dram_ns, 90.0, "ns", "line in no cache: local DRAM latency (~90 ns idle, Intel MLC)") \
  X(uint32_t, line_bytes, 64, "bytes", "cache line size of x86-64 and most Arm servers")     \
  X(uint32_t, line_fill_buffers, 10, "lines",                                                \
    "misses of one access in flight at once: L1D line fill buffers per core, 10 on Intel Nehalem to Skylake (Intel optimisation manual); 1 = each line after the other")

struct CostParams {
  VIRTIOSIM_COST_PARAMS(VIRTIOSIM_PARAM_FIELD)
  template <class F>
  void visit(F&& f) {
    VIRTIOSIM_COST_PARAMS(VIRTIOSIM_PARAM_VISIT)
  }
};

enum class AccessCost : uint8_t { own_hit, llc_hit, remote_transfer, dram };

struct AgentCostStats {
  uint64_t own_hits = 0;
  uint64_t llc_hits = 0;
  uint64_t remote_transfers = 0;  // cache-line transfers from the other agent
  uint64_t dram = 0;
  double ns = 0;                  // total modeled latency

  uint64_t lines() const { return own_hits + llc_hits + remote_transfers + dram; }
};

class CostModel {
 public:
  static constexpr unsigned kMaxAgents = 8;

  // Lines of [base, base + size) are tracked in a flat table (the guest
  // RAM); any other address in a hash map.
  explicit CostModel(CostParams p = {}, unsigned agents = 2, uint64_t base = 0, uint64_t size = 0);

  // Latency in ns of `agent` reading or writing [addr, addr+size), and the
  // state change it causes; each cache line the access spans is charged.
  // The lines of one access are independent (a copy), so a core overlaps
  // their misses: up to line_fill_buffers of them cost the slowest one's
  // latency, not the sum. Hits in the agent's own cache add up.
  // Inline: it runs for every modeled access, mostly of one line.
  double access(unsigned agent, uint64_t addr, uint64_t size, bool write) {
    const uint64_t first = addr >> line_shift_;
    const uint64_t last = (addr + std::max<uint64_t>(size, 1) - 1) >> line_shift_;
    double ns = 0;
    double in_flight_ns = 0;  // slowest miss of the group in flight
    uint32_t in_flight = 0;
    AccessCost worst = AccessCost::own_hit;
    for (uint64_t l = first; l <= last; ++l) {
      const AccessCost k = charge_line(agent, line_at(l), write);
      worst = std::max(worst, k);
      double miss_ns = 0;
      switch (k) {
        case AccessCost::own_hit: ns += p_.own_hit_ns; ++stats_[agent].own_hits; continue;
        case AccessCost::llc_hit: miss_ns = p_.llc_hit_ns; ++stats_[agent].llc_hits; break;
        case AccessCost::remote_transfer: miss_ns = p_.remote_transfer_ns; ++stats_[agent].remote_transfers; break;
        case AccessCost::dram: miss_ns = p_.dram_ns; ++stats_[agent].dram; break;
      }
      in_flight_ns = std::max(in_flight_ns, miss_ns);
      if (++in_flight == p_.line_fill_buffers) {  // every buffer busy: the next miss waits for this group
        ns += in_flight_ns;
        in_flight_ns = 0;
        in_flight = 0;
      }
    }
    ns += in_flight_ns;
    stats_[agent].ns += ns;
    last_kind_ = worst;
    return ns;
  }

  // Worst line of the last access(): what a trace shows for it.
  AccessCost last_kind() const { return last_kind_; }
  const AgentCostStats& stats(unsigned agent) const { return stats_.at(agent); }
  const CostParams& params() const { return p_; }

 private:
  struct Line {
    uint8_t holders = 0;      // bit per agent with a valid copy
    int8_t modified_by = -1;  // agent holding it Modified, or -1
  };

  AccessCost charge_line(unsigned agent, Line& line, bool write) {
    const uint8_t me = static_cast<uint8_t>(1u << agent);
    const bool mine = line.holders & me;
    const bool others = line.holders & ~me;
    const bool other_modified = line.modified_by >= 0 && line.modified_by != static_cast<int>(agent);
    AccessCost cost;
    if (other_modified) cost = AccessCost::remote_transfer;  // HITM in the other cache
    else if (mine && (!write || !others)) cost = AccessCost::own_hit;  // S/E/M read, or E/M write
    else if (others) cost = write ? AccessCost::remote_transfer : AccessCost::llc_hit;  // RFO invalidates the other copy
    else cost = AccessCost::dram;
    if (write) {
      line.holders = me;  // every other copy is invalidated
      line.modified_by = static_cast<int8_t>(agent);
    } else {
      line.holders |= me;
      if (other_modified) line.modified_by = -1;  // M -> S with write-back
    }
    return cost;
  }
  Line& line_at(uint64_t index) {
    const uint64_t i = index - first_line_;
    return i < table_.size() ? table_[i] : others_[index];
  }

  CostParams p_;
  unsigned line_shift_ = 6;
  uint64_t first_line_ = 0;
  std::vector<Line> table_;
  std::unordered_map<uint64_t, Line> others_;
  std::vector<AgentCostStats> stats_;
  AccessCost last_kind_ = AccessCost::own_hit;
};

}  // namespace virtiosim::memory
