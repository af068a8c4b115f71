// The notification-fault decorator between a transport and a device: every
// Nth kick or queue interrupt lost, delayed (holding back those behind it)
// or, for kicks, delivered with the neighbouring queue's notification data;
// everything else passes through unchanged. A fake transport and a fake
// device record what reaches them and when; each scenario runs in its own
// process (one SystemC kernel each).
#include <gtest/gtest.h>

#include <systemc>

#include <cmath>
#include <functional>
#include <vector>

#include "sim/faults/notification_faults.h"
#include "testbench/sc_scenario.h"

namespace virtiosim::faults {
namespace {

using sc_core::SC_NS;
using sc_core::sc_time;

struct Arrival {
  uint16_t queue;
  uint32_t data;
  long long at_ns;
  bool operator==(const Arrival& o) const { return queue == o.queue && data == o.data && at_ns == o.at_ns; }
};
std::ostream& operator<<(std::ostream& o, const Arrival& a) {
  return o << "{q" << a.queue << " 0x" << std::hex << a.data << std::dec << " @" << a.at_ns << "ns}";
}
long long now_ns() { return std::llround(sc_core::sc_time_stamp().to_seconds() * 1e9); }

struct FakeDevice : pci::VirtioDeviceIf {
  std::vector<Arrival> kicks;
  std::vector<uint16_t> queue_resets, enabled;
  int resets = 0, driver_oks = 0;
  uint16_t device_id() const override { return 1; }
  uint64_t device_features() const override { return 0x1234; }
  uint16_t num_queues() const override { return 2; }
  uint16_t max_queue_size() const override { return 256; }
  std::vector<uint8_t> config_space() const override { return {1, 2, 3}; }
  void driver_ok(uint64_t, const std::vector<pci::QueueConfig>&) override { ++driver_oks; }
  void notify(uint16_t queue, uint32_t data) override { kicks.push_back({queue, data, now_ns()}); }
  void reset() override { ++resets; }
  void reset_queue(uint16_t queue) override { queue_resets.push_back(queue); }
  void enable_queue(uint16_t queue, const pci::QueueConfig&) override { enabled.push_back(queue); }
};

struct FakeTransport : pci::VirtioTransportIf {
  std::vector<Arrival> interrupts;
  std::vector<uint16_t> resets_done;
  int needs_reset = 0;
  void signal_queue(uint16_t queue) override { interrupts.push_back({queue, 0, now_ns()}); }
  void queue_reset_done(uint16_t queue) override { resets_done.push_back(queue); }
  void set_needs_reset() override { ++needs_reset; }
};

// The decorator between the fakes, and a thread that plays both the
// transport delivering kicks and the device raising interrupts.
class Bench : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Bench);
  FakeDevice dev;
  FakeTransport transport;
  FaultPlan plan;
  NotificationFaults faults;

  Bench(sc_core::sc_module_name n, FaultPlan p, std::function<void(Bench&)> body)
      : sc_module(n), plan(std::move(p)), faults("faults", dev, plan), body_(std::move(body)) {
    faults.transport.bind(transport);
    SC_THREAD(run);
  }
  // Kicks at the given times (ns), each with data = its number (1-based) << 16 | queue 0.
  void kicks_at(const std::vector<double>& times) {
    uint32_t k = 0;
    for (double t : times) {
      wait(sc_time(t, SC_NS) - sc_core::sc_time_stamp());
      faults.notify(0, ++k << 16);
    }
  }
  void interrupts_at(const std::vector<double>& times, uint16_t queue = 1) {
    for (double t : times) {
      wait(sc_time(t, SC_NS) - sc_core::sc_time_stamp());
      faults.signal_queue(queue);
    }
  }
  void settle() { wait(sc_time(1, sc_core::SC_MS)); }

 private:
  void run() { body_(*this); }
  std::function<void(Bench&)> body_;
};

void scenario(FaultPlan plan, std::function<void(Bench&)> body) {
  test::run_scenario([&] {
    Bench bench("bench", plan, body);
    sc_core::sc_start();
  });
}

#define FAULT_SCENARIO(Name, plan, body) \
  TEST(NotificationFaults, Name) { EXPECT_EXIT(scenario(plan, body), ::testing::ExitedWithCode(0), ""); }

FaultPlan with(std::function<void(FaultPlan&)> set) {
  FaultPlan p;
  set(p);
  return p;
}

