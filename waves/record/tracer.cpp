#include "waves/record/tracer.h"

#include <cstdio>
#include <fstream>
#include <cstring>
#include <sstream>

#include "models/ring/layout.h"
#include "waves/read/view_window.h"
#include "waves/record/fst.h"
#include "waves/record/gtkw.h"
#include "waves/signals.h"

namespace virtiosim::waves {

namespace {
// One side's ring position, as traced (32-bit indices: GTKWave shows them in decimal).
struct SideIndices {
  uint32_t avail_idx = 0, used_idx = 0;
  bool avail_wrap = true, used_wrap = true;
  void take(const ring::RingIndices& r) {
    avail_idx = r.avail_idx, avail_wrap = r.avail_wrap;
    used_idx = r.used_idx, used_wrap = r.used_wrap;
  }
};
}  // namespace

struct Tracer::Queue {
  uint16_t index = 0;
  SideIndices drv, dev;
  uint32_t in_flight = 0;  // driver side
  // Event suppression as visible in memory: driver area (used-buffer
  // notifications), device area (available-buffer notifications).
  uint32_t driver_event_flags = 0, driver_event_off_wrap = 0;
  uint32_t device_event_flags = 0, device_event_off_wrap = 0;
  // Notifications: running counts and a pulse in the sample they changed.
  uint64_t kicks = 0, interrupts = 0;
  bool kick = false, interrupt = false;
  // The ring's shape, so a reader can do index arithmetic (waves/read/ring_events.h).
  uint32_t queue_size = 0;  // 0 until the driver sets the queue up
  bool packed = true;
};

Tracer::Tracer(sc_core::sc_module_name n, const std::string& path, double sample_ns,
               const memory::MemoryModel& mem, const driver::NetDriver& drv, const device::NetDevice& dev,
               uint16_t queues, ring::RingLayout layout, MonitorView monitor)
    : sc_module(n),
      path_(path),
      period_(sample_ns, sc_core::SC_NS),
      mem_(mem),
      drv_(drv),
      dev_(dev),
      layout_(layout),
      sb_depth_(mem.agents(), 0),
      monitor_(std::move(monitor)) {
  // SystemC appends ".vcd"; an FST path gets FILE.fst.vcd, converted at the end.
  std::string base = is_fst_path(path_) ? path_ : wave_base(path_);
  vcd_path_ = base + ".vcd";
  file_ = sc_core::sc_create_vcd_trace_file(base.c_str());
  file_->set_time_unit(1, sc_core::SC_PS);  // the kernel resolution: agents run at ps-accurate times
  // The monitor first: GTKWave lists scopes in file order.
  sc_core::sc_trace(file_, violation_count_, kMonitorViolationsSignal);
  sc_core::sc_trace(file_, last_rule_, kMonitorRuleSignal);
  for (uint16_t i = 0; i < queues; ++i) {
    queues_.push_back(std::make_unique<Queue>());
    Queue& q = *queues_.back();
    q.index = i;
    const std::string g = (i % 2 ? "tx" : "rx") + std::to_string(i / 2) + ".";
    auto named = [&g](queue_signal::Id s) { return g + queue_signal::name(s); };
    sc_core::sc_trace(file_, q.drv.avail_idx, named(queue_signal::driver_next_avail_idx));
    sc_core::sc_trace(file_, q.drv.avail_wrap, named(queue_signal::driver_avail_wrap_counter));
    sc_core::sc_trace(file_, q.drv.used_idx, named(queue_signal::driver_last_used_idx));
    sc_core::sc_trace(file_, q.drv.used_wrap, named(queue_signal::driver_used_wrap_counter));
    sc_core::sc_trace(file_, q.in_flight, named(queue_signal::driver_in_flight));
    sc_core::sc_trace(file_, q.dev.avail_idx, named(queue_signal::device_last_avail_idx));
    sc_core::sc_trace(file_, q.dev.avail_wrap, named(queue_signal::device_avail_wrap_counter));
    sc_core::sc_trace(file_, q.dev.used_idx, named(queue_signal::device_last_used_idx));
    sc_core::sc_trace(file_, q.dev.used_wrap, named(queue_signal::device_used_wrap_counter));
    sc_core::sc_trace(file_, q.driver_event_flags, named(queue_signal::driver_area_flags));
    sc_core::sc_trace(file_, q.driver_event_off_wrap, named(queue_signal::driver_area_off_wrap));
    sc_core::sc_trace(file_, q.device_event_flags, named(queue_signal::device_area_flags));
    sc_core::sc_trace(file_, q.device_event_off_wrap, named(queue_signal::device_area_off_wrap));
    sc_core::sc_trace(file_, q.kicks, named(queue_signal::kicks));
    sc_core::sc_trace(file_, q.kick, named(queue_signal::kick));
    sc_core::sc_trace(file_, q.interrupts, named(queue_signal::interrupts));
    sc_core::sc_trace(file_, q.interrupt, named(queue_signal::interrupt));
    q.packed = layout_ == ring::RingLayout::packed;
    sc_core::sc_trace(file_, q.queue_size, named(queue_signal::queue_size));
    sc_core::sc_trace(file_, q.packed, named(queue_signal::packed));
  }
  // Memory agents by the models' names for them (the driver's vCPU and the
  // device's worker of each queue pair); an agent neither claims keeps its number.
  std::vector<std::string> agent(sb_depth_.size());
  for (unsigned a = 0; a < agent.size(); ++a) agent[a] = "agent" + std::to_string(a);
  for (uint16_t qp = 0; 2 * qp < queues; ++qp) {
    if (driver::NetDriver::agent_of(qp) < agent.size()) agent[driver::NetDriver::agent_of(qp)] = driver::NetDriver::agent_name(qp);
    if (device::NetDevice::agent_of(qp) < agent.size()) agent[device::NetDevice::agent_of(qp)] = dev.agent_name(qp);
  }
  for (unsigned a = 0; a < sb_depth_.size(); ++a)
    sc_core::sc_trace(file_, sb_depth_[a], "memory." + agent[a] + kStoreBufferDepthSuffix);
  sc_core::sc_trace(file_, access_count_, kMemoryAccessesSignal);
  SC_THREAD(sample_thread);
}

Tracer::~Tracer() { finish(); }

void Tracer::sample_thread() {
  for (;;) {
    sample();
    sc_core::wait(period_);
  }
}

void Tracer::sample() {
  // Ring state moves only through memory accesses and interrupts: skip the
  // walk while neither changed and no pulse needs clearing.
  uint64_t irqs = 0;
  for (size_t pair = 0; pair * 2 < queues_.size(); ++pair)
    irqs += drv_.stats(static_cast<uint16_t>(pair)).rx_interrupts + drv_.stats(static_cast<uint16_t>(pair)).tx_interrupts;
  violation_count_ = monitor_.violations();
  last_rule_ = monitor_.last_rule();
  if (mem_.log().total() == access_count_ && irqs == irq_count_ && !pulse_) return;
  irq_count_ = irqs;
  pulse_ = false;
  for (auto& qp : queues_) {
    Queue& q = *qp;
    const uint16_t pair = q.index / 2;
    const bool tx = q.index % 2;
    if (const ring::DriverQueue* d = tx ? drv_.tx_queue(pair) : drv_.rx_queue(pair)) {
      q.drv.take(d->indices());
      q.in_flight = d->num() - d->num_free();
      q.queue_size = d->num();
      const uint64_t kicks = d->stats().kicks;
      q.kick = kicks != q.kicks;
      q.kicks = kicks;
      pulse_ |= q.kick;
      const ring::QueueAreas& a = drv_.areas(q.index);
      // Read what memory holds (not what a store buffer still holds).
      auto le16 = [&](uint64_t gpa) {
        uint16_t v;
        std::memcpy(&v, const_cast<memory::MemoryModel&>(mem_).ram().host(gpa), 2);
        return v;
      };
      if (layout_ == ring::RingLayout::packed) {
        const ring::PackedLayout p = a.packed();
        q.driver_event_off_wrap = le16(p.driver_event_off_wrap_addr());
        q.driver_event_flags = le16(p.driver_event_flags_addr());
        q.device_event_off_wrap = le16(p.device_event_off_wrap_addr());
        q.device_event_flags = le16(p.device_event_flags_addr());
      } else {
        const ring::SplitLayout s = a.split();
        q.driver_event_flags = le16(s.avail_flags_addr());  // NO_INTERRUPT
        q.driver_event_off_wrap = le16(s.used_event_addr());
        q.device_event_flags = le16(s.used_flags_addr());  // NO_NOTIFY
        q.device_event_off_wrap = le16(s.avail_event_addr());
      }
    }
    if (const ring::DeviceQueue* d = tx ? dev_.tx_queue(pair) : dev_.rx_queue(pair)) {
      q.dev.take(d->indices());
      const uint64_t n = tx ? drv_.stats(pair).tx_interrupts : drv_.stats(pair).rx_interrupts;
      q.interrupt = n != q.interrupts;
      q.interrupts = n;
      pulse_ |= q.interrupt;
    }
  }
  for (unsigned a = 0; a < sb_depth_.size(); ++a) sb_depth_[a] = static_cast<uint32_t>(mem_.store_buffer(a).depth());
  access_count_ = mem_.log().total();
}

void Tracer::finish() {
  if (!file_) return;
  sc_core::sc_close_vcd_trace_file(file_);
  file_ = nullptr;
  // SystemC stamps the wall-clock date into the header; replace it so that
  // a run's waves depend only on its config and seed.
  std::ifstream in(vcd_path_);
  std::stringstream buf;
  buf << in.rdbuf();
  in.close();
  std::string text = buf.str();
  const size_t date = text.find("$date");
  const size_t end = date == std::string::npos ? date : text.find("$end", date);
  if (end != std::string::npos) text.replace(date, end - date, "$date\n     virtiosim (deterministic)\n");
  std::ofstream(vcd_path_, std::ios::trunc) << text;
  // GTKWave save file next to the waves, built from the VCD just written;
  // then the FST, if asked for, replaces the VCD.
  try {
    write_gtkw(vcd_path_, monitor_.rule_names, path_);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "virtiosim: no GTKWave save file: %s\n", e.what());
  }
  if (vcd_path_ == path_) return;
  try {
    convert_vcd_to_fst(vcd_path_, path_);
    std::remove(vcd_path_.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "virtiosim: no FST waves (the VCD stays at %s): %s\n", vcd_path_.c_str(), e.what());
  }
}

}  // namespace virtiosim::waves
