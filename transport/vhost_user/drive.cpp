#include "transport/vhost_user/drive.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <sstream>
#include <thread>
#include <type_traits>
#include <vector>

#include "models/ring/packed_driver.h"
#include "models/ring/split_driver.h"
#include "transport/vhost_user/frontend.h"
#include "transport/vhost_user/net.h"

namespace virtiosim::vhost_user {

using ring::feature_bit;

const FaultInfo& info(Fault f) {
  for (const FaultInfo& i : kFaults)
    if (i.fault == f) return i;
  throw std::invalid_argument("no such fault");
}

namespace {

constexpr uint32_t kRxBufferSize = 2048;
constexpr uint32_t kTxSlotSize = 2048;
static_assert(kRxBufferSize == kTxSlotSize, "one buffer stride serves both");

// Bytes between two buffers. Behind an IOMMU each buffer has an IOMMU page
// of its own, as Linux's dma_map_single gives every buffer its own
// page-granular IOVA range: unmapping one never takes a neighbour with it.
uint64_t buffer_stride(const DriveOptions& o) { return o.iommu ? kIommuPageSize : kRxBufferSize; }
// With --iommu rings and buffer areas start a page and rings fill whole
// pages (mapped RW, never unmapped), so no page holds two permissions.
uint64_t ring_bytes(const DriveOptions& o, uint64_t contiguous) {
  return o.iommu ? (contiguous + kIommuPageSize - 1) / kIommuPageSize * kIommuPageSize : contiguous;
}
uint64_t dma_align(const DriveOptions& o) { return o.iommu ? kIommuPageSize : 64; }
constexpr uint8_t kStatusDriverOk = 0x0f;  // ACKNOWLEDGE | DRIVER | DRIVER_OK | FEATURES_OK

template <class Layout>
RingAddresses addresses(const Layout& l);
template <>
RingAddresses addresses(const ring::PackedLayout& l) { return {l.desc, l.driver_event, l.device_event}; }
template <>
RingAddresses addresses(const ring::SplitLayout& l) { return {l.desc, l.avail, l.used}; }

// Linux NAPI_POLL_WEIGHT: used buffers one poll of a queue takes before
// the other queue gets its turn.
constexpr size_t kNapiWeight = 64;
constexpr uint32_t kRxQueue = 0, kTxQueue = 1;  // virtio-net queue pair 0

// The traffic of one run, for one ring layout.
template <class Driver, class Layout>
class Traffic {
 public:
  // Without `dma` the driver's addresses are guest-physical; with it,
  // IOVAs of that domain.
  Traffic(const DriveOptions& o, boost::asio::io_context& io, Frontend& fe, GuestMemfd& mem, DmaDomain* dma,
          uint64_t features, DriveReport& rep)
      : o_(o), io_(io), fe_(fe), mem_(mem), dma_(dma), rep_(rep), features_(features),
        hdr_(net::header_len(features)), rx_count_(o.rx_buffers ? o.rx_buffers : o.queue_size),
        // DriveOptions::window
        window_(o.window ? o.window : o.allow_drops ? UINT64_MAX : std::max<uint32_t>(o.queue_size / 2, 1)),
        stride_(buffer_stride(o)),
        rx_ring_(bus(mem.alloc(ring_bytes(o, Layout::contiguous_bytes(o.queue_size)), dma_align(o)))),
        tx_ring_(bus(mem.alloc(ring_bytes(o, Layout::contiguous_bytes(o.queue_size)), dma_align(o)))),
        rx_bufs_(bus(mem.alloc(uint64_t{rx_count_} * stride_, dma_align(o)))),
        tx_bufs_(bus(mem.alloc(uint64_t{o.queue_size} * stride_, dma_align(o)))),
        rx_{kRxQueue, Driver(memory(), Layout::place(rx_ring_, o.queue_size), ring::Features{features}),
            &rep.rx_calls, &rep.rx_err_signals},
        tx_{kTxQueue, Driver(memory(), Layout::place(tx_ring_, o.queue_size), ring::Features{features}),
            &rep.tx_calls, &rep.tx_err_signals},
        seen_(o.packets, 0) {
    // unmap_in_flight's buffer is one the back-end has never been given,
    // so it holds no translation of it from before.
    const uint32_t slots = o.fault == Fault::unmap_in_flight ? o.queue_size - 1 : o.queue_size;
    for (uint32_t i = slots; i-- > 0;) free_slots_.push_back(i);
    if (!dma_) return;
    // The DMA API's directions: rings coherent (RW), TX read by the device,
    // RX written by it. Without --iommu-strict buffers stay mapped.
    for (uint64_t r : {rx_ring_, tx_ring_})
      dma_->map(r, ring_bytes(o, Layout::contiguous_bytes(o.queue_size)), iotlb::kReadWrite);
    if (o.iommu_strict) return;
    dma_->map(rx_bufs_, uint64_t{rx_count_} * stride_, iotlb::kWrite);
    dma_->map(tx_bufs_, uint64_t{o.queue_size} * stride_, iotlb::kRead);
  }

