#include "transport/vhost_user/backend.h"
#include "transport/vhost_user/byte_sum.h"

#include <fcntl.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

namespace virtiosim::vhost_user {

namespace {

using ring::feature_bit;

// The first bytes of a TX segment, prefetched as it is popped: a 64-byte
// frame behind its 12-byte net header spans two or three cache lines.
// Longer frames are read sequentially and the hardware prefetcher follows.
// always_inline: GCC finds a function that only prefetches free of side
// effects and deletes calls to it before inlining them.
constexpr size_t kCacheLine = 64;
constexpr uint32_t kDescsPerLine = kCacheLine / sizeof(vring_packed_desc);

[[gnu::always_inline]] inline void prefetch_head(const uint8_t* p, size_t len) {
  if (len == 0) return;
  __builtin_prefetch(p);
  if (len > kCacheLine) __builtin_prefetch(p + kCacheLine);
  __builtin_prefetch(p + std::min(len, 2 * kCacheLine) - 1);
}

// The same lines of an RX segment, for writing: the echo copy will store
// there, and the lines are in the front-end's cache.
[[gnu::always_inline]] inline void prefetch_for_write(uint8_t* p, size_t len) {
  if (len == 0) return;
  __builtin_prefetch(p, 1);
  if (len > kCacheLine) __builtin_prefetch(p + kCacheLine, 1);
  __builtin_prefetch(p + std::min(len, 2 * kCacheLine) - 1, 1);
}

// Segments every chain of a burst has room for from the start: a frame, or
// a net header and a frame.
constexpr size_t kSegmentsReserved = 2;

// A chain's readable segments as one byte stream, read front to back.
class SegmentReader {
 public:
  explicit SegmentReader(const std::vector<ring::Segment>& segments) : segments_(segments) {}

  void skip(uint64_t n) {
    while (n > 0 && i_ < segments_.size()) {
      const uint64_t step = std::min<uint64_t>(n, segments_[i_].len - off_);
      n -= step;
      advance(step);
    }
  }
  // Copies the next n bytes to dst (memmove: dst may be guest memory too).
  template <class Mem>
  void read(Mem& mem, uint8_t* dst, uint64_t n) {
    while (n > 0 && i_ < segments_.size()) {
      const ring::Segment& s = segments_[i_];
      const uint64_t step = std::min<uint64_t>(n, s.len - off_);
      if (step > 0) std::memmove(dst, mem.host(s.addr + off_, step), step);
      dst += step;
      n -= step;
      advance(step);
    }
  }

 private:
  void advance(uint64_t step) {
    off_ += static_cast<uint32_t>(step);
    if (off_ == segments_[i_].len) ++i_, off_ = 0;
  }

  const std::vector<ring::Segment>& segments_;
  size_t i_ = 0;
  uint32_t off_ = 0;
};

// A ring's descriptor ring, driver area and device area, in bytes.
std::array<uint64_t, 3> ring_area_bytes(bool packed, uint32_t num) {
  if (packed) return {ring::PackedLayout::desc_bytes(num), 4, 4};
  return {ring::SplitLayout::desc_bytes(num),
          ring::SplitLayout::avail_bytes(num),  // with used_event
          ring::SplitLayout::used_bytes(num)};  // with avail_event
}

// The accesses the device makes to each ring area, as DPDK translates them
// (vring_translate_split/packed): the split used ring is read too (its idx,
// when a ring resumes, as Linux vhost_vq_init_access), the packed
// descriptor ring is written (used descriptors), the packed device area
// only written.
std::array<uint8_t, 3> ring_area_perms(bool packed) {
  if (packed) return {iotlb::kReadWrite, iotlb::kRead, iotlb::kWrite};
  return {iotlb::kRead, iotlb::kRead, iotlb::kReadWrite};
}

uint64_t now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

void signal_eventfd(const Fd& fd) {
  if (!fd.valid()) return;
  const uint64_t one = 1;
  // A full eventfd counter (EAGAIN) still means "signalled".
  [[maybe_unused]] ssize_t n = ::write(fd.get(), &one, sizeof one);
}

}  // namespace

Backend::Backend(boost::asio::io_context& io, BackendOptions opts) : io_(io), opts_(opts) {
  if (opts_.queue_pairs == 0) opts_.queue_pairs = 1;
  vrings_.resize(size_t{opts_.queue_pairs} * 2);
  counters_.vring_used.assign(vrings_.size(), 0);
  if (opts_.burst == 0) opts_.burst = 1;
  // Room for the usual frame in every chain of the burst now, so that not
  // even the first bursts allocate; a longer chain grows its vector once
  // and keeps it.
  chains_.resize(opts_.burst);
  for (ring::Chain& c : chains_) c.readable.reserve(kSegmentsReserved);
  offered_features_ = feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_F_RING_PACKED) |
                      feature_bit(VIRTIO_RING_F_EVENT_IDX) | feature_bit(VIRTIO_RING_F_INDIRECT_DESC) |
                      feature_bit(net::kFeatureMrgRxbuf) | feature_bit(kFeatureProtocolFeatures);
  if (opts_.queue_pairs > 1) offered_features_ |= feature_bit(net::kFeatureMq);
  offered_protocol_features_ = feature_bit(protocol_feature::MQ) | feature_bit(protocol_feature::REPLY_ACK) |
                               feature_bit(protocol_feature::STATUS);
  // QEMU refuses a back-end that offers ACCESS_PLATFORM without BACKEND_REQ
  // and REPLY_ACK ("IOMMU support requires reply-ack and backend-req
  // protocol features"), and acks bit 33 only for a device behind a vIOMMU.
  if (!opts_.check) {
    offered_features_ |= feature_bit(kFeatureAccessPlatform);
    offered_protocol_features_ |= feature_bit(protocol_feature::BACKEND_REQ);
  }
  if (opts_.check) check_ = std::make_unique<PeerCheck>(opts_.log);
}

Backend::~Backend() {
  on_disconnect = nullptr;
  if (conn_) disconnect();
}

