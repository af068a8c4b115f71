// Ring events decoded back from a run's VCD (waves/record/tracer.h): what the
// driver and the device did to each queue, with its time and queue. The
// one list of event kinds for the command line (`virtiosim waves`) and
// Python (`virtiosim.Trace`), after QEMU's trace-events catalogue.
//
// What a VCD can tell: the tracer samples ring state every vcd_sample_ns,
// so an event's time is the first sample that shows it (it happened in the
// sample period before), several changes of one kind inside a period are
// one event whose `count` says how many slots or notifications moved, and a
// period must not span a whole lap of a packed ring (wrap counters would
// hide it). What it cannot tell: barriers and the moment a store left a
// store buffer (became visible) are not traced as events — only each
// agent's store-buffer depth, a net count — so `barrier` and
// `store_visible` are not decoded (kNotDecoded).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "waves/read/vcd_reader.h"
#include "waves/signals.h"

namespace virtiosim::waves {

// In the order events of one sample are reported for a queue.
enum class EventKind : uint8_t {
  avail_published,    // driver made slots available (next_avail_idx moved)
  kick,               // driver notified the device (kicks count moved)
  avail_seen,         // device took available slots (last_avail_idx moved)
  used_written,       // device published used slots (last_used_idx moved)
  interrupt,          // driver handled a used-buffer interrupt (interrupts count moved)
  used_seen,          // driver took used slots back (last_used_idx moved)
  driver_area_write,  // the driver event suppression area changed in memory
  device_area_write,  // the device event suppression area changed in memory
  count_
};
inline constexpr unsigned kEventKinds = static_cast<unsigned>(EventKind::count_);

const char* name(EventKind k);
const char* describe(EventKind k);
// The VCD signal (below the queue's scope) an event kind is decoded from.
const char* signal_of(EventKind k);
std::optional<EventKind> parse_event_kind(std::string_view text);

// Events the issue asks for that today's VCD cannot yield, and why.
inline constexpr const char* kNotDecoded =
    "barrier and store_visible: the VCD samples ring state and each agent's store-buffer depth "
    "(memory.store_buffer_depth_agentN, a net count), not individual barriers or stores; use the "
    "access log or RecordingMemory for those";

struct RingEvent {
  uint64_t time_ps = 0;
  uint16_t queue = 0;  // virtqueue index: rx0 = 0, tx0 = 1, rx1 = 2, ...
  EventKind kind = EventKind::kick;
  // Slots moved (index kinds) or notifications (kick, interrupt); 1 for area writes.
  uint32_t count = 0;
  // Index kinds: the ring position before and after (split: free-running
  // indices, wrap always true). kick/interrupt: the running total before and after.
  uint64_t from = 0, to = 0;
  bool from_wrap = true, to_wrap = true;
  // Area writes: the area's flags and off_wrap (split: flags and the
  // used_event / avail_event index) after the change.
  uint32_t flags = 0, off_wrap = 0;
};

std::string queue_name(uint16_t queue);  // "rx0", "tx0", "rx1", ...

struct QueueInfo {
  uint16_t queue = 0;
  std::string name;
  uint32_t size = 0;  // last queue_size seen
  bool packed = true;
};

// Streams events out of a VCD written by the tracer; memory bounded by the
// number of queues.
class RingEventDecoder {
 public:
  explicit RingEventDecoder(VcdReader& reader);  // throws VcdError if no queue is traced

  const std::vector<QueueInfo>& queues() const { return info_; }
  bool next(RingEvent& out);
  // Time of the last value change read so far, in ps.
  uint64_t last_time_ps() const { return static_cast<uint64_t>(static_cast<double>(time_) * reader_.unit_ps()); }

 private:
  // A queue's signals, by their index in the signal table (waves/signals.h).
  using Sig = queue_signal::Id;
  static constexpr unsigned kSigs = queue_signal::count;
  struct Queue {
    uint64_t now[kSigs] = {};
    uint64_t before[kSigs] = {};
  };
  void close_sample();

  VcdReader& reader_;
  std::vector<QueueInfo> info_;
  std::vector<Queue> q_;
  std::vector<std::pair<size_t, unsigned>> route_;  // var index -> (queue slot, signal); queue slot SIZE_MAX: none
  uint64_t time_ = 0;
  bool started_ = false;  // the first sample is the baseline
  bool any_ = false;      // a change was read: time_ is the file's (a triggered window starts after 0)
  bool dirty_ = false;
  bool eof_ = false;
  std::deque<RingEvent> ready_;
};

// Per queue: events and units (slots, notifications) by kind, final
// indices, and the longest delays from a kick to the device taking slots
// and from an interrupt to the driver taking used slots.
struct QueueSummary {
  QueueInfo info;
  uint64_t events[kEventKinds] = {};
  uint64_t units[kEventKinds] = {};
  uint64_t first_ps = 0, last_ps = 0;
  RingEvent last_index[kEventKinds];  // the last event of each index kind
  struct Delay {
    bool seen = false;
    uint64_t cause_ps = 0, effect_ps = 0, slot = 0;
  } kick_to_avail_seen, interrupt_to_used_seen;
};

struct Summary {
  std::string file;
  uint64_t end_ps = 0;
  std::vector<QueueSummary> queues;
  std::string to_text() const;
  std::string to_json() const;
};

Summary summarize(const std::string& vcd_path);  // throws VcdError

}  // namespace virtiosim::waves
