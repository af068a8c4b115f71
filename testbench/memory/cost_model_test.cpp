// The cost model tells the four cases of a cache line apart and charges
// each its parameter: the basis of every per-packet cost figure.
#include "models/memory/cost_model.h"

#include <gtest/gtest.h>

namespace virtiosim::memory {
namespace {

constexpr unsigned kDriver = 0, kDevice = 1;

TEST(CostModel, FirstTouchIsDramThenOwnHit) {
  CostModel m;
  EXPECT_DOUBLE_EQ(m.access(kDriver, 0x1000, 8, false), m.params().dram_ns);
  EXPECT_EQ(m.last_kind(), AccessCost::dram);
  EXPECT_DOUBLE_EQ(m.access(kDriver, 0x1008, 8, true), m.params().own_hit_ns);  // E -> M, same line
  EXPECT_EQ(m.stats(kDriver).dram, 1u);
  EXPECT_EQ(m.stats(kDriver).own_hits, 1u);
}

TEST(CostModel, ProducerConsumerPingPongCostsRemoteTransfers) {
  // The ring pattern: driver writes a descriptor, device reads it, device
  // writes the used flags back, driver reads them.
  CostModel m;
  m.access(kDriver, 0x2000, 16, true);  // DRAM, then Modified in the driver
  EXPECT_DOUBLE_EQ(m.access(kDevice, 0x2000, 16, false), m.params().remote_transfer_ns);
  EXPECT_EQ(m.last_kind(), AccessCost::remote_transfer);
  // Both share it now; the device's write must invalidate the driver's copy.
  EXPECT_DOUBLE_EQ(m.access(kDevice, 0x200e, 2, true), m.params().remote_transfer_ns);
  EXPECT_DOUBLE_EQ(m.access(kDriver, 0x200e, 2, false), m.params().remote_transfer_ns);
  EXPECT_EQ(m.stats(kDevice).remote_transfers, 2u);
  EXPECT_EQ(m.stats(kDriver).remote_transfers, 1u);
}

TEST(CostModel, CleanLineInOtherCacheIsAnLlcHit) {
  CostModel m;
  m.access(kDriver, 0x3000, 8, false);  // clean in the driver
  EXPECT_DOUBLE_EQ(m.access(kDevice, 0x3000, 8, false), m.params().llc_hit_ns);
  EXPECT_DOUBLE_EQ(m.access(kDevice, 0x3000, 8, false), m.params().own_hit_ns);
}

TEST(CostModel, AccessSpanningLinesChargesEachLine) {
  CostParams serial;
  serial.line_fill_buffers = 1;
  CostModel m(serial);
  EXPECT_DOUBLE_EQ(m.access(kDriver, 60, 8, false), 2 * m.params().dram_ns);  // bytes 60..67
  EXPECT_EQ(m.stats(kDriver).lines(), 2u);
  EXPECT_DOUBLE_EQ(m.stats(kDriver).ns, 2 * m.params().dram_ns);
}

// A copy's misses are in flight together, line_fill_buffers at a time: a
// 76-byte header and frame the other agent just wrote costs one transfer,
// not two; 24 lines (a 1500-byte frame) with 10 buffers cost three.
TEST(CostModel, MissesOfOneAccessOverlapInTheLineFillBuffers) {
  CostModel m;
  m.access(kDriver, 0x4000, 76, true);
  EXPECT_DOUBLE_EQ(m.access(kDevice, 0x4000, 76, false), m.params().remote_transfer_ns);
  EXPECT_EQ(m.stats(kDevice).remote_transfers, 2u);  // both lines moved, in parallel
  m.access(kDriver, 0x8000, 24 * 64, true);
  EXPECT_DOUBLE_EQ(m.access(kDevice, 0x8000, 24 * 64, false), 3 * m.params().remote_transfer_ns);
}

// Hits add up; a group of misses costs its slowest member.
TEST(CostModel, OverlappedGroupCostsItsSlowestMissAndHitsAddUp) {
  CostModel m;
  m.access(kDevice, 0x40, 8, false);   // line 1: the device's own
  m.access(kDriver, 0x80, 8, false);   // line 2: clean in the driver
  // Line 0 DRAM, line 1 own hit, line 2 LLC hit.
  EXPECT_DOUBLE_EQ(m.access(kDevice, 0x0, 3 * 64, false), m.params().own_hit_ns + m.params().dram_ns);
}

TEST(CostModel, LargerRemoteLatencyRaisesTheCost) {
  CostParams slow;
  slow.remote_transfer_ns = 200;
  CostModel a, b(slow);
  for (CostModel* m : {&a, &b}) {
    m->access(kDriver, 0, 64, true);
    m->access(kDevice, 0, 64, false);
  }
  EXPECT_GT(b.stats(kDevice).ns, a.stats(kDevice).ns);
}

TEST(CostModel, RejectsBadConfiguration) {
  CostParams p;
  p.line_bytes = 48;
  EXPECT_THROW(CostModel{p}, std::invalid_argument);
  EXPECT_THROW(CostModel({}, 0), std::invalid_argument);
  CostParams no_buffers;
  no_buffers.line_fill_buffers = 0;
  EXPECT_THROW(CostModel{no_buffers}, std::invalid_argument);
  EXPECT_THROW(CostModel({}, 9), std::invalid_argument);
}

TEST(CostModel, ParamsAreDeclaredWithUnitsAndReasons) {
  CostParams p;
  int n = 0;
  p.visit([&](const ParamInfo& info, auto& value) {
    EXPECT_STRNE(info.name, "");
    EXPECT_STRNE(info.why, "");
    EXPECT_GT(value, 0);
    ++n;
  });
  EXPECT_EQ(n, 6);
}

}  // namespace
}  // namespace virtiosim::memory
