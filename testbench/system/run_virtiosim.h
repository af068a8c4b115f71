// Runs the `virtiosim` command in its own process (a SystemC kernel
// elaborates once per process) and reads back its JSON report.
#pragma once

#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace virtiosim::testing {

struct SimRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
  boost::property_tree::ptree report;
  std::filesystem::path dir;
  std::string report_text;

  template <class T = double>
  T get(const std::string& path) const { return report.get<T>(path); }
};

inline std::filesystem::path fresh_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "virtiosim-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// `args` are appended to `virtiosim`; a report is requested into a fresh
// directory unless `with_report` is false.
inline SimRun run_virtiosim(const std::string& args, bool with_report = true) {
  SimRun r;
  r.dir = fresh_dir();
  const std::filesystem::path report = r.dir / "report.json", out = r.dir / "output.txt";
  std::string cmd = std::string(VIRTIOSIM_BIN) + " " + args;
  if (with_report) cmd += " --report " + report.string();
  cmd += " > " + out.string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.output = slurp(out);
  if (with_report && std::filesystem::exists(report)) {
    r.report_text = slurp(report);
    std::istringstream in(r.report_text);
    boost::property_tree::read_json(in, r.report);
  }
  return r;
}

}  // namespace virtiosim::testing
