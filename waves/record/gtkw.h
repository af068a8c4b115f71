// GTKWave save files for our waves, built from the VCD's own header (so it
// names only signals the VCD holds):
//   - it opens on choose_view()'s window (waves/read/view_window.h): around
//     the first monitor finding, else a few ring laps in steady state; the
//     primary marker on the first finding and a named marker (A..Z) on each
//     of the first 26, named by rule;
//   - groups: `monitor` first, then one per queue in virtqueue order (rx0,
//     tx0, rx1, ...) with sub-groups `driver`, `device`, `driver_area`,
//     `device_area` and the notification counts below them, then `memory`
//     (one store-buffer depth per agent, by the agent's name);
//   - every signal shows its name below the top scope, '/'-separated
//     ("tx0/driver/last_used_idx": GTKWave would cut a dotted name to its leaf);
//   - one radix per kind: one-bit signals in binary, event suppression
//     flags and monitor.rule by name (translate filter files written next to
//     the save file), every other value in decimal — indices, counts and
//     off_wrap alike (packed off_wrap = offset + 32768 x wrap bit, so a
//     value >= 32768 has the wrap bit set).
#pragma once

#include <string>
#include <vector>

namespace virtiosim::waves {

// The save file's path for a wave file: FILE.vcd or FILE.fst -> FILE.gtkw.
std::string gtkw_path_for(const std::string& wave_path);

// Writes gtkw_path_for(dump_path) and its filter files (FILE.driver_area_flags.txt,
// FILE.device_area_flags.txt, FILE.monitor_rules.txt) from the VCD at
// `vcd_path`; the save file opens `dump_path` (empty: the VCD itself; a
// run writing FST passes the FST converted from this VCD). Returns every
// path written. `rule_names` names the values of monitor.rule (1 = the
// first); empty: keep the FILE.monitor_rules.txt a run wrote, if any.
// Throws VcdError.
std::vector<std::string> write_gtkw(const std::string& vcd_path, const std::vector<std::string>& rule_names = {},
                                    const std::string& dump_path = {});

}  // namespace virtiosim::waves
