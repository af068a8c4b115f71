#include "transport/vhost_user/check/packed_front.h"

#include <atomic>
#include <cstdio>
#include <cstring>

#include "models/ring/layout.h"
#include "models/ring/packed_flags.h"

namespace virtiosim::vhost_user::check {

using ring::kDescAvail;
using ring::kDescIndirect;
using ring::kDescNext;
using ring::kDescUsed;
using ring::kDescWrite;

namespace {

template <class T>
T load(const uint8_t* p) {
  return __atomic_load_n(reinterpret_cast<const T*>(p), __ATOMIC_ACQUIRE);
}
template <class T>
void store(uint8_t* p, T v) {
  __atomic_store_n(reinterpret_cast<T*>(p), v, __ATOMIC_RELEASE);
}

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

}  // namespace

std::string UsedDesc::text() const {
  return "slot=" + std::to_string(slot) + " id=" + std::to_string(id) + " len=" + std::to_string(len) +
         " flags=" + hex(flags) + " device_wrap=" + std::to_string(wrap);
}

PackedFront::PackedFront(GuestMemfd& mem, uint32_t queue_size)
    : mem_(mem), size_(queue_size), inflight_(1u << 16), written_flags_(queue_size, 0) {
  const ring::PackedLayout l = ring::PackedLayout::place(mem.alloc(ring::PackedLayout::contiguous_bytes(queue_size), 64),
                                                         queue_size);
  desc_ = l.desc;
  driver_event_ = l.driver_event;
  device_event_ = l.device_event;
}

void PackedFront::write_desc(uint16_t slot, const Desc& d) {
  uint8_t* p = mem_.host(desc_ + uint64_t{slot} * 16);
  std::memcpy(p, &d.addr, 8);
  std::memcpy(p + 8, &d.len, 4);
  std::memcpy(p + 12, &d.id, 2);
  store<uint16_t>(p + 14, d.flags);
  written_flags_[slot] = d.flags;
}

Desc PackedFront::read_desc(uint16_t slot) const {
  const uint8_t* p = mem_.host(desc_ + uint64_t{slot} * 16);
  Desc d;
  d.flags = load<uint16_t>(p + 14);
  std::memcpy(&d.addr, p, 8);
  std::memcpy(&d.len, p + 8, 4);
  std::memcpy(&d.id, p + 12, 2);
  return d;
}

void PackedFront::write_flags(uint16_t slot, uint16_t flags) {
  store<uint16_t>(mem_.host(desc_ + uint64_t{slot} * 16 + 14), flags);
  written_flags_[slot] = flags;
}

void PackedFront::record(uint16_t id, uint16_t slots, uint64_t writable) {
  InFlight& f = inflight_[id];
  ++f.count;
  f.slots = slots;
  f.writable = writable;
  ++in_flight_;
}

uint16_t PackedFront::add(std::span<const Desc> list, uint16_t id, bool raw_flags) {
  const std::vector<std::vector<Desc>> one{std::vector<Desc>(list.begin(), list.end())};
  const uint16_t head = next_avail_;
  const uint16_t ids[1] = {id};
  if (raw_flags) {
    // Bodies and flags exactly as given, the head's last.
    uint64_t writable = 0;
    for (size_t i = 1; i < list.size(); ++i) {
      Desc d = list[i];
      d.id = id;
      write_desc(static_cast<uint16_t>((head + i) % size_), d);
    }
    Desc h = list[0];
    h.id = id;
    const uint16_t flags = h.flags;
    h.flags = 0;
    write_desc(head, h);
    std::atomic_thread_fence(std::memory_order_release);
    write_flags(head, flags);
    for (const Desc& d : list)
      if (d.flags & kDescWrite) writable += d.len;
    for (size_t i = 0; i < list.size(); ++i)
      if (++next_avail_ == size_) next_avail_ = 0, avail_wrap_ = !avail_wrap_;
    record(id, static_cast<uint16_t>(list.size()), writable);
    return head;
  }
  add_batch(one, ids);
  return head;
}

uint16_t PackedFront::add_one(uint64_t addr, uint32_t len, uint16_t id, uint16_t flags) {
  const Desc d{addr, len, id, flags};
  return add({&d, 1}, id);
}

void PackedFront::add_batch(std::span<const std::vector<Desc>> lists, std::span<const uint16_t> ids) {
  struct Pending {
    uint16_t slot, flags;
  };
  std::vector<Pending> heads;
  std::vector<Pending> rest;
  for (size_t l = 0; l < lists.size(); ++l) {
    const auto& list = lists[l];
    uint64_t writable = 0;
    for (size_t i = 0; i < list.size(); ++i) {
      Desc d = list[i];
      d.id = ids[l];
      const uint16_t flags = static_cast<uint16_t>((d.flags & ~(kDescAvail | kDescUsed)) |
                                                   ring::packed_avail_flags(avail_wrap_));
      if (d.flags & kDescWrite) writable += d.len;
      (i == 0 ? heads : rest).push_back({next_avail_, flags});
      // The slot's old flags stay until the body is in place: a stale flag
      // must not turn a half-written descriptor available.
      uint8_t* p = mem_.host(desc_ + uint64_t{next_avail_} * 16);
      std::memcpy(p, &d.addr, 8);
      std::memcpy(p + 8, &d.len, 4);
      std::memcpy(p + 12, &d.id, 2);
      if (++next_avail_ == size_) next_avail_ = 0, avail_wrap_ = !avail_wrap_;
    }
    record(ids[l], static_cast<uint16_t>(list.size()), writable);
  }
  std::atomic_thread_fence(std::memory_order_release);  // P13: bodies before flags
  for (const Pending& p : rest) write_flags(p.slot, p.flags);
  for (size_t i = heads.size(); i-- > 0;) write_flags(heads[i].slot, heads[i].flags);  // P6.5: heads last, first head last of all
}

void PackedFront::resume_at(uint16_t avail, bool avail_wrap, uint16_t used, bool used_wrap) {
  next_avail_ = avail;
  avail_wrap_ = avail_wrap;
  next_used_ = used;
  used_wrap_ = used_wrap;
}

// The device's entry is there when AVAIL == USED == its wrap counter. One
// with USED == wrap but AVAIL != USED is a used flag written wrong, if the
// device wrote it: the driver's own flags may look like that too.
bool PackedFront::used_pending() const {
  const uint16_t flags = load<uint16_t>(mem_.host(desc_ + uint64_t{next_used_} * 16 + 14));
  return ((flags & kDescUsed) != 0) == used_wrap_ && flags != written_flags_[next_used_];
}

std::optional<UsedDesc> PackedFront::take_used(Violation& v) {
  v = {};
  if (!used_pending()) return std::nullopt;
  const uint16_t flags = load<uint16_t>(mem_.host(desc_ + uint64_t{next_used_} * 16 + 14));
  const Desc d = read_desc(next_used_);  // after the acquire load of the flags (P13)
  UsedDesc u{next_used_, d.id, d.len, d.flags, used_wrap_};
  if (!ring::packed_desc_is_used(flags, used_wrap_)) {
    v = {"P2", "used descriptor with AVAIL != USED (" + u.text() + ")"};
    return u;
  }
  if (strict_used_ && (flags & kDescNext)) {
    v = {"P5", "NEXT set in a used descriptor (" + u.text() + ")"};
    return u;
  }
  InFlight& f = inflight_[d.id];
  if (f.count == 0) {
    v = {"P3", "used descriptor for id " + std::to_string(d.id) + ", which is not in flight (" + u.text() + ")"};
    return u;
  }
  if (d.len > f.writable && (f.writable > 0 || strict_used_)) {
    v = {"P5", "used len " + std::to_string(d.len) + " beyond the " + std::to_string(f.writable) +
                   " device-writable bytes of the buffer (" + u.text() + ")"};
    return u;
  }
  --f.count;
  --in_flight_;
  const uint32_t next = uint32_t{next_used_} + f.slots;  // P6.6: skip the list
  next_used_ = static_cast<uint16_t>(next % size_);
  if (next >= size_) used_wrap_ = !used_wrap_;
  return u;
}

void PackedFront::set_driver_event(uint16_t flags, uint16_t off_wrap) {
  uint8_t* p = mem_.host(driver_event_);
  store<uint16_t>(p, off_wrap);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // P11: off_wrap, barrier, flags
  store<uint16_t>(p + 2, flags);
}

uint16_t PackedFront::device_event_flags() const { return load<uint16_t>(mem_.host(device_event_ + 2)); }
uint16_t PackedFront::device_event_off_wrap() const { return load<uint16_t>(mem_.host(device_event_)); }

}  // namespace virtiosim::vhost_user::check
