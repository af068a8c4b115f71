// One virtqueue's memory image built by hand, and the monitor fed the way
// sim/platform.cpp feeds it (mem_.on_visible -> on_store, mem_.on_load ->
// on_load, fn_.on_event -> on_event, the device's completions ->
// on_complete), with no platform, SystemC kernel or ring core in the loop:
// each test writes exactly the stores a side would make, in the order it
// chooses, and asserts what the checker says about them.
//
// Each agent has a store buffer: `issue` puts a store in it (program
// order), `drain` makes it visible (to memory, then to the monitor), in any
// order the test likes; `store` does both. What an agent peeks is memory
// with its own buffered stores forwarded, as memory::StoreBuffer does.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "models/ring/features.h"
#include "models/ring/layout.h"
#include "models/ring/packed_flags.h"
#include "models/ring/virtqueue.h"
#include "sim/check/monitor.h"

namespace virtiosim::sim::testing {

using Event = pci::TransportEvent;

inline constexpr unsigned kDriver = 0, kDevice = 1;
inline constexpr uint64_t kBase = 0x10000;
inline constexpr uint32_t kNum = 8;
inline constexpr uint64_t kBufferAddr = 0x80000;

class SyntheticQueue {
 public:
  explicit SyntheticQueue(ring::RingLayout layout, uint64_t features = 0,
                          std::vector<std::string> disabled = {})
      : layout_(layout),
        areas_(ring::place_queue(layout, kBase, kNum)),
        ram_(ring::ring_bytes(layout, kNum), 0),
        monitor_(layout, std::move(disabled)) {
    monitor_.add_queue(
        "tx0", areas_, ring::Features{features}, kDriver, kDevice,
        [this](unsigned agent, uint64_t addr, void* dst, uint64_t n) { peek(agent, addr, dst, n); });
  }

  Monitor& monitor() { return monitor_; }
  const ring::QueueAreas& areas() const { return areas_; }
  ring::PackedLayout packed() const { return areas_.packed(); }
  ring::SplitLayout split() const { return areas_.split(); }
  uint64_t now_ps() const { return now_ps_; }
  void advance_ps(uint64_t ps) { now_ps_ += ps; }

  // A store of `agent` enters its store buffer; returns its program-order number.
  uint64_t issue(unsigned agent, uint64_t addr, uint64_t value, uint64_t size) {
    Agent& a = agents_[agent];
    memory::PendingStore s;
    s.addr = addr;
    s.issued_ps = now_ps_;
    s.seq = a.next_seq++;
    s.assign(&value, std::min<uint64_t>(size, sizeof value));  // little-endian, as guest memory
    a.pending.push_back(s);
    return s.seq;
  }
  // The store of `agent` with program-order number `seq` becomes visible.
  void drain(unsigned agent, uint64_t seq) {
    std::vector<memory::PendingStore>& p = agents_[agent].pending;
    for (auto it = p.begin(); it != p.end(); ++it) {
      if (it->seq != seq) continue;
      memory::PendingStore s = *it;
      p.erase(it);
      s.visible_ps = ++now_ps_;
      std::memcpy(&ram_.at(s.addr - kBase), s.data(), s.size);
      monitor_.on_store(agent, s);
      return;
    }
    ADD_FAILURE() << "no buffered store " << seq << " of agent " << agent;
  }
  void drain_all(unsigned agent) {
    while (!agents_[agent].pending.empty()) drain(agent, agents_[agent].pending.front().seq);
  }
  void store(unsigned agent, uint64_t addr, uint64_t value, uint64_t size) {
    drain(agent, issue(agent, addr, value, size));
  }
  // A typed 16-bit load of `agent`, reported with the value it got.
  uint16_t load16(unsigned agent, uint64_t addr) {
    uint16_t v = 0;
    peek(agent, addr, &v, 2);
    monitor_.on_load(agent, ++now_ps_, addr, &v, 2);
    return v;
  }
  void event(Event e) { monitor_.on_event(e, 0, ++now_ps_, agents_[kDriver].next_seq); }
  void complete(uint16_t id) { monitor_.on_complete(0, id, ++now_ps_); }

