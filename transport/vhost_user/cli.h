// `virtiosim vhost-user ...`: its subcommands (serve, drive, check) and
// their options, added to the app sim/app/main.cpp gives it, so that help,
// errors and completion treat them like every other command.
#pragma once

#include <CLI/CLI.hpp>

#include "transport/vhost_user/check/check.h"
#include "transport/vhost_user/drive.h"
#include "transport/vhost_user/serve.h"

namespace virtiosim::vhost_user {

class VhostUserCli {
 public:
  // Adds serve, drive and check to `app` (the `vhost-user` subcommand).
  explicit VhostUserCli(CLI::App& app);
  // After a successful parse: checks what CLI11 cannot (option against
  // option) and runs the subcommand given. Returns the exit code: 0
  // success, 1 failure, 2 bad arguments (with a message on stderr).
  int run() const;

 private:
  CLI::App *serve_ = nullptr, *drive_ = nullptr, *check_ = nullptr;
  ServeOptions serve_options_;
  DriveOptions drive_options_;
  check::CheckOptions check_options_;
};

}  // namespace virtiosim::vhost_user