  void run() {
    if (!start_rings()) return;
    for (uint32_t i = 0; i < rx_count_; ++i)
      if (!post_rx(i)) return;
    if (rx_.vq.kick_prepare()) kick(rx_);
    if (o_.fault == Fault::rewrite_in_flight) rewrite_rx_in_flight();

    const auto start = clock::now();
    auto last_progress = start;
    uint32_t idle_passes = 0;
    // After a terminal fault only the frames already sent come back.
    while (rep_.received < (stopped_ ? rep_.sent : o_.packets) && !failed_) {
      size_t work = serve_iotlb() + transmit();
      if (o_.notify == Notify::poll) {
        work += reap(tx_, SIZE_MAX) + reap(rx_, SIZE_MAX);
      } else {
        if (tx_.scheduled) work += napi_poll(tx_);
        if (rx_.scheduled) work += napi_poll(rx_);
      }
      if (failed_) break;
      if (work) {
        last_progress = clock::now();
        idle_passes = 0;
        continue;
      }
      if (o_.notify == Notify::irq && (rx_.scheduled || tx_.scheduled)) continue;  // a re-check found work
      // Idle. Polling reads the clock only now and then; irq sleeps on the
      // call eventfds until a call, the settle time or the stall timeout.
      if (o_.notify == Notify::poll && (++idle_passes & 255) != 0) continue;
      // A ring the back-end broke (SET_VRING_ERR) moves nothing more: say
      // so now rather than stall (a fault run waits for it, after the loop).
      if (o_.fault == Fault::none && broken_ring()) break;
      const auto now = clock::now();
      const auto stall_at = last_progress + std::chrono::seconds(o_.timeout_s);
      const bool may_settle = quiescent(), may_be_sink = no_echo_yet();
      const auto settle_at = last_progress + std::chrono::milliseconds(kDropSettleMs);
      const auto sink_at = last_progress + std::chrono::milliseconds(kNoEchoMs);
      auto until = may_settle ? std::min(stall_at, settle_at) : stall_at;
      if (may_be_sink) until = std::min(until, sink_at);
      if (now < until) {
        if (o_.notify == Notify::irq) wait_for_call(until - now);
        continue;
      }
      if (may_be_sink) {
        rep_.no_echo = true;
        rep_.error = "no echo: the back-end took " + std::to_string(tx_completed()) + " frames and returned none in " +
                     std::to_string(kNoEchoMs) + " ms; drive needs a back-end that echoes (serve --mode echo), or --allow-drops to count them as dropped";
        break;
      }
      if (may_settle) {
        rep_.dropped = rep_.sent - std::min(rep_.sent, rep_.received);
        break;
      }
      rep_.stalled = true;
      rep_.error = "stalled: no progress for " + std::to_string(o_.timeout_s) + " s waiting " + waiting_on();
      break;
    }
    rep_.seconds = std::chrono::duration<double>(clock::now() - start).count();
    if (o_.fault == Fault::unmap_in_flight && rep_.fault_injected && !failed_) await_tx_broken();
    // Calls not waited for (polling, or after the last wake-up) still count.
    for (Queue* q : {&rx_, &tx_}) take_calls(*q), take_err(*q);
    if (o_.fault == Fault::unmap_in_flight) scan_rx_for_poison();
    const uint64_t returned = rep_.received + rep_.dropped;
    rep_.lost = rep_.sent > returned ? rep_.sent - returned : 0;

    // Stop both rings (GET_VRING_BASE) so the back-end lets go cleanly.
    uint32_t base[2] = {};
    for (uint32_t q : {0u, 1u})
      if (ProtocolError ge = fe_.get_vring_base(q, base[q]); ge != ProtocolError::ok) {
        rep_.protocol_failed = true;
        rep_.error = std::string("GET_VRING_BASE: ") + name(ge) + ": " + fe_.detail();
      }
    if (o_.fault == Fault::bad_vring_base && !rep_.protocol_failed) resume_tx_elsewhere(base[kTxQueue]);
  }

 private:
  using clock = std::chrono::steady_clock;

