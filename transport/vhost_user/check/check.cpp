#include "transport/vhost_user/check/check.h"

#include <fnmatch.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "support/json_text.h"
#include "support/junit.h"
#include "transport/vhost_user/frontend.h"
#include "transport/vhost_user/check/observe.h"
#include "transport/vhost_user/check/scenario.h"

namespace virtiosim::vhost_user::check {

namespace {

struct Result {
  const Scenario* scenario;
  Verdict verdict;
  std::string evidence;
  double seconds;
  bool ok;  // accepted, or as expected
  std::string expected;  // the --expect verdict, if any
};

bool selected(const Scenario& s, const std::vector<std::string>& patterns) {
  if (patterns.empty()) return true;
  for (const std::string& p : patterns)
    if (fnmatch(p.c_str(), s.name.c_str(), 0) == 0) return true;
  return false;
}

Outcome run_one(const Scenario& sc, const Target& t) {
  if (sc.needs_echo && !t.echo) return {Verdict::SKIP, "needs a back-end that echoes (--mode echo)"};
  try {
    if (sc.raw) return sc.run_raw(t);
    Session s(t, sc.setup);
    return sc.run(s);
  } catch (const SetupFailure& f) {
    if (f.skip) return {Verdict::SKIP, f.detail};
    if (f.detail.rfind("cannot connect", 0) == 0) return wedged(f.detail);
    return reject("setup refused: " + f.detail);
  } catch (const std::exception& e) {
    return fail(sc.rule, std::string("checker error: ") + e.what());
  }
}

// "NAME VERDICT" lines; '#' starts a comment.
bool read_expectations(const std::string& path, const std::vector<Scenario>& all,
                       std::map<std::string, Verdict>& out, std::string& error) {
  std::ifstream f(path);
  if (!f) {
    error = "cannot read " + path;
    return false;
  }
  std::string line;
  for (int n = 1; std::getline(f, line); ++n) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string name, verdict;
    if (!(words >> name)) continue;
    Verdict v;
    if (!(words >> verdict) || !parse_verdict(verdict, v)) {
      error = path + ":" + std::to_string(n) + ": expected 'NAME VERDICT' (PASS, FAIL, REJECT, WEDGED, SKIP)";
      return false;
    }
    bool known = false;
    for (const Scenario& s : all) known |= s.name == name;
    if (!known) {
      error = path + ":" + std::to_string(n) + ": no scenario is named '" + name + "'";
      return false;
    }
    out[name] = v;
  }
  return true;
}

json::Json to_json(const std::vector<Result>& results, const std::string& socket) {
  json::Json j;
  j["socket"] = socket;
  json::Json counts;
  for (Verdict v : {Verdict::PASS, Verdict::FAIL, Verdict::REJECT, Verdict::WEDGED, Verdict::SKIP}) counts[name(v)] = 0;
  json::Json list = json::Json::array();
  for (const Result& r : results) {
    counts[name(r.verdict)] = counts[name(r.verdict)].get<int>() + 1;
    json::Json e;
    e["name"] = r.scenario->name;
    e["rule"] = r.scenario->rule;
    e["input"] = r.scenario->input == Input::valid ? "valid" : "hostile";
    e["verdict"] = name(r.verdict);
    e["accepted"] = r.ok;
    if (!r.expected.empty()) e["expected"] = r.expected;
    e["evidence"] = r.evidence;
    e["statement"] = r.scenario->statement;
    e["seconds"] = json::figure(r.seconds);
    list.push_back(e);
  }
  j["verdicts"] = counts;
  j["scenarios"] = list;
  return j;
}

junit::TestSuite to_junit(const std::vector<Result>& results) {
  junit::TestSuite suite{"virtiosim vhost-user check", {}, ""};
  for (const Result& r : results) {
    junit::TestCase c;
    c.classname = r.scenario->rule;
    c.name = r.scenario->name;
    c.seconds = r.seconds;
    const std::string line = std::string(name(r.verdict)) + ": " + r.evidence;
    if (r.verdict == Verdict::SKIP) {
      c.outcome = junit::Outcome::skipped;
      c.message = r.evidence;
    } else if (!r.ok) {
      c.outcome = junit::Outcome::failure;
      c.message = std::string(name(r.verdict)) + (r.expected.empty() ? "" : " (expected " + r.expected + ")");
      c.text = line + "\nrule " + r.scenario->rule + ": " + r.scenario->statement;
    }
    suite.cases.push_back(std::move(c));
  }
  return suite;
}

}  // namespace

