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
#include "models/ring/ring_state.h"
#include "models/ring/virtqueue.h"
#include "sim/check/ring_watch.h"
#include "transport/pci/transport_event.h"

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

class Monitor {
 public:
  // `disabled`: rule ids switched off.
  Monitor(ring::RingLayout layout, std::vector<std::string> disabled, size_t keep = 1000);

  // Queues in index order: where each lives (the driver's view after
  // probing), the negotiated features, the agents of its driver and device
  // sides, and how to read memory as an agent sees it.
  void add_queue(const std::string& name, const ring::QueueAreas& areas, ring::Features features,
                 unsigned driver_agent, unsigned device_agent, RingWatch::Peek peek);

  void on_anomaly(const memory::OrderingAnomaly& a);
  // A store became visible (every store; the ring watches pick theirs).
  void on_store(unsigned agent, const memory::PendingStore& s);
  // The device completed buffer `id` of queue `queue`.
  void on_complete(uint16_t queue, uint16_t id, uint64_t time_ps);
  // A typed load with the value the agent got (how far each side looked).
  void on_load(unsigned agent, uint64_t time_ps, uint64_t gpa, const void* data, uint64_t n);
  // A notification was sent or delivered. One sent although the other
  // side's event suppression did not ask for it is counted as spurious
  // (P10), not reported. A queue reset or re-enabled (P15); `driver_seq`:
  // the driver's next store (the ring re-zeroing is older).
  void on_event(pci::TransportEvent e, uint16_t queue, uint64_t time_ps, uint64_t driver_seq);
  // Called periodically: a notification owed (the other side asked for it
  // and has not seen the buffers) for `grace_ps` without one arriving is a
  // lost wake-up (P10.lost_kick, P10.lost_interrupt), reported once.
  void check_wakeups(uint64_t now_ps, uint64_t grace_ps);
  // The run made no progress since `since_ps` (the stall watchdog): a
  // driver that looked, found nothing and waits while its own event
  // suppression asks for no interrupt waits for one it disabled
  // (P10.disabled_wait; RingWatch::interrupt_disabled_while_waiting).
  void diagnose_stall(uint64_t since_ps);
  // A restarted device (`agent`) continued queue `queue` (its ring at
  // `addr`) from `restored`, having saved `base` (packed rings): both must
  // mean the same position (VU2). Needs no shadow of the ring: a restart
  // may come before the driver has finished probing.
  void on_ring_restored(const std::string& queue, unsigned agent, uint64_t addr, uint32_t base,
                        const ring::RingState& restored, uint64_t time_ps);
  // The guest's IOMMU unmapped [iova, iova+bytes) (every sink of
  // memory::DmaDomain hears it): unmapping memory a buffer in flight names
  // is dma.unmap_in_flight, the driver's (the device still holds the
  // buffer). A queue in reset holds nothing: the driver takes back its
  // buffers there (P15).
  void on_dma_unmap(uint64_t iova, uint64_t bytes, uint64_t time_ps);
  void report(const std::string& rule, const std::string& what, uint64_t time_ps, unsigned agent, uint64_t addr = 0,
              const std::string& queue = "");

  uint64_t total() const { return total_; }
  const std::vector<Violation>& violations() const { return kept_; }  // the first `keep`
  uint64_t count(const std::string& rule) const;
  // For the waves: the rule (1 + its index in monitor_rules(), or
  // monitor_rules().size() + 1 for a ring error outside the list; 0: none)
  // and the time of the first violation since mark_shown().
  std::pair<uint32_t, uint64_t> first_unshown() const { return {first_unshown_rule_, first_unshown_ps_}; }
  void mark_shown() { shown_ = total_; }
  uint64_t spurious_kicks() const { return spurious_kicks_; }
  uint64_t spurious_interrupts() const { return spurious_interrupts_; }
  uint64_t notifications() const { return notifications_; }

 private:
  struct Queue {
    std::string name;
    ring::QueueAreas areas;
    unsigned driver_agent, device_agent;
    RingWatch watch;
    // Lost wake-ups: since when a kick / an interrupt has been owed.
    struct Owed {
      bool now = false, reported = false;
      uint64_t since_ps = 0;
    } kick, interrupt;
    bool in_reset = false, reset_violated = false;  // P15: reset done, not yet enabled again
    bool kick_ignored = false, interrupt_ignored = false;  // P10.ignored_suppression reported
  };
  void reset_violation(Queue& q, const std::string& what, uint64_t time_ps, uint64_t addr);
  void check_owed(const Queue& q, Queue::Owed& o, bool owed, uint64_t now_ps, uint64_t grace_ps, bool kick);
  void ignored(const Queue& q, bool& reported, uint64_t time_ps, bool kick);
  bool enabled(const std::string& rule) const;
  void add(Violation v);
  // Called after every store the ring watches see: almost always there is
  // nothing to add, so that test is inline.
  void add_findings(const Queue& q, uint64_t time_ps) {
    if (!findings_.empty()) take_findings(q, time_ps);
  }
  void take_findings(const Queue& q, uint64_t time_ps);
  std::string classify(const Queue& q, const memory::OrderingAnomaly& a, std::string& what) const;

  ring::RingLayout layout_;
  std::vector<std::string> disabled_;
  size_t keep_;
  std::vector<Queue> queues_;
  std::vector<Violation> kept_;
  std::vector<std::pair<std::string, uint64_t>> counts_;
  uint64_t total_ = 0;
  uint64_t shown_ = 0;
  uint32_t first_unshown_rule_ = 0;
  uint64_t first_unshown_ps_ = 0;
  uint64_t spurious_kicks_ = 0, spurious_interrupts_ = 0, notifications_ = 0;
  std::vector<Finding> findings_;  // scratch
};

}  // namespace virtiosim::sim