  // One virtqueue, its eventfds, and (irq) its NAPI state.
  struct Queue {
    uint32_t index;  // vring index: kRxQueue or kTxQueue
    Driver vq;
    uint64_t* calls;
    uint64_t* err_signals;
    Fd call{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
    Fd kick{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
    Fd err{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};  // SET_VRING_ERR: the back-end broke the ring
    bool scheduled = false;  // a call (or a re-check) said there are used buffers to take
  };

  // The driver's address of guest memory at `gpa` (Linux's dma_addr_t),
  // and ours of a driver address.
  uint64_t bus(uint64_t gpa) const { return dma_ ? dma_->iova(gpa) : gpa; }
  uint8_t* host(uint64_t addr) const { return dma_ ? dma_->host(addr) : mem_.host(addr); }
  SharedMemory memory() const { return dma_ ? dma_->memory() : mem_.memory(); }

  // --iommu-strict: a buffer is mapped when posted (dma_map_single) ...
  void map_buffer(uint64_t addr, uint64_t len, uint8_t perm) {
    if (dma_ && o_.iommu_strict) dma_->map(addr, len, perm);
  }
  // ... and unmapped when reclaimed, the back-end's translations of it
  // invalidated (acked) before the buffer is looked at or used again
  // (dma_unmap_single with iommu.strict=1).
  bool unmap_buffer(uint64_t addr, uint64_t len) {
    if (!dma_ || !o_.iommu_strict) return true;
    return iotlb_ok(fe_.invalidate(dma_->unmap(addr, len)));
  }
  bool iotlb_ok(ProtocolError e) {
    if (e == ProtocolError::ok) return true;
    rep_.protocol_failed = true;
    rep_.error = std::string("IOTLB: ") + name(e) + ": " + fe_.detail();
    failed_ = true;
    return false;
  }
  // --iommu: the back-end's misses and the acks of our UPDATEs, without
  // blocking. Returns the messages taken.
  size_t serve_iotlb() {
    size_t n = 0;
    if (dma_) iotlb_ok(fe_.serve_backend(0, &n));
    return n;
  }

  bool start_rings() {
    if (o_.notify == Notify::poll) {
      // Busy polling: used-buffer signals are not wanted.
      rx_.vq.disable_cb();
      tx_.vq.disable_cb();
    } else {
      // Nothing is in flight yet, so the re-check cannot find work.
      (void)rx_.vq.enable_cb();
      (void)tx_.vq.enable_cb();
    }
    const uint32_t fresh = o_.packed ? ring::encode_vring_base_packed({}) : 0;  // VU2: 0x80008000 for packed
    ProtocolError e = fe_.set_mem_table(mem_);
    for (Queue* q : {&rx_, &tx_})
      if (e == ProtocolError::ok)
        e = fe_.start_ring(q->index, o_.queue_size, fresh, addresses(q->vq.layout()), mem_, q->call.get(),
                           q->kick.get(), q->err.get());
    if (e == ProtocolError::ok) e = fe_.set_status(kStatusDriverOk);
    if (e == ProtocolError::ok) return true;
    rep_.protocol_failed = true;
    rep_.error = std::string(name(e)) + ": " + fe_.detail();
    return false;
  }

  void kick(const Queue& q) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(q.kick.get(), &one, sizeof one);
    ++rep_.kicks;
  }

  void fail_ring(const char* what, ring::RingError re) {
    ++rep_.ring_errors;
    rep_.error = std::string(what) + ": " + ring::name(re);
    failed_ = true;
  }

  bool post_rx(uint32_t i) {
    const ring::Segment in{rx_bufs_ + uint64_t{i} * stride_, kRxBufferSize};
    map_buffer(in.addr, in.len, iotlb::kWrite);
    const ring::RingError re = rx_.vq.add({}, {&in, 1}, i);
    if (re != ring::RingError::ok) fail_ring("rx add", re);
    return re == ring::RingError::ok;
  }

