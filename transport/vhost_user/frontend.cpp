#include "transport/vhost_user/frontend.h"

#include <poll.h>
#include <sys/mman.h>

#include <boost/asio/local/connect_pair.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "models/ring/features.h"

namespace virtiosim::vhost_user {

using ring::feature_bit;

namespace {

// How long a reply may keep us waiting with nothing arriving on either
// socket: the connection's own I/O timeout (Connection's default).
constexpr int kReplyTimeoutMs = 2000;

// "bit 33, bit 5": the bits of `mask`, for an error message.
std::string bit_list(uint64_t mask) {
  std::string s;
  for (unsigned b = 0; b < 64; ++b)
    if (mask & feature_bit(b)) s += (s.empty() ? "bit " : ", bit ") + std::to_string(b);
  return s;
}

}  // namespace

GuestMemfd::GuestMemfd(uint64_t size, uint64_t gpa_base)
    : size_((size + 4095) & ~uint64_t{4095}), gpa_base_(gpa_base) {
  fd_.reset(::memfd_create("virtiosim-guest", MFD_CLOEXEC));
  if (!fd_.valid()) throw std::runtime_error(std::string("memfd_create: ") + std::strerror(errno));
  if (::ftruncate(fd_.get(), static_cast<off_t>(size_)) != 0)
    throw std::runtime_error(std::string("ftruncate: ") + std::strerror(errno));
  void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
  if (p == MAP_FAILED) throw std::runtime_error(std::string("mmap: ") + std::strerror(errno));
  base_ = static_cast<uint8_t*>(p);
  MappedRegion r;
  r.gpa = gpa_base_;
  r.size = size_;
  r.uva = reinterpret_cast<uint64_t>(base_);
  r.host = base_;
  table_ = MemoryTable::borrow({r});
}

GuestMemfd::~GuestMemfd() {
  if (base_) ::munmap(base_, size_);
}

uint64_t GuestMemfd::alloc(uint64_t bytes, uint64_t align) {
  const uint64_t at = (next_ + align - 1) / align * align;
  if (at + bytes > size_) throw std::length_error("guest memory exhausted");
  next_ = at + bytes;
  return gpa_base_ + at;
}

MemRegion GuestMemfd::region() const { return {gpa_base_, size_, reinterpret_cast<uint64_t>(base_), 0}; }

Socket connect_unix(boost::asio::io_context& io, const std::string& path) {
  Socket s(io);
  s.connect(boost::asio::local::stream_protocol::endpoint(path));
  return s;
}

Frontend::Frontend(Socket socket) : conn_(std::move(socket)) {}

ProtocolError Frontend::request(Request r, const Payload& p, Payload* reply, std::span<const int> fds) {
  const RequestInfo ri = info(r);
  const bool ack = ri.reply == PayloadKind::none && (protocol_features_ & feature_bit(protocol_feature::REPLY_ACK));
  RawMessage m = encode(r, p, kVersion | (ack ? kFlagNeedReply : 0));
  if (ProtocolError e = conn_.send(m, fds); e != ProtocolError::ok) {
    detail_ = std::string("sending ") + name(r);
    return e;
  }
  if (ri.reply == PayloadKind::none && !ack) return ProtocolError::ok;
  return await_reply(r, ack, reply);
}

ProtocolError Frontend::wait(int timeout_ms, bool& main_readable, bool& backend_readable) {
  pollfd fds[2] = {{socket_fd(), POLLIN, 0}, {backend_fd(), POLLIN, 0}};
  int n;
  do n = ::poll(fds, backend_ ? 2 : 1, timeout_ms);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    detail_ = std::string("poll: ") + std::strerror(errno);
    return ProtocolError::io_error;
  }
  main_readable = fds[0].revents != 0;
  backend_readable = backend_ && fds[1].revents != 0;
  return ProtocolError::ok;
}

