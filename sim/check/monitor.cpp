#include "sim/check/monitor.h"

#include <algorithm>
#include <cstdio>

#include "models/ring/layout.h"

namespace virtiosim::sim {

const std::vector<MonitorRule>& monitor_rules() {
  static const std::vector<MonitorRule> rules = {
      {"P13.avail_body", "device read a descriptor (or avail entry) not yet visible when it observed it available"},
      {"P6.5", "a list head's flags became visible before the rest of the list"},
      {"P13.used_body", "driver read a used id/len not yet visible when it observed the entry used"},
      {"P11.event", "event suppression read with an off_wrap/event index not yet visible behind its flags"},
      {"watchdog.stall", "no progress with buffers pending: a lost wake-up or a stuck queue"},
      {"P12", "a doorbell's notification data names another queue or an offset outside the ring"},
      // From the monitor's own shadow of each ring (sim/check/ring_watch.h).
      {"P2", "AVAIL/USED flags that do not encode available (driver) or used (device) for the wrap counter"},
      {"P3", "a side wrote a descriptor the other side owns, or a buffer id was made available twice"},
      {"P4", "used entries written in another order than the device completed the buffers"},
      {"P5", "a used entry with NEXT set or an id that is not in flight"},
      {"P8", "IN_ORDER: a buffer completed or returned before one made available earlier"},
      {"P10.lost_kick", "the device asked for a kick (event suppression) for buffers it has not seen; none arrived"},
      {"P10.lost_interrupt", "the driver asked for an interrupt for used buffers it has not seen; none arrived"},
      {"P15", "the device read, wrote or signalled a queue after acknowledging its reset"},
      // Found by the ring core's own checks (models/ring/errors.h) when a side breaks.
      {"P6.2", "a descriptor of a list not available like its head (unexpected unavailable descriptor in a chain)"},
      {"P6.3", "device-readable descriptor after a device-writable one"},
      {"P6.4", "descriptor list longer than the queue size"},
      {"P7", "indirect descriptor rules"},
      {"ring.address_unmapped", "a buffer outside guest memory"},
      {"ring.address_overflow", "a buffer whose address + length overflows"},
      // Appended, so that monitor.rule keeps its values in waves: what the
      // known-bug replays brought (README, "Known-bug replays").
      {"P10.ignored_suppression",
       "a notification sent although the sender had just read that the other side wants none (DISABLE)"},
      {"P10.disabled_wait",
       "no progress: the driver waits with used buffers it has not seen while its own event suppression asks for no interrupt"},
      {"VU2", "a restarted device continued a packed ring from another position than the ring base it saved"},
      {"P10.area_owner",
       "a side wrote the other side's event suppression structure (the driver the Device Area, the device the Driver Area)"},
      // VIRTIO_F_ACCESS_PLATFORM (iommu=1): the Linux DMA API's rule.
      {"dma.unmap_in_flight",
       "the driver unmapped a buffer's IOVA while the device held the buffer (made available, not yet used)"},
  };
  return rules;
}

Monitor::Monitor(ring::RingLayout layout, std::vector<std::string> disabled, size_t keep)
    : layout_(layout), disabled_(std::move(disabled)), keep_(keep) {}

void Monitor::add_queue(const std::string& name, const ring::QueueAreas& areas, ring::Features features,
                        unsigned driver_agent, unsigned device_agent, RingWatch::Peek peek) {
  queues_.push_back({name, areas, driver_agent, device_agent,
                     RingWatch(layout_, areas, features, driver_agent, device_agent, std::move(peek)), {}, {}});
}

void Monitor::take_findings(const Queue& q, uint64_t time_ps) {
  for (Finding& f : findings_) add({f.rule, std::move(f.what), time_ps, f.agent, f.addr, f.got, f.expected, q.name});
  findings_.clear();
}

void Monitor::reset_violation(Queue& q, const std::string& what, uint64_t time_ps, uint64_t addr) {
  if (q.reset_violated) return;  // once per reset: what follows is the same fault
  q.reset_violated = true;
  add({"P15", "device " + what + " after acknowledging the queue's reset", time_ps, q.device_agent, addr, 0, 0, q.name});
}

void Monitor::on_store(unsigned agent, const memory::PendingStore& s) {
  for (Queue& q : queues_) {
    if ((agent != q.driver_agent && agent != q.device_agent) || !q.watch.near(s.addr)) continue;
    if (q.in_reset) {
      if (agent == q.device_agent && q.watch.touches(s.addr)) reset_violation(q, "wrote its ring", s.visible_ps, s.addr);
      continue;
    }
    q.watch.on_store(agent, s.seq, s.addr, s.size, s.data(), findings_);
    add_findings(q, s.visible_ps);
  }
}

void Monitor::on_complete(uint16_t queue, uint16_t id, uint64_t time_ps) {
  if (queue >= queues_.size()) return;
  queues_[queue].watch.on_complete(id, findings_);
  add_findings(queues_[queue], time_ps);
}

void Monitor::on_load(unsigned agent, uint64_t time_ps, uint64_t gpa, const void* data, uint64_t n) {
  for (Queue& q : queues_) {
    if ((agent != q.driver_agent && agent != q.device_agent) || !q.watch.near(gpa)) continue;
    if (q.in_reset) {
      if (agent == q.device_agent && q.watch.touches(gpa)) reset_violation(q, "read its ring", time_ps, gpa);
      continue;
    }
    q.watch.on_load(agent, gpa, n, static_cast<const uint8_t*>(data));
  }
}

void Monitor::on_dma_unmap(uint64_t iova, uint64_t bytes, uint64_t time_ps) {
  for (const Queue& q : queues_) {
    if (q.in_reset) continue;
    const int32_t id = q.watch.holder(iova, bytes);
    if (id < 0) continue;
    char range[64];
    std::snprintf(range, sizeof range, "[0x%llx, +%llu)", static_cast<unsigned long long>(iova),
                  static_cast<unsigned long long>(bytes));
    add({"dma.unmap_in_flight",
         std::string("driver unmapped IOVA ") + range + " while the device holds buffer id " + std::to_string(id) +
             " (made available, not yet used)",
         time_ps, q.driver_agent, iova, 0, 0, q.name});
  }
}

void Monitor::on_event(pci::TransportEvent e, uint16_t queue, uint64_t time_ps, uint64_t driver_seq) {
  using N = pci::TransportEvent;
  if (queue >= queues_.size()) return;
  Queue& q = queues_[queue];
  RingWatch& w = q.watch;
  if (e == N::interrupt_sent && q.in_reset) reset_violation(q, "signalled the queue", time_ps, q.areas.driver);
  switch (e) {
    case N::kick_sent: {
      ++notifications_;
      const RingWatch::Asked a = w.kick_wanted();
      if (!a.visible) ++spurious_kicks_;
      if (a.ignored) ignored(q, q.kick_ignored, time_ps, true);
      break;
    }
    case N::interrupt_sent: {
      ++notifications_;
      const RingWatch::Asked a = w.interrupt_wanted();
      if (!a.visible) ++spurious_interrupts_;
      if (a.ignored) ignored(q, q.interrupt_ignored, time_ps, false);
      break;
    }
    case N::kick_delivered: w.kick_delivered(); break;
    case N::interrupt_delivered: w.interrupt_delivered(); break;
    case N::queue_reset:  // the buffers in flight are the driver's to take back
      q.in_reset = true;
      q.reset_violated = false;
      q.kick = q.interrupt = {};
      break;
    case N::queue_enabled:
      q.in_reset = false;
      w.restart(driver_seq);
      break;
  }
}

void Monitor::check_owed(const Queue& q, Queue::Owed& o, bool owed, uint64_t now_ps, uint64_t grace_ps, bool kick) {
  if (!owed) {
    o = {};
    return;
  }
  if (!o.now) o.now = true, o.since_ps = now_ps;
  if (o.reported || now_ps - o.since_ps < grace_ps) return;
  o.reported = true;
  const std::string what = kick ? "the device's event suppression asks for a kick for buffers it has not seen"
                                : "the driver's event suppression asks for an interrupt for used buffers it has not seen";
  add({kick ? "P10.lost_kick" : "P10.lost_interrupt",
       what + "; none arrived in " + std::to_string((now_ps - o.since_ps) / 1000000) + " us", o.since_ps,
       kick ? q.driver_agent : q.device_agent, kick ? q.areas.device : q.areas.driver, 0, 0, q.name});
}

// Once per queue and direction: every later one is the same bug.
void Monitor::ignored(const Queue& q, bool& reported, uint64_t time_ps, bool kick) {
  if (reported) return;
  reported = true;
  add({"P10.ignored_suppression",
       kick ? "the driver kicked although it had just read the device's event suppression asking for no kick"
            : "the device interrupted although it had just read the driver's event suppression asking for no interrupt",
       time_ps, kick ? q.driver_agent : q.device_agent, kick ? q.areas.device : q.areas.driver, 0, 0, q.name});
}

void Monitor::diagnose_stall(uint64_t since_ps) {
  for (const Queue& q : queues_) {
    if (q.in_reset) continue;
    if (q.watch.interrupt_disabled_while_waiting())
      add({"P10.disabled_wait",
           "the driver has used buffers it has not seen and its event suppression asks for no interrupt", since_ps,
           q.driver_agent, q.areas.driver, 0, 0, q.name});
  }
}

void Monitor::on_ring_restored(const std::string& queue, unsigned agent, uint64_t addr, uint32_t base,
                               const ring::RingState& restored, uint64_t time_ps) {
  if (layout_ != ring::RingLayout::packed) return;
  const ring::RingState meant = ring::decode_vring_base_packed(base);
  if (restored == meant) return;
  char what[200];
  std::snprintf(what, sizeof what,
                "ring base 0x%08x means avail %u/%u used %u/%u (index/wrap); the device continued from avail %u/%u "
                "used %u/%u",
                base, meant.last_avail_idx, meant.avail_wrap_counter, meant.last_used_idx, meant.used_wrap_counter,
                restored.last_avail_idx, restored.avail_wrap_counter, restored.last_used_idx, restored.used_wrap_counter);
  const bool used = restored.last_used_idx != meant.last_used_idx || restored.used_wrap_counter != meant.used_wrap_counter;
  add({"VU2", what, time_ps, agent, addr, used ? restored.last_used_idx : restored.last_avail_idx,
       used ? meant.last_used_idx : meant.last_avail_idx, queue});
}

void Monitor::check_wakeups(uint64_t now_ps, uint64_t grace_ps) {
  for (Queue& q : queues_) {
    if (q.in_reset) continue;
    check_owed(q, q.kick, q.watch.kick_owed(), now_ps, grace_ps, true);
    check_owed(q, q.interrupt, q.watch.interrupt_owed(), now_ps, grace_ps, false);
  }
}

bool Monitor::enabled(const std::string& rule) const {
  return std::find(disabled_.begin(), disabled_.end(), rule) == disabled_.end();
}

uint64_t Monitor::count(const std::string& rule) const {
  for (const auto& [r, n] : counts_)
    if (r == rule) return n;
  return 0;
}

void Monitor::add(Violation v) {
  if (!enabled(v.rule)) return;
  ++total_;
  auto it = std::find_if(counts_.begin(), counts_.end(), [&](auto& c) { return c.first == v.rule; });
  if (it == counts_.end()) counts_.emplace_back(v.rule, 1);
  else ++it->second;
  if (total_ == shown_ + 1) {
    const std::vector<MonitorRule>& rules = monitor_rules();
    first_unshown_rule_ = static_cast<uint32_t>(
        std::find_if(rules.begin(), rules.end(), [&](const MonitorRule& r) { return v.rule == r.id; }) - rules.begin() + 1);
    first_unshown_ps_ = v.time_ps;
  }
  if (kept_.size() < keep_) kept_.push_back(std::move(v));
}

void Monitor::report(const std::string& rule, const std::string& what, uint64_t time_ps, unsigned agent,
                     uint64_t addr, const std::string& queue) {
  add({rule, what, time_ps, agent, addr, 0, 0, queue});
}

// Which field of which ring the anomaly hit decides the rule.
std::string Monitor::classify(const Queue& q, const memory::OrderingAnomaly& a, std::string& what) const {
  const ring::QueueAreas& r = q.areas;
  const bool by_device = a.reader == q.device_agent, by_driver = a.reader == q.driver_agent;
  if (layout_ == ring::RingLayout::packed) {
    const ring::PackedLayout p = r.packed();
    if (p.in_desc_ring(a.addr)) {
      const uint32_t slot = p.slot_of(a.addr);
      const bool body = a.addr < p.flags_addr(slot);  // addr, len, id: everything before the flags
      what = "slot " + std::to_string(slot);
      if (by_device && body) return "P13.avail_body";
      if (by_device) return "P6.5";
      if (by_driver && body) return "P13.used_body";
      return "";  // the driver seeing a later used flag late is allowed
    }
    if (p.in_driver_event(a.addr) || p.in_device_event(a.addr)) {
      what = p.in_driver_event(a.addr) ? "driver area" : "device area";
      return "P11.event";
    }
    return "";
  }
  const ring::SplitLayout s = r.split();
  if (s.in_desc_table(a.addr)) {
    what = "descriptor " + std::to_string(s.desc_index_of(a.addr));
    return by_device ? "P13.avail_body" : "";
  }
  if (a.addr >= s.avail_ring_addr(0) && a.addr < s.used_event_addr()) {
    what = "avail ring entry";
    return by_device ? "P13.avail_body" : "";
  }
  if (a.addr >= s.used_elem_addr(0) && a.addr < s.avail_event_addr()) {
    what = "used ring element";
    return by_driver ? "P13.used_body" : "";
  }
  if (a.addr == s.used_event_addr() || a.addr == s.avail_event_addr()) {
    what = a.addr == s.used_event_addr() ? "used_event" : "avail_event";
    return "P11.event";
  }
  return "";
}

void Monitor::on_anomaly(const memory::OrderingAnomaly& a) {
  for (const Queue& q : queues_) {
    std::string what;
    const std::string rule = classify(q, a, what);
    if (rule.empty()) continue;
    add({rule, what + (a.hoisted ? " (load ran early: missing read barrier)" : " (store still buffered: missing write barrier)"),
         a.time_ps, a.reader, a.addr, a.value_read, a.value_missed, q.name});
    return;
  }
}

}  // namespace virtiosim::sim