void Backend::attach(Socket socket) {
  if (conn_) disconnect();
  conn_ = std::make_unique<Connection>(std::move(socket));
  ++counters_.connections;
  features_ = protocol_features_ = status_ = 0;
  features_set_ = protocol_features_set_ = owner_set_ = false;
  clear_iotlb();
  if (opts_.log) std::fprintf(stderr, "vhost-user: front-end connected\n");
  arm_read();
}

void Backend::arm_read() {
  Connection* c = conn_.get();
  conn_->async_wait_readable([this, c](const boost::system::error_code& ec) {
    if (ec || c != conn_.get()) return;  // closed, or a stale wait of an older connection
    on_readable();
  });
}

void Backend::on_readable() {
  RawMessage raw;
  ReceiveResult rr = conn_->receive(raw);
  if (rr.error != ProtocolError::ok) {
    close_with(rr.error, rr.detail);
    return;
  }
  if (rr.peer_closed) {
    if (opts_.log) std::fprintf(stderr, "vhost-user: front-end disconnected\n");
    disconnect();
    return;
  }
  Decoded d = decode_request(raw);
  if (d.error != ProtocolError::ok) {
    close_with(d.error, d.detail);
    return;
  }
  ProtocolError e;
  try {
    e = handle(d.message, raw);
  } catch (const OutOfRegion& ex) {
    e = ProtocolError::vring_addr_unmapped;
    d.detail = ex.what();
  }
  if (e != ProtocolError::ok) {
    if (d.message.need_reply() && (protocol_features_ & feature_bit(protocol_feature::REPLY_ACK)))
      ack(d.message, 1);
    close_with(e, std::string(name(d.message.request)) + (d.detail.empty() ? "" : ": " + d.detail));
    return;
  }
  if (conn_) arm_read();
}

ProtocolError Backend::close_with(ProtocolError e, const std::string& detail) {
  last_error_ = e;
  ++counters_.protocol_errors;
  if (opts_.log) std::fprintf(stderr, "vhost-user: %s (%s): closing the connection\n", name(e), detail.c_str());
  disconnect();
  return e;
}

void Backend::disconnect() {
  // Drain and stop every ring while the memory is still mapped: buffers the
  // front-end published before it left are counted once.
  for (uint32_t i = 0; i < vrings_.size(); ++i) {
    try {
      if (running(vrings_[i])) drain(i);
    } catch (const OutOfRegion&) {
      // The front-end's rings point outside its memory: nothing to drain.
    }
    stop_ring(i);
    vrings_[i] = Vring{};
  }
  mem_.reset();
  clear_iotlb();
  backend_channel_.reset();
  if (conn_) conn_->close();
  conn_.reset();
  if (on_disconnect) boost::asio::post(io_, on_disconnect);
}

ProtocolError Backend::reply(Request r, const Payload& p) { return conn_->send(encode_reply(r, p)); }

ProtocolError Backend::ack(const Message& msg, uint64_t status) {
  if (!msg.need_reply() || !(protocol_features_ & feature_bit(protocol_feature::REPLY_ACK))) return ProtocolError::ok;
  if (info(msg.request).reply != PayloadKind::none) return ProtocolError::ok;  // answered by its own reply
  return conn_ ? conn_->send(encode_reply(msg.request, status)) : ProtocolError::io_error;
}

ProtocolError Backend::vring_index(uint32_t index, std::string& detail) const {
  if (index < vrings_.size()) return ProtocolError::ok;
  detail = "vring " + std::to_string(index) + " of " + std::to_string(vrings_.size());
  return ProtocolError::vring_index_out_of_range;
}

bool Backend::packed() const { return features_ & feature_bit(VIRTIO_F_RING_PACKED); }
size_t Backend::net_header_len() const { return net::header_len(features_); }

