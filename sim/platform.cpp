#include "sim/platform.h"

#include <systemc>
#include <tlm>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <cstdio>
#include <numeric>
#include <sstream>

#include "models/device/vhost_net.h"
#include "models/driver/net_driver.h"
#include "models/memory/backing_store.h"
#include "models/memory/memory_model.h"
#include "sim/check/monitor.h"
#include "sim/device_registry.h"
#include "sim/faults/notification_faults.h"
#include "sim/faults/ring_faults.h"
#include "sim/report/collect.h"
#include "sim/report/render.h"
#include "sim/report/verdict.h"
#include "transport/pci/virtio_forwarder.h"
#include "transport/pci/virtio_pci.h"
#include "waves/record/tracer.h"

namespace virtiosim::sim {

namespace {

constexpr uint64_t kRamBase = 0x40000000;  // 1 GiB: guest RAM starts above the low MMIO hole
constexpr double kCheckUs = 5.0;           // controller period: completion and stall checks
constexpr std::ptrdiff_t kTimelineEvents = 128;  // access-log records in the report's ring timeline

using pci::TransportEvent;

// The device's end of the transport, for observers: a notification as the
// device receives it (after any fault acted on it), a queue interrupt as
// the device raises it (before any fault acts on it).
class DeviceEnd : public pci::VirtioForwarder {
 public:
  DeviceEnd(sc_core::sc_module_name n, pci::VirtioDeviceIf& device, pci::VirtioPciFunction::EventSink sink)
      : VirtioForwarder(n, device), sink_(std::move(sink)) {}
  void notify(uint16_t queue, uint32_t data) override {
    sink_(TransportEvent::kick_delivered, queue);
    device_.notify(queue, data);
  }
  void signal_queue(uint16_t queue) override {
    sink_(TransportEvent::interrupt_sent, queue);
    transport->signal_queue(queue);
  }

 private:
  pci::VirtioPciFunction::EventSink sink_;
};

class Platform : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Platform);

  Platform(sc_core::sc_module_name n, const Config& cfg, const RunOptions& opt)
      : sc_module(n),
        cfg_(cfg),
        opt_(opt),
        ram_(kRamBase, ram_bytes(cfg)),
        mem_(ram_, cfg.memory, cfg.ordering, 2u * cfg.queue_pairs, cfg.seed, cfg.log_capacity),
        dev_(make_device(cfg.device.kind.name, "device", mem_, cfg)),
        device_end_("device_end", *dev_, [this](TransportEvent e, uint16_t queue) { on_transport_event(e, queue); }),
        notification_faults_("notification_faults", device_end_, cfg_.fault),
        fn_("virtio_pci", notification_faults_, cfg.path, cfg.pci),
        drv_("virtio_net", mem_, driver_config(cfg)),
        monitor_(cfg.ring, cfg.monitor.disabled_rules()) {
    // The transport seam, both ways: device -> observer -> faults -> PCI
    // function -> driver's MSI-X; the function reaches the device back
    // through the same chain.
    if (cfg.iommu) {
      mem_.attach_iommu(&iommu_);
      // The kernel's time: the unmapping vCPU may be up to a quantum ahead.
      iommu_.on_invalidate([this](uint64_t iova, uint64_t bytes) {
        if (watch_queues()) monitor_.on_dma_unmap(iova, bytes, sc_core::sc_time_stamp().value());
      });
    }
    dev_->transport.bind(device_end_);
    device_end_.transport.bind(notification_faults_);
    notification_faults_.transport.bind(fn_);
    fn_.msi.bind(drv_);
    faults::install(cfg_.fault, cfg.ring, mem_, drv_, dynamic_cast<device::VhostNet*>(dev_.get()), unmapped_);
    dev_->on_violation([this](const char* rule, const std::string& what, uint64_t time_ps) {
      monitor_.report(rule, what, time_ps, 1);
    });
    dev_->on_complete([this](uint16_t queue, uint16_t id, uint64_t time_ps) {
      if (watch_queues()) monitor_.on_complete(queue, id, time_ps);
    });
    dev_->on_restore([this](uint16_t queue, uint32_t base, const ring::RingState& restored, uint64_t time_ps) {
      monitor_.on_ring_restored(queue_name(queue), device::NetDevice::agent_of(static_cast<uint16_t>(queue / 2)),
                                drv_.areas(queue).desc, base, restored, time_ps);
    });
    fn_.on_event([this](TransportEvent e, uint16_t queue) { on_transport_event(e, queue); });
    auto on_load = [this](unsigned agent, uint64_t now_ps, uint64_t gpa, const void* data, uint64_t bytes) {
      if (watching_) monitor_.on_load(agent, now_ps, gpa, data, bytes);
    };
    auto on_visible = [this](unsigned agent, const memory::PendingStore& s) {
      if (watch_queues()) monitor_.on_store(agent, s);
    };
    for (ring::BarrierSite site : cfg.fault.dropped_barriers()) mem_.drop_barrier(site);
    mem_.on_anomaly([this](const memory::OrderingAnomaly& a) {
      watch_queues();
      monitor_.on_anomaly(a);
    });
    drv_.mmio.bind(fn_.mmio);
    drv_.config.bind(fn_.config);
    if (!opt.vcd_path.empty())
      tracer_ = std::make_unique<waves::Tracer>("waves", opt.vcd_path, cfg.vcd_sample_ns, cfg.vcd_window_us, mem_, drv_, *dev_,
                                                static_cast<uint16_t>(2 * cfg.queue_pairs), cfg.ring,
                                                waves::MonitorView{[this] { return monitor_.total(); },
                                                                   [this] { return monitor_.first_unshown(); },
                                                                   [this] { monitor_.mark_shown(); },
                                                                   rule_names_for_waves()});
    // With waves, every load and visible store also pokes the tracer
    // (waves/record/tracer.h: it samples after a change); without, the
    // observers stay as they are, so a run without waves pays nothing for them.
    if (tracer_) {
      mem_.on_load([this, on_load](unsigned agent, uint64_t now_ps, uint64_t gpa, const void* data, uint64_t bytes) {
        tracer_->poke();
        on_load(agent, now_ps, gpa, data, bytes);
      });
      mem_.on_visible([this, on_visible](unsigned agent, const memory::PendingStore& s) {
        tracer_->poke();
        on_visible(agent, s);
      });
    } else {
      mem_.on_load(on_load);
      mem_.on_visible(on_visible);
    }
    SC_THREAD(controller);
  }

