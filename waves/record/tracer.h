// VCD waves of a run, grouped per queue: both sides' ring indices and wrap
// counters, both event suppression areas as memory holds them (what the
// other side can see), in-flight buffers, kick and interrupt counts with a
// pulse on each change, each agent's store-buffer depth, and the access
// log's running count as a marker of memory activity. Ring state is
// sampled every `sample_ns`; each queue also carries its size and layout
// (queue_size, packed) so a reader can decode its indices
// (waves/read/ring_events.h). Written through SystemC's own VCD tracing, so
// GTKWave opens it; a path ending in .fst gets FST (waves/record/fst.h).
#pragma once

#include <systemc>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/device/net_device.h"
#include "models/driver/net_driver.h"
#include "models/memory/memory_model.h"

namespace virtiosim::waves {

// What the waves show of the conformance monitor: the number of violations
// so far (a step per violation) and the rule of the newest one (1-based
// index into `rule_names`; 0: none yet), named in GTKWave.
struct MonitorView {
  std::function<uint64_t()> violations;
  std::function<uint32_t()> last_rule;
  std::vector<std::string> rule_names;
};

class Tracer : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Tracer);
  Tracer(sc_core::sc_module_name name, const std::string& path, double sample_ns, const memory::MemoryModel& mem,
         const driver::NetDriver& drv, const device::NetDevice& dev, uint16_t queues, ring::RingLayout layout,
         MonitorView monitor);
  ~Tracer() override;

  // Close the file and make its header independent of the wall clock, so
  // the same run gives the same bytes; then write FILE.gtkw next to it
  // (waves/record/gtkw.h) and, for FILE.fst, convert.
  void finish();

 private:
  struct Queue;
  void sample_thread();
  void sample();

  std::string path_;      // what the user asked for: FILE.vcd or FILE.fst
  std::string vcd_path_;  // what SystemC writes: FILE.vcd, or FILE.fst.vcd until converted
  sc_core::sc_time period_;
  const memory::MemoryModel& mem_;
  const driver::NetDriver& drv_;
  const device::NetDevice& dev_;
  ring::RingLayout layout_;
  sc_core::sc_trace_file* file_ = nullptr;
  std::vector<std::unique_ptr<Queue>> queues_;
  std::vector<uint32_t> sb_depth_;
  MonitorView monitor_;
  uint64_t violation_count_ = 0;  // conformance monitor: a step marks each new violation
  uint32_t last_rule_ = 0;        // and the rule of the newest one
  uint64_t access_count_ = 0;
  uint64_t irq_count_ = 0;  // interrupts handled, all queues, at the last sample
  bool pulse_ = false;       // a kick/interrupt pulse is high and must drop next sample
  bool started_ = false;
};

}  // namespace virtiosim::waves
