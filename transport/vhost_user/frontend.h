// A vhost-user front-end: owns guest memory (a memfd it shares with the
// back-end), negotiates features (VU3) and hands the back-end rings that
// the ring core's driver side (PackedDriver / SplitDriver over
// SharedMemory) then fills.
//
// Requests go out one at a time and, when REPLY_ACK is negotiated, every
// request that has no reply of its own asks for an ack, so a back-end that
// refuses something is caught at that request.
//
// With VIRTIO_F_ACCESS_PLATFORM (drive --iommu) the back-end also talks
// first, on the back-end channel: it asks for translations (IOTLB MISS) and
// waits for them, while the front-end may itself be waiting on the main
// socket for a reply that needs them (QEMU answers a miss only after its
// UPDATE was acked: research notes 1.3, "Deadlock hazard"). So every wait
// here is one poll(2) over both sockets, single-threaded: a MISS is
// answered by sending its UPDATE at once, and the UPDATE's ack comes back
// on the main socket among the replies. A reply names its request, so it
// goes to the oldest awaited request of that kind: an UPDATE's ack releases
// the MISS's own ack; a back-end may answer an UPDATE before a reply it
// holds back until that UPDATE (a drain at GET_VRING_BASE that misses).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "models/ring/ring_state.h"
#include "transport/vhost_user/connection.h"
#include "transport/vhost_user/dma_domain.h"
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
  // The whole region as this process maps it (an IOMMU window's backing).
  const MappedRegion& mapping() const { return table_->regions().front(); }

 private:
  Fd fd_;
  uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  uint64_t gpa_base_ = kGpaBase;
  uint64_t next_ = 0;
  std::shared_ptr<const MemoryTable> table_;
};

// As the driver addresses them: guest-physical, or IOVAs when
// ACCESS_PLATFORM is negotiated.
struct RingAddresses {
  uint64_t desc = 0, driver_area = 0, device_area = 0;
};

// What the front-end's IOMMU did for the back-end.
struct IommuCounters {
  uint64_t misses = 0;          // MISS answered: an UPDATE sent, acked, then the MISS acked 0
  uint64_t misses_refused = 0;  // MISS of a page not mapped, or mapped without the access asked: ack 1, no UPDATE
  uint64_t updates = 0;         // IOTLB_MSG UPDATE sent
  uint64_t invalidates = 0;     // IOTLB_MSG INVALIDATE sent and acked
  uint64_t access_fails = 0;    // ACCESS_FAIL received: refused (ack 1), as QEMU does (-ENOTSUP)
};

class Frontend {
 public:
  explicit Frontend(Socket socket);

  // One request; waits for its reply (GET_*) or ack (REPLY_ACK). The reply
  // payload, if any, lands in `reply`.
  ProtocolError request(Request r, const Payload& p, Payload* reply = nullptr,
                        std::span<const int> fds = {});

  // SET_OWNER, GET_FEATURES, protocol features, SET_FEATURES: `wanted`
  // must all be offered (else unsupported_features, the bits missing in
  // detail()), `optional` is taken when offered; so must the protocol
  // features `wanted_protocol`. Returns the negotiated set through
  // `features`.
  ProtocolError negotiate(uint64_t wanted, uint64_t optional, uint64_t& features, uint64_t wanted_protocol = 0);
  ProtocolError set_mem_table(const GuestMemfd& mem);
  // SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ADDR, SET_VRING_CALL,
  // SET_VRING_KICK, SET_VRING_ERR (when `err_fd` is one), SET_VRING_ENABLE
  // 1. SET_VRING_ADDR carries user addresses, or the IOVAs themselves when
  // ACCESS_PLATFORM is negotiated (vhost-user.rst "A vring address
  // description").
  ProtocolError start_ring(uint32_t index, uint32_t num, uint32_t base, const RingAddresses& a,
                           const GuestMemfd& mem, int call_fd, int kick_fd, int err_fd = -1);
  ProtocolError set_status(uint8_t status);
  // GET_VRING_BASE: stops the ring; the back-end's position.
  ProtocolError get_vring_base(uint32_t index, uint32_t& base);

  // ACCESS_PLATFORM: hands the back-end its channel (SET_BACKEND_REQ_FD
  // with one end of a socket pair) and from then on answers every MISS on
  // it from `domain`, which must outlive this front-end.
  ProtocolError open_backend_channel(const DmaDomain& domain);
  // IOTLB_MSG INVALIDATE of `r`; returns once the back-end acked it, i.e.
  // dropped every translation in it (a strict unmap).
  ProtocolError invalidate(const IovaRange& r);
  // Answers what the back-end channel holds and takes the acks of UPDATEs
  // already sent, waiting up to `timeout_ms` for the first message, not at
  // all with 0. `handled` counts the messages taken.
  ProtocolError serve_backend(int timeout_ms, size_t* handled = nullptr);
  // The two sockets, for a caller's own poll(2); -1 without a back-end channel.
  int socket_fd() { return conn_.socket().native_handle(); }
  int backend_fd() { return backend_ ? backend_->socket().native_handle() : -1; }
  const IommuCounters& iotlb() const { return iotlb_; }

  uint64_t protocol_features() const { return protocol_features_; }
  const std::string& detail() const { return detail_; }
  Connection& connection() { return conn_; }

 private:
  // A reply the main socket owes us, in the order the requests went out.
  struct Awaited {
    Request request = Request::NONE;
    bool miss_update = false;  // the UPDATE that answers a MISS
    bool miss_needs_ack = false;  // ... whose MISS asked for an ack (NEED_REPLY)
  };
  // Takes the awaited entry `raw` answers out of awaited_.
  ProtocolError match(const RawMessage& raw, Awaited& out);
  // Waits for the reply to `r` (last in awaited_), serving the back-end
  // channel meanwhile.
  ProtocolError await_reply(Request r, bool ack, Payload* reply);
  // A MISS (or ACCESS_FAIL) from the back-end channel, answered.
  ProtocolError take_backend_request();
  // The ack of a MISS's UPDATE: the MISS is acked in turn.
  ProtocolError take_update_ack(const RawMessage& raw, const Awaited& a);
  ProtocolError ack_backend(uint64_t status);
  // Waits up to `timeout_ms` for either socket; which are readable.
  ProtocolError wait(int timeout_ms, bool& main_readable, bool& backend_readable);

  Connection conn_;
  uint64_t features_ = 0;
  uint64_t protocol_features_ = 0;
  std::string detail_;
  std::unique_ptr<Connection> backend_;  // the back-end channel, our end
  const DmaDomain* domain_ = nullptr;
  std::deque<Awaited> awaited_;
  IommuCounters iotlb_;
};

// Connects to a back-end listening on `path`.
Socket connect_unix(boost::asio::io_context& io, const std::string& path);

}  // namespace virtiosim::vhost_user