  void finish_waves() {
    if (tracer_) tracer_->finish();
  }

  const Config& cfg() const { return cfg_; }
  const memory::MemoryModel& mem() const { return mem_; }
  const device::NetDevice& dev() const { return *dev_; }
  const driver::NetDriver& drv() const { return drv_; }
  const pci::VirtioPciFunction& fn() const { return fn_; }
  const faults::NotificationFaults& notification_faults() const { return notification_faults_; }
  const faults::UnmappedInFlight& unmapped_in_flight() const { return unmapped_; }
  const std::vector<std::string>& errors() const { return errors_; }
  const Monitor& monitor() const { return monitor_; }
  const std::vector<memory::LogRecord>& last_events() const { return last_events_; }
  const Timeline& timeline() const { return timeline_; }

 private:
  void on_transport_event(TransportEvent what, uint16_t queue) {
    if (tracer_) tracer_->poke();  // kick and interrupt counts move
    if (watch_queues())
      monitor_.on_event(what, queue, sc_core::sc_time_stamp().value(),
                        mem_.store_buffer(driver::NetDriver::agent_of(static_cast<uint16_t>(queue / 2))).stores());
  }

  // "rx0", "tx0", "rx1", ...: virtqueue 2i is queue pair i's RX, 2i+1 its TX.
  static std::string queue_name(uint16_t queue) { return (queue % 2 ? "tx" : "rx") + std::to_string(queue / 2); }

  // The monitor learns where the queues are once the driver has probed
  // (before it makes any buffer available). True once it watches.
  bool watch_queues() {
    if (watching_ || !drv_.probed()) return watching_;
    watching_ = true;
    auto peek = [this](unsigned agent, uint64_t addr, void* dst, uint64_t n) {
      if (!ram_.maps(addr, n)) return;
      std::memcpy(dst, ram_.host(addr), n);
      if (agent != RingWatch::kVisible) mem_.store_buffer(agent).forward(addr, dst, n);
    };
    for (uint16_t qp = 0; qp < cfg_.queue_pairs; ++qp)
      for (uint16_t t = 0; t < 2; ++t)
        monitor_.add_queue(queue_name(static_cast<uint16_t>(2 * qp + t)), drv_.areas(static_cast<uint16_t>(2 * qp + t)),
                           ring::Features{drv_.negotiated_features()}, driver::NetDriver::agent_of(qp),
                           device::NetDevice::agent_of(qp), peek);
    return true;
  }

