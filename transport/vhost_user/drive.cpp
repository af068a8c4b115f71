#include "transport/vhost_user/drive.h"

#include <sys/eventfd.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <vector>

#include "models/ring/packed_driver.h"
#include "models/ring/split_driver.h"
#include "transport/vhost_user/frontend.h"
#include "transport/vhost_user/net.h"

namespace virtiosim::vhost_user {

using ring::feature_bit;

namespace {

constexpr uint32_t kRxBufferSize = 2048;
constexpr uint32_t kTxSlotSize = 2048;
constexpr uint8_t kStatusDriverOk = 0x0f;  // ACKNOWLEDGE | DRIVER | DRIVER_OK | FEATURES_OK

struct Rings {
  uint64_t rx_ring = 0, tx_ring = 0;
  uint64_t rx_buffers = 0, tx_slots = 0;
};

template <class Layout>
RingAddresses addresses(const Layout& l);
template <>
RingAddresses addresses(const ring::PackedLayout& l) { return {l.desc, l.driver_event, l.device_event}; }
template <>
RingAddresses addresses(const ring::SplitLayout& l) { return {l.desc, l.avail, l.used}; }

// The traffic loop, for one ring layout.
template <class Driver, class Layout>
void traffic(const DriveOptions& o, Frontend& fe, GuestMemfd& mem, uint64_t features, DriveReport& rep) {
  const uint32_t qs = o.queue_size;
  const size_t hdr = net::header_len(features);
  const uint64_t rx_ring = mem.alloc(Layout::contiguous_bytes(qs), 64);
  const uint64_t tx_ring = mem.alloc(Layout::contiguous_bytes(qs), 64);
  const uint64_t rx_bufs = mem.alloc(uint64_t{qs} * kRxBufferSize, 64);
  const uint64_t tx_bufs = mem.alloc(uint64_t{qs} * kTxSlotSize, 64);
  const Layout rxl = Layout::place(rx_ring, qs), txl = Layout::place(tx_ring, qs);
  const ring::Features f{features};
  Driver rx(mem.memory(), rxl, f), tx(mem.memory(), txl, f);

  Fd rx_call(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), rx_kick(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  Fd tx_call(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), tx_kick(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  // Busy polling: used-buffer signals are not wanted.
  rx.disable_cb();
  tx.disable_cb();
  const uint32_t fresh = o.packed ? ring::encode_vring_base_packed({}) : 0;  // VU2: 0x80008000 for packed
  ProtocolError e = fe.set_mem_table(mem);
  if (e == ProtocolError::ok) e = fe.start_ring(0, qs, fresh, addresses(rxl), mem, rx_call.get(), rx_kick.get());
  if (e == ProtocolError::ok) e = fe.start_ring(1, qs, fresh, addresses(txl), mem, tx_call.get(), tx_kick.get());
  if (e == ProtocolError::ok) e = fe.set_status(kStatusDriverOk);
  if (e != ProtocolError::ok) {
    rep.protocol_failed = true;
    rep.error = std::string(name(e)) + ": " + fe.detail();
    return;
  }
  auto kick = [&](const Fd& fd) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(fd.get(), &one, sizeof one);
    ++rep.kicks;
  };
  auto fail_ring = [&](const char* which, ring::RingError re) {
    ++rep.ring_errors;
    rep.error = std::string(which) + ": " + ring::name(re);
  };

  // RX stocked full; each buffer's token is its index.
  for (uint32_t i = 0; i < qs; ++i) {
    const ring::Segment in{rx_bufs + uint64_t{i} * kRxBufferSize, kRxBufferSize};
    if (ring::RingError re = rx.add({}, {&in, 1}, i); re != ring::RingError::ok) return fail_ring("rx add", re);
  }
  if (rx.kick_prepare()) kick(rx_kick);

  std::vector<uint32_t> free_slots;
  for (uint32_t i = qs; i-- > 0;) free_slots.push_back(i);
  std::vector<uint8_t> seen(o.packets, 0);
  // At most half a ring in flight, so RX always has room for every echo and
  // the back-end never has to drop.
  const uint64_t window = std::max<uint32_t>(qs / 2, 1);
  const size_t wire = hdr + o.frame_size;

  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  auto last_progress = start;
  ring::UsedBuffer ub;
  uint32_t polls = 0;
  while (rep.received < o.packets) {
    bool progress = false;
    // Send.
    uint32_t added = 0;
    while (rep.sent < o.packets && rep.sent - rep.received < window && !free_slots.empty()) {
      const uint32_t slot = free_slots.back();
      const uint64_t gpa = tx_bufs + uint64_t{slot} * kTxSlotSize;
      uint8_t* p = mem.host(gpa);
      std::memset(p, 0, hdr);
      net::make_frame(p + hdr, o.frame_size, rep.sent);
      const ring::Segment out{gpa, static_cast<uint32_t>(wire)};
      const ring::RingError re = tx.add({&out, 1}, {}, slot);
      if (re == ring::RingError::no_space) break;
      if (re != ring::RingError::ok) return fail_ring("tx add", re);
      free_slots.pop_back();
      ++rep.sent;
      ++added;
    }
    if (added && tx.kick_prepare()) kick(tx_kick);
    // Reap TX completions.
    for (;;) {
      const ring::Result<bool> r = tx.get_used(ub);
      if (!r.ok()) return fail_ring("tx used", r.error);
      if (!r.value) break;
      free_slots.push_back(static_cast<uint32_t>(ub.token));
      progress = true;
    }
    // Take echoes, check them, give the buffer back.
    uint32_t refilled = 0;
    for (;;) {
      const ring::Result<bool> r = rx.get_used(ub);
      if (!r.ok()) return fail_ring("rx used", r.error);
      if (!r.value) break;
      progress = true;
      const uint32_t i = static_cast<uint32_t>(ub.token);
      const uint64_t gpa = rx_bufs + uint64_t{i} * kRxBufferSize;
      const uint8_t* p = mem.host(gpa);
      uint16_t num_buffers = 1;
      if (hdr == net::kHdrLenMrg) std::memcpy(&num_buffers, p + net::kNumBuffersOffset, 2);
      uint64_t seq = 0;
      if (ub.len < hdr || num_buffers != 1 ||
          !net::check_echo(p + hdr, ub.len - hdr, o.frame_size, seq) || seq >= o.packets) {
        ++rep.corrupted;
      } else if (seen[seq]) {
        ++rep.duplicates;
      } else {
        seen[seq] = 1;
      }
      ++rep.received;
      rep.bytes += ub.len >= hdr ? ub.len - hdr : 0;
      const ring::Segment in{gpa, kRxBufferSize};
      if (ring::RingError re = rx.add({}, {&in, 1}, i); re != ring::RingError::ok) return fail_ring("rx add", re);
      ++refilled;
    }
    if (refilled && rx.kick_prepare()) kick(rx_kick);
    const auto now = (++polls & 255) == 0 || progress ? clock::now() : last_progress;
    if (progress || added) last_progress = now;
    else if (now - last_progress > std::chrono::seconds(o.timeout_s)) {
      rep.error = "no echo for " + std::to_string(o.timeout_s) + " s";
      break;
    }
  }
  rep.seconds = std::chrono::duration<double>(clock::now() - start).count();
  rep.lost = rep.sent - (rep.received - rep.corrupted - rep.duplicates);

  // Stop both rings (GET_VRING_BASE) so the back-end lets go cleanly.
  uint32_t base = 0;
  for (uint32_t q : {0u, 1u})
    if (ProtocolError ge = fe.get_vring_base(q, base); ge != ProtocolError::ok) {
      rep.protocol_failed = true;
      rep.error = std::string("GET_VRING_BASE: ") + name(ge) + ": " + fe.detail();
    }
}

}  // namespace

std::string DriveReport::text() const {
  std::ostringstream o;
  o << "packets_sent=" << sent << " packets_received=" << received << " bytes=" << bytes
    << " seconds=" << seconds << " mpps=" << mpps() << " corrupted=" << corrupted
    << " duplicates=" << duplicates << " lost=" << lost << " ring_errors=" << ring_errors
    << " kicks=" << kicks << " errors=" << errors();
  if (!error.empty()) o << " error=\"" << error << '"';
  return o.str();
}

DriveReport run_drive(const DriveOptions& o) {
  DriveReport rep;
  try {
    boost::asio::io_context io;
    Frontend fe(connect_unix(io, o.socket_path));
    const uint64_t wanted = feature_bit(VIRTIO_F_VERSION_1) | (o.packed ? feature_bit(VIRTIO_F_RING_PACKED) : 0);
    const uint64_t optional = feature_bit(VIRTIO_RING_F_EVENT_IDX) | feature_bit(net::kFeatureMrgRxbuf);
    uint64_t features = 0;
    if (ProtocolError e = fe.negotiate(wanted, optional, features); e != ProtocolError::ok) {
      rep.protocol_failed = true;
      rep.error = std::string(name(e)) + ": " + fe.detail();
      return rep;
    }
    const uint64_t qs = o.queue_size;
    GuestMemfd mem(2 * ring::SplitLayout::contiguous_bytes(o.queue_size) + 2 * qs * 16 + qs * (kRxBufferSize + kTxSlotSize) +
                   (1 << 20));
    if (o.packed) traffic<ring::PackedDriver<SharedMemory>, ring::PackedLayout>(o, fe, mem, features, rep);
    else traffic<ring::SplitDriver<SharedMemory>, ring::SplitLayout>(o, fe, mem, features, rep);
    fe.connection().close();
  } catch (const std::exception& e) {
    rep.protocol_failed = true;
    rep.error = e.what();
  }
  return rep;
}

int drive(const DriveOptions& o) {
  const DriveReport rep = run_drive(o);
  std::printf("virtiosim vhost-user drive: %s\n", rep.text().c_str());
  return rep.errors() == 0 && rep.received == o.packets ? 0 : 1;
}

}  // namespace virtiosim::vhost_user
