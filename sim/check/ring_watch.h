// The monitor's own shadow of one virtqueue, rebuilt from nothing but the
// stores that become visible in ring memory and the device's completion
// events: which buffers are in flight, which descriptors each side owns,
// where the next used entry must appear. From it come the checks neither
// side can make on itself (SPEC_NOTES P2, P3, P4, P5, P8) and the answer to
// "did the other side ask for this notification?" (P10).
//
// It follows the protocol as a driver would (Linux virtqueue_get_buf_ctx_*):
// a chain enters flight when the store of its head's AVAIL flag (packed) or
// of avail->idx (split) becomes visible; buffers leave it when the used flag
// at the next used position (packed) or used->idx (split) does. What a side
// meant to publish is read in that side's program order (its own buffered
// stores included), so a reordering that another check reports does not
// also derail the shadow.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "models/ring/features.h"
#include "models/ring/layout.h"
#include "models/ring/ring_state.h"
#include "models/ring/virtqueue.h"

namespace virtiosim::sim {

struct Finding {
  const char* rule;
  std::string what;
  uint64_t addr = 0;
  uint64_t got = 0, expected = 0;
  unsigned agent = 0;
};

class RingWatch {
 public:
  // Memory as `agent` sees it in program order; as every agent sees it for
  // agent == kVisible.
  static constexpr unsigned kVisible = ~0u;
  using Peek = std::function<void(unsigned agent, uint64_t addr, void* dst, uint64_t n)>;

  RingWatch(ring::RingLayout layout, const ring::QueueAreas& areas, ring::Features features,
            unsigned driver_agent, unsigned device_agent, Peek peek);

  // A store of `agent` (its `seq`-th in program order) became visible.
  // Stores outside this queue's rings are ignored. A store issued before
  // the one that handed its descriptor over, but visible after it, is a
  // reordering (P13, P6.5: the ordering checker's), not an ownership
  // violation.
  void on_store(unsigned agent, uint64_t seq, uint64_t addr, uint64_t size, const uint8_t* data,
                std::vector<Finding>& out);
  // The device completed buffer `id` (the order P4 and P8 are about).
  void on_complete(uint16_t id, std::vector<Finding>& out);
  // A typed load of `agent`, with the value it got: how far each side has
  // looked (a side that reads the slot after the last one published, or
  // the current index, has seen everything before it).
  void on_load(unsigned agent, uint64_t addr, uint64_t size, const uint8_t* data);

  // P10: did the other side's event suppression ask for this
  // notification? `visible`: as every agent sees it now (false: a
  // spurious notification, counted); `ignored`: the sender itself had just
  // read "no notifications at all" there (packed DISABLE; split NO_NOTIFY
  // or NO_INTERRUPT without EVENT_IDX) and sent one anyway, which a sender
  // that follows what it reads never does. Each call also opens the next
  // window.
  struct Asked {
    bool visible = true;
    bool ignored = false;
  };
  Asked kick_wanted();       // a doorbell from the driver
  Asked interrupt_wanted();  // a used-buffer notification from the device
  // A notification reached the other side: it will look at everything
  // published so far.
  void kick_delivered() { kick_delivered_at_ = published_; }
  void interrupt_delivered() { interrupt_delivered_at_ = used_; }
  // A wake-up owed now: the other side has not seen buffers made available
  // (used) since the last notification it received, and its event
  // suppression, as visible now, asks for a notification for them.
  bool kick_owed() const;
  bool interrupt_owed() const;
  // The opposite wait: the driver's last look at its next used position
  // found nothing (it went to wait), used buffers came after that, and its
  // own event suppression, as visible now, asks for no interrupt at all:
  // nothing will wake it (P10.disabled_wait, asked at a stall). Asked of
  // the driver only: a device may leave available buffers for later
  // because it has no use for them yet (RX buffers and no frame to
  // deliver), which the ring does not show.
  bool interrupt_disabled_while_waiting() const;

