#include "sim/report/html.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "sim/report/feature_names.h"
#include "sim/check/monitor.h"
#include "sim/config.h"

namespace virtiosim::sim {

namespace {

using json::Json;

constexpr const char* kStyle = R"(
body{font:14px/1.4 system-ui,sans-serif;margin:0 2em 3em;color:#1d2330;max-width:1300px}
h1{font-size:1.5em;margin:.8em 0 .2em}h2{font-size:1.15em;margin:1.6em 0 .4em;border-bottom:1px solid #ccd}
table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left;vertical-align:top;border-bottom:1px solid #eef}
td.n{text-align:right;font-variant-numeric:tabular-nums}.unit,.why{color:#667}
.ok{color:#fff;background:#2a7d3e;padding:1px 8px;border-radius:3px}
.failed{color:#fff;background:#b3261e;padding:1px 8px;border-radius:3px}
.note{background:#fff6d6;border-left:4px solid #e0b000;padding:4px 10px}
ul.features{columns:3;padding-left:1.2em}code{font-size:12px}
.rule{margin:.3em 0;padding:2px 6px}.rule:target{background:#ffe9a8}.fired{font-weight:bold}
svg text{font:11px system-ui,sans-serif;fill:#445}.bar{fill:#4a78c2}.bar:hover{fill:#e07b00}
#timeline{border:1px solid #ccd;cursor:grab;user-select:none}
.ev-read{fill:#4a78c2}.ev-write{fill:#e07b00}.ev-barrier{fill:#777}.ev-visible{fill:#2a9d4e}
.finding{stroke:#b3261e;stroke-width:2}button{font-size:14px;min-width:2.2em}
)";

// The timeline: the report's bounded window of access-log records, one lane
// an agent, zoomed with the wheel, the +/- buttons or by dragging.
constexpr const char* kScript = R"(
(function () {
  const data = JSON.parse(document.getElementById('timeline-data').textContent);
  const svg = document.getElementById('timeline');
  const status = document.getElementById('timeline-status');
  const NS = 'http://www.w3.org/2000/svg', W = 1200, LEFT = 110, LANE = 34;
  const ev = data.events;
  const agents = [...new Set(ev.map(e => e.agent))].sort((a, b) => a - b);
  const H = 40 + LANE * Math.max(agents.length, 1);
  svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
  svg.setAttribute('height', H);
  const times = ev.map(e => e.time_ns);
  const lo = times.length ? Math.min(...times) : 0, hi = times.length ? Math.max(...times) : 1;
  const pad = Math.max((hi - lo) * 0.02, 1);
  const full = [lo - pad, hi + pad];
  let view = full.slice();
  const x = t => LEFT + (t - view[0]) / (view[1] - view[0]) * (W - LEFT - 10);
  const agentName = a => data.agents[a] || 'agent' + a;
  function el(name, attrs, parent, text) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    (parent || svg).appendChild(e);
    return e;
  }
  function draw() {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    agents.forEach((a, i) => {
      el('text', {x: 4, y: 30 + LANE * i + LANE / 2}, svg, agentName(a));
      el('line', {x1: LEFT, x2: W - 10, y1: 30 + LANE * i + LANE / 2, y2: 30 + LANE * i + LANE / 2, stroke: '#dde'});
    });
    for (let k = 0; k <= 4; ++k) {
      const t = view[0] + (view[1] - view[0]) * k / 4;
      el('text', {x: x(t), y: 14, 'text-anchor': k === 0 ? 'start' : k === 4 ? 'end' : 'middle'}, svg, t.toFixed(1) + ' ns');
    }
    if (data.finding_ns !== null && data.finding_ns >= view[0] && data.finding_ns <= view[1])
      el('line', {class: 'finding', x1: x(data.finding_ns), x2: x(data.finding_ns), y1: 20, y2: H - 4});
    let shown = 0;
    for (const e of ev) {
      if (e.time_ns < view[0] || e.time_ns > view[1]) continue;
      const lane = agents.indexOf(e.agent);
      const r = el('rect', {class: 'ev ev-' + e.op, x: x(e.time_ns) - 2, y: 30 + LANE * lane + 6 + (e.op === 'write' ? 0 : 8),
                            width: 4, height: LANE - 20});
      el('title', {}, r, e.time_ns + ' ns ' + agentName(e.agent) + ' ' + e.op + (e.where ? ' ' + e.where : '') +
         (e.site ? ' ' + e.site : '') + (e.addr !== undefined ? ' @0x' + e.addr.toString(16) + ' = ' + e.value : ''));
      ++shown;
    }
    status.textContent = shown + ' of ' + ev.length + ' events, ' + view[0].toFixed(1) + ' to ' + view[1].toFixed(1) + ' ns';
    status.dataset.shown = shown;
  }
  function zoom(f, at) {
    const c = at === undefined ? (view[0] + view[1]) / 2 : at;
    const span = Math.max((view[1] - view[0]) * f, 0.5);
    view = [c - (c - view[0]) * span / (view[1] - view[0]), c + (view[1] - c) * span / (view[1] - view[0])];
    draw();
  }
  const timeAt = clientX => {
    const b = svg.getBoundingClientRect();
    return view[0] + ((clientX - b.left) * W / b.width - LEFT) / (W - LEFT - 10) * (view[1] - view[0]);
  };
  svg.addEventListener('wheel', e => { e.preventDefault(); zoom(e.deltaY < 0 ? 0.8 : 1.25, timeAt(e.clientX)); });
  let drag = null;
  svg.addEventListener('mousedown', e => { drag = {x: e.clientX, view: view.slice()}; });
  window.addEventListener('mouseup', () => { drag = null; });
  window.addEventListener('mousemove', e => {
    if (!drag) return;
    const dt = (timeAt(drag.x) - timeAt(e.clientX));
    view = [drag.view[0] + dt, drag.view[1] + dt];
    draw();
  });
  document.getElementById('zoom-in').onclick = () => zoom(0.5);
  document.getElementById('zoom-out').onclick = () => zoom(2);
  document.getElementById('zoom-reset').onclick = () => { view = full.slice(); draw(); };
  draw();
})();
)";

std::string text(const Json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); }
std::string esc(const Json& j) { return html_escape(text(j)); }

// A figure cell with the id a reader (or a test) finds it by.
std::string figure_row(const std::string& id, const std::string& label, const Json& value, const std::string& unit) {
  return "<tr><th>" + html_escape(label) + "</th><td class=\"n\" id=\"" + id + "\">" + esc(value) +
         "</td><td class=\"unit\">" + html_escape(unit) + "</td></tr>\n";
}

std::string rule_anchor(const std::string& rule) { return "rule-" + rule; }

bool known_rule(const std::string& rule) {
  const std::vector<MonitorRule>& rules = monitor_rules();
  return std::any_of(rules.begin(), rules.end(), [&](const MonitorRule& r) { return rule == r.id; });
}

std::string rule_link(const std::string& rule) {
  if (!known_rule(rule)) return "<code>" + html_escape(rule) + "</code>";
  return "<a class=\"rule-link\" href=\"#" + html_escape(rule_anchor(rule)) + "\"><code>" + html_escape(rule) +
         "</code></a>";
}

std::string config_section(const Json& report) {
  // Units and descriptions from the parameters' one declaration (sim/config).
  Config defaults;
  std::map<std::string, std::pair<std::string, std::string>> declared;
  for (const Config::Param& p : defaults.params()) declared[p.key] = {p.unit, p.why};
  std::string out = "<h2 id=\"config\">Configuration</h2>\n<table>\n<tr><th>parameter</th><th>value</th><th>unit</th>"
                    "<th>what it sets</th></tr>\n";
  for (const auto& [key, value] : report.at("config").items()) {
    const auto d = declared.find(key);
    out += "<tr><td><code>" + html_escape(key) + "</code></td><td class=\"n\">" + esc(value) +
           "</td><td class=\"unit\">" + html_escape(d == declared.end() ? "" : d->second.first) +
           "</td><td class=\"why\">" + html_escape(d == declared.end() ? "" : d->second.second) + "</td></tr>\n";
  }
  out += "</table>\n<h2 id=\"features\">Negotiated features</h2>\n<ul class=\"features\" id=\"feature-names\">\n";
  for (const std::string& name : feature_names(report.at("negotiated_features").get<uint64_t>()))
    out += "<li><code>" + html_escape(name) + "</code></li>\n";
  return out + "</ul>\n";
}

std::string traffic_section(const Json& report) {
  const Json& p = report.at("packets");
  const Json& r = report.at("rates");
  const Json& cpu = report.at("cpu_ns_per_packet");
  const Json& mem = report.at("memory");
  std::string out = "<h2 id=\"traffic\">Traffic and cost</h2>\n<table>\n";
  out += figure_row("packets-tx", "sent", p.at("tx"), "packets");
  out += figure_row("packets-rx", "received", p.at("rx"), "packets");
  out += figure_row("dropped-wire-full", "dropped, wire queue full", p.at("dropped").at("wire_queue_full"), "packets");
  out += figure_row("dropped-too-big", "dropped, RX buffer too small", p.at("dropped").at("rx_buffer_too_small"),
                    "packets");
  out += figure_row("lost-at-reset", "lost at a queue reset", p.at("lost_at_reset"), "packets");
  out += figure_row("sim-time", "simulated time", report.at("sim_time_ns"), "ns");
  out += figure_row("tx-mpps", "TX rate", r.at("tx_mpps"), "Mpps");
  out += figure_row("rx-mpps", "RX rate", r.at("rx_mpps"), "Mpps");
  out += figure_row("tx-gbps", "TX throughput", r.at("tx_gbps"), "Gb/s");
  out += figure_row("kicks-per-packet", "kicks per packet", report.at("kicks").at("per_packet"), "");
  out += figure_row("kicks-suppressed", "kicks suppressed", report.at("kicks").at("suppressed"), "");
  out += figure_row("interrupts-per-packet", "interrupts per packet", report.at("interrupts").at("per_packet"), "");
  out += figure_row("interrupts-suppressed", "interrupts suppressed", report.at("interrupts").at("suppressed"), "");
  out += figure_row("driver-ns-per-packet", "driver CPU per packet", cpu.at("driver"), "ns");
  out += figure_row("device-ns-per-packet", "device CPU per packet", cpu.at("device"), "ns");
  out += figure_row("accesses-per-packet", "memory accesses per packet", mem.at("accesses_per_packet"), "");
  out += figure_row("cache-lines-per-packet", "cache-line transfers per packet",
                    mem.at("cache_line_transfers_per_packet"), "");
  if (report.contains("iotlb")) {  // iommu=1
    const Json& i = report.at("iotlb");
    out += figure_row("iotlb-hits-per-packet", "IOTLB hits per packet", i.at("hits_per_packet"), "");
    out += figure_row("iotlb-misses-per-packet", "IOTLB misses per packet", i.at("misses_per_packet"), "");
    out += figure_row("iotlb-invalidations-per-packet", "IOTLB invalidations per packet",
                      i.at("invalidations_per_packet"), "");
    out += figure_row("iotlb-ring-cache-hits-per-packet", "ring translations reused per packet",
                      i.at("ring_cache_hits_per_packet"), "");
  }
  return out + "</table>\n";
}

std::string histogram_svg(const Json& histogram) {
  const double bin = histogram.at("bin_ns").get<double>();
  const std::vector<uint64_t> counts = histogram.at("counts").get<std::vector<uint64_t>>();
  const uint64_t top = counts.empty() ? 0 : *std::max_element(counts.begin(), counts.end());
  constexpr double kW = 800, kH = 200, kLeft = 50, kBottom = 20;
  const double bar = counts.empty() ? 0 : (kW - kLeft) / double(counts.size());
  char buf[256];
  std::string out = "<svg id=\"latency-histogram\" width=\"820\" height=\"230\" viewBox=\"0 0 820 230\" "
                    "role=\"img\" aria-label=\"latency histogram\">\n";
  for (size_t i = 0; i < counts.size(); ++i) {
    const double h = top ? (kH - kBottom) * double(counts[i]) / double(top) : 0;
    std::snprintf(buf, sizeof buf,
                  "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" data-count=\"%llu\">"
                  "<title>%.0f to %.0f ns: %llu packets</title></rect>\n",
                  kLeft + bar * double(i), kH - kBottom - h, std::max(bar - 1, 1.0), h,
                  static_cast<unsigned long long>(counts[i]), bin * double(i), bin * double(i + 1),
                  static_cast<unsigned long long>(counts[i]));
    out += buf;
  }
  std::snprintf(buf, sizeof buf,
                "<text x=\"%.0f\" y=\"%.0f\">0 ns</text><text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%.0f ns</text>"
                "<text x=\"0\" y=\"12\">%llu</text><text x=\"0\" y=\"%.0f\">packets</text>\n",
                kLeft, kH + 2, kW, kH + 2, bin * double(counts.size()), static_cast<unsigned long long>(top), kH / 2);
  return out + buf + "</svg>\n";
}

std::string latency_section(const Json& report) {
  const Json& l = report.at("latency_ns");
  const Json& load = report.at("load");
  std::string out = "<h2 id=\"latency\">Latency</h2>\n<table>\n";
  for (const char* k : {"mean", "p50", "p99", "max"}) out += figure_row(std::string("latency-") + k, k, l.at(k), "ns");
  out += figure_row("latency-samples", "samples", l.at("samples"), "packets");
  out += figure_row("service-ns", "service time per packet (busier side)", load.at("service_ns_per_packet"), "ns");
  out += "</table>\n";
  if (load.at("queueing_dominated").get<bool>()) {
    char buf[512];
    const double mean = l.at("mean").get<double>(), service = load.at("service_ns_per_packet").get<double>();
    std::snprintf(buf, sizeof buf,
                  "<p class=\"note\" id=\"queueing-note\">Latency was measured at full offered load "
                  "(<code>driver.offered_pps=0</code>) and is queueing-dominated: the mean, %.0f ns, is %.0f times "
                  "the %.0f ns a packet costs the busier side. Set <code>driver.offered_pps</code> for the latency "
                  "of a lighter load.</p>\n",
                  mean, mean / service, service);
    out += buf;
  }
  return out + histogram_svg(l.at("histogram"));
}

// A memory agent by the name the report gives it ("agent3" for a report
// without names).
std::string agent_name(const Json& report, uint64_t id) {
  const Json& names = report.value("agents", Json::array());
  return id < names.size() ? names.at(id).get<std::string>() : "agent" + std::to_string(id);
}

std::string monitor_section(const Json& report) {
  const Json& m = report.at("monitor");
  std::string out = "<h2 id=\"monitor\">Conformance monitor</h2>\n<p>Violations: <b id=\"violations\">" +
                    esc(m.at("violations")) + "</b>";
  if (m.at("violations").get<uint64_t>() == 0) out += " (no rule broken)";
  out += "</p>\n";
  if (!m.at("by_rule").empty()) {
    out += "<table id=\"by-rule\">\n<tr><th>rule</th><th>violations</th></tr>\n";
    for (const auto& [rule, n] : m.at("by_rule").items())
      out += "<tr><td>" + rule_link(rule) + "</td><td class=\"n\">" + esc(n) + "</td></tr>\n";
    out += "</table>\n";
  }
  if (!m.at("first").empty()) {
    out += "<h3>First findings</h3>\n<table id=\"findings\">\n<tr><th>time</th><th>rule</th><th>queue</th><th>agent"
           "</th><th>address</th><th>what</th></tr>\n";
    for (const Json& f : m.at("first")) {
      char addr[32];
      std::snprintf(addr, sizeof addr, "0x%llx", static_cast<unsigned long long>(f.at("addr").get<uint64_t>()));
      out += "<tr class=\"finding-row\" data-rule=\"" + esc(f.at("rule")) + "\"><td class=\"n\">" +
             esc(f.at("time_ns")) + " ns</td><td>" + rule_link(text(f.at("rule"))) + "</td><td>" + esc(f.at("queue")) +
             "</td><td>" + esc(agent_name(report, f.at("agent").get<uint64_t>())) + "</td><td><code>" + addr +
             "</code></td><td>" +
             esc(f.at("what")) + "</td></tr>\n";
    }
    out += "</table>\n";
  }
  return out;
}

std::string faults_section(const Json& report) {
  // Every counter a fault moved, the frames a queue reset took, and
  // notifications the other side had asked not to get (P10: counted, not violations).
  std::vector<std::pair<std::string, Json>> effects;
  for (const auto& [name, n] : report.at("faults").items())
    if (n.get<uint64_t>()) effects.emplace_back(name, n);
  const Json& p = report.at("packets");
  for (const char* k : {"lost_at_reset", "tx_taken_back_at_reset"})
    if (p.at(k).get<uint64_t>()) effects.emplace_back(k, p.at(k));
  for (const char* k : {"spurious_kicks", "spurious_interrupts"})
    if (report.at("monitor").at(k).get<uint64_t>()) effects.emplace_back(k, report.at("monitor").at(k));
  std::string out = "<h2 id=\"faults\">Fault effects</h2>\n";
  if (effects.empty()) return out + "<p id=\"fault-effects-none\">None: no fault counter moved.</p>\n";
  out += "<table id=\"fault-effects\">\n";
  for (const auto& [name, n] : effects)
    out += "<tr data-effect=\"" + html_escape(name) + "\"><th>" + html_escape(name) + "</th><td class=\"n\">" + esc(n) +
           "</td></tr>\n";
  return out + "</table>\n";
}

std::string timeline_section(const Json& report) {
  const Json& t = report.at("timeline");
  const Json& first = report.at("monitor").at("first");
  Json data = {{"around", t.at("around")},
               {"finding_ns", first.empty() ? Json(nullptr) : first.front().at("time_ns")},
               {"agents", report.value("agents", Json::array())},
               {"events", t.at("events")}};
  // In a script element only "</" could end it early.
  std::string payload = json::dump(data, json::kOneLine);
  for (size_t i = 0; (i = payload.find("</", i)) != std::string::npos; i += 3) payload.replace(i, 2, "<\\/");
  return "<h2 id=\"ring-timeline\">Ring timeline</h2>\n<p>Ring-memory accesses around the " + esc(t.at("around")) +
         " (" + std::to_string(t.at("events").size()) +
         " records of the access log" + (first.empty() ? "" : "; the red line is the first finding") + "). Wheel or <button id=\"zoom-in\">+</button> "
         "<button id=\"zoom-out\">&minus;</button> to zoom, drag to pan, <button id=\"zoom-reset\">reset</button>. "
         "Writes sit high in a lane, other accesses low; hover for the field and value.</p>\n"
         "<p id=\"timeline-status\"></p>\n<svg id=\"timeline\" width=\"1200\"></svg>\n"
         "<script type=\"application/json\" id=\"timeline-data\">" +
         payload + "</script>\n";
}

std::string rules_section(const Json& report) {
  std::string out = "<h2 id=\"rules\">Rules the monitor checks</h2>\n";
  const Json& by_rule = report.at("monitor").at("by_rule");
  for (const MonitorRule& r : monitor_rules())
    out += std::string("<div class=\"rule") + (by_rule.contains(r.id) ? " fired" : "") + "\" id=\"" +
           html_escape(rule_anchor(r.id)) + "\"><code>" + html_escape(r.id) + "</code>: " +
           html_escape(r.description) + "</div>\n";
  return out;
}

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_html(const Json& report) {
  const bool ok = report.at("result") == "ok";
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>virtiosim run report"
                    "</title>\n<style>" + std::string(kStyle) + "</style>\n</head>\n<body>\n";
  out += "<h1>virtiosim run report <span id=\"result\" class=\"" + std::string(ok ? "ok" : "failed") + "\">" +
         esc(report.at("result")) + "</span></h1>\n<p>virtiosim " + esc(report.at("virtiosim_version")) +
         ", SystemC " + esc(report.at("systemc_version")) + ", seed " + esc(report.at("seed")) + ", " +
         esc(report.at("timing_mode")) + " timing</p>\n";
  if (!report.at("errors").empty()) {
    out += "<ul id=\"errors\">\n";
    for (const Json& e : report.at("errors")) out += "<li>" + esc(e) + "</li>\n";
    out += "</ul>\n";
  }
  out += traffic_section(report) + latency_section(report) + monitor_section(report) + faults_section(report) +
         timeline_section(report) + config_section(report) + rules_section(report);
  return out + "<script>" + kScript + "</script>\n</body>\n</html>\n";
}

}  // namespace virtiosim::sim
