// The checker's own driver side of one packed virtqueue, written byte by
// byte into the memory it shares with the back-end under test. Unlike the
// ring core's PackedDriver it will write anything a scenario asks for
// (flags that lie, ids in flight twice, lists that run off the ring), and
// it judges every used descriptor the back-end writes against what was
// really made available: the evidence a verdict quotes.
//
// Ordering is the driver's part of P13: a list's bodies, a release fence,
// then its flags, the head's last (P6.5); used flags are read with acquire
// before the id and len (P13).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "models/ring/features.h"
#include "transport/vhost_user/frontend.h"

namespace virtiosim::vhost_user::check {

struct Desc {
  uint64_t addr = 0;
  uint32_t len = 0;
  uint16_t id = 0;
  uint16_t flags = 0;  // NEXT, WRITE, INDIRECT; AVAIL/USED are added by add()
};

// A used descriptor as the back-end wrote it, where it wrote it.
struct UsedDesc {
  uint16_t slot = 0;
  uint16_t id = 0;
  uint32_t len = 0;
  uint16_t flags = 0;
  bool wrap = false;  // the device wrap counter it was read with
  std::string text() const;
};

// What is wrong with a used descriptor, by rule; empty rule: nothing.
struct Violation {
  const char* rule = nullptr;
  std::string what;
  explicit operator bool() const { return rule != nullptr; }
};

class PackedFront {
 public:
  PackedFront(GuestMemfd& mem, uint32_t queue_size);

  uint32_t size() const { return size_; }
  uint64_t desc_area() const { return desc_; }
  uint64_t driver_area() const { return driver_event_; }
  uint64_t device_area() const { return device_event_; }

  // Raw access to one descriptor slot (no barrier, no bookkeeping).
  void write_desc(uint16_t slot, const Desc& d);
  Desc read_desc(uint16_t slot) const;
  void write_flags(uint16_t slot, uint16_t flags);

  // Makes `list` available as one list at the next free slots: bodies,
  // release, the other flags, the head's flags last. AVAIL/USED follow the
  // driver wrap counter of each slot unless `raw_flags`; the buffer id goes
  // in every descriptor (the last one's counts, P6.1). `writable` is what
  // the device may write, for the used len check (P5). Returns the head slot.
  uint16_t add(std::span<const Desc> list, uint16_t id, bool raw_flags = false);
  uint16_t add_one(uint64_t addr, uint32_t len, uint16_t id, uint16_t flags = 0);
  // As add() for several lists, every head's flags after every body and
  // the first head's flags last of all, so the device sees the batch at once.
  void add_batch(std::span<const std::vector<Desc>> lists, std::span<const uint16_t> ids);

  uint16_t next_avail() const { return next_avail_; }
  bool avail_wrap() const { return avail_wrap_; }
  uint16_t next_used() const { return next_used_; }
  bool used_wrap() const { return used_wrap_; }
  // Where the device resumes (SET_VRING_BASE) when this ring is not fresh.
  void resume_at(uint16_t avail, bool avail_wrap, uint16_t used, bool used_wrap);

  // The next used descriptor, if the device wrote one: judged (P2, P3 for
  // ids never made available or returned twice, P5 for a len beyond a
  // buffer's writable bytes, P6.6 skips) and, if it is sound, consumed. A
  // violation leaves it in place.
  std::optional<UsedDesc> take_used(Violation& v);
  // Also judge what a front-end can live with and a dedicated scenario
  // reports: NEXT in a used descriptor (P5: reserved), a non-zero len for a
  // buffer with nothing device-writable (P5). Off by default, so that one
  // such habit of a back-end does not hide everything else it does.
  void judge_reserved_fields(bool on) { strict_used_ = on; }
  // The device wrote a used descriptor at the next used slot (not judged,
  // not consumed).
  bool used_pending() const;
  size_t in_flight() const { return in_flight_; }
  bool id_in_flight(uint16_t id) const { return inflight_[id].count > 0; }

  // Event suppression (P10): the driver's structure, off_wrap, fence, flags
  // (P11); the device's as it is now.
  void set_driver_event(uint16_t flags, uint16_t off_wrap = 0);
  uint16_t device_event_flags() const;
  uint16_t device_event_off_wrap() const;

 private:
  struct InFlight {
    uint32_t count = 0;      // lists in flight with this id (2: the driver reused it)
    uint16_t slots = 0;      // ring slots the (last) list took (P6.6)
    uint64_t writable = 0;   // bytes the device may write (P5)
  };
  void record(uint16_t id, uint16_t slots, uint64_t writable);

  GuestMemfd& mem_;
  uint32_t size_;
  uint64_t desc_ = 0, driver_event_ = 0, device_event_ = 0;
  uint16_t next_avail_ = 0, next_used_ = 0;
  bool avail_wrap_ = true, used_wrap_ = true;
  std::vector<InFlight> inflight_;  // by id, all 2^16
  // The flags this side last wrote in each slot: what is there and differs
  // was written by the device.
  std::vector<uint16_t> written_flags_;
  bool strict_used_ = false;
  size_t in_flight_ = 0;
};

}  // namespace virtiosim::vhost_user::check
