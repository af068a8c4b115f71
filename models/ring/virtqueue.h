// Run-time choice of ring layout for callers that pick packed or split from
// a configuration (the simulator's driver and device models). The ring
// logic stays in the templates; these wrappers only forward, one virtual
// call per ring operation (never per memory access).
#pragma once

#include <memory>
#include <span>

#include "models/ring/chain.h"
#include "models/ring/errors.h"
#include "models/ring/packed_device.h"
#include "models/ring/packed_driver.h"
#include "models/ring/ring_state.h"
#include "models/ring/split_device.h"
#include "models/ring/split_driver.h"

namespace virtiosim::ring {

enum class RingLayout : uint8_t { packed, split };
inline const char* name(RingLayout l) { return l == RingLayout::packed ? "packed" : "split"; }

// Where the three areas of a queue are; the meaning of driver/device areas
// follows the layout (virtio 1.2 2.6 / 2.7).
struct QueueAreas {
  uint64_t desc = 0, driver = 0, device = 0;
  uint32_t num = 0;

  // The areas read as one layout, for its address helpers.
  PackedLayout packed() const { return {desc, driver, device, num}; }
  SplitLayout split() const { return {desc, driver, device, num}; }
};

// Bytes and alignment a queue of `num` entries needs, contiguous.
inline uint64_t ring_bytes(RingLayout l, uint32_t num) {
  return l == RingLayout::packed ? PackedLayout::contiguous_bytes(num) : SplitLayout::contiguous_bytes(num);
}
// Bytes of the descriptor area alone (packed ring / split descriptor table).
inline uint64_t desc_area_bytes(RingLayout l, uint32_t num) {
  return l == RingLayout::packed ? PackedLayout::desc_bytes(num) : SplitLayout::desc_bytes(num);
}
inline QueueAreas place_queue(RingLayout l, uint64_t base, uint32_t num) {
  if (l == RingLayout::packed) {
    const PackedLayout p = PackedLayout::place(base, num);
    return {p.desc, p.driver_event, p.device_event, num};
  }
  const SplitLayout s = SplitLayout::place(base, num);
  return {s.desc, s.avail, s.used, num};
}

// A side's position in the ring, for traces. Split rings have no wrap
// counters (reported as true); their indices are free-running.
struct RingIndices {
  uint16_t avail_idx = 0;  // driver: next to make available; device: next to take
  bool avail_wrap = true;
  uint16_t used_idx = 0;   // driver: next used to read; device: next used to write
  bool used_wrap = true;
};

class DriverQueue {
 public:
  virtual ~DriverQueue() = default;
  [[nodiscard]] virtual RingError add(std::span<const Segment> out, std::span<const Segment> in,
                                      uint64_t token) = 0;
  virtual bool kick_prepare() = 0;
  virtual uint32_t notification_data(uint16_t vqn) const = 0;
  [[nodiscard]] virtual Result<bool> get_used(UsedBuffer& out) = 0;
  virtual void disable_cb() = 0;
  [[nodiscard]] virtual bool enable_cb() = 0;
  [[nodiscard]] virtual bool enable_cb_delayed() = 0;
  virtual uint32_t num_free() const = 0;
  virtual uint32_t num() const = 0;
  virtual bool broken() const = 0;
  virtual RingError last_error() const = 0;
  virtual const DriverStats& stats() const = 0;
  virtual RingIndices indices() const = 0;
  // Queue reset (P15): the tokens of every buffer still in flight; the ring
  // is zeroed to start again.
  virtual std::vector<uint64_t> detach_unused() = 0;
};

class DeviceQueue {
 public:
  virtual ~DeviceQueue() = default;
  virtual bool has_available() = 0;
  [[nodiscard]] virtual Result<bool> pop(Chain& out) = 0;
  [[nodiscard]] virtual RingError push_used(const UsedElem& e) = 0;
  [[nodiscard]] virtual RingError flush() = 0;
  virtual bool should_signal() = 0;
  virtual void disable_notifications() = 0;
  [[nodiscard]] virtual bool enable_notifications() = 0;
  virtual RingState state() const = 0;
  [[nodiscard]] virtual RingError set_state(const RingState& s) = 0;
  virtual size_t pending_used() const = 0;
  // A fatal error the device found in a buffer rather than in the ring
  // (DeviceBase::refuse).
  virtual RingError refuse(RingError e) = 0;
  virtual uint32_t num() const = 0;
  virtual bool broken() const = 0;
  virtual RingError last_error() const = 0;
  virtual const DeviceStats& stats() const = 0;
  virtual RingIndices indices() const = 0;
};

template <class Ring>
class DriverQueueOf final : public DriverQueue {
 public:
  template <class... Args>
  explicit DriverQueueOf(Args&&... args) : r_(std::forward<Args>(args)...) {}
  RingError add(std::span<const Segment> out, std::span<const Segment> in, uint64_t token) override {
    return r_.add(out, in, token);
  }
  bool kick_prepare() override { return r_.kick_prepare(); }
  uint32_t notification_data(uint16_t vqn) const override { return r_.notification_data(vqn); }
  Result<bool> get_used(UsedBuffer& out) override { return r_.get_used(out); }
  void disable_cb() override { r_.disable_cb(); }
  bool enable_cb() override { return r_.enable_cb(); }
  bool enable_cb_delayed() override { return r_.enable_cb_delayed(); }
  uint32_t num_free() const override { return r_.num_free(); }
  uint32_t num() const override { return r_.num(); }
  bool broken() const override { return r_.broken(); }
  RingError last_error() const override { return r_.last_error(); }
  const DriverStats& stats() const override { return r_.stats(); }
  std::vector<uint64_t> detach_unused() override { return r_.detach_unused(); }
  RingIndices indices() const override {
    if constexpr (requires { r_.next_avail_idx(); })
      return {r_.next_avail_idx(), r_.avail_wrap_counter(), r_.last_used_idx(), r_.used_wrap_counter()};
    else
      return {r_.avail_idx_shadow(), true, r_.last_used_idx(), true};
  }

