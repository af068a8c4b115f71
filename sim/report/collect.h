// Stage 1 of the report: the figures of a finished run pulled out of the
// models into plain values, so that the verdict and the rendering can be
// tested on synthetic runs without SystemC.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "models/memory/access_log.h"
#include "models/ring/chain_checks.h"
#include "models/ring/packed_driver.h"
#include "models/ring/virtqueue.h"
#include "sim/config.h"
#include "sim/check/monitor.h"
#include "sim/faults/notification_faults.h"
#include "sim/faults/ring_faults.h"
#include "sim/report/verdict.h"

namespace virtiosim::sim {

// One virtqueue as each side saw it (a side absent when it has no queue).
struct QueueFigures {
  struct DriverSide {
    ring::DriverStats stats;
    bool broken = false;
  };
  struct DeviceSide {
    ring::DeviceStats stats;
    bool broken = false;
  };
  std::string name;  // "rx0", "tx0", ...
  std::optional<DriverSide> driver;
  std::optional<DeviceSide> device;
};

// A bounded window of the access log for the report's ring timeline: around
// the first finding, or (none) the newest records of the busiest controller
// period (sim/platform.cpp).
struct Timeline {
  std::vector<memory::LogRecord> records;  // in log order
  bool around_finding = false;
  uint64_t busiest_period_accesses = 0;
};

// One access of the timeline and the ring field it hit: "tx0 desc[12]",
// "rx0 driver area", "rx0 device area"; empty for a buffer or a barrier.
struct TimelineEvent {
  memory::LogRecord record;
  std::string where;
};

// The queue and ring field `addr` falls in, or "".
std::string ring_field(ring::RingLayout layout, const std::vector<std::pair<std::string, ring::QueueAreas>>& queues,
                       uint64_t addr);

struct RunFigures {
  Config cfg;
  std::string systemc_version;
  uint64_t negotiated_features = 0;
  double sim_ns = 0;
  double wall_seconds = 0;
  std::vector<std::string> run_errors;  // what stopped the run: driver, device, stall

  // Totals over queue pairs.
  Accounting traffic;
  uint64_t tx_bytes = 0, rx_bytes = 0;
  uint64_t rx_corrupt = 0, rx_duplicate = 0, rx_unexpected = 0;
  uint64_t dropped_wire_full = 0, dropped_too_big = 0;
  uint64_t kicks = 0, kicks_suppressed = 0;
  uint64_t interrupts = 0;  // issued by the device: sent as MSI-X messages, or lost on the way (fault injection)
  uint64_t signals_suppressed = 0, interrupts_handled = 0;
  uint64_t driver_busy_ps = 0, device_busy_ps = 0;
  device::IotlbStats iotlb;  // iommu=1: the device's address translations

  // Memory, over agents.
  uint64_t reads = 0, writes = 0, cache_line_transfers = 0;
  uint64_t barriers[3] = {};  // write, read, full
  double stall_ns = 0;
  uint64_t stores_reordered = 0;

  std::vector<double> latencies_ns;  // ascending

  struct Monitor {
    uint64_t violations = 0, notifications = 0, spurious_kicks = 0, spurious_interrupts = 0;
    std::vector<std::pair<std::string, uint64_t>> by_rule;  // rules that fired, in rule order
    std::vector<Violation> first;                           // the first ones kept
  } monitor;
  std::vector<memory::LogRecord> last_events;  // before a stall: the newest access-log records
  std::vector<std::string> agents;  // memory agents by id, as the models name them: driver_vcpu0, vhost_worker0, ...
  std::vector<TimelineEvent> timeline;
  bool timeline_around_finding = false;  // else: the busiest controller period's newest accesses

  struct Faults {
    uint64_t barriers_dropped = 0, loads_hoisted = 0, kicks_corrupted = 0, kicks_lost = 0;
    uint64_t interrupts_lost = 0, kicks_delayed = 0, interrupts_delayed = 0, stores_corrupted = 0;
    uint64_t device_restarts = 0, queue_resets = 0;
    uint64_t buffers_unmapped_in_flight = 0;  // fault.unmap_in_flight
  } faults;

  // fault.unmap_in_flight: the TX buffer the driver unmapped while the
  // device held it, and who touched its guest-physical memory from then on
  // (access-log records after the unmap, in the order the model made them):
  // its own bytes, which the device must not touch, and the pages holding
  // them, which other buffers may share (the device reaches those through
  // their own IOVAs).
  struct UnmapInFlight {
    uint64_t packet = 0;   // 1-based; 0: not done
    uint64_t time_ps = 0;  // the driver's clock at the unmap
    std::vector<ring::Segment> iova, gpa;
    struct Touches {
      uint64_t buffer = 0, pages = 0;  // accesses to the buffer's bytes / to the pages holding them
    } device_after, driver_after;
    bool log_complete = false;  // the log still held every record since the unmap (else raise log_capacity)
  } unmap_in_flight;

  std::vector<QueueFigures> queues;  // rx0, tx0, rx1, ...
};

// Where one queue pair's frames went, from its driver and device counters.
Accounting account(const driver::QueuePairDriverStats& d, const device::QueuePairStats& v, uint64_t lost_at_reset);

// Everything a report says, read from the models after sc_start returned.
RunFigures collect(const Config& cfg, const memory::MemoryModel& mem, const driver::NetDriver& drv,
                   const device::NetDevice& dev, const pci::VirtioPciFunction& fn,
                   const faults::NotificationFaultStats& notification_faults,
                   const faults::UnmappedInFlight& unmapped, const Monitor& monitor,
                   const std::vector<memory::LogRecord>& last_events, const Timeline& timeline,
                   std::vector<std::string> run_errors,
                   double wall_seconds);

}  // namespace virtiosim::sim
