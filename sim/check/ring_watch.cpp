#include "sim/check/ring_watch.h"

#include <algorithm>
#include <cstdio>

#include "models/ring/event_idx.h"
#include "models/ring/packed_flags.h"

namespace virtiosim::sim {

using ring::kDescNext;
using ring::packed_avail_flags;
using ring::packed_desc_is_avail;
using ring::packed_desc_is_used;
using ring::packed_used_flags;

namespace {

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

// The value a store wrote (ring fields are at most 8 bytes; little-endian).
uint64_t stored(const uint8_t* data, uint64_t size) {
  uint64_t v = 0;
  for (uint64_t i = 0; i < std::min<uint64_t>(size, 8); ++i) v |= uint64_t{data[i]} << (8 * i);
  return v;
}

template <class T>
bool erase_first(std::deque<T>& d, T v) {
  const auto it = std::find(d.begin(), d.end(), v);
  if (it == d.end()) return false;
  d.erase(it);
  return true;
}

}  // namespace

RingWatch::RingWatch(ring::RingLayout layout, const ring::QueueAreas& areas, ring::Features features,
                     unsigned driver_agent, unsigned device_agent, Peek peek)
    : layout_(layout),
      areas_(areas),
      features_(features),
      driver_agent_(driver_agent),
      device_agent_(device_agent),
      peek_(std::move(peek)),
      driver_area_(driver_area_of(layout, areas)),
      device_area_(device_area_of(layout, areas)) {
  platform_ = features.has(VIRTIO_F_ACCESS_PLATFORM);
  const bool packed = layout_ == ring::RingLayout::packed;
  span_lo_ = std::min({areas.desc, areas.driver, areas.device});
  const uint64_t driver_bytes = packed ? ring::PackedLayout::event_bytes : ring::SplitLayout::avail_bytes(areas.num);
  const uint64_t device_bytes = packed ? ring::PackedLayout::event_bytes : ring::SplitLayout::used_bytes(areas.num);
  span_hi_ = std::max({areas.desc + ring::desc_area_bytes(layout, areas.num), areas.driver + driver_bytes,
                       areas.device + device_bytes});
  if (packed)
    avail_ahead_.assign(areas.num, 0), used_ahead_.assign(areas.num, false), returned_by_.assign(areas.num, 0),
        list_head_.assign(areas.num, 0);
  else owner_.assign(areas.num, -1), chains_.resize(areas.num);
  published_by_.assign(areas.num, 0);
}

uint16_t RingWatch::peek16(unsigned agent, uint64_t addr) const {
  uint16_t v = 0;
  peek_(agent, addr, &v, 2);  // guest memory is little-endian, as the host
  return v;
}

void RingWatch::on_store(unsigned agent, uint64_t seq, uint64_t addr, uint64_t size, const uint8_t* data,
                         std::vector<Finding>& out) {
  if (agent != driver_agent_ && agent != device_agent_) return;
  if (agent == driver_agent_ && seq < driver_seq_floor_) return;
  if (layout_ == ring::RingLayout::packed) {
    if (wrote_other_area(agent, seq, addr, size, data, out)) return;
    packed_store(agent, seq, addr, size, data, out);
  }
  else if (addr == areas_.split().avail_idx_addr() && size == 2 && driver(agent))
    split_publish(seq, static_cast<uint16_t>(data[0] | data[1] << 8), out);
  else if (addr == areas_.split().used_idx_addr() && size == 2 && !driver(agent))
    split_used(static_cast<uint16_t>(data[0] | data[1] << 8), out);
  else split_store(agent, seq, addr, size, data, out);
}

// P10: each side writes only its own event suppression structure (packed:
// the driver the Driver Area, the device the Device Area); the other one
// is the other side's, read by this side. The driver initializes the
// whole ring (zeroes it) before it makes its first buffer available:
// those stores are its own. Reported once per side: every later store is
// the same bug.
bool RingWatch::wrote_other_area(unsigned agent, uint64_t seq, uint64_t addr, uint64_t size, const uint8_t* data,
                                 std::vector<Finding>& out) {
  const ring::PackedLayout p = areas_.packed();
  const bool by_driver = driver(agent);
  if (!(by_driver ? p.in_device_event(addr) : p.in_driver_event(addr))) return false;
  if (by_driver && seq < first_publish_seq_) return true;  // setting the ring up
  bool& reported = by_driver ? driver_wrote_device_area_ : device_wrote_driver_area_;
  if (!reported) {
    reported = true;
    out.push_back({"P10.area_owner",
                   by_driver ? "driver wrote " + hex(stored(data, size)) + " into the device's event suppression structure (Device Area)"
                             : "device wrote " + hex(stored(data, size)) + " into the driver's event suppression structure (Driver Area)",
                   addr, stored(data, size), 0, agent});
  }
  return true;
}

bool RingWatch::touches(uint64_t addr) const {
  if (layout_ == ring::RingLayout::packed) {
    const ring::PackedLayout p = areas_.packed();
    return p.in_desc_ring(addr) || p.in_driver_event(addr) || p.in_device_event(addr);
  }
  auto in = [addr](uint64_t lo, uint64_t bytes) { return addr >= lo && addr < lo + bytes; };
  return areas_.split().in_desc_table(addr) ||
         in(areas_.driver, ring::SplitLayout::avail_bytes(areas_.num)) ||
         in(areas_.device, ring::SplitLayout::used_bytes(areas_.num));
}

void RingWatch::restart(uint64_t driver_seq) {
  Peek peek = peek_;
  *this = RingWatch(layout_, areas_, features_, driver_agent_, device_agent_, std::move(peek));
  driver_seq_floor_ = driver_seq;
}

void RingWatch::resume(const ring::RingState& s) {
  if (layout_ == ring::RingLayout::packed) {
    avail_pos_ = used_pos_ = s.last_avail_idx;
    avail_wrap_ = used_wrap_ = s.avail_wrap_counter;
  } else {
    avail_idx_ = s.last_avail_idx;
    used_idx_ = s.last_used_idx;
  }
}

// ---- packed ---------------------------------------------------------------

bool RingWatch::packed_owned(uint32_t slot) const {
  return (slot + areas_.num - used_pos_) % areas_.num < owned_;
}

void RingWatch::packed_store(unsigned agent, uint64_t seq, uint64_t addr, uint64_t size, const uint8_t* data,
                             std::vector<Finding>& out) {
  const ring::PackedLayout p = areas_.packed();
  if (!p.in_desc_ring(addr)) return;
  const uint32_t slot = p.slot_of(addr);
  const bool flags_store = addr == p.flags_addr(slot) && size == 2;
  const uint16_t flags = flags_store ? static_cast<uint16_t>(data[0] | data[1] << 8) : 0;
  if (driver(agent)) {
    if (packed_owned(slot) && seq > published_by_[slot]) {
      // The store that makes a list's later descriptor available comes
      // after the store of its head's flags in the driver's program: the
      // device could see the head and run into a descriptor not yet
      // available. The ordering checker names the same rule when only the
      // visibility is out of order (a missing write barrier).
      const bool wrap = slot >= used_pos_ ? used_wrap_ : !used_wrap_;
      if (flags_store && list_head_[slot] != slot && packed_desc_is_avail(flags, wrap)) {
        out.push_back({"P6.5", "driver made slot " + std::to_string(slot) + " of the list at slot " +
                                   std::to_string(list_head_[slot]) + " available after the list's head",
                       addr, flags, 0, agent});
        return;
      }
      out.push_back({"P3", "driver wrote slot " + std::to_string(slot) + " (offset " +
                               std::to_string(addr - p.desc_addr(slot)) + ") while the device owns it",
                     addr, stored(data, size), 0, agent});
      return;
    }
    if (!flags_store) return;
    if (slot != avail_pos_) {  // a list's other descriptor, or a later head
      avail_ahead_[slot] = packed_desc_is_avail(flags, slot > avail_pos_ ? avail_wrap_ : !avail_wrap_) ? seq + 1 : 0;
      return;
    }
    if (!packed_desc_is_avail(flags, avail_wrap_)) {
      out.push_back({"P2", "head flags " + hex(flags) + " at slot " + std::to_string(slot) +
                               " do not mark it available for driver wrap " + std::to_string(avail_wrap_),
                     addr, flags, packed_avail_flags(avail_wrap_), agent});
      return;
    }
    avail_ahead_[slot] = seq + 1;
    packed_publish(out);
    return;
  }
  if (!packed_owned(slot)) {
    if (seq < returned_by_[slot]) return;
    out.push_back({"P3", "device wrote slot " + std::to_string(slot) + " it does not own", addr, stored(data, size), 0,
                   agent});
    return;
  }
  if (!flags_store) return;
  const bool wrap = slot >= used_pos_ ? used_wrap_ : !used_wrap_;
  if (!packed_desc_is_used(flags, wrap)) {
    out.push_back({"P2", "used flags " + hex(flags) + " at slot " + std::to_string(slot) +
                             " do not match device wrap " + std::to_string(wrap),
                   addr, flags, packed_used_flags(wrap), agent});
    return;
  }
  if (flags & kDescNext)
    out.push_back({"P5", "NEXT set in the used descriptor at slot " + std::to_string(slot), addr, flags, 0, agent});
  used_ahead_[slot] = true;
  packed_used(seq, out);
}

// The head's AVAIL flag is visible: the list at avail_pos_ is the device's,
// and so is each list after it whose head flag was already visible.
void RingWatch::packed_publish(std::vector<Finding>& out) {
  const ring::PackedLayout p = areas_.packed();
  while (owned_ < areas_.num && avail_ahead_[avail_pos_]) {
    const uint16_t head = avail_pos_;
    const uint64_t seq = avail_ahead_[head] - 1;
    first_publish_seq_ = std::min(first_publish_seq_, seq);
    uint32_t pos = avail_pos_;
    bool wrap = avail_wrap_;
    uint16_t count = 0, id = 0;
    bool writable = false;
    naming_.clear();
    for (;;) {
      const uint16_t f = peek16(driver_agent_, p.flags_addr(pos));
      if (count > 0 && !packed_desc_is_avail(f, wrap)) {  // P6.2: the list runs into a slot not made available
        out.push_back({"P6.2", "descriptor " + std::to_string(count) + " of the list at slot " + std::to_string(head) +
                                   " (flags " + hex(f) + ") is not available for wrap " + std::to_string(wrap),
                       p.flags_addr(pos), f, packed_avail_flags(wrap), driver_agent_});
        break;
      }
      if (writable && !(f & ring::kDescWrite))
        out.push_back({"P6.3", "descriptor " + std::to_string(count) + " of the list at slot " + std::to_string(head) +
                                   " is device-readable after a device-writable one",
                       p.flags_addr(pos), f, uint64_t{f} | ring::kDescWrite, driver_agent_});
      writable |= (f & ring::kDescWrite) != 0;
      id = peek16(driver_agent_, p.id_addr(pos));  // P6.1: the last descriptor's id names the buffer
      if (platform_) note_named(p.desc_addr(pos));
      published_by_[pos] = seq;
      list_head_[pos] = head;
      avail_ahead_[pos] = 0;
      ++count;
      if (++pos == areas_.num) pos = 0, wrap = !wrap;
      // A list longer than the free slots, or an indirect descriptor with
      // NEXT, is the device's to reject (P6.4, P7).
      if (!(f & kDescNext) || (f & ring::kDescIndirect) || owned_ + count >= areas_.num) break;
    }
    enter(id, count, p.desc_addr(head), out);
    avail_pos_ = static_cast<uint16_t>(pos);
    avail_wrap_ = wrap;
    owned_ += count;
    published_ += count;
  }
}

// Used flags are visible at used_ahead_: hand back what the driver would
// take, from used_pos_ on, as far as the entries are there.
void RingWatch::packed_used(uint64_t seq, std::vector<Finding>& out) {
  const ring::PackedLayout p = areas_.packed();
  while (owned_ > 0 && used_ahead_[used_pos_]) {
    uint32_t slots = retire(peek16(device_agent_, p.id_addr(used_pos_)), p.desc_addr(used_pos_), out);
    slots = std::clamp<uint32_t>(slots, 1, owned_);  // an id not in flight: step over the entry
    for (uint32_t k = 0; k < slots; ++k) {
      used_ahead_[(used_pos_ + k) % areas_.num] = false;
      returned_by_[(used_pos_ + k) % areas_.num] = seq;
    }
    owned_ -= slots;
    used_ += slots;
    used_pos_ = static_cast<uint16_t>(used_pos_ + slots);
    if (used_pos_ >= areas_.num) used_pos_ = static_cast<uint16_t>(used_pos_ - areas_.num), used_wrap_ = !used_wrap_;
  }
}

// ---- split ----------------------------------------------------------------

void RingWatch::split_store(unsigned agent, uint64_t seq, uint64_t addr, uint64_t size, const uint8_t* data,
                            std::vector<Finding>& out) {
  const ring::SplitLayout s = areas_.split();
  if (!s.in_desc_table(addr) || size == 0) return;
  const uint32_t i = s.desc_index_of(addr);
  if (!driver(agent))
    out.push_back({"P3", "device wrote descriptor " + std::to_string(i) + " of the descriptor table", addr,
                   stored(data, size), 0, agent});
  else if (owner_[i] >= 0 && seq > published_by_[i])
    out.push_back({"P3", "driver wrote descriptor " + std::to_string(i) + " of the in-flight chain of head " +
                             std::to_string(owner_[i]),
                   addr, stored(data, size), 0, agent});
}

void RingWatch::split_publish(uint64_t seq, uint16_t new_idx, std::vector<Finding>& out) {
  const ring::SplitLayout s = areas_.split();
  for (; avail_idx_ != new_idx; ++avail_idx_, ++published_) {
    const uint64_t entry = s.avail_ring_addr(avail_idx_ % areas_.num);
    const uint16_t head = peek16(driver_agent_, entry);
    if (head >= areas_.num) continue;  // the device rejects it (ring.bad_head)
    std::vector<uint16_t> chain;
    bool writable = false;
    naming_.clear();
    for (uint16_t d = head; chain.size() < areas_.num;) {  // a loop is the device's to reject
      if (owner_[d] >= 0)
        out.push_back({"P3", "descriptor " + std::to_string(d) + " made available again while in flight (head " +
                                 std::to_string(owner_[d]) + ")",
                       s.desc_addr(d), 0, 0, driver_agent_});
      chain.push_back(d);
      if (platform_) note_named(s.desc_addr(d));
      const uint16_t f = peek16(driver_agent_, s.flags_addr(d));
      if (writable && !(f & ring::kDescWrite))
        out.push_back({"P6.3", "descriptor " + std::to_string(d) + " of the chain of head " + std::to_string(head) +
                                   " is device-readable after a device-writable one",
                       s.flags_addr(d), f, uint64_t{f} | ring::kDescWrite, driver_agent_});
      writable |= (f & ring::kDescWrite) != 0;
      if (!(f & kDescNext) || (f & ring::kDescIndirect)) break;  // P7 is the device's to report
      d = peek16(driver_agent_, s.next_addr(d));
      if (d >= areas_.num) break;
    }
    for (uint16_t d : chain) owner_[d] = head, published_by_[d] = seq;
    if (!live(head)) chains_[head] = std::move(chain);
    enter(head, 1, entry, out);
  }
}

void RingWatch::split_used(uint16_t new_idx, std::vector<Finding>& out) {
  const ring::SplitLayout s = areas_.split();
  while (used_idx_ != new_idx) {
    const uint32_t slot = used_idx_ % areas_.num;
    const uint64_t e = s.used_elem_addr(slot);
    uint32_t id = 0;
    peek_(device_agent_, s.used_elem_id_addr(slot), &id, 4);
    uint32_t entries = id < areas_.num ? retire(static_cast<uint16_t>(id), e, out) : 0;
    if (id >= areas_.num)
      out.push_back({"P5", "used element names id " + std::to_string(id) + ", beyond the queue", e, id, 0, device_agent_});
    const uint16_t left = static_cast<uint16_t>(new_idx - used_idx_);
    if (entries > left)
      out.push_back({"P8", "in-order batch of " + std::to_string(entries) + " buffers runs past used idx " +
                               std::to_string(new_idx),
                     e, entries, left, device_agent_});
    entries = std::clamp<uint32_t>(entries, 1, left);
    used_idx_ = static_cast<uint16_t>(used_idx_ + entries);
    used_ += entries;
  }
}

// ---- both -----------------------------------------------------------------

void RingWatch::enter(uint16_t id, uint16_t count, uint64_t addr, std::vector<Finding>& out) {
  if (live(id)) {
    out.push_back({"P3", "buffer id " + std::to_string(id) + " made available again while in flight", addr, id, 0,
                   driver_agent_});
    return;
  }
  if (id >= buffers_.size()) buffers_.resize(std::max<size_t>(id + 1u, areas_.num));
  Buffer& b = buffers_[id];
  b.live = true, b.count = count, b.completed = false, b.addr = addr;
  for (const ring::Segment& n : naming_) {
    named_[n.addr] = {n.addr + n.len, id};
    b.named.push_back(n.addr);
  }
  ++in_flight_;
  if (features_.in_order()) avail_order_.push_back(id);
}

uint32_t RingWatch::retire(uint16_t id, uint64_t addr, std::vector<Finding>& out) {
  if (!live(id)) {
    out.push_back({"P5", "used entry carries id " + std::to_string(id) + ", which is not in flight", addr, id, 0,
                   device_agent_});
    return 0;
  }
  auto release = [&](uint16_t b) {
    Buffer& buf = buffers_[b];
    buf.live = false;
    --in_flight_;
    for (const uint64_t start : buf.named)
      if (const auto it = named_.find(start); it != named_.end() && it->second.second == b) named_.erase(it);
    buf.named.clear();
    if (layout_ == ring::RingLayout::packed) return uint32_t{buf.count};
    for (uint16_t d : chains_[b]) owner_[d] = -1;
    chains_[b].clear();
    return uint32_t{1};
  };
  if (!features_.in_order()) {
    if (!completions_.empty() && completions_.front() != id && erase_first(completions_, id))
      out.push_back({"P4", "used entry carries id " + std::to_string(id) + " but the device completed id " +
                               std::to_string(completions_.front()) + " before it",
                     addr, id, completions_.front(), device_agent_});
    else erase_first(completions_, id);
    return release(id);
  }
  // P8: the entry stands for every buffer made available up to `id`.
  uint32_t n = 0;
  for (;;) {
    const uint16_t b = avail_order_.front();
    avail_order_.pop_front();
    if (!buffers_[b].completed)
      out.push_back({"P8", "in-order used entry for id " + std::to_string(id) + " also returns id " +
                               std::to_string(b) + ", which the device has not completed",
                     addr, id, b, device_agent_});
    n += release(b);
    if (b == id) return n;
  }
}

ring::Segment RingWatch::desc_names(uint64_t desc) const {
  static_assert(ring::packed_off::addr == ring::split_off::addr && ring::packed_off::len == ring::split_off::len);
  ring::Segment n;
  peek_(driver_agent_, desc + ring::packed_off::addr, &n.addr, 8);
  peek_(driver_agent_, desc + ring::packed_off::len, &n.len, 4);
  return n;
}

void RingWatch::note_named(uint64_t desc) {
  const ring::Segment n = desc_names(desc);
  if (n.len) naming_.push_back(n);
}

int32_t RingWatch::holder(uint64_t iova, uint64_t bytes) const {
  if (!platform_ || bytes == 0) return -1;
  // Ranges in flight do not overlap one another (each is mapped apart), so
  // the last one starting below the end of [iova, iova+bytes) is the only
  // one that can reach into it.
  if (auto it = named_.lower_bound(iova + bytes); it != named_.begin() && (--it)->second.first > iova)
    return it->second.second;
  return published_holder(iova, bytes);
}

// The lists the driver has made available in its program order whose
// publishing store is not visible yet (still in its store buffer): the
// driver has given them away all the same.
int32_t RingWatch::published_holder(uint64_t iova, uint64_t bytes) const {
  auto names = [&](uint64_t desc) {
    const ring::Segment n = desc_names(desc);
    return n.len && n.addr < iova + bytes && iova < n.addr + n.len;
  };
  if (layout_ == ring::RingLayout::packed) {
    const ring::PackedLayout p = areas_.packed();
    uint32_t pos = avail_pos_;
    bool wrap = avail_wrap_;
    for (uint32_t k = owned_; k < areas_.num; ++k) {
      if (!packed_desc_is_avail(peek16(driver_agent_, p.flags_addr(pos)), wrap)) break;
      if (names(p.desc_addr(pos))) return peek16(driver_agent_, p.id_addr(pos));
      if (++pos == areas_.num) pos = 0, wrap = !wrap;
    }
    return -1;
  }
  const ring::SplitLayout s = areas_.split();
  const uint16_t published = peek16(driver_agent_, s.avail_idx_addr());
  for (uint16_t i = avail_idx_; i != published && static_cast<uint16_t>(i - avail_idx_) < areas_.num; ++i) {
    const uint16_t head = peek16(driver_agent_, s.avail_ring_addr(i % areas_.num));
    for (uint32_t d = head, n = 0; d < areas_.num && n < areas_.num; ++n) {  // a loop is the device's to reject
      if (names(s.desc_addr(d))) return head;
      if (!(peek16(driver_agent_, s.flags_addr(d)) & kDescNext)) break;
      d = peek16(driver_agent_, s.next_addr(d));
    }
  }
  return -1;
}

void RingWatch::on_complete(uint16_t id, std::vector<Finding>& out) {
  Buffer* buf = live(id);
  if (!buf) return;  // the used entry that names it is reported (P5)
  if (!features_.in_order()) {
    completions_.push_back(id);
    return;
  }
  for (uint16_t b : avail_order_) {  // P8: used in the order made available
    if (b == id) break;
    if (!buffers_[b].completed) {
      out.push_back({"P8", "device completed id " + std::to_string(id) + " before id " + std::to_string(b) +
                               ", made available earlier",
                     buffers_[b].addr, id, b, device_agent_});
      break;
    }
  }
  buf->completed = true;
}

// ---- P10 ------------------------------------------------------------------

void RingWatch::note_read(uint64_t addr, uint64_t size, const uint8_t* data, const EventArea& area,
                          uint32_t& flags_read) {
  if (area.flags_addr >= addr && area.flags_addr + 2 <= addr + size)
    flags_read = 1u + (data[area.flags_addr - addr] | data[area.flags_addr - addr + 1] << 8);
}

void RingWatch::on_load(unsigned agent, uint64_t addr, uint64_t size, const uint8_t* data) {
  if (agent == device_agent_) note_read(addr, size, data, driver_area(), device_read_flags_);
  if (agent == driver_agent_) note_read(addr, size, data, device_area(), driver_read_flags_);
  if (size != 2) return;
  const uint16_t v = static_cast<uint16_t>(data[0] | data[1] << 8);
  if (layout_ == ring::RingLayout::packed) {
    const ring::PackedLayout p = areas_.packed();
    if (!p.in_desc_ring(addr) || addr != p.flags_addr(p.slot_of(addr))) return;
    const uint32_t slot = p.slot_of(addr);
    if (agent == device_agent_ && slot == avail_pos_ && !packed_desc_is_avail(v, avail_wrap_)) device_seen_ = published_;
    if (agent == driver_agent_) {
      driver_found_none_ = slot == used_pos_ && !packed_desc_is_used(v, used_wrap_);
      if (driver_found_none_) driver_seen_ = used_;
    }
    return;
  }
  const ring::SplitLayout s = areas_.split();
  if (agent == device_agent_ && addr == s.avail_idx_addr() && v == avail_idx_) device_seen_ = published_;
  if (agent == driver_agent_ && addr == s.used_idx_addr()) {
    driver_found_none_ = v == used_idx_;
    if (driver_found_none_) driver_seen_ = used_;
  }
}

RingWatch::EventArea RingWatch::driver_area_of(ring::RingLayout layout, const ring::QueueAreas& areas) {
  if (layout == ring::RingLayout::packed) {
    const ring::PackedLayout p = areas.packed();
    return {p.driver_event_flags_addr(), p.driver_event_off_wrap_addr(), 0};
  }
  const ring::SplitLayout s = areas.split();
  return {s.avail_flags_addr(), s.used_event_addr(), VRING_AVAIL_F_NO_INTERRUPT};
}

RingWatch::EventArea RingWatch::device_area_of(ring::RingLayout layout, const ring::QueueAreas& areas) {
  if (layout == ring::RingLayout::packed) {
    const ring::PackedLayout p = areas.packed();
    return {p.device_event_flags_addr(), p.device_event_off_wrap_addr(), 0};
  }
  const ring::SplitLayout s = areas.split();
  return {s.used_flags_addr(), s.avail_event_addr(), VRING_USED_F_NO_NOTIFY};
}

bool RingWatch::says_none(uint16_t flags, const EventArea& area) const {
  if (layout_ == ring::RingLayout::packed) return flags == ring::kEventFlagDisable;
  return !features_.event_idx() && (flags & area.no_notify);
}

// Does the other side's event suppression, as visible now, ask for a
// notification for the `added` positions up to `new_idx`? Packed: its event
// structure (P10, P11). Split: with EVENT_IDX the event index, else the
// `no_notify` bit of the flags.
bool RingWatch::wants(uint64_t added, uint16_t new_idx, bool wrap, const EventArea& area) const {
  if (added == 0) return false;
  const uint16_t old_idx = static_cast<uint16_t>(new_idx - added);
  const uint16_t flags = peek16(kVisible, area.flags_addr);
  if (layout_ == ring::RingLayout::packed) {
    if (flags == ring::kEventFlagDesc)
      return ring::packed_need_event(peek16(kVisible, area.event_addr), wrap, areas_.num, new_idx, old_idx);
    return flags == ring::kEventFlagEnable;
  }
  if (features_.event_idx()) return ring::need_event(peek16(kVisible, area.event_addr), new_idx, old_idx);
  return !(flags & area.no_notify);
}

bool RingWatch::device_wants_kick(uint64_t added) const {
  return wants(added, layout_ == ring::RingLayout::packed ? avail_pos_ : avail_idx_, avail_wrap_, device_area());
}

bool RingWatch::driver_wants_interrupt(uint64_t added) const {
  return wants(added, layout_ == ring::RingLayout::packed ? used_pos_ : used_idx_, used_wrap_, driver_area());
}

RingWatch::Asked RingWatch::kick_wanted() {
  const uint64_t added = published_ - published_at_kick_;
  published_at_kick_ = published_;
  return {device_wants_kick(added),
          driver_read_flags_ != 0 && says_none(static_cast<uint16_t>(driver_read_flags_ - 1), device_area())};
}

RingWatch::Asked RingWatch::interrupt_wanted() {
  const uint64_t added = used_ - used_at_signal_;
  used_at_signal_ = used_;
  return {driver_wants_interrupt(added),
          device_read_flags_ != 0 && says_none(static_cast<uint16_t>(device_read_flags_ - 1), driver_area())};
}

bool RingWatch::interrupt_disabled_while_waiting() const {
  return driver_found_none_ && used_ > std::max(interrupt_delivered_at_, driver_seen_) &&
         says_none(peek16(kVisible, driver_area().flags_addr), driver_area());
}

bool RingWatch::kick_owed() const {
  return device_wants_kick(published_ - std::max(kick_delivered_at_, device_seen_));
}

bool RingWatch::interrupt_owed() const {
  return driver_wants_interrupt(used_ - std::max(interrupt_delivered_at_, driver_seen_));
}

}  // namespace virtiosim::sim
