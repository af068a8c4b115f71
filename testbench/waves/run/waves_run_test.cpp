// The waves of real runs: the GTKWave save file opens on the first monitor
// finding (a named marker on it) or on ring laps in steady state, with the
// monitor first and driver/device/agents named; --fst writes FST that reads
// back as the same VCD; the Perfetto export counts the kicks, interrupts
// and findings the run's report counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "testbench/system/run_virtiosim.h"
#include "waves/read/perfetto.h"
#include "waves/read/ring_events.h"
#include "waves/read/vcd_reader.h"
#include "waves/read/view_window.h"
#include "waves/record/gtkw.h"

namespace virtiosim::waves {
namespace {

using testing::slurp;

// `virtiosim ARGS` with %D in ARGS standing for a fresh folder, which the
// result's `dir` names (the report was read already).
testing::SimRun run_virtiosim(std::string args) {
  const std::filesystem::path dir = testing::fresh_dir();
  for (size_t at; (at = args.find("%D")) != std::string::npos;) args.replace(at, 2, dir.string());
  testing::SimRun r = testing::run_virtiosim(args);
  r.dir = dir;
  return r;
}

// What a test reads back from a save file.
struct Gtkw {
  long timestart = -1;
  double zoom = 0;
  long marker = -2;
  std::vector<long> named;  // A..Z
  std::vector<std::string> markernames;
  std::vector<std::string> groups;  // group labels in order (begin and end)
  std::vector<std::string> shown;   // displayed names in order
  std::string dumpfile;
};

Gtkw read_gtkw(const std::string& path) {
  Gtkw g;
  std::istringstream in(slurp(path));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("[timestart] ", 0) == 0)
      g.timestart = std::stol(line.substr(12));
    else if (line.rfind("[dumpfile] ", 0) == 0)
      g.dumpfile = line.substr(12, line.size() - 13);
    else if (line.rfind("[markername] ", 0) == 0)
      g.markernames.push_back(line.substr(13));
    else if (line[0] == '*') {
      std::istringstream z(line.substr(1));
      z >> g.zoom >> g.marker;
      for (long v; z >> v;) g.named.push_back(v);
    } else if (line[0] == '-')
      g.groups.push_back(line.substr(1));
    else if (line.rfind("+{", 0) == 0)
      g.shown.push_back(line.substr(2, line.find('}') - 2));
  }
  return g;
}

bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// The width GTKWave shows at this zoom over the save file's wave pane (2^-zoom ps a pixel).
double shown_width(const Gtkw& g) { return std::exp2(-g.zoom) * 820; }

