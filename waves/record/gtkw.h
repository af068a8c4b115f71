// GTKWave save files for our VCDs: one group per queue (driver, device,
// both event suppression areas, notifications), the memory signals apart,
// event suppression flags shown by name through GTKWave translate filter
// files written next to it. Built from the VCD's own header, so it names
// only signals the VCD holds.
#pragma once

#include <string>
#include <vector>

namespace virtiosim::waves {

// The save file's path for a VCD: FILE.vcd -> FILE.gtkw.
std::string gtkw_path_for(const std::string& vcd_path);

// Writes gtkw_path_for(vcd_path) and its filter files (FILE.driver_area_flags.txt,
// FILE.device_area_flags.txt, FILE.monitor_rules.txt); returns every path
// written. `rule_names` names the values of monitor.rule (1 = the first);
// empty: keep the FILE.monitor_rules.txt a run wrote, if any. Throws VcdError.
std::vector<std::string> write_gtkw(const std::string& vcd_path, const std::vector<std::string>& rule_names = {});

}  // namespace virtiosim::waves
