// Walking the CLI11 tree of commands: what help, completion and the
// "did you mean" of bad arguments need to know of every command, whoever
// added it.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace virtiosim::app {

// The subcommand of `app` called `name`, or nullptr.
inline CLI::App* subcommand(const CLI::App& app, const std::string& name) {
  const std::vector<CLI::App*> subs =
      const_cast<CLI::App&>(app).get_subcommands([&](CLI::App* s) { return s->get_name() == name; });
  return subs.empty() ? nullptr : subs.front();
}

inline std::vector<std::string> subcommand_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* s : app.get_subcommands([](const CLI::App*) { return true; }))
    names.push_back(s->get_name());
  return names;
}

// The subcommand of `app` given on the command line, or nullptr.
inline const CLI::App* parsed_subcommand(const CLI::App& app) {
  const std::vector<const CLI::App*> subs =
      app.get_subcommands([](const CLI::App* s) { return s->parsed(); });
  return subs.empty() ? nullptr : subs.front();
}

// "--name" and "-n" of every option of `app` (positionals excluded).
inline std::vector<std::string> option_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* o : app.get_options()) {
    for (const std::string& n : o->get_lnames()) names.push_back("--" + n);
    for (const std::string& n : o->get_snames()) names.push_back("-" + n);
  }
  return names;
}

}  // namespace virtiosim::app
