#include "sim/report/junit_cases.h"

#include <algorithm>
#include <cstdio>

namespace virtiosim::sim {

namespace {

// The rule's family: "P10" of "P10.lost_kick", "watchdog" of "watchdog.stall".
std::string family(const std::string& rule) { return rule.substr(0, rule.find('.')); }

std::string evidence(const Violation& v) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "t=%.3f ns queue=%s agent=%u addr=0x%llx got=0x%llx expected=0x%llx: ",
                double(v.time_ps) / 1000, v.queue.empty() ? "-" : v.queue.c_str(), v.agent,
                static_cast<unsigned long long>(v.addr), static_cast<unsigned long long>(v.value_read),
                static_cast<unsigned long long>(v.value_expected));
  return buf + v.what + "\n";
}

bool listed(const std::string& rule) {
  const std::vector<MonitorRule>& rules = monitor_rules();
  return std::any_of(rules.begin(), rules.end(), [&](const MonitorRule& r) { return rule == r.id; });
}

// Findings of `rule` ("ring.error": of any rule outside the list) as one
// case; `count` is how many the monitor counted (it keeps the first ones).
junit::TestCase rule_case(const RunFigures& run, const std::string& rule, const std::string& description,
                          uint64_t count) {
  junit::TestCase c{family(rule), rule, 0, junit::Outcome::passed, "", ""};
  const std::vector<std::string> off = run.cfg.monitor.disabled_rules();
  if (std::find(off.begin(), off.end(), rule) != off.end()) {
    c.outcome = junit::Outcome::skipped;
    c.message = "switched off (monitor.disable)";
    return c;
  }
  const bool other = rule == "ring.error";
  uint64_t kept = 0;
  for (const Violation& v : run.monitor.first)
    if (other ? !listed(v.rule) : v.rule == rule) {
      if (c.text.empty()) c.message = v.rule + ": " + v.what;
      c.text += evidence(v);
      ++kept;
    }
  count = std::max(count, kept);
  if (count == 0) return c;
  c.outcome = junit::Outcome::failure;
  c.message = std::to_string(count) + (count == 1 ? " finding (" : " findings (") + description + "); first " +
              c.message;
  if (kept < count) c.text += "... " + std::to_string(count - kept) + " more not kept\n";
  return c;
}

}  // namespace

junit::TestSuite junit_cases(const RunFigures& run, const Verdict& verdict) {
  junit::TestSuite s{"virtiosim run (seed " + std::to_string(run.cfg.seed) + ")", {}, ""};
  for (const MonitorRule& r : monitor_rules()) {
    uint64_t n = 0;
    for (const auto& [rule, count] : run.monitor.by_rule)
      if (rule == r.id) n = count;
    s.cases.push_back(rule_case(run, r.id, r.description, n));
  }
  s.cases.push_back(rule_case(run, "ring.error", "a ring error the rule list does not name", 0));
  junit::TestCase v{"run", "run.verdict", 0, junit::Outcome::passed, "", ""};  // times stay out: same run, same XML
  if (!verdict.ok) {
    v.outcome = junit::Outcome::failure;
    v.message = verdict.errors.empty() ? "failed" : verdict.errors.front();
    for (const std::string& e : verdict.errors) v.text += e + "\n";
  }
  s.cases.push_back(v);
  return s;
}

}  // namespace virtiosim::sim
