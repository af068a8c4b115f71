#include "models/memory/memory_model.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace virtiosim::memory {

namespace {
constexpr double ps_to_ns(uint64_t ps) { return static_cast<double>(ps) / 1000.0; }
constexpr uint64_t ns_to_ps(double ns) { return static_cast<uint64_t>(ns * 1000.0 + 0.5); }
}  // namespace

MemoryModel::MemoryModel(BackingStore& ram, MemoryParams p, Ordering ordering, unsigned agents,
                         uint64_t seed, size_t log_capacity)
    : ram_(ram), p_(p), ordering_(ordering), cost_(p.cost, agents, ram.gpa_base(), ram.size()), stats_(agents), log_(log_capacity) {
  buffers_.reserve(agents);
  for (unsigned a = 0; a < agents; ++a) {
    // Each agent's schedule has its own stream, derived from the run seed.
    buffers_.emplace_back(ordering, p.store_buffer, p.cost.line_bytes, seed * 0x9E3779B97F4A7C15ull + a,
                          [this, a](const PendingStore& s) {
                            std::memcpy(ram_.host(s.addr), s.data(), s.size);
                            LogRecord r{s.visible_ps, s.addr, 0, static_cast<uint32_t>(s.size),
                                        static_cast<uint8_t>(a), LogRecord::Op::visible};
                            std::memcpy(&r.value, s.data(), std::min<size_t>(8, s.size));
                            log_.record(r);
                            if (observer_) observer_(a, s);
                          });
  }
}

void MemoryModel::settle(uint64_t now_ps) {
  for (StoreBuffer& b : buffers_) b.drain(now_ps);
}

double MemoryModel::read(unsigned agent, uint64_t now_ps, uint64_t gpa, void* dst, uint64_t n, bool typed) {
  if (!ram_.maps(gpa, n)) throw std::out_of_range("modeled read outside guest memory");
  settle(now_ps);
  std::memcpy(dst, ram_.host(gpa), n);
  buffers_[agent].forward(gpa, dst, n);  // a load sees the agent's own stores
  ++stats_[agent].reads;
  log_access(LogRecord::Op::read, agent, now_ps, gpa, n, dst, typed);
  return cost_.access(agent, gpa, n, false);
}

double MemoryModel::write(unsigned agent, uint64_t now_ps, uint64_t gpa, const void* src, uint64_t n,
                          bool typed) {
  if (!ram_.maps(gpa, n)) throw std::out_of_range("modeled write outside guest memory");
  settle(now_ps);
  ++stats_[agent].writes;
  log_access(LogRecord::Op::write, agent, now_ps, gpa, n, src, typed);
  const double ns = cost_.access(agent, gpa, n, true);
  const uint64_t stall_ps = buffers_[agent].store(now_ps, gpa, src, n);
  stats_[agent].stall_ns += ps_to_ns(stall_ps);
  return ns + ps_to_ns(stall_ps);
}

double MemoryModel::barrier(unsigned agent, uint64_t now_ps, ring::BarrierSite site) {
  const ring::BarrierKind kind = ring::kind_of(site);
  ++stats_[agent].barriers[static_cast<unsigned>(kind)];
  log_.record({now_ps, 0, static_cast<uint64_t>(site), 0, static_cast<uint8_t>(agent), LogRecord::Op::barrier});
  switch (kind) {
    case ring::BarrierKind::write:
      buffers_[agent].write_barrier();
      return p_.wmb_ns;
    case ring::BarrierKind::read:
      return p_.rmb_ns;
    case ring::BarrierKind::full: {
      const uint64_t stall_ps = buffers_[agent].full_barrier(now_ps + ns_to_ps(p_.mb_ns));
      stats_[agent].stall_ns += ps_to_ns(stall_ps);
      return p_.mb_ns + ps_to_ns(stall_ps);
    }
  }
  return 0;
}

void MemoryModel::log_access(LogRecord::Op op, unsigned agent, uint64_t now_ps, uint64_t gpa, uint64_t n,
                             const void* data, bool typed) {
  LogRecord r{now_ps, gpa, 0, static_cast<uint32_t>(n), static_cast<uint8_t>(agent), op};
  if (typed) std::memcpy(&r.value, data, std::min<uint64_t>(8, n));
  log_.record(r);
}

}  // namespace virtiosim::memory