  // Numbered frames into free TX slots, within the window; one kick for
  // the lot if the back-end wants it. Returns the frames added.
  size_t transmit() {
    const size_t wire = hdr_ + o_.frame_size;
    size_t added = 0;
    while (!stopped_ && rep_.sent < o_.packets && rep_.sent - rep_.received < window_ && !free_slots_.empty()) {
      if (raw_fault_due()) {
        write_raw_fault();
        break;
      }
      if (unmap_fault_due()) {
        added += unmap_in_flight() ? 1 : 0;  // kicked below, after the INVALIDATE's ack
        break;
      }
      const uint32_t slot = free_slots_.back();
      const uint64_t addr = tx_bufs_ + uint64_t{slot} * stride_;
      uint8_t* p = host(addr);
      std::memset(p, 0, hdr_);
      net::make_frame(p + hdr_, o_.frame_size, rep_.sent);
      const ring::Segment out{addr, static_cast<uint32_t>(wire)};
      map_buffer(out.addr, out.len, iotlb::kRead);
      const ring::RingError re = tx_.vq.add({&out, 1}, {}, slot);
      if (re == ring::RingError::no_space) break;
      if (re != ring::RingError::ok) {
        fail_ring("tx add", re);
        break;
      }
      free_slots_.pop_back();
      ++rep_.sent;
      ++added;
    }
    if (added) {
      const bool wanted = tx_.vq.kick_prepare();
      if (!wanted && o_.fault == Fault::kick_while_suppressed) rep_.fault_injected = true;
      if (wanted || o_.fault == Fault::kick_while_suppressed) kick(tx_);
    }
    return added;
  }

  // The faults written as raw descriptors go in halfway through the
  // frames, on a TX ring with room for a two-descriptor list.
  bool raw_fault_due() const {
    if (o_.fault == Fault::none || !info(o_.fault).terminal || info(o_.fault).iommu || rep_.fault_injected)
      return false;
    return rep_.sent >= o_.packets / 2 && tx_.vq.num_free() >= 2 && free_slots_.size() >= 2;
  }

  // unmap_in_flight goes in halfway through the frames too.
  bool unmap_fault_due() const {
    return o_.fault == Fault::unmap_in_flight && !rep_.fault_injected && rep_.sent >= o_.packets / 2 &&
           tx_.vq.num_free() >= 1;
  }

  // A TX buffer the back-end has never seen, filled with poison, made
  // available; then, before the kick, unmapped and invalidated (acked)
  // while the device owns it, as a driver that unmaps a buffer in flight.
  // The back-end (polling, it may already have seen the descriptor) can
  // only ask for it: drive answers the MISS, during the INVALIDATE's wait
  // or later, from a table that no longer holds it. Nothing is sent after.
  // Returns whether the buffer went in.
  bool unmap_in_flight() {
    const uint32_t slot = o_.queue_size - 1;  // kept out of free_slots_
    fault_buffer_ = tx_bufs_ + uint64_t{slot} * stride_;
    const ring::Segment out{fault_buffer_, static_cast<uint32_t>(hdr_ + o_.frame_size)};
    std::memset(host(out.addr), kPoisonByte, out.len);
    if (dma_->translate(out.addr, iotlb::kRead).result != IovaTranslation::Result::mapped)
      dma_->map(out.addr, out.len, iotlb::kRead);  // --iommu-strict: mapped as any buffer posted
    const ring::RingError re = tx_.vq.add({&out, 1}, {}, slot);
    if (re != ring::RingError::ok) {
      fail_ring("tx add", re);
      return false;
    }
    rep_.fault_injected = true;
    stopped_ = true;
    return iotlb_ok(fe_.invalidate(dma_->unmap(out.addr, out.len)));
  }

  // unmap_in_flight: the back-end breaks TX once its MISS is refused.
  // Waits for the TX error eventfd (with the stall timeout), still
  // answering the back-end channel and taking what RX and TX return.
  void await_tx_broken() {
    const auto until = clock::now() + std::chrono::seconds(o_.timeout_s);
    while (!rep_.tx_err_signals && !failed_ && clock::now() < until) {
      pollfd fds[3] = {{tx_.err.get(), POLLIN, 0}, {fe_.socket_fd(), POLLIN, 0}, {fe_.backend_fd(), POLLIN, 0}};
      ::poll(fds, 3, 100);
      serve_iotlb();
      reap(tx_, SIZE_MAX);
      reap(rx_, SIZE_MAX);
      take_err(tx_);
    }
    if (!rep_.tx_err_signals && !failed_)
      rep_.error = "unmap_in_flight: the back-end did not break TX (no SET_VRING_ERR signal) in " +
                   std::to_string(o_.timeout_s) + " s";
  }

  // unmap_in_flight: every RX buffer, used or still posted, is free of
  // the poison.
  void scan_rx_for_poison() {
    for (uint32_t i = 0; i < rx_count_; ++i)
      if (has_poison(host(rx_bufs_ + uint64_t{i} * stride_), kRxBufferSize)) ++rep_.poison_seen;
  }
  static bool has_poison(const uint8_t* p, size_t n) {
    size_t run = 0;
    for (size_t i = 0; i < n; ++i)
      if ((run = p[i] == kPoisonByte ? run + 1 : 0) == kPoisonRun) return true;
    return false;
  }

