// A streaming reader of VCD files (IEEE 1364 value change dump, as
// SystemC's tracing writes them): the header (scopes, variables, timescale)
// is read up front, then value changes one at a time. Memory stays bounded
// by the number of variables, whatever the file's length.
#pragma once

#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace virtiosim::waves {

// A VCD that cannot be read: names the file and the line.
class VcdError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct VcdVar {
  std::string name;   // full hierarchical name, scopes joined by '.' ("SystemC.rx0.driver.next_avail_idx")
  std::string range;  // bit range as declared ("[31:0]"), empty for scalars
  std::string type;   // "wire", "reg", "real", ...
  std::string code;   // identifier code in the value section
  unsigned width = 1;
};

struct VcdChange {
  uint64_t time = 0;   // in timescale units
  size_t var = 0;      // index into vars()
  uint64_t value = 0;  // bits 0..63 of the value (x and z read as 0)
  double real = 0;     // the value of a real variable
  bool known = true;   // false when any bit was x or z
};

class VcdReader {
 public:
  // Opens `path` and reads its header; throws VcdError.
  explicit VcdReader(const std::string& path);

  const std::vector<VcdVar>& vars() const { return vars_; }
  // Index of the variable with this full name, or -1.
  long find(const std::string& name) const;
  // One timescale unit in picoseconds (1 for "1 ps", 1000 for "1 ns").
  double unit_ps() const { return unit_ps_; }

  // The next value change in file order (the $dumpvars block first, at
  // time 0); false at the end of the file.
  bool next(VcdChange& out);

 private:
  bool token(std::string& t);
  bool refill();  // the next block of the file into buf_; false at its end
  [[noreturn]] void fail(const std::string& what) const;
  void read_header();
  void skip_to_end();

  std::string path_;
  std::ifstream in_;
  std::vector<char> buf_;
  size_t pos_ = 0, end_ = 0;  // unread part of buf_
  uint64_t line_ = 1;
  uint64_t token_line_ = 1;  // line of the last token read, for messages
  std::vector<VcdVar> vars_;
  std::unordered_map<std::string, std::vector<size_t>> by_code_;
  std::unordered_map<std::string, size_t> by_name_;
  double unit_ps_ = 1;
  uint64_t time_ = 0;
  // A change whose code names several variables is returned once per variable.
  std::vector<size_t> pending_;
  VcdChange pending_change_;
};

}  // namespace virtiosim::waves