  // monitor.rule's values: the rules in order, then the ring errors the list
  // does not name (Monitor::first_unshown).
  static std::vector<std::string> rule_names_for_waves() {
    std::vector<std::string> n;
    for (const MonitorRule& r : monitor_rules()) n.push_back(r.id);
    n.push_back("ring.error");
    return n;
  }

  // The device broke a queue on a ring error: the rule it enforces, at the
  // queue and the ring entry the device was taking (its next avail slot).
  void report_ring_error() {
    for (uint16_t qp = 0; qp < cfg_.queue_pairs; ++qp)
      for (uint16_t t = 0; t < 2; ++t) {
        const ring::DeviceQueue* q = t ? dev_->tx_queue(qp) : dev_->rx_queue(qp);
        if (!q || !q->broken()) continue;
        const uint16_t index = static_cast<uint16_t>(2 * qp + t);
        const ring::QueueAreas& a = drv_.areas(index);
        const uint16_t slot = static_cast<uint16_t>(q->indices().avail_idx % a.num);
        const uint64_t addr = cfg_.ring == ring::RingLayout::packed ? a.packed().desc_addr(slot)
                                                                    : a.split().avail_ring_addr(slot);
        monitor_.report(dev_->ring_failure().rule, dev_->failure(), dev_->failure_time_ps(),
                        device::NetDevice::agent_of(qp), addr, queue_name(index));
        return;
      }
    monitor_.report(dev_->ring_failure().rule, dev_->failure(), dev_->failure_time_ps(), 1);
  }

  static uint64_t ram_bytes(const Config& cfg) {
    return (driver::NetDriver::ram_bytes(driver_config(cfg)) + (1 << 20) + 0xfff) & ~uint64_t{0xfff};
  }

  static driver::NetDriverConfig driver_config(const Config& c) {
    driver::NetDriverConfig d;
    d.layout = c.ring;
    d.wanted_features = c.features();
    d.queue_pairs = static_cast<uint16_t>(c.queue_pairs);
    d.queue_size = static_cast<uint16_t>(std::min<uint32_t>(c.queue_size, 32768));
    d.packets = c.packets;
    d.packet_bytes = c.packet_bytes;
    d.packet_bytes_max = c.max_frame_bytes();
    d.seed = c.seed;
    d.timing = c.timing;
    d.ram_base = kRamBase;
    d.params = c.driver;
    d.reset_tx_at_us = c.fault.reset_tx_at_us;
    return d;
  }

  // Every queue pair has sent its quota, and everything sent is accounted
  // for (the report's conservation rule, sim/report/verdict.h).
  bool done() const {
    for (uint16_t qp = 0; qp < cfg_.queue_pairs; ++qp) {
      const driver::QueuePairDriverStats& d = drv_.stats(qp);
      const Accounting a = account(d, dev_->stats(qp), drv_.lost_at_reset(qp));
      if (d.tx_packets < d.quota || !conservation(a, d.quota, cfg_.wire == device::Wire::loopback).complete())
        return false;
    }
    return true;
  }

  uint64_t progress_count() const {
    uint64_t n = 0;
    for (uint16_t qp = 0; qp < cfg_.queue_pairs; ++qp)
      n += drv_.stats(qp).tx_completed + drv_.stats(qp).rx_packets + dev_->stats(qp).tx_packets;
    return n;
  }