  // P2, P6.2, P6.3: a TX list the ring core would never write, at the slot
  // its next add() would take, then a kick. Nothing is sent after it: the
  // back-end either never sees it (P2) or breaks the ring on it.
  void write_raw_fault() {
    if constexpr (std::is_same_v<Layout, ring::PackedLayout>) {
      const ring::PackedLayout l = tx_.vq.layout();
      const uint16_t id = tx_.vq.free_head();  // an id not in flight
      const uint16_t slot = tx_.vq.next_avail_idx();
      const bool wrap = tx_.vq.avail_wrap_counter();
      const uint64_t buf = tx_bufs_ + uint64_t{free_slots_.back()} * stride_;
      const uint32_t wire = static_cast<uint32_t>(hdr_ + o_.frame_size);
      // P13: body first, the flags with release.
      auto put = [&](uint16_t s, uint32_t len, uint16_t flags) {
        uint8_t* d = host(l.desc_addr(s));
        std::memcpy(d + ring::packed_off::addr, &buf, 8);
        std::memcpy(d + ring::packed_off::len, &len, 4);
        std::memcpy(d + ring::packed_off::id, &id, 2);
        __atomic_store_n(reinterpret_cast<uint16_t*>(d + ring::packed_off::flags), flags, __ATOMIC_RELEASE);
      };
      const uint16_t avail = ring::packed_avail_flags(wrap);
      switch (o_.fault) {
        case Fault::avail_encoding:  // AVAIL == USED == wrap: reads as used, not available
          put(slot, wire, ring::packed_used_flags(wrap));
          break;
        case Fault::next_on_last:  // the only descriptor says another follows
          put(slot, wire, avail | ring::kDescNext);
          break;
        case Fault::write_on_head: {  // writable head, readable tail; the head's flags last
          const bool next_wrap = slot + 1u == o_.queue_size ? !wrap : wrap;
          put(static_cast<uint16_t>((slot + 1u) % o_.queue_size), wire, ring::packed_avail_flags(next_wrap));
          put(slot, wire, avail | ring::kDescNext | ring::kDescWrite);
          break;
        }
        default:
          return;
      }
      rep_.fault_injected = true;
      stopped_ = true;
      raw_written_ = true;
      kick(tx_);
    }
  }

  // P3: once the back-end has had time to see the RX buffers posted, the
  // first one's descriptor gets a new len (one byte shorter: the echo
  // still fits) while the device owns it.
  void rewrite_rx_in_flight() {
    std::this_thread::sleep_for(std::chrono::milliseconds(kRewriteAfterMs));
    uint64_t len_addr;
    if constexpr (std::is_same_v<Layout, ring::PackedLayout>) {
      len_addr = rx_.vq.layout().len_addr(0);
    } else {
      uint16_t head;
      std::memcpy(&head, host(rx_.vq.layout().avail_ring_addr(0)), 2);
      len_addr = rx_.vq.layout().len_addr(head);
    }
    const uint32_t len = kRxBufferSize - 1;
    std::memcpy(host(len_addr), &len, 4);
    rep_.fault_injected = true;
  }

  // VU2: a second connection that sets TX's base one position before
  // where GET_VRING_BASE said the back-end stood (never a fresh ring).
  // The ring is not started: the request is the violation, and a device
  // that checks the base against the ring (split: used->idx) would refuse
  // the start anyway.
  void resume_tx_elsewhere(uint32_t answered) {
    const uint32_t fresh = o_.packed ? ring::encode_vring_base_packed({}) : 0;
    uint32_t wrong = answered;
    for (uint32_t back = 1; wrong == answered || wrong == fresh; ++back) {
      if (o_.packed) {
        ring::RingState s = ring::decode_vring_base_packed(answered);
        auto step_back = [&](uint16_t& idx, bool& wrap) {
          const uint32_t b = back % o_.queue_size;
          if (idx < b) idx = static_cast<uint16_t>(idx + o_.queue_size - b), wrap = !wrap;
          else idx = static_cast<uint16_t>(idx - b);
        };
        step_back(s.last_avail_idx, s.avail_wrap_counter);
        step_back(s.last_used_idx, s.used_wrap_counter);
        wrong = ring::encode_vring_base_packed(s);
      } else {
        wrong = static_cast<uint16_t>(answered - back);
      }
    }
    fe_.connection().close();  // serve takes one front-end at a time
    Frontend fe(connect_unix(io_, o_.socket_path));
    uint64_t features = 0;
    ProtocolError e = fe.negotiate(features_, 0, features);
    if (e == ProtocolError::ok) e = fe.request(Request::SET_VRING_NUM, VringState{kTxQueue, o_.queue_size});
    if (e == ProtocolError::ok) e = fe.request(Request::SET_VRING_BASE, VringState{kTxQueue, wrong});
    rep_.fault_injected = e == ProtocolError::ok;
    if (e != ProtocolError::ok) {
      rep_.protocol_failed = true;
      rep_.error = std::string("reconnect: ") + name(e) + ": " + fe.detail();
    }
    fe.connection().close();
  }

