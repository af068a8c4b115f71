#include "waves/record/gtkw.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "waves/read/vcd_reader.h"
#include "waves/read/view_window.h"
#include "waves/signals.h"

namespace virtiosim::waves {

namespace {

// GTKWave trace flags (gtkwave analyzer.h): display format and groups.
constexpr unsigned kDec = 0x4, kBin = 0x8, kRightJustify = 0x20, kBlank = 0x200, kFileTranslated = 0x2000,
                   kGroupBegin = 0x800000, kGroupEnd = 0x1000000;
// GTKWave's named markers A..Z (the `*` line lists one time per letter).
constexpr unsigned kNamedMarkers = 26;
// Window and pane sizes the save file asks for; the wave pane is what is
// left, in pixels, and the zoom fits the view window into it.
constexpr unsigned kWidth = 1400, kHeight = 900, kSstWidth = 240, kSignalsWidth = 340;
constexpr unsigned kWavePixels = kWidth - kSstWidth - kSignalsWidth;

std::string hex(unsigned v) {
  char b[16];
  std::snprintf(b, sizeof b, "%x", v);
  return b;
}

std::string absolute(const std::string& p) { return std::filesystem::absolute(p).lexically_normal().string(); }

// A signal's place: "SystemC.tx0.driver.last_used_idx" -> group "tx0",
// sub-group "driver", shown as "tx0.driver.last_used_idx".
struct Placed {
  const VcdVar* var;
  std::string group, sub, shown, rest;  // rest: below the group ("driver.last_used_idx")
};

Placed place(const VcdVar& v) {
  Placed p{&v, "signals", "", v.name, v.name};
  const size_t a = v.name.find('.');
  if (a == std::string::npos) return p;
  p.shown = v.name.substr(a + 1);
  const size_t b = p.shown.find('.');
  if (b == std::string::npos) return p;
  p.group = p.shown.substr(0, b);
  p.rest = p.shown.substr(b + 1);
  const size_t c = p.rest.find('.');
  if (c != std::string::npos) p.sub = p.rest.substr(0, c);
  return p;
}

// GTKWave shows a name only after its last '.' (rc hier_max_level, 1 by
// default), which made tx0.driver.last_used_idx and tx0.device.last_used_idx
// both "last_used_idx": the displayed name separates with '/'.
std::string displayed(std::string name) {
  std::replace(name.begin(), name.end(), '.', '/');
  return name;
}

// Groups: the monitor first (findings are what a reader looks for), queues
// in virtqueue order (rx0, tx0, rx1, ...), then memory and anything else.
long group_key(const std::string& g) {
  if (g == "monitor") return -1;
  if (g.size() >= 3 && (!g.compare(0, 2, "rx") || !g.compare(0, 2, "tx")))
    return 2 * std::atol(g.c_str() + 2) + (g[0] == 't');
  return 1L << 40;
}

// Within a queue: each side, then both event suppression areas, then the
// signals directly below the queue (notification counts, ring shape).
int sub_rank(const std::string& sub) {
  static const char* order[] = {"driver", "device", "driver_area", "device_area", ""};
  for (int i = 0; i < 5; ++i)
    if (sub == order[i]) return i;
  return 5;
}

bool packed_layout(VcdReader& r) {
  // The tracer's `packed` signals are constant: their $dumpvars value (at
  // the file's first time: 0, or a triggered window's start) says.
  VcdChange c;
  bool first = true;
  uint64_t start = 0;
  while (r.next(c)) {
    if (first) start = c.time, first = false;
    if (c.time > start) break;
    const std::string& n = r.vars()[c.var].name;
    if (n.size() > 7 && n.compare(n.size() - 7, 7, ".packed") == 0) return c.value != 0;
  }
  return true;
}

}  // namespace

std::string gtkw_path_for(const std::string& wave_path) { return wave_base(wave_path) + ".gtkw"; }

std::vector<std::string> write_gtkw(const std::string& vcd_path, const std::vector<std::string>& rule_names,
                                    const std::string& dump_path) {
  const std::string dump = dump_path.empty() ? vcd_path : dump_path;
  const std::string base = wave_base(dump);
  const std::string gtkw = gtkw_path_for(dump);
  const std::string drv_filter = base + ".driver_area_flags.txt", dev_filter = base + ".device_area_flags.txt";
  const std::string rule_filter = base + kMonitorRulesFileSuffix;
  std::vector<std::string> written = {gtkw};
  auto filter_file = [&](const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::trunc);
    f << text;
    if (!f) throw VcdError("cannot write " + path);
    written.push_back(path);
  };
  // The conformance rule of the newest violation (waves/record/tracer.h:
  // monitor.rule), written first: choose_view() names findings from it.
  if (!rule_names.empty()) {
    std::string text = "0 -\n";
    for (size_t i = 0; i < rule_names.size(); ++i) text += std::to_string(i + 1) + " " + rule_names[i] + "\n";
    filter_file(rule_filter, text);
  } else if (std::filesystem::exists(rule_filter)) {
    written.push_back(rule_filter);
  }
  const bool rules_named = written.size() > 1;