FAULT_SCENARIO(WithoutFaultsEveryCallPassesThroughAtOnce, FaultPlan{}, [](Bench& b) {
  EXPECT_EQ(b.faults.device_id(), 1);
  EXPECT_EQ(b.faults.device_features(), 0x1234u);
  EXPECT_EQ(b.faults.num_queues(), 2);
  EXPECT_EQ(b.faults.max_queue_size(), 256);
  EXPECT_EQ(b.faults.config_space(), (std::vector<uint8_t>{1, 2, 3}));
  b.faults.driver_ok(0, {});
  b.faults.reset_queue(1);
  b.faults.enable_queue(1, {});
  b.faults.reset();
  b.faults.queue_reset_done(1);
  b.faults.set_needs_reset();
  b.kicks_at({10, 20});
  b.interrupts_at({30});
  EXPECT_EQ(b.dev.driver_oks, 1);
  EXPECT_EQ(b.dev.queue_resets, std::vector<uint16_t>{1});
  EXPECT_EQ(b.dev.enabled, std::vector<uint16_t>{1});
  EXPECT_EQ(b.dev.resets, 1);
  EXPECT_EQ(b.transport.resets_done, std::vector<uint16_t>{1});
  EXPECT_EQ(b.transport.needs_reset, 1);
  EXPECT_EQ(b.dev.kicks, (std::vector<Arrival>{{0, 1 << 16, 10}, {0, 2 << 16, 20}}));
  EXPECT_EQ(b.transport.interrupts, (std::vector<Arrival>{{1, 0, 30}}));
})

FAULT_SCENARIO(P10_EveryNthKickIsLostAndCounted, with([](FaultPlan& p) { p.lose_kick_every = 3; }), [](Bench& b) {
  b.kicks_at({10, 20, 30, 40, 50, 60, 70});
  b.settle();
  std::vector<uint32_t> seen;
  for (const Arrival& a : b.dev.kicks) seen.push_back(a.data >> 16);
  EXPECT_EQ(seen, (std::vector<uint32_t>{1, 2, 4, 5, 7}));
  EXPECT_EQ(b.faults.stats().kicks_lost, 2u);
  EXPECT_EQ(b.faults.stats().interrupts_lost, 0u);
})

FAULT_SCENARIO(P12_EveryNthKickNamesTheNeighbouringQueue, with([](FaultPlan& p) { p.corrupt_kick_data_every = 2; }),
               [](Bench& b) {
                 b.kicks_at({10, 20, 30, 40});
                 ASSERT_EQ(b.dev.kicks.size(), 4u);
                 EXPECT_EQ(b.dev.kicks[0].data, 1u << 16);
                 EXPECT_EQ(b.dev.kicks[1].data, (2u << 16) | 1);  // queue 0's data now names queue 1
                 EXPECT_EQ(b.dev.kicks[2].data, 3u << 16);
                 EXPECT_EQ(b.dev.kicks[3].data, (4u << 16) | 1);
                 EXPECT_EQ(b.faults.stats().kicks_corrupted, 2u);
               })

// Posted writes do not pass each other: a kick behind a delayed one waits
// for it, one after it has gone does not.
FAULT_SCENARIO(DelayedKickHoldsBackTheKicksBehindIt, with([](FaultPlan& p) {
                 p.delay_kick_every = 2;
                 p.delay_ns = 1000;
               }),
               [](Bench& b) {
                 b.kicks_at({0, 10, 20, 2000, 2010, 2020});
                 b.settle();
                 EXPECT_EQ(b.dev.kicks, (std::vector<Arrival>{{0, 1 << 16, 0},
                                                              {0, 2 << 16, 1010},
                                                              {0, 3 << 16, 1010},
                                                              {0, 4 << 16, 3000},
                                                              {0, 5 << 16, 3000},
                                                              {0, 6 << 16, 3020}}));
                 EXPECT_EQ(b.faults.stats().kicks_delayed, 3u);
               })

FAULT_SCENARIO(P10_EveryNthInterruptIsLostOrDelayedInOrder, with([](FaultPlan& p) {
                 p.lose_interrupt_every = 4;
                 p.delay_interrupt_every = 3;
                 p.delay_ns = 500;
               }),
               [](Bench& b) {
                 b.interrupts_at({0, 100, 200, 300, 400, 1000});
                 b.settle();
                 // 3rd delayed to 700, 4th lost, 5th (400) waits behind the 3rd, 6th delayed.
                 EXPECT_EQ(b.transport.interrupts,
                           (std::vector<Arrival>{{1, 0, 0}, {1, 0, 100}, {1, 0, 700}, {1, 0, 700}, {1, 0, 1500}}));
                 EXPECT_EQ(b.faults.stats().interrupts_lost, 1u);
                 EXPECT_EQ(b.faults.stats().interrupts_delayed, 2u);
                 EXPECT_TRUE(b.dev.kicks.empty());
               })

}  // namespace
}  // namespace virtiosim::faults
