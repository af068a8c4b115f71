#include "models/memory/store_buffer.h"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace virtiosim::memory {

const char* name(Ordering o) {
  switch (o) {
    case Ordering::sc: return "sc";
    case Ordering::tso: return "tso";
    case Ordering::weak: return "weak";
  }
  return "unknown";
}

bool parse_ordering(const char* text, Ordering& out) {
  const std::string_view t(text);
  for (Ordering o : {Ordering::sc, Ordering::tso, Ordering::weak})
    if (t == name(o)) return out = o, true;
  return false;
}

namespace {
constexpr uint64_t to_ps(double ns) { return static_cast<uint64_t>(ns * 1000.0 + 0.5); }
}  // namespace

StoreBuffer::StoreBuffer(Ordering ordering, StoreBufferParams p, uint64_t seed, Sink sink)
    : ordering_(ordering),
      p_(p),
      rng_(seed),
      sink_(std::move(sink)),
      drain_ps_(to_ps(p.store_drain_ns)),
      weak_max_delay_ps_(to_ps(p.weak_max_delay_ns)) {}

uint64_t StoreBuffer::store(uint64_t now_ps, uint64_t addr, const void* data, uint64_t size, uint64_t transfer_ps) {
  PendingStore s;
  s.addr = addr;
  s.issued_ps = now_ps;
  s.seq = seq_++;
  if (!spare_storage_.empty() && size > PendingStore::kInlineBytes) {
    s.reuse_storage(std::move(spare_storage_.back()));
    spare_storage_.pop_back();
  }
  s.assign(data, size);
  if (ordering_ == Ordering::sc) {
    s.visible_ps = now_ps;
    sink_(s);
    recycle(s);
    return 0;
  }
  uint64_t stall = 0;
  if (pending_.size() >= std::max<uint32_t>(p_.store_buffer_entries, 1)) {
    // Full: the agent waits for the store that leaves first.
    const auto oldest = std::min_element(pending_.begin(), pending_.end(),
                                         [](auto& a, auto& b) { return a.visible_ps < b.visible_ps; });
    stall = oldest->visible_ps > now_ps ? oldest->visible_ps - now_ps : 0;
    make_visible(static_cast<size_t>(oldest - pending_.begin()));
  }
  uint64_t t;
  if (ordering_ == Ordering::tso) {
    t = std::max(now_ps + transfer_ps + drain_ps_, last_visible_ps_);
    last_visible_ps_ = t;
  } else {
    std::uniform_int_distribution<uint64_t> delay(0, weak_max_delay_ps_);
    t = now_ps + transfer_ps + drain_ps_ + delay(rng_);
    // Coherence is per location: a later store to overlapping bytes never
    // overtakes an earlier one; stores to different addresses, even in one
    // cache line, may become visible in any order (Arm, POWER).
    for (const PendingStore& q : pending_)
      if (q.addr < addr + size && addr < q.addr + q.size) t = std::max(t, q.visible_ps);
  }
  s.visible_ps = std::max(t, fence_ps_) + stall;
  earliest_ps_ = std::min(earliest_ps_, s.visible_ps);
  pending_.push_back(std::move(s));
  return stall;
}

void StoreBuffer::forward_pending(uint64_t addr, void* data, uint64_t size) const {
  auto* out = static_cast<uint8_t*>(data);
  for (const PendingStore& s : pending_) {  // program order: the latest store wins
    const uint64_t lo = std::max(addr, s.addr);
    const uint64_t hi = std::min(addr + size, s.addr + s.size);
    if (lo < hi) std::memcpy(out + (lo - addr), s.data() + (lo - s.addr), hi - lo);
  }
}

void StoreBuffer::drain_due(uint64_t now_ps) {
  // earliest_ps_ is exact (every change of pending_ keeps it so): the store
  // due first is the oldest one holding that time, ties in program order.
  // Mostly the oldest store of all (tso keeps issue order): no search.
  while (!pending_.empty() && earliest_ps_ <= now_ps) {  // none pending: earliest_ps_ is UINT64_MAX
    size_t best = 0;
    while (pending_[best].visible_ps != earliest_ps_) ++best;
    make_visible(best);
  }
}

void StoreBuffer::write_barrier() {
  for (const PendingStore& s : pending_) fence_ps_ = std::max(fence_ps_, s.visible_ps);
}

uint64_t StoreBuffer::full_barrier(uint64_t now_ps) {
  uint64_t last = now_ps;
  for (const PendingStore& s : pending_) last = std::max(last, s.visible_ps);
  drain(last);
  fence_ps_ = std::max(fence_ps_, last);
  return last - now_ps;
}

void StoreBuffer::make_visible(size_t index) {
  // Ties in visibility time resolve in program order (min_element / the
  // strict < in drain pick the first), so sc-equivalent schedules stay FIFO.
  if (index != 0) ++reordered_;
  PendingStore s = std::move(pending_[index]);
  if (index == 0) pending_.pop_front();
  else pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(index));
  update_earliest();
  sink_(s);
  recycle(s);
}

void StoreBuffer::update_earliest() {
  earliest_ps_ = UINT64_MAX;
  for (const PendingStore& q : pending_) earliest_ps_ = std::min(earliest_ps_, q.visible_ps);
}

}  // namespace virtiosim::memory