int run_check(const CheckOptions& o) {
  const std::vector<Scenario> all = catalogue();
  if (o.list) {
    for (const Scenario& s : all)
      std::printf("%-44s %-6s %-7s %s\n", s.name.c_str(), s.rule.c_str(),
                  s.input == Input::valid ? "valid" : "hostile", s.statement.c_str());
    std::printf("%zu scenarios\n", all.size());
    return kCheckPassed;
  }
  std::map<std::string, Verdict> expected;
  std::string error;
  if (!o.expect_path.empty() && !read_expectations(o.expect_path, all, expected, error)) {
    std::fprintf(stderr, "virtiosim vhost-user check: %s\n", error.c_str());
    return kCheckBadArguments;
  }
  std::vector<const Scenario*> chosen;
  for (const Scenario& s : all)
    if (selected(s, o.scenarios)) chosen.push_back(&s);
  if (chosen.empty()) {
    std::fprintf(stderr, "virtiosim vhost-user check: no scenario matches --scenario (see --list)\n");
    return kCheckBadArguments;
  }

  const Target t{o.socket_path, o.echo, std::chrono::milliseconds(o.timeout_ms),
                 std::chrono::milliseconds(o.settle_ms)};
  // Nothing to test without a back-end: say so once, not per scenario.
  try {
    boost::asio::io_context io;
    connect_unix(io, o.socket_path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "virtiosim vhost-user check: cannot connect to %s: %s\n", o.socket_path.c_str(), e.what());
    return kCheckFailed;
  }
  std::vector<Result> results;
  size_t not_ok = 0;
  for (const Scenario* sc : chosen) {
    const auto start = std::chrono::steady_clock::now();
    Outcome out = run_one(*sc, t);
    // Whatever the scenario did, the back-end must still serve a newcomer.
    if (out.verdict != Verdict::SKIP) {
      const std::string after = survives(t);
      if (!after.empty()) {
        if (out.verdict != Verdict::FAIL) out.verdict = Verdict::WEDGED;
        out.evidence += (out.evidence.empty() ? "" : "; ") +
                        std::string("afterwards a fresh connection did not move traffic: ") + after;
      }
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    Result r{sc, out.verdict, out.evidence, secs, false, {}};
    if (auto e = expected.find(sc->name); e != expected.end()) {
      r.expected = name(e->second);
      r.ok = e->second == out.verdict;
    } else {
      r.ok = accepted(*sc, out.verdict);
    }
    not_ok += !r.ok;
    if (!o.quiet || !r.ok)
      std::printf("%-6s %-44s %-6s %s%s\n", name(r.verdict), sc->name.c_str(), sc->rule.c_str(), r.evidence.c_str(),
                  r.ok ? "" : r.expected.empty() ? "  [not accepted]" : ("  [expected " + r.expected + "]").c_str());
    std::fflush(stdout);
    results.push_back(std::move(r));
  }
  std::map<Verdict, size_t> n;
  for (const Result& r : results) ++n[r.verdict];
  std::printf("%zu scenarios: %zu PASS, %zu FAIL, %zu REJECT, %zu WEDGED, %zu SKIP; %zu not %s\n", results.size(),
              n[Verdict::PASS], n[Verdict::FAIL], n[Verdict::REJECT], n[Verdict::WEDGED], n[Verdict::SKIP], not_ok,
              expected.empty() ? "accepted" : "as expected");

  int rc = not_ok ? kCheckFailed : kCheckPassed;
  if (!o.json_path.empty()) {
    std::ofstream f(o.json_path);
    f << json::dump(to_json(results, o.socket_path)) << '\n';
    if (!f) {
      std::fprintf(stderr, "virtiosim vhost-user check: cannot write %s\n", o.json_path.c_str());
      rc = kCheckBadArguments;
    }
  }
  if (!o.junit_path.empty() && !junit::write(to_junit(results), o.junit_path, error)) {
    std::fprintf(stderr, "virtiosim vhost-user check: %s\n", error.c_str());
    rc = kCheckBadArguments;
  }
  return rc;
}

}  // namespace virtiosim::vhost_user::check
