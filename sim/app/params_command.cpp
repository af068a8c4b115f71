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

  int run() override {
    sim::Config cfg;
    if (as_json) {
      json::Json list = json::Json::array();
      for (sim::Config::Param& p : cfg.params())
        list.push_back({{"key", p.key}, {"unit", p.unit}, {"default", p.get()}, {"accepted", p.accepted}, {"why", p.why}});
      std::puts(json::dump(list, 1).c_str());  // one parameter a line
      return kOk;
    }
    for (sim::Config::Param& p : cfg.params())
      std::printf("%-34s %-10s %-12s %s\n", p.key.c_str(), p.unit.c_str(), p.get().c_str(), p.why.c_str());
    return kOk;
  }
};

}  // namespace

std::unique_ptr<Command> add_params_command(CLI::App& parent) {
  auto params = std::make_unique<ParamsCommand>(parent, "params", "every parameter: key, unit, default, why");
  params->app->add_flag("--json", params->as_json, "a JSON array of {key, unit, default, accepted, why}");
  params->app->footer(std::string("Every parameter of `virtiosim run`: key, unit, default and why; --json for "
                                  "machines.\n") +
                      kExitCodes);
  return params;
}

}  // namespace virtiosim::app
