// `virtiosim run`: one simulation from a configuration.
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/app/command.h"
#include "sim/app/output_file.h"
#include "sim/config.h"
#include "sim/platform.h"
#include "sim/report/html.h"
#include "support/json_text.h"

namespace virtiosim::app {

namespace {

std::string joined(const std::vector<std::string>& errors) {
  std::string s;
  for (const std::string& e : errors) s += (s.empty() ? "" : "; ") + e;
  return s.empty() ? "no reason given" : s;
}

class RunCommand : public Command {
 public:
  explicit RunCommand(CLI::App& parent)
      : Command(parent, "run", "simulate the guest driver, virtio-PCI transport and vhost-net device") {
    // Configuration options apply in command-line order: a later one wins.
    ordered("--config", "FILE.json", "load parameters from a JSON object (nested objects flatten to dotted keys)",
            [this](const std::string& v) { cfg_.load_json_file(v); });
    set_ = ordered("--set", "KEY=VALUE", "set one parameter (repeatable; `virtiosim params` lists them)",
            [this](const std::string& kv) {
              const size_t eq = kv.find('=');
              if (eq == std::string::npos) throw sim::ConfigError("", "--set takes key=value, got '" + kv + "'");
              cfg_.set(kv.substr(0, eq), kv.substr(eq + 1));
            });
    ordered("--ring", "packed|split", "ring layout (--set ring=...)", [this](const std::string& v) { cfg_.set("ring", v); });
    ordered("--queue-size", "N", "entries per virtqueue (--set queue_size=...)",
            [this](const std::string& v) { cfg_.set("queue_size", v); });
    ordered("--packets", "N", "frames to send (--set packets=...)", [this](const std::string& v) { cfg_.set("packets", v); });
    ordered("--seed", "N", "seed of every random choice (--set seed=...)",
            [this](const std::string& v) { cfg_.set("seed", v); });
    app->add_flag_function(
           "--strict",
           [this](int64_t) { settings_.push_back([this] { cfg_.set("monitor.strict", "1"); }); },
           "a conformance-monitor violation fails the run (--set monitor.strict=1)")
        ->trigger_on_parse();
    CLI::Option* vcd =
        app->add_option("--vcd", opt_.vcd_path, "write VCD waves to FILE (and FILE.gtkw next to it); FILE.fst: FST")
            ->type_name("FILE");
    fst_ = app->add_option("--fst", opt_.vcd_path,
                    "write FST waves to FILE (GTKWave's compressed format, ~13x smaller; converted with vcd2fst) "
                    "and FILE.gtkw next to it")
        ->type_name("FILE")
        ->excludes(vcd);
    ordered("--vcd-window-us", "N",
            "with --vcd/--fst: keep only a rolling window of the last N us of waves and write it at the monitor's "
            "first finding, plus N/2 us after it (or the last N us at the end): a file of at most 1.5 N us "
            "(--set vcd_window_us=...)",
            [this](const std::string& v) { cfg_.set("vcd_window_us", v); });
    app->add_option("--report", report_path_, "write the JSON report to FILE")->type_name("FILE");
    app->add_option("--html", html_path_,
                    "write the report as one self-contained HTML page to FILE (as `virtiosim report` renders it)")
        ->type_name("FILE");
    app->add_option("--junit", junit_path_,
                    "write JUnit XML to FILE: one test case per conformance rule (failed with the findings' "
                    "evidence), one for the run's verdict")
        ->type_name("FILE");
    app->add_flag("--quiet", quiet_, "print nothing on success: no summary, no progress line");
    app->add_flag("--dry-run", dry_run_,
                  "check the configuration and that the output files can be written, then exit without "
                  "simulating (0 or 2)");
    app->add_option("--error-json", error_json_,
                    "on exit 2, write {\"exit_code\": 2, \"key\": KEY or null, \"message\": ...} to FILE: the "
                    "parameter that was refused, for programs")
        ->type_name("FILE");
    app->footer(std::string("Prints a summary, writes the JSON report (--report), an HTML page of it (--html), JUnit XML (--junit) and VCD waves (--vcd).\n"
                            "`virtiosim params` lists every key.\n") +
                kExitCodes);
  }

  int bad_arguments(const std::string& what) const override { return refuse(std::nullopt, what); }

