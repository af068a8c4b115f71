// One queue pair's driver state: its CPU's clock and memory port, both
// rings and their buffers, what was sent and seen. Shared by the two
// driver styles (models/driver/net_driver.cpp: linux, pmd_poll.cpp: pmd);
// nothing outside models/driver includes it.
#pragma once

#include <systemc>

#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "models/driver/net_driver.h"
#include "models/memory/agent_clock.h"
#include "models/memory/sim_memory.h"
#include "models/ring/indirect_pool.h"
#include "models/ring/virtqueue.h"

namespace virtiosim::driver {

struct NetDriver::QueuePair {
  uint16_t index;
  memory::AgentClock clock;
  std::unique_ptr<memory::SimMemory> mem;
  std::unique_ptr<ring::IndirectPool> pool;
  std::unique_ptr<ring::DriverQueue> rx, tx;
  uint64_t tx_buffers = 0, rx_buffers = 0;
  uint32_t rx_buffer_bytes = 0;
  std::vector<uint32_t> tx_free, rx_free;
  std::vector<bool> seen;  // by per-queue-pair packet number
  std::vector<uint64_t> tx_packet;  // by TX buffer slot: the packet number it holds
  // By buffer slot: the segments as the device was given them (IOVAs with
  // ACCESS_PLATFORM), to unmap when the buffer comes back.
  std::vector<std::array<ring::Segment, 2>> tx_given;
  std::vector<ring::Segment> rx_given;
  std::vector<uint64_t> reclaimed;  // packet numbers a queue reset took back
  bool reset_done = false;
  bool rx_irq = false, tx_irq = false;
  sc_core::sc_event wake;
  uint32_t batched = 0;
  sc_core::sc_time next_send = sc_core::SC_ZERO_TIME;
  std::mt19937_64 arrivals;  // poisson_arrivals: this queue pair's gaps
  std::vector<uint8_t> scratch;
  QueuePairDriverStats stats;

  QueuePair(uint16_t i, memory::TimingMode m, uint64_t seed)
      : index(i), clock(m), arrivals(seed * 0x2545F4914F6CDD1Dull + i) {}
};

}  // namespace virtiosim::driver