ProtocolError Backend::handle(Message& msg, RawMessage& raw) {
  std::string detail;
  auto state = [&] { return std::get<VringState>(msg.payload); };
  auto u64 = [&] { return std::get<uint64_t>(msg.payload); };
  auto fail = [&](ProtocolError e, std::string why) {
    if (opts_.log) std::fprintf(stderr, "vhost-user: %s: %s\n", name(msg.request), why.c_str());
    return e;
  };

  switch (msg.request) {
    case Request::SET_OWNER:
      owner_set_ = true;
      return ack(msg, 0);

    case Request::RESET_OWNER:
    case Request::RESET_DEVICE:
      if (msg.request == Request::RESET_DEVICE &&
          !(protocol_features_ & feature_bit(protocol_feature::RESET_DEVICE)))
        return fail(ProtocolError::out_of_order, "RESET_DEVICE not negotiated");
      for (uint32_t i = 0; i < vrings_.size(); ++i) stop_ring(i), vrings_[i] = Vring{};
      features_set_ = false;
      status_ = 0;
      clear_iotlb();
      return ack(msg, 0);

    case Request::GET_FEATURES:
      return reply(msg.request, offered_features_);

    case Request::SET_FEATURES: {
      const uint64_t f = u64();
      if (f & ~offered_features_) return fail(ProtocolError::unsupported_features, "bits not offered");
      const bool layout_change = features_set_ && ((f ^ features_) & feature_bit(VIRTIO_F_RING_PACKED));
      bool any_started = false;
      for (const Vring& v : vrings_) any_started |= v.started;
      if (any_started && layout_change) return fail(ProtocolError::out_of_order, "ring layout changed while started");
      const bool changed = features_set_ && f != features_;
      features_ = f;
      features_set_ = true;
      // A saved base is in the old layout's encoding (VU2): not applied to
      // the other layout.
      if (layout_change)
        for (Vring& v : vrings_) v.base_set = false;
      // Without VHOST_USER_F_PROTOCOL_FEATURES there is no SET_VRING_ENABLE:
      // every ring is enabled. With it, no ring is disabled by SET_FEATURES
      // (vhost-user.rst "Ring states").
      if (!(f & feature_bit(kFeatureProtocolFeatures)))
        for (Vring& v : vrings_) v.enabled = true;
      // Started rings continue, from where they stand, with the new features.
      if (changed && any_started)
        if (ProtocolError e = rebuild_rings(); e != ProtocolError::ok) return e;
      return ack(msg, 0);
    }

    case Request::GET_PROTOCOL_FEATURES:
      return reply(msg.request, offered_protocol_features_);

    case Request::SET_PROTOCOL_FEATURES: {
      const uint64_t f = u64();
      if (f & ~offered_protocol_features_) return fail(ProtocolError::unsupported_features, "protocol bits not offered");
      protocol_features_ = f;
      protocol_features_set_ = true;
      return ack(msg, 0);
    }

    case Request::GET_QUEUE_NUM:
      return reply(msg.request, uint64_t{opts_.queue_pairs});

    case Request::SET_MEM_TABLE: {
      std::shared_ptr<const MemoryTable> t;
      if (ProtocolError e = MemoryTable::map(std::get<MemTable>(msg.payload), raw.fds, t, detail);
          e != ProtocolError::ok)
        return fail(e, detail);
      // Rings keep running on the new table, from where they stand.
      for (Vring& v : vrings_) std::visit([](auto& d) {
          if constexpr (!std::is_same_v<std::decay_t<decltype(d)>, std::monostate>) (void)d.flush();
        }, v.dev);
      mem_ = std::move(t);
      clear_iotlb();  // its entries point into the old mappings (DPDK: "previous HVAs are now invalid")
      if (ProtocolError e = rebuild_rings(); e != ProtocolError::ok) return e;
      return ack(msg, 0);
    }

    case Request::SET_VRING_NUM: {
      const VringState s = state();
      if (ProtocolError e = vring_index(s.index, detail); e != ProtocolError::ok) return fail(e, detail);
      if (vrings_[s.index].started) return fail(ProtocolError::out_of_order, "SET_VRING_NUM on a started ring");
      if (s.num == 0 || s.num > ring::kMaxQueueSize || (features_set_ && !packed() && (s.num & (s.num - 1))))
        return fail(ProtocolError::bad_vring_num, "num " + std::to_string(s.num));
      vrings_[s.index].num = s.num;
      return ack(msg, 0);
    }

    case Request::SET_VRING_ADDR: {
      if (ProtocolError e = set_vring_addr(std::get<VringAddr>(msg.payload)); e != ProtocolError::ok) return e;
      return ack(msg, 0);
    }

    case Request::SET_VRING_BASE: {
      const VringState s = state();
      if (ProtocolError e = vring_index(s.index, detail); e != ProtocolError::ok) return fail(e, detail);
      Vring& v = vrings_[s.index];
      if (v.started) return fail(ProtocolError::out_of_order, "SET_VRING_BASE on a started ring");
      if (!packed() && (s.num >> 16)) return fail(ProtocolError::bad_vring_base, "split base above 16 bits");
      if (packed() && v.num) {
        const ring::RingState rs = ring::decode_vring_base_packed(s.num, ring::VringBaseCompat::low_half_only);
        if (rs.last_avail_idx >= v.num || rs.last_used_idx >= v.num)
          return fail(ProtocolError::bad_vring_base, "index beyond the ring");
      }
      v.base = s.num;
      v.base_set = true;
      if (check_) check_->set_base(s.index, s.num, packed());
      return ack(msg, 0);
    }

    case Request::GET_VRING_BASE: {
      const VringState s = state();
      if (ProtocolError e = vring_index(s.index, detail); e != ProtocolError::ok) return fail(e, detail);
      Vring& v = vrings_[s.index];
      if (running(v)) drain(s.index);
      stop_ring(s.index);
      if (check_ && v.base_set) check_->answered_base(s.index, v.base, packed());
      return reply(msg.request, VringState{s.index, v.base});
    }

    case Request::SET_VRING_KICK:
    case Request::SET_VRING_CALL:
    case Request::SET_VRING_ERR: {
      const uint64_t p = u64();
      const uint32_t index = static_cast<uint32_t>(p & kVringIdxMask);
      if (ProtocolError e = vring_index(index, detail); e != ProtocolError::ok) return fail(e, detail);
      Vring& v = vrings_[index];
      Fd fd = (p & kVringNoFdMask) ? Fd{} : std::move(raw.fds.front());
      if (msg.request == Request::SET_VRING_CALL) {
        v.call = std::move(fd);
        v.call_set = true;
      } else if (msg.request == Request::SET_VRING_ERR) {
        v.err = std::move(fd);
      } else {
        if (v.started) stop_ring(index);
        v.kick = std::move(fd);
        if (ProtocolError e = start_ring(index); e != ProtocolError::ok) return e;
      }
      return ack(msg, 0);
    }

    case Request::SET_VRING_ENABLE: {
      const VringState s = state();
      if (ProtocolError e = vring_index(s.index, detail); e != ProtocolError::ok) return fail(e, detail);
      if (!protocol_features_negotiated())
        return fail(ProtocolError::out_of_order, "SET_VRING_ENABLE before protocol features were negotiated");
      if (s.num > 1) return fail(ProtocolError::bad_vring_flags, "enable " + std::to_string(s.num));
      Vring& v = vrings_[s.index];
      if (!s.num && running(v)) drain(s.index);
      v.enabled = s.num == 1;
      return ack(msg, 0);
    }

    case Request::SET_STATUS:
      if (!(protocol_features_ & feature_bit(protocol_feature::STATUS)))
        return fail(ProtocolError::out_of_order, "SET_STATUS without the STATUS protocol feature");
      status_ = u64() & 0xff;
      if (status_ == 0)  // a device reset: every ring stops
        for (uint32_t i = 0; i < vrings_.size(); ++i) {
          if (running(vrings_[i])) drain(i);
          stop_ring(i);
        }
      return ack(msg, 0);

    case Request::GET_STATUS:
      if (!(protocol_features_ & feature_bit(protocol_feature::STATUS)))
        return fail(ProtocolError::out_of_order, "GET_STATUS without the STATUS protocol feature");
      return reply(msg.request, status_);

    case Request::SET_BACKEND_REQ_FD: {
      if (!(protocol_features_ & feature_bit(protocol_feature::BACKEND_REQ)))
        return fail(ProtocolError::out_of_order, "SET_BACKEND_REQ_FD without the BACKEND_REQ protocol feature");
      Socket s(io_);
      boost::system::error_code ec;
      s.assign(boost::asio::local::stream_protocol(), raw.fds.front().release(), ec);
      if (ec) return fail(ProtocolError::io_error, "back-end channel: " + ec.message());
      backend_channel_ = std::make_unique<Connection>(std::move(s));
      arm_backend_read();
      return ack(msg, 0);
    }

    case Request::IOTLB_MSG:
      return iotlb_msg(msg);

    default:
      return fail(ProtocolError::unknown_request, name(msg.request));
  }
}

