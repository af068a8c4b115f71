// Writing a subcommand's output file: its folder is made if missing; a
// failure shows when the file is written.
#pragma once

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace virtiosim::app {

inline void make_parent(const std::string& path) {
  const std::filesystem::path p(path);
  std::error_code ignored;
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ignored);
}

// Why `path` cannot be written, or "" if it can: asked before a command
// does its work, so that a typo in an output path costs no run. A file not
// there yet is created and removed again.
inline std::string unwritable(const std::string& path) {
  make_parent(path);
  const bool existed = std::filesystem::exists(path);
  errno = 0;
  if (!std::ofstream(path, std::ios::app)) return std::strerror(errno ? errno : EACCES);
  std::error_code ignored;
  if (!existed) std::filesystem::remove(path, ignored);
  return {};
}

inline bool write_output(const std::string& path, const std::string& text) {
  make_parent(path);
  std::ofstream out(path, std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

}  // namespace virtiosim::app
