#include <string>

#include "transport/vhost_user/check/scenario.h"

namespace virtiosim::vhost_user::check {

const char* name(Verdict v) {
  switch (v) {
    case Verdict::PASS: return "PASS";
    case Verdict::FAIL: return "FAIL";
    case Verdict::REJECT: return "REJECT";
    case Verdict::WEDGED: return "WEDGED";
    case Verdict::SKIP: return "SKIP";
  }
  return "?";
}

bool parse_verdict(const std::string& s, Verdict& v) {
  for (Verdict c : {Verdict::PASS, Verdict::FAIL, Verdict::REJECT, Verdict::WEDGED, Verdict::SKIP})
    if (s == name(c)) {
      v = c;
      return true;
    }
  return false;
}

bool accepted(const Scenario& s, Verdict v) {
  if (v == Verdict::PASS || v == Verdict::SKIP) return true;
  return v == Verdict::REJECT && s.input == Input::hostile;
}

Scenario make_scenario(std::string name, std::string rule, std::string statement, Input input, Setup setup,
                       std::function<Outcome(Session&)> run) {
  Scenario sc;
  sc.name = std::move(name);
  sc.rule = std::move(rule);
  sc.statement = std::move(statement);
  sc.input = input;
  sc.setup = setup;
  sc.run = std::move(run);
  return sc;
}

std::vector<Scenario> catalogue() {
  std::vector<Scenario> all;
  add_ring_scenarios(all);
  add_descriptor_scenarios(all);
  add_event_scenarios(all);
  add_rx_scenarios(all);
  add_protocol_scenarios(all);
  return all;
}

}  // namespace virtiosim::vhost_user::check