  // ---- packed: what a driver and a device write --------------------------
  // The body (addr, len, id) then the flags, each store visible at once.
  void packed_avail(uint32_t slot, uint16_t id, bool wrap, uint16_t extra_flags = 0) {
    packed_avail_body(slot, id);
    store(kDriver, packed().flags_addr(slot), ring::packed_avail_flags(wrap) | extra_flags, 2);
  }
  void packed_avail_body(uint32_t slot, uint16_t id) {
    store(kDriver, packed().desc_addr(slot), kBufferAddr + slot * 0x1000, 8);
    store(kDriver, packed().len_addr(slot), 1500, 4);
    store(kDriver, packed().id_addr(slot), id, 2);
  }
  void packed_used(uint32_t slot, uint16_t id, bool wrap, uint16_t extra_flags = 0) {
    store(kDevice, packed().id_addr(slot), id, 2);
    store(kDevice, packed().len_addr(slot), 0, 4);
    store(kDevice, packed().flags_addr(slot), ring::packed_used_flags(wrap) | extra_flags, 2);
  }
  void packed_event(bool device_area, uint16_t flags, uint16_t off_wrap = 0) {
    const ring::PackedLayout p = packed();
    const unsigned agent = device_area ? kDevice : kDriver;
    store(agent, device_area ? p.device_event_off_wrap_addr() : p.driver_event_off_wrap_addr(), off_wrap, 2);
    store(agent, device_area ? p.device_event_flags_addr() : p.driver_event_flags_addr(), flags, 2);
  }

  // ---- split -------------------------------------------------------------
  // Descriptor `i` (chained to `next` when flags has NEXT).
  void split_desc(uint16_t i, uint16_t flags = 0, uint16_t next = 0) {
    const ring::SplitLayout s = split();
    store(kDriver, s.desc_addr(i), kBufferAddr + i * 0x1000, 8);
    store(kDriver, s.len_addr(i), 1500, 4);
    store(kDriver, s.flags_addr(i), flags, 2);
    store(kDriver, s.next_addr(i), next, 2);
  }
  // Head `head` into the avail ring at `avail_idx`, then avail->idx.
  void split_avail(uint16_t avail_idx, uint16_t head) {
    store(kDriver, split().avail_ring_addr(avail_idx % kNum), head, 2);
    store(kDriver, split().avail_idx_addr(), static_cast<uint16_t>(avail_idx + 1), 2);
  }
  void split_used(uint16_t used_idx, uint32_t id) {
    store(kDevice, split().used_elem_id_addr(used_idx % kNum), id, 4);
    store(kDevice, split().used_elem_len_addr(used_idx % kNum), 0, 4);
    store(kDevice, split().used_idx_addr(), static_cast<uint16_t>(used_idx + 1), 2);
  }

  std::vector<std::string> rules() const {
    std::vector<std::string> out;
    for (const Violation& v : monitor_.violations()) out.push_back(v.rule);
    return out;
  }

 private:
  struct Agent {
    uint64_t next_seq = 0;
    std::vector<memory::PendingStore> pending;  // program order
  };
  void peek(unsigned agent, uint64_t addr, void* dst, uint64_t n) const {
    std::memcpy(dst, &ram_.at(addr - kBase), n);
    if (agent == RingWatch::kVisible) return;
    for (const memory::PendingStore& s : agents_[agent].pending)  // forwarded, newest last
      for (uint64_t b = 0; b < s.size; ++b)
        if (s.addr + b >= addr && s.addr + b < addr + n)
          static_cast<uint8_t*>(dst)[s.addr + b - addr] = s.data()[b];
  }

  ring::RingLayout layout_;
  ring::QueueAreas areas_;
  std::vector<uint8_t> ram_;
  Monitor monitor_;
  Agent agents_[2];
  uint64_t now_ps_ = 0;
};

}  // namespace virtiosim::sim::testing
