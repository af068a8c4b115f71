#include "sim/report.h"

#include <systemc>

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "sim/json.h"
#include "sim/version.h"

namespace virtiosim::sim {

namespace {

double per(double v, double n) { return n > 0 ? v / n : 0; }

// `v` sorted ascending.
double percentile(const std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

void ring_errors(JsonWriter& j, const ring::ErrorCounters& e) {
  j.begin_object("errors");
  for (unsigned k = 1; k < ring::kRingErrorKinds; ++k)
    if (e.count[k]) j.value(ring::name(static_cast<ring::RingError>(k)), e.count[k]);
  j.end_object();
}

}  // namespace

RunOutcome make_report(Config cfg, const memory::MemoryModel& mem, const driver::NetDriver& drv,
                       const device::VhostNet& dev, const pci::VirtioPciFunction& fn,
                       const faults::NotificationFaultStats& notification_faults, const Monitor& monitor,
                       const std::vector<memory::LogRecord>& last_events, std::vector<std::string> errors,
                       double wall_seconds) {
  if (cfg.monitor.strict && monitor.total() > 0)
    errors.push_back("strict: " + std::to_string(monitor.total()) + " conformance violations, first " +
                     monitor.violations().front().rule + " (" + monitor.violations().front().what + ")");
  // Interrupts the device issued: sent as MSI-X messages, or lost on the way (fault injection).
  const uint64_t irqs_issued = fn.stats().interrupts + notification_faults.interrupts_lost;
  // Totals over queue pairs.
  uint64_t tx = 0, tx_bytes = 0, rx = 0, rx_bytes = 0, corrupt = 0, dup = 0, unexpected = 0;
  uint64_t drop_wire = 0, drop_big = 0, doorbells = 0, kicks_suppressed = 0, signals_suppressed = 0;
  uint64_t irqs = 0, driver_busy_ps = 0, device_busy_ps = 0, reclaimed = 0, lost_at_reset = 0, completed = 0;
  for (uint16_t qp = 0; qp < cfg.queue_pairs; ++qp) {
    driver_busy_ps += drv.busy_ps(qp);
    device_busy_ps += dev.busy_ps(qp);
    const auto& d = drv.stats(qp);
    const auto& v = dev.stats(qp);
    tx += d.tx_packets, tx_bytes += d.tx_bytes, rx += d.rx_packets, rx_bytes += d.rx_bytes;
    corrupt += d.rx_corrupt, dup += d.rx_duplicate, unexpected += d.rx_unexpected;
    drop_wire += v.dropped_wire_full, drop_big += v.dropped_too_big;
    reclaimed += d.tx_reclaimed, lost_at_reset += drv.lost_at_reset(qp), completed += d.tx_completed;
    doorbells += d.doorbells;
    irqs += d.rx_interrupts + d.tx_interrupts;
    for (const ring::DriverQueue* q : {drv.rx_queue(qp), drv.tx_queue(qp)})
      if (q) kicks_suppressed += q->stats().kicks_suppressed;
    for (const ring::DeviceQueue* q : {dev.rx_queue(qp), dev.tx_queue(qp)})
      if (q) signals_suppressed += q->stats().signals_suppressed;
  }
  if (corrupt) errors.push_back(std::to_string(corrupt) + " received frames failed verification");
  if (dup) errors.push_back(std::to_string(dup) + " frames received twice");
  if (unexpected) errors.push_back(std::to_string(unexpected) + " frames that were never sent on that queue");
  if (errors.empty() && completed + reclaimed != tx)
    errors.push_back("TX buffers: sent " + std::to_string(tx) + " != completed " + std::to_string(completed) +
                     " + taken back at a queue reset " + std::to_string(reclaimed));
  if (cfg.wire == device::Wire::loopback && errors.empty() && rx + drop_wire + drop_big + lost_at_reset != tx)
    errors.push_back("conservation: sent " + std::to_string(tx) + " != received " + std::to_string(rx) +
                     " + dropped " + std::to_string(drop_wire + drop_big) + " + taken back unsent at a queue reset " +
                     std::to_string(lost_at_reset));

  uint64_t reads = 0, writes = 0, transfers = 0, barriers[3] = {};
  double stall_ns = 0;
  for (unsigned a = 0; a < mem.agents(); ++a) {
    reads += mem.stats(a).reads, writes += mem.stats(a).writes;
    transfers += mem.cost().stats(a).remote_transfers;
    for (int k = 0; k < 3; ++k) barriers[k] += mem.stats(a).barriers[k];
    stall_ns += mem.stats(a).stall_ns;
  }
  const double sim_ns = sc_core::sc_time_stamp().to_seconds() * 1e9;
  const double pkts = static_cast<double>(tx);
  std::vector<double> lat = drv.latencies_ns();
  std::sort(lat.begin(), lat.end());

  JsonWriter j;
  j.begin_object();
  j.value("virtiosim_version", kVersion);
  j.value("systemc_version", sc_core::sc_release());
  j.value("result", errors.empty() ? "ok" : "failed");
  j.begin_array("errors");
  for (const std::string& e : errors) j.value(nullptr, e);
  j.end_array();
  j.begin_object("config");
  for (Config::Param& p : cfg.params())
    j.raw(p.key.c_str(), p.is_number ? p.get() : JsonWriter::quote(p.get()));
  j.end_object();
  j.value("seed", cfg.seed);
  j.value("timing_mode", memory::name(cfg.timing));
  j.value("negotiated_features", drv.negotiated_features());
  j.value("sim_time_ns", sim_ns);
  j.begin_object("packets");
  j.value("tx", tx).value("rx", rx).value("tx_bytes", tx_bytes).value("rx_bytes", rx_bytes);
  j.begin_object("dropped").value("wire_queue_full", drop_wire).value("rx_buffer_too_small", drop_big).end_object();
  // P15: TX buffers a queue reset took back, and of their frames those that never arrived.
  j.value("tx_taken_back_at_reset", reclaimed).value("lost_at_reset", lost_at_reset);
  j.end_object();
  j.begin_object("rates");
  j.value("tx_mpps", per(pkts * 1e3, sim_ns)).value("rx_mpps", per(static_cast<double>(rx) * 1e3, sim_ns));
  j.value("tx_gbps", per(static_cast<double>(tx_bytes) * 8, sim_ns));
  j.value("rx_gbps", per(static_cast<double>(rx_bytes) * 8, sim_ns));
  j.end_object();
  j.begin_object("kicks");
  j.value("issued", doorbells).value("suppressed", kicks_suppressed).value("per_packet", per(double(doorbells), pkts));
  j.end_object();
  j.begin_object("interrupts");
  j.value("issued", irqs_issued).value("suppressed", signals_suppressed);
  j.value("handled", irqs).value("per_packet", per(double(irqs_issued), pkts));
  j.end_object();
  j.begin_object("cpu_ns_per_packet");  // busy time of the driver vCPUs and vhost workers
  j.value("driver", per(double(driver_busy_ps) / 1000, pkts)).value("device", per(double(device_busy_ps) / 1000, pkts));
  j.end_object();
  j.begin_object("memory");
  j.value("ordering", memory::name(cfg.ordering));
  j.value("reads", reads).value("writes", writes);
  j.value("accesses_per_packet", per(double(reads + writes), pkts));
  j.value("cache_line_transfers_per_packet", per(double(transfers), pkts));
  j.begin_object("barriers_per_packet");
  j.value("write", per(double(barriers[0]), pkts)).value("read", per(double(barriers[1]), pkts));
  j.value("full", per(double(barriers[2]), pkts));
  j.end_object();
  j.value("stall_ns", stall_ns);
  uint64_t reordered = 0;
  for (unsigned a = 0; a < mem.agents(); ++a) reordered += mem.store_buffer(a).reordered();
  j.value("stores_reordered", reordered);
  j.end_object();
  j.begin_object("latency_ns");
  const double mean = lat.empty() ? 0 : std::accumulate(lat.begin(), lat.end(), 0.0) / double(lat.size());
  j.value("mean", mean).value("p50", percentile(lat, 0.5)).value("p99", percentile(lat, 0.99));
  j.value("max", lat.empty() ? 0.0 : lat.back());
  j.value("samples", static_cast<uint64_t>(lat.size()));
  j.end_object();
  j.begin_object("monitor");
  j.value("violations", monitor.total());
  // P10: sent although the other side's event suppression did not ask (counted, not violations).
  j.value("notifications", monitor.notifications());
  j.value("spurious_kicks", monitor.spurious_kicks()).value("spurious_interrupts", monitor.spurious_interrupts());
  j.begin_object("by_rule");
  for (const MonitorRule& r : monitor_rules())
    if (monitor.count(r.id)) j.value(r.id, monitor.count(r.id));
  j.end_object();
  j.begin_array("first");
  for (size_t i = 0; i < std::min<size_t>(monitor.violations().size(), 20); ++i) {
    const Violation& v = monitor.violations()[i];
    j.begin_object();
    j.value("rule", v.rule).value("what", v.what).value("time_ns", double(v.time_ps) / 1000);
    j.value("agent", uint64_t{v.agent}).value("queue", v.queue).value("addr", v.addr);
    j.value("value_read", v.value_read).value("value_expected", v.value_expected);
    j.end_object();
  }
  j.end_array();
  j.begin_array("last_events");  // before a stall: the newest access-log records
  for (const memory::LogRecord& r : last_events) {
    static constexpr const char* kOps[] = {"read", "write", "barrier", "visible"};
    j.begin_object();
    j.value("time_ns", double(r.time_ps) / 1000).value("agent", uint64_t{r.agent});
    j.value("op", kOps[static_cast<unsigned>(r.op)]);
    if (r.op == memory::LogRecord::Op::barrier) j.value("site", ring::name(static_cast<ring::BarrierSite>(r.value)));
    else j.value("addr", r.addr).value("size", uint64_t{r.size}).value("value", r.value);
    j.end_object();
  }
  j.end_array();
  j.end_object();
  j.begin_object("faults");
  uint64_t dropped = 0, hoisted = 0;
  for (unsigned a = 0; a < mem.agents(); ++a) dropped += mem.stats(a).barriers_dropped, hoisted += mem.stats(a).loads_hoisted;
  j.value("barriers_dropped", dropped).value("loads_hoisted", hoisted);
  j.value("doorbells_corrupted", notification_faults.kicks_corrupted);
  j.value("doorbells_lost", notification_faults.kicks_lost).value("interrupts_lost", notification_faults.interrupts_lost);
  j.value("doorbells_delayed", notification_faults.kicks_delayed).value("interrupts_delayed", notification_faults.interrupts_delayed);
  j.value("stores_corrupted", mem.store_faults_applied());
  uint64_t restarts = 0;
  for (uint16_t qp = 0; qp < cfg.queue_pairs; ++qp) restarts += dev.stats(qp).restarts;
  j.value("device_restarts", restarts);
  uint64_t resets = 0;
  for (uint16_t qp = 0; qp < cfg.queue_pairs; ++qp) resets += drv.stats(qp).queue_resets;
  j.value("queue_resets", resets);
  j.end_object();
  j.begin_array("queues");
  for (uint16_t qp = 0; qp < cfg.queue_pairs; ++qp) {
    for (int t = 0; t < 2; ++t) {
      const ring::DriverQueue* dq = t ? drv.tx_queue(qp) : drv.rx_queue(qp);
      const ring::DeviceQueue* vq = t ? dev.tx_queue(qp) : dev.rx_queue(qp);
      j.begin_object();
      j.value("name", std::string(t ? "tx" : "rx") + std::to_string(qp));
      if (dq) {
        j.begin_object("driver");
        j.value("added", dq->stats().added).value("used", dq->stats().used);
        j.value("kicks", dq->stats().kicks).value("kicks_suppressed", dq->stats().kicks_suppressed);
        j.value("indirect", dq->stats().indirect).value("broken", dq->broken());
        ring_errors(j, dq->stats().errors);
        j.end_object();
      }
      if (vq) {
        j.begin_object("device");
        j.value("popped", vq->stats().popped).value("used", vq->stats().used);
        j.value("used_descs_written", vq->stats().used_descs_written).value("flushes", vq->stats().flushes);
        j.value("signals", vq->stats().signals).value("signals_suppressed", vq->stats().signals_suppressed);
        j.value("completions_dropped", vq->stats().completions_dropped).value("broken", vq->broken());
        ring_errors(j, vq->stats().errors);
        j.end_object();
      }
      j.end_object();
    }
  }
  j.end_array();
  j.begin_object("wall");
  j.value("seconds", wall_seconds);
  j.value("simulated_packets_per_second", per(pkts, wall_seconds));
  j.end_object();
  j.end_object();

  RunOutcome out;
  out.ok = errors.empty();
  out.errors = errors;
  out.report_json = j.str();
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "virtiosim: %s ring, %u entries, %s/%s, %s ordering, %s timing, %u queue pair(s)\n"
                "  %llu sent, %llu received, %llu dropped in %.1f us simulated: %.3f Mpps, %.2f Gb/s\n"
                "  per packet: %.3f kicks, %.3f interrupts, %.1f memory accesses, %.2f cache-line transfers\n"
                "  latency ns: mean %.0f, p50 %.0f, p99 %.0f\n"
                "  wall %.2f s: %.0f simulated packets per second\n",
                ring::name(cfg.ring), cfg.queue_size, pci::name(cfg.path), device::name(cfg.metadata),
                memory::name(cfg.ordering), memory::name(cfg.timing), cfg.queue_pairs,
                static_cast<unsigned long long>(tx), static_cast<unsigned long long>(rx),
                static_cast<unsigned long long>(drop_wire + drop_big), sim_ns / 1000,
                per(pkts * 1e3, sim_ns), per(double(tx_bytes) * 8, sim_ns), per(double(doorbells), pkts),
                per(double(irqs_issued), pkts), per(double(reads + writes), pkts), per(double(transfers), pkts),
                mean, percentile(lat, 0.5), percentile(lat, 0.99), wall_seconds, per(pkts, wall_seconds));
  out.summary = buf;
  if (monitor.total()) {
    const Violation& v = monitor.violations().front();
    out.summary += "  monitor: " + std::to_string(monitor.total()) + " violations; first " + v.rule + " at " +
                   std::to_string(v.time_ps / 1000) + " ns on " + v.queue + ": " + v.what + "\n";
  }
  for (const std::string& e : errors) out.summary += "  error: " + e + "\n";
  return out;
}

}  // namespace virtiosim::sim
