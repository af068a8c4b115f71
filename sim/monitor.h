// The conformance monitor: a passive observer of the memory model and the
// models' counters that turns what it sees into rule violations of
// ../shared/SPEC_NOTES.md, each with the rule id, time, agent, address and
// values. It classifies the memory model's ordering anomalies by the ring
// field they hit; each rule can be switched off by configuration.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/memory/memory_model.h"
#include "models/ring/virtqueue.h"

namespace virtiosim::sim {

struct Violation {
  std::string rule;     // e.g. "P13.avail_body"
  std::string what;     // one line
  uint64_t time_ps = 0;
  unsigned agent = 0;   // the agent that observed it
  uint64_t addr = 0;
  uint64_t value_read = 0, value_expected = 0;
  std::string queue;    // "tx0", "rx1", ...
};

// Every rule the monitor knows, with the one line it reports.
struct MonitorRule {
  const char* id;
  const char* description;
};
const std::vector<MonitorRule>& monitor_rules();

// The rule a ring error enforces: the SPEC_NOTES id its description cites
// ("P7"), else "ring.<error name>".
std::string rule_of(ring::RingError e);

class Monitor {
 public:
  // `disabled`: rule ids switched off.
  Monitor(ring::RingLayout layout, std::vector<std::string> disabled, size_t keep = 1000);

  // Where queue `index` lives (the driver's view after probing); agents of
  // its driver and device sides.
  void add_queue(const std::string& name, const ring::QueueAreas& areas, unsigned driver_agent,
                 unsigned device_agent);

  void on_anomaly(const memory::OrderingAnomaly& a);
  void report(const std::string& rule, const std::string& what, uint64_t time_ps, unsigned agent, uint64_t addr = 0);

  uint64_t total() const { return total_; }
  const std::vector<Violation>& violations() const { return kept_; }  // the first `keep`
  uint64_t count(const std::string& rule) const;

 private:
  struct Queue {
    std::string name;
    ring::QueueAreas areas;
    unsigned driver_agent, device_agent;
  };
  bool enabled(const std::string& rule) const;
  void add(Violation v);
  std::string classify(const Queue& q, const memory::OrderingAnomaly& a, std::string& what) const;

  ring::RingLayout layout_;
  std::vector<std::string> disabled_;
  size_t keep_;
  std::vector<Queue> queues_;
  std::vector<Violation> kept_;
  std::vector<std::pair<std::string, uint64_t>> counts_;
  uint64_t total_ = 0;
};

}  // namespace virtiosim::sim
