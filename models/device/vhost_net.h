// A vhost-net-like virtio-net device: one worker per queue pair running
// handle_tx and handle_rx rounds (Linux drivers/vhost/net.c) over the ring
// core's device side, reaching guest memory as a host core (vhost: direct or
// uaccess) or as a PCIe device (dma), in notification or busy-poll mode,
// completing through the shadow used ring and signalling through event
// suppression. The wire either loops TX back to RX of the same queue pair
// or is a sink with a bandwidth.
#pragma once

#include <systemc>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/device/device_memory.h"
#include "models/device/net_device.h"
#include "models/memory/agent_clock.h"
#include "models/memory/memory_model.h"
#include "models/param.h"
#include "models/ring/ring_state.h"
#include "models/ring/virtqueue.h"
#include "transport/pci/virtio_if.h"

namespace virtiosim::device {

enum class Wire : uint8_t { loopback, sink };
const char* name(Wire w);

#define VIRTIOSIM_VHOST_PARAMS(X)                                                            \
  X(double, host_ghz, 3.0, "GHz", "clock of the host core running the vhost worker")         \
  X(uint32_t, tx_packet_cycles, 450, "cycles",                                               \
    "handle_tx work per packet besides ring and payload accesses: tun sendmsg, skb (~150 ns)") \
  X(uint32_t, rx_packet_cycles, 450, "cycles",                                               \
    "handle_rx work per packet besides ring and payload accesses: tun recvmsg (~150 ns)")    \
  X(uint32_t, weight_packets, 256, "packets",                                                \
    "VHOST_NET_PKT_WEIGHT: packets per handle_tx/handle_rx round before the worker yields")  \
  X(uint32_t, used_batch, 64, "buffers",                                                     \
    "shadow used ring flushed after this many completions or when the ring runs dry (VHOST_NET_BATCH)") \
  X(double, busy_poll_ns, 0.0, "ns",                                                         \
    "busy-poll an empty ring this long before sleeping on a kick; 0 = notification mode (busyloop_timeout)") \
  X(double, poll_interval_ns, 50.0, "ns", "busy-poll: spacing of ring polls (cpu_relax loop)") \
  X(double, copy_bytes_per_ns, 10.0, "bytes/ns", "payload copy bandwidth of one core (~10 GB/s memcpy)") \
  X(uint32_t, zerocopy, 0, "bool",                                                           \
    "TX zero-copy: payload pages are pinned and handed to the wire, not copied (experimental_zcopytx)") \
  X(double, zerocopy_ns, 300.0, "ns", "zero-copy: page pin and completion tracking per packet") \
  X(uint32_t, wire_queue_packets, 1024, "packets",                                           \
    "loopback: frames held while RX has no buffers; beyond this they are dropped (tap txqueuelen)") \
  X(double, sink_bytes_per_ns, 12.5, "bytes/ns", "sink wire bandwidth (100 Gb/s)")            \
  X(double, restart_every_us, 0.0, "us",                                                     \
    "backend restart mid-run (reconnect, live migration): save each ring's state (GET_VRING_BASE), drop the queues, continue from it (SET_VRING_BASE); 0 = never") \
  X(double, restart_ns, 20000.0, "ns",                                                       \
    "one restart: vhost-user GET/SET_VRING_BASE round trips, memory table remap, fd passing (~20 us)")

struct VhostParams {
  VIRTIOSIM_VHOST_PARAMS(VIRTIOSIM_PARAM_FIELD)
  template <class F>
  void visit(F&& f) {
    VIRTIOSIM_VHOST_PARAMS(VIRTIOSIM_PARAM_VISIT)
  }
};

struct VhostNetConfig {
  ring::RingLayout layout = ring::RingLayout::packed;
  uint64_t features = 0;        // offered to the driver
  uint16_t queue_pairs = 1;
  uint16_t max_queue_size = 256;
  MetadataAccess access = MetadataAccess::direct;
  Wire wire = Wire::loopback;
  memory::TimingMode timing = memory::TimingMode::lt;
  VhostParams params;
  DeviceMemoryParams memory_params;
  // With VIRTIO_F_ACCESS_PLATFORM (and an IOMMU attached to the memory
  // model): the IOTLB's parameters and the path's miss cost.
  IotlbParams iotlb;
  double iotlb_miss_ns = 0;
};

class VhostNet : public NetDevice {
 public:
  VhostNet(sc_core::sc_module_name name, memory::MemoryModel& mem, VhostNetConfig cfg);
  ~VhostNet() override;

