// The conformance monitor's parameters (the `monitor.` keys of `virtiosim
// params`), declared once.
#pragma once

#include <string>
#include <vector>

#include "models/param.h"

namespace virtiosim::sim {

// Rule ids switched off: comma-separated (monitor_rules()).
struct RuleList {
  std::string text;
};

#define VIRTIOSIM_MONITOR_PARAMS(X)                                                                      \
  X(RuleList, disable, {}, "", 0, 0, "conformance rules switched off")                                   \
  X(bool, strict, false, "bool", 0, 1, "a conformance violation fails the run (also --strict)")          \
  X(double, wakeup_grace_us, 100, "us", 1, 1e9,                                                          \
    "a notification the other side asked for and has not had for this long is a lost wake-up (P10); "   \
    "far above kick/interrupt latencies (~1-2 us), below the stall watchdog")

struct MonitorParams {
  VIRTIOSIM_MONITOR_PARAMS(VIRTIOSIM_RANGED_FIELD)
  template <class F>
  void visit(F&& f) {
    VIRTIOSIM_MONITOR_PARAMS(VIRTIOSIM_RANGED_VISIT)
  }
  std::vector<std::string> disabled_rules() const { return split_names(disable.text); }
};

}  // namespace virtiosim::sim
