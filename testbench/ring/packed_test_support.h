// Helpers shared by the packed-ring tests: raw descriptor access in guest
// memory (so a test can play a misbehaving driver or device by hand), the
// flag words of P2, and filters over a RecordingMemory access log.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "models/ring/features.h"
#include "models/ring/layout.h"
#include "models/ring/native_memory.h"
#include "models/ring/recording_memory.h"
#include "testbench/ring/guest_memory.h"

namespace virtiosim::testing {

// Agent tags for RecordingMemory logs.
inline constexpr uint8_t kDriverAgent = 1;
inline constexpr uint8_t kDeviceAgent = 2;

// P2: AVAIL/USED bits of a descriptor made available in the lap `wrap`.
constexpr uint16_t avail_bits(bool wrap) { return wrap ? ring::kDescAvail : ring::kDescUsed; }
// P2: AVAIL/USED bits of a used descriptor written in the lap `wrap`.
constexpr uint16_t used_bits(bool wrap) {
  return wrap ? static_cast<uint16_t>(ring::kDescAvail | ring::kDescUsed) : 0;
}

inline void put_desc(GuestMemory& gm, uint64_t gpa, uint64_t addr, uint32_t len, uint16_t id,
                     uint16_t flags) {
  vring_packed_desc d{ring::le::from_host(addr), ring::le::from_host(len), ring::le::from_host(id),
                      ring::le::from_host(flags)};
  std::memcpy(gm.host(gpa), &d, sizeof d);
}

inline void put_slot(GuestMemory& gm, const ring::PackedLayout& l, uint32_t slot, uint64_t addr,
                     uint32_t len, uint16_t id, uint16_t flags) {
  put_desc(gm, l.desc_addr(slot), addr, len, id, flags);
}

inline vring_packed_desc get_slot(const GuestMemory& gm, const ring::PackedLayout& l, uint32_t slot) {
  vring_packed_desc d;
  std::memcpy(&d, gm.host(l.desc_addr(slot)), sizeof d);
  d.addr = ring::le::to_host(d.addr);
  d.len = ring::le::to_host(d.len);
  d.id = ring::le::to_host(d.id);
  d.flags = ring::le::to_host(d.flags);
  return d;
}

inline uint16_t get16(const GuestMemory& gm, uint64_t gpa) {
  uint16_t v;
  std::memcpy(&v, gm.host(gpa), 2);
  return ring::le::to_host(v);
}

inline void set16(GuestMemory& gm, uint64_t gpa, uint16_t v) {
  v = ring::le::from_host(v);
  std::memcpy(gm.host(gpa), &v, 2);
}

// The whole of guest memory, for before/after comparisons.
inline std::vector<uint8_t> snapshot(const GuestMemory& gm) {
  return {gm.host(GuestMemory::kBase), gm.host(GuestMemory::kBase) + gm.size()};
}

inline std::vector<ring::Access> by_agent(const ring::AccessLog& log, uint8_t agent) {
  std::vector<ring::Access> out;
  for (const ring::Access& a : log)
    if (a.agent == agent) out.push_back(a);
  return out;
}

inline bool is_write(const ring::Access& a, uint64_t gpa, uint64_t size) {
  return a.op == ring::Access::Op::write && a.gpa == gpa && a.size == size;
}
inline bool is_read(const ring::Access& a, uint64_t gpa, uint64_t size) {
  return a.op == ring::Access::Op::read && a.gpa == gpa && a.size == size;
}
inline bool is_barrier(const ring::Access& a, ring::BarrierSite site) {
  return a.op == ring::Access::Op::barrier && a.site == site;
}

}  // namespace virtiosim::testing
