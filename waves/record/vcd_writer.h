// A small VCD writer for the tracer (waves/record/tracer.h), in place of
// SystemC's sc_trace: SystemC's VCD file compares every traced variable at
// every kernel time step, whoever made the step; this one does work only
// when the tracer hands it a sample, and writes only the values that
// changed, under their timestamp. The header carries no wall-clock date,
// so the same run gives the same bytes without a rewrite.
//
// Two ways to write:
//   - streaming (window_ps = 0): every change goes to the file as it comes;
//   - triggered window (window_ps > 0): changes are kept in memory, the
//     last window_ps of them (older ones are folded into the state at the
//     window's start). trigger() marks the time of interest; recording goes
//     on for half a window more (post-trigger, as a logic analyser keeps
//     some time after its trigger), and then the file is written: the state
//     at the window's start as $dumpvars at that time, then the changes. So
//     a file spans at most 1.5 windows: one before the trigger, half after.
//     Without a trigger, close() writes the last window_ps.
// Times are absolute simulated times in ps (timescale 1 ps), so a window's
// times match the run's report.
#pragma once

#include <cstdint>
#include <cstdio>
#include <deque>
#include <string>
#include <vector>

namespace virtiosim::waves {

class VcdWriter {
 public:
  using Id = uint32_t;

  // Nothing is written before the first sample (begin_sample), so the
  // declarations are complete by then. Throws std::runtime_error if the
  // file cannot be opened.
  VcdWriter(const std::string& path, uint64_t window_ps);
  ~VcdWriter();
  VcdWriter(const VcdWriter&) = delete;
  VcdWriter& operator=(const VcdWriter&) = delete;

  // Declare a signal: `name` is dotted below the top scope ("rx0.driver.next_avail_idx"),
  // `width` 1..64 bits; `initial` is its value before the first change.
  Id add(const std::string& name, unsigned width, uint64_t initial = 0);

  // Values at time `time_ps` (not before the previous sample's): set() the
  // signals that may have moved; only those that did are recorded.
  void begin_sample(uint64_t time_ps);
  void set(Id id, uint64_t value) {
    Signal& s = signals_[id];
    if (s.value == value) return;
    s.value = value;
    record(id, value);
  }

  // The time of interest of a triggered window (the first call counts; a
  // streaming writer ignores it).
  void trigger(uint64_t time_ps);
  // True once a triggered window was written: further samples are dropped,
  // so the caller may stop sampling.
  bool done() const { return done_; }

  // Write what is left (a window not yet written: the last window_ps) with
  // `end_ps` as the file's last timestamp, and close. Throws std::runtime_error
  // if the file could not be written.
  void close(uint64_t end_ps);

 private:
  struct Signal {
    std::string name;
    unsigned width;
    uint64_t value;  // now
    uint64_t start;  // a window's: at the window's start
    std::string code;
  };
  struct Change {
    uint64_t time;
    uint64_t value;
    Id id;
  };
  void record(Id id, uint64_t value);
  void slide(uint64_t end_ps);  // a window: drop what is older than end_ps - window_ps
  void header();
  void stamp(uint64_t time_ps);
  void value(const Signal& s, uint64_t v);
  void write_window(uint64_t end_ps);
  void flush();

  static constexpr size_t kFlushBytes = 1 << 20;  // large: the file is written in many short lines

  std::string path_;
  std::FILE* out_ = nullptr;
  std::string pending_;  // text not yet handed to out_
  std::vector<Signal> signals_;
  uint64_t now_ = 0;
  uint64_t last_stamp_ = 0;
  bool stamped_ = false;       // a timestamp was written, so the next is needed only on a new time
  bool first_sample_ = false;  // in the first sample: its values are the $dumpvars, not changes
  bool started_ = false;       // the first sample was taken
  // Triggered window.
  uint64_t window_ps_;
  std::deque<Change> window_;
  uint64_t window_start_ = 0;
  bool triggered_ = false;
  uint64_t stop_ps_ = 0;  // with a trigger: the window is written once samples reach this time
  bool done_ = false;
};

}  // namespace virtiosim::waves
