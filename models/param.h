// Named model parameters. Each model declares its parameters once, as an
// X-macro list of (type, name, default, unit, why); from that one list come
// the struct with its defaults and a visitor that every surface (command
// line `params`, JSON config, Python Config, report echo) walks.
#pragma once

namespace virtiosim {

struct ParamInfo {
  const char* name;
  const char* unit;  // "ns", "cycles", "bytes", "" for plain counts
  const char* why;   // one line: what it models and where the default comes from
};

}  // namespace virtiosim

// Inside a struct: one field per parameter, initialised to its default.
#define VIRTIOSIM_PARAM_FIELD(type, name, def, unit, why) type name = def;
// Inside a visit(F&& f) member: f(ParamInfo, field&) per parameter.
#define VIRTIOSIM_PARAM_VISIT(type, name, def, unit, why) f(::virtiosim::ParamInfo{#name, unit, why}, name);
