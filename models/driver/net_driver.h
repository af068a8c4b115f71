// A virtio-net-like driver: probes the virtio-PCI function as Linux
// virtio_pci_modern does (walks the vendor capabilities, negotiates
// features, sets up queues and MSI-X vectors, DRIVER_OK), then runs one CPU
// per queue pair that transmits test frames (saturating or at an offered
// rate) and receives them back, in one of two styles (driver.kind):
//   linux: the kernel's virtio-net, NAPI-style: interrupt, callbacks off,
//          poll within a budget, refill, callbacks back on with the re-check
//          that prevents lost wake-ups (this file's .cpp);
//   pmd:   DPDK's virtio PMD (or virtio-user) in poll mode: interrupts off,
//          bursts of RX and TX, kicks only when the device asks
//          (models/driver/pmd_poll.cpp).
// Ring operations are the ring core's driver side over modeled memory; CPU
// work is charged in cycles at the CPU's clock.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <systemc>
#include <tlm>
#include <vector>

#include "models/memory/agent_clock.h"
#include "models/memory/memory_model.h"
#include "models/memory/sim_memory.h"
#include "models/param.h"
#include "models/ring/virtqueue.h"
#include "transport/pci/virtio_if.h"

namespace virtiosim::driver {

// Which driver runs the queues. (`linux` itself is a macro under GNU C++.)
enum class DriverKind : uint8_t { linux_napi, pmd };
const char* name(DriverKind k);

// Where the Linux driver's TX packets come from: the stack (a socket's
// packets through the qdisc) or pktgen, the kernel's packet generator,
// which calls start_xmit itself with one cloned skb.
enum class TxSource : uint8_t { stack, pktgen };
const char* name(TxSource s);

#define VIRTIOSIM_DRIVER_PARAMS(X)                                                                   \
  X(DriverKind, kind, DriverKind::linux_napi, "",                                                    \
    "linux: the kernel's virtio-net (NAPI, interrupts); pmd: DPDK's virtio PMD / virtio-user in poll mode") \
  X(double, guest_ghz, 3.0, "GHz", "clock of the vCPU running the driver")                           \
  X(TxSource, tx_source, TxSource::stack, "",                                                        \
    "linux: stack (tx_packet_cycles per packet) or pktgen (pktgen_packet_cycles)")                   \
  X(uint32_t, tx_packet_cycles, 900, "cycles",                                                       \
    "start_xmit per packet besides ring accesses: skb, headers, DMA mapping (~300 ns)")              \
  X(uint32_t, pktgen_packet_cycles, 300, "cycles",                                                   \
    "tx_source=pktgen: pktgen's loop and start_xmit with a cloned skb, besides ring accesses; Documentation/networking/pktgen.rst measures ~5.5 Mpps on one 2.3 GHz E5-2630 into ixgbe, ~420 cycles with the NIC driver's own descriptor writes and doorbell, which the model charges as ring accesses") \
  X(uint32_t, rx_packet_cycles, 900, "cycles",                                                       \
    "receive per packet besides ring accesses: build_skb, netif_receive (~300 ns)")                  \
  X(uint32_t, interrupt_cycles, 1500, "cycles", "interrupt entry/exit and napi_schedule (~0.5 us)")        \
  X(uint32_t, napi_budget, 64, "packets", "NAPI_POLL_WEIGHT: packets per poll before yielding")      \
  X(uint32_t, tx_batch, 1, "packets", "packets queued before a kick decision (xmit_more)")           \
  X(double, offered_pps, 0.0, "packets/s", "TX rate per queue pair; 0 = as fast as the ring allows") \
  X(uint32_t, poisson_arrivals, 0, "bool",                                                           \
    "with offered_pps: exponential gaps between packets (Poisson traffic, seeded) instead of a constant rate") \
  X(uint32_t, rx_buffer_bytes, 1536, "bytes",                                                        \
    "mergeable RX buffer size (Linux sizes them by EWMA, at least GOOD_PACKET_LEN + header)")        \
  X(uint32_t, tx_segments, 1, "segments",                                                            \
    "descriptors per TX packet: 1 = header pushed before the frame (any_layout), 2 = apart")         \
  X(uint32_t, indirect_threshold, 2, "segments",                                                     \
    "use an indirect table from this many segments (Linux: total_sg > 1)")                           \
  X(double, reset_poll_us, 1.0, "us",                                                                \
    "queue reset: interval between reads of queue_reset / queue_enable (Linux msleep(1) polls every 1 ms; 1 us keeps runs short)") \
  VIRTIOSIM_PMD_PARAMS(X)

// The poll-mode driver's own costs and sizes (driver.kind=pmd).
#define VIRTIOSIM_PMD_PARAMS(X)                                                                      \
  X(uint32_t, burst, 32, "packets",                                                                  \
    "pmd: packets per rx_burst / tx_burst call (testpmd DEF_PKT_BURST)")                             \
  X(uint32_t, pmd_tx_packet_cycles, 100, "cycles",                                                   \
    "pmd: tx per packet besides ring accesses: txonly mbuf alloc and header writes, xmit bookkeeping") \
  X(uint32_t, pmd_rx_packet_cycles, 60, "cycles",                                                    \
    "pmd: rx per packet besides ring accesses: mbuf fields, refill allocation, rxonly free")          \
  X(uint32_t, pmd_poll_cycles, 60, "cycles",                                                         \
    "pmd: one lap of the forwarding loop that found nothing (rx_burst and tx_burst calls, stream loop)") \
  X(uint32_t, pmd_tx_free_thresh, 32, "buffers",                                                     \
    "pmd: reclaim TX completions once fewer ring entries than this are free (DEFAULT_TX_FREE_THRESH)")

struct DriverParams {
  VIRTIOSIM_DRIVER_PARAMS(VIRTIOSIM_PARAM_FIELD)
  template <class F>
  void visit(F&& f) {
    VIRTIOSIM_DRIVER_PARAMS(VIRTIOSIM_PARAM_VISIT)
  }
};

struct NetDriverConfig {
  ring::RingLayout layout = ring::RingLayout::packed;
  uint64_t wanted_features = 0;  // the driver accepts these if offered
  uint16_t queue_pairs = 1;
  uint16_t queue_size = 256;
  uint64_t packets = 0;  // in total, spread over the queue pairs
  uint32_t packet_bytes = 64;
  uint32_t packet_bytes_max = 64;
  uint64_t seed = 1;
  memory::TimingMode timing = memory::TimingMode::lt;
  uint64_t ram_base = 0;  // the driver's allocations start here
  double reset_tx_at_us = 0;  // reset TX queue 0 (P15) once at this time, buffers in flight; 0 = never
  DriverParams params;
};

struct QueuePairDriverStats {
  uint64_t quota = 0;  // packets this queue pair sends
  uint64_t tx_packets = 0, tx_bytes = 0;
  uint64_t tx_completed = 0;
  uint64_t rx_packets = 0, rx_bytes = 0;
  uint64_t rx_corrupt = 0;     // failed payload verification
  uint64_t rx_duplicate = 0;   // a sequence number seen twice
  uint64_t rx_unexpected = 0;  // a frame of another queue pair or never sent
  uint64_t kicks = 0;  // doorbell writes (kick_decision said kick)
  uint64_t rx_interrupts = 0, tx_interrupts = 0;
  uint64_t napi_polls = 0;
  uint64_t tx_ring_full = 0;  // xmit found no room and waited
  uint64_t tx_reclaimed = 0;  // TX buffers taken back by a queue reset (P15), not completed
  uint64_t queue_resets = 0;
};

// The driver reaches its function only through MMIO (`mmio`: BARs,
// `config`: PCI configuration space) and hears from it only through MSI-X
// messages (pci::MsiSinkIf).
class NetDriver : public sc_core::sc_module, public pci::MsiSinkIf {
 public:
  tlm_utils::simple_initiator_socket<NetDriver> mmio;
  tlm_utils::simple_initiator_socket<NetDriver> config;