TEST(WavesRun, CleanRunOpensOnLapsInSteadyState) {
  const auto r = run_virtiosim("run --quiet --packets 3000 --vcd %D/clean.vcd");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string vcd = (r.dir / "clean.vcd").string();
  const Gtkw g = read_gtkw(gtkw_path_for(vcd));
  const ViewWindow w = choose_view(vcd);
  ASSERT_TRUE(w.findings.empty()) << w.reason;
  EXPECT_EQ(g.timestart, static_cast<long>(w.start_ps));
  EXPECT_NEAR(shown_width(g), static_cast<double>(w.end_ps - w.start_ps),
              0.01 * static_cast<double>(w.end_ps - w.start_ps));
  EXPECT_EQ(g.marker, -1);
  EXPECT_EQ(g.named, std::vector<long>(26, -1));
  EXPECT_TRUE(g.markernames.empty());
  // Steady state: after the driver's first buffers (PCI probing is over) and
  // kSteadyLaps laps of the queue the reason names (one lap = queue_size used slots).
  VcdReader reader(vcd);
  RingEventDecoder dec(reader);
  std::map<std::string, uint64_t> used_in_window;
  uint64_t first_avail = 0;
  RingEvent e;
  while (dec.next(e)) {
    if (e.kind == EventKind::avail_published && !first_avail) first_avail = e.time_ps;
    if (e.kind == EventKind::used_written && e.time_ps > w.start_ps && e.time_ps <= w.end_ps)
      used_in_window[queue_name(e.queue)] += e.count;
  }
  EXPECT_GT(w.start_ps, first_avail);
  const std::string lap_queue = w.reason.substr(w.reason.find(" laps of ") + 9, 3);
  const uint64_t size = dec.queues()[lap_queue == "rx0" ? 0 : 1].size;
  EXPECT_GE(used_in_window[lap_queue], kSteadyLaps * size - size / 2) << w.reason;
  EXPECT_LE(used_in_window[lap_queue], kSteadyLaps * size + size / 2) << w.reason;
  // The monitor first; driver and device apart; agents by name.
  ASSERT_FALSE(g.groups.empty());
  EXPECT_EQ(g.groups.front(), "monitor");
  EXPECT_EQ(g.shown.front(), "monitor/violations");
  for (const char* n : {"tx0/driver/last_used_idx", "tx0/device/last_used_idx", "tx0/driver_area/off_wrap",
                        "tx0/device_area/off_wrap", "memory/driver_vcpu0/store_buffer_depth",
                        "memory/vhost_worker0/store_buffer_depth"})
    EXPECT_TRUE(has(g.shown, n)) << n;
  EXPECT_TRUE(has(g.groups, "tx0.driver") && has(g.groups, "tx0.device"));
}

TEST(WavesRun, FindingIsInViewAndMarkedByRule) {
  const auto r = run_virtiosim(
      "run --quiet --set ordering=weak --set fault.drop_barriers=device_avail_read --strict --vcd "
      "%D/bad.vcd");
  ASSERT_EQ(r.exit_code, 1) << r.output;
  const std::string first_rule = r.report.get_child("monitor.first").front().second.get<std::string>("rule");
  const std::string vcd = (r.dir / "bad.vcd").string();
  const Gtkw g = read_gtkw(gtkw_path_for(vcd));
  const ViewWindow w = choose_view(vcd);
  ASSERT_FALSE(w.findings.empty());
  EXPECT_EQ(w.findings.front().rule_name, first_rule);
  EXPECT_EQ(g.marker, static_cast<long>(w.findings.front().time_ps));
  ASSERT_EQ(g.named.size(), 26u);
  EXPECT_EQ(g.named[0], g.marker);
  ASSERT_FALSE(g.markernames.empty());
  EXPECT_EQ(g.markernames[0], "A" + first_rule);
  EXPECT_EQ(g.markernames.size(), std::min<size_t>(26, w.findings.size()));
  EXPECT_LT(g.timestart, g.marker);
  EXPECT_GT(static_cast<double>(g.timestart) + shown_width(g), static_cast<double>(g.marker));
  EXPECT_EQ(g.groups.front(), "monitor");
}

// A triggered window (--vcd-window-us, waves/record/vcd_writer.h): the
// file's first time (its $dumpvars: the state at the window's start) and its
// last timestamp (the window's end), from the text, as GTKWave reads them.
struct Span {
  uint64_t start = 0, end = 0;
};
Span span_of(const std::string& vcd) {
  const std::string text = slurp(vcd);
  Span s;
  const size_t first = text.find("\n#", text.find("$enddefinitions"));
  const size_t last = text.rfind("\n#");
  if (first == std::string::npos) return s;
  s.start = std::stoull(text.substr(first + 2));
  s.end = std::stoull(text.substr(last + 2));
  return s;
}

constexpr uint64_t kSamplePs = 100'000;  // vcd_sample_ns's default: a finding shows at the next sample

