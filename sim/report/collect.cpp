#include "sim/report/collect.h"

#include <systemc>

#include <algorithm>

namespace virtiosim::sim {

Accounting account(const driver::QueuePairDriverStats& d, const device::QueuePairStats& v, uint64_t lost_at_reset) {
  Accounting a;
  a.sent = d.tx_packets;
  a.completed = d.tx_completed;
  a.taken_back = d.tx_reclaimed;
  a.received = d.rx_packets;
  a.received_bad = d.rx_corrupt + d.rx_duplicate + d.rx_unexpected;
  a.dropped = v.dropped_wire_full + v.dropped_too_big;
  a.lost_at_reset = lost_at_reset;
  return a;
}

std::string ring_field(ring::RingLayout layout, const std::vector<std::pair<std::string, ring::QueueAreas>>& queues,
                       uint64_t addr) {
  for (const auto& [name, a] : queues) {
    if (!a.num) continue;  // not placed (the driver failed before)
    const bool packed = layout == ring::RingLayout::packed;
    if (addr >= a.desc && addr - a.desc < ring::desc_area_bytes(layout, a.num))
      return name + " desc[" + std::to_string((addr - a.desc) / 16) + "]";
    // Packed: the two event suppression structures; split: avail and used rings (flags, idx, ring, event).
    const uint64_t driver_bytes = packed ? ring::PackedLayout::event_bytes : 6 + 2 * uint64_t{a.num};
    const uint64_t device_bytes = packed ? ring::PackedLayout::event_bytes : 6 + 8 * uint64_t{a.num};
    if (addr >= a.driver && addr - a.driver < driver_bytes) return name + (packed ? " driver event" : " avail");
    if (addr >= a.device && addr - a.device < device_bytes) return name + (packed ? " device event" : " used");
  }
  return "";
}

namespace {

// Who touched the unmapped buffer's guest-physical memory after the unmap:
// the log's records from `u.log_index` on, as far as it still holds them.
RunFigures::UnmapInFlight after_unmap(const faults::UnmappedInFlight& u, const memory::AccessLog& log,
                                      uint32_t queue_pairs) {
  RunFigures::UnmapInFlight out{u.packet, u.time_ps, u.iova, u.gpa, {}, {}, false};
  const std::vector<memory::LogRecord> held = log.snapshot();
  const uint64_t first_held = log.total() - held.size();
  out.log_complete = first_held <= u.log_index;
  constexpr uint64_t kPage = memory::kIovaPageBytes;
  auto hits = [&](const memory::LogRecord& r, bool whole_pages) {
    for (const ring::Segment& s : u.gpa) {
      const uint64_t lo = whole_pages ? s.addr / kPage * kPage : s.addr;
      const uint64_t hi = whole_pages ? (s.addr + s.len + kPage - 1) / kPage * kPage : s.addr + s.len;
      if (r.addr < hi && lo < r.addr + r.size) return true;
    }
    return false;
  };
  for (uint64_t i = std::max(u.log_index, first_held) - first_held; i < held.size(); ++i) {
    const memory::LogRecord& r = held[i];
    if (r.op == memory::LogRecord::Op::barrier || !hits(r, true)) continue;
    const uint64_t on_buffer = hits(r, false);
    for (uint16_t qp = 0; qp < queue_pairs; ++qp) {
      RunFigures::UnmapInFlight::Touches* t = r.agent == device::NetDevice::agent_of(qp)   ? &out.device_after
                                              : r.agent == driver::NetDriver::agent_of(qp) ? &out.driver_after
                                                                                           : nullptr;
      if (t) ++t->pages, t->buffer += on_buffer;
    }
  }
  return out;
}

}  // namespace

RunFigures collect(const Config& cfg, const memory::MemoryModel& mem, const driver::NetDriver& drv,
                   const device::NetDevice& dev, const pci::VirtioPciFunction& fn,
                   const faults::NotificationFaultStats& notification_faults,
                   const faults::UnmappedInFlight& unmapped, const Monitor& monitor,
                   const std::vector<memory::LogRecord>& last_events, const Timeline& timeline,
                   std::vector<std::string> run_errors,
                   double wall_seconds) {
  RunFigures r;
  r.cfg = cfg;
  r.systemc_version = sc_core::sc_release();
  r.negotiated_features = drv.negotiated_features();
  r.sim_ns = sc_core::sc_time_stamp().to_seconds() * 1e9;
  r.wall_seconds = wall_seconds;
  r.run_errors = std::move(run_errors);

  r.agents.resize(mem.agents());
  for (unsigned a = 0; a < r.agents.size(); ++a) r.agents[a] = "agent" + std::to_string(a);
  for (uint16_t qp = 0; qp < cfg.queue_pairs; ++qp) {
    if (driver::NetDriver::agent_of(qp) < r.agents.size()) r.agents[driver::NetDriver::agent_of(qp)] = driver::NetDriver::agent_name(qp);
    if (device::NetDevice::agent_of(qp) < r.agents.size()) r.agents[device::NetDevice::agent_of(qp)] = dev.agent_name(qp);
  }
  for (uint16_t qp = 0; qp < cfg.queue_pairs; ++qp) {
    const driver::QueuePairDriverStats& d = drv.stats(qp);
    const device::QueuePairStats& v = dev.stats(qp);
    r.traffic += account(d, v, drv.lost_at_reset(qp));
    r.driver_busy_ps += drv.busy_ps(qp);
    r.device_busy_ps += dev.busy_ps(qp);
    r.tx_bytes += d.tx_bytes, r.rx_bytes += d.rx_bytes;
    r.rx_corrupt += d.rx_corrupt, r.rx_duplicate += d.rx_duplicate, r.rx_unexpected += d.rx_unexpected;
    r.dropped_wire_full += v.dropped_wire_full, r.dropped_too_big += v.dropped_too_big;
    r.kicks += d.kicks;
    r.interrupts_handled += d.rx_interrupts + d.tx_interrupts;
    r.faults.device_restarts += v.restarts;
    r.faults.queue_resets += d.queue_resets;
    for (int t = 0; t < 2; ++t) {
      const ring::DriverQueue* dq = t ? drv.tx_queue(qp) : drv.rx_queue(qp);
      const ring::DeviceQueue* vq = t ? dev.tx_queue(qp) : dev.rx_queue(qp);
      QueueFigures q;
      q.name = std::string(t ? "tx" : "rx") + std::to_string(qp);
      if (dq) {
        q.driver = QueueFigures::DriverSide{dq->stats(), dq->broken()};
        r.kicks_suppressed += dq->stats().kicks_suppressed;
      }
      if (vq) {
        q.device = QueueFigures::DeviceSide{vq->stats(), vq->broken()};
        r.signals_suppressed += vq->stats().signals_suppressed;
      }
      r.queues.push_back(std::move(q));
    }
  }
  r.interrupts = fn.stats().interrupts + notification_faults.interrupts_lost;
  r.iotlb = dev.iotlb_stats();

  for (unsigned a = 0; a < mem.agents(); ++a) {
    const memory::AgentMemoryStats& s = mem.stats(a);
    r.reads += s.reads, r.writes += s.writes;
    r.cache_line_transfers += mem.cost().stats(a).remote_transfers;
    for (int k = 0; k < 3; ++k) r.barriers[k] += s.barriers[k];
    r.stall_ns += s.stall_ns;
    r.stores_reordered += mem.store_buffer(a).reordered();
    r.faults.barriers_dropped += s.barriers_dropped, r.faults.loads_hoisted += s.loads_hoisted;
  }
  r.latencies_ns = drv.latencies_ns();
  std::sort(r.latencies_ns.begin(), r.latencies_ns.end());

  r.monitor.violations = monitor.total();
  r.monitor.notifications = monitor.notifications();
  r.monitor.spurious_kicks = monitor.spurious_kicks();
  r.monitor.spurious_interrupts = monitor.spurious_interrupts();
  for (const MonitorRule& rule : monitor_rules())
    if (const uint64_t n = monitor.count(rule.id)) r.monitor.by_rule.emplace_back(rule.id, n);
  r.monitor.first = monitor.violations();
  r.last_events = last_events;
  std::vector<std::pair<std::string, ring::QueueAreas>> queues;
  for (uint16_t q = 0; q < 2 * cfg.queue_pairs; ++q)
    queues.emplace_back((q % 2 ? "tx" : "rx") + std::to_string(q / 2), drv.areas(q));
  for (const memory::LogRecord& rec : timeline.records)
    r.timeline.push_back({rec, rec.op == memory::LogRecord::Op::barrier ? "" : ring_field(cfg.ring, queues, rec.addr)});
  r.timeline_around_finding = timeline.around_finding;

  const faults::NotificationFaultStats& n = notification_faults;
  r.faults.kicks_corrupted = n.kicks_corrupted;
  r.faults.kicks_lost = n.kicks_lost, r.faults.interrupts_lost = n.interrupts_lost;
  r.faults.kicks_delayed = n.kicks_delayed, r.faults.interrupts_delayed = n.interrupts_delayed;
  r.faults.stores_corrupted = mem.store_faults_applied();
  if (unmapped.packet) {
    r.faults.buffers_unmapped_in_flight = 1;
    r.unmap_in_flight = after_unmap(unmapped, mem.log(), cfg.queue_pairs);
  }
  return r;
}

}  // namespace virtiosim::sim
