#include "models/net/frame.h"

#include <algorithm>
#include <cstring>

namespace virtiosim::net {

namespace {
constexpr uint32_t kSeqOff = 14, kTimeOff = 22, kQueueOff = 30, kPayloadOff = 34;

// splitmix64: a fast, well-mixed function of (seed, seq, word index).
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint32_t fnv1a(std::span<const uint8_t> b) {
  uint32_t h = 2166136261u;
  for (uint8_t c : b) h = (h ^ c) * 16777619u;
  return h;
}

void fill_payload(uint8_t* p, size_t n, uint64_t seed, uint64_t seq) {
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t w = mix(seed ^ mix(seq) ^ i);
    std::memcpy(p + i, &w, std::min<size_t>(8, n - i));
  }
}
}  // namespace

uint32_t frame_bytes(uint64_t seed, uint64_t seq, uint32_t min_bytes, uint32_t max_bytes) {
  if (max_bytes <= min_bytes) return min_bytes;
  return min_bytes + static_cast<uint32_t>(mix(seed * 31 + seq) % (max_bytes - min_bytes + 1));
}

void build_frame(std::span<uint8_t> out, uint64_t seed, const FrameInfo& info) {
  uint8_t* p = out.data();
  const uint8_t dst[6] = {0x52, 0x54, 0x00, 0x00, 0x00, static_cast<uint8_t>(info.queue_pair)};
  const uint8_t src[6] = {0x52, 0x54, 0x00, 0x00, 0x01, static_cast<uint8_t>(info.queue_pair)};
  std::memcpy(p, dst, 6);
  std::memcpy(p + 6, src, 6);
  p[12] = kEtherType >> 8;
  p[13] = kEtherType & 0xff;
  std::memcpy(p + kSeqOff, &info.seq, 8);
  std::memcpy(p + kTimeOff, &info.sent_ps, 8);
  std::memcpy(p + kQueueOff, &info.queue_pair, 4);
  fill_payload(p + kPayloadOff, out.size() - kPayloadOff - 4, seed, info.seq);
  const uint32_t sum = fnv1a(out.first(out.size() - 4));
  std::memcpy(p + out.size() - 4, &sum, 4);
}

bool verify_frame(std::span<const uint8_t> frame, uint64_t seed, FrameInfo& info) {
  if (frame.size() < kMinFrameBytes) return false;
  const uint8_t* p = frame.data();
  uint32_t sum;
  std::memcpy(&sum, p + frame.size() - 4, 4);
  if (sum != fnv1a(frame.first(frame.size() - 4))) return false;
  std::memcpy(&info.seq, p + kSeqOff, 8);
  std::memcpy(&info.sent_ps, p + kTimeOff, 8);
  std::memcpy(&info.queue_pair, p + kQueueOff, 4);
  // The checksum guards transport corruption; the seeded payload guards a
  // frame swapped for another one with a valid checksum.
  const size_t n = frame.size() - kPayloadOff - 4;
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t w = mix(seed ^ mix(info.seq) ^ i);
    if (std::memcmp(&w, p + kPayloadOff + i, std::min<size_t>(8, n - i)) != 0) return false;
  }
  return true;
}

}  // namespace virtiosim::net
