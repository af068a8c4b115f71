// `virtiosim vhost-user check`: runs the conformance catalogue against a
// vhost-user back-end listening on a Unix socket, scenario by scenario,
// each on a fresh connection and each followed by a fresh connection that
// must still move traffic.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace virtiosim::vhost_user::check {

struct CheckOptions {
  std::string socket_path;
  bool echo = false;                   // --mode echo: frames come back on RX
  std::vector<std::string> scenarios;  // names or globs; empty: all
  std::string junit_path, json_path;
  std::string expect_path;  // known verdicts: "NAME VERDICT" per line, '#' comments
  uint32_t timeout_ms = 2000;
  uint32_t settle_ms = 150;
  bool list = false;  // print the catalogue and exit
  bool quiet = false; // no line per scenario, only the summary
};

// Exit codes: 0 every verdict accepted (or as --expect says), 1 some not,
// 2 bad arguments (also: an --expect line naming no scenario, a file not
// writable).
inline constexpr int kCheckPassed = 0, kCheckFailed = 1, kCheckBadArguments = 2;

int run_check(const CheckOptions& o);

}  // namespace virtiosim::vhost_user::check
