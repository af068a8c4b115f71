// Stage 2 of the report: did the run pass? The conservation rule here is
// the one the run controller uses to decide that a run is complete.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace virtiosim::sim {

// Where the frames sent went (one queue pair, or totals).
struct Accounting {
  uint64_t sent = 0;
  uint64_t completed = 0;      // TX buffers the device completed
  uint64_t taken_back = 0;     // TX buffers a queue reset took back (P15)
  uint64_t received = 0;       // frames received intact
  uint64_t received_bad = 0;   // corrupt, duplicate or never sent on that queue
  uint64_t dropped = 0;        // wire queue full, or larger than an RX buffer
  uint64_t lost_at_reset = 0;  // taken back unsent at a queue reset

  Accounting& operator+=(const Accounting& o);
  bool operator==(const Accounting&) const = default;
};

enum class Balance { short_of, exact, beyond };

// Everything sent is accounted for: every TX buffer came back (completed,
// or taken back at a queue reset) and, on a loopback wire, every frame
// arrived (intact or not), was dropped, or was lost at a queue reset.
// Each sum is compared with `sent`; without loopback frames are `exact`.
struct Conservation {
  Balance tx_buffers = Balance::exact;
  Balance frames = Balance::exact;
  bool complete() const { return tx_buffers != Balance::short_of && frames != Balance::short_of; }
};
Conservation conservation(const Accounting& a, uint64_t sent, bool loopback);

struct RunFigures;

struct Verdict {
  bool ok = false;
  std::vector<std::string> errors;  // what stopped the run first, then what the figures show
};

Verdict judge(const RunFigures& run);

}  // namespace virtiosim::sim
