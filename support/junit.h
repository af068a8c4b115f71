// JUnit XML, the test-report format every CI system reads (Jenkins,
// GitLab, GitHub test reporters): one <testsuite> of <testcase>s, each
// passed, failed (with a message and the evidence as text), in error or
// skipped. Written with pugixml (Debian libpugixml-dev), so escaping and
// encoding are a library's job, not ours.
//
// Used by `virtiosim vhost-user check` (one case per scenario) and
// `virtiosim run --junit` (one case per rule the monitor checks).
#pragma once

#include <string>
#include <vector>

namespace virtiosim::junit {

enum class Outcome { passed, failure, error, skipped };

struct TestCase {
  std::string classname;  // a group: the rule family, the scenario's area
  std::string name;
  double seconds = 0;
  Outcome outcome = Outcome::passed;
  std::string message;  // one line: why it failed, errored or was skipped
  std::string text;     // the evidence, any length
};

struct TestSuite {
  std::string name;
  std::vector<TestCase> cases;
  std::string system_out;  // optional: what the run printed
};

// The document as text (UTF-8, with the XML declaration).
std::string to_xml(const TestSuite& suite);
// Writes `suite` to `path`; false (and `error` set) if the file cannot be written.
bool write(const TestSuite& suite, const std::string& path, std::string& error);

}  // namespace virtiosim::junit
