// `virtiosim vhost-user`: meet real vhost-user peers. Its subcommands and
// options are transport/vhost_user/cli's; this makes them a command like
// the others (help, errors, completion).
#include "sim/app/command.h"
#include "transport/vhost_user/cli.h"

namespace virtiosim::app {

namespace {

class VhostUserCommand : public Command {
 public:
  explicit VhostUserCommand(CLI::App& parent)
      : Command(parent, "vhost-user", "meet real vhost-user peers: serve | drive | check"), cli_(*app) {}
  int run() override { return cli_.run(); }

 private:
  vhost_user::VhostUserCli cli_;
};

}  // namespace

std::unique_ptr<Command> add_vhost_user_command(CLI::App& parent) {
  return std::make_unique<VhostUserCommand>(parent);
}

}  // namespace virtiosim::app
