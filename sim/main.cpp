// The `virtiosim` command line: a thin dispatcher to each layer's entry
// point. Exit codes: 0 success, 1 failure, 2 bad arguments.
#include <cstdio>
#include <cstring>

#include "transport/vhost_user/cli.h"

namespace {

constexpr const char* kUsage =
    "usage: virtiosim <command> [args]\n"
    "\n"
    "commands:\n"
    "  vhost-user serve|drive ...   meet real vhost-user peers (virtiosim vhost-user --help)\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (std::strcmp(argv[1], "vhost-user") == 0) return virtiosim::vhost_user::vhost_user_main(argc - 1, argv + 1);
  if (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::fprintf(stderr, "virtiosim: unknown command '%s'\n%s", argv[1], kUsage);
  return 2;
}