// fault.unmap_in_flight: the waves name the driver's unmap first, at the
// sample after it, then the device's ring error (outside the rule list:
// ring.error), which the controller reports as it stops the run: the last
// sample, at the run's end.
TEST(WavesRun, UnmapInFlightShowsTheDriversRuleThenTheDevicesError) {
  const auto r = run_virtiosim("run --quiet --packets 200 --set iommu=1 --set fault.unmap_in_flight=5 --vcd %D/u.vcd");
  ASSERT_EQ(r.exit_code, 1) << r.output;
  const std::vector<Finding> findings = read_findings((r.dir / "u.vcd").string());
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[0].rule_name, "dma.unmap_in_flight");
  EXPECT_EQ(findings[1].rule_name, "ring.error");
  std::vector<uint64_t> found_ps;
  for (const auto& [k, v] : r.report.get_child("monitor.first"))
    found_ps.push_back(static_cast<uint64_t>(std::llround(v.get<double>("time_ns") * 1000)));
  ASSERT_EQ(found_ps.size(), 2u);
  EXPECT_GE(findings[0].time_ps, found_ps[0]);
  EXPECT_LT(findings[0].time_ps, found_ps[0] + kSamplePs);
  EXPECT_GE(findings[1].time_ps, found_ps[1]);
  EXPECT_EQ(findings[1].time_ps, static_cast<uint64_t>(std::llround(r.get<double>("sim_time_ns") * 1000)));
}

