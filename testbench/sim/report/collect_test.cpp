// Stage 1: a queue pair's counters become the accounting the verdict and
// the run controller share.
#include <gtest/gtest.h>

#include "sim/report/collect.h"

namespace virtiosim::sim {
namespace {

TEST(Collect, AccountSortsEveryCounterOfAQueuePair) {
  driver::QueuePairDriverStats d;
  d.tx_packets = 100, d.tx_completed = 90, d.tx_reclaimed = 10;
  d.rx_packets = 80, d.rx_corrupt = 1, d.rx_duplicate = 2, d.rx_unexpected = 3;
  device::QueuePairStats v;
  v.dropped_wire_full = 4, v.dropped_too_big = 5;
  // sent, completed, taken back, received, received bad, dropped, lost at reset
  EXPECT_EQ(account(d, v, 6), (Accounting{100, 90, 10, 80, 6, 9, 6}));
}

TEST(Collect, AccountingAddsUpOverQueuePairs) {
  Accounting a{1, 2, 3, 4, 5, 6, 7};
  a += Accounting{10, 20, 30, 40, 50, 60, 70};
  EXPECT_EQ(a, (Accounting{11, 22, 33, 44, 55, 66, 77}));
}

}  // namespace
}  // namespace virtiosim::sim
