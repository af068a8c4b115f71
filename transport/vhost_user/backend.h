// A vhost-user back-end: a virtio-net device built on the ring core's
// device side (PackedDevice / SplitDevice over SharedMemory).
//
// Control path: one front-end connection at a time; every request is
// decoded strictly (protocol.h) and checked against device state here. A
// malformed or out-of-order request is logged, counted and answered by
// closing the connection; the device then waits for the next front-end.
//
// Ring lifecycle (vhost-user.rst "Ring states"; SPEC_NOTES VU3; our
// reading in docs/vhost-user.md): two independent states. Started/stopped:
// SET_VRING_KICK starts a ring, GET_VRING_BASE (and a device reset) stops
// it. Enabled/disabled: every ring starts disabled; SET_VRING_ENABLE sets
// it at any time once protocol features were negotiated (QEMU sends it
// before SET_FEATURES), and it is remembered while the ring is stopped;
// SET_FEATURES without VHOST_USER_F_PROTOCOL_FEATURES enables every ring.
// A ring moves data only when started, enabled, and its size, addresses,
// call and kick are known.
//
// Data path (virtio-net queue 2k receives, 2k+1 transmits):
//   sink: every TX buffer's bytes are read (checksum) and counted;
//   echo: every TX frame is written to the RX queue with its MAC
//         addresses swapped (merged over several RX buffers with
//         VIRTIO_NET_F_MRG_RXBUF). A frame is taken from TX only when RX
//         has room for it, so nothing is dropped: back-pressure instead
//         (a TX frame popped while RX is dry is put back with discard()).
// Before GET_VRING_BASE answers, the ring is drained as far as it can go,
// so every buffer the front-end made available before stopping is counted
// exactly once, and the state handed back resumes after the last one.
//
// IOMMU (VIRTIO_F_ACCESS_PLATFORM, offered with BACKEND_REQ and REPLY_ACK as
// QEMU demands; not with --check, which reads rings by guest-physical
// address): ring and buffer addresses are IOVAs, translated through the
// IOTLB (iotlb.h) the front-end fills with IOTLB_MSG. A ring runs once its
// three areas are translated (then kept: the ring cache); every popped
// buffer is checked for the access it needs before it is touched. What is
// missing is asked for on the back-end channel (BACKEND_IOTLB_MSG MISS,
// with NEED_REPLY) and the buffer goes back (discard) until an UPDATE
// covers it, as Linux vhost and DPDK wait; what the front-end cannot map
// breaks the ring with ring.iova_unmapped / ring.iova_no_permission,
// nothing touched. serve is single-threaded, so an INVALIDATE is applied
// between bursts, never under a buffer in use, and acked after.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "models/ring/chain.h"
#include "models/ring/packed_device.h"
#include "models/ring/ring_state.h"
#include "models/ring/split_device.h"
#include "transport/vhost_user/connection.h"
#include "transport/vhost_user/iotlb.h"
#include "transport/vhost_user/memory_table.h"
#include "transport/vhost_user/net.h"
#include "transport/vhost_user/peer_watch.h"
#include "transport/vhost_user/protocol.h"
#include "transport/vhost_user/shared_memory.h"

namespace virtiosim::vhost_user {

enum class NetMode : uint8_t { sink, echo };

struct BackendOptions {
  NetMode mode = NetMode::sink;
  uint32_t queue_pairs = 1;       // --queues
  uint32_t burst = 64;            // buffers per ring per poll, then flush and signal
  bool log = true;                // protocol errors and connection events to stderr
  // serve --check: watch the front-end through shared memory at every poll
  // (peer_watch.h). Off, the data path pays one pointer test per poll and
  // per completion.
  bool check = false;
};

struct BackendCounters {
  uint64_t connections = 0;
  uint64_t protocol_errors = 0;
  uint64_t ring_errors = 0;         // queues that broke (a ring core error)
  uint64_t tx_packets = 0;          // frames the front-end transmitted to us
  uint64_t tx_bytes = 0;            // their bytes, net header excluded
  uint64_t tx_checksum = 0;         // sum of every frame byte (sink reads them all)
  uint64_t tx_malformed = 0;        // buffers shorter than the net header
  uint64_t rx_packets = 0;          // frames echoed to the front-end
  uint64_t rx_bytes = 0;
  uint64_t rx_buffers = 0;          // RX buffers used (> rx_packets when merged)
  uint64_t rx_too_big = 0;          // echo: a frame no RX buffer chain can hold
  uint64_t kicks = 0;
  uint64_t calls = 0;
  uint64_t error_signals = 0;       // broken rings reported through the SET_VRING_ERR eventfd
  std::vector<uint64_t> vring_used; // buffers completed, by vring (2k RX, 2k+1 TX of pair k)
  IotlbCounters iotlb;              // ACCESS_PLATFORM