  VcdReader reader(vcd_path);
  const double unit_ps = reader.unit_ps();
  const bool packed = packed_layout(reader);
  const ViewWindow view = choose_view(vcd_path);
  auto units = [unit_ps](uint64_t ps) { return static_cast<long>(std::llround(static_cast<double>(ps) / unit_ps)); };

  std::map<std::string, std::vector<Placed>> groups;
  std::vector<std::string> group_order;
  for (const VcdVar& v : reader.vars()) {
    Placed p = place(v);
    if (!groups.count(p.group)) group_order.push_back(p.group);
    groups[p.group].push_back(std::move(p));
  }
  std::stable_sort(group_order.begin(), group_order.end(),
                   [](const std::string& x, const std::string& y) { return group_key(x) < group_key(y); });

  std::ofstream out(gtkw, std::ios::trunc);
  out << "[*] GTKWave save file written by virtiosim: monitor, then one group per virtqueue\n";
  out << "[*] view: " << view.reason << "\n";
  out << "[dumpfile] \"" << absolute(dump) << "\"\n";
  out << "[savefile] \"" << absolute(gtkw) << "\"\n";
  out << "[timestart] " << units(view.start_ps) << "\n";
  out << "[size] " << kWidth << " " << kHeight << "\n[pos] -1 -1\n";
  // Zoom: GTKWave shows 2^-zoom time units per pixel.
  const double per_pixel = static_cast<double>(units(view.end_ps - view.start_ps)) / kWavePixels;
  char zoom[32];
  std::snprintf(zoom, sizeof zoom, "%.6f", -std::log2(std::max(per_pixel, 1e-3)));
  out << "*" << zoom << " " << (view.findings.empty() ? -1 : units(view.findings.front().time_ps));
  std::vector<const Finding*> marked;
  for (const Finding& f : view.findings)
    if (marked.size() < kNamedMarkers) marked.push_back(&f);
  for (unsigned i = 0; i < kNamedMarkers; ++i) out << " " << (i < marked.size() ? units(marked[i]->time_ps) : -1);
  out << "\n";
  for (size_t i = 0; i < marked.size(); ++i) {
    const Finding& f = *marked[i];
    out << "[markername] " << static_cast<char>('A' + i)
        << (f.rule_name.empty() ? "rule" + std::to_string(f.rule) : f.rule_name) << "\n";
  }
  out << "[sst_width] " << kSstWidth << "\n[signals_width] " << kSignalsWidth << "\n";

  bool used_filter[2] = {false, false};
  auto group_line = [&out](unsigned flags, const std::string& label) {
    out << "@" << hex(flags | kBlank) << "\n-" << label << "\n";
  };
  for (const std::string& g : group_order) {
    std::vector<Placed>& sigs = groups[g];
    std::stable_sort(sigs.begin(), sigs.end(),
                     [](const Placed& x, const Placed& y) { return sub_rank(x.sub) < sub_rank(y.sub); });
    group_line(kGroupBegin, g);
    std::string sub;
    for (const Placed& p : sigs) {
      if (p.sub != sub) {
        if (!sub.empty()) group_line(kGroupEnd, g + "." + sub);
        sub = p.sub;
        if (!sub.empty()) group_line(kGroupBegin, g + "." + sub);
      }
      const int filter = p.rest == queue_signal::name(queue_signal::driver_area_flags)   ? 1
                         : p.rest == queue_signal::name(queue_signal::device_area_flags) ? 2
                         : g == "monitor" && p.shown == kMonitorRuleSignal && rules_named ? 3
                                                                                           : 0;
      unsigned flags = kRightJustify | (p.var->width == 1 ? kBin : kDec);
      if (filter) flags |= kFileTranslated;
      if (filter && filter < 3) used_filter[filter - 1] = true;
      out << "@" << hex(flags) << "\n";
      if (filter) out << "^" << filter << " " << absolute(filter == 1 ? drv_filter : filter == 2 ? dev_filter : rule_filter) << "\n";
      out << "+{" << displayed(p.shown) << "} " << p.var->name << p.var->range << "\n";
    }
    if (!sub.empty()) group_line(kGroupEnd, g + "." + sub);
    group_line(kGroupEnd, g);
  }
  out << "[pattern_trace] 1\n[pattern_trace] 0\n";
  if (!out) throw VcdError("cannot write " + gtkw);
  // Event suppression flags by name (virtio 1.2 2.7.10 packed; 2.6.7/2.6.10 split).
  const char* packed_flags = "0 ENABLE\n1 DISABLE\n2 DESC\n";
  if (used_filter[0]) filter_file(drv_filter, packed ? packed_flags : "0 interrupt_wanted\n1 NO_INTERRUPT\n");
  if (used_filter[1]) filter_file(dev_filter, packed ? packed_flags : "0 notify_wanted\n1 NO_NOTIFY\n");
  return written;
}

}  // namespace virtiosim::waves
