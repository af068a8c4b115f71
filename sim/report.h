// The JSON report of a run: the full configuration and seed it ran with,
// versions, what moved (packets, bytes, rates), what it cost (kicks,
// interrupts, memory accesses, cache-line transfers, barriers per packet),
// latency, errors, and wall-clock figures kept apart under "wall" so the
// rest is identical for identical runs.
#pragma once

#include <string>
#include <vector>

#include "sim/config.h"
#include "sim/check/monitor.h"
#include "sim/faults/notification_faults.h"
#include "sim/platform.h"

namespace virtiosim::sim {

RunOutcome make_report(Config cfg, const memory::MemoryModel& mem, const driver::NetDriver& drv,
                       const device::VhostNet& dev, const pci::VirtioPciFunction& fn,
                       const faults::NotificationFaultStats& notification_faults, const Monitor& monitor,
                       const std::vector<memory::LogRecord>& last_events, std::vector<std::string> errors,
                       double wall_seconds);

}  // namespace virtiosim::sim