  // Every scalar counter, once, in the order the report prints them.
  template <class F>
  void visit(F&& f) const {
    f("connections", connections), f("tx_packets", tx_packets), f("tx_bytes", tx_bytes);
    f("tx_checksum", tx_checksum), f("rx_packets", rx_packets), f("rx_bytes", rx_bytes);
    f("rx_buffers", rx_buffers), f("kicks", kicks), f("calls", calls), f("tx_malformed", tx_malformed);
    f("rx_too_big", rx_too_big), f("ring_errors", ring_errors), f("error_signals", error_signals);
    f("protocol_errors", protocol_errors);
    iotlb.visit(f);
  }
};

class Backend {
 public:
  Backend(boost::asio::io_context& io, BackendOptions opts);
  ~Backend();

  // Takes over an accepted front-end connection; the previous one, if any,
  // is closed first.
  void attach(Socket socket);
  bool connected() const { return conn_ != nullptr; }
  // Called after the connection closed (front-end left or was refused).
  std::function<void()> on_disconnect;

  // One pass over every running ring. Returns the buffers processed.
  size_t poll();
  // Before sleeping: ask running rings for notifications. Returns true if
  // a buffer is already available (do not sleep).
  bool arm_notifications();
  // After waking: busy polling again, notifications off.
  void disarm_notifications();

  const BackendCounters& counters() const { return counters_; }
  // serve --check's findings; nullptr without --check.
  const PeerCheck* check() const { return check_.get(); }
  std::string report() const;
  ProtocolError last_error() const { return last_error_; }
  uint64_t offered_features() const { return offered_features_; }
  uint64_t offered_protocol_features() const { return offered_protocol_features_; }
  // A MISS is out: serve reads the front-end's answer at once rather than
  // at its next look at the control socket.
  bool waiting_for_iotlb() const { return iotlb_.waiting(); }

 private:
  using Packed = ring::PackedDevice<SharedMemory>;
  using Split = ring::SplitDevice<SharedMemory>;

  struct Vring {
    uint32_t num = 0;
    std::optional<VringAddr> addr;
    uint32_t base = 0;            // SET_VRING_BASE payload, applied when the ring starts
    bool base_set = false;
    Fd call;
    bool call_set = false;        // SET_VRING_CALL seen (an fd, or none: the front-end polls)
    Fd kick;
    Fd err;                       // SET_VRING_ERR: signalled when the ring breaks
    bool broken_reported = false;
    std::unique_ptr<boost::asio::posix::stream_descriptor> kick_wait;
    bool started = false;
    bool enabled = false;
    bool notifications_armed = false;
    bool translated = false;      // IOMMU: the ring's areas are in its memory's ring cache
    bool base_pending = false;    // IOMMU: SET_VRING_BASE applied once the ring is translated
    std::variant<std::monostate, Packed, Split> dev;
  };

  void arm_read();
  void on_readable();
  // Handles one request; returns the error that ends the connection.
  ProtocolError handle(Message& msg, RawMessage& raw);
  ProtocolError reply(Request r, const Payload& p);
  ProtocolError ack(const Message& msg, uint64_t status);
  ProtocolError close_with(ProtocolError e, const std::string& detail);
  void disconnect();

  ProtocolError vring_index(uint32_t index, std::string& detail) const;
  ProtocolError set_vring_addr(const VringAddr& a);
  ProtocolError start_ring(uint32_t index);
  ProtocolError apply_base(Vring& v);
  void stop_ring(uint32_t index);
  ProtocolError rebuild_rings();
  void watch_kick(uint32_t index);

