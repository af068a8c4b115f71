#include "sim/version.h"

namespace virtiosim::sim {
const char* const kVersion = VIRTIOSIM_VERSION;
}  // namespace virtiosim::sim