ProtocolError Backend::set_vring_addr(const VringAddr& a) {
  std::string detail;
  if (ProtocolError e = vring_index(a.index, detail); e != ProtocolError::ok) return e;
  Vring& v = vrings_[a.index];
  if (a.flags != 0) return ProtocolError::bad_vring_flags;  // logging (VHOST_VRING_F_LOG) is not offered
  if (!mem_ || !v.num || !features_set_) return ProtocolError::out_of_order;
  if (v.started) return ProtocolError::out_of_order;
  const auto [desc_bytes, avail_bytes, used_bytes] = ring_area_bytes(packed(), v.num);
  // Behind an IOMMU the addresses are IOVAs, checked when the ring is
  // translated (Linux vhost vq_access_ok: "Access validation occurs at
  // prefetch time").
  if (!iommu() && (!mem_->uva_to_gpa(a.desc_user_addr, desc_bytes) || !mem_->uva_to_gpa(a.avail_user_addr, avail_bytes) ||
                   !mem_->uva_to_gpa(a.used_user_addr, used_bytes)))
    return ProtocolError::vring_addr_unmapped;
  v.addr = a;
  return ProtocolError::ok;
}

ProtocolError Backend::apply_base(Vring& v) {
  if (!v.base_set) return ProtocolError::ok;
  ring::RingError e = ring::RingError::ok;
  if (Packed* d = std::get_if<Packed>(&v.dev))
    e = d->set_state(ring::decode_vring_base_packed(v.base, ring::VringBaseCompat::low_half_only));
  else if (Split* s = std::get_if<Split>(&v.dev))
    e = s->set_state({static_cast<uint16_t>(v.base), true, 0, true});
  return e == ring::RingError::ok ? ProtocolError::ok : ProtocolError::bad_vring_base;
}

ProtocolError Backend::start_ring(uint32_t index) {
  Vring& v = vrings_[index];
  if (!mem_ || !v.num || !v.addr || !features_set_) return ProtocolError::out_of_order;
  const VringAddr& a = *v.addr;
  std::optional<uint64_t> desc = a.desc_user_addr, avail = a.avail_user_addr, used = a.used_user_addr;
  if (!iommu()) {
    desc = mem_->uva_to_gpa(a.desc_user_addr, 1);
    avail = mem_->uva_to_gpa(a.avail_user_addr, 1);
    used = mem_->uva_to_gpa(a.used_user_addr, 1);
  }
  if (!desc || !avail || !used) return ProtocolError::vring_addr_unmapped;
  const ring::Features f{features_};
  const SharedMemory mem(mem_, iommu() ? &iotlb_ : nullptr);
  v.translated = false;
  try {
    if (packed()) v.dev.emplace<Packed>(mem, ring::PackedLayout{*desc, *avail, *used, v.num}, f);
    else v.dev.emplace<Split>(mem, ring::SplitLayout{*desc, *avail, *used, v.num}, f);
  } catch (const ring::RingConfigError& e) {
    v.dev.emplace<std::monostate>();
    if (opts_.log) std::fprintf(stderr, "vhost-user: vring %u: %s\n", index, e.what());
    return ProtocolError::ring_failed;
  }
  // A split ring's base reads the used ring: behind an IOMMU, once translated.
  if (!iommu())
    if (ProtocolError e = apply_base(v); e != ProtocolError::ok) return e;
  v.base_pending = iommu();
  v.started = true;
  v.broken_reported = false;
  v.notifications_armed = false;
  if (opts_.log)
    std::fprintf(stderr,
                 "vhost-user: vring %u started: %s, %u entries, desc 0x%llx driver area 0x%llx device area 0x%llx "
                 "(%s), base 0x%x%s\n",
                 index, packed() ? "packed" : "split", v.num, static_cast<unsigned long long>(*desc),
                 static_cast<unsigned long long>(*avail), static_cast<unsigned long long>(*used),
                 iommu() ? "IOVA" : "guest-physical", v.base,
                 v.base_set ? "" : " (none set: a fresh ring)");
  // Behind an IOMMU the ring is touched only once translated (poll()).
  if (!iommu())
    std::visit([&](auto& d) {
      if constexpr (!std::is_same_v<std::decay_t<decltype(d)>, std::monostate>) {
        d.disable_notifications();
        if (check_) check_->start(index, mem_, {*desc, *avail, *used, v.num}, f, d.state());
      }
    }, v.dev);
  watch_kick(index);
  return ProtocolError::ok;
}

void Backend::watch_kick(uint32_t index) {
  Vring& v = vrings_[index];
  if (!v.kick.valid()) return;  // polled ring (no-fd bit)
  if (!v.kick_wait) {
    const int fd = ::dup(v.kick.get());
    if (fd < 0) return;
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    v.kick_wait = std::make_unique<boost::asio::posix::stream_descriptor>(io_, fd);
  }
  auto* w = v.kick_wait.get();
  w->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                [this, index, w](const boost::system::error_code& ec) {
                  if (ec || index >= vrings_.size() || vrings_[index].kick_wait.get() != w) return;
                  uint64_t n;
                  bool kicked = false;
                  while (::read(w->native_handle(), &n, sizeof n) == sizeof n) counters_.kicks += n, kicked = true;
                  if (check_ && kicked) check_->kicked(index);
                  watch_kick(index);
                });
}

