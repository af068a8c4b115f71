// A finished run made up in the test, no SystemC kernel: 1000 frames sent
// on a loopback wire, all back, with round figures.
#pragma once

#include "sim/report/collect.h"

namespace virtiosim::testing {

inline sim::RunFigures synthetic_run() {
  sim::RunFigures r;
  r.cfg.packets = 1000;
  r.systemc_version = "2.3.4-test";
  r.negotiated_features = 0x130000000ull;
  r.sim_ns = 2000;  // 1000 frames in 2 us: 500 Mpps
  r.wall_seconds = 0.5;
  r.traffic.sent = 1000;
  r.traffic.completed = 1000;
  r.traffic.received = 1000;
  r.tx_bytes = r.rx_bytes = 64000;
  r.kicks = 10;
  r.interrupts = 20;
  r.interrupts_handled = 20;
  r.reads = 3000, r.writes = 1000;
  r.cache_line_transfers = 1500;
  r.barriers[0] = 1000, r.barriers[1] = 500;
  r.latencies_ns = {100, 200, 300, 400};
  for (const char* name : {"rx0", "tx0"}) {
    sim::QueueFigures q;
    q.name = name;
    q.driver = sim::QueueFigures::DriverSide{};
    q.driver->stats.added = 1000;
    q.device = sim::QueueFigures::DeviceSide{};
    r.queues.push_back(q);
  }
  return r;
}

}  // namespace virtiosim::testing