ProtocolError Frontend::await_reply(Request r, bool ack, Payload* reply) {
  awaited_.push_back({r});
  using clock = std::chrono::steady_clock;
  auto deadline = clock::now() + std::chrono::milliseconds(kReplyTimeoutMs);
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now()).count();
    if (left <= 0) {
      detail_ = std::string("waiting for the reply to ") + name(r) + ": nothing for " +
                std::to_string(kReplyTimeoutMs) + " ms";
      return ProtocolError::timeout;
    }
    bool main_readable = false, backend_readable = false;
    if (ProtocolError e = wait(static_cast<int>(left), main_readable, backend_readable); e != ProtocolError::ok)
      return e;
    if (main_readable || backend_readable) deadline = clock::now() + std::chrono::milliseconds(kReplyTimeoutMs);
    if (backend_readable)
      if (ProtocolError e = take_backend_request(); e != ProtocolError::ok) return e;
    if (!main_readable) continue;
    RawMessage raw;
    ReceiveResult rr = conn_.receive(raw);
    if (rr.error != ProtocolError::ok || rr.peer_closed) {
      detail_ = std::string("waiting for the reply to ") + name(r) + ": " + rr.detail;
      return rr.peer_closed ? ProtocolError::io_error : rr.error;
    }
    Awaited a;
    if (ProtocolError e = match(raw, a); e != ProtocolError::ok) return e;
    if (a.miss_update) {
      if (ProtocolError e = take_update_ack(raw, a); e != ProtocolError::ok) return e;
      continue;
    }
    // Requests go out one at a time, so the only awaited entry that is not
    // an UPDATE's is this one.
    Decoded d = decode_reply(raw, r);
    if (d.error != ProtocolError::ok) {
      detail_ = d.detail;
      return d.error;
    }
    if (ack) {
      if (std::get<uint64_t>(d.message.payload) != 0) {
        detail_ = std::string("back-end refused ") + name(r);
        return ProtocolError::unsupported_features;
      }
      return ProtocolError::ok;
    }
    if (reply) *reply = std::move(d.message.payload);
    return ProtocolError::ok;
  }
}

ProtocolError Frontend::match(const RawMessage& raw, Awaited& out) {
  for (auto it = awaited_.begin(); it != awaited_.end(); ++it) {
    if (static_cast<uint32_t>(it->request) != raw.header.request) continue;
    out = *it;
    awaited_.erase(it);
    return ProtocolError::ok;
  }
  detail_ = "a reply to request " + std::to_string(raw.header.request) + ", which is not awaited";
  return ProtocolError::out_of_order;
}

ProtocolError Frontend::open_backend_channel(const DmaDomain& domain) {
  Socket ours(conn_.socket().get_executor()), theirs(conn_.socket().get_executor());
  boost::asio::local::connect_pair(ours, theirs);
  domain_ = &domain;
  backend_ = std::make_unique<Connection>(std::move(ours));
  const int fd = theirs.native_handle();
  // The back-end keeps its own copy (SCM_RIGHTS): ours closes with `theirs`.
  return request(Request::SET_BACKEND_REQ_FD, NoPayload{}, nullptr, std::span<const int>(&fd, 1));
}

ProtocolError Frontend::invalidate(const IovaRange& r) {
  IotlbMsg m;
  m.iova = r.iova;
  m.size = r.size;
  m.type = iotlb::kInvalidate;
  ProtocolError e = request(Request::IOTLB_MSG, m);
  if (e == ProtocolError::ok) ++iotlb_.invalidates;
  return e;
}

ProtocolError Frontend::ack_backend(uint64_t status) {
  if (ProtocolError e = backend_->send(encode_reply(BackendRequest::IOTLB_MSG, status)); e != ProtocolError::ok) {
    detail_ = "sending the ack of a BACKEND_IOTLB_MSG";
    return e;
  }
  return ProtocolError::ok;
}

