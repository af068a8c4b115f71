#include "sim/cli.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "sim/config.h"
#include "sim/platform.h"

namespace virtiosim::sim {

namespace {

constexpr const char* kRunUsage =
    "usage: virtiosim run [--config FILE.json] [--set key=value ...] [--ring packed|split]\n"
    "                     [--queue-size N] [--packets N] [--seed N] [--vcd FILE] [--report FILE] [--strict] [--quiet]\n"
    "Simulates the guest driver, virtio-PCI transport and vhost-net device; prints a summary,\n"
    "writes the JSON report (--report) and VCD waves (--vcd). `virtiosim params` lists every key.\n"
    "--strict: a conformance-monitor violation fails the run.\n"
    "Exit codes: 0 ok, 1 the run found errors, 2 bad arguments or configuration.\n";

constexpr const char* kParamsUsage =
    "usage: virtiosim params [--json]\n"
    "Every parameter of `virtiosim run`: key, unit, default and why; --json for machines.\n";

bool write_file(const std::string& path, const std::string& text) {
  const std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  std::ofstream out(path, std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

}  // namespace

int run_main(int argc, char** argv) {
  Config cfg;
  RunOptions opt;
  opt.progress = true;
  std::string report_path;
  bool quiet = false;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw ConfigError("", a + " needs a value");
        return argv[++i];
      };
      if (a == "--config") cfg.load_json_file(next());
      else if (a == "--set") {
        const std::string kv = next();
        const size_t eq = kv.find('=');
        if (eq == std::string::npos) throw ConfigError("", "--set takes key=value, got '" + kv + "'");
        cfg.set(kv.substr(0, eq), kv.substr(eq + 1));
      } else if (a == "--ring") cfg.set("ring", next());
      else if (a == "--queue-size") cfg.set("queue_size", next());
      else if (a == "--packets") cfg.set("packets", next());
      else if (a == "--seed") cfg.set("seed", next());
      else if (a == "--vcd") opt.vcd_path = next();
      else if (a == "--report") report_path = next();
      else if (a == "--quiet") quiet = true, opt.progress = false;
      else if (a == "--strict") cfg.set("monitor.strict", "1");
      else if (a == "--help" || a == "-h") return std::fputs(kRunUsage, stdout), 0;
      else throw ConfigError("", "unknown option '" + a + "'");
    }
    cfg.validate();
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "virtiosim run: %s\n%s", e.what(), kRunUsage);
    return 2;
  }
  if (!opt.vcd_path.empty()) {
    const std::filesystem::path p(opt.vcd_path);
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  }
  const RunOutcome out = run(cfg, opt);
  if (!report_path.empty() && !write_file(report_path, out.report_json)) {
    std::fprintf(stderr, "virtiosim run: cannot write %s\n", report_path.c_str());
    return 1;
  }
  if (!quiet) {
    std::fputs(out.summary.c_str(), stdout);
    if (!report_path.empty()) std::printf("  report: %s\n", report_path.c_str());
    if (!opt.vcd_path.empty()) std::printf("  waves: %s\n", opt.vcd_path.c_str());
  }
  return out.ok ? 0 : 1;
}

int params_main(int argc, char** argv) {
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::fputs(kParamsUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "virtiosim params: unknown option '%s'\n%s", argv[i], kParamsUsage);
      return 2;
    }
  }
  Config cfg;
  if (json) std::puts("[");
  bool first = true;
  for (Config::Param& p : cfg.params()) {
    if (json) {
      std::printf("%s  {\"key\": \"%s\", \"unit\": \"%s\", \"default\": \"%s\", \"accepted\": \"%s\", \"why\": \"%s\"}",
                  first ? "" : ",\n", p.key.c_str(), p.unit.c_str(), p.get().c_str(), p.accepted.c_str(), p.why.c_str());
      first = false;
    } else {
      std::printf("%-34s %-10s %-12s %s\n", p.key.c_str(), p.unit.c_str(), p.get().c_str(), p.why.c_str());
    }
  }
  if (json) std::puts("\n]");
  return 0;
}

}  // namespace virtiosim::sim
