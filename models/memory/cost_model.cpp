#include "models/memory/cost_model.h"

#include <stdexcept>

namespace virtiosim::memory {

CostModel::CostModel(CostParams p, unsigned agents, uint64_t base, uint64_t size) : p_(p), stats_(agents) {
  if (agents == 0 || agents > kMaxAgents) throw std::invalid_argument("CostModel: 1..8 agents");
  if (p_.line_bytes == 0 || (p_.line_bytes & (p_.line_bytes - 1)) != 0)
    throw std::invalid_argument("line_bytes must be a power of two");
  if (p_.line_fill_buffers == 0) throw std::invalid_argument("line_fill_buffers must be at least 1");
  line_shift_ = static_cast<unsigned>(__builtin_ctz(p_.line_bytes));
  first_line_ = base >> line_shift_;
  table_.resize(size ? ((base + size - 1) >> line_shift_) - first_line_ + 1 : 0);
}

}  // namespace virtiosim::memory
