#include "models/device/vhost_net.h"

#include "models/net/virtio_net_uapi.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <utility>

#include "models/net/frame.h"
#include "models/ring/features.h"
#include "models/ring/ring_state.h"

namespace virtiosim::device {

using ring::RingError;

const char* name(MetadataAccess m) {
  switch (m) {
    case MetadataAccess::direct: return "direct";
    case MetadataAccess::uaccess: return "uaccess";
    case MetadataAccess::dma: return "dma";
  }
  return "unknown";
}

const char* name(Wire w) { return w == Wire::loopback ? "loopback" : "sink"; }

struct VhostNet::Worker {
  uint16_t qp = 0;
  memory::AgentClock clock;
  std::unique_ptr<ring::DeviceQueue> rx, tx;
  std::unique_ptr<DeviceMemory> mem;  // for payload access, same agent and clock as the rings
  ring::Chain chain;
  std::deque<ring::Chain> rx_held;  // RX buffers taken but not yet filled (vhost keeps them too)
  std::deque<std::vector<uint8_t>> wire;
  std::vector<uint8_t> scratch;
  sc_core::sc_event kick;
  bool kick_pending = false;
  QueuePairStats stats;
  ring::QueueAreas rx_areas, tx_areas;
  uint64_t next_restart_ps = 0;
  uint8_t reset_pending = 0;   // P15: bit 0 RX, bit 1 TX
  uint8_t reset_deferred = 0;  // acknowledged early (ack_reset_early): pending after the next round
  struct Held {
    ring::UsedElem elem;
    bool completed;  // seen as complete already: only its used entry is late
  };
  std::optional<Held> held;  // a TX completion kept back (tx_completion)

