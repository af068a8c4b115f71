#pragma once

namespace virtiosim::sim {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace virtiosim::sim
