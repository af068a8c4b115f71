// What flows through the ring API: buffer segments, the device's view of
// one available buffer, and the completion it writes back.
#pragma once

#include <cstdint>
#include <vector>

namespace virtiosim::ring {

// One guest-physical extent of a buffer.
struct Segment {
  uint64_t addr = 0;
  uint32_t len = 0;
};

// The completion the device records for one buffer (P5, P6.6).
struct UsedElem {
  uint16_t id = 0;      // buffer id (packed) / head index (split)
  uint32_t len = 0;     // bytes written into the buffer's writable part
  uint16_t count = 1;   // ring slots the buffer took (packed); 1 for split
  bool writable = false;// buffer had device-writable segments (sets WRITE, P5)
  bool complete = true; // len covers every writable byte (IN_ORDER may skip only such buffers)
};

// One available buffer as the device pops it: segments in list order,
// readable ones first (P6.3). Reuse one Chain across pops to keep the
// vectors' capacity.
struct Chain {
  uint16_t id = 0;
  uint16_t count = 0;  // ring slots consumed (packed); 1 for split
  bool indirect = false;
  std::vector<Segment> readable;
  std::vector<Segment> writable;
  uint64_t readable_bytes = 0;
  uint64_t writable_bytes = 0;

  void clear() {
    id = count = 0;
    indirect = false;
    readable.clear();
    writable.clear();
    readable_bytes = writable_bytes = 0;
  }
  UsedElem used(uint32_t len) const { return {id, len, count, !writable.empty(), len == writable_bytes}; }
};

// A completed buffer as the driver gets it back.
struct UsedBuffer {
  uint64_t token = 0;
  uint32_t len = 0;
};

}  // namespace virtiosim::ring
