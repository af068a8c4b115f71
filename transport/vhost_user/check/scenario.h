// A conformance scenario: one thing a back-end must get right, tied to a
// SPEC_NOTES rule and the specification's normative statement, run on a
// fresh connection and judged only from what the front-end observes.
//
// Verdicts (virtio-villain's vocabulary):
//   PASS    the back-end did what the rule asks (for hostile input: it
//           neither used what it must not nor broke anything);
//   FAIL    it observably broke the rule (evidence: slot, id, flags, wrap,
//           call counts);
//   REJECT  it refused cleanly: closed the connection, signalled the
//           ring's err eventfd, or reports NEEDS_RESET;
//   WEDGED  nothing happened when something had to, or afterwards a fresh
//           connection no longer moved traffic;
//   SKIP    the back-end does not offer what the scenario needs.
// A valid-input scenario accepts PASS only (refusing valid traffic is a
// defect); a hostile-input one accepts PASS and REJECT.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "transport/vhost_user/check/session.h"

namespace virtiosim::vhost_user::check {

enum class Verdict : uint8_t { PASS, FAIL, REJECT, WEDGED, SKIP };
const char* name(Verdict v);
bool parse_verdict(const std::string& s, Verdict& v);

// Valid: the front-end follows every driver rule; hostile: it breaks one
// on purpose, and the back-end must not be led astray.
enum class Input : uint8_t { valid, hostile };

struct Outcome {
  Verdict verdict = Verdict::PASS;
  std::string evidence;
};

struct Scenario {
  std::string name;       // area/case, e.g. "wrap/size-5/one-by-one"
  std::string rule;       // SPEC_NOTES id: P2, P6.4, VU2, ...
  std::string statement;  // the normative statement it checks, and where
  Input input = Input::valid;
  bool needs_echo = false;  // frames must come back on RX (--mode echo)
  Setup setup;
  // Runs on a connection set up as `setup` asks (or on none, for the
  // protocol scenarios that build their own: `raw`).
  std::function<Outcome(Session&)> run;
  bool raw = false;
  std::function<Outcome(const Target&)> run_raw;
};

bool accepted(const Scenario& s, Verdict v);

// The usual scenario: `run` on a connection set up as `setup` asks.
Scenario make_scenario(std::string name, std::string rule, std::string statement, Input input, Setup setup,
                       std::function<Outcome(Session&)> run);

// The whole catalogue, in the order it runs.
std::vector<Scenario> catalogue();

// Its parts, one per area (catalogue_*.cpp).
void add_ring_scenarios(std::vector<Scenario>& out);        // wrap, sizes, chains, ids, order
void add_descriptor_scenarios(std::vector<Scenario>& out);  // indirect, addresses, ownership
void add_event_scenarios(std::vector<Scenario>& out);       // suppression and event idx
void add_rx_scenarios(std::vector<Scenario>& out);          // RX buffers, echo, back-pressure
void add_protocol_scenarios(std::vector<Scenario>& out);    // messages, ring base, regions, reconnect

}  // namespace virtiosim::vhost_user::check
