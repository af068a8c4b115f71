// The simulated machine, assembled from one Config: guest RAM and its
// memory model, a device of kind device.kind (sim/device_registry.h; built
// in: vhost-net) behind a virtio-PCI function, the
// guest driver, a run controller (completion, stall watchdog, progress)
// and, on request, the wave tracer. One per process (SystemC elaborates
// once).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "sim/config.h"
#include "support/junit.h"

namespace virtiosim::sim {

struct RunOptions {
  std::string vcd_path;     // empty: no waves
  bool progress = false;    // progress line on stderr (terminals only)
};

struct RunOutcome {
  bool ok = false;
  std::vector<std::string> errors;
  std::string report_json;  // the full report
  std::string summary;      // a few lines for people
  junit::TestSuite junit;   // one case per monitor rule and the verdict (run --junit)
};

// Build the platform from `cfg`, simulate to completion (or failure or
// stall), and report. Call once per process.
RunOutcome run(Config cfg, const RunOptions& opt);

}  // namespace virtiosim::sim