  NetDriver(sc_core::sc_module_name name, memory::MemoryModel& mem, NetDriverConfig cfg);
  ~NetDriver() override;

  // Hook points for a fault plan (sim/faults); a plain run sets none. Each
  // TX publish: just before the ring core's add() of a list it has room
  // for, and just after add() made it available.
  struct TxPublish {
    uint16_t qp;
    uint64_t packet;       // per queue pair, 0-based
    uint32_t descriptors;  // in the list (before any indirect table)
    uint16_t avail_idx;    // the ring position add() publishes at
    uint32_t slot;         // the TX buffer (the token add() is given)
    std::span<const ring::Segment> buffer;  // its guest-physical segments
    const ring::QueueAreas& areas;
    memory::SimMemory& mem;  // the vCPU's own accesses: timed, logged, ordered
  };
  std::function<void(const TxPublish&)> before_tx_publish, after_tx_publish;
  // For a fault plan (fault.unmap_in_flight), after a TX publish: TX buffer
  // `slot` of queue pair `qp`, which the device holds, is unmapped now, as
  // by a driver that frees a buffer in flight. Its IOVA range is revoked,
  // not freed (memory::DmaDomain::revoke), and its completion or a queue
  // reset unmaps nothing more. Returns its segments as the device was given
  // them (IOVAs); none without ACCESS_PLATFORM.
  std::vector<ring::Segment> unmap_in_flight(uint16_t qp, uint32_t slot);
  // The kick decision: given whether the device's event suppression asked
  // for a notification (the ring core's kick_prepare), kick or not.
  std::function<bool(bool device_asked)> kick_decision;
  // Queue `queue` was placed in guest memory, before the driver's queue
  // zeroes it; `agent` is the vCPU that will drive it.
  std::function<void(uint16_t queue, unsigned agent, const ring::QueueAreas& areas)> queue_placed;