  Worker(uint16_t q, memory::TimingMode mode) : qp(q), clock(mode) {}
};

VhostNet::VhostNet(sc_core::sc_module_name n, memory::MemoryModel& mem, VhostNetConfig cfg)
    : NetDevice(n), mem_(mem), cfg_(cfg) {
  for (uint16_t qp = 0; qp < cfg_.queue_pairs; ++qp) {
    workers_.push_back(std::make_unique<Worker>(qp, cfg_.timing));
    Worker* w = workers_.back().get();
    sc_core::sc_spawn([this, w] { worker_thread(*w); }, sc_core::sc_gen_unique_name("vhost_worker"));
  }
}

VhostNet::~VhostNet() = default;

std::vector<uint8_t> VhostNet::config_space() const {
  virtio_net_config c{};
  const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  std::memcpy(c.mac, mac, 6);
  c.status = VIRTIO_NET_S_LINK_UP;
  c.max_virtqueue_pairs = cfg_.queue_pairs;
  std::vector<uint8_t> out(sizeof c);
  std::memcpy(out.data(), &c, sizeof c);
  return out;
}

void VhostNet::driver_ok(uint64_t features, const std::vector<pci::QueueConfig>& queues) {
  features_ = features;
  const ring::Features f{features};
  // ACCESS_PLATFORM: every address the driver gives is an IOVA (virtio 1.2 6).
  if (features & (uint64_t{1} << VIRTIO_F_ACCESS_PLATFORM)) {
    if (!mem_.iommu()) {
      failed_ = true;
      failure_ = "VIRTIO_F_ACCESS_PLATFORM negotiated, but the platform has no IOMMU";
      transport->set_needs_reset();
      return;
    }
    if (!iotlb_) iotlb_ = std::make_unique<Iotlb>(*mem_.iommu(), cfg_.iotlb, cfg_.iotlb_miss_ns);
  }
  for (auto& w : workers_) {
    const pci::QueueConfig& rx = queues.at(2u * w->qp);
    const pci::QueueConfig& tx = queues.at(2u * w->qp + 1);
    if (!rx.enabled || !tx.enabled) continue;  // the driver uses fewer queue pairs
    const memory::SimMemory sim(&mem_, agent_of(w->qp), &w->clock);
    w->mem = std::make_unique<DeviceMemory>(sim, cfg_.access, &cfg_.memory_params, iotlb_.get());
    try {
      w->rx_areas = {rx.desc, rx.driver, rx.device, rx.size};
      w->tx_areas = {tx.desc, tx.driver, tx.device, tx.size};
      add_ring_areas(w->rx_areas);
      add_ring_areas(w->tx_areas);
      w->rx = ring::make_device_queue(cfg_.layout, *w->mem, w->rx_areas, f);
      w->tx = ring::make_device_queue(cfg_.layout, *w->mem, w->tx_areas, f);
    } catch (const ring::RingConfigError& e) {
      failed_ = true;
      failure_ = std::string("queue pair ") + std::to_string(w->qp) + ": " + e.what();
      transport->set_needs_reset();
      return;
    }
  }
  ready_.notify(sc_core::SC_ZERO_TIME);
}

void VhostNet::notify(uint16_t queue, uint32_t data) {
  Worker& w = *workers_.at(queue / 2);
  ++w.stats.kicks_received;
  // P12: with VIRTIO_F_NOTIFICATION_DATA the doorbell names its queue and,
  // for packed rings, an offset inside it. (Where the offset stands against
  // the device's own position is not checked: a doorbell may arrive after a
  // busy-polling device already went past it.)
  const ring::DeviceQueue* q = queue % 2 ? w.tx.get() : w.rx.get();
  if (q && (features_ & (uint64_t{1} << VIRTIO_F_NOTIFICATION_DATA))) {
    ++w.stats.notify_data_checked;
    const bool packed = cfg_.layout == ring::RingLayout::packed;
    const uint32_t off = (data >> 16) & 0x7fff;
    if ((data & 0xffff) != queue || (packed && off >= q->num())) {
      char what[96];
      std::snprintf(what, sizeof what, "doorbell of queue %u carries notification data 0x%08x", queue, data);
      if (violation_) violation_("P12", what, sc_core::sc_time_stamp().value());
    }
  }
  w.kick_pending = true;
  w.kick.notify(sc_core::SC_ZERO_TIME);
}

void VhostNet::reset_queue(uint16_t queue) {
  Worker& w = *workers_.at(queue / 2);
  if (ack_reset_early && ack_reset_early(queue)) {  // "done" at once, stopped a round later
    transport->queue_reset_done(queue);
    w.reset_deferred |= static_cast<uint8_t>(1u << (queue % 2));
  } else {
    w.reset_pending |= static_cast<uint8_t>(1u << (queue % 2));
  }
  w.kick_pending = true;  // wake the worker: it quiesces at the top of its next round
  w.kick.notify(sc_core::SC_ZERO_TIME);
  ready_.notify(sc_core::SC_ZERO_TIME);
}

void VhostNet::enable_queue(uint16_t queue, const pci::QueueConfig& c) {
  Worker& w = *workers_.at(queue / 2);
  ring::QueueAreas& areas = queue % 2 ? w.tx_areas : w.rx_areas;
  areas = {c.desc, c.driver, c.device, c.size};
  add_ring_areas(areas);
  try {
    (queue % 2 ? w.tx : w.rx) = ring::make_device_queue(cfg_.layout, *w.mem, areas, ring::Features{features_});
  } catch (const ring::RingConfigError& e) {
    failed_ = true;
    failure_ = "queue " + std::to_string(queue) + " enabled after reset: " + e.what();
    transport->set_needs_reset();
  }
  w.kick_pending = true;  // a fresh queue may already hold buffers
  w.kick.notify(sc_core::SC_ZERO_TIME);
  ready_.notify(sc_core::SC_ZERO_TIME);
}

void VhostNet::reset() {
  for (auto& w : workers_) {
    w->rx.reset();
    w->tx.reset();
    w->rx_held.clear();
    w->held.reset();
    w->wire.clear();
  }
}

const QueuePairStats& VhostNet::stats(uint16_t qp) const { return workers_.at(qp)->stats; }
uint64_t VhostNet::busy_ps(uint16_t qp) const { return workers_.at(qp)->clock.busy_ps(); }
const ring::DeviceQueue* VhostNet::tx_queue(uint16_t qp) const { return workers_.at(qp)->tx.get(); }
const ring::DeviceQueue* VhostNet::rx_queue(uint16_t qp) const { return workers_.at(qp)->rx.get(); }

void VhostNet::charge_cycles(Worker& w, uint32_t cycles) {
  w.clock.advance(static_cast<double>(cycles) / cfg_.params.host_ghz);
}

void VhostNet::add_ring_areas(const ring::QueueAreas& a) {
  if (!iotlb_) return;
  const bool packed = cfg_.layout == ring::RingLayout::packed;
  iotlb_->add_ring_area(a.desc, ring::desc_area_bytes(cfg_.layout, a.num));
  iotlb_->add_ring_area(a.driver, packed ? ring::PackedLayout::event_bytes : ring::SplitLayout::avail_bytes(a.num));
  iotlb_->add_ring_area(a.device, packed ? ring::PackedLayout::event_bytes : ring::SplitLayout::used_bytes(a.num));
}

bool VhostNet::check(Worker& w, ring::DeviceQueue& q, RingError e, const char* what) {
  // An access the IOTLB refused is the cause of whatever the ring made of
  // the zeros it read, and breaks the queue as the ring's own errors do
  // (the ring core saw nothing wrong when it was a buffer's).
  if (iotlb_ && w.mem && w.mem->fault() != RingError::ok) {
    e = w.mem->fault();
    if (!q.broken()) q.refuse(e);
  }
  if (e == RingError::ok) [[likely]] return true;
  // A fatal ring error: the queue is broken; tell the driver (NEEDS_RESET).
  if (!failed_) {
    failed_ = true;
    ring_failure_ = ring::RingFailure::of(e);
    failure_time_ps_ = w.clock.now_ps();
    failure_ = std::string("queue pair ") + std::to_string(w.qp) + " " + what + ": " + ring::name(e) +
               " (" + ring::describe(e) + ")";
  }
  w.clock.sync();
  transport->set_needs_reset();
  return false;
}

bool VhostNet::complete(Worker& w, ring::DeviceQueue& q, uint16_t queue_index, const ring::UsedElem& e) {
  if (completion_) completion_(queue_index, e.id, w.clock.now_ps());
  return check(w, q, q.push_used(e), "push_used");
}

bool VhostNet::complete_tx(Worker& w, const ring::UsedElem& e) {
  const uint16_t qi = static_cast<uint16_t>(2 * w.qp + 1);
  const TxCompletion how = tx_completion ? tx_completion(w.qp, w.stats.tx_packets, w.tx_areas) : TxCompletion::now;
  if (how != TxCompletion::now) {
    const bool completed = how == TxCompletion::entry_later;
    if (completed && completion_) completion_(qi, e.id, w.clock.now_ps());
    w.held = Worker::Held{e, completed};
    return true;
  }
  if (!w.held) return complete(w, *w.tx, qi, e);
  return complete(w, *w.tx, qi, e) && release_held(w);
}

// The kept-back completion goes out after the next one, or before any flush.
bool VhostNet::release_held(Worker& w) {
  if (!w.held) return true;
  const Worker::Held h = *w.held;
  w.held.reset();
  if (!h.completed) return complete(w, *w.tx, static_cast<uint16_t>(2 * w.qp + 1), h.elem);
  return check(w, *w.tx, w.tx->push_used(h.elem), "push_used");  // completed already, written late
}

void VhostNet::flush_and_signal(Worker& w, ring::DeviceQueue& q, uint16_t queue_index) {
  if (&q == w.tx.get() && !release_held(w)) return;
  if (q.pending_used() == 0) return;
  const ring::RingIndices before = q.indices();
  if (!check(w, q, q.flush(), "flush")) return;
  bool signal = q.should_signal();
  if (interrupt_decision)
    signal = interrupt_decision({queue_index, signal, before, q.indices(), queue_index % 2 ? w.tx_areas : w.rx_areas,
                                 *w.mem});
  if (signal) {
    w.clock.sync();  // the interrupt leaves at the worker's time
    transport->signal_queue(queue_index);
    ++w.stats.interrupts_raised;
  }
}

void VhostNet::worker_thread(Worker& w) {
  const uint64_t restart_every_ps = static_cast<uint64_t>(cfg_.params.restart_every_us * 1e6);
  w.next_restart_ps = restart_every_ps;
  for (;;) {
    if (w.reset_pending) quiesce(w);
    w.reset_pending |= std::exchange(w.reset_deferred, uint8_t{0});
    if (failed_ || (!w.tx && !w.rx)) {
      sc_core::wait(ready_);
      continue;
    }
    if (restart_every_ps && w.clock.now_ps() >= w.next_restart_ps) {
      restart(w);
      w.next_restart_ps = w.clock.now_ps() + restart_every_ps;
      if (failed_) continue;
    }
    const bool tx_work = handle_tx(w);
    const bool rx_work = handle_rx(w);
    if (failed_) continue;
    if (tx_work || rx_work) continue;
    if (busy_polling()) {
      busy_poll(w);
      continue;
    }
    w.clock.wait_until(w.kick, [&] { return w.kick_pending || failed_; });
    w.kick_pending = false;
  }
}

// A backend restart: complete what is done, save each ring's state in the
// vhost-user encoding (GET_VRING_BASE, VU2), drop the queues, and go on in
// new ones from the decoded state (SET_VRING_BASE). Buffers taken but not
// yet used (RX held, a frame waiting for more buffers) stay with the
// worker, as a backend that keeps its in-flight list (VU4) would. The
// first round after it processes the rings without waiting for a kick.
void VhostNet::restart(Worker& w) {
  const bool packed = cfg_.layout == ring::RingLayout::packed;
  for (uint16_t t = 0; t < 2; ++t) {
    std::unique_ptr<ring::DeviceQueue>& q = t ? w.tx : w.rx;
    if (!q) continue;  // being reset
    const uint16_t qi = static_cast<uint16_t>(2 * w.qp + t);
    flush_and_signal(w, *q, qi);
    if (failed_) return;
    const uint32_t base = packed ? ring::encode_vring_base_packed(q->state()) : ring::encode_vring_base_split(q->state());
    const ring::QueueAreas areas = t ? w.tx_areas : w.rx_areas;
    q = ring::make_device_queue(cfg_.layout, *w.mem, areas, ring::Features{features_});
    ring::RingState s{static_cast<uint16_t>(base)};
    if (packed) {
      s = read_vring_base ? read_vring_base(base) : ring::decode_vring_base_packed(base);
      if (restore_) restore_(qi, base, s, w.clock.now_ps());
    }
    if (!check(w, *q, q->set_state(s), "restart set_state")) return;
  }
  w.clock.advance(cfg_.params.restart_ns);
  ++w.stats.restarts;
}

// Queue reset (P15), at the top of a round: nothing of the queue is in use.
// Its state goes (unflushed completions with it: the driver takes those
// buffers back), then the device says the reset is done. RX buffers taken
// but not filled go too; frames already on the wire stay there.
void VhostNet::quiesce(Worker& w) {
  for (uint16_t t = 0; t < 2; ++t) {
    if (!(w.reset_pending & (1u << t))) continue;
    if (t) w.held.reset();
    else w.rx_held.clear();
    (t ? w.tx : w.rx).reset();
    ++w.stats.queue_resets;
    w.clock.sync();  // the acknowledgement leaves at the worker's time
    transport->queue_reset_done(static_cast<uint16_t>(2 * w.qp + t));
  }
  w.reset_pending = 0;
}

void VhostNet::busy_poll(Worker& w) {
  // Poll with notifications off (vhost_net_busy_poll), then sleep on a kick.
  if (w.tx) w.tx->disable_notifications();
  if (w.rx) w.rx->disable_notifications();
  const double end_ns = w.clock.now().to_seconds() * 1e9 + cfg_.params.busy_poll_ns;
  while (w.clock.now().to_seconds() * 1e9 < end_ns) {
    ++w.stats.polls;
    w.clock.advance(cfg_.params.poll_interval_ns);
    // A kick is consumed here as by the wait below: left pending, every
    // later busy poll would return at once without looking at the rings.
    if (std::exchange(w.kick_pending, false) || (w.tx && w.tx->has_available()) ||
        (!w.wire.empty() && w.rx && w.rx->has_available()))
      return;
  }
  if (w.tx && w.tx->enable_notifications()) return;
  if (!w.wire.empty() && w.rx && w.rx->enable_notifications()) return;
  w.clock.wait_until(w.kick, [&] { return w.kick_pending || failed_; });
  w.kick_pending = false;
}

bool VhostNet::handle_tx(Worker& w) {
  if (!w.tx) return false;  // being reset
  ring::DeviceQueue& q = *w.tx;
  const uint16_t qi = static_cast<uint16_t>(2 * w.qp + 1);
  q.disable_notifications();
  bool did = false;
  for (uint32_t n = 0;;) {
    if (n >= cfg_.params.weight_packets) {  // yield: the round's weight is spent
      flush_and_signal(w, q, qi);
      return true;
    }
    const ring::Result<bool> r = q.pop(w.chain);
    if (!check(w, q, r.error, "tx pop")) return false;
    if (!r.value) {
      flush_and_signal(w, q, qi);
      // Busy-poll mode keeps notifications off; busy_poll() arms them when it gives up.
      if (!busy_polling() && q.enable_notifications()) {  // a buffer came in before the driver saw the enable
        q.disable_notifications();
        continue;
      }
      return did;
    }
    did = true;
    ++n;
    // The frame follows the virtio-net header in the readable segments.
    const uint64_t total = w.chain.readable_bytes;
    const uint64_t frame_len = total > net::kNetHdrBytes ? total - net::kNetHdrBytes : 0;
    w.scratch.resize(total);
    uint64_t at = 0;
    for (const ring::Segment& s : w.chain.readable) {
      if (cfg_.params.zerocopy && at >= net::kNetHdrBytes) {
        std::memcpy(w.scratch.data() + at, mem_.ram().host(s.addr), s.len);  // pages go to the wire as they are
      } else {
        w.mem->read_bytes(s.addr, w.scratch.data() + at, s.len);
      }
      at += s.len;
    }
    if (iotlb_ && !check(w, q, RingError::ok, "tx payload read")) return false;
    if (cfg_.params.zerocopy) w.clock.advance(cfg_.params.zerocopy_ns);
    else w.clock.advance(static_cast<double>(frame_len) / cfg_.params.copy_bytes_per_ns);
    charge_cycles(w, cfg_.params.tx_packet_cycles);
    ++w.stats.tx_packets;
    w.stats.tx_bytes += frame_len;
    if (cfg_.wire == Wire::loopback) {
      if (w.wire.size() >= cfg_.params.wire_queue_packets) ++w.stats.dropped_wire_full;
      else w.wire.emplace_back(w.scratch.begin() + static_cast<std::ptrdiff_t>(total - frame_len), w.scratch.end());
    } else {
      w.clock.advance(static_cast<double>(frame_len) / cfg_.params.sink_bytes_per_ns);
    }
    if (!complete_tx(w, w.chain.used(0))) return false;
    if (q.pending_used() >= cfg_.params.used_batch) flush_and_signal(w, q, qi);
  }
}

bool VhostNet::handle_rx(Worker& w) {
  if (w.wire.empty() || !w.rx) return false;
  ring::DeviceQueue& q = *w.rx;
  const uint16_t qi = static_cast<uint16_t>(2 * w.qp);
  q.disable_notifications();
  bool did = false;
  uint32_t n = 0;
  while (!w.wire.empty() && n < cfg_.params.weight_packets) {
    if (!deliver_frame(w, w.wire.front())) {
      if (failed_) return false;
      flush_and_signal(w, q, qi);
      if (!busy_polling() && q.enable_notifications()) {  // buffers arrived meanwhile
        q.disable_notifications();
        continue;
      }
      return did;  // the frame waits for the driver's refill (kick or poll)
    }
    w.wire.pop_front();
    did = true;
    ++n;
  }
  flush_and_signal(w, q, qi);
  return did;
}

// Fill RX buffers with one frame. Returns false if the ring has too few
// buffers (the frame stays queued) or on a fatal ring error.
bool VhostNet::deliver_frame(Worker& w, const std::vector<uint8_t>& frame) {
  ring::DeviceQueue& q = *w.rx;
  const bool mergeable = features_ & (uint64_t{1} << VIRTIO_NET_F_MRG_RXBUF);
  const uint64_t need = net::kNetHdrBytes + frame.size();
  uint64_t have = 0;
  size_t count = 0;
  for (const ring::Chain& c : w.rx_held) {
    if (have >= need || (!mergeable && count == 1)) break;
    have += c.writable_bytes;
    ++count;
  }
  while (have < need && (mergeable || count == 0)) {
    w.rx_held.emplace_back();
    const ring::Result<bool> r = q.pop(w.rx_held.back());
    if (!check(w, q, r.error, "rx pop")) return false;
    if (!r.value) {
      w.rx_held.pop_back();
      return false;
    }
    have += w.rx_held.back().writable_bytes;
    ++count;
  }
  if (have < need) {  // non-mergeable and the buffer is too small: drop the frame, keep the buffer
    ++w.stats.dropped_too_big;
    return true;
  }
  // Header (num_buffers = buffers used, virtio 1.2 5.1.6.4) then the frame,
  // scattered over the buffers' writable segments.
  uint8_t hdr[net::kNetHdrBytes] = {};
  const uint16_t num_buffers = static_cast<uint16_t>(count);
  std::memcpy(hdr + net::kNumBuffersOffset, &num_buffers, 2);
  uint64_t src_at = 0;
  auto source = [&](uint64_t i) { return i < net::kNetHdrBytes ? hdr + i : frame.data() + (i - net::kNetHdrBytes); };
  for (size_t b = 0; b < count; ++b) {
    const ring::Chain& c = w.rx_held[b];
    uint32_t written = 0;
    for (const ring::Segment& s : c.writable) {
      uint64_t left = std::min<uint64_t>(s.len, need - src_at);
      uint64_t off = 0;
      while (left > 0) {  // the header/frame boundary may fall inside a segment
        const uint64_t chunk = src_at < net::kNetHdrBytes ? std::min(left, net::kNetHdrBytes - src_at) : left;
        w.mem->write_bytes(s.addr + off, source(src_at), chunk);
        src_at += chunk;
        off += chunk;
        left -= chunk;
        written += static_cast<uint32_t>(chunk);
      }
      if (src_at == need) break;
    }
    if (!complete(w, q, static_cast<uint16_t>(2 * w.qp), c.used(written))) return false;
  }
  w.rx_held.erase(w.rx_held.begin(), w.rx_held.begin() + static_cast<std::ptrdiff_t>(count));
  w.clock.advance(static_cast<double>(frame.size()) / cfg_.params.copy_bytes_per_ns);
  charge_cycles(w, cfg_.params.rx_packet_cycles);
  ++w.stats.rx_packets;
  w.stats.rx_bytes += frame.size();
  if (q.pending_used() >= cfg_.params.used_batch) flush_and_signal(w, q, static_cast<uint16_t>(2 * w.qp));
  return true;
}

}  // namespace virtiosim::device