  // Takes up to `budget` used buffers of one queue: TX slots back to the
  // free list; RX echoes checked and their buffers posted again.
  size_t reap(Queue& q, size_t budget) {
    // After a raw fault nothing more is sent, so TX slots are not needed
    // back; and the fault's own slot may read as used
    // (avail_encoding writes AVAIL == USED == wrap), which get_used would
    // take for a completion of an id never made available, failing the
    // run before the back-end's watch has seen the fault.
    if (q.index == kTxQueue && raw_written_) return 0;
    ring::UsedBuffer ub;
    size_t n = 0;
    for (; n < budget; ++n) {
      const ring::Result<bool> r = q.vq.get_used(ub);
      if (!r.ok()) {
        fail_ring(q.index == kTxQueue ? "tx used" : "rx used", r.error);
        break;
      }
      if (!r.value) break;
      const uint64_t addr = (q.index == kTxQueue ? tx_bufs_ : rx_bufs_) + ub.token * stride_;
      if (q.index == kTxQueue && addr == fault_buffer_) {
        rep_.fault_buffer_used = true;  // the unmapped buffer: never to come back
        continue;
      }
      if (!unmap_buffer(addr, q.index == kTxQueue ? hdr_ + o_.frame_size : kRxBufferSize)) break;
      if (q.index == kTxQueue) {
        free_slots_.push_back(static_cast<uint32_t>(ub.token));
        continue;
      }
      check_echo(ub);
      if (!post_rx(static_cast<uint32_t>(ub.token))) break;
    }
    if (q.index == kRxQueue && n && rx_.vq.kick_prepare()) kick(rx_);
    return n;
  }

  void check_echo(const ring::UsedBuffer& ub) {
    const uint8_t* p = host(rx_bufs_ + ub.token * stride_);
    if (o_.fault == Fault::unmap_in_flight && has_poison(p, std::min<uint64_t>(ub.len, kRxBufferSize))) ++rep_.poison_seen;
    uint16_t num_buffers = 1;
    if (hdr_ == net::kHdrLenMrg) std::memcpy(&num_buffers, p + net::kNumBuffersOffset, 2);
    uint64_t seq = 0;
    if (ub.len < hdr_ || num_buffers != 1 || !net::check_echo(p + hdr_, ub.len - hdr_, o_.frame_size, seq) ||
        seq >= o_.packets) {
      ++rep_.corrupted;
    } else if (seen_[seq]) {
      ++rep_.duplicates;
    } else {
      seen_[seq] = 1;
    }
    ++rep_.received;
    rep_.bytes += ub.len >= hdr_ ? ub.len - hdr_ : 0;
  }

  // NAPI poll of one scheduled queue (Linux virtnet_poll): up to a weight
  // of used buffers; under the weight, callbacks back on and the used ring
  // re-checked (virtqueue_napi_complete: enable_cb_prepare + poll). With
  // EVENT_IDX the enable arms the event at the next used slot. Work found
  // by the re-check keeps the queue scheduled with callbacks off again.
  size_t napi_poll(Queue& q) {
    const size_t n = reap(q, kNapiWeight);
    if (n == kNapiWeight || failed_) return n;
    if (q.vq.enable_cb()) q.vq.disable_cb();
    else q.scheduled = false;
    return n;
  }

  // Sleeps until a call eventfd fires or `d` passes. A call is the
  // interrupt: callbacks off, the queue scheduled (skb_recv_done,
  // skb_xmit_done). Its count is the number of signals since the last read.
  // With --iommu the IOTLB sockets wake it too (the next pass answers).
  template <class Duration>
  void wait_for_call(Duration d) {
    pollfd fds[4] = {{rx_.call.get(), POLLIN, 0},
                     {tx_.call.get(), POLLIN, 0},
                     {fe_.socket_fd(), POLLIN, 0},
                     {fe_.backend_fd(), POLLIN, 0}};
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
    if (::poll(fds, dma_ ? 4 : 2, static_cast<int>(std::min<decltype(ms)>(ms, 1000))) <= 0) return;  // timeout or EINTR
    for (int i = 0; i < 2; ++i) {
      Queue& q = i == 0 ? rx_ : tx_;
      if (!(fds[i].revents & POLLIN) || !take_calls(q)) continue;
      q.vq.disable_cb();
      q.scheduled = true;
    }
  }