void Backend::stop_ring(uint32_t index) {
  Vring& v = vrings_[index];
  if (check_) check_->stop(index);
  std::visit([&](auto& d) {
    using D = std::decay_t<decltype(d)>;
    if constexpr (std::is_same_v<D, Packed>) {
      (void)d.flush();
      v.base = ring::encode_vring_base_packed(d.state());
      v.base_set = true;
    } else if constexpr (std::is_same_v<D, Split>) {
      (void)d.flush();
      v.base = ring::encode_vring_base_split(d.state());
      v.base_set = true;
    }
  }, v.dev);
  v.dev.emplace<std::monostate>();
  v.started = false;
  v.kick_wait.reset();  // cancels the wait; its handler sees operation_aborted
  // DPDK flushes its IOTLB when a ring stops (commit e7cb7fdf54): entries
  // a reloaded guest driver no longer uses would otherwise stay.
  if (iommu() && v.translated) clear_iotlb();
  v.translated = false;
}

ProtocolError Backend::rebuild_rings() {
  for (uint32_t i = 0; i < vrings_.size(); ++i) {
    if (!vrings_[i].started) continue;
    stop_ring(i);  // records the state in base
    if (ProtocolError e = start_ring(i); e != ProtocolError::ok) return e;
  }
  return ProtocolError::ok;
}

template <class Dev>
void Backend::complete(Dev& dev, uint32_t index, const ring::UsedElem& e) {
  if (check_)
    if (VringWatch* w = check_->watch(index)) w->completed(e);
  (void)dev.push_used(e);  // fails only on a broken queue, seen by finish()
}

template <class Dev>
size_t Backend::pop_burst(Dev& tx, uint32_t budget) {
  // The whole burst is popped before any frame is read, and each frame's
  // first lines are prefetched as its descriptor is read: those lines sit
  // in the front-end's cache, and this way their misses overlap instead of
  // stalling once per packet (as DPDK's batched dequeue prefetches).
  const size_t max = std::min<size_t>(budget, chains_.size());
  size_t k = 0;
  while (k < max) {
    ring::Chain& c = chains_[k];
    const ring::Result<bool> r = take(tx, c);
    if (!r.ok() || !r.value) break;
    for (const ring::Segment& s : c.readable) prefetch_head(tx.mem().host(s.addr, s.len), s.len);
    if (k++ == 0) prefetch_descriptors(tx, max);
  }
  return k;
}

template <class Dev>
void Backend::prefetch_descriptors(Dev& tx, size_t n) {
  // Packed: the next descriptors of the burst, four to a line, in ring
  // order, so that their misses overlap too. Only once a buffer was found:
  // an idle poll must not pull in lines the front-end is about to write.
  // (Split: where its descriptors are is known only from the avail ring.)
  if constexpr (std::is_same_v<Dev, Packed>) {
    const ring::PackedLayout& l = tx.layout();
    uint32_t slot = tx.last_avail_idx();
    for (size_t i = 1; i < n; i += kDescsPerLine) {
      __builtin_prefetch(tx.mem().host(l.desc_addr(slot), sizeof(vring_packed_desc)));
      slot += kDescsPerLine;
      if (slot >= l.num) slot -= l.num;
    }
  }
}

template <class Dev>
size_t Backend::sink(Dev& tx, uint32_t tx_index, uint32_t budget) {
  const size_t hdr = net_header_len();
  const size_t k = pop_burst(tx, budget);
  uint64_t packets = 0, bytes = 0, sum = 0;
  for (size_t i = 0; i < k; ++i) {
    const ring::Chain& c = chains_[i];
    size_t skip = hdr;
    for (const ring::Segment& s : c.readable) {
      const uint8_t* p = tx.mem().host(s.addr, s.len);
      const size_t off = std::min<size_t>(skip, s.len);
      skip -= off;
      sum += byte_sum(p + off, s.len - off);
      bytes += s.len - off;
    }
    if (c.readable_bytes >= hdr) ++packets;
    complete(tx, tx_index, c.used(0));
  }
  // A malformed buffer (shorter than the header) adds no bytes, so the sums
  // cover the good frames only.
  counters_.tx_packets += packets;
  counters_.tx_malformed += k - packets;
  counters_.tx_bytes += bytes;
  counters_.tx_checksum += sum;
  return k;
}

template <class TxDev, class RxDev>
size_t Backend::echo(TxDev& tx, RxDev& rx, uint32_t pair, uint32_t budget) {
  const uint32_t rx_index = pair * 2, tx_index = pair * 2 + 1;
  const size_t hdr = net_header_len();
  const bool mergeable = features_ & feature_bit(net::kFeatureMrgRxbuf);
  // A broken RX ring takes nothing: TX frames stay in their ring.
  if (rx.broken()) return 0;
  // RX without a free buffer can echo nothing: take one TX frame (a
  // malformed or oversized one is still completed), not a whole burst to
  // put back on every poll while the front-end is slow to refill RX.
  const size_t k = pop_burst(tx, rx.has_available() ? budget : 1);

  // Two passes, as DPDK's batched enqueue: first every frame's RX buffers
  // are popped and their first lines prefetched for writing, so that the
  // misses on lines the front-end last touched overlap; then the frames are
  // copied and completed in order. A frame's RX buffers are
  // rx_chains_[rx_first_[i], rx_first_[i + 1]); none for a frame that is
  // only completed on TX (malformed, or too big without MRG_RXBUF).
  rx_first_.assign(1, 0);
  size_t n = 0;  // RX chains popped so far
  size_t kept = k;  // frames taken; the rest go back to TX
  for (size_t i = 0; i < k; ++i) {
    const uint64_t len = chains_[i].readable_bytes;
    size_t first = n;
    uint64_t room = 0;
    bool rx_empty = false, rx_broke = false;
    while (len >= hdr && room < len) {
      if (n - first == 1 && !mergeable) break;  // too big for one buffer
      if (rx_chains_.size() <= n) rx_chains_.emplace_back();
      const ring::Result<bool> rr = take(rx, rx_chains_[n]);
      if (!rr.ok()) { rx_broke = true; break; }  // finish() reports it
      if (!rr.value) { rx_empty = true; break; }
      for (const ring::Segment& s : rx_chains_[n].writable) prefetch_for_write(rx.mem().host(s.addr, s.len), s.len);
      room += rx_chains_[n].writable_bytes;
      ++n;
    }
    if (rx_empty || rx_broke || room < len) {
      // Not echoed: its RX buffers go back, newest first; completions
      // recorded so far stay for finish() to publish and signal.
      while (n > first) rx.discard(rx_chains_[--n]);
      if (rx_empty || rx_broke) {  // the frame stays in the TX ring
        kept = i;
        break;
      }
    }
    rx_first_.push_back(n);
  }
  // TX frames popped but not echoed go back, newest first
  // (vhost_discard_vq_desc), so the next poll takes them again in order.
  for (size_t j = k; j > kept; --j) tx.discard(chains_[j - 1]);

  for (size_t i = 0; i < kept; ++i) {
    const ring::Chain& c = chains_[i];
    const size_t first = rx_first_[i], m = rx_first_[i + 1] - first;
    if (c.readable_bytes < hdr) {
      ++counters_.tx_malformed;
    } else if (m == 0) {
      ++counters_.rx_too_big;  // can never fit: completed on TX, not echoed
    } else {
      echo_frame(tx, rx, rx_index, c, first, m, hdr);
      ++counters_.tx_packets;
      counters_.tx_bytes += c.readable_bytes - hdr;
      ++counters_.rx_packets;
      counters_.rx_bytes += c.readable_bytes - hdr;
      counters_.rx_buffers += m;
    }
    complete(tx, tx_index, c.used(0));
  }
  return kept;
}

