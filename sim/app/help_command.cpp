// `virtiosim help [COMMAND...]`: the --help of any command, by name.
#include <cstdio>
#include <string>
#include <vector>

#include "sim/app/cli_tree.h"
#include "sim/app/command.h"
#include "support/did_you_mean.h"

namespace virtiosim::app {

namespace {

class HelpCommand : public Command {
 public:
  explicit HelpCommand(CLI::App& top)
      : Command(top, "help", "the help of a command: virtiosim help [COMMAND...]"), top_(top) {
    words_option_ =
        app->add_option("COMMAND", words_, "a command and its subcommands (virtiosim help waves events)");
    app->footer(kExitCodes);
  }

  int run() override {
    const CLI::App* at = &top_;
    std::string path = top_.get_name();  // the usage line's: "virtiosim waves events"
    for (const std::string& w : words_) {
      const CLI::App* sub = subcommand(*at, w);
      if (!sub) return bad_arguments("unknown command '" + w + "'" + did_you_mean(w, subcommand_names(*at)));
      path += " " + w;
      at = sub;
    }
    // The formatter itself: App::help() would show the subcommand parsed
    // (this one) instead.
    std::fputs(at->get_formatter()->make_help(at, path, CLI::AppFormatMode::Normal).c_str(), stdout);
    return kOk;
  }

  std::map<const CLI::Option*, std::vector<std::string>> value_words() const override {
    return {{words_option_, subcommand_names(top_)}};
  }

 private:
  const CLI::App& top_;
  CLI::Option* words_option_ = nullptr;
  std::vector<std::string> words_;
};

}  // namespace

std::unique_ptr<Command> add_help_command(CLI::App& top) { return std::make_unique<HelpCommand>(top); }

}  // namespace virtiosim::app