  // Reads a call eventfd: the signals since the last read, counted.
  bool take_calls(Queue& q) {
    uint64_t count = 0;
    if (::read(q.call.get(), &count, sizeof count) != sizeof count) return false;
    *q.calls += count;
    return true;
  }
  bool broken_ring() {
    for (Queue* q : {&rx_, &tx_}) {
      take_err(*q);
      if (*q->err_signals == 0) continue;
      rep_.error = std::string("the back-end broke ") + (q->index == kTxQueue ? "tx" : "rx") + " (vring " +
                   std::to_string(q->index) + "): its SET_VRING_ERR eventfd fired";
      return true;
    }
    return false;
  }
  void take_err(Queue& q) {
    uint64_t count = 0;
    if (::read(q.err.get(), &count, sizeof count) == sizeof count) *q.err_signals += count;
  }

  // --allow-drops: every frame sent and every TX buffer back, so the
  // back-end has taken every frame; an echo still to come is at most one
  // of its bursts away, which kDropSettleMs of quiet RX covers.
  bool quiescent() const {
    return o_.allow_drops && rep_.sent == o_.packets && tx_.vq.num_free() == o_.queue_size;
  }

  uint64_t tx_completed() const { return rep_.sent - (o_.queue_size - tx_.vq.num_free()); }

  // The back-end completed TX and filled no RX buffer yet: a sink does that
  // for ever (kNoEchoMs of it ends the run). A --fault run needs no echoes
  // (the back-end under test may be a sink), and with --allow-drops the
  // frames not returned are counted as dropped.
  bool no_echo_yet() const {
    return o_.fault == Fault::none && !o_.allow_drops && rep_.received == 0 && tx_completed() > 0;
  }

  // For a stall message: which ring the front-end was waiting on, and why.
  std::string waiting_on() const {
    const uint64_t tx_pending = o_.queue_size - tx_.vq.num_free();
    const char* how = o_.notify == Notify::irq ? "for a call" : "for used buffers";
    std::string s = free_slots_.empty()
                        ? std::string(how) + " on tx (vring 1): TX ring full, " + std::to_string(tx_pending) +
                              " buffers not completed by the back-end"
                        : std::string(how) + " on rx (vring 0): " + std::to_string(rep_.sent - rep_.received) +
                              " frames sent and not echoed, " + std::to_string(tx_pending) +
                              " TX buffers not completed";
    return s + " (" + std::to_string(rx_count_) + " RX buffers posted, " + std::to_string(rep_.sent) + " of " +
           std::to_string(o_.packets) + " frames sent)";
  }

