// The `virtiosim` command line: one CLI11 app whose subcommands are each
// layer's entry point (run, params, waves; vhost-user parses its own).
// Exit codes: 0 success, 1 failure, 2 bad arguments or configuration.
#include <systemc>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/app/command.h"
#include "transport/vhost_user/cli.h"

namespace virtiosim::app {

namespace {

// SystemC prints its banner when the kernel starts, before sc_main: silence
// it from a static initialiser so stdout carries only results.
const int kQuietBanner = setenv("SC_COPYRIGHT_MESSAGE", "DISABLE", 1);

// The first word that is neither an option nor a subcommand of the app it
// follows ("virtiosim frobnicate", "virtiosim waves frobnicate"), and who
// says so: CLI11 would call it an unexpected argument or a missing
// subcommand.
struct UnknownCommand {
  std::string who, word;
};
std::optional<UnknownCommand> unknown_command(const CLI::App& top, int argc, char** argv) {
  const CLI::App* app = &top;
  std::string who = "virtiosim";
  for (int i = 1; i < argc && app->get_require_subcommand_min() > 0; ++i) {
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') return std::nullopt;
    const auto subs = app->get_subcommands([&](const CLI::App* s) { return s->get_name() == word; });
    if (subs.empty()) return UnknownCommand{who, word};
    app = subs.front();
    who += " " + word;
  }
  return std::nullopt;
}

// The deepest subcommand given on the command line, for error messages.
const CLI::App* given(const CLI::App& top) {
  const CLI::App* app = &top;
  for (;;) {
    const std::vector<const CLI::App*> subs = app->get_subcommands([](const CLI::App* s) { return s->parsed(); });
    if (subs.empty()) return app;
    app = subs.front();
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App top("A full-system virtio simulator: guest driver, virtio-PCI transport and vhost-net device.",
               "virtiosim");
  top.require_subcommand(1);
  top.footer(std::string("Every command answers --help. ") + kExitCodes);
  top.get_formatter()->label("SUBCOMMAND", "<command>");
  std::vector<std::unique_ptr<Command>> commands;
  commands.push_back(add_run_command(top));
  commands.push_back(add_params_command(top));
  commands.push_back(add_waves_command(top));
  commands.push_back(add_report_command(top));
  // vhost-user has its own CLI11 app (transport/vhost_user/cli.cpp), its
  // --help included: it is listed here and handed the rest of the line.
  top.add_subcommand("vhost-user", "meet real vhost-user peers: serve | drive (virtiosim vhost-user --help)")
      ->allow_extras();
  if (argc >= 2 && std::string(argv[1]) == "vhost-user") return vhost_user::vhost_user_main(argc - 1, argv + 1);
  if (const auto unknown = unknown_command(top, argc, argv))
    return print_bad_arguments(unknown->who, "unknown command '" + unknown->word + "'");
  try {
    top.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, -h
    return top.exit(e);
  } catch (const CLI::ParseError& e) {
    if (argc < 2) {
      std::fputs(top.help().c_str(), stderr);
      return kBadArguments;
    }
    std::string what = e.what();
    if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
      const std::vector<std::string> rest = given(top)->remaining();
      if (!rest.empty() && !rest.front().empty()) what = (rest.front()[0] == '-' ? "unknown option '" : "unexpected argument '") + rest.front() + "'";
    }
    for (const auto& c : commands)
      if (c->app->parsed()) return c->bad_arguments(what);
    return print_bad_arguments("virtiosim", what);
  }
  for (const auto& c : commands)
    if (c->app->parsed()) return c->run();
  return kBadArguments;
}

int print_bad_arguments(const std::string& who, const std::string& what) {
  std::fprintf(stderr, "%s: %s\nRun with --help for more information.\n", who.c_str(), what.c_str());
  return kBadArguments;
}

int Command::bad_arguments(const std::string& what) const { return print_bad_arguments(full_name, what); }

}  // namespace virtiosim::app