  // Hook points for a fault plan (sim/faults); a plain run sets none.
  // Each TX completion of a queue pair (`count`: TX packets taken so far),
  // before it is recorded: what the device does with it.
  enum class TxCompletion : uint8_t {
    now,             // record it
    later,           // keep it back; complete it after the next one, or before any flush
    entry_later,     // complete it now, write its used entry after the next one's
  };
  std::function<TxCompletion(uint16_t qp, uint64_t count, const ring::QueueAreas& tx)> tx_completion;
  // A queue reset the driver asked for: true acknowledges it at once and
  // stops the queue only after the worker's next round.
  std::function<bool(uint16_t queue)> ack_reset_early;
  // After a flush of queue `queue`: interrupt or not, given whether the
  // driver's event suppression asked (the ring core's should_signal), the
  // device's used position before and after the flush, and the worker's
  // own memory to read the driver area with.
  struct InterruptDecision {
    uint16_t queue;
    bool driver_asked;
    ring::RingIndices before, after;
    const ring::QueueAreas& areas;
    DeviceMemory& mem;
  };
  std::function<bool(const InterruptDecision&)> interrupt_decision;
  // A restart reading back a packed ring's saved base (SET_VRING_BASE);
  // unset: as VU2 encodes it.
  std::function<ring::RingState(uint32_t base)> read_vring_base;

  // VirtioDeviceIf
  uint16_t device_id() const override { return VIRTIO_ID_NET_; }
  uint64_t device_features() const override { return cfg_.features; }
  uint16_t num_queues() const override { return static_cast<uint16_t>(2 * cfg_.queue_pairs); }
  uint16_t max_queue_size() const override { return cfg_.max_queue_size; }
  std::vector<uint8_t> config_space() const override;
  void driver_ok(uint64_t features, const std::vector<pci::QueueConfig>& queues) override;
  void notify(uint16_t queue, uint32_t data) override;
  void reset() override;
  void reset_queue(uint16_t queue) override;
  void enable_queue(uint16_t queue, const pci::QueueConfig& config) override;

  const QueuePairStats& stats(uint16_t qp) const override;
  const ring::DeviceQueue* tx_queue(uint16_t qp) const override;
  const ring::DeviceQueue* rx_queue(uint16_t qp) const override;
  uint64_t busy_ps(uint16_t qp) const override;
  IotlbStats iotlb_stats() const override { return iotlb_ ? iotlb_->stats() : IotlbStats{}; }
  // After Linux's vhost-<pid> worker thread.
  std::string agent_name(uint16_t qp) const override { return "vhost_worker" + std::to_string(qp); }
  uint64_t negotiated_features() const { return features_; }

 private:
  static constexpr uint16_t VIRTIO_ID_NET_ = 1;
  struct Worker;

  void worker_thread(Worker& w);
  bool handle_tx(Worker& w);
  bool handle_rx(Worker& w);
  bool deliver_frame(Worker& w, const std::vector<uint8_t>& frame);
  void flush_and_signal(Worker& w, ring::DeviceQueue& q, uint16_t queue_index);
  bool complete(Worker& w, ring::DeviceQueue& q, uint16_t queue_index, const ring::UsedElem& e);
  bool complete_tx(Worker& w, const ring::UsedElem& e);
  bool release_held(Worker& w);
  void restart(Worker& w);
  void quiesce(Worker& w);
  // A fatal error `e` of queue `q` (or a refused access of the worker's
  // memory) fails the device; false then.
  bool check(Worker& w, ring::DeviceQueue& q, ring::RingError e, const char* what);
  void add_ring_areas(const ring::QueueAreas& areas);
  void busy_poll(Worker& w);
  bool busy_polling() const { return cfg_.params.busy_poll_ns > 0; }
  void charge_cycles(Worker& w, uint32_t cycles);

  memory::MemoryModel& mem_;
  VhostNetConfig cfg_;
  std::unique_ptr<Iotlb> iotlb_;  // with ACCESS_PLATFORM; shared by the workers, as vhost's dev->iotlb
  std::vector<std::unique_ptr<Worker>> workers_;
  sc_core::sc_event ready_;
  uint64_t features_ = 0;
};

}  // namespace virtiosim::device
