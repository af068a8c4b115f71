// Faults in what the two sides write to the ring, and in how they drive
// it: corrupted descriptors and used entries (a store of the ring core
// changed on its way to memory: models/memory StoreFault), completions
// out of order, spurious kicks, an early queue-reset acknowledgement, a
// buffer unmapped while the device holds it, and the known bugs of real
// drivers and devices (fault.replay).
// Installed on the models' hook points (NetDriver::before_tx_publish, ...);
// the models know the hooks, not the faults.
#pragma once

#include <string>
#include <vector>

#include "models/device/vhost_net.h"
#include "models/driver/net_driver.h"
#include "models/memory/memory_model.h"
#include "sim/faults/fault_plan.h"

namespace virtiosim::faults {

// The key of the first fault of `plan` that acts through VhostNet's own
// hook points (tx_completion, ack_reset_early, interrupt_decision,
// read_vring_base), or "" when it needs none: what another device kind
// (device.kind) cannot carry.
std::string device_hook_fault(const FaultPlan& plan);

// What fault.unmap_in_flight did, for the report (sim/report/collect.h):
// the TX buffer the driver unmapped while the device held it, when, where
// the access log stood then, and the memory its IOVAs named.
struct UnmappedInFlight {
  uint64_t packet = 0;     // 1-based (queue pair 0); 0: not done
  uint64_t time_ps = 0;    // the driver's clock at the unmap
  uint64_t log_index = 0;  // access-log records made before the unmap (memory::AccessLog::total)
  std::vector<ring::Segment> iova, gpa;  // as the device was given them / guest-physical
};

// Set the hooks `plan` needs on the driver and the device; none for a
// plan without faults. `dev` is null for a device other than vhost-net,
// which is only given plans with device_hook_fault(plan) == "". What
// fault.unmap_in_flight does is written to `unmapped`, which must outlive
// the run.
void install(const FaultPlan& plan, ring::RingLayout layout, memory::MemoryModel& mem, driver::NetDriver& drv,
             device::VhostNet* dev, UnmappedInFlight& unmapped);

}  // namespace virtiosim::faults
