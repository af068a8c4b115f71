#include "sim/faults/notification_faults.h"

#include <algorithm>

namespace virtiosim::faults {

using sc_core::sc_time;

namespace {
bool nth(uint64_t count, uint32_t every) { return every != 0 && count % every == 0; }
}  // namespace

NotificationFaults::NotificationFaults(sc_core::sc_module_name n, pci::VirtioDeviceIf& device,
                                       const FaultPlan& plan)
    : VirtioForwarder(n, device), plan_(plan) {
  SC_METHOD(release_kicks);
  sensitive << kicks_held_.ready;
  dont_initialize();
  SC_METHOD(release_interrupts);
  sensitive << interrupts_held_.ready;
  dont_initialize();
}

template <class Item>
bool NotificationFaults::Held<Item>::hold(const Item& item, bool delayed, double delay_ns) {
  if (!delayed && items.empty()) return false;
  const sc_time now = sc_core::sc_time_stamp();
  sc_time at = delayed ? now + sc_time(delay_ns, sc_core::SC_NS) : now;
  if (!items.empty()) at = std::max(at, items.back().first);
  items.emplace_back(at, item);
  ready.notify(items.front().first - now);
  return true;
}

void NotificationFaults::notify(uint16_t queue, uint32_t data) {
  ++kicks_;
  if (nth(kicks_, plan_.lose_kick_every)) {
    ++stats_.kicks_lost;  // the write was accepted and goes nowhere
    return;
  }
  if (nth(kicks_, plan_.corrupt_kick_data_every)) {
    data ^= 1;  // the data names the neighbouring queue
    ++stats_.kicks_corrupted;
  }
  const bool delayed = nth(kicks_, plan_.delay_kick_every);
  stats_.kicks_delayed += delayed;
  if (!kicks_held_.hold({queue, data}, delayed, plan_.delay_ns)) device_.notify(queue, data);
}

void NotificationFaults::signal_queue(uint16_t queue) {
  ++interrupts_;
  if (nth(interrupts_, plan_.lose_interrupt_every)) {
    ++stats_.interrupts_lost;
    return;
  }
  const bool delayed = nth(interrupts_, plan_.delay_interrupt_every);
  stats_.interrupts_delayed += delayed;
  if (!interrupts_held_.hold(queue, delayed, plan_.delay_ns)) transport->signal_queue(queue);
}

template <class Item>
template <class Deliver>
void NotificationFaults::Held<Item>::release(Deliver deliver) {
  const sc_time now = sc_core::sc_time_stamp();
  while (!items.empty() && items.front().first <= now) {
    const Item item = items.front().second;
    items.pop_front();
    deliver(item);
  }
  if (!items.empty()) ready.notify(items.front().first - now);
}

void NotificationFaults::release_kicks() {
  kicks_held_.release([this](const Kick& k) { device_.notify(k.queue, k.data); });
}

void NotificationFaults::release_interrupts() {
  interrupts_held_.release([this](uint16_t queue) { transport->signal_queue(queue); });
}

}  // namespace virtiosim::faults
