// EagerNet: a small virtio-net device that loops every TX frame back into
// RX of the same queue pair, built on the ring core's device side
// (ring::make_device_queue over memory::SimMemory). It differs from
// virtio 1.2 and Linux vhost in one deliberate way: after each flush of
// used buffers it reads the driver's event suppression
// (DeviceQueue::should_signal(); virtio 1.2 2.7.10, 2.6.7) and interrupts
// the driver whatever it says. The conformance monitor names that
// P10.ignored_suppression: a notification sent although the sender had
// just read that the other side wants none.
#pragma once

#include <systemc>

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "models/device/net_device.h"
#include "models/memory/agent_clock.h"
#include "models/memory/memory_model.h"
#include "models/memory/sim_memory.h"
#include "sim/config.h"

namespace example {

namespace vs = virtiosim;

class EagerNet : public vs::device::NetDevice {
 public:
  EagerNet(sc_core::sc_module_name name, vs::memory::MemoryModel& mem, const vs::sim::Config& cfg);
  ~EagerNet() override;

  // VirtioDeviceIf
  uint16_t device_id() const override { return 1; }  // network card
  uint64_t device_features() const override { return features_offered_; }
  uint16_t num_queues() const override { return static_cast<uint16_t>(2 * pairs_.size()); }
  uint16_t max_queue_size() const override { return max_queue_size_; }
  std::vector<uint8_t> config_space() const override;
  void driver_ok(uint64_t features, const std::vector<vs::pci::QueueConfig>& queues) override;
  void notify(uint16_t queue, uint32_t data) override;
  void reset() override;
  void reset_queue(uint16_t queue) override;
  void enable_queue(uint16_t queue, const vs::pci::QueueConfig& config) override;

  // NetDevice
  const vs::device::QueuePairStats& stats(uint16_t qp) const override;
  const vs::ring::DeviceQueue* tx_queue(uint16_t qp) const override;
  const vs::ring::DeviceQueue* rx_queue(uint16_t qp) const override;
  uint64_t busy_ps(uint16_t qp) const override;

 private:
  struct Pair;
  void worker(Pair& p);
  bool forward(Pair& p);
  void take_tx(Pair& p);
  void deliver_rx(Pair& p);
  void flush_and_interrupt(Pair& p, vs::ring::DeviceQueue& q, uint16_t queue);
  void quiesce(Pair& p);
  bool ok(Pair& p, vs::ring::RingError e, const char* what);

  vs::memory::MemoryModel& mem_;
  vs::ring::RingLayout layout_;
  uint64_t features_offered_;
  uint16_t max_queue_size_;
  vs::memory::TimingMode timing_;
  std::vector<std::unique_ptr<Pair>> pairs_;
  sc_core::sc_event ready_;
  uint64_t features_ = 0;
};

}  // namespace example
