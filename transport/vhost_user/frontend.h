// A vhost-user front-end: owns guest memory (a memfd it shares with the
// back-end), negotiates features (VU3) and hands the back-end rings that
// the ring core's driver side (PackedDriver / SplitDriver over
// SharedMemory) then fills.
//
// Requests go out one at a time and, when REPLY_ACK is negotiated, every
// request that has no reply of its own asks for an ack, so a back-end that
// refuses something is caught at that request.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/ring/ring_state.h"
#include "transport/vhost_user/connection.h"
#include "transport/vhost_user/memory_table.h"
#include "transport/vhost_user/protocol.h"
#include "transport/vhost_user/shared_memory.h"

namespace virtiosim::vhost_user {

// The guest memory the front-end shares: one memfd region, mapped here,
// with a bump allocator for rings and buffers.
class GuestMemfd {
 public:
  static constexpr uint64_t kGpaBase = 0x40000000;  // non-zero: a zero gpa would hide translation bugs
  // A region of `size` bytes at guest-physical `gpa_base`.
  explicit GuestMemfd(uint64_t size, uint64_t gpa_base = kGpaBase);
  ~GuestMemfd();
  GuestMemfd(const GuestMemfd&) = delete;
  GuestMemfd& operator=(const GuestMemfd&) = delete;

  uint64_t alloc(uint64_t bytes, uint64_t align = 64);
  uint8_t* host(uint64_t gpa) const { return base_ + (gpa - gpa_base_); }
  uint64_t uva(uint64_t gpa) const { return reinterpret_cast<uint64_t>(host(gpa)); }
  SharedMemory memory() const { return SharedMemory(table_); }
  MemRegion region() const;
  int fd() const { return fd_.get(); }
  uint64_t gpa_base() const { return gpa_base_; }
  uint64_t size() const { return size_; }

 private:
  Fd fd_;
  uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  uint64_t gpa_base_ = kGpaBase;
  uint64_t next_ = 0;
  std::shared_ptr<const MemoryTable> table_;
};

struct RingAddresses {
  uint64_t desc = 0, driver_area = 0, device_area = 0;  // guest-physical
};

class Frontend {
 public:
  explicit Frontend(Socket socket);

  // One request; waits for its reply (GET_*) or ack (REPLY_ACK). The reply
  // payload, if any, lands in `reply`.
  ProtocolError request(Request r, const Payload& p, Payload* reply = nullptr,
                        std::span<const int> fds = {});

  // SET_OWNER, GET_FEATURES, protocol features, SET_FEATURES: `wanted`
  // must all be offered (else unsupported_features), `optional` is taken
  // when offered. Returns the negotiated set through `features`.
  ProtocolError negotiate(uint64_t wanted, uint64_t optional, uint64_t& features);
  ProtocolError set_mem_table(const GuestMemfd& mem);
  // SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ADDR, SET_VRING_CALL,
  // SET_VRING_KICK, SET_VRING_ENABLE 1.
  ProtocolError start_ring(uint32_t index, uint32_t num, uint32_t base, const RingAddresses& a,
                           const GuestMemfd& mem, int call_fd, int kick_fd);
  ProtocolError set_status(uint8_t status);
  // GET_VRING_BASE: stops the ring; the back-end's position.
  ProtocolError get_vring_base(uint32_t index, uint32_t& base);

  uint64_t protocol_features() const { return protocol_features_; }
  const std::string& detail() const { return detail_; }
  Connection& connection() { return conn_; }

 private:
  Connection conn_;
  uint64_t features_ = 0;
  uint64_t protocol_features_ = 0;
  std::string detail_;
};

// Connects to a back-end listening on `path`.
Socket connect_unix(boost::asio::io_context& io, const std::string& path);

}  // namespace virtiosim::vhost_user
