#include "transport/vhost_user/iotlb.h"

#include <algorithm>

namespace virtiosim::vhost_user {

bool Iotlb::update(const IotlbMsg& m, const MemoryTable& mem) {
  const std::optional<uint64_t> gpa = mem.uva_to_gpa(m.uaddr, m.size);
  if (!gpa) return false;
  uint8_t* host = mem.gpa_to_host(*gpa, m.size);
  const uint64_t last = m.iova + (m.size - 1);  // the codec refused a wrapping range
  remove(m.iova, last);
  if (entries_.size() >= kIotlbMaxEntries) {
    entries_.erase(entries_.begin());
    ++counters_.evictions;
  }
  entries_.emplace(m.iova, Entry{m.size, host, m.perm});
  ++counters_.updates;
  // A fresh mapping answers what was refused or awaited before; a miss that
  // still waits for its ack is settled by the ack (acked()).
  refused_.erase(refused_.lower_bound(page(m.iova)), refused_.upper_bound(last));
  for (auto it = waiting_.lower_bound({page(m.iova), 0}); it != waiting_.end() && it->first.first <= last;)
    it = it->second ? std::next(it) : waiting_.erase(it);
  return true;
}

void Iotlb::invalidate(uint64_t iova, uint64_t size) {
  remove(iova, iova + (size - 1));
  ++counters_.invalidates;
}

void Iotlb::remove(uint64_t first, uint64_t last) {
  auto it = entries_.upper_bound(first);
  if (it != entries_.begin()) --it;
  while (it != entries_.end() && it->first <= last) {
    const uint64_t start = it->first, end = start + (it->second.size - 1);
    const Entry e = it->second;
    if (end < first) {
      ++it;
      continue;
    }
    it = entries_.erase(it);
    // The parts of a cut entry outside [first, last] stay translated.
    if (start < first) entries_.emplace(start, Entry{first - start, e.host, e.perm});
    if (end > last) entries_.emplace(last + 1, Entry{end - last, e.host + (last + 1 - start), e.perm});
  }
}

void Iotlb::clear() {
  entries_.clear();
  refused_.clear();
  waiting_.clear();
  for (Sent& s : acks_) s.stale = true;
}

IotlbLookup Iotlb::translate(uint64_t iova, uint64_t n, uint8_t perm) const {
  IotlbLookup r;
  auto it = entries_.upper_bound(iova);
  const bool covered = it != entries_.begin() && iova - std::prev(it)->first < std::prev(it)->second.size;
  if (covered) --it;
  if (!covered || (it->second.perm & perm) != perm) {
    r.at = iova;
    const auto ref = refused_.find(page(iova));
    if (ref != refused_.end() && (perm == 0 || (ref->second & perm))) {
      r.status = IotlbLookup::Status::refused;
      r.error = covered ? ring::RingError::iova_no_permission : ring::RingError::iova_unmapped;
    } else {
      r.status = IotlbLookup::Status::miss;
    }
    return r;
  }
  r.host = it->second.host + (iova - it->first);
  r.run = std::min(n, it->second.size - (iova - it->first));
  // Adjacent entries continue the run while they permit the access and lie
  // next to each other here too (QEMU sends one UPDATE per guest page).
  for (auto prev = it++; r.run < n && it != entries_.end(); prev = it++) {
    const uint64_t prev_end = prev->first + prev->second.size;
    if (it->first != prev_end || (it->second.perm & perm) != perm ||
        it->second.host != prev->second.host + prev->second.size)
      break;
    r.run = std::min(n, r.run + it->second.size);
  }
  return r;
}

void Iotlb::sent(uint64_t at, uint8_t perm, bool ack, uint64_t now_ns) {
  waiting_[{page(at), perm}] = ack;
  ++counters_.misses;
  if (ack) acks_.push_back({at, perm, now_ns, false});
}

void Iotlb::acked(uint64_t status, uint64_t now_ns) {
  if (acks_.empty()) return;
  const Sent s = acks_.front();
  acks_.pop_front();
  counters_.miss_wait_ns += now_ns - s.at_ns;
  if (s.stale) return;
  waiting_.erase({page(s.at), s.perm});
  if (status != 0 || translate(s.at, 1, s.perm).status != IotlbLookup::Status::ok) refused_[page(s.at)] |= s.perm;
}

}  // namespace virtiosim::vhost_user
