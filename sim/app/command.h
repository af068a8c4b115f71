// The `virtiosim` command line on CLI11: one subcommand a file, each adds
// its options to the top-level app and, once parsed, runs.
#pragma once

#include <CLI/CLI.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace virtiosim::app {

// Exit codes of every subcommand.
constexpr int kOk = 0;
constexpr int kFailed = 1;        // the run found errors, a VCD is unreadable, ...
constexpr int kBadArguments = 2;  // bad arguments or configuration
constexpr const char* kExitCodes =
    "Exit codes: 0 ok, 1 the run found errors (with --strict also any conformance violation; or a file could "
    "not be read), 2 bad arguments or configuration, or an output file that cannot be written.";

class Command {
 public:
  // Adds the subcommand `name` to `parent` (its options are the derived
  // class's to add).
  Command(CLI::App& parent, const std::string& name, const std::string& help)
      : app(parent.add_subcommand(name, help)), full_name(parent.get_name() + " " + name) {}
  virtual ~Command() = default;
  // Bad arguments found before run(): print, exit kBadArguments.
  virtual int bad_arguments(const std::string& what) const;
  virtual int run() = 0;  // after a successful parse; returns the exit code
  // What bash completion offers for an option's value (or a positional's)
  // beyond what its declaration shows (`{a,b}` choices): --set's keys.
  virtual std::map<const CLI::Option*, std::vector<std::string>> value_words() const { return {}; }
  CLI::App* const app;
  const std::string full_name;  // "virtiosim run"
};
using Commands = std::vector<std::unique_ptr<Command>>;

// The whole `virtiosim` command line: parse argv, run the subcommand,
// return its exit code. The virtiosim executable's sc_main calls it, and
// so does a program that embeds the simulator after registering its own
// device kinds (sim/device_registry.h, examples/custom_device).
int main(int argc, char** argv);

// "virtiosim waves: what" and a pointer to --help on stderr.
int print_bad_arguments(const std::string& who, const std::string& what);

std::unique_ptr<Command> add_run_command(CLI::App& parent);
std::unique_ptr<Command> add_params_command(CLI::App& parent);
std::unique_ptr<Command> add_waves_command(CLI::App& parent);
std::unique_ptr<Command> add_report_command(CLI::App& parent);
std::unique_ptr<Command> add_vhost_user_command(CLI::App& parent);
// `help [COMMAND...]` and `completion bash` read every command added before
// and after them: `top` and `commands` are read when they run.
std::unique_ptr<Command> add_help_command(CLI::App& top);
std::unique_ptr<Command> add_completion_command(CLI::App& top, const Commands& commands);

}  // namespace virtiosim::app
