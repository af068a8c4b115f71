// `virtiosim params`: every parameter of `virtiosim run`, from the one
// declaration in sim/config.cpp.
#include <cstdio>

#include "sim/app/command.h"
#include "sim/config.h"
#include "support/json_text.h"

namespace virtiosim::app {

namespace {

class ParamsCommand : public Command {
 public:
  using Command::Command;
  bool as_json = false;
  bool renamed = false;

  int run() override {
    sim::Config cfg;
    if (renamed) {
      json::Json old_to_new = json::Json::object();
      for (const auto& [old_key, new_key] : sim::Config::renamed_keys()) {
        if (as_json) old_to_new[old_key] = new_key;
        else std::printf("%-34s %s\n", old_key.c_str(), new_key.c_str());
      }
      if (as_json) std::puts(json::dump(old_to_new, 1).c_str());
      return kOk;
    }
    if (as_json) {
      json::Json list = json::Json::array();
      for (sim::Config::Param& p : cfg.params())
        list.push_back({{"key", p.key}, {"unit", p.unit}, {"default", p.get()}, {"accepted", p.accepted}, {"why", p.why}});
      std::puts(json::dump(list, 1).c_str());  // one parameter a line
      return kOk;
    }
    // A choice or a list of names also shows its words, as the validator
    // takes them (numbers show their range in --json).
    for (sim::Config::Param& p : cfg.params()) {
      std::printf("%-34s %-10s %-12s %s\n", p.key.c_str(), p.unit.c_str(), p.get().c_str(), p.why.c_str());
      if (!p.is_number) std::printf("%-34s accepted: %s\n", "", p.accepted.c_str());
    }
    return kOk;
  }
};

}  // namespace

std::unique_ptr<Command> add_params_command(CLI::App& parent) {
  auto params = std::make_unique<ParamsCommand>(parent, "params", "every parameter: key, unit, default, why (and the accepted words of a choice)");
  params->app->add_flag("--json", params->as_json, "a JSON array of {key, unit, default, accepted, why}");
  params->app->add_flag("--renamed", params->renamed,
                        "the renamed keys still accepted, old then new (with --json: an object old: new)");
  params->app->footer(std::string("Every parameter of `virtiosim run`: key, unit, default and why; --json for "
                                  "machines.\n") +
                      kExitCodes);
  return params;
}

}  // namespace virtiosim::app
