// The two-way interface between a virtio transport and a virtio device, and
// the interrupt sink a driver offers its transport (as VCML's virtio
// forward/backward protocol). Models include this header, never the PCI
// model: a device sits behind any transport that calls VirtioDeviceIf and
// implements VirtioTransportIf, a driver behind any that raises MSIs into
// an MsiSinkIf. The platform (sim/) binds the ends, and may put decorators
// between them (sim/faults: lost, delayed, corrupted notifications).
#pragma once

#include <systemc>

#include <cstdint>
#include <vector>

#include "transport/pci/transport_event.h"

namespace virtiosim::pci {

// How a driver recognises a modern virtio PCI function (virtio 1.2 4.1.2).
constexpr uint16_t kVirtioPciVendorId = 0x1af4;       // Red Hat, Inc. (virtio)
constexpr uint16_t kVirtioPciModernDeviceBase = 0x1040;  // device ID: 0x1040 + virtio device type

// One virtqueue as the driver configured it through the common
// configuration structure (queue_select/size/desc/driver/device/enable).
struct QueueConfig {
  uint16_t size = 0;
  uint16_t msix_vector = 0xffff;  // VIRTIO_MSI_NO_VECTOR
  bool enabled = false;
  uint64_t desc = 0;    // descriptor area
  uint64_t driver = 0;  // driver area (packed: driver event suppression; split: avail ring)
  uint64_t device = 0;  // device area (packed: device event suppression; split: used ring)
};

// Forward: what the transport tells the device.
class VirtioDeviceIf : public virtual sc_core::sc_interface {
 public:
  virtual uint16_t device_id() const = 0;  // virtio device type (1 = net)
  virtual uint64_t device_features() const = 0;
  virtual uint16_t num_queues() const = 0;
  virtual uint16_t max_queue_size() const = 0;
  virtual std::vector<uint8_t> config_space() const = 0;  // device-specific configuration
  // The driver set DRIVER_OK: features and queues are final.
  virtual void driver_ok(uint64_t features, const std::vector<QueueConfig>& queues) = 0;
  // A notification (doorbell) reached the device (after the modeled
  // latency). `data` is the notification value (P12) with
  // VIRTIO_F_NOTIFICATION_DATA, else the queue index.
  virtual void notify(uint16_t queue, uint32_t data) = 0;
  // The driver wrote 0 to device_status.
  virtual void reset() = 0;
  // VIRTIO_F_RING_RESET (P15): the driver wrote 1 to queue_reset. The
  // device stops using the queue, forgets its state, and then calls
  // VirtioTransportIf::queue_reset_done(queue).
  virtual void reset_queue(uint16_t queue) = 0;
  // The driver enabled a queue again after its reset: a fresh ring.
  virtual void enable_queue(uint16_t queue, const QueueConfig& config) = 0;
};

// Backward: what the device tells the transport.
class VirtioTransportIf : public virtual sc_core::sc_interface {
 public:
  // Used buffers for the driver: interrupt it on the queue's vector (after
  // the path's latency).
  virtual void signal_queue(uint16_t queue) = 0;
  // The queue reset the driver asked for is complete (P15).
  virtual void queue_reset_done(uint16_t queue) = 0;
  // An error the device cannot recover from: DEVICE_NEEDS_RESET, and a
  // configuration change interrupt.
  virtual void set_needs_reset() = 0;
};

// The driver's side of MSI-X: a message for `vector` arrived (the write to
// the vector's address). The driver reads everything else (status, ISR,
// configuration) over MMIO.
class MsiSinkIf : public virtual sc_core::sc_interface {
 public:
  virtual void msi(uint16_t vector) = 0;
};

}  // namespace virtiosim::pci
