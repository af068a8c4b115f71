// The `virtiosim` command line: one CLI11 app whose subcommands are each
// layer's entry point (run, params, waves, vhost-user), with help and
// completion read from the same declarations.
// Exit codes: 0 success, 1 failure, 2 bad arguments or configuration.
#include <systemc>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/app/cli_tree.h"
#include "sim/app/command.h"
#include "sim/version.h"
#include "support/did_you_mean.h"

namespace virtiosim::app {

namespace {

// SystemC prints its banner when the kernel starts, before sc_main: silence
// it from a static initialiser so stdout carries only results.
const int kQuietBanner = setenv("SC_COPYRIGHT_MESSAGE", "DISABLE", 1);

// The first word that is neither an option nor a subcommand of the app it
// follows ("virtiosim frobnicate", "virtiosim waves frobnicate", "virtiosim
// --bogus"), and who says so: CLI11 would call it an unexpected argument or
// a missing subcommand. Only apps that need a subcommand are walked: their
// options are flags, so no word is an option's value.
struct UnknownWord {
  std::string who, what;
};
std::optional<UnknownWord> unknown_word(const CLI::App& top, int argc, char** argv) {
  const CLI::App* app = &top;
  std::string who = "virtiosim";
  for (int i = 1; i < argc && app->get_require_subcommand_min() > 0; ++i) {
    const std::string word = argv[i];
    if (word.empty()) return std::nullopt;
    if (word[0] == '-') {
      const std::vector<std::string> options = option_names(*app);
      if (std::find(options.begin(), options.end(), word) != options.end()) continue;
      return UnknownWord{who, "unknown option '" + word + "'" + did_you_mean(word, options)};
    }
    const CLI::App* sub = subcommand(*app, word);
    if (!sub) return UnknownWord{who, "unknown command '" + word + "'" + did_you_mean(word, subcommand_names(*app))};
    app = sub;
    who += " " + word;
  }
  return std::nullopt;
}

// The deepest subcommand given on the command line, for error messages.
const CLI::App* given(const CLI::App& top) {
  const CLI::App* app = &top;
  while (const CLI::App* sub = parsed_subcommand(*app)) app = sub;
  return app;
}

// CLI11's message for an argument nobody takes, in our words: the option
// or word, and the nearest names of the command it was given to.
std::string extra_argument(const CLI::App& top, const std::string& what) {
  const CLI::App* app = given(top);
  const std::vector<std::string> rest = app->remaining();
  if (rest.empty() || rest.front().empty()) return what;
  const std::string& word = rest.front();
  if (word[0] != '-') return "unexpected argument '" + word + "'";
  const std::string name = word.substr(0, word.find('='));  // --qiuet=1
  return "unknown option '" + name + "'" + did_you_mean(name, option_names(*app));
}

// A command that throws has failed: its reason goes to stderr, never the
// text SystemC wraps around an exception that leaves sc_main.
int run(Command& command) {
  std::string why;
  try {
    return command.run();
  } catch (const sc_core::sc_report& e) {
    why = e.get_msg();
  } catch (const std::exception& e) {
    why = e.what();
  }
  std::fprintf(stderr, "%s: %s\n", command.full_name.c_str(), why.c_str());
  return kFailed;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App top("A full-system virtio simulator: guest driver, virtio-PCI transport and vhost-net device.",
               "virtiosim");
  top.require_subcommand(1);
  top.set_version_flag("--version", std::string("virtiosim ") + sim::kVersion, "print the version and exit");
  top.footer(std::string("Every command answers --help (or: virtiosim help COMMAND). ") + kExitCodes);
  top.get_formatter()->label("SUBCOMMAND", "<command>");
  Commands commands;
  commands.push_back(add_run_command(top));
  commands.push_back(add_params_command(top));
  commands.push_back(add_waves_command(top));
  commands.push_back(add_report_command(top));
  commands.push_back(add_vhost_user_command(top));
  commands.push_back(add_help_command(top));
  commands.push_back(add_completion_command(top, commands));
  if (const auto unknown = unknown_word(top, argc, argv)) return print_bad_arguments(unknown->who, unknown->what);
  try {
    top.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, -h, --version
    return top.exit(e);
  } catch (const CLI::ParseError& e) {
    if (argc < 2) {
      std::fputs(top.help().c_str(), stderr);
      return kBadArguments;
    }
    std::string what = dynamic_cast<const CLI::ExtrasError*>(&e) ? extra_argument(top, e.what()) : e.what();
    if (const CLI::App* app = given(top); app->get_require_subcommand_min() > 0 && !parsed_subcommand(*app)) {
      what = "a command is required:";
      for (const std::string& name : subcommand_names(*app)) what += " " + name;
    }
    for (const auto& c : commands)
      if (c->app->parsed()) return c->bad_arguments(what);
    return print_bad_arguments("virtiosim", what);
  }
  for (const auto& c : commands)
    if (c->app->parsed()) return run(*c);
  return kBadArguments;
}

int print_bad_arguments(const std::string& who, const std::string& what) {
  std::fprintf(stderr, "%s: %s\nRun with --help for more information.\n", who.c_str(), what.c_str());
  return kBadArguments;
}

// Named after the deepest subcommand given: "virtiosim waves events: ...".
int Command::bad_arguments(const std::string& what) const {
  std::string who = full_name;
  for (const CLI::App* sub = app; (sub = parsed_subcommand(*sub));) who += " " + sub->get_name();
  return print_bad_arguments(who, what);
}

}  // namespace virtiosim::app
