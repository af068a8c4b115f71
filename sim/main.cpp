// The `virtiosim` command line: a thin dispatcher to each layer's entry
// point. Exit codes: 0 success, 1 failure, 2 bad arguments.
#include <cstdio>
#include <systemc>

#include <cstdlib>
#include <cstring>

#include "sim/cli.h"
#include "transport/vhost_user/cli.h"
#include "waves/cli.h"

namespace {

// SystemC prints its banner when the kernel starts, before sc_main: silence
// it from a static initialiser so stdout carries only results.
const int kQuietBanner = setenv("SC_COPYRIGHT_MESSAGE", "DISABLE", 1);

constexpr const char* kUsage =
    "usage: virtiosim <command> [args]\n"
    "\n"
    "commands:\n"
    "  run [options]                simulate driver, virtio-PCI and vhost-net (virtiosim run --help)\n"
    "  params [--json]              every parameter: key, unit, default, why\n"
    "  vhost-user serve|drive ...   meet real vhost-user peers (virtiosim vhost-user --help)\n"
    "  waves summarize|events ...   ring events decoded from a run's VCD (virtiosim waves --help)\n";

}  // namespace

// SystemC's library provides main() and calls sc_main() with the command
// line; every subcommand starts here, simulating or not.
int sc_main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (std::strcmp(argv[1], "run") == 0) return virtiosim::sim::run_main(argc - 1, argv + 1);
  if (std::strcmp(argv[1], "params") == 0) return virtiosim::sim::params_main(argc - 1, argv + 1);
  if (std::strcmp(argv[1], "vhost-user") == 0) return virtiosim::vhost_user::vhost_user_main(argc - 1, argv + 1);
  if (std::strcmp(argv[1], "waves") == 0) return virtiosim::waves::waves_main(argc - 1, argv + 1);
  if (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::fprintf(stderr, "virtiosim: unknown command '%s'\n%s", argv[1], kUsage);
  return 2;
}
