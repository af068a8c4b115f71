#include "models/memory/memory_model.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <stdexcept>

namespace virtiosim::memory {

namespace {
constexpr double ps_to_ns(uint64_t ps) { return static_cast<double>(ps) / 1000.0; }
constexpr uint64_t ns_to_ps(double ns) { return static_cast<uint64_t>(ns * 1000.0 + 0.5); }
constexpr uint64_t kMaxTracked = 8;  // ring fields: typed accesses of at most 8 bytes
constexpr unsigned kMaxGranules = kMaxTracked / 2 + 1;
uint64_t granule_of(uint64_t addr) { return addr & ~uint64_t{1}; }
}  // namespace

MemoryModel::MemoryModel(BackingStore& ram, MemoryParams p, Ordering ordering, unsigned agents,
                         uint64_t seed, size_t log_capacity)
    : ram_(ram),
      p_(p),
      ordering_(ordering),
      cost_(p.cost, agents, ram.gpa_base(), ram.size()),
      stats_(agents),
      log_(log_capacity),
      observed_(agents, std::vector<uint64_t>(agents, 0)),
      epoch_(agents, 0),
      stored_since_load_(agents, false),
      last_read_(agents),
      hoist_rng_(seed ^ 0xC2B2AE3D27D4EB4Full) {
  buffers_.reserve(agents);
  for (unsigned a = 0; a < agents; ++a) {
    // Each agent's schedule has its own stream, derived from the run seed.
    buffers_.emplace_back(ordering, p.store_buffer, seed * 0x9E3779B97F4A7C15ull + a,
                          [this, a](const PendingStore& s) {
                            store_visible(a, s);
                            std::memcpy(ram_.host(s.addr), s.data(), s.size);
                            LogRecord r{s.visible_ps, s.addr, 0, static_cast<uint32_t>(s.size),
                                        static_cast<uint8_t>(a), LogRecord::Op::visible};
                            std::memcpy(&r.value, s.data(), std::min<size_t>(8, s.size));
                            log_.record(r);
                            if (observer_) observer_(a, s);
                          });
  }
}

void MemoryModel::settle_buffers(uint64_t now_ps) {
  // In the order of visibility time across agents, not agent by agent: two
  // agents' stores to one location land in the order they become visible
  // (coherence order; S and 2+2W ask which store is last), however far
  // `now_ps` is past both.
  for (;;) {
    StoreBuffer* first = nullptr;
    for (StoreBuffer& b : buffers_)
      if (b.earliest_ps() <= now_ps && (!first || b.earliest_ps() < first->earliest_ps())) first = &b;
    if (!first) break;
    first->drain(first->earliest_ps());
  }
  next_due_ps_ = UINT64_MAX;
  for (const StoreBuffer& b : buffers_) next_due_ps_ = std::min(next_due_ps_, b.earliest_ps());
}

double MemoryModel::read(unsigned agent, uint64_t now_ps, uint64_t gpa, void* dst, uint64_t n, bool typed) {
  if (!ram_.maps(gpa, n)) throw std::out_of_range("modeled read outside guest memory");
  settle(now_ps);
  std::memcpy(dst, ram_.host(gpa), n);
  // Loads performed early (hoist) exist under weak and tso; ring fields
  // (typed, at most 8 bytes) are tracked for them. Message-passing anomalies
  // need stores to become visible out of order or loads to pass loads,
  // which only the weak model allows (tso keeps store order and load
  // order): they are checked there alone.
  if (typed && n <= kMaxTracked && ordering_ != Ordering::sc) {
    const bool weak = ordering_ == Ordering::weak;
    Origin origins[kMaxGranules];
    const uint64_t first = granule_of(gpa);
    for (uint64_t g = first, i = 0; weak && g < gpa + n; g += 2, ++i) {
      const auto it = origin_.find(g);
      if (it != origin_.end()) origins[i] = it->second;
    }
    const bool hoisted = hoist(agent, gpa, static_cast<uint8_t*>(dst), n, origins);
    if (hoisted) ++stats_[agent].loads_hoisted;
    if (weak) check_order(agent, now_ps, gpa, static_cast<const uint8_t*>(dst), n, origins, hoisted);
  } else if (ordering_ == Ordering::tso) {
    // An untracked load is performed now: later loads stay after it.
    epoch_[agent] = visible_count_;
    stored_since_load_[agent] = false;
  }
  buffers_[agent].forward(gpa, dst, n);  // a load sees the agent's own stores
  ++stats_[agent].reads;
  log_access(LogRecord::Op::read, agent, now_ps, gpa, n, dst, typed);
  if (typed && load_observer_) load_observer_(agent, now_ps, gpa, dst, n);
  return cost_.access(agent, gpa, n, false);
}

double MemoryModel::write(unsigned agent, uint64_t now_ps, uint64_t gpa, const void* src, uint64_t n,
                          bool typed) {
  if (!ram_.maps(gpa, n)) throw std::out_of_range("modeled write outside guest memory");
  settle(now_ps);
  uint8_t faulted[8];
  if (typed && !store_faults_.empty() && n <= sizeof faulted) {
    std::memcpy(faulted, src, n);
    switch (apply_store_fault(agent, gpa, n, faulted)) {
      case Faulted::no: break;
      case Faulted::changed:
        src = faulted;
        if (!ram_.maps(gpa, n)) throw std::out_of_range("modeled write outside guest memory");
        break;
      case Faulted::deferred: return 0;  // made (and charged) with the store that releases it
    }
  }
  double ns = issue(agent, now_ps, gpa, src, n, typed);
  // Deferred stores this one releases follow it, in their program order.
  for (auto it = deferred_.begin(); it != deferred_.end();) {
    if (!it->released_by.matches(agent, gpa, n)) {
      ++it;
      continue;
    }
    ns += issue(agent, now_ps, it->gpa, it->value, it->n, true);
    it = deferred_.erase(it);
  }
  return ns;
}

double MemoryModel::issue(unsigned agent, uint64_t now_ps, uint64_t gpa, const void* src, uint64_t n, bool typed) {
  ++stats_[agent].writes;
  stored_since_load_[agent] = true;
  log_access(LogRecord::Op::write, agent, now_ps, gpa, n, src, typed);
  const double ns = cost_.access(agent, gpa, n, true);
  // A ring field's store waits in the store buffer for its cache line (the
  // read-for-ownership) before it can become visible, as on real cores:
  // only then does a store to a line the other side holds stay buffered
  // long enough for the other side to miss it (SB, the kick path's lost
  // wake-up). The agent is still charged the transfer (the calibrated
  // figures assume it); payload copies are not delayed, the publish
  // barrier orders them.
  const uint64_t transfer_ps = typed && n <= kMaxTracked ? ns_to_ps(ns) : 0;
  const uint64_t stall_ps = buffers_[agent].store(now_ps, gpa, src, n, transfer_ps);
  next_due_ps_ = std::min(next_due_ps_, buffers_[agent].earliest_ps());
  stats_[agent].stall_ns += ps_to_ns(stall_ps);
  return ns + ps_to_ns(stall_ps);
}

MemoryModel::Faulted MemoryModel::apply_store_fault(unsigned agent, uint64_t& gpa, uint64_t n, uint8_t* value) {
  for (auto it = store_faults_.begin(); it != store_faults_.end(); ++it) {
    StoreFault& f = *it;
    if (!f.matches(agent, gpa, n)) continue;
    if (f.skip > 0) {
      --f.skip;
      return Faulted::no;
    }
    uint64_t v = 0;
    std::memcpy(&v, value, n);  // little-endian guest memory on a little-endian host
    v = ((v & f.and_mask) | f.or_mask) ^ f.xor_mask;
    std::memcpy(value, &v, n);
    gpa = static_cast<uint64_t>(static_cast<int64_t>(gpa) + f.displace);
    ++store_faults_applied_;
    const bool defer = f.defer;
    if (defer) {
      DeferredStore d{f, gpa, n, {}};
      std::memcpy(d.value, value, n);
      deferred_.push_back(d);
    }
    if (!f.every && --f.count == 0) store_faults_.erase(it);
    return defer ? Faulted::deferred : Faulted::changed;
  }
  return Faulted::no;
}

double MemoryModel::barrier(unsigned agent, uint64_t now_ps, ring::BarrierSite site) {
  const ring::BarrierKind kind = ring::kind_of(site);
  ++stats_[agent].barriers[static_cast<unsigned>(kind)];
  log_.record({now_ps, 0, static_cast<uint64_t>(site), 0, static_cast<uint8_t>(agent), LogRecord::Op::barrier});
  if (dropped(site)) {  // fault injection: the barrier is simply not there
    ++stats_[agent].barriers_dropped;
    return 0;
  }
  switch (kind) {
    case ring::BarrierKind::write:
      buffers_[agent].write_barrier();
      return p_.wmb_ns;
    case ring::BarrierKind::read:
      // Later loads stay after this point (weak: dmb ishld). Under tso a
      // read barrier is a compiler barrier: loads are in order already.
      if (ordering_ == Ordering::weak) epoch_[agent] = visible_count_;
      return p_.rmb_ns;
    case ring::BarrierKind::full: {
      const uint64_t stall_ps = buffers_[agent].full_barrier(now_ps + ns_to_ps(p_.mb_ns));
      stats_[agent].stall_ns += ps_to_ns(stall_ps);
      // Later loads stay after the drain: no load passes the agent's
      // earlier stores (tso) or earlier loads (weak) across it.
      epoch_[agent] = visible_count_;
      return p_.mb_ns + ps_to_ns(stall_ps);
    }
  }
  return 0;
}

void MemoryModel::store_visible(unsigned agent, const PendingStore& s) {
  if (s.size > kMaxTracked || ordering_ == Ordering::sc) return;  // payload, or no reordering to track
  const Origin now{static_cast<int>(agent), s.seq};
  for (uint64_t g = granule_of(s.addr); g < s.addr + s.size; g += 2) {
    Origin old_origin;  // only the weak model's order check asks which store a value came from
    if (ordering_ == Ordering::weak) {
      Origin& o = origin_[g];
      old_origin = o;
      o = now;
    }
    uint16_t old;
    std::memcpy(&old, ram_.host(g), 2);
    recent_.push_back({visible_count_, s.visible_ps, g, old, old_origin, now});
  }
  ++visible_count_;
  const uint64_t window = ns_to_ps(p_.weak_load_window_ns);
  while (!recent_.empty() && recent_.front().visible_ps + window < s.visible_ps) recent_.pop_front();
}

// A load performed early sees memory as it was at an earlier point of the
// order of visibility (the snapshot). How early it may go:
//   weak  back to the agent's last read or full barrier: Arm performs loads
//         out of order, so a load may be satisfied before an earlier load in
//         program order (MP with only the writer's dmb st is allowed);
//   tso   a load after a store of the agent, back to the point the agent's
//         previous load was performed at: the load passes the store still in
//         the store buffer (SB, x86's one reordering) but never an earlier
//         load or a full barrier.
// Either way within the window (a reorder buffer's reach) and never earlier
// than the agent's own last read of the same bytes (read-read coherence).
// Returns whether the load got an older value than memory holds now.
bool MemoryModel::hoist(unsigned agent, uint64_t gpa, uint8_t* dst, uint64_t n, Origin* origins) {
  const bool tso = ordering_ == Ordering::tso;
  uint64_t floor = tso && !stored_since_load_[agent] ? visible_count_ : epoch_[agent];
  // Stores older than the window's oldest are no longer kept, so none of
  // them can be undone: the snapshot starts at the oldest kept one, and
  // every store after it is undone (one state of memory, not a mixture).
  floor = std::max(floor, recent_.empty() ? visible_count_ : recent_.front().vseq);
  auto& last = last_read_[agent];
  const uint64_t first = granule_of(gpa);
  for (uint64_t g = first; g < gpa + n; g += 2) {
    const auto it = last.find(g);
    if (it != last.end()) floor = std::max(floor, it->second);
  }
  uint64_t snapshot = visible_count_;
  if (floor < visible_count_ && std::uniform_real_distribution<double>(0, 1)(hoist_rng_) < p_.weak_load_hoist)
    snapshot = floor;
  for (uint64_t g = first; g < gpa + n; g += 2) last[g] = visible_count_;
  if (tso) {  // the next load is performed no earlier than this one
    epoch_[agent] = snapshot;
    stored_since_load_[agent] = false;
  }
  if (snapshot >= visible_count_) return false;
  // Undo, newest first, every store that became visible after the snapshot;
  // stop at the agent's own store (it never reads past its own writes).
  bool frozen[kMaxGranules] = {};
  bool hoisted = false;
  for (auto it = recent_.rbegin(); it != recent_.rend() && it->vseq >= snapshot; ++it) {
    if (it->granule < first || it->granule >= gpa + n) continue;
    const unsigned i = static_cast<unsigned>((it->granule - first) / 2);
    if (frozen[i] || it->new_origin.agent == static_cast<int>(agent)) {
      frozen[i] = true;
      continue;
    }
    const uint64_t lo = std::max(it->granule, gpa), hi = std::min(it->granule + 2, gpa + n);
    std::memcpy(dst + (lo - gpa), reinterpret_cast<const uint8_t*>(&it->old_value) + (lo - it->granule), hi - lo);
    origins[i] = it->old_origin;
    hoisted = true;
  }
  return hoisted;
}

// Did `reader` just miss a store that its writer issued before another store
// the reader has already observed? Then report it; either way, remember the
// newest store of each writer the reader has now seen.
void MemoryModel::check_order(unsigned reader, uint64_t now_ps, uint64_t gpa, const uint8_t* got, uint64_t n,
                              const Origin* origins, bool hoisted) {
  const uint64_t first = granule_of(gpa);
  bool reported = false;
  for (uint64_t g = first, i = 0; g < gpa + n && !reported; g += 2, ++i) {
    for (unsigned w = 0; w < agents() && !reported; ++w) {
      if (w == reader) continue;
      // The oldest store of w to this granule that the reader did not get:
      // still in w's store buffer, or undone by the reader's hoisted load.
      uint64_t missed_seq = UINT64_MAX, missed_value = 0;
      for (const PendingStore& s : buffers_[w].pending()) {
        if (s.addr < g + 2 && g < s.addr + s.size) {
          missed_seq = s.seq;
          std::memcpy(&missed_value, s.data(), std::min<uint64_t>(8, s.size));
          break;
        }
      }
      if (hoisted) {
        // w's first store to the granule made visible after the one the
        // value read came from (found in visibility order: sequence numbers
        // are per agent, so another agent's value says nothing by its own).
        auto from = recent_.end();
        for (auto it = recent_.begin(); it != recent_.end(); ++it)
          if (it->granule == g && it->new_origin.agent == origins[i].agent && it->new_origin.seq == origins[i].seq)
            from = it;
        for (auto it = from == recent_.end() ? recent_.begin() : std::next(from); it != recent_.end(); ++it)
          if (it->granule == g && it->new_origin.agent == static_cast<int>(w) && it->new_origin.seq < missed_seq) {
            missed_seq = it->new_origin.seq;
            std::memcpy(&missed_value, ram_.host(g), 2);
            break;
          }
      }
      if (missed_seq != UINT64_MAX && observed_[reader][w] > missed_seq + 1) {
        OrderingAnomaly a{now_ps, reader, w, gpa, static_cast<uint32_t>(n), 0, missed_value, hoisted};
        std::memcpy(&a.value_read, got, std::min<uint64_t>(8, n));
        if (anomaly_observer_) anomaly_observer_(a);
        reported = true;
      }
    }
  }
  for (uint64_t g = first, i = 0; g < gpa + n; g += 2, ++i) {
    const Origin& o = origins[i];
    if (o.agent >= 0 && o.agent != static_cast<int>(reader))
      observed_[reader][o.agent] = std::max(observed_[reader][o.agent], o.seq + 1);
  }
}

void MemoryModel::log_access(LogRecord::Op op, unsigned agent, uint64_t now_ps, uint64_t gpa, uint64_t n,
                             const void* data, bool typed) {
  LogRecord r{now_ps, gpa, 0, static_cast<uint32_t>(n), static_cast<uint8_t>(agent), op};
  if (typed) std::memcpy(&r.value, data, std::min<uint64_t>(8, n));
  log_.record(r);
}

}  // namespace virtiosim::memory