  size_t in_flight() const { return in_flight_; }
  // VIRTIO_F_ACCESS_PLATFORM (the addresses in descriptors are IOVAs): the
  // id of a buffer in flight whose descriptors name some of
  // [iova, iova+bytes), as published; or of one the driver has made
  // available in its program order, its publishing store still buffered;
  // -1 if none. Without the feature, -1.
  int32_t holder(uint64_t iova, uint64_t bytes) const;
  // Ring positions made available so far (slots packed, entries split).
  uint64_t published() const { return published_; }
  // Where the driver publishes next (packed slot / split avail idx) and,
  // packed, its wrap counter there.
  uint16_t avail_pos() const { return layout_ == ring::RingLayout::packed ? avail_pos_ : avail_idx_; }
  bool avail_wrap() const { return avail_wrap_; }
  // Any of the queue's areas (descriptors, driver and device areas).
  bool touches(uint64_t addr) const;
  // A quick first test for the monitor's per-access path: the span from
  // the lowest area to the end of the highest.
  bool near(uint64_t addr) const { return addr >= span_lo_ && addr < span_hi_; }
  // The queue was reset and enabled again (P15): a fresh ring. The
  // driver's stores before its `driver_seq`-th (the re-zeroing, possibly
  // visible later) belong to the old one.
  void restart(uint64_t driver_seq);
  // Watching starts on a ring that is not fresh: the device resumes at
  // `s` (SET_VRING_BASE), with nothing in flight between its used and
  // avail positions (a drained ring; split: avail idx and used idx).
  void resume(const ring::RingState& s);

 private:
  struct Buffer {
    bool live = false;       // in flight
    uint16_t count = 0;      // descriptors in the ring (P6.6)
    bool completed = false;  // the device said so
    uint64_t addr = 0;       // where it was made available (head descriptor / avail entry)
    std::vector<uint64_t> named;  // ACCESS_PLATFORM: its keys in named_
  };

  uint16_t peek16(unsigned agent, uint64_t addr) const;
  bool driver(unsigned agent) const { return agent == driver_agent_; }

  // Packed.
  void packed_store(unsigned agent, uint64_t seq, uint64_t addr, uint64_t size, const uint8_t* data,
                    std::vector<Finding>& out);
  void packed_publish(std::vector<Finding>& out);
  void packed_used(uint64_t seq, std::vector<Finding>& out);
  bool packed_owned(uint32_t slot) const;
  // P10: a store into the other side's event suppression structure
  // (packed), reported once per side; true: the store was one. The
  // driver's stores before its first publication set the ring up.
  bool wrote_other_area(unsigned agent, uint64_t seq, uint64_t addr, uint64_t size, const uint8_t* data,
                        std::vector<Finding>& out);
  bool driver_wrote_device_area_ = false, device_wrote_driver_area_ = false;
  uint64_t first_publish_seq_ = UINT64_MAX;  // the driver's store that made its first buffer available
  // Split.
  void split_store(unsigned agent, uint64_t seq, uint64_t addr, uint64_t size, const uint8_t* data,
                   std::vector<Finding>& out);
  void split_publish(uint64_t seq, uint16_t new_idx, std::vector<Finding>& out);
  void split_used(uint16_t new_idx, std::vector<Finding>& out);

  // Both: a buffer made available / returned by a used entry carrying `id`.
  // `retire` returns the ring slots the entry gives back (0: not in flight).
  void enter(uint16_t id, uint16_t count, uint64_t addr, std::vector<Finding>& out);
  // ACCESS_PLATFORM: the list being published names the memory in its
  // descriptor at `desc` (addr, then len, at the same offsets in both
  // layouts); enter() files it under the buffer.
  void note_named(uint64_t desc);
  // The memory the descriptor at `desc` names, in the driver's program order.
  ring::Segment desc_names(uint64_t desc) const;
  int32_t published_holder(uint64_t iova, uint64_t bytes) const;
  uint32_t retire(uint16_t id, uint64_t addr, std::vector<Finding>& out);

  ring::RingLayout layout_;
  ring::QueueAreas areas_;
  ring::Features features_;
  unsigned driver_agent_, device_agent_;
  Peek peek_;