template <class TxDev, class RxDev>
void Backend::echo_frame(TxDev& tx, RxDev& rx, uint32_t rx_index, const ring::Chain& c, size_t first, size_t m,
                         size_t hdr) {
  // The frame goes back with a zeroed header (no offloads were negotiated;
  // num_buffers = m with MRG_RXBUF) and its MAC addresses swapped. Only
  // that head is assembled here; the rest goes straight from the TX
  // buffer into the RX buffers, so each byte is read once and written
  // once. memmove: the front-end may make a TX and an RX buffer overlap.
  const uint64_t len = c.readable_bytes;
  uint8_t head[net::kHdrLenMrg + 2 * net::kMacLen] = {};
  const size_t head_len = static_cast<size_t>(std::min<uint64_t>(len, hdr + 2 * net::kMacLen));
  SegmentReader src(c.readable);
  src.skip(hdr);
  src.read(tx.mem(), head + hdr, head_len - hdr);
  if (hdr == net::kHdrLenMrg) {
    const uint16_t nb = static_cast<uint16_t>(m);
    std::memcpy(head + net::kNumBuffersOffset, &nb, 2);
  }
  net::swap_macs(head + hdr, head_len - hdr);

  uint64_t at = 0;  // frame bytes written so far
  for (size_t j = first; j < first + m; ++j) {
    uint32_t written = 0;
    for (const ring::Segment& s : rx_chains_[j].writable) {
      if (at == len) break;
      uint8_t* dst = rx.mem().host(s.addr, s.len);
      const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(s.len, len - at));
      uint32_t done = 0;
      if (at < head_len) {
        done = static_cast<uint32_t>(std::min<uint64_t>(n, head_len - at));
        std::memmove(dst, head + at, done);
      }
      src.read(tx.mem(), dst + done, n - done);
      at += n;
      written += n;
    }
    complete(rx, rx_index, rx_chains_[j].used(written));
  }
}

template <class Dev>
void Backend::finish(Dev& dev, uint32_t index) {
  Vring& v = vrings_[index];
  // With nothing completed since the last should_signal() there is nothing
  // to publish and nothing to signal (should_signal() would answer false
  // after its full barrier): an idle poll costs no fence.
  const size_t completed = dev.pending_used();
  // --check: what the device popped goes into the shadow before the used
  // entries that return it.
  ring::RingState before;
  if (check_ && completed != 0) {
    check_->sync(index);
    before = dev.state();
  }
  if (completed != 0 && dev.flush() == ring::RingError::ok) {
    if (check_) check_->flushed(index, before);
    counters_.vring_used[index] += completed;
    if (dev.should_signal()) {
      signal_eventfd(v.call);
      ++counters_.calls;
    }
  }
  if (dev.broken() && !v.broken_reported) report_broken(dev, index);
}

template <class Dev>
void Backend::report_broken(Dev& dev, uint32_t index) {
  Vring& v = vrings_[index];
  v.broken_reported = true;
  ++counters_.ring_errors;
  status_ |= VIRTIO_CONFIG_S_NEEDS_RESET;
  // pop() stops at the list that broke the queue: last_avail_idx is its head.
  const uint16_t head = dev.last_avail_idx();
  const uint64_t where = [&] {
    if constexpr (std::is_same_v<Dev, Packed>) return dev.layout().desc_addr(head);
    else return dev.layout().avail_ring_addr(head & (dev.num() - 1));
  }();
  if (v.err.valid()) {
    signal_eventfd(v.err);
    ++counters_.error_signals;
  }
  if (opts_.log)
    std::fprintf(stderr,
                 "vhost-user: vring %u broken: %s %s (%s) at %s 0x%llx (ring index %u, %s ring at gpa 0x%llx); "
                 "NEEDS_RESET%s\n",
                 index, dev.failure().rule, ring::name(dev.failure().error), ring::describe(dev.failure().error),
                 std::is_same_v<Dev, Packed> ? "descriptor" : "avail entry",
                 static_cast<unsigned long long>(where), head, std::is_same_v<Dev, Packed> ? "packed" : "split",
                 static_cast<unsigned long long>(dev.layout().desc),
                 v.err.valid() ? ", error eventfd signalled" : ", no error eventfd (SET_VRING_ERR) to signal");
}

