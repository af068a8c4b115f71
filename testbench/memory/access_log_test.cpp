#include "models/memory/access_log.h"

#include <gtest/gtest.h>

namespace virtiosim::memory {
namespace {

TEST(AccessLog, KeepsTheNewestRecordsAndEveryCount) {
  AccessLog log(4);
  for (uint64_t i = 0; i < 10; ++i)
    log.record({i, 0x100 + i, i, 2, 0, i % 2 ? LogRecord::Op::write : LogRecord::Op::read});
  EXPECT_EQ(log.total(), 10u);
  EXPECT_EQ(log.total(LogRecord::Op::write), 5u);
  EXPECT_EQ(log.total(LogRecord::Op::read), 5u);
  auto snap = log.snapshot();
  ASSERT_EQ(snap.size(), 4u);
  EXPECT_EQ(snap.front().time_ps, 6u);  // oldest kept
  EXPECT_EQ(snap.back().time_ps, 9u);
  EXPECT_EQ(log.capacity(), 4u);
}

TEST(AccessLog, ShortRunHoldsEverything) {
  AccessLog log(16);
  log.record({5, 1, 0, 0, 1, LogRecord::Op::barrier});
  auto snap = log.snapshot();
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_EQ(snap[0].op, LogRecord::Op::barrier);
}

}  // namespace
}  // namespace virtiosim::memory