  uint64_t span_lo_ = 0, span_hi_ = 0;
  uint64_t driver_seq_floor_ = 0;  // driver stores before this one are ignored (restart)
  // By buffer id (grown to the largest id seen; drivers use ids below the
  // queue size).
  std::vector<Buffer> buffers_;
  Buffer* live(uint16_t id) { return id < buffers_.size() && buffers_[id].live ? &buffers_[id] : nullptr; }
  size_t in_flight_ = 0;
  // ACCESS_PLATFORM only: the IOVA ranges the buffers in flight name, by
  // start: (end, buffer id); and those of the list being published.
  bool platform_ = false;
  std::map<uint64_t, std::pair<uint64_t, uint16_t>> named_;
  std::vector<ring::Segment> naming_;
  std::deque<uint16_t> avail_order_;  // IN_ORDER: in flight, in the order made available
  std::deque<uint16_t> completions_;  // completed, used entry not yet seen (P4)

  // Packed: next slot the driver publishes / the device marks used, their
  // wrap counters, the slots the device owns ([used_pos_, +owned_)), and
  // flags seen ahead of the positions: a list's head is written last, a
  // batch's too, and without a barrier between them stores to different
  // slots may become visible in any order.
  uint16_t avail_pos_ = 0, used_pos_ = 0;
  bool avail_wrap_ = true, used_wrap_ = true;
  uint32_t owned_ = 0;
  std::vector<uint64_t> avail_ahead_;  // program-order number + 1 of the flags store; 0: none
  std::vector<bool> used_ahead_;
  // Per slot (packed) or descriptor (split): program-order number of the
  // store that handed it to the device, and (packed) back to the driver.
  std::vector<uint64_t> published_by_, returned_by_;
  std::vector<uint16_t> list_head_;  // packed: the head slot of the list each slot was published in
  // Split: indices as published, and which head owns each descriptor.
  uint16_t avail_idx_ = 0, used_idx_ = 0;
  std::vector<int32_t> owner_;  // -1: the driver's
  std::vector<std::vector<uint16_t>> chains_;  // by head: the descriptors of its chain

  // One side's event suppression structure as a reader sees it: where
  // its flags and its event index (off_wrap; split: used_event or
  // avail_event) are, and the split flag bit that means "none".
  struct EventArea {
    uint64_t flags_addr, event_addr;
    uint16_t no_notify;
  };
  // Where they are never changes: worked out once, not per load.
  const EventArea& driver_area() const { return driver_area_; }  // the driver's wishes, read by the device
  const EventArea& device_area() const { return device_area_; }  // the device's wishes, read by the driver
  static EventArea driver_area_of(ring::RingLayout layout, const ring::QueueAreas& areas);
  static EventArea device_area_of(ring::RingLayout layout, const ring::QueueAreas& areas);
  EventArea driver_area_, device_area_;
  // Event suppression of the other side asks for a notification for the
  // positions in (new - added, new].
  bool device_wants_kick(uint64_t added) const;
  bool driver_wants_interrupt(uint64_t added) const;
  bool wants(uint64_t added, uint16_t new_idx, bool wrap, const EventArea& area) const;
  // The flags say "no notification at all", whatever the event index.
  bool says_none(uint16_t flags, const EventArea& area) const;
  // What each side last read of the other side's flags (0: nothing yet,
  // else the value + 1).
  uint32_t device_read_flags_ = 0, driver_read_flags_ = 0;
  void note_read(uint64_t addr, uint64_t size, const uint8_t* data, const EventArea& area, uint32_t& flags_read);

  // P10 windows: ring positions published / used in all (slots for packed,
  // entries for split), at the last notification sent and delivered, and
  // as far as each side has looked.
  uint64_t published_ = 0, used_ = 0, published_at_kick_ = 0, used_at_signal_ = 0;
  uint64_t kick_delivered_at_ = 0, interrupt_delivered_at_ = 0, device_seen_ = 0, driver_seen_ = 0;
  bool driver_found_none_ = false;  // the driver's last look at its next used position found nothing
};

}  // namespace virtiosim::sim
