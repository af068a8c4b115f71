// A run's VCD as Chrome trace-event JSON, the format Perfetto UI
// (ui.perfetto.dev) and chrome://tracing open: one process, "virtiosim run",
// with
//   - a `monitor` track: one instant event per finding step, named by rule;
//   - one track per queue (rx0, tx0, ...): every decoded ring event
//     (waves/read/ring_events.h) as an instant event named by kind —
//     kicks, interrupts, used batches (used_written, args.count = slots in
//     the batch), ... — with args count/from/to, and a counter of the
//     queue's buffers in flight (made available, not yet taken back);
//   - one counter track per memory agent (driver_vcpu0, vhost_worker0, ...):
//     its store-buffer depth.
// Times are the VCD samples' (ts in microseconds, ps resolution).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace virtiosim::waves {

struct PerfettoStats {
  uint64_t events = 0;                               // trace events written (metadata included)
  uint64_t kicks = 0, interrupts = 0, findings = 0;  // notifications and violations (sums of args.count)
};

// Streams the trace of the VCD at `vcd_path` to `out`; throws VcdError.
PerfettoStats write_perfetto(const std::string& vcd_path, std::ostream& out);

}  // namespace virtiosim::waves
