#include "waves/record/fst.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>

#include "waves/read/vcd_reader.h"

extern char** environ;

namespace virtiosim::waves {

bool is_fst_path(const std::string& path) {
  return path.size() > 4 && path.compare(path.size() - 4, 4, ".fst") == 0;
}

void convert_vcd_to_fst(const std::string& vcd_path, const std::string& fst_path) {
  // posix_spawnp, not system(): no shell, so paths need no quoting.
  const std::string tool = "vcd2fst";
  std::string a0 = tool, a1 = vcd_path, a2 = fst_path;
  char* argv[] = {a0.data(), a1.data(), a2.data(), nullptr};
  posix_spawn_file_actions_t quiet;  // vcd2fst's banner would mix into the run's output
  posix_spawn_file_actions_init(&quiet);
  posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int err = posix_spawnp(&pid, tool.c_str(), &quiet, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&quiet);
  if (err) throw VcdError("cannot run " + tool + " (package gtkwave): " + std::strerror(err));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw VcdError(tool + " " + vcd_path + " " + fst_path + " failed (status " + std::to_string(status) +
                   ")");
}

}  // namespace virtiosim::waves