ProtocolError Frontend::take_backend_request() {
  RawMessage raw;
  ReceiveResult rr = backend_->receive(raw);
  if (rr.error != ProtocolError::ok || rr.peer_closed) {
    detail_ = "back-end channel: " + (rr.peer_closed ? std::string("closed by the back-end") : rr.detail);
    return rr.peer_closed ? ProtocolError::io_error : rr.error;
  }
  Decoded d = decode_backend_request(raw);
  if (d.error != ProtocolError::ok) {
    detail_ = "back-end channel: " + d.detail;
    return d.error;
  }
  const IotlbMsg& m = std::get<IotlbMsg>(d.message.payload);
  const bool needs_ack = d.message.need_reply();
  if (m.type == iotlb::kAccessFail) {
    ++iotlb_.access_fails;
    return needs_ack ? ack_backend(1) : ProtocolError::ok;
  }
  // QEMU asks its vIOMMU for a write if the MISS wants any write, else for
  // a read (vhost_device_iotlb_miss(dev, iova, perm != VHOST_ACCESS_RO)),
  // and sends the page's own permission: a RW miss of a WO page is answered
  // with WO (DPDK asks RW for every RX buffer).
  const uint8_t access = (m.perm & iotlb::kWrite) ? iotlb::kWrite : iotlb::kRead;
  const IovaTranslation t = domain_->translate(m.iova, access);
  if (t.result != IovaTranslation::Result::mapped) {
    ++iotlb_.misses_refused;
    return needs_ack ? ack_backend(1) : ProtocolError::ok;
  }
  // One page, the page's own permission: what QEMU sends for a vIOMMU hit.
  IotlbMsg u;
  u.iova = t.page;
  u.size = kIommuPageSize;
  u.uaddr = t.uaddr;
  u.perm = t.perm;
  u.type = iotlb::kUpdate;
  if (ProtocolError e = conn_.send(encode(Request::IOTLB_MSG, u, kVersion | kFlagNeedReply)); e != ProtocolError::ok) {
    detail_ = "sending IOTLB_MSG UPDATE";
    return e;
  }
  ++iotlb_.updates;
  awaited_.push_back({Request::IOTLB_MSG, true, needs_ack});
  return ProtocolError::ok;
}

ProtocolError Frontend::take_update_ack(const RawMessage& raw, const Awaited& a) {
  Decoded d = decode_reply(raw, Request::IOTLB_MSG);
  if (d.error != ProtocolError::ok) {
    detail_ = d.detail;
    return d.error;
  }
  const bool refused = std::get<uint64_t>(d.message.payload) != 0;
  // QEMU acks the MISS with the UPDATE's outcome (!!ret).
  if (a.miss_needs_ack)
    if (ProtocolError e = ack_backend(refused ? 1 : 0); e != ProtocolError::ok) return e;
  if (refused) {
    detail_ = "back-end refused an IOTLB_MSG UPDATE inside the memory table";
    return ProtocolError::unsupported_features;
  }
  ++iotlb_.misses;
  return ProtocolError::ok;
}

ProtocolError Frontend::serve_backend(int timeout_ms, size_t* handled) {
  size_t n = 0;
  for (int t = timeout_ms;; t = 0) {
    bool main_readable = false, backend_readable = false;
    if (ProtocolError e = wait(t, main_readable, backend_readable); e != ProtocolError::ok) return e;
    if (!main_readable && !backend_readable) break;
    if (backend_readable) {
      if (ProtocolError e = take_backend_request(); e != ProtocolError::ok) return e;
      ++n;
    }
    if (!main_readable) continue;
    RawMessage raw;
    ReceiveResult rr = conn_.receive(raw);
    if (rr.error != ProtocolError::ok || rr.peer_closed) {
      detail_ = "main socket: " + (rr.peer_closed ? std::string("closed by the back-end") : rr.detail);
      return rr.peer_closed ? ProtocolError::io_error : rr.error;
    }
    Awaited a;
    if (ProtocolError e = match(raw, a); e != ProtocolError::ok) return e;
    // Outside a request only UPDATEs are awaited.
    if (ProtocolError e = take_update_ack(raw, a); e != ProtocolError::ok) return e;
    ++n;
  }
  if (handled) *handled = n;
  return ProtocolError::ok;
}

