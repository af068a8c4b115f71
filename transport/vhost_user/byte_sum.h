// The sink's checksum: the sum of every byte of a frame, as a 64-bit
// integer. Kept apart from the back-end so that tests can hold the fast
// path to the plain definition.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace virtiosim::vhost_user {

// Sum of every byte (the sink's checksum). With SSE2 (every x86-64) one
// PSADBW adds sixteen bytes into two 64-bit lanes: a 64-byte frame is four
// loads. The tail, and hosts without SSE2, take eight bytes at a time: the
// 16-bit lanes of `acc` take the even and odd bytes of each word and are
// folded before they can overflow.
inline uint64_t byte_sum_words(const uint8_t* p, size_t n) {
  constexpr uint64_t kLanes = 0x00ff00ff00ff00ffull;
  uint64_t total = 0;
  while (n >= 8) {
    uint64_t acc = 0;
    const size_t words = std::min<size_t>(n / 8, 64);  // 64 * 2 * 255 < 2^16
    for (size_t i = 0; i < words; ++i) {
      uint64_t w;
      std::memcpy(&w, p + i * 8, 8);
      acc += (w & kLanes) + ((w >> 8) & kLanes);
    }
    total += (acc & 0xffff) + ((acc >> 16) & 0xffff) + ((acc >> 32) & 0xffff) + (acc >> 48);
    p += words * 8;
    n -= words * 8;
  }
  while (n--) total += *p++;
  return total;
}

inline uint64_t byte_sum(const uint8_t* p, size_t n) {
#if defined(__SSE2__)
  const __m128i zero = _mm_setzero_si128();
  __m128i a0 = zero, a1 = zero;
  for (; n >= 32; p += 32, n -= 32) {
    a0 = _mm_add_epi64(a0, _mm_sad_epu8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), zero));
    a1 = _mm_add_epi64(a1, _mm_sad_epu8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16)), zero));
  }
  if (n >= 16) {
    a0 = _mm_add_epi64(a0, _mm_sad_epu8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), zero));
    p += 16;
    n -= 16;
  }
  a0 = _mm_add_epi64(a0, a1);
  const uint64_t total = static_cast<uint64_t>(_mm_cvtsi128_si64(a0)) +
                         static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(a0, a0)));
  return total + byte_sum_words(p, n);
#else
  return byte_sum_words(p, n);
#endif
}

}  // namespace virtiosim::vhost_user
