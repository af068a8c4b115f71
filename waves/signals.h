// The VCD signals of a run, named once: the tracer (waves/record/tracer.h)
// declares them under these names and the reader (waves/read/ring_events.h)
// looks them up by the same ones, so renaming a signal cannot leave the
// decoder looking for the old name. No dependencies: both sides include it.
#pragma once

namespace virtiosim::waves {

// Below each queue's scope (rx0., tx0., rx1., ...), in the order the tracer
// declares them (the VCD's order).
namespace queue_signal {
enum Id : unsigned {
  driver_next_avail_idx,
  driver_avail_wrap_counter,
  driver_last_used_idx,
  driver_used_wrap_counter,
  driver_in_flight,
  device_last_avail_idx,
  device_avail_wrap_counter,
  device_last_used_idx,
  device_used_wrap_counter,
  driver_area_flags,
  driver_area_off_wrap,
  device_area_flags,
  device_area_off_wrap,
  kicks,
  kick,  // a pulse in the sample `kicks` moved
  interrupts,
  interrupt,  // a pulse in the sample `interrupts` moved
  queue_size,
  packed,
  count
};

struct Info {
  const char* name;
  bool decoded;  // the ring event decoder needs it (waves/read/ring_events.h)
};

inline constexpr Info kTable[count] = {
    {"driver.next_avail_idx", true},
    {"driver.avail_wrap_counter", true},
    {"driver.last_used_idx", true},
    {"driver.used_wrap_counter", true},
    {"driver.in_flight", false},
    {"device.last_avail_idx", true},
    {"device.avail_wrap_counter", true},
    {"device.last_used_idx", true},
    {"device.used_wrap_counter", true},
    {"driver_area.flags", true},
    {"driver_area.off_wrap", true},
    {"device_area.flags", true},
    {"device_area.off_wrap", true},
    {"kicks", true},
    {"kick", false},
    {"interrupts", true},
    {"interrupt", false},
    {"queue_size", true},
    {"packed", true},
};

constexpr const char* name(Id s) { return kTable[s].name; }

}  // namespace queue_signal

// Not per queue. Each memory agent's store-buffer depth is
// "memory." + the agent's name (driver_vcpu0, vhost_worker0: the models'
// agent_name) + this.
inline constexpr const char* kStoreBufferDepthSuffix = ".store_buffer_depth";
inline constexpr const char* kMemoryAccessesSignal = "memory.accesses";
inline constexpr const char* kMonitorViolationsSignal = "monitor.violations";
inline constexpr const char* kMonitorRuleSignal = "monitor.rule";
// The monitor rule names GTKWave shows for monitor.rule's values, written
// next to FILE.vcd by the run (FILE.monitor_rules.txt: "N RULE" lines).
inline constexpr const char* kMonitorRulesFileSuffix = ".monitor_rules.txt";

}  // namespace virtiosim::waves
