// Counters, declared once as an X-macro list of (name, what it counts): a
// stats struct holds them as uint64_t fields, and its visit(f) calls
// f(name, value) for each in declaration order, so the report and the
// Python module list no field by hand.
#pragma once

#include <cstdint>

#define VIRTIOSIM_STAT_FIELD(name, what) uint64_t name = 0;
#define VIRTIOSIM_STAT_VISIT(name, what) f(#name, name);