ProtocolError Frontend::negotiate(uint64_t wanted, uint64_t optional, uint64_t& features, uint64_t wanted_protocol) {
  if (ProtocolError e = request(Request::SET_OWNER, NoPayload{}); e != ProtocolError::ok) return e;
  Payload p;
  if (ProtocolError e = request(Request::GET_FEATURES, NoPayload{}, &p); e != ProtocolError::ok) return e;
  const uint64_t offered = std::get<uint64_t>(p);
  if (wanted_protocol) wanted |= feature_bit(kFeatureProtocolFeatures);
  if ((offered & wanted) != wanted) {
    detail_ = "back-end lacks wanted features: " + bit_list(wanted & ~offered);
    return ProtocolError::unsupported_features;
  }
  features = wanted | (optional & offered);
  if (offered & feature_bit(kFeatureProtocolFeatures)) {
    features |= feature_bit(kFeatureProtocolFeatures);
    if (ProtocolError e = request(Request::GET_PROTOCOL_FEATURES, NoPayload{}, &p); e != ProtocolError::ok) return e;
    const uint64_t offered_protocol = std::get<uint64_t>(p);
    if ((offered_protocol & wanted_protocol) != wanted_protocol) {
      detail_ = "back-end lacks wanted protocol features: " + bit_list(wanted_protocol & ~offered_protocol);
      return ProtocolError::unsupported_features;
    }
    const uint64_t ours = feature_bit(protocol_feature::MQ) | feature_bit(protocol_feature::REPLY_ACK) |
                          feature_bit(protocol_feature::STATUS) | wanted_protocol;
    const uint64_t pf = offered_protocol & ours;
    if (ProtocolError e = request(Request::SET_PROTOCOL_FEATURES, pf); e != ProtocolError::ok) return e;
    protocol_features_ = pf;  // from here on, requests ask for acks
  }
  features_ = features;
  return request(Request::SET_FEATURES, features);
}

ProtocolError Frontend::set_mem_table(const GuestMemfd& mem) {
  const int fd = mem.fd();
  return request(Request::SET_MEM_TABLE, MemTable{{mem.region()}}, nullptr, std::span<const int>(&fd, 1));
}

ProtocolError Frontend::start_ring(uint32_t index, uint32_t num, uint32_t base, const RingAddresses& a,
                                   const GuestMemfd& mem, int call_fd, int kick_fd, int err_fd) {
  if (ProtocolError e = request(Request::SET_VRING_NUM, VringState{index, num}); e != ProtocolError::ok) return e;
  if (ProtocolError e = request(Request::SET_VRING_BASE, VringState{index, base}); e != ProtocolError::ok) return e;
  VringAddr addr;
  addr.index = index;
  const bool iova = features_ & feature_bit(kFeatureAccessPlatform);
  addr.desc_user_addr = iova ? a.desc : mem.uva(a.desc);
  addr.avail_user_addr = iova ? a.driver_area : mem.uva(a.driver_area);
  addr.used_user_addr = iova ? a.device_area : mem.uva(a.device_area);
  if (ProtocolError e = request(Request::SET_VRING_ADDR, addr); e != ProtocolError::ok) return e;
  if (ProtocolError e = request(Request::SET_VRING_CALL, uint64_t{index}, nullptr, std::span<const int>(&call_fd, 1));
      e != ProtocolError::ok)
    return e;
  if (ProtocolError e = request(Request::SET_VRING_KICK, uint64_t{index}, nullptr, std::span<const int>(&kick_fd, 1));
      e != ProtocolError::ok)
    return e;
  if (err_fd >= 0)
    if (ProtocolError e = request(Request::SET_VRING_ERR, uint64_t{index}, nullptr, std::span<const int>(&err_fd, 1));
        e != ProtocolError::ok)
      return e;
  if (features_ & feature_bit(kFeatureProtocolFeatures))
    return request(Request::SET_VRING_ENABLE, VringState{index, 1});
  return ProtocolError::ok;
}

ProtocolError Frontend::set_status(uint8_t status) {
  if (!(protocol_features_ & feature_bit(protocol_feature::STATUS))) return ProtocolError::ok;
  return request(Request::SET_STATUS, uint64_t{status});
}

ProtocolError Frontend::get_vring_base(uint32_t index, uint32_t& base) {
  Payload p;
  if (ProtocolError e = request(Request::GET_VRING_BASE, VringState{index, 0}, &p); e != ProtocolError::ok) return e;
  const VringState s = std::get<VringState>(p);
  if (s.index != index) {
    detail_ = "GET_VRING_BASE answered for vring " + std::to_string(s.index);
    return ProtocolError::vring_index_out_of_range;
  }
  base = s.num;
  return ProtocolError::ok;
}

}  // namespace virtiosim::vhost_user