  const DriveOptions& o_;
  boost::asio::io_context& io_;
  Frontend& fe_;
  GuestMemfd& mem_;
  DmaDomain* const dma_;  // --iommu
  DriveReport& rep_;
  const uint64_t features_;  // negotiated
  const size_t hdr_;
  const uint32_t rx_count_;
  const uint64_t window_;
  const uint64_t stride_;  // between two buffers
  const uint64_t rx_ring_, tx_ring_, rx_bufs_, tx_bufs_;  // driver addresses
  Queue rx_, tx_;
  std::vector<uint32_t> free_slots_;  // TX slots (and buffer tokens) not in flight
  std::vector<uint8_t> seen_;         // by sequence number
  bool failed_ = false;               // a ring error ended the run
  bool stopped_ = false;              // a terminal fault: nothing more is sent
  bool raw_written_ = false;          // a raw fault's descriptor, which TX's used ring must not be read past
  uint64_t fault_buffer_ = UINT64_MAX;  // unmap_in_flight's buffer
};

}  // namespace

std::string DriveReport::text() const {
  std::ostringstream o;
  o << "packets_sent=" << sent << " packets_received=" << received << " echoed=" << echoed()
    << " dropped=" << dropped << " bytes=" << bytes << " seconds=" << seconds << " mpps=" << mpps()
    << " corrupted=" << corrupted << " duplicates=" << duplicates << " lost=" << lost
    << " ring_errors=" << ring_errors << " kicks=" << kicks << " calls=" << calls() << " rx_calls=" << rx_calls
    << " tx_calls=" << tx_calls << " event_idx=" << event_idx << " rx_err_signals=" << rx_err_signals
    << " tx_err_signals=" << tx_err_signals << " errors=" << errors();
  if (iommu)
    o << " iommu=1 iommu_strict=" << iommu_strict << " iotlb_misses=" << iotlb.misses
      << " iotlb_misses_refused=" << iotlb.misses_refused << " iotlb_updates=" << iotlb.updates
      << " iotlb_invalidates=" << iotlb.invalidates << " iotlb_access_fails=" << iotlb.access_fails;
  if (fault != Fault::none) o << " fault=" << info(fault).name << " fault_injected=" << fault_injected;
  if (fault == Fault::unmap_in_flight)
    o << " poison_seen=" << poison_seen << " fault_buffer_used=" << fault_buffer_used;
  if (!error.empty()) o << " error=\"" << error << '"';
  return o.str();
}

DriveReport run_drive(const DriveOptions& o) {
  DriveReport rep;
  rep.fault = o.fault;
  rep.iommu = o.iommu;
  rep.iommu_strict = o.iommu_strict;
  try {
    boost::asio::io_context io;
    Frontend fe(connect_unix(io, o.socket_path));
    const uint64_t wanted = feature_bit(VIRTIO_F_VERSION_1) | (o.packed ? feature_bit(VIRTIO_F_RING_PACKED) : 0) |
                            (o.iommu ? feature_bit(kFeatureAccessPlatform) : 0);
    const uint64_t optional =
        (o.event_idx ? feature_bit(VIRTIO_RING_F_EVENT_IDX) : 0) | feature_bit(net::kFeatureMrgRxbuf);
    // QEMU's condition for a back-end behind a vIOMMU (research notes 1.5).
    const uint64_t wanted_protocol =
        o.iommu ? feature_bit(protocol_feature::BACKEND_REQ) | feature_bit(protocol_feature::REPLY_ACK) : 0;
    uint64_t features = 0;
    if (ProtocolError e = fe.negotiate(wanted, optional, features, wanted_protocol); e != ProtocolError::ok) {
      rep.protocol_failed = true;
      rep.error = std::string(name(e)) + ": " + fe.detail();
      if (o.iommu && e == ProtocolError::unsupported_features)
        rep.error = "--iommu: the back-end cannot sit behind an IOMMU (it must offer VIRTIO_F_ACCESS_PLATFORM, "
                    "bit 33, and the protocol features BACKEND_REQ, bit 5, and REPLY_ACK, bit 3): " + rep.error;
      return rep;
    }
    const uint64_t qs = o.queue_size;
    // Rings (page-rounded with --iommu), buffers, and room for alignment.
    GuestMemfd mem(2 * ring::SplitLayout::contiguous_bytes(o.queue_size) + 2 * qs * 16 +
                   2 * qs * buffer_stride(o) + (1 << 20));
    std::optional<DmaDomain> dma;
    if (o.iommu) {
      dma.emplace(mem.mapping());
      if (ProtocolError e = fe.open_backend_channel(*dma); e != ProtocolError::ok) {
        rep.protocol_failed = true;
        rep.error = std::string("SET_BACKEND_REQ_FD: ") + name(e) + ": " + fe.detail();
        return rep;
      }
    }
    DmaDomain* const domain = dma ? &*dma : nullptr;
    rep.event_idx = features & feature_bit(VIRTIO_RING_F_EVENT_IDX);
    if (o.packed)
      Traffic<ring::PackedDriver<SharedMemory>, ring::PackedLayout>(o, io, fe, mem, domain, features, rep).run();
    else Traffic<ring::SplitDriver<SharedMemory>, ring::SplitLayout>(o, io, fe, mem, domain, features, rep).run();
    rep.iotlb = fe.iotlb();
    fe.connection().close();
  } catch (const std::exception& e) {
    rep.protocol_failed = true;
    rep.error = e.what();
  }
  return rep;
}

int exit_code(const DriveReport& rep, const DriveOptions& o) {
  if (o.fault == Fault::unmap_in_flight)
    return rep.fault_injected && !rep.protocol_failed && rep.iotlb.misses_refused > 0 && rep.poison_seen == 0 &&
                   !rep.fault_buffer_used && rep.tx_err_signals > 0
               ? 0
               : 1;
  if (o.fault != Fault::none) return rep.fault_injected && !rep.protocol_failed ? 0 : 1;
  return rep.errors() == 0 && rep.sent == o.packets && rep.echoed() + rep.dropped == o.packets ? 0 : 1;
}

int drive(const DriveOptions& o) {
  const DriveReport rep = run_drive(o);
  std::printf("virtiosim vhost-user drive: %s\n", rep.text().c_str());
  std::fflush(stdout);
  if (!rep.error.empty()) std::fprintf(stderr, "virtiosim vhost-user drive: %s\n", rep.error.c_str());
  return exit_code(rep, o);
}

}  // namespace virtiosim::vhost_user
