// A pass-through between a transport and a device: it is the device to
// the transport (VirtioDeviceIf) and the transport to the device
// (VirtioTransportIf), and forwards every call unchanged. Decorators
// derive from it and override the calls they act on (sim/faults loses,
// delays and corrupts notifications; the platform's observer counts
// them). Chains are bound from the device outwards:
//   device.transport -> forwarder; forwarder.transport -> transport.
#pragma once

#include <systemc>

#include "transport/pci/virtio_if.h"

namespace virtiosim::pci {

class VirtioForwarder : public sc_core::sc_module, public VirtioDeviceIf, public VirtioTransportIf {
 public:
  sc_core::sc_port<VirtioTransportIf> transport;  // towards the transport

  VirtioForwarder(sc_core::sc_module_name name, VirtioDeviceIf& device)
      : sc_module(name), transport("transport"), device_(device) {}

  // VirtioDeviceIf: towards the device.
  uint16_t device_id() const override { return device_.device_id(); }
  uint64_t device_features() const override { return device_.device_features(); }
  uint16_t num_queues() const override { return device_.num_queues(); }
  uint16_t max_queue_size() const override { return device_.max_queue_size(); }
  std::vector<uint8_t> config_space() const override { return device_.config_space(); }
  void driver_ok(uint64_t features, const std::vector<QueueConfig>& queues) override {
    device_.driver_ok(features, queues);
  }
  void notify(uint16_t queue, uint32_t data) override { device_.notify(queue, data); }
  void reset() override { device_.reset(); }
  void reset_queue(uint16_t queue) override { device_.reset_queue(queue); }
  void enable_queue(uint16_t queue, const QueueConfig& config) override { device_.enable_queue(queue, config); }

  // VirtioTransportIf: towards the transport.
  void signal_queue(uint16_t queue) override { transport->signal_queue(queue); }
  void queue_reset_done(uint16_t queue) override { transport->queue_reset_done(queue); }
  void set_needs_reset() override { transport->set_needs_reset(); }

 protected:
  VirtioDeviceIf& device_;
};

}  // namespace virtiosim::pci
