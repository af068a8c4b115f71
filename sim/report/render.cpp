#include "sim/report/render.h"

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <string_view>

#include "sim/report/feature_names.h"
#include "sim/version.h"
#include "support/json_text.h"

namespace virtiosim::sim {

namespace {

using json::figure;
using json::Json;

double per(double v, double n) { return n > 0 ? v / n : 0; }

// `v` sorted ascending.
double percentile(const std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

double mean(const std::vector<double>& v) {
  return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
}

// One side of a queue: every counter its stats declare, then whether it
// broke and the ring errors it counted.
template <class Stats>
Json side_json(const Stats& s, bool broken) {
  Json j = Json::object();
  s.visit([&](const char* name, uint64_t v) { j[name] = v; });
  j["broken"] = broken;
  Json errors = Json::object();
  s.errors.visit([&](const char* name, uint64_t n) { errors[name] = n; });
  j["errors"] = errors;
  return j;
}

Json queue_json(const QueueFigures& q) {
  Json j = {{"name", q.name}};
  if (q.driver) j["driver"] = side_json(q.driver->stats, q.driver->broken);
  if (q.device) j["device"] = side_json(q.device->stats, q.device->broken);
  return j;
}

// Every fault counter, by its report name.
std::vector<std::pair<const char*, uint64_t>> fault_counters(const RunFigures::Faults& f) {
  return {{"barriers_dropped", f.barriers_dropped},     {"loads_hoisted", f.loads_hoisted},
          {"kicks_corrupted", f.kicks_corrupted},       {"kicks_lost", f.kicks_lost},
          {"interrupts_lost", f.interrupts_lost},       {"kicks_delayed", f.kicks_delayed},
          {"interrupts_delayed", f.interrupts_delayed}, {"stores_corrupted", f.stores_corrupted},
          {"device_restarts", f.device_restarts},       {"queue_resets", f.queue_resets},
          {"buffers_unmapped_in_flight", f.buffers_unmapped_in_flight}};
}

// Latency against the time one packet costs the busier side: with the
// driver sending as fast as the ring allows (driver.offered_pps=0), a mean
// latency many service times long is time spent waiting in the ring, not
// the path's own delay.
struct Load {
  bool full = false;
  double service_ns = 0;  // per packet, the busier of driver and device
  bool queueing_dominated = false;
};
constexpr double kQueueingFactor = 10;  // mean latency over service time above which queueing dominates
Load load(const RunFigures& run) {
  const double pkts = double(run.traffic.sent);
  Load l;
  l.full = run.cfg.driver.offered_pps == 0;
  l.service_ns = per(double(std::max(run.driver_busy_ps, run.device_busy_ps)) / 1000, pkts);
  l.queueing_dominated = l.full && l.service_ns > 0 && mean(run.latencies_ns) > kQueueingFactor * l.service_ns;
  return l;
}

// Latencies in kHistogramBins equal bins from 0 to the largest.
constexpr size_t kHistogramBins = 40;
Json histogram_json(const std::vector<double>& lat) {
  const double top = lat.empty() ? 0 : lat.back();
  const double width = top > 0 ? top / kHistogramBins : 1;
  std::vector<uint64_t> counts(kHistogramBins, 0);
  for (double v : lat) ++counts[std::min(kHistogramBins - 1, static_cast<size_t>(v / width))];
  return {{"bin_ns", figure(width)}, {"counts", counts}};
}

constexpr const char* kOps[] = {"read", "write", "barrier", "visible"};

Json event_json(const memory::LogRecord& r) {
  Json e = {{"time_ns", figure(double(r.time_ps) / 1000)},
            {"agent", uint64_t{r.agent}},
            {"op", kOps[static_cast<unsigned>(r.op)]}};
  if (r.op == memory::LogRecord::Op::barrier) {
    e["site"] = ring::name(static_cast<ring::BarrierSite>(r.value));
  } else {
    e["addr"] = r.addr, e["size"] = uint64_t{r.size}, e["value"] = r.value;
  }
  return e;
}

Json monitor_json(const RunFigures& run) {
  const RunFigures::Monitor& m = run.monitor;
  // P10: notifications sent although the other side's event suppression did
  // not ask are counted, not violations.
  Json j = {{"violations", m.violations},
            {"notifications", m.notifications},
            {"spurious_kicks", m.spurious_kicks},
            {"spurious_interrupts", m.spurious_interrupts},
            {"by_rule", Json::object()},
            {"first", Json::array()},
            {"last_events", Json::array()}};
  for (const auto& [rule, n] : m.by_rule) j["by_rule"][rule] = n;
  for (size_t i = 0; i < std::min<size_t>(m.first.size(), 20); ++i) {
    const Violation& v = m.first[i];
    j["first"].push_back({{"rule", v.rule},
                          {"what", v.what},
                          {"time_ns", figure(double(v.time_ps) / 1000)},
                          {"agent", uint64_t{v.agent}},
                          {"queue", v.queue},
                          {"addr", v.addr},
                          {"value_read", v.value_read},
                          {"value_expected", v.value_expected}});
  }
  for (const memory::LogRecord& r : run.last_events) j["last_events"].push_back(event_json(r));  // before a stall
  return j;
}

}  // namespace

std::string render_json(const RunFigures& run, const Verdict& verdict) {
  Config cfg = run.cfg;  // params() hands out references to the fields
  const Accounting& t = run.traffic;
  const double pkts = double(t.sent), sim_ns = run.sim_ns;
  const std::vector<double>& lat = run.latencies_ns;
  Json j;
  j["virtiosim_version"] = kVersion;
  j["systemc_version"] = run.systemc_version;
  j["result"] = verdict.ok ? "ok" : "failed";
  j["errors"] = verdict.errors;
  Json& config = j["config"] = Json::object();
  for (Config::Param& p : cfg.params()) config[p.key] = p.is_number ? json::number_text(p.get()) : Json(p.get());
  j["seed"] = cfg.seed;
  j["timing_mode"] = memory::name(cfg.timing);
  j["negotiated_features"] = run.negotiated_features;
  j["negotiated_feature_names"] = feature_names(run.negotiated_features);
  j["sim_time_ns"] = figure(sim_ns);
  j["packets"] = {{"tx", t.sent},
                  {"rx", t.received},
                  {"tx_bytes", run.tx_bytes},
                  {"rx_bytes", run.rx_bytes},
                  {"dropped", {{"wire_queue_full", run.dropped_wire_full}, {"rx_buffer_too_small", run.dropped_too_big}}},
                  // P15: TX buffers a queue reset took back, and of their frames those that never arrived.
                  {"tx_taken_back_at_reset", t.taken_back},
                  {"lost_at_reset", t.lost_at_reset}};
  j["rates"] = {{"tx_mpps", figure(per(pkts * 1e3, sim_ns))},
                {"rx_mpps", figure(per(double(t.received) * 1e3, sim_ns))},
                {"tx_gbps", figure(per(double(run.tx_bytes) * 8, sim_ns))},
                {"rx_gbps", figure(per(double(run.rx_bytes) * 8, sim_ns))}};
  j["kicks"] = {{"issued", run.kicks},
                {"suppressed", run.kicks_suppressed},
                {"per_packet", figure(per(double(run.kicks), pkts))}};
  j["interrupts"] = {{"issued", run.interrupts},
                     {"suppressed", run.signals_suppressed},
                     {"handled", run.interrupts_handled},
                     {"per_packet", figure(per(double(run.interrupts), pkts))}};
  if (cfg.iommu) {  // VIRTIO_F_ACCESS_PLATFORM: the device's IOTLB
    const device::IotlbStats& i = run.iotlb;
    j["iotlb"] = {{"hits", i.hits},
                  {"misses", i.misses},
                  {"invalidations", i.invalidations},
                  {"ring_cache_hits", i.ring_cache_hits},
                  {"faults", i.faults},
                  {"hits_per_packet", figure(per(double(i.hits), pkts))},
                  {"misses_per_packet", figure(per(double(i.misses), pkts))},
                  {"invalidations_per_packet", figure(per(double(i.invalidations), pkts))},
                  {"ring_cache_hits_per_packet", figure(per(double(i.ring_cache_hits), pkts))}};
  }
  // Busy time of the driver vCPUs and vhost workers.
  j["cpu_ns_per_packet"] = {{"driver", figure(per(double(run.driver_busy_ps) / 1000, pkts))},
                            {"device", figure(per(double(run.device_busy_ps) / 1000, pkts))}};
  j["memory"] = {{"ordering", memory::name(cfg.ordering)},
                 {"reads", run.reads},
                 {"writes", run.writes},
                 {"accesses_per_packet", figure(per(double(run.reads + run.writes), pkts))},
                 {"cache_line_transfers_per_packet", figure(per(double(run.cache_line_transfers), pkts))},
                 {"barriers_per_packet",
                  {{"write", figure(per(double(run.barriers[0]), pkts))},
                   {"read", figure(per(double(run.barriers[1]), pkts))},
                   {"full", figure(per(double(run.barriers[2]), pkts))}}},
                 {"stall_ns", figure(run.stall_ns)},
                 {"stores_reordered", run.stores_reordered}};
  j["latency_ns"] = {{"mean", figure(mean(lat))},
                     {"p50", figure(percentile(lat, 0.5))},
                     {"p99", figure(percentile(lat, 0.99))},
                     {"max", figure(lat.empty() ? 0.0 : lat.back())},
                     {"samples", uint64_t{lat.size()}},
                     {"histogram", histogram_json(lat)}};
  const Load l = load(run);
  j["load"] = {{"full", l.full},
               {"service_ns_per_packet", figure(l.service_ns)},
               {"queueing_dominated", l.queueing_dominated}};
  j["monitor"] = monitor_json(run);
  j["faults"] = Json::object();
  for (const auto& [name, n] : fault_counters(run.faults)) j["faults"][name] = n;
  if (const RunFigures::UnmapInFlight& u = run.unmap_in_flight; u.packet) {
    auto segments = [](const std::vector<ring::Segment>& v) {
      Json a = Json::array();
      for (const ring::Segment& s : v) a.push_back({{"addr", s.addr}, {"len", s.len}});
      return a;
    };
    j["unmap_in_flight"] = {{"packet", u.packet},
                            {"unmapped_ns", figure(double(u.time_ps) / 1000)},
                            {"iova", segments(u.iova)},
                            {"gpa", segments(u.gpa)},
                            // Accesses after the unmap to the buffer's own bytes and to the
                            // pages holding them (other buffers may share those).
                            {"device_accesses_after", {{"buffer", u.device_after.buffer}, {"pages", u.device_after.pages}}},
                            {"driver_accesses_after", {{"buffer", u.driver_after.buffer}, {"pages", u.driver_after.pages}}},
                            {"log_complete", u.log_complete}};
  }
  j["agents"] = run.agents;  // the timeline's and findings' agent ids, by name
  // The ring around the first finding, or the busiest stretch of the run.
  j["timeline"] = {{"around", run.timeline_around_finding ? "first finding" : "busiest controller period"},
                   {"events", Json::array()}};
  for (const TimelineEvent& e : run.timeline) {
    Json ej = event_json(e.record);
    if (!e.where.empty()) ej["where"] = e.where;
    j["timeline"]["events"].push_back(std::move(ej));
  }
  j["queues"] = Json::array();
  for (const QueueFigures& q : run.queues) j["queues"].push_back(queue_json(q));
  j["wall"] = {{"seconds", figure(run.wall_seconds)},
               {"simulated_packets_per_second", figure(per(pkts, run.wall_seconds))}};
  return json::dump(j) + "\n";
}

std::string render_summary(const RunFigures& run, const Verdict& verdict) {
  const Config& cfg = run.cfg;
  const Accounting& t = run.traffic;
  const double pkts = double(t.sent), sim_ns = run.sim_ns;
  const std::vector<double>& lat = run.latencies_ns;
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "virtiosim: %s ring, %u entries, %s/%s, %s ordering, %s timing, %u queue pair(s)\n"
                "  %llu sent, %llu received, %llu dropped in %.1f us simulated: %.3f Mpps, %.2f Gb/s\n"
                "  per packet: %.3f kicks, %.3f interrupts, %.1f memory accesses, %.2f cache-line transfers\n"
                "  latency ns: mean %.0f, p50 %.0f, p99 %.0f\n"
                "  wall %.2f s: %.0f simulated packets per second\n",
                ring::name(cfg.ring), cfg.queue_size, pci::name(cfg.path), device::name(cfg.metadata),
                memory::name(cfg.ordering), memory::name(cfg.timing), cfg.queue_pairs,
                static_cast<unsigned long long>(t.sent), static_cast<unsigned long long>(t.received),
                static_cast<unsigned long long>(t.dropped), sim_ns / 1000, per(pkts * 1e3, sim_ns),
                per(double(run.tx_bytes) * 8, sim_ns), per(double(run.kicks), pkts),
                per(double(run.interrupts), pkts), per(double(run.reads + run.writes), pkts),
                per(double(run.cache_line_transfers), pkts), mean(lat), percentile(lat, 0.5), percentile(lat, 0.99),
                run.wall_seconds, per(pkts, run.wall_seconds));
  std::string out = buf;
  std::string names;
  for (const std::string& n : feature_names(run.negotiated_features)) names += (names.empty() ? "" : " ") + n;
  out += "  features: " + (names.empty() ? std::string("none negotiated") : names) + "\n";
  if (cfg.iommu) {
    const device::IotlbStats& i = run.iotlb;
    std::snprintf(buf, sizeof buf,
                  "  iotlb per packet: %.3f hits, %.3f misses, %.3f invalidations, %.3f ring-cache hits (ring cache %s)\n",
                  per(double(i.hits), pkts), per(double(i.misses), pkts), per(double(i.invalidations), pkts),
                  per(double(i.ring_cache_hits), pkts), cfg.iotlb.ring_cache ? "on" : "off");
    out += buf;
  }
  if (const Load l = load(run); l.queueing_dominated) {
    std::snprintf(buf, sizeof buf,
                  "  latency was measured at full offered load (driver.offered_pps=0) and is queueing-dominated: "
                  "mean %.0f ns is %.0f times the %.0f ns a packet costs the busier side\n",
                  mean(lat), mean(lat) / l.service_ns, l.service_ns);
    out += buf;
  }
  // What the faults did: every counter that moved, frames a queue reset took, spurious notifications.
  std::string effects;
  auto effect = [&](uint64_t n, const std::string& what) {
    if (n) effects += (effects.empty() ? "" : ", ") + std::to_string(n) + " " + what;
  };
  for (const auto& [name, n] : fault_counters(run.faults)) {
    // Loads performed early are the ordering model at work (tso: past the
    // agent's own buffered stores, as x86 does), not a fault's effect.
    if (std::string_view(name) == "loads_hoisted") continue;
    std::string what = name;
    std::replace(what.begin(), what.end(), '_', ' ');
    effect(n, what);
  }
  effect(t.lost_at_reset, "frames lost at reset");
  effect(t.taken_back, "TX buffers taken back at reset");
  if (!effects.empty()) out += "  fault effects: " + effects + "\n";
  if (run.faults.loads_hoisted)
    out += "  memory ordering: " + std::to_string(run.faults.loads_hoisted) + " loads performed early (" +
           memory::name(cfg.ordering) + ")\n";
  if (run.monitor.spurious_kicks || run.monitor.spurious_interrupts)  // P10: counted, not violations
    out += "  notifications: " + std::to_string(run.monitor.spurious_kicks) + " spurious kicks, " +
           std::to_string(run.monitor.spurious_interrupts) +
           " spurious interrupts (sent although the other side's event suppression asked for none)\n";
  if (run.monitor.violations && !run.monitor.first.empty()) {
    const Violation& v = run.monitor.first.front();
    out += "  monitor: " + std::to_string(run.monitor.violations) + " violations; first " + v.rule + " at " +
           std::to_string(v.time_ps / 1000) + " ns on " + v.queue + ": " + v.what + "\n";
  } else {
    out += "  monitor: no violations\n";
  }
  for (const std::string& e : verdict.errors) out += "  error: " + e + "\n";
  return out;
}

RunOutcome report(const RunFigures& run) {
  const Verdict v = judge(run);
  RunOutcome out;
  out.ok = v.ok;
  out.errors = v.errors;
  out.report_json = render_json(run, v);
  out.summary = render_summary(run, v);
  out.junit = junit_cases(run, v);
  return out;
}

}  // namespace virtiosim::sim