size_t Backend::process_pair(uint32_t pair, uint32_t budget) {
  const uint32_t rx_index = pair * 2, tx_index = pair * 2 + 1;
  Vring& rxv = vrings_[rx_index];
  Vring& txv = vrings_[tx_index];
  if (!running(txv)) return 0;
  size_t n = 0;
  if (opts_.mode == NetMode::sink) {
    std::visit([&](auto& tx) {
      if constexpr (!std::is_same_v<std::decay_t<decltype(tx)>, std::monostate>) {
        n = sink(tx, tx_index, budget);
        finish(tx, tx_index);
      }
    }, txv.dev);
    return n;
  }
  if (!running(rxv)) return 0;  // echo: nowhere to send, so nothing is taken
  std::visit([&](auto& tx, auto& rx) {
    using T = std::decay_t<decltype(tx)>;
    using R = std::decay_t<decltype(rx)>;
    if constexpr (!std::is_same_v<T, std::monostate> && std::is_same_v<T, R>) {
      n = echo(tx, rx, pair, budget);
      finish(rx, rx_index);
      finish(tx, tx_index);
    }
  }, txv.dev, rxv.dev);
  return n;
}

size_t Backend::poll() {
  size_t n = 0;
  try {
    if (iommu())
      for (uint32_t i = 0; i < vrings_.size(); ++i)
        if (built(vrings_[i]) && !vrings_[i].translated) translate_ring(i);
    // --check: every running ring is sampled, also those the mode leaves
    // alone (sink's RX).
    if (check_)
      for (uint32_t i = 0; i < vrings_.size(); ++i)
        if (running(vrings_[i])) check_->sync(i);
    for (uint32_t p = 0; p < opts_.queue_pairs; ++p) n += process_pair(p, opts_.burst);
  } catch (const OutOfRegion& e) {
    close_with(ProtocolError::vring_addr_unmapped, e.what());
  }
  return n;
}

void Backend::drain(uint32_t index) {
  const uint32_t pair = index / 2;
  // Bounded: a front-end that keeps adding while asking to stop gets at
  // most a few rings' worth more.
  const Vring& v = vrings_[index];
  for (uint32_t total = 0; total < 4 * std::max<uint32_t>(v.num, 1);) {
    const size_t k = process_pair(pair, opts_.burst);
    if (k == 0) break;
    total += static_cast<uint32_t>(k);
  }
}

bool Backend::arm_notifications() {
  bool pending = false;
  for (uint32_t i = 0; i < vrings_.size(); ++i) {
    Vring& v = vrings_[i];
    if (!running(v) || v.notifications_armed) continue;
    v.notifications_armed = true;
    if (check_)
      if (VringWatch* w = check_->watch(i)) w->armed();
    std::visit([&](auto& d) {
      if constexpr (!std::is_same_v<std::decay_t<decltype(d)>, std::monostate>) pending |= d.enable_notifications();
    }, v.dev);
  }
  return pending;
}

void Backend::disarm_notifications() {
  for (uint32_t i = 0; i < vrings_.size(); ++i) {
    Vring& v = vrings_[i];
    if (!running(v) || !v.notifications_armed) continue;
    v.notifications_armed = false;
    if (check_)
      if (VringWatch* w = check_->watch(i)) w->disarmed();
    std::visit([](auto& d) {
      if constexpr (!std::is_same_v<std::decay_t<decltype(d)>, std::monostate>) d.disable_notifications();
    }, v.dev);
  }
}

ProtocolError Backend::iotlb_msg(const Message& msg) {
  const IotlbMsg& m = std::get<IotlbMsg>(msg.payload);
  if (!iommu() || !mem_) {
    if (opts_.log) std::fprintf(stderr, "vhost-user: IOTLB_MSG before ACCESS_PLATFORM and a memory table\n");
    return ProtocolError::out_of_order;
  }
  if (m.type == iotlb::kUpdate) {
    if (!iotlb_.update(m, *mem_)) {
      // Spec: "non-zero otherwise"; the connection stays, the range stays
      // untranslated.
      ++counters_.protocol_errors;
      last_error_ = ProtocolError::iotlb_uaddr_unmapped;
      if (opts_.log)
        std::fprintf(stderr, "vhost-user: IOTLB_MSG UPDATE iova 0x%llx size 0x%llx: user address 0x%llx not in one "
                     "memory region; refused\n", static_cast<unsigned long long>(m.iova),
                     static_cast<unsigned long long>(m.size), static_cast<unsigned long long>(m.uaddr));
      iotlb_changed(m.iova, m.iova + (m.size - 1));
      return ack(msg, 1);
    }
  } else {
    iotlb_.invalidate(m.iova, m.size);
  }
  iotlb_changed(m.iova, m.iova + (m.size - 1));
  return ack(msg, 0);
}

void Backend::iotlb_changed(uint64_t first, uint64_t last) {
  for (Vring& v : vrings_)
    std::visit([&](auto& d) {
      if constexpr (!std::is_same_v<std::decay_t<decltype(d)>, std::monostate>) {
        d.mem().forget_window();
        for (const RingArea& a : d.mem().ring_areas())
          if (a.host && a.iova <= last && first <= a.iova + (a.size - 1)) {
            d.mem().keep_ring_areas({});
            v.translated = false;
            break;
          }
      }
    }, v.dev);
}

void Backend::clear_iotlb() {
  iotlb_.clear();
  for (Vring& v : vrings_) {
    v.translated = false;
    std::visit([](auto& d) {
      if constexpr (!std::is_same_v<std::decay_t<decltype(d)>, std::monostate>) {
        d.mem().keep_ring_areas({});
        d.mem().forget_window();
      }
    }, v.dev);
  }
}

