#include "models/memory/cost_model.h"

#include <algorithm>
#include <stdexcept>

namespace virtiosim::memory {

CostModel::CostModel(CostParams p, unsigned agents, uint64_t base, uint64_t size) : p_(p), stats_(agents) {
  if (agents == 0 || agents > kMaxAgents) throw std::invalid_argument("CostModel: 1..8 agents");
  if (p_.line_bytes == 0 || (p_.line_bytes & (p_.line_bytes - 1)) != 0)
    throw std::invalid_argument("line_bytes must be a power of two");
  line_shift_ = static_cast<unsigned>(__builtin_ctz(p_.line_bytes));
  first_line_ = base >> line_shift_;
  table_.resize(size ? ((base + size - 1) >> line_shift_) - first_line_ + 1 : 0);
}

double CostModel::access(unsigned agent, uint64_t addr, uint64_t size, bool write) {
  const uint64_t first = addr >> line_shift_;
  const uint64_t last = (addr + std::max<uint64_t>(size, 1) - 1) >> line_shift_;
  double ns = 0;
  AccessCost worst = AccessCost::own_hit;
  for (uint64_t l = first; l <= last; ++l) {
    const AccessCost k = charge_line(agent, line_at(l), write);
    worst = std::max(worst, k);
    switch (k) {
      case AccessCost::own_hit: ns += p_.own_hit_ns; ++stats_[agent].own_hits; break;
      case AccessCost::llc_hit: ns += p_.llc_hit_ns; ++stats_[agent].llc_hits; break;
      case AccessCost::remote_transfer: ns += p_.remote_transfer_ns; ++stats_[agent].remote_transfers; break;
      case AccessCost::dram: ns += p_.dram_ns; ++stats_[agent].dram; break;
    }
  }
  stats_[agent].ns += ns;
  last_kind_ = worst;
  return ns;
}

AccessCost CostModel::charge_line(unsigned agent, Line& line, bool write) {
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

}  // namespace virtiosim::memory
