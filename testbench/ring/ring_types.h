// The two layouts as type bundles over NativeMemory, for tests and
// benchmarks that run the same code on packed and split rings.
#pragma once

#include "models/ring/native_memory.h"
#include "models/ring/packed_device.h"
#include "models/ring/packed_driver.h"
#include "models/ring/split_device.h"
#include "models/ring/split_driver.h"

namespace virtiosim::testing {

struct PackedRing {
  static constexpr const char* kName = "packed";
  using Layout = ring::PackedLayout;
  using Driver = ring::PackedDriver<ring::NativeMemory>;
  using Device = ring::PackedDevice<ring::NativeMemory>;
};

struct SplitRing {
  static constexpr const char* kName = "split";
  using Layout = ring::SplitLayout;
  using Driver = ring::SplitDriver<ring::NativeMemory>;
  using Device = ring::SplitDevice<ring::NativeMemory>;
};

}  // namespace virtiosim::testing
