#include "support/json_text.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace virtiosim::json {

namespace {

// The fewest significant digits, nine at least, that read back as `v`.
std::string float_text(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  for (int digits = 9; digits < 17; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    if (std::strtod(buf, nullptr) == v) return buf;
  }
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void write(std::string& out, const Json& j, int depth, int pretty_depth) {
  const bool pretty = depth < pretty_depth;
  auto open = [&](char bracket, size_t n, auto&& each) {
    out += bracket;
    if (n == 0) return;
    size_t i = 0;
    each([&] {
      if (i++) out += pretty ? "," : ", ";
      if (pretty) out += '\n', out.append(2 * static_cast<size_t>(depth + 1), ' ');
    });
    if (pretty) out += '\n', out.append(2 * static_cast<size_t>(depth), ' ');
  };
  switch (j.type()) {
    case Json::value_t::object:
      open('{', j.size(), [&](auto&& sep) {
        for (auto it = j.begin(); it != j.end(); ++it) {
          sep();
          out += quote(it.key()) + ": ";
          write(out, it.value(), depth + 1, pretty_depth);
        }
      });
      out += '}';
      break;
    case Json::value_t::array:
      open('[', j.size(), [&](auto&& sep) {
        for (const Json& v : j) {
          sep();
          write(out, v, depth + 1, pretty_depth);
        }
      });
      out += ']';
      break;
    case Json::value_t::string: out += quote(j.get_ref<const std::string&>()); break;
    case Json::value_t::boolean: out += j.get<bool>() ? "true" : "false"; break;
    case Json::value_t::number_integer: out += std::to_string(j.get<int64_t>()); break;
    case Json::value_t::number_unsigned: out += std::to_string(j.get<uint64_t>()); break;
    case Json::value_t::number_float: out += float_text(j.get<double>()); break;
    default: out += "null"; break;
  }
}

}  // namespace

Json figure(double v) {
  if (!std::isfinite(v)) return nullptr;
  if (v == std::floor(v) && std::fabs(v) < 1e15) return static_cast<int64_t>(v);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return std::strtod(buf, nullptr);
}

Json number_text(const std::string& text) {
  // Digits, or a minus and digits; "-0" stays a float to keep its sign.
  const bool whole = !text.empty() && text.find_first_not_of("0123456789", text[0] == '-' ? 1 : 0) == std::string::npos &&
                     text != "-0" && text != "-";
  if (whole) return text[0] == '-' ? Json(std::stoll(text)) : Json(std::stoull(text));
  return std::strtod(text.c_str(), nullptr);
}

std::string dump(const Json& j, int pretty_depth) {
  std::string out;
  write(out, j, 0, pretty_depth);
  return out;
}

std::string quote(const std::string& s) {
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

}  // namespace virtiosim::json
