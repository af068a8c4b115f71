#include "waves/read/perfetto.h"

#include <cstdio>
#include <map>

#include "support/json_text.h"
#include "waves/read/ring_events.h"
#include "waves/read/vcd_reader.h"
#include "waves/read/view_window.h"
#include "waves/signals.h"

namespace virtiosim::waves {

namespace {

using json::Json;

constexpr int kPid = 1;
constexpr int kMonitorTid = 1;
constexpr int kQueueTid0 = 10;  // queue q is thread kQueueTid0 + q

// Trace-event timestamps are microseconds; ours are whole picoseconds.
Json ts(uint64_t ps) {
  char b[40];
  std::snprintf(b, sizeof b, "%llu.%06llu", static_cast<unsigned long long>(ps / 1000000),
                static_cast<unsigned long long>(ps % 1000000));
  return json::number_text(b);
}

class Writer {
 public:
  explicit Writer(std::ostream& out) : out_(out) {
    out_ << "{\"displayTimeUnit\": \"ns\", \"traceEvents\": [\n";
  }
  void add(const Json& e) { out_ << (stats.events++ ? ",\n" : "") << json::dump(e, json::kOneLine); }
  void thread(int tid, const std::string& name) {
    add({{"ph", "M"}, {"pid", kPid}, {"tid", tid}, {"name", "thread_name"}, {"args", {{"name", name}}}});
    add({{"ph", "M"},
         {"pid", kPid},
         {"tid", tid},
         {"name", "thread_sort_index"},
         {"args", {{"sort_index", tid}}}});
  }
  void counter(const std::string& name, uint64_t ps, uint64_t value) {
    add({{"ph", "C"}, {"pid", kPid}, {"name", name}, {"ts", ts(ps)}, {"args", {{"value", value}}}});
  }
  void close() { out_ << "\n]}\n"; }
  PerfettoStats stats;

 private:
  std::ostream& out_;
};

// Each memory agent's store-buffer depth ("memory.driver_vcpu0.store_buffer_depth").
void agent_counters(const std::string& vcd_path, Writer& w) {
  VcdReader r(vcd_path);
  const std::string suffix = kStoreBufferDepthSuffix;
  std::map<size_t, std::string> agent;
  for (size_t i = 0; i < r.vars().size(); ++i) {
    const std::string& n = r.vars()[i].name;
    const size_t mem = n.find(".memory.");
    if (mem == std::string::npos || n.size() <= suffix.size() ||
        n.compare(n.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    agent[i] = n.substr(mem + 8, n.size() - suffix.size() - mem - 8) + " store-buffer depth";
  }
  VcdChange c;
  while (r.next(c))
    if (auto a = agent.find(c.var); a != agent.end())
      w.counter(a->second, static_cast<uint64_t>(static_cast<double>(c.time) * r.unit_ps()), c.value);
}

}  // namespace

PerfettoStats write_perfetto(const std::string& vcd_path, std::ostream& out) {
  VcdReader reader(vcd_path);
  RingEventDecoder dec(reader);  // throws before anything is written if no queue is traced
  Writer w(out);
  w.add({{"ph", "M"},
         {"pid", kPid},
         {"name", "process_name"},
         {"args", {{"name", "virtiosim run " + vcd_path}}}});
  w.thread(kMonitorTid, "monitor");
  for (const QueueInfo& q : dec.queues()) w.thread(kQueueTid0 + q.queue, q.name);
  for (const Finding& f : read_findings(vcd_path)) {
    const std::string rule = f.rule_name.empty() ? "rule " + std::to_string(f.rule) : f.rule_name;
    w.add({{"ph", "i"},
           {"s", "t"},
           {"pid", kPid},
           {"tid", kMonitorTid},
           {"name", rule},
           {"cat", "finding"},
           {"ts", ts(f.time_ps)},
           {"args", {{"count", f.count}, {"rule", rule}}}});
    w.stats.findings += f.count;
  }
  std::map<uint16_t, int64_t> in_flight;
  RingEvent e;
  while (dec.next(e)) {
    w.add({{"ph", "i"},
           {"s", "t"},
           {"pid", kPid},
           {"tid", kQueueTid0 + e.queue},
           {"name", name(e.kind)},
           {"cat", "ring"},
           {"ts", ts(e.time_ps)},
           {"args", {{"count", e.count}, {"from", e.from}, {"to", e.to}}}});
    if (e.kind == EventKind::kick) w.stats.kicks += e.count;
    if (e.kind == EventKind::interrupt) w.stats.interrupts += e.count;
    if (e.kind == EventKind::avail_published || e.kind == EventKind::used_seen) {
      in_flight[e.queue] += e.kind == EventKind::avail_published ? e.count : -int64_t{e.count};
      w.counter(queue_name(e.queue) + " in flight", e.time_ps, static_cast<uint64_t>(in_flight[e.queue]));
    }
  }
  agent_counters(vcd_path, w);
  w.close();
  if (!out) throw VcdError("cannot write the trace of " + vcd_path);
  return w.stats;
}

}  // namespace virtiosim::waves
