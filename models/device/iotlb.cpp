#include "models/device/iotlb.h"

namespace virtiosim::device {

using ring::RingError;
using memory::kIovaPageBytes;

Iotlb::Iotlb(memory::DmaDomain& domain, const IotlbParams& p, double miss_ns)
    : domain_(domain), p_(p), miss_ns_(miss_ns) {
  domain_.on_invalidate([this](uint64_t iova, uint64_t bytes) { invalidate(iova, bytes); });
}

Translation Iotlb::lookup(uint64_t iova, uint8_t perm) {
  const uint64_t page = iova / kIovaPageBytes;
  Translation t;
  auto it = entries_.find(page);
  if (it != entries_.end()) {
    ++stats_.hits;
    t.cost_ns = p_.hit_ns;
  } else {
    ++stats_.misses;
    t.cost_ns = miss_ns_;
    const std::optional<IoPte> pte = domain_.walk(iova);
    if (!pte) {
      ++stats_.faults;
      t.error = RingError::iova_unmapped;
      return t;
    }
    // Full: the oldest entry retires (VHOST_IOTLB_FLAG_RETIRE).
    while (entries_.size() >= p_.entries && !age_.empty()) {
      const auto [old, fill] = age_.front();
      age_.pop_front();
      const auto o = entries_.find(old);
      if (o != entries_.end() && o->second.fill == fill) entries_.erase(o);
    }
    it = entries_.emplace(page, Entry{*pte, kIovaPageBytes, ++fills_}).first;
    age_.emplace_back(page, fills_);
  }
  if ((perm & it->second.pte.perm) != perm) {
    ++stats_.faults;
    t.error = RingError::iova_no_permission;
    return t;
  }
  t.gpa = it->second.pte.gpa_page + iova % it->second.page_bytes;
  t.perm = it->second.pte.perm;
  return t;
}

// A ring area is kept only if one permission covers it and its pages are
// contiguous in guest memory (Linux's meta cache needs one map covering the
// area, DPDK one contiguous host range); otherwise its accesses look up.
// Returns what the lookups cost, and the error if a page of it is not mapped.
Translation Iotlb::keep(RingArea& area) {
  Translation kept;
  const uint64_t offset = area.iova % kIovaPageBytes, first = area.iova - offset;
  area.perm = memory::dma_read_write;
  for (uint64_t at = first; at < area.iova + area.bytes; at += kIovaPageBytes) {
    const Translation t = lookup(at, 0);
    kept.cost_ns += t.cost_ns;
    if (t.error != RingError::ok) return kept.error = t.error, kept;
    if (at == first) area.gpa = t.gpa + offset;
    else if (t.gpa != area.gpa - offset + (at - first)) return kept;
    area.perm &= t.perm;
  }
  area.kept = true;
  return kept;
}

Translation Iotlb::translate(uint64_t iova, uint8_t perm) {
  if (p_.ring_cache) {
    for (RingArea& area : rings_) {
      if (iova < area.iova || iova >= area.iova + area.bytes) continue;
      Translation t;
      if (!area.kept) t = keep(area);
      if (t.error != RingError::ok) return t;
      if (!area.kept || (perm & area.perm) != perm) {  // the plain lookup decides
        const double spent = t.cost_ns;
        t = lookup(iova, perm);
        t.cost_ns += spent;
        return t;
      }
      ++stats_.ring_cache_hits;
      t.gpa = area.gpa + (iova - area.iova);
      t.perm = area.perm;
      t.cost_ns += p_.ring_cache_hit_ns;
      return t;
    }
  }
  return lookup(iova, perm);
}

void Iotlb::add_ring_area(uint64_t iova, uint64_t bytes) {
  for (RingArea& area : rings_)
    if (area.iova == iova) return void(area = RingArea{iova, bytes});
  rings_.push_back(RingArea{iova, bytes});
}

void Iotlb::invalidate(uint64_t iova, uint64_t bytes) {
  ++stats_.invalidations;
  for (uint64_t p = iova / kIovaPageBytes; p <= (iova + bytes - 1) / kIovaPageBytes; ++p) entries_.erase(p);
  for (RingArea& area : rings_)
    if (area.iova < iova + bytes && iova < area.iova + area.bytes) area.kept = false;
}

}  // namespace virtiosim::device