// A fault late in the run: the window holds the monitor's first finding,
// reaches back one window before it and half a window after, and the
// monitor's step shows in it; the same seed gives the same bytes.
TEST(WavesRun, WindowHoldsALateFindingAndNoMore) {
  const std::string args =
      "run --quiet --packets 4000 --set fault.corrupt_used=write_order --set fault.corrupt_used_at=3300 "
      "--vcd-window-us 100 --vcd %D/w.vcd";
  const auto r = run_virtiosim(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_FALSE(r.report.get_child("monitor.first").empty()) << "the injected fault was not found";
  const uint64_t found_ps =
      static_cast<uint64_t>(std::llround(r.report.get_child("monitor.first").front().second.get<double>("time_ns") * 1000));
  ASSERT_GT(found_ps, 1'000'000'000u) << "the fault is late in the run";
  const std::string vcd = (r.dir / "w.vcd").string();
  const std::vector<Finding> findings = read_findings(vcd);
  ASSERT_FALSE(findings.empty());
  EXPECT_GE(findings.front().time_ps, found_ps);
  EXPECT_LT(findings.front().time_ps, found_ps + kSamplePs);
  EXPECT_EQ(findings.front().rule_name, r.report.get_child("monitor.first").front().second.get<std::string>("rule"));
  const uint64_t trigger = findings.front().time_ps;
  const Span s = span_of(vcd);
  EXPECT_EQ(s.start, trigger - 100'000'000);  // one window before the sample that saw the finding
  EXPECT_EQ(s.end, trigger + 50'000'000);     // and half a window after it
  EXPECT_LT(s.end, static_cast<uint64_t>(r.get<double>("sim_time_ns") * 1000)) << "the run went on past the window";
  // The ring state at the window's start is the decoder's baseline: ring
  // events follow it, none at the start itself, each at most a ring's worth.
  VcdReader reader(vcd);
  RingEventDecoder dec(reader);
  size_t events = 0;
  RingEvent e;
  while (dec.next(e)) {
    ++events;
    EXPECT_GT(e.time_ps, s.start) << queue_name(e.queue);
    EXPECT_LE(e.time_ps, s.end);
    EXPECT_LE(e.count, dec.queues()[e.queue].size) << queue_name(e.queue) << " at " << e.time_ps;
  }
  EXPECT_GT(events, 100u);
  const auto again = run_virtiosim(args);
  EXPECT_EQ(slurp(vcd), slurp(again.dir / "w.vcd"));
}

// Without a finding the window is the run's last N us, deterministic too.
TEST(WavesRun, WindowWithoutFindingIsTheRunsEnd) {
  const std::string args = "run --quiet --packets 3000 --vcd-window-us 50 --vcd %D/l.vcd";
  const auto r = run_virtiosim(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string vcd = (r.dir / "l.vcd").string();
  const uint64_t end = static_cast<uint64_t>(std::llround(r.get<double>("sim_time_ns") * 1000));
  const Span s = span_of(vcd);
  EXPECT_EQ(s.end, end);
  EXPECT_EQ(s.start, end - 50'000'000);
  EXPECT_TRUE(read_findings(vcd).empty());
  const auto again = run_virtiosim(args);
  EXPECT_EQ(slurp(vcd), slurp(again.dir / "l.vcd"));
}

// GTKWave itself (under a virtual X server) opens the save file where it
// says, with the markers and the names a reader sees.
TEST(WavesRun, GtkwaveOpensTheSaveFileAsWritten) {
  if (std::system("command -v xvfb-run > /dev/null && command -v gtkwave > /dev/null") != 0)
    GTEST_SKIP() << "needs xvfb-run (package xvfb) and gtkwave";
  const auto r = run_virtiosim(
      "run --quiet --set ordering=weak --set fault.drop_barriers=device_avail_read --strict --vcd "
      "%D/bad.vcd");
  ASSERT_EQ(r.exit_code, 1) << r.output;
  const std::string gtkw = gtkw_path_for((r.dir / "bad.vcd").string()), seen = (r.dir / "seen.txt").string();
  const std::string tcl = (r.dir / "probe.tcl").string();
  std::ofstream(tcl) << "set f [open " << seen << " w]\n"
                     << "puts $f \"start [gtkwave::getWindowStartTime]\"\n"
                     << "puts $f \"marker [gtkwave::getMarker]\"\n"
                     << "puts $f \"A [gtkwave::getNamedMarker A]\"\n"
                     << "puts $f \"zoom [gtkwave::getZoomFactor]\"\n"
                     << "for {set i 0} {$i < [gtkwave::getTotalNumTraces]} {incr i} "
                        "{ puts $f \"trace [gtkwave::getTraceNameFromIndex $i]\" }\n"
                     << "close $f\ngtkwave::/File/Quit\n";
  ASSERT_EQ(
      std::system(("timeout 60 xvfb-run -a gtkwave -S " + tcl + " " + gtkw + " > /dev/null 2>&1").c_str()),
      0);
  const Gtkw g = read_gtkw(gtkw);
  std::istringstream in(slurp(seen));
  std::map<std::string, std::string> got;
  std::vector<std::string> traces;
  for (std::string key, value; in >> key && std::getline(in, value);)
    key == "trace" ? traces.push_back(value.substr(1)) : void(got[key] = value.substr(1));
  EXPECT_EQ(got["start"], std::to_string(g.timestart));
  EXPECT_EQ(got["marker"], std::to_string(g.marker));
  EXPECT_EQ(got["A"], std::to_string(g.named.at(0)));
  // The zoom as written (the width it shows depends on the window GTKWave gets).
  EXPECT_NEAR(std::stod(got["zoom"]), g.zoom, 1e-4);
  ASSERT_GT(traces.size(), 2u);
  EXPECT_EQ(traces[0], "monitor");  // the group comes first
  EXPECT_EQ(traces[1], "monitor/violations");
  EXPECT_TRUE(has(traces, "tx0/driver/last_used_idx") && has(traces, "tx0/device/last_used_idx"));
}

// Every variable's value changes, by name: what a reader of the file sees.
std::map<std::string, std::vector<std::pair<uint64_t, uint64_t>>> changes(const std::string& vcd) {
  VcdReader r(vcd);
  std::map<std::string, std::vector<std::pair<uint64_t, uint64_t>>> out;
  for (const VcdVar& v : r.vars()) out[v.name + v.range];
  VcdChange c;
  while (r.next(c)) {
    auto& list = out[r.vars()[c.var].name + r.vars()[c.var].range];
    if (list.empty() || list.back().second != c.value) list.push_back({c.time, c.value});
  }
  return out;
}

TEST(WavesRun, FstReadsBackAsTheSameWaves) {
  if (std::system("command -v fst2vcd > /dev/null") != 0)
    GTEST_SKIP() << "fst2vcd (package gtkwave) not installed";
  const auto v = run_virtiosim("run --quiet --packets 2000 --vcd %D/w.vcd");
  const auto f = run_virtiosim("run --quiet --packets 2000 --fst %D/w.fst");
  const auto x = run_virtiosim("run --quiet --packets 2000 --vcd %D/x.fst");  // by extension
  ASSERT_EQ(v.exit_code, 0) << v.output;
  ASSERT_EQ(f.exit_code, 0) << f.output;
  ASSERT_EQ(x.exit_code, 0) << x.output;
  const std::string fst = (f.dir / "w.fst").string(), back = (f.dir / "back.vcd").string();
  EXPECT_FALSE(std::filesystem::exists(fst + ".vcd"));  // the intermediate VCD is gone
  EXPECT_EQ(slurp(fst), slurp(x.dir / "x.fst"));        // --fst and --vcd FILE.fst: the same bytes
  EXPECT_LT(std::filesystem::file_size(fst) * 4, std::filesystem::file_size(v.dir / "w.vcd"));
  EXPECT_EQ(read_gtkw(gtkw_path_for(fst)).dumpfile,
            std::filesystem::absolute(fst).lexically_normal().string());
  ASSERT_EQ(std::system(("fst2vcd " + fst + " > " + back + " 2>/dev/null").c_str()), 0);
  const auto want = changes((v.dir / "w.vcd").string()), got = changes(back);
  EXPECT_EQ(got.size(), want.size());
  for (const auto& [name, list] : want) {
    ASSERT_TRUE(got.count(name)) << name;
    EXPECT_EQ(got.at(name), list) << name;
  }
}

TEST(WavesRun, PerfettoCountsWhatTheReportCounts) {
  const auto r = run_virtiosim(
      "run --quiet --packets 3000 --set notification_data=1 --set fault.corrupt_kick_data_every=5 --vcd "
      "%D/p.vcd");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ostringstream out;
  const PerfettoStats s = write_perfetto((r.dir / "p.vcd").string(), out);
  const nlohmann::json doc = nlohmann::json::parse(out.str());  // throws if it is not JSON
  std::map<std::string, uint64_t> counts;
  std::vector<std::string> threads, counters;
  for (const auto& e : doc.at("traceEvents")) {
    const std::string ph = e.at("ph");
    if (ph == "M" && e.at("name") == "thread_name") threads.push_back(e.at("args").at("name"));
    if (ph == "C") counters.push_back(e.at("name"));
    if (ph != "i") continue;
    ASSERT_TRUE(e.contains("ts") && e.contains("tid")) << e.dump();
    counts[e.value("cat", "") == "finding" ? std::string("finding") : std::string(e.at("name"))] +=
        e.at("args").at("count").get<uint64_t>();
  }
  EXPECT_EQ(doc.at("traceEvents").size(), s.events);
  EXPECT_EQ(counts["kick"], r.get<uint64_t>("kicks.issued"));
  EXPECT_EQ(counts["interrupt"], r.get<uint64_t>("interrupts.handled"));
  EXPECT_EQ(counts["finding"], r.get<uint64_t>("monitor.violations"));
  EXPECT_GT(counts["finding"], 0u);
  EXPECT_EQ(counts["kick"], s.kicks);
  for (const char* t : {"monitor", "rx0", "tx0"}) EXPECT_TRUE(has(threads, t)) << t;
  for (const char* c :
       {"driver_vcpu0 store-buffer depth", "vhost_worker0 store-buffer depth", "tx0 in flight"})
    EXPECT_TRUE(has(counters, c)) << c;
}

}  // namespace
}  // namespace virtiosim::waves