  // --set completes with every key, "=" and all.
  std::map<const CLI::Option*, std::vector<std::string>> value_words() const override {
    std::vector<std::string> keys;
    for (const sim::Config::Param& p : sim::Config().params()) keys.push_back(p.key + "=");
    return {{set_, keys}};
  }

  int run() override {
    try {
      for (const auto& apply : settings_) apply();
      cfg_.validate();
    } catch (const sim::ConfigError& e) {
      return refuse(e.key().empty() ? std::nullopt : std::optional<std::string>(e.key()), e.what());
    }
    for (const auto& [option, path] : {std::pair<const char*, const std::string&>{"--report", report_path_},
                                       {"--junit", junit_path_}, {"--html", html_path_},
                                       {fst_->count() ? "--fst" : "--vcd", opt_.vcd_path}})
      if (const std::string why = path.empty() ? "" : unwritable(path); !why.empty())
        return refuse(std::nullopt, std::string(option) + " " + path + ": cannot write: " + why);
    if (dry_run_) return kOk;
    opt_.progress = !quiet_;
    const sim::RunOutcome out = sim::run(cfg_, opt_);
    if (!report_path_.empty() && !write_output(report_path_, out.report_json)) {
      std::fprintf(stderr, "virtiosim run: cannot write %s\n", report_path_.c_str());
      return kFailed;
    }
    // The page is rendered from the report's JSON text, the way `virtiosim report` reads it back.
    if (!html_path_.empty() && !write_output(html_path_, sim::render_html(json::Json::parse(out.report_json)))) {
      std::fprintf(stderr, "virtiosim run: cannot write %s\n", html_path_.c_str());
      return kFailed;
    }
    if (std::string error; !junit_path_.empty() && !write_junit(out.junit, error)) {
      std::fprintf(stderr, "virtiosim run: %s\n", error.c_str());
      return kFailed;
    }
    if (!quiet_) {
      std::fputs(out.summary.c_str(), stdout);
      if (!report_path_.empty()) std::printf("  report: %s\n", report_path_.c_str());
      if (!html_path_.empty()) std::printf("  html: %s\n", html_path_.c_str());
      if (!opt_.vcd_path.empty()) std::printf("  waves: %s\n", opt_.vcd_path.c_str());
      if (!junit_path_.empty()) std::printf("  junit: %s\n", junit_path_.c_str());
    }
    // Why a run failed is said on stderr, with --quiet too.
    if (!out.ok) std::fprintf(stderr, "virtiosim run: failed: %s\n", joined(out.errors).c_str());
    return out.ok ? kOk : kFailed;
  }

 private:
  CLI::Option* ordered(const std::string& name, const std::string& type, const std::string& help,
                       std::function<void(const std::string&)> apply) {
    return app->add_option_function<std::string>(
           name, [this, apply](const std::string& v) { settings_.push_back([apply, v] { apply(v); }); }, help)
        ->type_name(type)
        ->trigger_on_parse();
  }

  bool write_junit(const junit::TestSuite& suite, std::string& error) const {
    make_parent(junit_path_);
    return junit::write(suite, junit_path_, error);
  }

  // Exit 2 naming what was refused; with --error-json, the same for programs.
  int refuse(const std::optional<std::string>& key, const std::string& what) const {
    std::fprintf(stderr, "virtiosim run: %s\nRun with --help for more information.\n", what.c_str());
    if (!error_json_.empty()) {
      const json::Json doc = {{"exit_code", kBadArguments},
                              {"key", key ? json::Json(*key) : json::Json(nullptr)},
                              {"message", what}};
      if (!write_output(error_json_, json::dump(doc) + "\n"))
        std::fprintf(stderr, "virtiosim run: cannot write %s\n", error_json_.c_str());
    }
    return kBadArguments;
  }

  sim::Config cfg_;
  sim::RunOptions opt_;
  std::vector<std::function<void()>> settings_;
  std::string report_path_, html_path_, junit_path_, error_json_;
  bool quiet_ = false, dry_run_ = false;
  CLI::Option* set_ = nullptr;
  CLI::Option* fst_ = nullptr;
};

}  // namespace

std::unique_ptr<Command> add_run_command(CLI::App& parent) { return std::make_unique<RunCommand>(parent); }

}  // namespace virtiosim::app
