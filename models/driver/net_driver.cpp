#include "models/driver/net_driver.h"

#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include "models/net/virtio_net_uapi.h"
#include <linux/virtio_pci.h>

#include <algorithm>
#include <random>
#include <cstring>

#include "models/driver/queue_pair.h"
#include "models/memory/sim_memory.h"
#include "models/net/frame.h"

namespace virtiosim::driver {

const char* name(DriverKind k) { return k == DriverKind::pmd ? "pmd" : "linux"; }
const char* name(TxSource s) { return s == TxSource::pktgen ? "pktgen" : "stack"; }

using ring::RingError;
using sc_core::SC_NS;
using sc_core::sc_time;

namespace {
constexpr uint64_t kPage = 4096;
constexpr uint32_t kGoodPacketLen = 1518;  // Linux GOOD_PACKET_LEN: ETH_HLEN + VLAN + ETH_DATA_LEN
constexpr size_t kLatencySample = 1 << 20;

uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

uint32_t tx_stride(const NetDriverConfig& c) {
  return static_cast<uint32_t>(round_up(net::kNetHdrBytes + std::max(c.packet_bytes, c.packet_bytes_max), 64));
}
uint32_t rx_buffer_bytes(const NetDriverConfig& c) {
  const bool mergeable = c.wanted_features & (uint64_t{1} << VIRTIO_NET_F_MRG_RXBUF);
  return mergeable ? c.params.rx_buffer_bytes : net::kNetHdrBytes + kGoodPacketLen;
}
// One queue pair's areas, each page-aligned: two rings, the TX indirect
// pool, TX and RX buffers.
uint64_t qp_bytes(const NetDriverConfig& c) {
  const uint64_t ring = round_up(ring::ring_bytes(c.layout, c.queue_size), kPage);
  const uint64_t pool = round_up(ring::IndirectPool::bytes(c.queue_size, std::max(c.params.tx_segments, 1u)), kPage);
  return 2 * ring + pool + round_up(uint64_t{c.queue_size} * tx_stride(c), kPage) +
         round_up(uint64_t{c.queue_size} * rx_buffer_bytes(c), kPage);
}
}  // namespace


NetDriver::NetDriver(sc_core::sc_module_name n, memory::MemoryModel& mem, NetDriverConfig cfg)
    : sc_module(n), mmio("mmio"), config("config"), mem_(mem), cfg_(cfg), next_alloc_(cfg.ram_base),
      reservoir_state_(cfg.seed) {
  // DPDK's virtio PMD does not implement event_idx
  // (VIRTIO_PMD_DEFAULT_GUEST_FEATURES): it never accepts the bit.
  if (pmd()) cfg_.wanted_features &= ~(uint64_t{1} << VIRTIO_RING_F_EVENT_IDX);
  for (unsigned v = 0; v < 2u * cfg_.queue_pairs + 1; ++v) vector_events_.push_back(std::make_unique<sc_core::sc_event>());
  for (uint16_t i = 0; i < cfg_.queue_pairs; ++i) {
    qps_.push_back(std::make_unique<QueuePair>(i, cfg_.timing, cfg_.seed));
    QueuePair* q = qps_.back().get();
    q->stats.quota = cfg_.packets / cfg_.queue_pairs + (i < cfg_.packets % cfg_.queue_pairs ? 1 : 0);
    q->seen.assign(q->stats.quota, false);
    q->mem = std::make_unique<memory::SimMemory>(&mem_, agent_of(i), &q->clock);
    sc_core::sc_spawn([this, q] { vcpu_thread(*q); }, sc_core::sc_gen_unique_name("vcpu"));
    // Interrupt handlers: latch the MSI-X message and wake the vCPU.
    auto latch = [q](bool NetDriver::QueuePair::*flag, uint64_t QueuePairDriverStats::*count) {
      return [q, flag, count] {
        q->*flag = true;
        ++(q->stats.*count);
        q->wake.notify(sc_core::SC_ZERO_TIME);
      };
    };
    sc_core::sc_spawn_options rx_opt, tx_opt;
    rx_opt.spawn_method();
    rx_opt.dont_initialize();
    rx_opt.set_sensitivity(vector_events_[2u * i].get());
    sc_core::sc_spawn(latch(&QueuePair::rx_irq, &QueuePairDriverStats::rx_interrupts),
                      sc_core::sc_gen_unique_name("rx_irq"), &rx_opt);
    tx_opt.spawn_method();
    tx_opt.dont_initialize();
    tx_opt.set_sensitivity(vector_events_[2u * i + 1].get());
    sc_core::sc_spawn(latch(&QueuePair::tx_irq, &QueuePairDriverStats::tx_interrupts),
                      sc_core::sc_gen_unique_name("tx_irq"), &tx_opt);
  }
  // The configuration vector (last) reports NEEDS_RESET.
  sc_core::sc_spawn_options cfg_opt;
  cfg_opt.spawn_method();
  cfg_opt.dont_initialize();
  cfg_opt.set_sensitivity(vector_events_.back().get());
  sc_core::sc_spawn([this] { config_changed(); }, "config_irq", &cfg_opt);
}

// The handlers run a delta after the message, as an interrupt entry would.
void NetDriver::msi(uint16_t vector) {
  if (vector < 2u * cfg_.queue_pairs) vector_events_[vector]->notify(sc_core::SC_ZERO_TIME);
  else if (vector == config_vector_) vector_events_.back()->notify(sc_core::SC_ZERO_TIME);
}

// A configuration change: read device_status (virtio_pci_modern
// vp_get_status) and stop on DEVICE_NEEDS_RESET. The read runs in the
// interrupt handler, outside any vCPU's time: the run ends here anyway.
void NetDriver::config_changed() {
  uint8_t status = 0;
  tlm::tlm_generic_payload t;
  t.set_command(tlm::TLM_READ_COMMAND);
  t.set_address(common_ + VIRTIO_PCI_COMMON_STATUS);
  t.set_data_ptr(&status);
  t.set_data_length(1);
  t.set_streaming_width(1);
  t.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  sc_time delay = sc_core::SC_ZERO_TIME;
  mmio->b_transport(t, delay);
  if (t.is_response_ok() && (status & VIRTIO_CONFIG_S_NEEDS_RESET)) fail("device set NEEDS_RESET");
}

NetDriver::~NetDriver() = default;

uint64_t NetDriver::ram_bytes(const NetDriverConfig& cfg) { return cfg.queue_pairs * qp_bytes(cfg); }

const QueuePairDriverStats& NetDriver::stats(uint16_t qp) const { return qps_.at(qp)->stats; }
uint64_t NetDriver::busy_ps(uint16_t qp) const { return qps_.at(qp)->clock.busy_ps(); }
const ring::DriverQueue* NetDriver::tx_queue(uint16_t qp) const { return qps_.at(qp)->tx.get(); }
const ring::DriverQueue* NetDriver::rx_queue(uint16_t qp) const { return qps_.at(qp)->rx.get(); }

void NetDriver::fail(const std::string& why) {
  if (failure_.empty()) failure_ = why;
  for (auto& q : qps_) q->wake.notify(sc_core::SC_ZERO_TIME);
}

bool NetDriver::ok(QueuePair& q, RingError e, const char* what) {
  if (e == RingError::ok) return true;
  fail("queue pair " + std::to_string(q.index) + " " + what + ": " + ring::name(e) + " (" + ring::describe(e) + ")");
  return false;
}

void NetDriver::charge_cycles(QueuePair& q, uint32_t cycles) {
  q.clock.advance(static_cast<double>(cycles) / cfg_.params.guest_ghz);
}

uint64_t NetDriver::alloc(uint64_t bytes, uint64_t align) {
  const uint64_t at = round_up(next_alloc_, align);
  next_alloc_ = at + bytes;
  return at;
}

// One MMIO transaction on the vCPU's time (TLM-2.0 loosely timed: the local
// offset goes in as the delay, the annotated delay comes back).
uint64_t NetDriver::transact(QueuePair& q, tlm_utils::simple_initiator_socket<NetDriver>& s, tlm::tlm_command cmd,
                         uint64_t addr, unsigned len, uint64_t v) {
  tlm::tlm_generic_payload t;
  t.set_command(cmd);
  t.set_address(addr);
  t.set_data_ptr(reinterpret_cast<unsigned char*>(&v));
  t.set_data_length(len);
  t.set_streaming_width(len);
  t.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  sc_time delay = q.clock.local();
  s->b_transport(t, delay);
  q.clock.set_local(delay);
  if (!t.is_response_ok())
    fail(std::string("MMIO ") + (cmd == tlm::TLM_READ_COMMAND ? "read" : "write") + " failed at 0x" +
         std::to_string(addr));
  return v;
}

uint64_t NetDriver::mmio_read(QueuePair& q, tlm_utils::simple_initiator_socket<NetDriver>& s, uint64_t addr,
                              unsigned len) {
  return transact(q, s, tlm::TLM_READ_COMMAND, addr, len, 0);
}

void NetDriver::mmio_write(QueuePair& q, tlm_utils::simple_initiator_socket<NetDriver>& s, uint64_t addr,
                           unsigned len, uint64_t v) {
  transact(q, s, tlm::TLM_WRITE_COMMAND, addr, len, v);
}

// Linux virtio_pci_modern_probe + virtio_dev_probe + virtnet_probe, reduced
// to what a virtio-net device over PCI needs.
bool NetDriver::probe(QueuePair& q) {
  auto cfg8 = [&](uint64_t off) { return static_cast<uint8_t>(mmio_read(q, config, off, 1)); };
  auto cfg16 = [&](uint64_t off) { return static_cast<uint16_t>(mmio_read(q, config, off, 2)); };
  auto cfg32 = [&](uint64_t off) { return static_cast<uint32_t>(mmio_read(q, config, off, 4)); };
  if (cfg16(PCI_VENDOR_ID) != pci::kVirtioPciVendorId || cfg16(PCI_DEVICE_ID) != pci::kVirtioPciModernDeviceBase + 1)
    return fail("not a modern virtio-net PCI function"), false;
  if (!(cfg16(PCI_STATUS) & PCI_STATUS_CAP_LIST)) return fail("no capability list"), false;

  auto bar_addr = [&](uint8_t bar) -> uint64_t {
    const uint32_t lo = cfg32(PCI_BASE_ADDRESS_0 + 4u * bar);
    uint64_t a = lo & PCI_BASE_ADDRESS_MEM_MASK;
    if ((lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64)
      a |= uint64_t{cfg32(PCI_BASE_ADDRESS_0 + 4u * (bar + 1u))} << 32;
    return a;
  };
  uint8_t msix_cap = 0;
  uint8_t at = cfg8(PCI_CAPABILITY_LIST);
  for (int guard = 0; at && guard < 48; ++guard) {  // 48: the most a 256-byte space can hold
    const uint8_t id = cfg8(at), next = cfg8(at + 1u);
    if (id == PCI_CAP_ID_VNDR) {
      const uint8_t type = cfg8(at + VIRTIO_PCI_CAP_CFG_TYPE);
      const uint64_t base = bar_addr(cfg8(at + VIRTIO_PCI_CAP_BAR)) + cfg32(at + VIRTIO_PCI_CAP_OFFSET);
      if (type == VIRTIO_PCI_CAP_COMMON_CFG && !common_) common_ = base;
      else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG && !notify_) {
        notify_ = base;
        notify_multiplier_ = cfg32(at + sizeof(virtio_pci_cap));
      } else if (type == VIRTIO_PCI_CAP_ISR_CFG && !isr_) isr_ = base;
      else if (type == VIRTIO_PCI_CAP_DEVICE_CFG && !device_cfg_) device_cfg_ = base;
    } else if (id == PCI_CAP_ID_MSIX) {
      msix_cap = at;
      const uint32_t table = cfg32(at + PCI_MSIX_TABLE);
      msix_table_ = bar_addr(static_cast<uint8_t>(table & PCI_MSIX_TABLE_BIR)) + (table & PCI_MSIX_TABLE_OFFSET);
    }
    at = next;
  }
  if (!common_ || !notify_ || !isr_ || !device_cfg_ || !msix_cap)
    return fail("missing virtio or MSI-X capability"), false;
  const uint16_t table_size = cfg16(msix_cap + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_QSIZE;  // entries - 1
  if (table_size < 2u * cfg_.queue_pairs) return fail("MSI-X table smaller than queues + configuration"), false;
  config_vector_ = table_size;  // the last entry: one per queue before it
  mmio_write(q, config, msix_cap + PCI_MSIX_FLAGS, 2, table_size | PCI_MSIX_FLAGS_ENABLE);

  auto rd = [&](uint32_t off, unsigned len) { return mmio_read(q, mmio, common_ + off, len); };
  auto wr = [&](uint32_t off, unsigned len, uint64_t v) { mmio_write(q, mmio, common_ + off, len, v); };
  wr(VIRTIO_PCI_COMMON_STATUS, 1, 0);  // reset
  if (rd(VIRTIO_PCI_COMMON_STATUS, 1) != 0) return fail("device did not reset"), false;
  uint8_t status = VIRTIO_CONFIG_S_ACKNOWLEDGE;
  wr(VIRTIO_PCI_COMMON_STATUS, 1, status);
  status |= VIRTIO_CONFIG_S_DRIVER;
  wr(VIRTIO_PCI_COMMON_STATUS, 1, status);

  uint64_t offered = 0;
  for (uint32_t sel = 0; sel < 2; ++sel) {
    wr(VIRTIO_PCI_COMMON_DFSELECT, 4, sel);
    offered |= rd(VIRTIO_PCI_COMMON_DF, 4) << (32 * sel);
  }
  features_ = offered & cfg_.wanted_features;
  if (!(features_ & (uint64_t{1} << VIRTIO_F_VERSION_1))) return fail("device does not offer VERSION_1"), false;
  if (cfg_.layout == ring::RingLayout::packed && !(features_ & (uint64_t{1} << VIRTIO_F_RING_PACKED)))
    return fail("packed ring wanted but VIRTIO_F_RING_PACKED not offered"), false;
  if (cfg_.layout == ring::RingLayout::split) features_ &= ~(uint64_t{1} << VIRTIO_F_RING_PACKED);
  for (uint32_t sel = 0; sel < 2; ++sel) {
    wr(VIRTIO_PCI_COMMON_GFSELECT, 4, sel);
    wr(VIRTIO_PCI_COMMON_GF, 4, (features_ >> (32 * sel)) & 0xffffffff);
  }
  status |= VIRTIO_CONFIG_S_FEATURES_OK;
  wr(VIRTIO_PCI_COMMON_STATUS, 1, status);
  if (!(rd(VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_FEATURES_OK))
    return fail("device refused the features"), false;

  const uint16_t num_queues = static_cast<uint16_t>(rd(VIRTIO_PCI_COMMON_NUMQ, 2));
  if (num_queues < 2u * cfg_.queue_pairs) return fail("device has fewer queues than queue pairs asked"), false;
  wr(VIRTIO_PCI_COMMON_MSIX, 2, config_vector_);
  for (uint16_t v = 0; v <= config_vector_; ++v)  // unmask every vector
    mmio_write(q, mmio, msix_table_ + v * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, 0);
  for (auto& p : qps_) {
    setup_queue(*p, static_cast<uint16_t>(2 * p->index), p->rx);
    setup_queue(*p, static_cast<uint16_t>(2 * p->index + 1), p->tx);
    if (failed()) return false;
  }
  status |= VIRTIO_CONFIG_S_DRIVER_OK;
  wr(VIRTIO_PCI_COMMON_STATUS, 1, status);
  return !failed();
}

void NetDriver::setup_queue(QueuePair& owner, uint16_t index, std::unique_ptr<ring::DriverQueue>& out) {
  QueuePair& q = *qps_.front();  // probing runs on the first vCPU
  auto rd = [&](uint32_t off, unsigned len) { return mmio_read(q, mmio, common_ + off, len); };
  auto wr = [&](uint32_t off, unsigned len, uint64_t v) { mmio_write(q, mmio, common_ + off, len, v); };
  wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, index);
  const uint16_t max = static_cast<uint16_t>(rd(VIRTIO_PCI_COMMON_Q_SIZE, 2));
  if (max == 0) return fail("queue " + std::to_string(index) + " does not exist");
  const uint16_t size = std::min(max, cfg_.queue_size);
  wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
  const ring::QueueAreas areas = ring::place_queue(cfg_.layout, alloc(ring::ring_bytes(cfg_.layout, size), kPage), size);
  if (areas_.size() <= index) areas_.resize(index + 1u), device_areas_.resize(index + 1u);
  areas_[index] = areas;
  // The ring memory is mapped once, for the queue's life, both ways
  // (dma_alloc_coherent in vring_alloc_queue).
  device_areas_[index] = dma() ? ring::place_queue(cfg_.layout,
                                                   dma()->map(areas.desc, ring::ring_bytes(cfg_.layout, size),
                                                              memory::dma_read_write),
                                                   size)
                               : areas;
  if (queue_placed) queue_placed(index, agent_of(owner.index), areas);
  write_queue_areas(q, device_areas_[index]);
  wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, index);
  if (rd(VIRTIO_PCI_COMMON_Q_MSIX, 2) != index) return fail("MSI-X vector refused for queue " + std::to_string(index));

  const bool is_tx = index % 2 == 1;
  ring::DriverOptions opts;
  if (is_tx && (features_ & (uint64_t{1} << VIRTIO_RING_F_INDIRECT_DESC))) {
    const uint32_t entries = std::max(cfg_.params.tx_segments, 1u);
    owner.pool = std::make_unique<ring::IndirectPool>(alloc(ring::IndirectPool::bytes(size, entries), kPage), size, entries);
    opts.indirect_pool = owner.pool.get();
    opts.indirect_threshold = cfg_.params.indirect_threshold;
  }
  // The ring is zeroed through the owner's memory policy, as its vCPU would.
  out = ring::make_driver_queue(cfg_.layout, *owner.mem, areas, ring::Features{features_}, opts);
  if (is_tx) {
    owner.tx_buffers = alloc(uint64_t{size} * tx_stride(cfg_), kPage);
    owner.tx_packet.assign(size, 0);
    owner.tx_given.assign(size, {});
    for (uint32_t i = size; i-- > 0;) owner.tx_free.push_back(i);
  } else {
    owner.rx_buffer_bytes = rx_buffer_bytes(cfg_);
    owner.rx_buffers = alloc(uint64_t{size} * owner.rx_buffer_bytes, kPage);
    owner.rx_given.assign(size, {});
    for (uint32_t i = size; i-- > 0;) owner.rx_free.push_back(i);
  }
  wr(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
}

memory::DmaDomain* NetDriver::dma() const {
  return features_ & (uint64_t{1} << VIRTIO_F_ACCESS_PLATFORM) ? mem_.iommu() : nullptr;
}

ring::Segment NetDriver::dma_map(const ring::Segment& s, uint8_t perm) {  // vring_map_one_sg
  return dma() ? ring::Segment{dma()->map(s.addr, s.len, perm), s.len} : s;
}

void NetDriver::dma_unmap(const ring::Segment& s) {  // vring_unmap_one_split / _packed
  if (dma() && s.len) dma()->unmap(s.addr, s.len);
}

std::vector<ring::Segment> NetDriver::unmap_in_flight(uint16_t qp, uint32_t slot) {
  std::vector<ring::Segment> unmapped;
  if (!dma()) return unmapped;
  for (ring::Segment& s : qps_.at(qp)->tx_given.at(slot)) {
    if (!s.len) continue;
    dma()->revoke(s.addr, s.len);
    unmapped.push_back(s);
    s = {};  // nothing left to unmap when the buffer comes back
  }
  return unmapped;
}

// The selected queue's three areas, through `q`'s vCPU.
void NetDriver::write_queue_areas(QueuePair& q, const ring::QueueAreas& areas) {
  auto wr = [&](uint32_t off, uint64_t v) { mmio_write(q, mmio, common_ + off, 4, v); };
  wr(VIRTIO_PCI_COMMON_Q_DESCLO, areas.desc & 0xffffffff);
  wr(VIRTIO_PCI_COMMON_Q_DESCHI, areas.desc >> 32);
  wr(VIRTIO_PCI_COMMON_Q_AVAILLO, areas.driver & 0xffffffff);
  wr(VIRTIO_PCI_COMMON_Q_AVAILHI, areas.driver >> 32);
  wr(VIRTIO_PCI_COMMON_Q_USEDLO, areas.device & 0xffffffff);
  wr(VIRTIO_PCI_COMMON_Q_USEDHI, areas.device >> 32);
}

// VIRTIO_F_RING_RESET (P15) on TX, as virtnet_tx_resize does it with
// buffers in flight: reset the queue (vp_modern_set_queue_reset: write 1 to
// queue_reset, wait to read it back as 0, then queue_enable as 0), take back
// every buffer still in flight (virtqueue_detach_unused_buf, which re-zeroes
// the ring), then enable the queue again in the same place.
void NetDriver::reset_tx(QueuePair& q) {
  const uint16_t index = static_cast<uint16_t>(2 * q.index + 1);
  auto rd = [&](uint32_t off) { return mmio_read(q, mmio, common_ + off, 2); };
  auto wr = [&](uint32_t off, uint64_t v) { mmio_write(q, mmio, common_ + off, 2, v); };
  const sc_time poll(cfg_.params.reset_poll_us, sc_core::SC_US);
  auto wait_for_zero = [&](uint32_t off) {
    while (!failed() && rd(off) != 0) q.clock.wait_until(q.wake, poll, [&] { return failed(); });
  };
  q.reset_done = true;
  wr(VIRTIO_PCI_COMMON_Q_SELECT, index);
  wr(VIRTIO_PCI_COMMON_Q_RESET, 1);
  wait_for_zero(VIRTIO_PCI_COMMON_Q_RESET);
  wait_for_zero(VIRTIO_PCI_COMMON_Q_ENABLE);
  if (failed()) return;
  for (const uint64_t token : q.tx->detach_unused()) {
    for (const ring::Segment& s : q.tx_given[token]) dma_unmap(s);
    q.tx_free.push_back(static_cast<uint32_t>(token));
    q.reclaimed.push_back(q.tx_packet[token]);
    ++q.stats.tx_reclaimed;
  }
  q.tx->disable_cb();  // as before the reset: completions are reaped on transmit
  wr(VIRTIO_PCI_COMMON_Q_SELECT, index);
  write_queue_areas(q, device_areas_.at(index));
  wr(VIRTIO_PCI_COMMON_Q_ENABLE, 1);
  q.batched = 0;
  ++q.stats.queue_resets;
}

uint64_t NetDriver::lost_at_reset(uint16_t qp) const {
  const QueuePair& q = *qps_.at(qp);
  uint64_t n = 0;
  for (uint64_t k : q.reclaimed) n += !q.seen[k];
  return n;
}

void NetDriver::kick(QueuePair& q, ring::DriverQueue& vq, uint16_t index) {
  const bool device_asked = vq.kick_prepare();
  if (!(kick_decision ? kick_decision(device_asked) : device_asked)) return;
  const bool data = features_ & (uint64_t{1} << VIRTIO_F_NOTIFICATION_DATA);
  mmio_write(q, mmio, notify_ + uint64_t{index} * notify_multiplier_, data ? 4 : 2,
             data ? vq.notification_data(index) : index);
  ++q.stats.kicks;
}

void NetDriver::refill_rx(QueuePair& q) {
  while (!q.rx_free.empty()) {
    const uint32_t b = q.rx_free.back();
    if (q.rx->num_free() == 0) return;  // full: nothing to map
    const ring::Segment seg = dma_map({q.rx_buffers + uint64_t{b} * q.rx_buffer_bytes, q.rx_buffer_bytes},
                                      memory::dma_write);
    const RingError e = q.rx->add({}, std::span(&seg, 1), b);
    if (e != RingError::ok) dma_unmap(seg);
    if (e == RingError::no_space) return;
    if (!ok(q, e, "rx add")) return;
    q.rx_given[b] = seg;
    q.rx_free.pop_back();
  }
}

void NetDriver::reclaim_tx(QueuePair& q) {  // free_old_xmit
  ring::UsedBuffer u;
  for (;;) {
    const ring::Result<bool> r = q.tx->get_used(u);
    if (!ok(q, r.error, "tx get_used") || !r.value) return;
    for (const ring::Segment& s : q.tx_given[u.token]) dma_unmap(s);
    q.tx_free.push_back(static_cast<uint32_t>(u.token));
    ++q.stats.tx_completed;
  }
}

bool NetDriver::xmit(QueuePair& q) {
  if (q.tx_free.empty()) return false;
  const uint64_t k = q.stats.tx_packets;  // per-queue-pair packet number
  const net::FrameInfo info{k * cfg_.queue_pairs + q.index, q.clock.now_ps(), q.index};
  const uint32_t len = net::frame_bytes(cfg_.seed, info.seq, cfg_.packet_bytes, cfg_.packet_bytes_max);
  const uint32_t slot = q.tx_free.back();
  const uint64_t addr = q.tx_buffers + uint64_t{slot} * tx_stride(cfg_);
  q.scratch.assign(net::kNetHdrBytes + len, 0);
  net::build_frame(std::span(q.scratch).subspan(net::kNetHdrBytes), cfg_.seed, info);
  q.mem->write_bytes(addr, q.scratch.data(), q.scratch.size());
  charge_cycles(q, pmd()                                         ? cfg_.params.pmd_tx_packet_cycles
                   : cfg_.params.tx_source == TxSource::pktgen ? cfg_.params.pktgen_packet_cycles
                                                               : cfg_.params.tx_packet_cycles);
  ring::Segment segs[2] = {{addr, net::kNetHdrBytes + len}, {}};
  size_t n = 1;
  if (cfg_.params.tx_segments >= 2) {
    segs[0].len = net::kNetHdrBytes;
    segs[1] = {addr + net::kNetHdrBytes, len};
    n = 2;
  }
  const TxPublish publish{q.index, k, static_cast<uint32_t>(n), q.tx->indices().avail_idx, slot,
                          std::span<const ring::Segment>(segs, n), areas_.at(static_cast<size_t>(2 * q.index + 1)),
                          *q.mem};
  const bool room = q.tx->num_free() >= n;
  if (room && before_tx_publish) before_tx_publish(publish);
  if (!room && dma()) return false;  // full: nothing to map
  std::array<ring::Segment, 2> given{};
  for (size_t i = 0; i < n; ++i) given[i] = dma_map(segs[i], memory::dma_read);
  const RingError e = q.tx->add(std::span(given.data(), n), {}, slot);
  if (e != RingError::ok)
    for (const ring::Segment& s : given) dma_unmap(s);
  if (e == RingError::no_space) return false;
  if (!ok(q, e, "tx add")) return false;
  q.tx_given[slot] = given;
  if (room && after_tx_publish) after_tx_publish(publish);
  q.tx_free.pop_back();
  q.tx_packet[slot] = k;
  ++q.stats.tx_packets;
  q.stats.tx_bytes += len;
  return true;
}

bool NetDriver::receive_frame(QueuePair& q, const ring::UsedBuffer& first) {
  const bool mergeable = features_ & (uint64_t{1} << VIRTIO_NET_F_MRG_RXBUF);
  auto buffer_addr = [&](uint64_t token) { return q.rx_buffers + token * q.rx_buffer_bytes; };
  if (first.token >= q.rx->num() || first.len < net::kNetHdrBytes || first.len > q.rx_buffer_bytes) {
    fail("queue pair " + std::to_string(q.index) + ": RX used length out of range");
    return false;
  }
  uint8_t hdr[net::kNetHdrBytes];
  q.mem->read_bytes(buffer_addr(first.token), hdr, sizeof hdr);
  uint16_t num_buffers = 1;
  if (mergeable) std::memcpy(&num_buffers, hdr + net::kNumBuffersOffset, 2);
  q.scratch.resize(first.len - net::kNetHdrBytes);
  q.mem->read_bytes(buffer_addr(first.token) + net::kNetHdrBytes, q.scratch.data(), q.scratch.size());
  dma_unmap(q.rx_given[first.token]);
  q.rx_free.push_back(static_cast<uint32_t>(first.token));
  // P9: the device marked the first buffer used after the others, so they
  // are all there now.
  for (uint16_t i = 1; i < num_buffers; ++i) {
    ring::UsedBuffer more;
    const ring::Result<bool> r = q.rx->get_used(more);
    if (!ok(q, r.error, "rx get_used")) return false;
    if (!r.value || more.len > q.rx_buffer_bytes) {
      fail("queue pair " + std::to_string(q.index) + ": mergeable frame missing buffers (P9)");
      return false;
    }
    const size_t at = q.scratch.size();
    q.scratch.resize(at + more.len);
    dma_unmap(q.rx_given[more.token]);
    q.mem->read_bytes(buffer_addr(more.token), q.scratch.data() + at, more.len);
    q.rx_free.push_back(static_cast<uint32_t>(more.token));
  }
  charge_cycles(q, pmd() ? cfg_.params.pmd_rx_packet_cycles : cfg_.params.rx_packet_cycles);
  net::FrameInfo info;
  if (!net::verify_frame(q.scratch, cfg_.seed, info)) {
    ++q.stats.rx_corrupt;
  } else if (info.queue_pair != q.index || info.seq % cfg_.queue_pairs != q.index ||
             info.seq / cfg_.queue_pairs >= q.stats.quota) {
    ++q.stats.rx_unexpected;
  } else if (q.seen[info.seq / cfg_.queue_pairs]) {
    ++q.stats.rx_duplicate;
  } else {
    q.seen[info.seq / cfg_.queue_pairs] = true;
    ++q.stats.rx_packets;
    q.stats.rx_bytes += q.scratch.size();
    record_latency(static_cast<double>(q.clock.now_ps() - info.sent_ps) / 1000.0);
  }
  return true;
}

void NetDriver::record_latency(double ns) {
  // Reservoir sample (Algorithm R) with the run's seed: bounded and deterministic.
  ++latency_seen_;
  if (latencies_ns_.size() < kLatencySample) {
    latencies_ns_.push_back(ns);
    return;
  }
  reservoir_state_ = reservoir_state_ * 6364136223846793005ull + 1442695040888963407ull;
  const uint64_t j = (reservoir_state_ >> 11) % latency_seen_;
  if (j < kLatencySample) latencies_ns_[j] = ns;
}

void NetDriver::napi_poll(QueuePair& q) {
  ++q.stats.napi_polls;
  uint32_t received = 0;
  ring::UsedBuffer u;
  while (received < cfg_.params.napi_budget) {
    const ring::Result<bool> r = q.rx->get_used(u);
    if (!ok(q, r.error, "rx get_used") || !r.value) break;
    if (!receive_frame(q, u)) return;
    ++received;
  }
  if (failed()) return;
  refill_rx(q);
  kick(q, *q.rx, static_cast<uint16_t>(2 * q.index));
  if (received < cfg_.params.napi_budget) {
    // napi_complete: callbacks back on, and poll again if buffers were
    // used in between (the race that would otherwise lose a wake-up).
    if (q.rx->enable_cb()) {
      q.rx->disable_cb();
      q.rx_irq = true;
    }
  } else {
    q.rx_irq = true;  // budget spent: stay scheduled
  }
}

// The gap before the next packet at offered_pps: constant, or exponential
// (Poisson traffic) from the queue pair's own seeded generator.
sc_time NetDriver::arrival_gap(QueuePair& q) {
  const double mean_gap_ns = 1e9 / cfg_.params.offered_pps;
  if (!cfg_.params.poisson_arrivals) return sc_time(mean_gap_ns, SC_NS);
  return sc_time(mean_gap_ns * std::exponential_distribution<double>(1.0)(q.arrivals), SC_NS);
}

void NetDriver::vcpu_thread(QueuePair& q) {
  if (q.index == 0) {
    probed_ok_ = probe(q);
    probe_done_ = true;
    probed_.notify(sc_core::SC_ZERO_TIME);
  } else if (!probe_done_) {
    sc_core::wait(probed_);
  }
  if (!probed_ok_) return;
  if (pmd()) return pmd_loop(q);
  refill_rx(q);
  kick(q, *q.rx, static_cast<uint16_t>(2 * q.index));
  q.tx->disable_cb();  // TX completions are reaped on transmit (free_old_xmit)
  const uint16_t txi = static_cast<uint16_t>(2 * q.index + 1);
  const bool paced = cfg_.params.offered_pps > 0;
  const sc_time reset_at(cfg_.reset_tx_at_us, sc_core::SC_US);
  while (!failed()) {
    if (cfg_.reset_tx_at_us > 0 && q.index == 0 && !q.reset_done && q.clock.now() >= reset_at) {
      reset_tx(q);
      continue;
    }
    if (q.rx_irq) {
      q.rx_irq = false;
      q.rx->disable_cb();
      charge_cycles(q, cfg_.params.interrupt_cycles);
      napi_poll(q);
      continue;
    }
    if (q.tx_irq) {
      q.tx_irq = false;
      q.tx->disable_cb();
      charge_cycles(q, cfg_.params.interrupt_cycles);
      reclaim_tx(q);
      if (q.stats.tx_packets == q.stats.quota && q.stats.tx_completed + q.stats.tx_reclaimed < q.stats.tx_packets &&
          q.tx->enable_cb())
        q.tx_irq = true;  // completions came in while re-enabling
      continue;
    }
    if (q.stats.tx_packets < q.stats.quota) {
      if (paced && q.clock.now() < q.next_send) {
        const sc_time gap_left = q.next_send - q.clock.now();
        q.clock.wait_until(q.wake, gap_left, [&] { return q.rx_irq || q.tx_irq || failed(); });
        continue;
      }
      reclaim_tx(q);  // free_old_xmit
      if (!xmit(q)) {
        if (failed()) break;
        ++q.stats.tx_ring_full;
        kick(q, *q.tx, txi);  // what is queued must reach the device before we sleep
        q.batched = 0;
        if (q.tx->enable_cb_delayed()) {
          q.tx->disable_cb();
          continue;  // completions already there
        }
        q.clock.wait_until(q.wake, [&] { return q.rx_irq || q.tx_irq || failed(); });
        continue;
      }
      if (paced) q.next_send = std::max(q.next_send, q.clock.now()) + arrival_gap(q);
      if (++q.batched >= cfg_.params.tx_batch || q.stats.tx_packets == q.stats.quota) {
        kick(q, *q.tx, txi);
        q.batched = 0;
      }
      if (q.stats.tx_packets == q.stats.quota && q.tx->enable_cb()) q.tx_irq = true;
      continue;
    }
    q.clock.wait_until(q.wake, [&] { return q.rx_irq || q.tx_irq || failed(); });
  }
}

}  // namespace virtiosim::driver
