#include "eager_net.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "models/net/net_header.h"
#include "models/ring/virtqueue.h"

namespace example {

using vs::ring::RingError;

namespace {
constexpr size_t kWireFrames = 256;    // frames between TX and RX; TX waits when it is full
constexpr uint32_t kRoundFrames = 64;  // frames moved each way before used buffers are flushed
}  // namespace

struct EagerNet::Pair {
  uint16_t qp;
  vs::memory::AgentClock clock;
  vs::memory::SimMemory mem;  // this pair's agent, on its own clock
  std::unique_ptr<vs::ring::DeviceQueue> rx, tx;
  vs::ring::QueueAreas rx_areas, tx_areas;
  vs::ring::Chain chain;
  std::deque<std::vector<uint8_t>> wire;
  std::vector<uint8_t> scratch;
  sc_core::sc_event kick;
  bool kick_pending = false;
  uint8_t reset_pending = 0;  // bit 0 RX, bit 1 TX (P15)
  vs::device::QueuePairStats stats;

  Pair(uint16_t q, vs::memory::MemoryModel& m, vs::memory::TimingMode mode)
      : qp(q), clock(mode), mem(&m, agent_of(q), &clock) {}
};

EagerNet::EagerNet(sc_core::sc_module_name name, vs::memory::MemoryModel& mem, const vs::sim::Config& cfg)
    : NetDevice(name),
      mem_(mem),
      layout_(cfg.ring),
      features_offered_(cfg.features()),
      max_queue_size_(static_cast<uint16_t>(std::min<uint32_t>(cfg.queue_size, 32768))),
      timing_(cfg.timing) {
  for (uint16_t qp = 0; qp < cfg.queue_pairs; ++qp) {
    pairs_.push_back(std::make_unique<Pair>(qp, mem_, timing_));
    Pair* p = pairs_.back().get();
    sc_core::sc_spawn([this, p] { worker(*p); }, sc_core::sc_gen_unique_name("eager_worker"));
  }
}

EagerNet::~EagerNet() = default;

std::vector<uint8_t> EagerNet::config_space() const {
  virtio_net_config c{};
  const uint8_t mac[6] = {0x52, 0x54, 0x00, 0xee, 0x00, 0x01};
  std::memcpy(c.mac, mac, sizeof mac);
  c.status = VIRTIO_NET_S_LINK_UP;
  c.max_virtqueue_pairs = static_cast<uint16_t>(pairs_.size());
  std::vector<uint8_t> out(sizeof c);
  std::memcpy(out.data(), &c, sizeof c);
  return out;
}

void EagerNet::driver_ok(uint64_t features, const std::vector<vs::pci::QueueConfig>& queues) {
  features_ = features;
  for (auto& p : pairs_) {
    const vs::pci::QueueConfig& rx = queues.at(2u * p->qp);
    const vs::pci::QueueConfig& tx = queues.at(2u * p->qp + 1);
    if (!rx.enabled || !tx.enabled) continue;
    p->rx_areas = {rx.desc, rx.driver, rx.device, rx.size};
    p->tx_areas = {tx.desc, tx.driver, tx.device, tx.size};
    try {
      p->rx = vs::ring::make_device_queue(layout_, p->mem, p->rx_areas, vs::ring::Features{features});
      p->tx = vs::ring::make_device_queue(layout_, p->mem, p->tx_areas, vs::ring::Features{features});
    } catch (const vs::ring::RingConfigError& e) {
      failed_ = true;
      failure_ = "queue pair " + std::to_string(p->qp) + ": " + e.what();
      transport->set_needs_reset();
      return;
    }
  }
  ready_.notify(sc_core::SC_ZERO_TIME);
}

void EagerNet::notify(uint16_t queue, uint32_t) {
  Pair& p = *pairs_.at(queue / 2);
  ++p.stats.kicks_received;
  p.kick_pending = true;
  p.kick.notify(sc_core::SC_ZERO_TIME);
}

void EagerNet::reset() {
  for (auto& p : pairs_) {
    p->rx.reset();
    p->tx.reset();
    p->wire.clear();
  }
}

// The worker may be inside a ring access: it drops the queue itself, at the
// top of its next round, then says the reset is done.
void EagerNet::reset_queue(uint16_t queue) {
  Pair& p = *pairs_.at(queue / 2);
  p.reset_pending |= static_cast<uint8_t>(1u << (queue % 2));
  p.kick_pending = true;
  p.kick.notify(sc_core::SC_ZERO_TIME);
  ready_.notify(sc_core::SC_ZERO_TIME);
}

void EagerNet::enable_queue(uint16_t queue, const vs::pci::QueueConfig& c) {
  Pair& p = *pairs_.at(queue / 2);
  vs::ring::QueueAreas& areas = queue % 2 ? p.tx_areas : p.rx_areas;
  areas = {c.desc, c.driver, c.device, c.size};
  (queue % 2 ? p.tx : p.rx) =
      vs::ring::make_device_queue(layout_, p.mem, areas, vs::ring::Features{features_});
  p.kick_pending = true;
  p.kick.notify(sc_core::SC_ZERO_TIME);
  ready_.notify(sc_core::SC_ZERO_TIME);
}

const vs::device::QueuePairStats& EagerNet::stats(uint16_t qp) const { return pairs_.at(qp)->stats; }
const vs::ring::DeviceQueue* EagerNet::tx_queue(uint16_t qp) const { return pairs_.at(qp)->tx.get(); }
const vs::ring::DeviceQueue* EagerNet::rx_queue(uint16_t qp) const { return pairs_.at(qp)->rx.get(); }
uint64_t EagerNet::busy_ps(uint16_t qp) const { return pairs_.at(qp)->clock.busy_ps(); }

bool EagerNet::ok(Pair& p, RingError e, const char* what) {
  if (e == RingError::ok) return true;
  if (!failed_) {
    failed_ = true;
    ring_failure_ = vs::ring::RingFailure::of(e);
    failure_time_ps_ = p.clock.now_ps();
    failure_ = "queue pair " + std::to_string(p.qp) + " " + what + ": " + vs::ring::name(e);
  }
  p.clock.sync();
  transport->set_needs_reset();
  return false;
}

void EagerNet::worker(Pair& p) {
  for (;;) {
    if (p.reset_pending) quiesce(p);
    if (failed_ || !p.tx || !p.rx) {
      sc_core::wait(ready_);
      continue;
    }
    if (forward(p) || failed_) continue;
    // Out of work: ask for a kick on each ring it can use, unless buffers
    // came in before the driver could see the request.
    const bool want_tx = p.wire.size() < kWireFrames, want_rx = !p.wire.empty();
    if ((want_tx && p.tx->enable_notifications()) || (want_rx && p.rx->enable_notifications())) continue;
    p.clock.wait_until(p.kick, [&] { return p.kick_pending; });
    p.kick_pending = false;
  }
}

void EagerNet::quiesce(Pair& p) {
  for (uint16_t t = 0; t < 2; ++t) {
    if (!(p.reset_pending & (1u << t))) continue;
    (t ? p.tx : p.rx).reset();
    ++p.stats.queue_resets;
    p.clock.sync();
    transport->queue_reset_done(static_cast<uint16_t>(2 * p.qp + t));
  }
  p.reset_pending = 0;
}

// One round: up to kRoundFrames frames from TX onto the wire and from the
// wire into RX, then the used buffers go out. True if anything moved.
bool EagerNet::forward(Pair& p) {
  p.tx->disable_notifications();
  p.rx->disable_notifications();
  bool moved = false;
  for (uint32_t n = 0; n < kRoundFrames && !failed_; ++n) {
    const uint64_t before = p.stats.tx_packets + p.stats.rx_packets;
    if (p.wire.size() < kWireFrames) take_tx(p);
    if (!p.wire.empty() && !failed_) deliver_rx(p);
    if (p.stats.tx_packets + p.stats.rx_packets == before) break;
    moved = true;
  }
  if (failed_) return false;
  flush_and_interrupt(p, *p.tx, static_cast<uint16_t>(2 * p.qp + 1));
  flush_and_interrupt(p, *p.rx, static_cast<uint16_t>(2 * p.qp));
  return moved;
}

void EagerNet::take_tx(Pair& p) {
  const vs::ring::Result<bool> r = p.tx->pop(p.chain);
  if (!ok(p, r.error, "tx pop") || !r.value) return;
  const uint32_t hdr = vs::net::net_hdr_bytes(features_);
  p.scratch.resize(p.chain.readable_bytes);
  uint64_t at = 0;
  for (const vs::ring::Segment& s : p.chain.readable) {
    p.mem.read_bytes(s.addr, p.scratch.data() + at, s.len);
    at += s.len;
  }
  if (at > hdr) p.wire.emplace_back(p.scratch.begin() + hdr, p.scratch.end());
  ++p.stats.tx_packets;
  p.stats.tx_bytes += at > hdr ? at - hdr : 0;
  if (completion_) completion_(static_cast<uint16_t>(2 * p.qp + 1), p.chain.id, p.clock.now_ps());
  ok(p, p.tx->push_used(p.chain.used(0)), "tx push_used");
}

// The frame at the head of the wire into one RX buffer, behind a header
// that says it took one buffer (num_buffers, virtio 1.2 5.1.6.4).
void EagerNet::deliver_rx(Pair& p) {
  const vs::ring::Result<bool> r = p.rx->pop(p.chain);
  if (!ok(p, r.error, "rx pop") || !r.value) return;
  const std::vector<uint8_t>& frame = p.wire.front();
  const uint32_t hdr = vs::net::net_hdr_bytes(features_);
  p.scratch.assign(hdr, 0);
  const uint16_t num_buffers = 1;
  std::memcpy(p.scratch.data() + vs::net::kNumBuffersOffset, &num_buffers, sizeof num_buffers);
  p.scratch.insert(p.scratch.end(), frame.begin(), frame.end());
  uint32_t written = 0;
  if (p.scratch.size() > p.chain.writable_bytes) {
    ++p.stats.dropped_too_big;  // the buffer goes back empty
  } else {
    for (const vs::ring::Segment& s : p.chain.writable) {
      const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(s.len, p.scratch.size() - written));
      p.mem.write_bytes(s.addr, p.scratch.data() + written, n);
      written += n;
      if (written == p.scratch.size()) break;
    }
    ++p.stats.rx_packets;
    p.stats.rx_bytes += frame.size();
  }
  p.wire.pop_front();
  if (completion_) completion_(static_cast<uint16_t>(2 * p.qp), p.chain.id, p.clock.now_ps());
  ok(p, p.rx->push_used(p.chain.used(written)), "rx push_used");
}

void EagerNet::flush_and_interrupt(Pair& p, vs::ring::DeviceQueue& q, uint16_t queue) {
  if (q.pending_used() == 0 || !ok(p, q.flush(), "flush")) return;
  // The deliberate difference: Linux vhost and the spec interrupt only if
  // the driver's event suppression, which should_signal() reads, asks for
  // it. This device reads it and interrupts whatever it says.
  static_cast<void>(q.should_signal());
  p.clock.sync();  // the interrupt leaves at the worker's time
  transport->signal_queue(queue);
  ++p.stats.interrupts_raised;
}

}  // namespace example
