// Where to look in a run's waves: the monitor's findings (when each
// violation showed in the VCD, with its rule) and a time window a reader
// can take in at once. One rule for every viewer — the GTKWave save file
// (waves/record/gtkw.h), the Perfetto export and Python's ring_timeline:
//   - with findings, the window holds the first one, a quarter of the way
//     from its right edge, so what led to it is in view;
//   - without, it starts once the busiest queue has gone round its ring
//     once (PCI probing and the first fill are over: steady state) and
//     spans kSteadyLaps more laps of that queue;
//   - the window is kSteadyLaps laps of the busiest queue wide (measured in
//     steady state; a run that never completes a lap shows its ring
//     activity whole).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace virtiosim::waves {

inline constexpr unsigned kSteadyLaps = 3;

// A step of monitor.violations: `count` new violations in one sample, the
// newest of rule `rule` (monitor.rule: 1-based into the run's rule names,
// named by `rule_name` when FILE.monitor_rules.txt says).
struct Finding {
  uint64_t time_ps = 0;
  uint64_t count = 0;
  uint32_t rule = 0;
  std::string rule_name;
};

struct ViewWindow {
  uint64_t start_ps = 0, end_ps = 0;
  std::vector<Finding> findings;  // in time order
  std::string reason;         // one line: why this window ("first finding P6.5 at ...", "3 laps of tx0 ...")
  uint64_t trace_end_ps = 0;  // the last time in the file
};

// A wave file's path without its extension (.vcd, .fst): the files a run
// writes next to it (FILE.gtkw, FILE.monitor_rules.txt, ...) share it.
std::string wave_base(const std::string& wave_path);

// FILE.monitor_rules.txt next to a wave file (FILE.vcd or FILE.fst), read
// into names by value (index 0: "-"); empty if there is none.
std::vector<std::string> read_rule_names(const std::string& wave_path);

// The monitor's findings in a VCD (monitor.violations steps), named from
// FILE.monitor_rules.txt next to it; the last time in the file in `end_ps`.
std::vector<Finding> read_findings(const std::string& vcd_path, uint64_t* end_ps = nullptr);

// Reads the VCD twice (findings, then ring laps); throws VcdError.
ViewWindow choose_view(const std::string& vcd_path);

}  // namespace virtiosim::waves
