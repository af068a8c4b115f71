// What scenarios share: making buffers available the ordinary way, and
// watching what the back-end does with them for a while, turned into a
// verdict with its evidence.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "transport/vhost_user/check/scenario.h"
#include "transport/vhost_user/check/session.h"

namespace virtiosim::vhost_user::check {

// What the back-end did on one ring while the checker watched.
struct Observed {
  std::vector<UsedDesc> used;  // sound used descriptors, in ring order
  Violation violation;         // the first unsound one (and its rule)
  std::string refusal;         // how it refused, if it did
  bool timed_out = false;      // fewer than asked for came back
  std::string text() const;
};

// Watches ring `q` for up to `want` used descriptors, for `wait`.
Observed observe(Session& s, Queue q, size_t want, std::chrono::milliseconds wait);

// Valid input: all `want` must come back, sound, in `timeout`.
Outcome expect_used(Session& s, Queue q, size_t want, std::vector<UsedDesc>* got = nullptr);

// Hostile input after `sound` buffers (which must still come back):
// watches for the settle time. REJECT if refused; FAIL if anything comes
// back unsound; if the hostile buffer itself comes back sound, FAIL under
// `harm_rule` with `harm` when using it is harmful, else PASS (tolerated);
// PASS if it was left alone.
Outcome judge_hostile(Session& s, Queue q, size_t sound, const char* harm_rule = nullptr,
                      const std::string& harm = {});

// `n` numbered frames on TX, one descriptor each (ids: their slots), kicked.
void send_frames(Session& s, size_t n);
// Sends `n` frames and expects every one used; with an echoing back-end
// and Setup::auto_rx off, also their echoes, checked, on RX buffers
// posted for them.
Outcome round_trip(Session& s, size_t n);
// `n` RX buffers of 2048 bytes, one descriptor each (ids: their slots), kicked.
void post_rx(Session& s, size_t n);

// After a scenario: can a fresh connection still move traffic? Empty if so.
std::string survives(const Target& t);

// P11 for one step of a packed ring: did the side that moved from `old`
// to `now` (now in wrap `wrap`) cross the other side's event `off_wrap`?
// Written from the specification and DPDK's vhost_vring_call_packed, not
// from the ring core (models/ring/event_idx.h), which it judges.
bool event_crossed(uint16_t off_wrap, uint16_t old, uint16_t now, bool wrap, uint32_t size);

std::string hex(uint64_t v);
Outcome pass(std::string evidence);
Outcome fail(const std::string& rule, std::string evidence);
Outcome wedged(std::string evidence);
Outcome reject(std::string evidence);

}  // namespace virtiosim::vhost_user::check
