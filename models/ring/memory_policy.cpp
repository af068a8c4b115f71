#include "models/ring/memory_policy.h"

namespace virtiosim::ring {

const char* name(BarrierSite s) {
  static constexpr const char* kNames[kBarrierSites] = {
      "driver_publish",        "driver_kick_check",   "driver_used_read",
      "driver_event_write",    "driver_enable_recheck", "device_avail_read",
      "device_used_publish",   "device_signal_check", "device_event_write",
      "device_enable_recheck", "device_avail_check",
  };
  auto i = static_cast<unsigned>(s);
  return i < kBarrierSites ? kNames[i] : "unknown";
}

}  // namespace virtiosim::ring
