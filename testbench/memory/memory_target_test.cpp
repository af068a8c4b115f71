// Guest RAM as a TLM-2.0 target and the ring policy on SystemC time. Each
// test elaborates its own SystemC kernel, so each runs in a forked child
// (a kernel elaborates once per process).
#include "models/memory/memory_target.h"

#include <gtest/gtest.h>
#include <tlm_utils/simple_initiator_socket.h>

#include <cstring>
#include <systemc>
#include <tlm>

#include "models/memory/sim_memory.h"
#include "models/ring/packed_device.h"
#include "models/ring/packed_driver.h"

namespace virtiosim::memory {
namespace {

constexpr uint64_t kBase = 0x100000;

struct Initiator : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Initiator> socket{"socket"};
  explicit Initiator(sc_core::sc_module_name n) : sc_module(n) {}
};

// A TLM initiator writes and reads guest RAM through the target: data,
// latency from the cost model, the initiating agent, and address errors.
void tlm_target_checks() {
  setenv("SC_COPYRIGHT_MESSAGE", "DISABLE", 1);

  BackingStore ram(kBase, 1 << 16);
  MemoryModel model(ram, {}, Ordering::sc, 2, 1);
  MemoryTarget target("ram", model, 1);
  Initiator init("cpu");
  init.socket.bind(target.socket);
  struct Driver : sc_core::sc_module {
    Initiator& init;
    MemoryModel& model;
    SC_HAS_PROCESS(Driver);
    Driver(sc_core::sc_module_name n, Initiator& i, MemoryModel& m) : sc_module(n), init(i), model(m) {
      SC_THREAD(run);
    }
    void run() {
      uint64_t v = 0x1122334455667788;
      tlm::tlm_generic_payload t;
      AgentExtension ext(0);
      t.set_extension(&ext);
      t.set_write();
      t.set_address(kBase + 64);
      t.set_data_ptr(reinterpret_cast<unsigned char*>(&v));
      t.set_data_length(8);
      t.set_streaming_width(8);
      sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
      init.socket->b_transport(t, delay);
      EXPECT_TRUE(t.is_response_ok());
      EXPECT_EQ(delay, sc_core::sc_time(model.params().cost.dram_ns, sc_core::SC_NS));  // first touch
      EXPECT_EQ(model.stats(0).writes, 1u);
      t.clear_extension(&ext);
      // No extension: the target's default agent (1) reads it: a transfer.
      uint64_t r = 0;
      t.set_read();
      t.set_data_ptr(reinterpret_cast<unsigned char*>(&r));
      delay = sc_core::SC_ZERO_TIME;
      init.socket->b_transport(t, delay);
      EXPECT_EQ(r, v);
      EXPECT_EQ(delay, sc_core::sc_time(model.params().cost.remote_transfer_ns, sc_core::SC_NS));
      EXPECT_EQ(model.stats(1).reads, 1u);
      // Outside guest memory: an address error, nothing touched.
      t.set_address(kBase + (1 << 16));
      init.socket->b_transport(t, delay);
      EXPECT_EQ(t.get_response_status(), tlm::TLM_ADDRESS_ERROR_RESPONSE);
    }
  } drv("drv", init, model);
  sc_core::sc_start();
  std::exit(::testing::Test::HasFailure() ? 1 : 0);
}

TEST(MemoryTarget, ServesTlmTransactionsWithCostAndAgent) {
  EXPECT_EXIT(tlm_target_checks(), ::testing::ExitedWithCode(0), "");
}

// The unchanged ring core on SystemC time: a driver thread and a device
// thread exchange buffers through modeled memory under weak ordering, in
// both timing modes, and every buffer comes back in order.
constexpr uint64_t kBuffers = 1000;

void ring_on_systemc(TimingMode mode) {
  setenv("SC_COPYRIGHT_MESSAGE", "DISABLE", 1);
  BackingStore ram(kBase, 1 << 20);
  MemoryModel model(ram, {}, Ordering::weak, 2, 42);
  tlm::tlm_global_quantum::instance().set(sc_core::sc_time(1, sc_core::SC_US));
  struct Top : sc_core::sc_module {
    MemoryModel& model;
    AgentClock drv_clock, dev_clock;
    ring::PackedLayout layout = ring::PackedLayout::place(kBase, 64);
    sc_core::sc_event kick, irq;
    uint64_t completed = 0;
    SC_HAS_PROCESS(Top);
    Top(sc_core::sc_module_name n, MemoryModel& m, TimingMode mode)
        : sc_module(n), model(m), drv_clock(mode), dev_clock(mode) {
      SC_THREAD(driver);
      SC_THREAD(device);
    }
    void driver() {
      ring::PackedDriver<SimMemory> drv(SimMemory(&model, 0, &drv_clock), layout,
                                        ring::Features{ring::feature_bit(VIRTIO_RING_F_EVENT_IDX)});
      uint64_t next = 1;
      while (completed < kBuffers) {
        while (next <= kBuffers) {
          const ring::Segment seg{kBase + 0x10000 + (next % 64) * 64, 64};
          if (drv.add(std::span(&seg, 1), {}, next) != ring::RingError::ok) break;
          ++next;
        }
        if (drv.kick_prepare()) drv_clock.sync(), kick.notify(sc_core::sc_time(500, sc_core::SC_NS));
        ring::UsedBuffer u;
        for (;;) {
          auto r = drv.get_used(u);
          ASSERT_TRUE(r.ok());
          if (!r.value) break;
          EXPECT_EQ(u.token, ++completed);
        }
        if (completed < kBuffers && !drv.enable_cb())
          drv_clock.wait_until(irq, sc_core::sc_time(50, sc_core::SC_US), [] { return false; });
        drv.disable_cb();
      }
      EXPECT_GT(sc_core::sc_time_stamp(), sc_core::SC_ZERO_TIME);
      sc_core::sc_stop();
    }
    void device() {
      ring::PackedDevice<SimMemory> dev(SimMemory(&model, 1, &dev_clock), layout,
                                        ring::Features{ring::feature_bit(VIRTIO_RING_F_EVENT_IDX)});
      ring::Chain c;
      for (;;) {
        for (;;) {
          auto r = dev.pop(c);
          ASSERT_TRUE(r.ok()) << ring::name(r.error);
          if (!r.value) break;
          ASSERT_EQ(dev.push_used(c.used(0)), ring::RingError::ok);
        }
        ASSERT_EQ(dev.flush(), ring::RingError::ok);
        if (dev.should_signal()) dev_clock.sync(), irq.notify(sc_core::sc_time(500, sc_core::SC_NS));
        if (dev.enable_notifications()) continue;
        dev_clock.wait_until(kick, sc_core::sc_time(50, sc_core::SC_US), [] { return false; });
        dev.disable_notifications();
      }
    }
  } top("top", model, mode);
  sc_core::sc_start();
  EXPECT_EQ(top.completed, kBuffers);
  EXPECT_GT(model.store_buffer(0).stores(), 0u);
  std::exit(::testing::Test::HasFailure() ? 1 : 0);
}

TEST(SimMemory, RingCoreRunsOnSystemcTimeLooselyTimed) {
  EXPECT_EXIT(ring_on_systemc(TimingMode::lt), ::testing::ExitedWithCode(0), "");
}

TEST(SimMemory, RingCoreRunsOnSystemcTimeApproximatelyTimed) {
  EXPECT_EXIT(ring_on_systemc(TimingMode::at), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace virtiosim::memory
