// Typed tests over both layouts: TYPED_TEST_SUITE(Suite, testing::RingTypes,
// testing::RingName) runs each test on PackedRing and SplitRing, named
// "packed" and "split". RingSizes / RingSizeName do the same over every
// queue size shape a layout allows ("packed_1000", "split_32768"), one test
// each.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "testbench/ring/ring_types.h"

namespace virtiosim::testing {

using RingTypes = ::testing::Types<PackedRing, SplitRing>;
struct RingName {
  template <class Ring>
  static std::string GetName(int) {
    return Ring::kName;
  }
};

// A layout with a queue size.
template <class Ring, uint32_t N>
struct RingOfSize : Ring {
  static constexpr uint32_t kNum = N;
};
// Sizes 1 and 2 (the smallest rings), 256 (common), 32768 (the largest);
// packed also 3 and 1000 (not powers of two, P1; split refuses them).
using RingSizes = ::testing::Types<RingOfSize<PackedRing, 1>, RingOfSize<PackedRing, 2>,
                                   RingOfSize<PackedRing, 3>, RingOfSize<PackedRing, 256>,
                                   RingOfSize<PackedRing, 1000>, RingOfSize<PackedRing, 32768>,
                                   RingOfSize<SplitRing, 1>, RingOfSize<SplitRing, 2>,
                                   RingOfSize<SplitRing, 256>, RingOfSize<SplitRing, 32768>>;
struct RingSizeName {
  template <class Ring>
  static std::string GetName(int) {
    return std::string(Ring::kName) + "_" + std::to_string(Ring::kNum);
  }
};

}  // namespace virtiosim::testing
