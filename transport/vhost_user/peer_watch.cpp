#include "transport/vhost_user/peer_watch.h"

#include <cstdio>
#include <cstring>

#include "models/ring/packed_flags.h"

namespace virtiosim::vhost_user {

namespace {

// The two sides as the shadow knows them.
constexpr unsigned kDriver = 0, kDevice = 1;

// The peer stores with release (P13): read what a release store published.
uint16_t load_acquire16(const uint8_t* p) {
  return __atomic_load_n(reinterpret_cast<const uint16_t*>(p), __ATOMIC_ACQUIRE);
}

ring::RingLayout layout_of(ring::Features f) {
  return f.has(VIRTIO_F_RING_PACKED) ? ring::RingLayout::packed : ring::RingLayout::split;
}

}  // namespace

VringWatch::VringWatch(uint32_t vring, std::shared_ptr<const MemoryTable> mem, const ring::QueueAreas& areas,
                       ring::Features features, const ring::RingState& state)
    : vring_(vring),
      mem_(std::move(mem)),
      areas_(areas),
      packed_(layout_of(features) == ring::RingLayout::packed),
      can_disable_(packed_ || !features.event_idx()),
      watch_(layout_of(features), areas, features, kDriver, kDevice,
             [this](unsigned, uint64_t addr, void* dst, uint64_t n) { peek(addr, dst, n); }) {
  const uint32_t num = areas.num;
  auto place = [this](Area& a, uint64_t gpa, uint64_t bytes, bool imaged) {
    a.gpa = gpa;
    a.bytes = bytes;
    a.host = mem_->gpa_to_host(gpa, bytes);  // Backend::set_vring_addr checked each area lies in one region
    if (imaged) a.img.assign(a.host, a.host + bytes);
  };
  place(desc_, areas.desc, ring::desc_area_bytes(layout_of(features), num), true);
  place(driver_, areas.driver, packed_ ? ring::PackedLayout::event_bytes : ring::SplitLayout::avail_bytes(num), true);
  place(device_, areas.device, packed_ ? ring::PackedLayout::event_bytes : ring::SplitLayout::used_bytes(num), false);
  watch_.resume(state);
  flags_now_.resize(num);
  head_unjudged_.assign(num, false);
}

VringWatch::Area* VringWatch::area(uint64_t addr, uint64_t n) {
  for (Area* a : {&desc_, &driver_, &device_})
    if (a->holds(addr, n)) return a;
  return nullptr;
}

void VringWatch::peek(uint64_t addr, void* dst, uint64_t n) {
  const Area* a = area(addr, n);
  if (!a) {  // the shadow reads its queue's areas only
    std::memset(dst, 0, n);
    return;
  }
  std::memcpy(dst, (a->img.empty() ? a->host : a->img.data()) + (addr - a->gpa), n);
}

// A driver store, as the sample showed it: into the image, then to the
// shadow.
void VringWatch::store(uint64_t addr, const void* data, uint64_t n, std::vector<PeerFinding>& out) {
  Area* a = area(addr, n);
  std::memcpy(a->img.data() + (addr - a->gpa), data, n);
  found_.clear();
  watch_.on_store(kDriver, ++driver_seq_, addr, n, static_cast<const uint8_t*>(data), found_);
  report(found_, out);
}

void VringWatch::device_store(uint64_t addr, const void* data, uint64_t n, std::vector<PeerFinding>& out) {
  if (Area* a = area(addr, n); a && !a->img.empty()) std::memcpy(a->img.data() + (addr - a->gpa), data, n);
  found_.clear();
  watch_.on_store(kDevice, ++device_seq_, addr, n, static_cast<const uint8_t*>(data), found_);
  report(found_, out);
}

void VringWatch::sync(std::vector<PeerFinding>& out) {
  wrap_at_sample_ = watch_.avail_wrap();
  if (packed_) sync_packed(out);
  else sync_split(out);
  first_ = false;
}

void VringWatch::sync_packed(std::vector<PeerFinding>& out) {
  const ring::PackedLayout p = areas_.packed();
  const uint32_t num = areas_.num;
  const uint16_t start = watch_.avail_pos();
  // Flags first, from the slot the driver publishes next on, in the order
  // it publishes: a list's head, written after the rest of the list, is
  // read before it; a flag seen available has its body in the copy below.
  for (uint32_t k = 0; k < num; ++k) {
    const uint32_t s = (start + k) % num;
    flags_now_[s] = load_acquire16(desc_.host + (p.flags_addr(s) - desc_.gpa));
  }
  sample_.assign(desc_.host, desc_.host + desc_.bytes);
  // Fed from the slot after `start` round to `start`: every list's tail
  // and later heads are in the shadow when the next head goes in.
  constexpr uint64_t kBody = ring::packed_off::flags;  // addr, len, id
  for (uint32_t k = 1; k <= num; ++k) {
    const uint32_t s = (start + k) % num;
    const uint64_t off = p.desc_addr(s) - desc_.gpa;
    if (std::memcmp(sample_.data() + off, desc_.img.data() + off, kBody) != 0)
      store(p.desc_addr(s), sample_.data() + off, kBody, out);
    uint16_t img_flags;
    std::memcpy(&img_flags, desc_.img.data() + off + kBody, 2);
    // The first sample also feeds what was made available before the ring
    // started (a guest posts RX buffers before DRIVER_OK).
    const bool wrap = s >= start ? watch_.avail_wrap() : !watch_.avail_wrap();
    if (flags_now_[s] != img_flags || (first_ && ring::packed_desc_is_avail(flags_now_[s], wrap))) {
      const bool at_head = s == watch_.avail_pos();
      store(p.flags_addr(s), &flags_now_[s], 2, out);
      head_unjudged_[s] = !at_head;
    }
  }
  // Flags the driver wrote at a slot before the head reached it (this
  // sample or an earlier one: a sample reads the head's flags first, so it
  // can see a later slot's store before the lists ahead of it) are judged
  // as a head's (P2) when the head gets there, so they are given again.
  // Slots the head moved past were published: nothing is left to judge.
  // (A whole lap passed returns the head to `start` with the wrap flipped.)
  const uint16_t next = watch_.avail_pos();
  const uint32_t passed =
      next == start ? (watch_.avail_wrap() != wrap_at_sample_ ? num : 0) : (next + num - start) % num;
  for (uint32_t k = 0; k < passed; ++k) head_unjudged_[(start + k) % num] = false;
  if (passed && head_unjudged_[next] && !ring::packed_desc_is_avail(flags_now_[next], watch_.avail_wrap())) {
    store(p.flags_addr(next), &flags_now_[next], 2, out);
    head_unjudged_[next] = false;
  }
  std::memcpy(driver_.img.data(), driver_.host, driver_.bytes);  // the driver's event suppression
}

void VringWatch::sync_split(std::vector<PeerFinding>& out) {
  const ring::SplitLayout s = areas_.split();
  // avail->idx first: the entries and descriptors it publishes were
  // written before it (P13), so they are in the copies below.
  const uint16_t idx = load_acquire16(driver_.host + (s.avail_idx_addr() - driver_.gpa));
  sample_.assign(desc_.host, desc_.host + desc_.bytes);
  for (uint32_t d = 0; d < areas_.num; ++d) {
    const uint64_t off = s.desc_addr(d) - desc_.gpa;
    if (std::memcmp(sample_.data() + off, desc_.img.data() + off, 16) != 0) store(s.desc_addr(d), sample_.data() + off, 16, out);
  }
  // The avail ring's flags and entries, and used_event; avail->idx last.
  sample_.assign(driver_.host, driver_.host + driver_.bytes);
  const uint64_t idx_off = s.avail_idx_addr() - driver_.gpa;
  std::memcpy(sample_.data() + idx_off, &idx, 2);
  for (uint64_t off = 0; off < driver_.bytes; off += 2)
    if (off != idx_off && std::memcmp(sample_.data() + off, driver_.img.data() + off, 2) != 0)
      store(driver_.gpa + off, sample_.data() + off, 2, out);
  uint16_t img_idx;
  std::memcpy(&img_idx, driver_.img.data() + idx_off, 2);
  // More than a ring's worth published is the device's to reject (its
  // ring error); the shadow would walk stale entries.
  const bool plausible = static_cast<uint16_t>(idx - watch_.avail_pos()) <= areas_.num;
  if ((idx != img_idx || (first_ && idx != watch_.avail_pos())) && plausible) store(s.avail_idx_addr(), &idx, 2, out);
}

void VringWatch::flushed(const ring::RingState& before, std::vector<PeerFinding>& out) {
  found_.clear();
  for (const ring::UsedElem& e : pending_) watch_.on_complete(e.id, found_);
  report(found_, out);
  if (packed_) {
    // As PackedDevice::write_used_batch: bodies, then the flags, the
    // batch's first entry last.
    const ring::PackedLayout p = areas_.packed();
    uint16_t idx = before.last_used_idx;
    bool wrap = before.used_wrap_counter;
    struct Entry { uint16_t slot; uint16_t flags; };
    std::vector<Entry> entries;
    for (const ring::UsedElem& e : pending_) {
      device_store(p.id_addr(idx), &e.id, 2, out);
      device_store(p.len_addr(idx), &e.len, 4, out);
      entries.push_back({idx, static_cast<uint16_t>(ring::packed_used_flags(wrap) | (e.writable ? ring::kDescWrite : 0))});
      idx = static_cast<uint16_t>(idx + e.count);
      if (idx >= areas_.num) idx = static_cast<uint16_t>(idx - areas_.num), wrap = !wrap;
    }
    for (size_t k = 1; k < entries.size(); ++k) device_store(p.flags_addr(entries[k].slot), &entries[k].flags, 2, out);
    if (!entries.empty()) device_store(p.flags_addr(entries[0].slot), &entries[0].flags, 2, out);
    for (const Entry& e : entries) head_unjudged_[e.slot] = false;
  } else {
    const ring::SplitLayout s = areas_.split();
    uint16_t idx = before.last_used_idx;
    for (const ring::UsedElem& e : pending_) {
      const uint32_t id = e.id;
      device_store(s.used_elem_id_addr(idx & (areas_.num - 1)), &id, 4, out);
      device_store(s.used_elem_len_addr(idx & (areas_.num - 1)), &e.len, 4, out);
      ++idx;
    }
    device_store(s.used_idx_addr(), &idx, 2, out);
  }
  pending_.clear();
}

void VringWatch::kicked(std::vector<PeerFinding>& out) {
  sync(out);
  const uint64_t added = watch_.published() - published_at_kick_;
  published_at_kick_ = watch_.published();
  const bool wanted = watch_.kick_wanted().visible;  // the device's suppression as visible now
  // P10: buffers made available and a kick for them, while the device has
  // said DISABLE (packed flags, split NO_NOTIFY) since before the driver
  // could have decided it. A kick for nothing new (front-ends kick on
  // start) is not counted.
  if (can_disable_ && added > 0 && !wanted && !armed_prev_ && !armed_since_) {
    PeerFinding f;
    f.rule = "P10";
    f.vring = vring_;
    f.slot = watch_.avail_pos();
    f.wrap = watch_.avail_wrap();
    f.what = "kick for " + std::to_string(added) + " buffers made available while the device's event suppression "
             "said DISABLE (since before the previous kick was read)";
    out.push_back(std::move(f));
  }
  armed_prev_ = armed_since_;
  armed_since_ = armed_now_;
}

PeerFinding VringWatch::evidence(const sim::Finding& f) const {
  PeerFinding e;
  e.rule = f.rule;
  e.vring = vring_;
  e.what = f.what;
  if (!desc_.holds(f.addr, 1)) {  // split: an avail entry or the used ring
    if (driver_.holds(f.addr, 2) && f.addr >= areas_.split().avail_ring_addr(0)) {
      e.slot = static_cast<uint32_t>((f.addr - areas_.split().avail_ring_addr(0)) / 2);
      std::memcpy(&e.id, driver_.img.data() + (f.addr - driver_.gpa), 2);
    }
    return e;
  }
  e.slot = static_cast<uint32_t>((f.addr - desc_.gpa) / 16);
  const uint8_t* d = desc_.img.data() + uint64_t{e.slot} * 16;
  if (packed_) {
    uint16_t id;
    std::memcpy(&id, d + ring::packed_off::id, 2);
    e.id = id;
    std::memcpy(&e.flags, d + ring::packed_off::flags, 2);
    e.wrap = wrap_at_sample_;
  } else {
    e.id = e.slot;
    std::memcpy(&e.flags, d + ring::split_off::flags, 2);
  }
  return e;
}

void VringWatch::report(const std::vector<sim::Finding>& found, std::vector<PeerFinding>& out) {
  for (const sim::Finding& f : found) out.push_back(evidence(f));
}

// ---- PeerCheck --------------------------------------------------------------

void PeerCheck::start(uint32_t vring, std::shared_ptr<const MemoryTable> mem, const ring::QueueAreas& areas,
                      ring::Features features, const ring::RingState& state) {
  if (watches_.size() <= vring) watches_.resize(vring + 1);
  watches_[vring] = std::make_unique<VringWatch>(vring, std::move(mem), areas, features, state);
}

void PeerCheck::stop(uint32_t vring) {
  sync(vring);
  if (vring < watches_.size()) watches_[vring].reset();
}

void PeerCheck::sync(uint32_t vring) {
  if (VringWatch* w = watch(vring)) {
    w->sync(found_);
    record(found_);
  }
}

void PeerCheck::flushed(uint32_t vring, const ring::RingState& before) {
  if (VringWatch* w = watch(vring)) {
    w->flushed(before, found_);
    record(found_);
  }
}

void PeerCheck::kicked(uint32_t vring) {
  if (VringWatch* w = watch(vring)) {
    w->kicked(found_);
    record(found_);
  }
}

void PeerCheck::answered_base(uint32_t vring, uint32_t base, bool packed) {
  if (answered_.size() <= vring) answered_.resize(vring + 1);
  answered_[vring] = std::pair{base, packed};
}

void PeerCheck::set_base(uint32_t vring, uint32_t base, bool packed) {
  if (vring >= answered_.size() || !answered_[vring]) return;
  const auto [answered, was_packed] = *answered_[vring];
  answered_[vring].reset();
  if (packed != was_packed) return;  // another layout: a fresh ring
  using ring::VringBaseCompat;
  const bool resumes = packed ? ring::decode_vring_base_packed(base, VringBaseCompat::low_half_only) ==
                                    ring::decode_vring_base_packed(answered)
                              : base == answered;
  const bool fresh = packed ? ring::decode_vring_base_packed(base, VringBaseCompat::low_half_only) == ring::RingState{}
                            : base == 0;
  if (resumes || fresh) return;
  PeerFinding f;
  f.rule = "VU2";
  f.vring = vring;
  const ring::RingState s = packed ? ring::decode_vring_base_packed(base, VringBaseCompat::low_half_only)
                                   : ring::RingState{static_cast<uint16_t>(base), true, 0, true};
  f.slot = s.last_avail_idx;
  f.wrap = s.avail_wrap_counter;
  char text[160];
  std::snprintf(text, sizeof text,
                "SET_VRING_BASE 0x%x after GET_VRING_BASE answered 0x%x: neither that position nor a fresh ring", base,
                answered);
  f.what = text;
  found_.push_back(std::move(f));
  record(found_);
}

void PeerCheck::record(std::vector<PeerFinding>& found) {
  for (PeerFinding& f : found) {
    Rule& r = rules_[f.rule];
    ++total_;
    if (log_ && r.count < kLoggedPerRule)
      std::fprintf(stderr, "vhost-user: check: %s vring %u slot %u id %u flags 0x%x wrap %d: %s\n", f.rule.c_str(),
                   f.vring, f.slot, f.id, f.flags, f.wrap, f.what.c_str());
    ++r.count;
    if (r.evidence.size() < kEvidencePerRule) r.evidence.push_back(std::move(f));
  }
  found.clear();
}

}  // namespace virtiosim::vhost_user
