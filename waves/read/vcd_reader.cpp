#include "waves/read/vcd_reader.h"

#include <cstdlib>

namespace virtiosim::waves {

namespace {

double unit_in_ps(const std::string& unit) {
  if (unit == "s") return 1e12;
  if (unit == "ms") return 1e9;
  if (unit == "us") return 1e6;
  if (unit == "ns") return 1e3;
  if (unit == "ps") return 1;
  if (unit == "fs") return 1e-3;
  return -1;
}

}  // namespace

VcdReader::VcdReader(const std::string& path) : path_(path), buf_(1 << 16) {
  in_.open(path, std::ios::binary);
  if (!in_) throw VcdError("cannot open VCD " + path);
  read_header();
}

long VcdReader::find(const std::string& name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? -1 : static_cast<long>(it->second);
}

void VcdReader::fail(const std::string& what) const {
  throw VcdError(path_ + ":" + std::to_string(token_line_) + ": " + what);
}

bool VcdReader::refill() {
  in_.read(buf_.data(), static_cast<std::streamsize>(buf_.size()));
  pos_ = 0;
  end_ = static_cast<size_t>(in_.gcount());
  return end_ > 0;
}

// Whitespace-separated tokens; counts lines for messages. Scans our own
// block of the file and appends each token in one piece: a VCD is mostly
// short tokens, and a call per character cost more than the scan.
bool VcdReader::token(std::string& t) {
  t.clear();
  auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  for (;;) {
    if (pos_ == end_ && !refill()) return !t.empty();
    const char* p = buf_.data() + pos_;
    const char* const e = buf_.data() + end_;
    if (t.empty()) {
      for (; p < e && space(*p); ++p) line_ += *p == '\n';
      if (p == e) {
        pos_ = end_;
        continue;
      }
      token_line_ = line_;
    }
    const char* const s = p;
    while (p < e && !space(*p)) ++p;
    t.append(s, p);
    pos_ = static_cast<size_t>(p - buf_.data());
    if (p < e) return true;  // the whitespace after it is skipped by the next call
  }
}

void VcdReader::skip_to_end() {
  std::string t;
  while (token(t))
    if (t == "$end") return;
  fail("missing $end");
}

void VcdReader::read_header() {
  std::vector<std::string> scope;
  std::string t;
  while (token(t)) {
    if (t == "$enddefinitions") {
      skip_to_end();
      return;
    }
    if (t == "$scope") {
      std::string kind, name;
      if (!token(kind) || !token(name)) fail("truncated $scope");
      scope.push_back(name);
      skip_to_end();
    } else if (t == "$upscope") {
      if (scope.empty()) fail("$upscope without $scope");
      scope.pop_back();
      skip_to_end();
    } else if (t == "$var") {
      VcdVar v;
      std::string width, ref, more;
      if (!token(v.type) || !token(width) || !token(v.code) || !token(ref)) fail("truncated $var");
      v.width = static_cast<unsigned>(std::strtoul(width.c_str(), nullptr, 10));
      if (v.width == 0) fail("bad width '" + width + "'");
      for (;;) {
        if (!token(more)) fail("missing $end after $var");
        if (more == "$end") break;
        v.range += more;
      }
      // A reference may carry its range attached ("data[7:0]").
      if (v.range.empty()) {
        if (const size_t b = ref.find('['); b != std::string::npos) v.range = ref.substr(b), ref.resize(b);
      }
      for (const std::string& s : scope) v.name += s + ".";
      v.name += ref;
      by_code_[v.code].push_back(vars_.size());
      by_name_.emplace(v.name, vars_.size());
      vars_.push_back(std::move(v));
    } else if (t == "$timescale") {
      std::string text, part;
      for (;;) {
        if (!token(part)) fail("missing $end after $timescale");
        if (part == "$end") break;
        text += part;
      }
      size_t digits = 0;
      while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
      const double mult = digits ? std::strtod(text.substr(0, digits).c_str(), nullptr) : 1;
      const double unit = unit_in_ps(text.substr(digits));
      if (unit < 0 || (mult != 1 && mult != 10 && mult != 100)) fail("bad $timescale '" + text + "'");
      unit_ps_ = mult * unit;
    } else if (t.size() > 1 && t[0] == '$') {
      skip_to_end();  // $date, $version, $comment, ...
    } else {
      fail("unexpected '" + t + "' in the header");
    }
  }
  fail("no $enddefinitions");
}

bool VcdReader::next(VcdChange& out) {
  if (!pending_.empty()) {
    out = pending_change_;
    out.var = pending_.back();
    pending_.pop_back();
    return true;
  }
  std::string t;
  while (token(t)) {
    const char c = t[0];
    if (c == '#') {
      char* end = nullptr;
      time_ = std::strtoull(t.c_str() + 1, &end, 10);
      if (*end) fail("bad time '" + t + "'");
      continue;
    }
    if (c == '$') {
      if (t == "$comment") skip_to_end();
      continue;  // $dumpvars/$dumpall/$dumpon/$dumpoff and their $end
    }
    VcdChange ch;
    ch.time = time_;
    std::string code;
    if (c == 'b' || c == 'B') {
      if (!token(code)) fail("value without identifier");
      for (size_t i = 1; i < t.size(); ++i) {
        const char b = t[i];
        ch.value = ch.value << 1 | (b == '1' ? 1u : 0u);
        if (b != '0' && b != '1') ch.known = false;
      }
      ch.real = static_cast<double>(ch.value);
    } else if (c == 'r' || c == 'R') {
      if (!token(code)) fail("value without identifier");
      ch.real = std::strtod(t.c_str() + 1, nullptr);
      ch.value = static_cast<uint64_t>(ch.real);
    } else if (c == '0' || c == '1' || c == 'x' || c == 'X' || c == 'z' || c == 'Z') {
      code = t.substr(1);
      ch.value = c == '1';
      ch.known = c == '0' || c == '1';
      ch.real = static_cast<double>(ch.value);
    } else {
      fail("unexpected '" + t + "'");
    }
    const auto it = by_code_.find(code);
    if (it == by_code_.end()) fail("unknown identifier '" + code + "'");
    pending_change_ = ch;
    pending_.assign(it->second.rbegin(), it->second.rend());
    return next(out);
  }
  return false;
}

}  // namespace virtiosim::waves
