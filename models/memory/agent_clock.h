// An agent's notion of time inside a SystemC thread. Two timing modes:
//   lt  loosely timed: latencies accumulate in a local offset (TLM-2.0
//       temporal decoupling, as tlm_quantumkeeper) and the thread yields to
//       the kernel once the offset reaches the global quantum, or at a
//       synchronisation point (kick, interrupt, idle);
//   at  approximately timed: the thread waits for every access, so the
//       order of accesses in simulated time is exact.
// Both give the same functional results; `at` is for ordering studies.
// Time is kept in integer picoseconds (the kernel's default resolution):
// building sc_time values per access costs more than the access model.
#pragma once

#include <systemc>
#include <tlm>

#include <cstdint>

namespace virtiosim::memory {

enum class TimingMode : uint8_t { lt, at };

inline const char* name(TimingMode m) { return m == TimingMode::lt ? "lt" : "at"; }

class AgentClock {
 public:
  explicit AgentClock(TimingMode mode) : mode_(mode) {}

  // Charge `ns` of latency to the calling thread.
  void advance(double ns) { advance_ps(static_cast<uint64_t>(ns * 1000.0 + 0.5)); }

  void advance_ps(uint64_t ps) {
    busy_ps_ += ps;
    if (mode_ == TimingMode::at) {
      sc_core::wait(sc_core::sc_time::from_value(ps));
      return;
    }
    local_ps_ += ps;
    if (local_ps_ >= quantum_ps()) sync();
  }

  // Bring the kernel up to this thread's local time (before it waits for
  // or notifies an event others observe).
  void sync() {
    if (local_ps_ == 0) return;
    const uint64_t ps = local_ps_;
    local_ps_ = 0;
    quantum_ps_ = 0;  // a quantum set meanwhile applies from here on, as with tlm_quantumkeeper
    sc_core::wait(sc_core::sc_time::from_value(ps));
  }

  // Hand the local offset to a TLM b_transport as its delay, and take the
  // annotated delay back (TLM-2.0 loosely-timed convention).
  sc_core::sc_time local() const { return sc_core::sc_time::from_value(local_ps_); }
  void set_local(const sc_core::sc_time& t) {
    const uint64_t ps = t.value();
    if (ps >= local_ps_) advance_ps(ps - local_ps_);
  }

  // Sleep until `ready()` holds, woken by `e`. The thread first catches up
  // with its local time, and an event may fire during that catch-up, so the
  // condition is checked again after it: waiting on the event alone would
  // lose that wake-up (the watchdog found exactly this).
  template <class Ready>
  void wait_until(const sc_core::sc_event& e, Ready ready) {
    sync();
    while (!ready()) sc_core::wait(e);
  }
  // As wait_until, but give up after `timeout` (measured from now).
  template <class Ready>
  void wait_until(const sc_core::sc_event& e, const sc_core::sc_time& timeout, Ready ready) {
    sync();
    if (!ready()) sc_core::wait(timeout, e);
  }

  sc_core::sc_time now() const { return sc_core::sc_time_stamp() + local(); }
  uint64_t now_ps() const { return sc_core::sc_time_stamp().value() + local_ps_; }
  // Time charged to this agent (busy, not waiting for events).
  uint64_t busy_ps() const { return busy_ps_; }
  TimingMode mode() const { return mode_; }

 private:
  // The global quantum, read once per synchronisation rather than per
  // access (the kernel's accessor is an out-of-line call into libsystemc).
  uint64_t quantum_ps() {
    if (quantum_ps_ == 0) quantum_ps_ = tlm::tlm_global_quantum::instance().get().value();
    return quantum_ps_;
  }

  TimingMode mode_;
  uint64_t local_ps_ = 0;
  uint64_t busy_ps_ = 0;
  uint64_t quantum_ps_ = 0;  // 0: read it again
};

}  // namespace virtiosim::memory
