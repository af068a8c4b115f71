#include "waves/read/view_window.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>

#include "waves/read/ring_events.h"
#include "waves/read/vcd_reader.h"
#include "waves/signals.h"

namespace virtiosim::waves {

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string us(uint64_t ps) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f us", static_cast<double>(ps) / 1e6);
  return b;
}

// The variable whose name ends in `.suffix` (below the top scope), or -1.
long find_suffix(const VcdReader& r, const std::string& suffix) {
  for (size_t i = 0; i < r.vars().size(); ++i)
    if (ends_with(r.vars()[i].name, "." + suffix)) return static_cast<long>(i);
  return -1;
}

}  // namespace

std::vector<Finding> read_findings(const std::string& vcd_path, uint64_t* end_ps) {
  const std::vector<std::string> names = read_rule_names(vcd_path);
  VcdReader r(vcd_path);
  const long violations = find_suffix(r, kMonitorViolationsSignal), rule = find_suffix(r, kMonitorRuleSignal);
  std::vector<Finding> list;
  uint64_t end = 0;
  uint64_t count = 0, rule_now = 0;
  VcdChange c;
  // Both signals change in the same sample; the rule's change may come
  // after the count's in the file, so a step is closed at the next time.
  // (A flag and a Finding rather than std::optional<Finding>: GCC 12 at -O3
  // takes the optional's string for maybe-uninitialized.)
  bool open = false;
  Finding step;
  auto close = [&] {
    if (!open) return;
    step.rule = static_cast<uint32_t>(rule_now);
    if (rule_now < names.size()) step.rule_name = names[rule_now];
    list.push_back(step);
    open = false;
  };
  while (r.next(c)) {
    const uint64_t t = static_cast<uint64_t>(static_cast<double>(c.time) * r.unit_ps());
    if (open && t != step.time_ps) close();
    end = std::max(end, t);
    if (static_cast<long>(c.var) == rule) rule_now = c.value;
    if (static_cast<long>(c.var) != violations || c.value <= count) continue;
    step = Finding{t, c.value - count, 0, {}};
    open = true;
    count = c.value;
  }
  close();
  if (end_ps) *end_ps = end;
  return list;
}

std::string wave_base(const std::string& p) {
  for (const char* ext : {".vcd", ".fst"})
    if (ends_with(p, ext) && p.size() > 4) return p.substr(0, p.size() - 4);
  return p;
}

std::vector<std::string> read_rule_names(const std::string& wave_path) {
  std::ifstream in(wave_base(wave_path) + kMonitorRulesFileSuffix);
  std::vector<std::string> names;
  size_t value = 0;
  std::string name;
  while (in >> value >> name) {
    if (names.size() <= value) names.resize(value + 1);
    names[value] = name;
  }
  return names;
}

ViewWindow choose_view(const std::string& vcd_path) {
  ViewWindow w;
  w.findings = read_findings(vcd_path, &w.trace_end_ps);

  // Ring laps: per queue, used slots written so far; the busiest queue is
  // the first to finish a lap, and its next kSteadyLaps laps set the width.
  VcdReader reader(vcd_path);
  RingEventDecoder dec(reader);
  std::map<uint16_t, uint64_t> used;
  std::optional<uint64_t> first_activity, steady_start, steady_end;
  uint16_t lap_queue = 0;
  uint32_t lap_size = 0;
  RingEvent e;
  while (dec.next(e)) {
    if (!first_activity && e.kind == EventKind::avail_published) first_activity = e.time_ps;
    if (e.kind != EventKind::used_written) continue;
    const uint64_t n = used[e.queue] += e.count;
    const uint32_t size = dec.queues()[e.queue].size;
    if (!steady_start && size && n >= size) {
      steady_start = e.time_ps, lap_queue = e.queue, lap_size = size;
    } else if (steady_start && !steady_end && e.queue == lap_queue &&
               n >= (1 + kSteadyLaps) * uint64_t{lap_size}) {
      steady_end = e.time_ps;
      if (!w.findings.empty()) break;
    }
  }
  w.trace_end_ps = std::max(w.trace_end_ps, dec.last_time_ps());
  const uint64_t begin = first_activity.value_or(0), end = w.trace_end_ps;
  const uint64_t width = steady_end ? *steady_end - *steady_start : end - begin;
  const std::string laps =
      steady_end ? std::to_string(kSteadyLaps) + " laps of " + queue_name(lap_queue) + " (" + us(width) + ")"
                 : "the ring activity (no " + std::to_string(kSteadyLaps + 1) + " full laps)";
  if (!w.findings.empty()) {
    const uint64_t t = w.findings.front().time_ps;
    // Three quarters before the finding, one after; slid to stay inside the trace.
    w.start_ps = t - std::min(t, width - width / 4);
    w.end_ps = std::min(end, w.start_ps + width);
    w.start_ps = w.end_ps - std::min(w.end_ps, width);
    const Finding& first = w.findings.front();
    w.reason = "first finding " +
               (first.rule_name.empty() ? "rule " + std::to_string(first.rule) : first.rule_name) + " at " +
               us(t) + "; window " + laps;
  } else if (steady_end) {
    w.start_ps = *steady_start, w.end_ps = *steady_end;
    w.reason = "no findings; steady state: " + laps + " after its first lap";
  } else {
    w.start_ps = begin, w.end_ps = end;
    w.reason = "no findings; " + laps;
  }
  if (w.end_ps <= w.start_ps) w.end_ps = w.start_ps + 1;
  return w;
}

}  // namespace virtiosim::waves
