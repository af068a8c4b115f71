// Named parameters. Each model, the run's shape, the fault plan and the
// checker declare their parameters once, as an X-macro list; from that one
// list come the struct with its defaults and a visitor that every surface
// (command line `params`, JSON config, --set, Python Config, report echo)
// walks. Two shapes of list:
//   (type, name, default, unit, why)         model costs: a number >= 0
//                                            (a count >= 1, a "bool" 0..1)
//   (type, name, default, unit, lo, hi, why) anything else: a number in
//                                            lo..hi, a bool, an enum, a list
#pragma once

#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace virtiosim {

struct ParamInfo {
  const char* name;
  const char* unit;  // "ns", "cycles", "bytes", "" for plain counts
  const char* why;   // one line: what it models and where the default comes from
  // Accepted range of a number; NaN: the model-cost default above.
  double lo = std::numeric_limits<double>::quiet_NaN();
  double hi = std::numeric_limits<double>::quiet_NaN();
};

// The items of a comma-separated list parameter (empty items skipped).
inline std::vector<std::string> split_names(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace virtiosim

// Inside a struct: one field per parameter, initialised to its default.
#define VIRTIOSIM_PARAM_FIELD(type, name, def, unit, why) type name = def;
// Inside a visit(F&& f) member: f(ParamInfo, field&) per parameter.
#define VIRTIOSIM_PARAM_VISIT(type, name, def, unit, why) f(::virtiosim::ParamInfo{#name, unit, why}, name);
// The same for lists with a range.
#define VIRTIOSIM_RANGED_FIELD(type, name, def, unit, lo, hi, why) type name = def;
#define VIRTIOSIM_RANGED_VISIT(type, name, def, unit, lo, hi, why) \
  f(::virtiosim::ParamInfo{#name, unit, why, lo, hi}, name);
