#include "waves/record/gtkw.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "waves/read/vcd_reader.h"
#include "waves/signals.h"

namespace virtiosim::waves {

namespace {

// GTKWave trace flags (gtkwave analyzer.h): display format and groups.
constexpr unsigned kHex = 0x2, kDec = 0x4, kBin = 0x8, kRightJustify = 0x20, kBlank = 0x200,
                   kFileTranslated = 0x2000, kGroupBegin = 0x800000, kGroupEnd = 0x1000000;

std::string hex(unsigned v) {
  char b[16];
  std::snprintf(b, sizeof b, "%x", v);
  return b;
}

std::string base_of(const std::string& vcd) {
  return vcd.size() > 4 && vcd.compare(vcd.size() - 4, 4, ".vcd") == 0 ? vcd.substr(0, vcd.size() - 4) : vcd;
}

// Where a signal goes in a queue's group: driver, device, areas, notifications, shape.
int rank(const std::string& rest) {
  static const char* order[] = {"driver.", "device.", "driver_area.", "device_area.", "kick", "interrupt", ""};
  for (int i = 0; i < 7; ++i)
    if (rest.compare(0, std::char_traits<char>::length(order[i]), order[i]) == 0) return i;
  return 7;
}

bool packed_layout(VcdReader& r) {
  // The tracer's `packed` signals are constant: their $dumpvars value says.
  VcdChange c;
  while (r.next(c)) {
    if (c.time > 0) break;
    const std::string& n = r.vars()[c.var].name;
    if (n.size() > 7 && n.compare(n.size() - 7, 7, ".packed") == 0) return c.value != 0;
  }
  return true;
}

}  // namespace

std::string gtkw_path_for(const std::string& vcd_path) { return base_of(vcd_path) + ".gtkw"; }

std::vector<std::string> write_gtkw(const std::string& vcd_path, const std::vector<std::string>& rule_names) {
  VcdReader reader(vcd_path);
  const std::vector<VcdVar> vars = reader.vars();
  const bool packed = packed_layout(reader);
  const std::string base = base_of(vcd_path);
  const std::string gtkw = base + ".gtkw";
  const std::string drv_filter = base + ".driver_area_flags.txt", dev_filter = base + ".device_area_flags.txt";
  const std::string rule_filter = base + ".monitor_rules.txt";
  const bool rules_named = !rule_names.empty() || std::filesystem::exists(rule_filter);

  // Group by the scope below the top one ("SystemC.rx0.driver.x" -> "rx0").
  std::map<std::string, std::vector<const VcdVar*>> groups;
  std::vector<std::string> group_order;
  for (const VcdVar& v : vars) {
    const size_t a = v.name.find('.');
    const size_t b = a == std::string::npos ? a : v.name.find('.', a + 1);
    const std::string g = b == std::string::npos ? "signals" : v.name.substr(a + 1, b - a - 1);
    if (!groups.count(g)) group_order.push_back(g);
    groups[g].push_back(&v);
  }
  // Queues in virtqueue order (rx0, tx0, rx1, ...), then everything else.
  auto queue_key = [](const std::string& g) -> long {
    if (g.size() < 3 || (g.compare(0, 2, "rx") && g.compare(0, 2, "tx"))) return 1L << 40;
    return 2 * std::atol(g.c_str() + 2) + (g[0] == 't');
  };
  std::stable_sort(group_order.begin(), group_order.end(),
                   [&](const std::string& x, const std::string& y) { return queue_key(x) < queue_key(y); });

  const std::string abs_vcd = std::filesystem::absolute(vcd_path).lexically_normal().string();
  std::ofstream out(gtkw, std::ios::trunc);
  out << "[*] GTKWave save file written by virtiosim: one group per virtqueue\n";
  out << "[dumpfile] \"" << abs_vcd << "\"\n";
  out << "[savefile] \"" << std::filesystem::absolute(gtkw).lexically_normal().string() << "\"\n";
  out << "[timestart] 0\n[size] 1400 900\n[pos] -1 -1\n[sst_width] 240\n[signals_width] 320\n";
  bool used_filter[2] = {false, false};
  for (const std::string& g : group_order) {
    std::vector<const VcdVar*>& sigs = groups[g];
    const size_t prefix = sigs.front()->name.find(g + ".") + g.size() + 1;
    std::stable_sort(sigs.begin(), sigs.end(), [&](const VcdVar* x, const VcdVar* y) {
      return rank(x->name.substr(prefix)) < rank(y->name.substr(prefix));
    });
    out << "@" << hex(kGroupBegin | kBlank) << "\n-" << g << "\n";
    for (const VcdVar* v : sigs) {
      const std::string rest = v->name.substr(prefix);
      const int filter = rest == queue_signal::name(queue_signal::driver_area_flags)   ? 1
                         : rest == queue_signal::name(queue_signal::device_area_flags) ? 2
                         : rest == "rule" && g == "monitor" && rules_named              ? 3
                                                                                        : 0;
      unsigned flags = v->width == 1 ? (kRightJustify | kBin) : (kRightJustify | kDec);
      if (rest.find("off_wrap") != std::string::npos) flags = kRightJustify | kHex;
      if (filter) flags = kRightJustify | kDec | kFileTranslated;
      if (filter && filter < 3) used_filter[filter - 1] = true;
      out << "@" << hex(flags) << "\n";
      if (filter) {
        const std::string& file = filter == 1 ? drv_filter : filter == 2 ? dev_filter : rule_filter;
        out << "^" << filter << " " << std::filesystem::absolute(file).lexically_normal().string() << "\n";
      }
      out << v->name << v->range << "\n";
    }
    out << "@" << hex(kGroupEnd | kBlank) << "\n-" << g << "\n";
  }
  out << "[pattern_trace] 1\n[pattern_trace] 0\n";
  if (!out) throw VcdError("cannot write " + gtkw);
  std::vector<std::string> written = {gtkw};
  // Event suppression flags by name (virtio 1.2 2.7.10 packed; 2.6.7/2.6.10 split).
  auto filter_file = [&](const std::string& path, const char* text) {
    std::ofstream f(path, std::ios::trunc);
    f << text;
    if (!f) throw VcdError("cannot write " + path);
    written.push_back(path);
  };
  const char* packed_flags = "0 ENABLE\n1 DISABLE\n2 DESC\n";
  if (used_filter[0]) filter_file(drv_filter, packed ? packed_flags : "0 interrupt_wanted\n1 NO_INTERRUPT\n");
  if (used_filter[1]) filter_file(dev_filter, packed ? packed_flags : "0 notify_wanted\n1 NO_NOTIFY\n");
  // The conformance rule of the newest violation (waves/record/tracer.h: monitor.rule).
  if (!rule_names.empty()) {
    std::string text = "0 -\n";
    for (size_t i = 0; i < rule_names.size(); ++i) text += std::to_string(i + 1) + " " + rule_names[i] + "\n";
    filter_file(rule_filter, text.c_str());
  } else if (rules_named) {
    written.push_back(rule_filter);
  }
  return written;
}

}  // namespace virtiosim::waves
