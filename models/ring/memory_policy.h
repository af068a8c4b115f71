// The contract between the ring core and the world it runs in.
//
// The ring core says WHAT it reads, writes and orders; a memory policy
// decides what that costs and when the other side sees it. Guest memory is
// little-endian (virtio 1.x): read16/32/64 return host-order values and
// write16/32/64 take them, the policy converts. Typed accesses are used only
// for naturally aligned ring fields; bulk bytes (indirect tables, payloads)
// go through read_bytes/write_bytes. The policy refuses nothing silently:
// the ring checks maps() before it touches an address that came from the
// other side.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>

namespace virtiosim::ring {

enum class BarrierKind : uint8_t { write, read, full };

// Every barrier the ring core issues has a name, so that a trace, a monitor
// or a fault injector can tell them apart (SPEC_NOTES P13).
enum class BarrierSite : uint8_t {
  driver_publish,         // wmb: descriptor bodies (split: avail ring entry) before head flags (split: avail idx)
  driver_kick_check,      // mb: publish before reading the device's event suppression / avail_event
  driver_used_read,       // rmb: used flags (split: used idx) before id/len
  driver_event_write,     // wmb: driver area off_wrap before its flags
  driver_enable_recheck,  // mb: enabling callbacks before re-checking for used buffers
  device_avail_read,      // rmb: avail flags (split: avail idx) before descriptor bodies
  device_used_publish,    // wmb: used id/len before used flags (split: used idx)
  device_signal_check,    // mb: used publish before reading the driver's event suppression / used_event
  device_event_write,     // wmb: device area off_wrap before its flags
  device_enable_recheck,  // mb: enabling notifications before re-checking for available buffers
  device_avail_check,     // rmb: split avail idx read by an emptiness check before the entries the next pop reads
  count_
};

inline constexpr unsigned kBarrierSites = static_cast<unsigned>(BarrierSite::count_);

constexpr BarrierKind kind_of(BarrierSite s) {
  switch (s) {
    case BarrierSite::driver_publish:
    case BarrierSite::driver_event_write:
    case BarrierSite::device_used_publish:
    case BarrierSite::device_event_write:
      return BarrierKind::write;
    case BarrierSite::driver_used_read:
    case BarrierSite::device_avail_read:
    case BarrierSite::device_avail_check:
      return BarrierKind::read;
    default:
      return BarrierKind::full;
  }
}

const char* name(BarrierSite s);

template <class M>
concept MemoryPolicy = requires(M m, const M cm, uint64_t gpa, uint64_t n, uint16_t v16,
                                uint32_t v32, uint64_t v64, void* dst, const void* src,
                                BarrierSite site) {
  { cm.maps(gpa, n) } -> std::same_as<bool>;  // [gpa, gpa+n) is guest memory
  { m.read16(gpa) } -> std::same_as<uint16_t>;
  { m.read32(gpa) } -> std::same_as<uint32_t>;
  { m.read64(gpa) } -> std::same_as<uint64_t>;
  m.write16(gpa, v16);
  m.write32(gpa, v32);
  m.write64(gpa, v64);
  m.read_bytes(gpa, dst, n);
  m.write_bytes(gpa, src, n);
  m.barrier(site);
};

}  // namespace virtiosim::ring
