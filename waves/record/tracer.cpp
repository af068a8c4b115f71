#include "waves/record/tracer.h"

#include <cstdio>
#include <cstring>

#include "models/ring/layout.h"
#include "waves/read/view_window.h"
#include "waves/record/fst.h"
#include "waves/record/gtkw.h"
#include "waves/signals.h"

namespace virtiosim::waves {

struct Tracer::Queue {
  uint16_t index = 0;
  VcdWriter::Id id[queue_signal::count] = {};
  // Notifications: running counts at the last sample; a pulse marks the sample they moved in.
  uint64_t kicks = 0, interrupts = 0;
};

Tracer::Tracer(sc_core::sc_module_name n, const std::string& path, double sample_ns, double window_us,
               const memory::MemoryModel& mem, const driver::NetDriver& drv, const device::NetDevice& dev,
               uint16_t queues, ring::RingLayout layout, MonitorView monitor)
    : sc_module(n),
      path_(path),
      vcd_path_((is_fst_path(path) ? path : wave_base(path)) + ".vcd"),
      period_(sample_ns, sc_core::SC_NS),
      mem_(mem),
      drv_(drv),
      dev_(dev),
      layout_(layout),
      file_(std::make_unique<VcdWriter>(vcd_path_, static_cast<uint64_t>(window_us * 1e6))),
      monitor_(std::move(monitor)) {
  // The monitor first: GTKWave lists scopes in file order.
  violations_id_ = file_->add(kMonitorViolationsSignal, 64);
  rule_id_ = file_->add(kMonitorRuleSignal, 32);
  for (uint16_t i = 0; i < queues; ++i) {
    queues_.push_back(std::make_unique<Queue>());
    Queue& q = *queues_.back();
    q.index = i;
    const std::string g = (i % 2 ? "tx" : "rx") + std::to_string(i / 2) + ".";
    for (unsigned s = 0; s < queue_signal::count; ++s) {
      const auto sig = static_cast<queue_signal::Id>(s);
      // Widths as before: counts 64 bits, indices and areas 32 (GTKWave
      // shows them in decimal), flags 1. Wrap counters start at 1 (virtio
      // 1.2 2.8.1), `packed` is the layout.
      const bool flag = sig == queue_signal::driver_avail_wrap_counter || sig == queue_signal::driver_used_wrap_counter ||
                        sig == queue_signal::device_avail_wrap_counter || sig == queue_signal::device_used_wrap_counter ||
                        sig == queue_signal::kick || sig == queue_signal::interrupt || sig == queue_signal::packed;
      const bool count = sig == queue_signal::kicks || sig == queue_signal::interrupts;
      const uint64_t initial = sig == queue_signal::packed ? layout_ == ring::RingLayout::packed
                               : flag && sig != queue_signal::kick && sig != queue_signal::interrupt;
      q.id[s] = file_->add(g + queue_signal::name(sig), flag ? 1 : count ? 64 : 32, initial);
    }
  }
  // Memory agents by the models' names for them (the driver's vCPU and the
  // device's worker of each queue pair); an agent neither claims keeps its number.
  std::vector<std::string> agent(mem.agents());
  for (unsigned a = 0; a < agent.size(); ++a) agent[a] = "agent" + std::to_string(a);
  for (uint16_t qp = 0; 2 * qp < queues; ++qp) {
    if (driver::NetDriver::agent_of(qp) < agent.size()) agent[driver::NetDriver::agent_of(qp)] = driver::NetDriver::agent_name(qp);
    if (device::NetDevice::agent_of(qp) < agent.size()) agent[device::NetDevice::agent_of(qp)] = dev.agent_name(qp);
  }
  for (const std::string& a : agent) sb_depth_.push_back(file_->add("memory." + a + kStoreBufferDepthSuffix, 32));
  accesses_id_ = file_->add(kMemoryAccessesSignal, 64);
  // A method, not a thread: a sample needs no stack of its own to switch
  // to. It runs at time 0, then when woken.
  SC_METHOD(sample_method);
  sensitive << wake_;
}

Tracer::~Tracer() { finish(); }

void Tracer::sample_method() {
  last_sample_ = sc_core::sc_time_stamp().value();
  armed_ = false;
  sample();
  // A written triggered window ends the sampling: nothing more is kept
  // (armed_ stays set, so pokes cost a test). A pulse drops at the next
  // grid point whether or not anything else moves.
  if (file_->done())
    armed_ = true;
  else if (pulse_ || finding_due_)
    arm(finding_due_);
}

void Tracer::arm(uint64_t not_before) {
  // The first grid point at or after now (and not_before), but after the
  // last sample: two samples at one time would make a kick/interrupt pulse
  // zero wide.
  armed_ = true;
  const uint64_t p = period_.value(), now = sc_core::sc_time_stamp().value();
  uint64_t at = (std::max(now, not_before) + p - 1) / p * p;
  if (at <= last_sample_) at = last_sample_ + p;
  wake_.notify(sc_core::sc_time::from_value(at - now));
}

void Tracer::sample() {
  const uint64_t now = static_cast<uint64_t>(sc_core::sc_time_stamp() / sc_core::sc_time(1, sc_core::SC_PS));
  file_->begin_sample(now);
  // A step of the violation count shows at the first sample at or after
  // the time of the first violation it adds, named by that violation's rule.
  const uint64_t violations = monitor_.violations();
  finding_due_ = 0;
  if (violations != shown_violations_) {
    const auto [rule, at_ps] = monitor_.first_unshown();
    if (at_ps <= now) {
      file_->set(violations_id_, violations);
      file_->set(rule_id_, rule);
      monitor_.mark_shown();
      shown_violations_ = violations;
    } else {
      finding_due_ = sc_core::sc_time(static_cast<double>(at_ps), sc_core::SC_PS).value();
    }
  }
  if (shown_violations_) file_->trigger(now);
  // Ring state moves only through memory accesses and interrupts: skip the
  // walk while neither changed and no pulse needs clearing.
  uint64_t irqs = 0;
  for (size_t pair = 0; pair * 2 < queues_.size(); ++pair)
    irqs += drv_.stats(static_cast<uint16_t>(pair)).rx_interrupts + drv_.stats(static_cast<uint16_t>(pair)).tx_interrupts;
  if (mem_.log().total() == access_count_ && irqs == irq_count_ && !pulse_) return;
  irq_count_ = irqs;
  pulse_ = false;
  using namespace queue_signal;
  for (auto& qp : queues_) {
    Queue& q = *qp;
    auto set = [&](queue_signal::Id s, uint64_t v) { file_->set(q.id[s], v); };
    const uint16_t pair = q.index / 2;
    const bool tx = q.index % 2;
    if (const ring::DriverQueue* d = tx ? drv_.tx_queue(pair) : drv_.rx_queue(pair)) {
      const ring::RingIndices r = d->indices();
      set(driver_next_avail_idx, r.avail_idx);
      set(driver_avail_wrap_counter, r.avail_wrap);
      set(driver_last_used_idx, r.used_idx);
      set(driver_used_wrap_counter, r.used_wrap);
      set(driver_in_flight, d->num() - d->num_free());
      set(queue_size, d->num());
      const uint64_t kicks = d->stats().kicks;
      set(kick, kicks != q.kicks);
      pulse_ |= kicks != q.kicks;
      q.kicks = kicks;
      set(queue_signal::kicks, kicks);
      const ring::QueueAreas& a = drv_.areas(q.index);
      // Read what memory holds (not what a store buffer still holds).
      auto le16 = [&](uint64_t gpa) {
        uint16_t v;
        std::memcpy(&v, const_cast<memory::MemoryModel&>(mem_).ram().host(gpa), 2);
        return v;
      };
      if (layout_ == ring::RingLayout::packed) {
        const ring::PackedLayout p = a.packed();
        set(driver_area_off_wrap, le16(p.driver_event_off_wrap_addr()));
        set(driver_area_flags, le16(p.driver_event_flags_addr()));
        set(device_area_off_wrap, le16(p.device_event_off_wrap_addr()));
        set(device_area_flags, le16(p.device_event_flags_addr()));
      } else {
        const ring::SplitLayout s = a.split();
        set(driver_area_flags, le16(s.avail_flags_addr()));  // NO_INTERRUPT
        set(driver_area_off_wrap, le16(s.used_event_addr()));
        set(device_area_flags, le16(s.used_flags_addr()));  // NO_NOTIFY
        set(device_area_off_wrap, le16(s.avail_event_addr()));
      }
    }
    if (const ring::DeviceQueue* d = tx ? dev_.tx_queue(pair) : dev_.rx_queue(pair)) {
      const ring::RingIndices r = d->indices();
      set(device_last_avail_idx, r.avail_idx);
      set(device_avail_wrap_counter, r.avail_wrap);
      set(device_last_used_idx, r.used_idx);
      set(device_used_wrap_counter, r.used_wrap);
      const uint64_t n = tx ? drv_.stats(pair).tx_interrupts : drv_.stats(pair).rx_interrupts;
      set(interrupt, n != q.interrupts);
      pulse_ |= n != q.interrupts;
      q.interrupts = n;
      set(queue_signal::interrupts, n);
    }
  }
  for (unsigned a = 0; a < sb_depth_.size(); ++a) file_->set(sb_depth_[a], mem_.store_buffer(a).depth());
  access_count_ = mem_.log().total();
  file_->set(accesses_id_, access_count_);
}

void Tracer::finish() {
  if (!file_) return;
  // A finding of the run's last moments (the controller reports a queue the
  // device broke and stops the run at once, before the next grid point)
  // gets the sample it would have had.
  if (monitor_.violations() != shown_violations_ && !file_->done() && sc_core::sc_time_stamp().value() > last_sample_)
    sample();
  try {
    file_->close(static_cast<uint64_t>(sc_core::sc_time_stamp() / sc_core::sc_time(1, sc_core::SC_PS)));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "virtiosim: %s\n", e.what());
  }
  file_.reset();
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
