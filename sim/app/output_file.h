// Writing a subcommand's output file: its folder is made if missing; a
// failure shows when the file is written.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

namespace virtiosim::app {

inline void make_parent(const std::string& path) {
  const std::filesystem::path p(path);
  std::error_code ignored;
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ignored);
}

inline bool write_output(const std::string& path, const std::string& text) {
  make_parent(path);
  std::ofstream out(path, std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

}  // namespace virtiosim::app
