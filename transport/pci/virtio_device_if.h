// The narrow interface between a virtio transport and a virtio device
// (as VCML's virtio protocol header): the device never knows it sits
// behind PCI.
#pragma once

#include <cstdint>
#include <vector>

namespace virtiosim::pci {

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

class VirtioDeviceIf {
 public:
  virtual ~VirtioDeviceIf() = default;
  virtual uint16_t device_id() const = 0;         // virtio device type (1 = net)
  virtual uint64_t device_features() const = 0;
  virtual uint16_t num_queues() const = 0;
  virtual uint16_t max_queue_size() const = 0;
  virtual std::vector<uint8_t> config_space() const = 0;  // device-specific configuration
  // The driver set DRIVER_OK: features and queues are final.
  virtual void driver_ok(uint64_t features, const std::vector<QueueConfig>& queues) = 0;
  // A doorbell reached the device (after the modeled latency). `data` is the
  // notification value (P12) with VIRTIO_F_NOTIFICATION_DATA, else the queue index.
  virtual void notify(uint16_t queue, uint32_t data) = 0;
  // The driver wrote 0 to device_status.
  virtual void reset() = 0;
  // VIRTIO_F_RING_RESET (P15): the driver wrote 1 to queue_reset. The device
  // stops using the queue, forgets its state, and then calls
  // VirtioPciFunction::queue_reset_done(queue).
  virtual void reset_queue(uint16_t queue) = 0;
  // The driver enabled a queue again after its reset: a fresh ring.
  virtual void enable_queue(uint16_t queue, const QueueConfig& config) = 0;
};

}  // namespace virtiosim::pci
