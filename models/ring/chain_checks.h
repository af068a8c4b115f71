// What both device sides (packed and split) check the same way: the
// device's limits and counters, one buffer segment, and the extent of an
// indirect table before any of it is read. Everything here treats the
// driver's values as untrusted and answers with a typed error.
#pragma once

#include <cstdint>

#include "models/ring/chain.h"
#include "models/ring/errors.h"
#include "models/ring/stat.h"
#include "models/ring/memory_policy.h"

namespace virtiosim::ring {

struct DeviceOptions {
  // Most segments one buffer may have. 1024 is Linux vhost's UIO_MAXIOV.
  uint32_t max_segments = 1024;
};

#define VIRTIOSIM_DEVICE_STATS(X)                                                                 \
  X(popped, "buffers taken from the ring (less those put back)")                                  \
  X(discarded, "popped buffers put back with discard()")                                          \
  X(used, "buffers completed (push_used)")                                                        \
  X(used_descs_written, "used descriptors / used ring entries written (< used with IN_ORDER batching)") \
  X(flushes, "shadow used ring flushes")                                                          \
  X(signals, "should_signal() said signal")                                                       \
  X(signals_suppressed, "should_signal() said the driver does not want one")                      \
  X(completions_dropped, "pushed but not flushed when the queue broke")

struct DeviceStats {
  VIRTIOSIM_DEVICE_STATS(VIRTIOSIM_STAT_FIELD)
  ErrorCounters errors;
  template <class F>
  void visit(F&& f) const {
    VIRTIOSIM_DEVICE_STATS(VIRTIOSIM_STAT_VISIT)
  }
};

// Append one descriptor's extent to `c`: it must not wrap 64 bits, must be
// guest memory, must fit the device's segment limit, and a readable one must
// not follow a writable one (P6.3). Always inlined: it runs once per
// descriptor, and as a call its prologue and epilogue cost a quarter of it.
template <MemoryPolicy Mem>
[[gnu::always_inline]] inline RingError add_segment(const Mem& mem, const DeviceOptions& opts, Chain& c, uint64_t addr,
                      uint32_t len, bool writable) {
  if (addr + len < addr) return RingError::address_overflow;
  if (!mem.maps(addr, len)) return RingError::address_unmapped;
  if (c.readable.size() + c.writable.size() >= opts.max_segments)
    return RingError::chain_exceeds_limit;
  if (writable) {
    c.writable.push_back({addr, len});
    c.writable_bytes += len;
  } else {
    if (!c.writable.empty()) return RingError::readable_after_writable;  // P6.3
    c.readable.push_back({addr, len});
    c.readable_bytes += len;
  }
  return RingError::ok;
}

// P7: an indirect table is len/16 descriptors of 16 bytes, within the
// device's segment limit, in guest memory. Checked before the first entry
// is read so a bad table costs no access.
template <MemoryPolicy Mem>
RingError check_indirect_table(const Mem& mem, const DeviceOptions& opts, uint64_t table,
                               uint32_t len) {
  if (len == 0 || len % 16 != 0) return RingError::indirect_bad_length;
  if (len / 16 > opts.max_segments) return RingError::chain_exceeds_limit;
  if (table + len < table) return RingError::address_overflow;
  if (!mem.maps(table, len)) return RingError::address_unmapped;
  return RingError::ok;
}

}  // namespace virtiosim::ring
