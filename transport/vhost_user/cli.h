// Entry point of `virtiosim vhost-user ...` (sim/app/main.cpp dispatches here).
#pragma once

namespace virtiosim::vhost_user {

// argv[0] is "vhost-user". Returns the exit code: 0 success, 1 failure,
// 2 bad arguments (with a usage message on stderr).
int vhost_user_main(int argc, char** argv);

}  // namespace virtiosim::vhost_user
