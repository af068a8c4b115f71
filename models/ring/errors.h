// Typed errors of the ring core. Data-path operations return them; setup
// mistakes (bad layout, bad queue size) throw RingConfigError carrying one.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace virtiosim::ring {

enum class RingError : uint8_t {
  ok = 0,
  // Not fatal: the caller may retry later.
  no_space,                 // driver: not enough free descriptors right now
  // Fatal for a device: the queue is marked broken (NEEDS_RESET).
  chain_too_long,           // P6.4: list longer than the queue size
  chain_exceeds_limit,      // list has more segments than the device accepts
  chain_loop,               // split: a NEXT link revisits a descriptor
  next_out_of_range,        // split: NEXT index >= queue size
  head_out_of_range,        // split: avail ring names a head >= queue size
  avail_idx_jump,           // split: avail idx moved by more than the queue size
  queue_size_exceeded,      // P3: more in flight than the queue size (a descriptor the device owns made available)
  unavailable_in_chain,     // P6.2: unexpected unavailable descriptor in a chain
  indirect_not_negotiated,  // P7: INDIRECT without VIRTIO_F_INDIRECT_DESC
  indirect_with_next,       // P7: INDIRECT combined with NEXT
  indirect_nested,          // P7: INDIRECT inside an indirect table
  indirect_bad_length,      // P7: table length not a non-zero multiple of 16
  indirect_bad_flags,       // P7: NEXT inside a packed indirect table
  address_overflow,         // addr + len wraps 64 bits
  address_unmapped,         // outside what the memory policy maps
  readable_after_writable,  // P6.3
  iova_unmapped,            // ACCESS_PLATFORM: device access to an IOVA the IOMMU does not map (never or no longer)
  iova_no_permission,       // ACCESS_PLATFORM: device access the mapping does not permit (a write to a read-only page)
  // Fatal for a driver: the device returned something impossible.
  bad_used_id,              // used id not in flight
  used_idx_jump,            // split: used idx moved past what is in flight
  // State and lifecycle.
  bad_ring_state,           // restored indices out of range
  queue_broken,             // a previous fatal error; nothing is touched
  bad_queue_size,           // setup: 0, > 32768, or split not a power of two
  bad_layout,               // setup: misaligned or unmapped ring areas
  empty_buffer,             // driver: add() with no segments
  count_  // number of kinds; not an error
};

inline constexpr unsigned kRingErrorKinds = static_cast<unsigned>(RingError::count_);

// Stable name (snake_case, as in the enum) and a one-line description citing
// the rule of ../shared/SPEC_NOTES.md where one applies.
const char* name(RingError e);
const char* describe(RingError e);
// The rule an error enforces, as reports cite it: the SPEC_NOTES id its
// description starts with ("P6.4"), else "ring.<name>" ("ring.address_unmapped").
// The one table of rule ids; RingFailure carries the answer.
const char* rule(RingError e);

// What broke a queue: the error and the rule it enforces, so a report, a
// log line or a test reads the rule id from the failure instead of mapping
// the kind again. {ok, ""} while the queue is healthy.
struct RingFailure {
  RingError error = RingError::ok;
  const char* rule = "";

  static RingFailure of(RingError e) { return {e, ring::rule(e)}; }
};

// Errors after which a device side refuses all further work.
constexpr bool is_fatal(RingError e) {
  return e != RingError::ok && e != RingError::no_space && e != RingError::empty_buffer;
}

class RingConfigError : public std::invalid_argument {
 public:
  RingConfigError(RingError e, const std::string& what)
      : std::invalid_argument(std::string(name(e)) + ": " + what), error_(e) {}
  RingError error() const { return error_; }

 private:
  RingError error_;
};

// Outcome of a data-path call that also yields a value (e.g. "was a buffer
// there?"): the value is meaningful only when error == ok.
template <class T>
struct Result {
  RingError error = RingError::ok;
  T value{};

  bool ok() const { return error == RingError::ok; }
};

// Per-kind error counters, kept by each ring side.
struct ErrorCounters {
  uint64_t count[kRingErrorKinds] = {};

  void add(RingError e) { ++count[static_cast<unsigned>(e)]; }
  uint64_t operator[](RingError e) const { return count[static_cast<unsigned>(e)]; }
  uint64_t total() const {
    uint64_t t = 0;
    for (uint64_t c : count) t += c;
    return t;
  }
  // f(name, count) for each error seen, in RingError order.
  template <class F>
  void visit(F&& f) const {
    for (unsigned k = 1; k < kRingErrorKinds; ++k)
      if (count[k]) f(name(static_cast<RingError>(k)), count[k]);
  }
};

}  // namespace virtiosim::ring