  void controller() {
    const sc_core::sc_time period(kCheckUs, sc_core::SC_US);
    const auto wall_start = std::chrono::steady_clock::now();
    auto last_print = wall_start;
    uint64_t last_progress = 0;
    sc_core::sc_time last_change = sc_core::SC_ZERO_TIME;
    const bool tty = opt_.progress && isatty(STDERR_FILENO);
    for (;;) {
      sc_core::wait(period);
      capture_timeline();
      if (drv_.failed()) errors_.push_back("driver: " + drv_.failure());
      if (dev_->failed()) {
        errors_.push_back("device: " + dev_->failure());
        if (dev_->ring_failure().error != ring::RingError::ok) report_ring_error();
      }
      if (!errors_.empty() || done()) break;
      if (watching_) monitor_.check_wakeups(sc_core::sc_time_stamp().value(), static_cast<uint64_t>(cfg_.monitor.wakeup_grace_us * 1e6));
      const uint64_t p = progress_count();
      // Probing is many slow MMIO accesses and no packets: the watchdog starts after it.
      if (p != last_progress || !drv_.probed()) last_progress = p, last_change = sc_core::sc_time_stamp();
      if (sc_core::sc_time_stamp() - last_change > sc_core::sc_time(cfg_.stall_timeout_us, sc_core::SC_US)) {
        std::ostringstream o;
        o << "stall: no progress for " << cfg_.stall_timeout_us << " us with packets pending (lost wake-up?)";
        errors_.push_back(o.str());
        monitor_.diagnose_stall(last_change.value());
        monitor_.report("watchdog.stall", o.str(), last_change.value(), 0);
        const std::vector<memory::LogRecord> log = mem_.log().snapshot();
        last_events_.assign(log.end() - static_cast<std::ptrdiff_t>(std::min<size_t>(log.size(), 16)), log.end());
        break;
      }
      const auto now = std::chrono::steady_clock::now();
      if (tty && now - wall_start > std::chrono::seconds(2) && now - last_print > std::chrono::milliseconds(500)) {
        last_print = now;
        uint64_t sent = 0;
        for (uint16_t qp = 0; qp < cfg_.queue_pairs; ++qp) sent += drv_.stats(qp).tx_packets;
        std::fprintf(stderr, "\r[%3.0f%%] %llu/%llu packets sent, %.1f us simulated", 100.0 * double(sent) / double(cfg_.packets),
                     static_cast<unsigned long long>(sent), static_cast<unsigned long long>(cfg_.packets),
                     sc_core::sc_time_stamp().to_seconds() * 1e6);
      }
    }
    capture_timeline(true);  // a finding of the last period
    if (tty) std::fputs("\r\033[K", stderr);
    sc_core::sc_stop();
  }

  // The report's ring timeline, a bounded window of the access log: around
  // the first finding once there is one (its records are still in the log:
  // the controller looks every kCheckUs), until then the newest records of
  // the controller period with the most accesses so far.
  void capture_timeline(bool last = false) {
    if (timeline_.around_finding) return;
    const memory::AccessLog& log = mem_.log();
    if (monitor_.total() > 0 && !monitor_.violations().empty()) {
      const uint64_t t = monitor_.violations().front().time_ps;
      const std::vector<memory::LogRecord> held = log.snapshot();
      const auto at = std::find_if(held.begin(), held.end(), [t](const memory::LogRecord& r) { return r.time_ps >= t; });
      const auto from = at - std::min<std::ptrdiff_t>(at - held.begin(), kTimelineEvents / 2);
      const auto to = from + std::min<std::ptrdiff_t>(held.end() - from, kTimelineEvents);
      // The records after the finding may still be coming: wait for them a
      // period (the log holds many periods' records) unless the run ends.
      if (to - from < kTimelineEvents && !last && !timeline_waited_) {
        timeline_waited_ = true;
        return;
      }
      timeline_ = {{from, to}, true, 0};
      return;
    }
    const uint64_t accesses = log.total() - timeline_log_total_;
    timeline_log_total_ = log.total();
    if (accesses > timeline_.busiest_period_accesses) timeline_ = {log.newest(kTimelineEvents), false, accesses};
  }

  Config cfg_;
  RunOptions opt_;
  memory::BackingStore ram_;
  memory::MemoryModel mem_;
  memory::DmaDomain iommu_;  // attached to mem_ with iommu=1
  std::unique_ptr<device::NetDevice> dev_;  // of kind cfg.device.kind (sim/device_registry.h)
  DeviceEnd device_end_;
  faults::NotificationFaults notification_faults_;
  faults::UnmappedInFlight unmapped_;  // what fault.unmap_in_flight did
  pci::VirtioPciFunction fn_;
  driver::NetDriver drv_;
  Monitor monitor_;
  bool watching_ = false;
  std::unique_ptr<waves::Tracer> tracer_;
  std::vector<std::string> errors_;
  std::vector<memory::LogRecord> last_events_;  // before a stall, for the report
  Timeline timeline_;
  uint64_t timeline_log_total_ = 0;  // the access log's count at the previous controller period
  bool timeline_waited_ = false;     // a period for the records after the first finding
};

}  // namespace

RunOutcome run(Config cfg, const RunOptions& opt) {
  cfg.validate();
  sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  tlm::tlm_global_quantum::instance().set(sc_core::sc_time(cfg.quantum_ns, sc_core::SC_NS));
  Platform top("top", cfg, opt);
  const auto wall_start = std::chrono::steady_clock::now();
  sc_core::sc_start();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  top.finish_waves();
  return report(collect(cfg, top.mem(), top.drv(), top.dev(), top.fn(), top.notification_faults().stats(),
                        top.unmapped_in_flight(), top.monitor(), top.last_events(), top.timeline(), top.errors(), wall));
}

}  // namespace virtiosim::sim
