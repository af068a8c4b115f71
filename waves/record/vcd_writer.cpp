#include "waves/record/vcd_writer.h"

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace virtiosim::waves {

namespace {

// The top scope every name sits below ("SystemC.rx0.kicks"): the name
// SystemC's own VCD gave it, which readers (waves/read, Python) and saved
// GTKWave views use.
constexpr const char* kTopScope = "SystemC";

// Short VCD identifiers: printable ASCII '!'..'~' without '$', which a
// tokenising reader could take for a keyword ("b0 $" after a vector value).
std::string code_of(size_t n) {
  std::string c;
  do {
    const char ch = static_cast<char>('!' + n % 93);
    c += ch < '$' ? ch : static_cast<char>(ch + 1);
    n /= 93;
  } while (n);
  return c;
}

// Scopes in the order their first signal was declared, signals in
// declaration order within each.
struct Scope {
  std::string name;
  std::vector<std::unique_ptr<Scope>> scopes;
  std::vector<std::pair<std::string, size_t>> vars;  // leaf name, signal index
  std::vector<bool> order;                           // true: next scope, false: next var

  Scope& child(const std::string& n) {
    for (auto& s : scopes)
      if (s->name == n) return *s;
    scopes.push_back(std::make_unique<Scope>());
    scopes.back()->name = n;
    order.push_back(true);
    return *scopes.back();
  }
  void add(const std::string& path, size_t index) {
    const size_t dot = path.find('.');
    if (dot == std::string::npos) {
      vars.emplace_back(path, index);
      order.push_back(false);
    } else {
      child(path.substr(0, dot)).add(path.substr(dot + 1), index);
    }
  }
};

}  // namespace

VcdWriter::VcdWriter(const std::string& path, uint64_t window_ps) : path_(path), window_ps_(window_ps) {
  out_ = std::fopen(path.c_str(), "w");
  if (!out_) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
  pending_.reserve(kFlushBytes + 128);
}

VcdWriter::~VcdWriter() {
  if (out_) std::fclose(out_);
}

VcdWriter::Id VcdWriter::add(const std::string& name, unsigned width, uint64_t initial) {
  if (started_) throw std::logic_error("VcdWriter: signal " + name + " declared after the first sample");
  if (width < 1 || width > 64) throw std::invalid_argument("VcdWriter: width of " + name);
  signals_.push_back(Signal{name, width, initial, initial, code_of(signals_.size())});
  return static_cast<Id>(signals_.size() - 1);
}

void VcdWriter::header() {
  pending_ += "$date virtiosim (deterministic) $end\n$version virtiosim $end\n$timescale 1 ps $end\n";
  Scope top;
  for (size_t i = 0; i < signals_.size(); ++i) top.add(signals_[i].name, i);
  auto emit = [this](const Scope& s, auto& self) -> void {
    pending_ += "$scope module " + s.name + " $end\n";
    size_t sc = 0, v = 0;
    for (bool is_scope : s.order) {
      if (is_scope) {
        self(*s.scopes[sc++], self);
        continue;
      }
      const auto& [leaf, index] = s.vars[v++];
      const Signal& sig = signals_[index];
      const std::string w = std::to_string(sig.width);
      pending_ += "$var wire " + w + " " + sig.code + " " + leaf;
      pending_ += sig.width == 1 ? " $end\n" : " [" + std::to_string(sig.width - 1) + ":0] $end\n";
    }
    pending_ += "$upscope $end\n";
  };
  top.name = kTopScope;
  emit(top, emit);
  pending_ += "$enddefinitions $end\n";
}

void VcdWriter::stamp(uint64_t time_ps) {
  if (stamped_ && time_ps == last_stamp_) return;
  pending_ += '#';
  pending_ += std::to_string(time_ps);
  pending_ += '\n';
  last_stamp_ = time_ps;
  stamped_ = true;
}

void VcdWriter::value(const Signal& s, uint64_t v) {
  // Into our own buffer, not one stdio call per value: most samples write a
  // few short lines, and stdio's per-call locking would cost more than the text.
  char text[80];
  char* p = text;
  if (s.width == 1) {
    *p++ = v ? '1' : '0';
  } else {
    *p++ = 'b';
    for (int b = 63 - __builtin_clzll(v | 1); b >= 0; --b) *p++ = static_cast<char>('0' + (v >> b & 1));
    *p++ = ' ';
  }
  std::memcpy(p, s.code.data(), s.code.size());
  p += s.code.size();
  *p++ = '\n';
  pending_.append(text, static_cast<size_t>(p - text));
  if (pending_.size() >= kFlushBytes) flush();
}

void VcdWriter::flush() {
  std::fwrite(pending_.data(), 1, pending_.size(), out_);
  pending_.clear();
}

void VcdWriter::begin_sample(uint64_t time_ps) {
  if (done_) return;
  if (!started_) {
    started_ = true;
    first_sample_ = true;
    now_ = time_ps;
    return;
  }
  if (first_sample_) {
    // The first sample's values are the state the file starts from.
    first_sample_ = false;
    for (Signal& s : signals_) s.start = s.value;
    if (!window_ps_) {
      header();
      stamp(now_);
      pending_ += "$dumpvars\n";
      for (const Signal& s : signals_) value(s, s.value);
      pending_ += "$end\n";
    }
  }
  now_ = time_ps;
  if (!window_ps_) return;
  if (triggered_ && now_ >= stop_ps_) {
    write_window(stop_ps_);
    return;
  }
  if (!triggered_) slide(now_);
}

void VcdWriter::slide(uint64_t end_ps) {
  if (end_ps <= window_ps_) return;
  // Fold what falls out of the window into the state at its start.
  window_start_ = end_ps - window_ps_;
  while (!window_.empty() && window_.front().time <= window_start_) {
    signals_[window_.front().id].start = window_.front().value;
    window_.pop_front();
  }
}

void VcdWriter::record(Id id, uint64_t v) {
  if (first_sample_ || done_) return;
  if (window_ps_) {
    window_.push_back(Change{now_, v, id});
    return;
  }
  stamp(now_);
  value(signals_[id], v);
}

void VcdWriter::trigger(uint64_t time_ps) {
  if (!window_ps_ || triggered_) return;
  triggered_ = true;
  stop_ps_ = time_ps + window_ps_ / 2;
}

void VcdWriter::write_window(uint64_t end_ps) {
  header();
  stamp(window_start_);
  pending_ += "$dumpvars\n";
  for (const Signal& s : signals_) value(s, s.start);
  pending_ += "$end\n";
  for (const Change& c : window_) {
    stamp(c.time);
    value(signals_[c.id], c.value);
  }
  stamp(end_ps);
  window_.clear();
  window_.shrink_to_fit();
  done_ = true;
}

void VcdWriter::close(uint64_t end_ps) {
  if (!out_) return;
  if (!done_) {
    if (first_sample_) begin_sample(end_ps);  // a single sample: its values are the whole file
    if (window_ps_) {
      if (!triggered_) slide(end_ps);
      write_window(end_ps);
    } else {
      if (!started_) header();
      stamp(end_ps);
    }
  }
  flush();
  const bool failed = std::ferror(out_) != 0;
  const bool closed = std::fclose(out_) == 0;
  out_ = nullptr;
  if (failed || !closed) throw std::runtime_error("cannot write " + path_);
}

}  // namespace virtiosim::waves
