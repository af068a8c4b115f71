// An agent's notion of time inside a SystemC thread. Two timing modes:
//   lt  loosely timed: latencies accumulate in a local offset (TLM-2.0
//       quantum keeper) and the thread yields to the kernel once per
//       quantum or at a synchronisation point (kick, interrupt, idle);
//   at  approximately timed: the thread waits for every access, so the
//       order of accesses in simulated time is exact.
// Both give the same functional results; `at` is for ordering studies.
#pragma once

#include <systemc>
#include <tlm_utils/tlm_quantumkeeper.h>

#include <cstdint>

namespace virtiosim::memory {

enum class TimingMode : uint8_t { lt, at };

inline const char* name(TimingMode m) { return m == TimingMode::lt ? "lt" : "at"; }

class AgentClock {
 public:
  explicit AgentClock(TimingMode mode) : mode_(mode) { qk_.reset(); }

  // Charge `ns` of latency to the calling thread.
  void advance(double ns) {
    const sc_core::sc_time d(ns, sc_core::SC_NS);
    if (mode_ == TimingMode::at) {
      sc_core::wait(d);
      return;
    }
    qk_.inc(d);
    if (qk_.need_sync()) qk_.sync();
  }

  // Bring the kernel up to this thread's local time (before it waits for
  // or notifies an event others observe).
  void sync() {
    if (mode_ == TimingMode::lt) qk_.sync();
  }

  // Hand the local offset to a TLM b_transport as its delay, and take the
  // annotated delay back (TLM-2.0 loosely-timed convention).
  sc_core::sc_time local() const { return qk_.get_local_time(); }
  void set_local(const sc_core::sc_time& t) {
    if (mode_ == TimingMode::at) {
      sc_core::wait(t);
      return;
    }
    qk_.set(t);
    if (qk_.need_sync()) qk_.sync();
  }

  // Wait for an event another thread notifies, first catching up with this
  // thread's local time so the wait starts at the right moment.
  void wait_for(const sc_core::sc_event& e) {
    sync();
    sc_core::wait(e);
    qk_.reset();
  }
  void wait_for(const sc_core::sc_event& e, const sc_core::sc_time& timeout) {
    sync();
    sc_core::wait(timeout, e);
    qk_.reset();
  }

  sc_core::sc_time now() const { return sc_core::sc_time_stamp() + qk_.get_local_time(); }
  uint64_t now_ps() const { return static_cast<uint64_t>(now().to_seconds() * 1e12 + 0.5); }
  TimingMode mode() const { return mode_; }

 private:
  TimingMode mode_;
  tlm_utils::tlm_quantumkeeper qk_;
};

}  // namespace virtiosim::memory