 private:
  Ring r_;
};

template <class Ring>
class DeviceQueueOf final : public DeviceQueue {
 public:
  template <class... Args>
  explicit DeviceQueueOf(Args&&... args) : r_(std::forward<Args>(args)...) {}
  bool has_available() override { return r_.has_available(); }
  Result<bool> pop(Chain& out) override { return r_.pop(out); }
  RingError push_used(const UsedElem& e) override { return r_.push_used(e); }
  RingError flush() override { return r_.flush(); }
  bool should_signal() override { return r_.should_signal(); }
  void disable_notifications() override { r_.disable_notifications(); }
  bool enable_notifications() override { return r_.enable_notifications(); }
  RingState state() const override { return r_.state(); }
  RingError set_state(const RingState& s) override { return r_.set_state(s); }
  size_t pending_used() const override { return r_.pending_used(); }
  RingError refuse(RingError e) override { return r_.refuse(e); }
  uint32_t num() const override { return r_.num(); }
  bool broken() const override { return r_.broken(); }
  RingError last_error() const override { return r_.last_error(); }
  const DeviceStats& stats() const override { return r_.stats(); }
  RingIndices indices() const override {
    if constexpr (requires { r_.avail_wrap_counter(); })
      return {r_.last_avail_idx(), r_.avail_wrap_counter(), r_.last_used_idx(), r_.used_wrap_counter()};
    else
      return {r_.last_avail_idx(), true, r_.last_used_idx(), true};
  }

 private:
  Ring r_;
};

template <MemoryPolicy Mem>
std::unique_ptr<DriverQueue> make_driver_queue(RingLayout l, Mem mem, const QueueAreas& a, Features f,
                                               DriverOptions opts = {}) {
  if (l == RingLayout::packed)
    return std::make_unique<DriverQueueOf<PackedDriver<Mem>>>(mem, a.packed(), f, opts);
  return std::make_unique<DriverQueueOf<SplitDriver<Mem>>>(mem, a.split(), f, opts);
}

template <MemoryPolicy Mem>
std::unique_ptr<DeviceQueue> make_device_queue(RingLayout l, Mem mem, const QueueAreas& a, Features f,
                                               DeviceOptions opts = {}) {
  if (l == RingLayout::packed)
    return std::make_unique<DeviceQueueOf<PackedDevice<Mem>>>(mem, a.packed(), f, opts);
  return std::make_unique<DeviceQueueOf<SplitDevice<Mem>>>(mem, a.split(), f, opts);
}

}  // namespace virtiosim::ring
