// The version of virtiosim (`virtiosim --version`, the report's
// virtiosim_version): the CMake project's VERSION (CMakeLists.txt), which
// sim/CMakeLists.txt hands to version.cpp, so that it is written once.
#pragma once

namespace virtiosim::sim {
extern const char* const kVersion;
}  // namespace virtiosim::sim
