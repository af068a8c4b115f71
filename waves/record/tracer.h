// VCD waves of a run, grouped per queue: both sides' ring indices and wrap
// counters, both event suppression areas as memory holds them (what the
// other side can see), in-flight buffers, kick and interrupt counts with a
// pulse on each change, each agent's store-buffer depth, and the access
// log's running count as a marker of memory activity. Ring state is
// sampled on a grid of `sample_ns`, at the grid points that follow a poke()
// (the platform pokes on every memory access and notification); each queue also carries its size and layout
// (queue_size, packed) so a reader can decode its indices
// (waves/read/ring_events.h). Written by our own VCD writer
// (waves/record/vcd_writer.h): only values that changed, at the sample that
// saw them change; streamed, or kept as a triggered window that is written
// around the monitor's first finding. A path ending in .fst gets FST
// (waves/record/fst.h).
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
#include "waves/record/vcd_writer.h"

namespace virtiosim::waves {

// What the waves show of the conformance monitor: the number of violations
// so far (a step per violation) and, at each step, the rule of the first
// violation the step adds (1-based index into `rule_names`; 0: none yet),
// named in GTKWave.
struct MonitorView {
  std::function<uint64_t()> violations;
  // The rule and the time (ps) of the first violation since mark_shown().
  std::function<std::pair<uint32_t, uint64_t>()> first_unshown;
  std::function<void()> mark_shown;
  std::vector<std::string> rule_names;
};

class Tracer : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Tracer);
  // window_us > 0: keep only a triggered window (waves/record/vcd_writer.h)
  // of that many µs before the monitor's first finding (or the run's end).
  Tracer(sc_core::sc_module_name name, const std::string& path, double sample_ns, double window_us,
         const memory::MemoryModel& mem, const driver::NetDriver& drv, const device::NetDevice& dev,
         uint16_t queues, ring::RingLayout layout, MonitorView monitor);
  ~Tracer() override;

  // The models may have changed state (a memory access, a notification):
  // sample at the next point of the sample grid. Between pokes nothing
  // moves, so the tracer takes no kernel time steps of its own there.
  void poke() {
    if (!armed_) arm();
  }

  // Close the file (a window not yet written: its last window_us); then
  // write FILE.gtkw next to it (waves/record/gtkw.h) and, for FILE.fst, convert.
  void finish();

 private:
  struct Queue;
  void sample_method();
  void sample();
  void arm(uint64_t not_before = 0);

  std::string path_;      // what the user asked for: FILE.vcd or FILE.fst
  std::string vcd_path_;  // what the writer writes: FILE.vcd, or FILE.fst.vcd until converted
  sc_core::sc_time period_;
  const memory::MemoryModel& mem_;
  const driver::NetDriver& drv_;
  const device::NetDevice& dev_;
  ring::RingLayout layout_;
  std::unique_ptr<VcdWriter> file_;
  std::vector<std::unique_ptr<Queue>> queues_;
  std::vector<VcdWriter::Id> sb_depth_;  // per memory agent
  MonitorView monitor_;
  VcdWriter::Id violations_id_ = 0, rule_id_ = 0, accesses_id_ = 0;
  uint64_t access_count_ = 0;
  uint64_t irq_count_ = 0;  // interrupts handled, all queues, at the last sample
  bool pulse_ = false;       // a kick/interrupt pulse is high and must drop next sample
  sc_core::sc_event wake_;   // the next sample
  bool armed_ = true;        // a sample is due (the first runs at time 0), or sampling is over
  uint64_t last_sample_ = 0;  // kernel time of the last sample, in resolution units
  uint64_t shown_violations_ = 0;
  // A violation found by an agent running ahead of the kernel (loosely
  // timed): its step waits for the first sample at or after its time, in
  // resolution units; 0: none waiting.
  uint64_t finding_due_ = 0;
};

}  // namespace virtiosim::waves
