// `virtiosim report`: a JSON report (`virtiosim run --report`) as a
// self-contained HTML page, the same page `virtiosim run --html` writes.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "sim/app/command.h"
#include "sim/app/output_file.h"
#include "sim/report/html.h"
#include "support/json_text.h"

namespace virtiosim::app {

namespace {

class ReportCommand : public Command {
 public:
  explicit ReportCommand(CLI::App& parent)
      : Command(parent, "report", "render a JSON run report (run --report) as one self-contained HTML page") {
    app->add_option("report", report_path_, "the JSON report of a run")->type_name("FILE.json")->required();
    app->add_option("--html", html_path_, "write the page to FILE")->type_name("FILE")->required();
    app->footer(std::string("The page needs no network: its CSS, script and SVG are inline.\n") + kExitCodes);
  }

  int run() override {
    std::ifstream in(report_path_);
    if (!in) return bad_arguments("cannot read " + report_path_);
    std::string page;
    try {
      page = sim::render_html(json::Json::parse(in));
    } catch (const json::Json::exception& e) {
      return bad_arguments(report_path_ + " is not a virtiosim run report: " + e.what());
    }
    if (!write_output(html_path_, page)) {
      std::fprintf(stderr, "%s: cannot write %s\n", full_name.c_str(), html_path_.c_str());
      return kFailed;
    }
    return kOk;
  }

 private:
  std::string report_path_, html_path_;
};

}  // namespace

std::unique_ptr<Command> add_report_command(CLI::App& parent) { return std::make_unique<ReportCommand>(parent); }

}  // namespace virtiosim::app
