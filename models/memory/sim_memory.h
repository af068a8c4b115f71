// The ring core's memory policy inside the simulator: every access and
// barrier of one agent goes to the MemoryModel at the agent's current time,
// and the latency it returns is charged to the agent's clock. The ring core
// runs unchanged on it (ARCHITECTURE: one core, many worlds).
#pragma once

#include <cstdint>

#include "models/memory/agent_clock.h"
#include "models/memory/memory_model.h"
#include "models/ring/memory_policy.h"
#include "models/ring/native_memory.h"

namespace virtiosim::memory {

class SimMemory {
 public:
  SimMemory(MemoryModel* model, unsigned agent, AgentClock* clock)
      : model_(model), agent_(agent), clock_(clock) {}

  bool maps(uint64_t gpa, uint64_t n) const { return model_->maps(gpa, n); }

  uint16_t read16(uint64_t gpa) { return typed_read<uint16_t>(gpa); }
  uint32_t read32(uint64_t gpa) { return typed_read<uint32_t>(gpa); }
  uint64_t read64(uint64_t gpa) { return typed_read<uint64_t>(gpa); }
  void write16(uint64_t gpa, uint16_t v) { typed_write(gpa, v); }
  void write32(uint64_t gpa, uint32_t v) { typed_write(gpa, v); }
  void write64(uint64_t gpa, uint64_t v) { typed_write(gpa, v); }

  void read_bytes(uint64_t gpa, void* dst, uint64_t n) {
    clock_->advance(model_->read(agent_, clock_->now_ps(), gpa, dst, n, false));
  }
  void write_bytes(uint64_t gpa, const void* src, uint64_t n) {
    clock_->advance(model_->write(agent_, clock_->now_ps(), gpa, src, n, false));
  }
  void barrier(ring::BarrierSite site) {
    clock_->advance(model_->barrier(agent_, clock_->now_ps(), site));
  }

  unsigned agent() const { return agent_; }
  AgentClock& clock() { return *clock_; }

 private:
  template <class T>
  T typed_read(uint64_t gpa) {
    T v;
    clock_->advance(model_->read(agent_, clock_->now_ps(), gpa, &v, sizeof v, true));
    return ring::le::to_host(v);
  }
  template <class T>
  void typed_write(uint64_t gpa, T v) {
    const T le = ring::le::from_host(v);
    clock_->advance(model_->write(agent_, clock_->now_ps(), gpa, &le, sizeof le, true));
  }

  MemoryModel* model_;
  unsigned agent_;
  AgentClock* clock_;
};

static_assert(ring::MemoryPolicy<SimMemory>);

}  // namespace virtiosim::memory
