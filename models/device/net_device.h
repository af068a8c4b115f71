// What the platform (sim/) needs of a virtio-net device model besides the
// transport's forward interface: its transport port, the memory agent of
// each queue pair, the figures the report and the run controller read, its
// device-side queues for the monitor and the waves, and sinks for what the
// monitor hears from inside the device. VhostNet is one; a user's device
// (examples/custom_device) is another, registered by name
// (sim/device_registry.h) and chosen with device.kind.
#pragma once

#include <systemc>

#include <cstdint>
#include <functional>
#include <string>

#include "models/device/iotlb.h"
#include "models/ring/errors.h"
#include "models/ring/ring_state.h"
#include "models/ring/virtqueue.h"
#include "transport/pci/virtio_if.h"

namespace virtiosim::device {

// One queue pair's figures as the device counts them (a device without
// busy-poll, restarts or a loopback queue leaves those at 0).
struct QueuePairStats {
  uint64_t tx_packets = 0, tx_bytes = 0;  // taken from the guest's TX ring
  uint64_t rx_packets = 0, rx_bytes = 0;  // delivered into the guest's RX ring
  uint64_t dropped_wire_full = 0;         // loopback queue full
  uint64_t dropped_too_big = 0;           // frame larger than the RX buffers can hold
  uint64_t kicks_received = 0;
  uint64_t notify_data_checked = 0;  // doorbells whose notification data was checked (P12)
  uint64_t interrupts_raised = 0;
  uint64_t polls = 0;         // busy-poll iterations
  uint64_t restarts = 0;      // ring state saved and restored (restart_every_us)
  uint64_t queue_resets = 0;  // queues reset by the driver (P15)
};

class NetDevice : public sc_core::sc_module, public pci::VirtioDeviceIf {
 public:
  explicit NetDevice(sc_core::sc_module_name name) : sc_module(name), transport("transport") {}

  // The transport the device signals queues, reset completions and
  // NEEDS_RESET through; bound by the platform before simulation starts.
  sc_core::sc_port<pci::VirtioTransportIf> transport;

  // Agent id of queue pair `qp`'s device side in the memory model (the
  // driver's vCPU of the pair is 2 qp): a device reaches guest memory as
  // memory::SimMemory(&mem, agent_of(qp), &clock).
  static unsigned agent_of(uint16_t qp) { return 2u * qp + 1; }
  // That agent's name in waves and reports.
  virtual std::string agent_name(uint16_t qp) const { return "device_worker" + std::to_string(qp); }

  // Conformance findings the device can make itself (P12), for the monitor.
  using ViolationSink = std::function<void(const char* rule, const std::string& what, uint64_t time_ps)>;
  void on_violation(ViolationSink sink) { violation_ = std::move(sink); }
  // Each buffer the device is done with, in the order it finishes them (the
  // order SPEC_NOTES P4 and P8 are about), before its used entry is written.
  using CompletionSink = std::function<void(uint16_t queue, uint16_t id, uint64_t time_ps)>;
  void on_complete(CompletionSink sink) { completion_ = std::move(sink); }
  // Each ring a restart restores: the base it saved (GET_VRING_BASE, VU2
  // encoding; packed rings) and the state it continues from.
  using RestoreSink =
      std::function<void(uint16_t queue, uint32_t base, const ring::RingState& restored, uint64_t time_ps)>;
  void on_restore(RestoreSink sink) { restore_ = std::move(sink); }

  virtual const QueuePairStats& stats(uint16_t qp) const = 0;
  // The device side of queue pair `qp`'s rings; null before DRIVER_OK or
  // while the queue is reset.
  virtual const ring::DeviceQueue* tx_queue(uint16_t qp) const = 0;
  virtual const ring::DeviceQueue* rx_queue(uint16_t qp) const = 0;
  // Time the device side of `qp` was busy (charged latency, not waiting).
  virtual uint64_t busy_ps(uint16_t qp) const = 0;
  // The IOTLB's figures (VIRTIO_F_ACCESS_PLATFORM); zeros for a device
  // without one.
  virtual IotlbStats iotlb_stats() const { return {}; }

  bool failed() const { return failed_; }
  std::string failure() const { return failure_; }
  // The ring error that broke a queue and the rule it enforces ({ok, ""}
  // if the failure was not a ring error).
  const ring::RingFailure& ring_failure() const { return ring_failure_; }
  uint64_t failure_time_ps() const { return failure_time_ps_; }

 protected:
  ViolationSink violation_;
  CompletionSink completion_;
  RestoreSink restore_;
  bool failed_ = false;
  std::string failure_;
  ring::RingFailure ring_failure_;
  uint64_t failure_time_ps_ = 0;
};

}  // namespace virtiosim::device
