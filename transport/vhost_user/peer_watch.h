// serve --check: the back-end watches its front-end. The device side sees
// nothing of the peer but shared memory, so each vring's watch samples it
// at every poll, compares the ring areas with what it saw last, and feeds
// the changes to the monitor's ring shadow (sim/check/ring_watch) as the
// driver's stores; the device's own used entries go in as its stores and
// completions. The shadow then reports descriptor encodings (P2),
// ownership (P3), chains (P6.2, P6.3); the watch itself adds kicks sent
// while the device's event suppression said DISABLE (P10), and PeerCheck a
// SET_VRING_BASE that does not resume where GET_VRING_BASE left (VU2).
//
// Sampling order is what makes a live driver, caught mid-publish, legal:
// the flags are read first (acquire), in ring order from the slot the
// driver publishes next, then the bodies, so a flag seen available has its
// body (written before it, P13) in the same sample; the changes are fed
// with each slot's body before its flags and the next head last, so a list
// enters flight only once all of it is in the shadow (P6.5). A flags store
// seen without its body yet, or a list's tail before its head, is then
// simply not available yet.
//
// Limits: memory is sampled, not traced. A rewrite undone before the next
// poll, or a store the driver makes twice between two polls, is seen once
// or not at all.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/ring/chain.h"
#include "models/ring/features.h"
#include "models/ring/layout.h"
#include "models/ring/ring_state.h"
#include "sim/check/ring_watch.h"
#include "transport/vhost_user/memory_table.h"

namespace virtiosim::vhost_user {

// One violation, with where it was seen. Split rings have no wrap
// counters: wrap is reported as true there.
struct PeerFinding {
  std::string rule;   // SPEC_NOTES id: P2, P3, P6.2, P6.3, P10, VU2
  uint32_t vring = 0;
  uint32_t slot = 0;  // packed slot; split descriptor index or avail entry
  uint32_t id = 0;    // buffer id (packed) / head (split) in that slot
  uint16_t flags = 0; // the descriptor's flags as seen
  bool wrap = true;   // packed: the driver's wrap counter at the slot it publishes next, when sampled
  std::string what;
};

// The watch of one started vring.
class VringWatch {
 public:
  // `state`: where the device starts (a fresh ring, or SET_VRING_BASE).
  VringWatch(uint32_t vring, std::shared_ptr<const MemoryTable> mem, const ring::QueueAreas& areas,
             ring::Features features, const ring::RingState& state);

  // Feeds what the driver changed in the ring since the last sample.
  void sync(std::vector<PeerFinding>& out);
  // The device completed `e` (before its flush).
  void completed(const ring::UsedElem& e) { pending_.push_back(e); }
  // The device flushed its completions, starting at `before` (its state
  // before the flush): its used entries, as it wrote them, into the
  // shadow. Call sync() before the flush: what the device popped must be
  // in the shadow first.
  void flushed(const ring::RingState& before, std::vector<PeerFinding>& out);
  // The device asked for kicks (event suppression ENABLE or DESC), and
  // said DISABLE again.
  void armed() { armed_now_ = armed_since_ = true; }
  void disarmed() { armed_now_ = false; }
  // Kicks were read from the kick eventfd (any number: it counts them up).
  void kicked(std::vector<PeerFinding>& out);

 private:
  // A ring area in shared memory and, for those the driver writes, what
  // the shadow has been told it holds (packed: the device's used entries
  // in the descriptor ring too).
  struct Area {
    uint64_t gpa = 0, bytes = 0;
    uint8_t* host = nullptr;
    std::vector<uint8_t> img;
    bool holds(uint64_t a, uint64_t n) const { return a >= gpa && a - gpa <= bytes && n <= bytes - (a - gpa); }
  };
  Area* area(uint64_t addr, uint64_t n);
  // Shadow reads: the images of the driver-written areas, live memory for
  // the device area (written by serve alone).
  void peek(uint64_t addr, void* dst, uint64_t n);
  void sync_packed(std::vector<PeerFinding>& out);
  void sync_split(std::vector<PeerFinding>& out);
  void store(uint64_t addr, const void* data, uint64_t n, std::vector<PeerFinding>& out);
  void device_store(uint64_t addr, const void* data, uint64_t n, std::vector<PeerFinding>& out);
  // A shadow finding, with its evidence read from the last sample.
  PeerFinding evidence(const sim::Finding& f) const;
  void report(const std::vector<sim::Finding>& found, std::vector<PeerFinding>& out);