  // pci::MsiSinkIf: vector 2i is queue pair i's RX, 2i+1 its TX, the last
  // of the function's table configuration changes.
  void msi(uint16_t vector) override;

  // Guest RAM the driver needs above ram_base for this configuration.
  static uint64_t ram_bytes(const NetDriverConfig& cfg);
  static unsigned agent_of(uint16_t qp) { return 2u * qp; }
  // The agent's name in waves and reports: the vCPU that runs queue pair qp.
  static std::string agent_name(uint16_t qp) { return "driver_vcpu" + std::to_string(qp); }

  bool probed() const { return probed_ok_; }
  bool failed() const { return !failure_.empty(); }
  const std::string& failure() const { return failure_; }
  uint64_t negotiated_features() const { return features_; }
  const QueuePairDriverStats& stats(uint16_t qp) const;
  // Time the vCPU of `qp` was busy (charged latency, not waiting).
  uint64_t busy_ps(uint16_t qp) const;
  const ring::DriverQueue* tx_queue(uint16_t qp) const;
  const ring::DriverQueue* rx_queue(uint16_t qp) const;
  // Where virtqueue `queue` lives (after probing).
  const ring::QueueAreas& areas(uint16_t queue) const { return areas_.at(queue); }
  // Frames whose TX buffers a queue reset took back and that never arrived:
  // the device had not sent them.
  uint64_t lost_at_reset(uint16_t qp) const;
  // Send-to-receive latencies (ns) of received frames; a bounded sample.
  const std::vector<double>& latencies_ns() const { return latencies_ns_; }

 private:
  struct QueuePair;

  bool pmd() const { return cfg_.params.kind == DriverKind::pmd; }
  void vcpu_thread(QueuePair& q);
  sc_core::sc_time arrival_gap(QueuePair& q);
  // The poll-mode driver (models/driver/pmd_poll.cpp).
  void pmd_loop(QueuePair& q);
  uint32_t pmd_rx_burst(QueuePair& q);
  uint32_t pmd_tx_burst(QueuePair& q);
  bool probe(QueuePair& q);
  void setup_queue(QueuePair& q, uint16_t index, std::unique_ptr<ring::DriverQueue>& out);
  void write_queue_areas(QueuePair& q, const ring::QueueAreas& areas);
  // The Linux DMA API (vring_use_dma_api): with VIRTIO_F_ACCESS_PLATFORM
  // every buffer is mapped when made available and unmapped when it comes
  // back, and the device sees only IOVAs. Without it these pass addresses
  // through.
  memory::DmaDomain* dma() const;
  ring::Segment dma_map(const ring::Segment& s, uint8_t perm);
  void dma_unmap(const ring::Segment& s);
  void reset_tx(QueuePair& q);
  bool xmit(QueuePair& q);
  void reclaim_tx(QueuePair& q);
  void napi_poll(QueuePair& q);
  bool receive_frame(QueuePair& q, const ring::UsedBuffer& first);
  void refill_rx(QueuePair& q);
  void kick(QueuePair& q, ring::DriverQueue& vq, uint16_t index);
  bool ok(QueuePair& q, ring::RingError e, const char* what);
  void fail(const std::string& why);
  void charge_cycles(QueuePair& q, uint32_t cycles);
  uint64_t transact(QueuePair& q, tlm_utils::simple_initiator_socket<NetDriver>& s, tlm::tlm_command cmd,
                    uint64_t addr, unsigned len, uint64_t v);
  uint64_t mmio_read(QueuePair& q, tlm_utils::simple_initiator_socket<NetDriver>& s, uint64_t addr,
                     unsigned len);
  void mmio_write(QueuePair& q, tlm_utils::simple_initiator_socket<NetDriver>& s, uint64_t addr, unsigned len,
                  uint64_t v);
  uint64_t alloc(uint64_t bytes, uint64_t align);
  void record_latency(double ns);

  void config_changed();

  memory::MemoryModel& mem_;
  NetDriverConfig cfg_;
  std::vector<std::unique_ptr<QueuePair>> qps_;
  sc_core::sc_event probed_;
  bool probed_ok_ = false;
  bool probe_done_ = false;
  std::string failure_;
  uint64_t features_ = 0;
  uint64_t next_alloc_ = 0;
  // Where probing found the structures (from the capabilities).
  uint64_t common_ = 0, notify_ = 0, isr_ = 0, device_cfg_ = 0, msix_table_ = 0;
  uint32_t notify_multiplier_ = 0;
  uint16_t config_vector_ = 0xffff;  // the MSI-X table's last entry (VIRTIO_MSI_NO_VECTOR until probed)
  std::vector<std::unique_ptr<sc_core::sc_event>> vector_events_;  // queue vectors, then configuration
  std::vector<ring::QueueAreas> areas_;
  std::vector<ring::QueueAreas> device_areas_;  // as the device was told: IOVAs with ACCESS_PLATFORM
  std::vector<double> latencies_ns_;
  uint64_t latency_seen_ = 0;
  uint64_t reservoir_state_;
};

}  // namespace virtiosim::driver
