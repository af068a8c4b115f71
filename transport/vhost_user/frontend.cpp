#include "transport/vhost_user/frontend.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "models/ring/features.h"

namespace virtiosim::vhost_user {

using ring::feature_bit;

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
  RawMessage raw;
  ReceiveResult rr = conn_.receive(raw);
  if (rr.error != ProtocolError::ok || rr.peer_closed) {
    detail_ = std::string("waiting for the reply to ") + name(r) + ": " + rr.detail;
    return rr.peer_closed ? ProtocolError::io_error : rr.error;
  }
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

ProtocolError Frontend::negotiate(uint64_t wanted, uint64_t optional, uint64_t& features) {
  if (ProtocolError e = request(Request::SET_OWNER, NoPayload{}); e != ProtocolError::ok) return e;
  Payload p;
  if (ProtocolError e = request(Request::GET_FEATURES, NoPayload{}, &p); e != ProtocolError::ok) return e;
  const uint64_t offered = std::get<uint64_t>(p);
  if ((offered & wanted) != wanted) {
    detail_ = "back-end lacks wanted features " + std::to_string(wanted & ~offered);
    return ProtocolError::unsupported_features;
  }
  features = wanted | (optional & offered);
  if (offered & feature_bit(kFeatureProtocolFeatures)) {
    features |= feature_bit(kFeatureProtocolFeatures);
    if (ProtocolError e = request(Request::GET_PROTOCOL_FEATURES, NoPayload{}, &p); e != ProtocolError::ok) return e;
    const uint64_t ours = feature_bit(protocol_feature::MQ) | feature_bit(protocol_feature::REPLY_ACK) |
                          feature_bit(protocol_feature::STATUS);
    const uint64_t pf = std::get<uint64_t>(p) & ours;
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
                                   const GuestMemfd& mem, int call_fd, int kick_fd) {
  if (ProtocolError e = request(Request::SET_VRING_NUM, VringState{index, num}); e != ProtocolError::ok) return e;
  if (ProtocolError e = request(Request::SET_VRING_BASE, VringState{index, base}); e != ProtocolError::ok) return e;
  VringAddr addr;
  addr.index = index;
  addr.desc_user_addr = mem.uva(a.desc);
  addr.avail_user_addr = mem.uva(a.driver_area);
  addr.used_user_addr = mem.uva(a.device_area);
  if (ProtocolError e = request(Request::SET_VRING_ADDR, addr); e != ProtocolError::ok) return e;
  if (ProtocolError e = request(Request::SET_VRING_CALL, uint64_t{index}, nullptr, std::span<const int>(&call_fd, 1));
      e != ProtocolError::ok)
    return e;
  if (ProtocolError e = request(Request::SET_VRING_KICK, uint64_t{index}, nullptr, std::span<const int>(&kick_fd, 1));
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
