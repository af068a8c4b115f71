// Typed tests over both layouts: TYPED_TEST_SUITE(Suite, testing::RingTypes,
// testing::RingName) runs each test on PackedRing and SplitRing, named
// "packed" and "split".
#pragma once

#include <gtest/gtest.h>

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

}  // namespace virtiosim::testing
