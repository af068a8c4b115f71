// The sink's checksum (byte_sum.h): the SSE2 path and the word path must
// both equal the plain sum of bytes, for every length and alignment a
// segment can have, with bytes that overflow narrow lanes (0xff).
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "transport/vhost_user/byte_sum.h"

namespace virtiosim::vhost_user {
namespace {

uint64_t plain_sum(const uint8_t* p, size_t n) {
  uint64_t s = 0;
  for (size_t i = 0; i < n; ++i) s += p[i];
  return s;
}

TEST(VhostUserByteSum, EqualsThePlainSumForEveryLengthAndAlignment) {
  std::vector<uint8_t> buf(4096 + 64);
  std::mt19937 rng(7);
  for (uint8_t& b : buf) b = static_cast<uint8_t>(rng());
  for (size_t align = 0; align < 16; ++align)
    for (size_t n = 0; n <= 600; ++n) {
      const uint8_t* p = buf.data() + align;
      ASSERT_EQ(byte_sum(p, n), plain_sum(p, n)) << "align " << align << " len " << n;
      ASSERT_EQ(byte_sum_words(p, n), plain_sum(p, n)) << "align " << align << " len " << n;
    }
}

TEST(VhostUserByteSum, AllOnesDoNotOverflowAnyLane) {
  // 64 KiB + 7 of 0xff: more than the word path folds at once, and far more
  // than a 16-bit lane could hold.
  std::vector<uint8_t> buf(65536 + 7, 0xff);
  for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{511}, size_t{512}, size_t{513}, buf.size()}) {
    EXPECT_EQ(byte_sum(buf.data(), n), 255u * n) << n;
    EXPECT_EQ(byte_sum_words(buf.data(), n), 255u * n) << n;
  }
}

}  // namespace
}  // namespace virtiosim::vhost_user