  uint32_t vring_;
  std::shared_ptr<const MemoryTable> mem_;  // keeps the mapping while watched
  ring::QueueAreas areas_;
  bool packed_;
  // The device can say DISABLE: packed, or split without EVENT_IDX
  // (NO_NOTIFY). Split with EVENT_IDX only moves avail_event.
  bool can_disable_;
  Area desc_, driver_, device_;
  sim::RingWatch watch_;
  uint64_t driver_seq_ = 0, device_seq_ = 0;
  bool first_ = true;  // the first sample feeds what was already available
  bool wrap_at_sample_ = true;  // the driver's wrap counter when this sample began (evidence)
  std::vector<uint16_t> flags_now_;  // packed: the flags of this sample
  // packed: the driver's newest flags at the slot were fed while another
  // slot was the head, so the shadow has not judged them as a head's (P2)
  std::vector<bool> head_unjudged_;
  std::vector<uint8_t> sample_;      // this sample of an area
  std::vector<ring::UsedElem> pending_;
  std::vector<sim::Finding> found_;
  // P10: was kicking allowed (notifications armed) at any time since the
  // kick read before the last one (armed_prev_), since the last one
  // (armed_since_), now? The driver decided a kick after it wrote the
  // previous one, which the last read took: after the read before it.
  // Before the ring started its memory said ENABLE (zero).
  bool armed_prev_ = true, armed_since_ = true, armed_now_ = false;
  uint64_t published_at_kick_ = 0;
};

// Everything serve --check keeps across connections: the watches of
// started rings, the findings, and the bases answered (VU2).
class PeerCheck {
 public:
  // Evidence kept per rule (every finding is counted).
  static constexpr size_t kEvidencePerRule = 16;
  // Findings logged per rule.
  static constexpr size_t kLoggedPerRule = 4;

  explicit PeerCheck(bool log) : log_(log) {}

  void start(uint32_t vring, std::shared_ptr<const MemoryTable> mem, const ring::QueueAreas& areas,
             ring::Features features, const ring::RingState& state);
  // The ring stops: one last sample, then it is no longer watched.
  void stop(uint32_t vring);
  VringWatch* watch(uint32_t vring) {
    return vring < watches_.size() ? watches_[vring].get() : nullptr;
  }
  void sync(uint32_t vring);
  void flushed(uint32_t vring, const ring::RingState& before);
  void kicked(uint32_t vring);

  // VU2: GET_VRING_BASE answered `base`; the next SET_VRING_BASE of this
  // vring (on this connection or the next) must resume there, or start a
  // fresh ring. A packed base with a zero upper half is read as "used ==
  // avail" (VringBaseCompat::low_half_only), as serve itself accepts it.
  void answered_base(uint32_t vring, uint32_t base, bool packed);
  void set_base(uint32_t vring, uint32_t base, bool packed);

  struct Rule {
    uint64_t count = 0;
    std::vector<PeerFinding> evidence;  // the first kEvidencePerRule
  };
  const std::map<std::string, Rule>& rules() const { return rules_; }
  uint64_t findings() const { return total_; }

 private:
  void record(std::vector<PeerFinding>& found);

  bool log_;
  std::vector<std::unique_ptr<VringWatch>> watches_;
  std::vector<std::optional<std::pair<uint32_t, bool>>> answered_;  // base, packed; by vring
  std::vector<PeerFinding> found_;
  std::map<std::string, Rule> rules_;
  uint64_t total_ = 0;
};

}  // namespace virtiosim::vhost_user