bool Backend::translate_ring(uint32_t index) {
  Vring& v = vrings_[index];
  bool ok = false;
  std::visit([&](auto& d) {
    using D = std::decay_t<decltype(d)>;
    if constexpr (!std::is_same_v<D, std::monostate>) {
      if (d.broken()) return;
      const auto& l = d.layout();
      const std::array<uint64_t, 3> at = [&]() -> std::array<uint64_t, 3> {
        if constexpr (std::is_same_v<D, Packed>) return {l.desc, l.driver_event, l.device_event};
        else return {l.desc, l.avail, l.used};
      }();
      const std::array<uint64_t, 3> bytes = ring_area_bytes(packed(), v.num);
      const std::array<uint8_t, 3> perms = ring_area_perms(packed());
      std::array<RingArea, 3> kept{};
      for (size_t i = 0; i < 3; ++i) {
        // Every byte must translate for the ring's accesses; an area is
        // kept only when it is one piece here (else its accesses go
        // through the IOTLB).
        for (uint64_t done = 0; done < bytes[i];) {
          const IotlbLookup t = iotlb_.translate(at[i] + done, bytes[i] - done, perms[i]);
          if (t.status == IotlbLookup::Status::miss) return request_miss(t.at, perms[i]);
          if (t.status == IotlbLookup::Status::refused) {
            ++counters_.iotlb.faults;
            (void)d.refuse(t.error);
            if (!v.broken_reported) report_broken(d, index);
            return;
          }
          if (done == 0 && t.run == bytes[i]) kept[i] = {at[i], bytes[i], t.host};
          done += t.run;
        }
      }
      d.mem().keep_ring_areas(kept);
      v.translated = true;
      ++counters_.iotlb.ring_translations;
      if (v.base_pending) {
        v.base_pending = false;
        if (apply_base(v) != ProtocolError::ok) {
          (void)d.refuse(ring::RingError::bad_ring_state);
          report_broken(d, index);
          return;
        }
        d.disable_notifications();
        v.notifications_armed = false;
      }
      ok = true;
    }
  }, v.dev);
  return ok;
}

void Backend::request_miss(uint64_t iova, uint8_t perm) {
  if (!iotlb_.want(iova, perm)) return;
  const bool need_ack = protocol_features_ & feature_bit(protocol_feature::REPLY_ACK);
  if (!backend_channel_) {
    if (opts_.log && iotlb_.want(iova, perm))
      std::fprintf(stderr, "vhost-user: IOVA 0x%llx not translated and no back-end channel (SET_BACKEND_REQ_FD) to "
                   "ask for it\n", static_cast<unsigned long long>(iova));
    iotlb_.sent(iova, perm, false, 0);  // said once; an UPDATE may still come
    return;
  }
  const IotlbMsg miss{iova, 0, 0, perm, iotlb::kMiss};
  const uint32_t flags = kVersion | (need_ack ? kFlagNeedReply : 0);
  if (backend_channel_->send(encode(BackendRequest::IOTLB_MSG, miss, flags)) != ProtocolError::ok) {
    if (opts_.log) std::fprintf(stderr, "vhost-user: back-end channel: MISS not sent; channel closed\n");
    backend_channel_.reset();
    return;
  }
  iotlb_.sent(iova, perm, need_ack, now_ns());
}

void Backend::arm_backend_read() {
  Connection* c = backend_channel_.get();
  c->async_wait_readable([this, c](const boost::system::error_code& ec) {
    if (ec || c != backend_channel_.get()) return;
    on_backend_readable();
  });
}

void Backend::on_backend_readable() {
  RawMessage raw;
  const ReceiveResult rr = backend_channel_->receive(raw);
  if (rr.error != ProtocolError::ok || rr.peer_closed) {
    if (opts_.log) std::fprintf(stderr, "vhost-user: back-end channel closed by the front-end\n");
    backend_channel_.reset();
    return;
  }
  const Decoded d = decode_backend_ack(raw, BackendRequest::IOTLB_MSG);
  if (d.error != ProtocolError::ok) {
    close_with(d.error, "back-end channel: " + d.detail);
    return;
  }
  iotlb_.acked(std::get<uint64_t>(d.message.payload), now_ns());
  arm_backend_read();
}

template <class Dev>
ring::Result<bool> Backend::take(Dev& dev, ring::Chain& c) {
  if (!iommu()) return dev.pop(c);
  ring::Result<bool> r{ring::RingError::ok, false};
  try {
    r = dev.pop(c);  // may read an indirect table
  } catch (const IotlbMiss& m) {
    request_miss(m.iova, m.perm);
    return {ring::RingError::ok, false};
  } catch (const IotlbRefused& f) {
    ++counters_.iotlb.faults;
    return {dev.refuse(f.error), false};
  }
  if (r.ok() && r.value && !admit(dev, c)) return {dev.broken() ? ring::RingError::queue_broken : ring::RingError::ok, false};
  return r;
}

template <class Dev>
bool Backend::admit(Dev& dev, ring::Chain& c) {
  // Every segment for the access the device will make, before any byte of
  // the buffer is touched; a segment whose IOVA pages lie apart here
  // becomes one segment per piece.
  for (auto* segs : {&c.readable, &c.writable}) {
    const uint8_t perm = segs == &c.readable ? iotlb::kRead : iotlb::kWrite;
    pieces_.clear();
    bool split = false;
    for (const ring::Segment& s : *segs) {
      for (uint64_t done = 0; done < s.len || (s.len == 0 && done == 0);) {
        if (s.len == 0) {
          pieces_.push_back(s);  // touches nothing
          break;
        }
        const IotlbLookup t = iotlb_.translate(s.addr + done, s.len - done, perm);
        if (t.status != IotlbLookup::Status::ok) {
          dev.discard(c);
          if (t.status == IotlbLookup::Status::miss) {
            request_miss(t.at, perm);
          } else {
            ++counters_.iotlb.faults;
            (void)dev.refuse(t.error);
          }
          return false;
        }
        split |= t.run < s.len - done || done > 0;
        pieces_.push_back({s.addr + done, static_cast<uint32_t>(t.run)});
        done += t.run;
      }
    }
    if (split) segs->assign(pieces_.begin(), pieces_.end());
  }
  return true;
}

std::string Backend::report() const {
  const BackendCounters& c = counters_;
  std::ostringstream o;
  o << "mode=" << (opts_.mode == NetMode::sink ? "sink" : "echo");
  c.visit([&o](const char* key, uint64_t value) { o << ' ' << key << '=' << value; });
  for (size_t i = 0; i < c.vring_used.size(); ++i) o << " vring" << i << "_used=" << c.vring_used[i];
  if (check_) {  // findings by rule id: check_P3=2
    o << " check_findings=" << check_->findings();
    for (const auto& [rule, r] : check_->rules()) o << " check_" << rule << '=' << r.count;
  }
  return o.str();
}

}  // namespace virtiosim::vhost_user
