// Lost, delayed and corrupted notifications, between a transport and its
// device: a decorator on the two-way interface (transport/pci/virtio_if.h),
// so neither the virtio-PCI function nor the device knows about faults.
// Doorbells are counted as they reach the device, queue interrupts as the
// device raises them; every Nth one (0: none) is lost, delayed by
// `delay_ns`, or (doorbells) delivered with notification data that names
// the neighbouring queue (P12). A delayed notification holds back those
// behind it, as posted writes and MSI-X messages do not pass each other.
#pragma once

#include <systemc>

#include <cstdint>
#include <deque>

#include "sim/faults/fault_plan.h"
#include "transport/pci/virtio_forwarder.h"

namespace virtiosim::faults {

struct NotificationFaultStats {
  uint64_t kicks_lost = 0, kicks_corrupted = 0, kicks_delayed = 0;
  uint64_t interrupts_lost = 0, interrupts_delayed = 0;
};

class NotificationFaults : public pci::VirtioForwarder {
 public:
  SC_HAS_PROCESS(NotificationFaults);
  NotificationFaults(sc_core::sc_module_name name, pci::VirtioDeviceIf& device, const FaultPlan& plan);

  void notify(uint16_t queue, uint32_t data) override;
  void signal_queue(uint16_t queue) override;

  const NotificationFaultStats& stats() const { return stats_; }

 private:
  // Notifications held back, in order, with the time each may go on.
  template <class Item>
  struct Held {
    std::deque<std::pair<sc_core::sc_time, Item>> items;
    sc_core::sc_event ready;
    // Whether `item` must wait (it is delayed, or others wait before it);
    // if so it is queued.
    bool hold(const Item& item, bool delayed, double delay_ns);
    // Hand on, in order, those whose time has come.
    template <class Deliver>
    void release(Deliver deliver);
  };
  struct Kick {
    uint16_t queue;
    uint32_t data;
  };
  void release_kicks();
  void release_interrupts();

  const FaultPlan& plan_;
  NotificationFaultStats stats_;
  uint64_t kicks_ = 0, interrupts_ = 0;
  Held<Kick> kicks_held_;
  Held<uint16_t> interrupts_held_;
};

}  // namespace virtiosim::faults