  bool packed() const;
  bool iommu() const { return features_ & ring::feature_bit(kFeatureAccessPlatform); }
  size_t net_header_len() const;
  bool built(const Vring& v) const {
    return v.started && v.enabled && v.call_set && !v.dev.valueless_by_exception() &&
           !std::holds_alternative<std::monostate>(v.dev);
  }
  bool running(const Vring& v) const { return built(v) && (v.translated || !iommu()); }

  // IOMMU.
  ProtocolError iotlb_msg(const Message& msg);
  void arm_backend_read();
  void on_backend_readable();
  // Translates ring `index`'s areas into its ring cache; false while one
  // is missing (asked for) or refused (the ring broke).
  bool translate_ring(uint32_t index);
  // Drops what the IOTLB no longer vouches for: every ring's window, and
  // the ring cache of rings with an area in [first, last].
  void iotlb_changed(uint64_t first, uint64_t last);
  void clear_iotlb();
  void request_miss(uint64_t iova, uint8_t perm);
  // pop() behind an IOMMU: a miss puts the buffer back and asks for the
  // translation (value false, as if none were available); a refusal breaks
  // the ring.
  template <class Dev> ring::Result<bool> take(Dev& dev, ring::Chain& c);
  template <class Dev> bool admit(Dev& dev, ring::Chain& c);
  // SET_VRING_ENABLE is legal once the front-end negotiated protocol
  // features, before or after SET_FEATURES acknowledges bit 30.
  bool protocol_features_negotiated() const {
    return protocol_features_set_ || (features_ & ring::feature_bit(kFeatureProtocolFeatures));
  }

  // Data path, one instantiation per ring layout.
  // Pops up to `budget` TX buffers into chains_ and prefetches their first
  // bytes; returns how many.
  template <class Dev> size_t pop_burst(Dev& tx, uint32_t budget);
  template <class Dev> void prefetch_descriptors(Dev& tx, size_t n);
  template <class Dev> size_t sink(Dev& tx, uint32_t tx_index, uint32_t budget);
  template <class TxDev, class RxDev> size_t echo(TxDev& tx, RxDev& rx, uint32_t pair, uint32_t budget);
  // Writes TX chain `c` into rx_chains_[first, first + m) (room checked) and completes them.
  template <class TxDev, class RxDev>
  void echo_frame(TxDev& tx, RxDev& rx, uint32_t rx_index, const ring::Chain& c, size_t first, size_t m,
                  size_t hdr);
  // Records a completion (push_used), and tells the check.
  template <class Dev> void complete(Dev& dev, uint32_t index, const ring::UsedElem& e);
  // Publishes a ring's completions and signals the front-end if it wants it.
  template <class Dev> void finish(Dev& dev, uint32_t index);
  // A ring the core broke: NEEDS_RESET, the error eventfd, one log line
  // with the rule and where in the ring.
  template <class Dev> void report_broken(Dev& dev, uint32_t index);
  size_t process_pair(uint32_t pair, uint32_t budget);
  void drain(uint32_t index);

  boost::asio::io_context& io_;
  BackendOptions opts_;
  std::unique_ptr<Connection> conn_;
  std::shared_ptr<const MemoryTable> mem_;
  std::vector<Vring> vrings_;
  uint64_t offered_features_ = 0;
  uint64_t offered_protocol_features_ = 0;
  uint64_t features_ = 0;
  uint64_t protocol_features_ = 0;
  bool protocol_features_set_ = false;
  bool features_set_ = false;
  uint64_t status_ = 0;
  bool owner_set_ = false;
  ProtocolError last_error_ = ProtocolError::ok;
  BackendCounters counters_;
  std::vector<ring::Chain> chains_;     // one TX burst (opts_.burst), reused: no allocation per packet
  std::vector<ring::Chain> rx_chains_;  // the RX buffers of one echoed burst, frame after frame
  std::vector<size_t> rx_first_;        // frame i's RX buffers: rx_chains_[rx_first_[i], rx_first_[i + 1])
  std::unique_ptr<PeerCheck> check_;  // --check
  Iotlb iotlb_{counters_.iotlb};
  std::unique_ptr<Connection> backend_channel_;  // SET_BACKEND_REQ_FD
  std::vector<ring::Segment> pieces_;  // admit(): a chain's segments split where IOVA pages are apart here
};

}  // namespace virtiosim::vhost_user
