#include "sim/json.h"

#include <cmath>
#include <cstdio>

namespace virtiosim::sim {

void JsonWriter::key(const char* k) {
  if (!first_.empty()) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
    out_ += '\n';
    out_.append(2 * first_.size(), ' ');
  }
  if (k) out_ += quote(k) + ": ";
}

JsonWriter& JsonWriter::begin_object(const char* k) {
  key(k);
  out_ += '{';
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  const bool empty = first_.back();
  first_.pop_back();
  if (!empty) out_ += '\n' + std::string(2 * first_.size(), ' ');
  out_ += '}';
  if (first_.empty()) out_ += '\n';
  return *this;
}

JsonWriter& JsonWriter::begin_array(const char* k) {
  key(k);
  out_ += '[';
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  const bool empty = first_.back();
  first_.pop_back();
  if (!empty) out_ += '\n' + std::string(2 * first_.size(), ' ');
  out_ += ']';
  return *this;
}

JsonWriter& JsonWriter::value(const char* k, double v) { return raw(k, number(v)); }
JsonWriter& JsonWriter::value(const char* k, uint64_t v) { return raw(k, std::to_string(v)); }
JsonWriter& JsonWriter::value(const char* k, const std::string& v) { return raw(k, quote(v)); }
JsonWriter& JsonWriter::value(const char* k, bool v) { return raw(k, v ? "true" : "false"); }

JsonWriter& JsonWriter::raw(const char* k, const std::string& json) {
  key(k);
  out_ += json;
  return *this;
}

std::string JsonWriter::quote(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += static_cast<char>(c);
    else if (c == '\n') o += "\\n";
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      o += buf;
    } else o += static_cast<char>(c);
  }
  return o + '"';
}

std::string JsonWriter::number(double v) {
  if (!std::isfinite(v)) return "null";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace virtiosim::sim
