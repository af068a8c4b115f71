// One connection of the checker to the back-end under test: the front-end
// side of the vhost-user protocol (VU3) set up the way a scenario asks,
// guest memory shared as memfd regions, the two rings of virtio-net queue
// pair 0 (vring 0 receives, vring 1 transmits) as raw PackedFronts, and
// the eventfds through which the back-end answers: call (used-buffer
// notification) and err (SET_VRING_ERR, a ring it gave up on).
//
// Everything a verdict rests on is what a front-end can observe: ring
// memory, the eventfds, replies and the connection itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "transport/vhost_user/check/packed_front.h"
#include "transport/vhost_user/fd.h"
#include "transport/vhost_user/frontend.h"

namespace virtiosim::vhost_user::check {

inline constexpr uint32_t kRxVring = 0, kTxVring = 1;
inline constexpr uint32_t kFreshPackedBase = 0x80008000;  // VU2: both halves at slot 0, wrap 1

// How a scenario wants its connection.
struct Setup {
  uint32_t queue_size = 256;
  uint64_t require = 0;  // virtio features the scenario needs: SKIP when not offered
  uint64_t decline = 0;  // features not to negotiate even when offered
  uint32_t regions = 1;  // memfd regions in SET_MEM_TABLE; rings in the first, buffers in the last
  uint32_t tx_base = kFreshPackedBase;
  uint32_t rx_base = kFreshPackedBase;
  bool start = true;     // run the ring setup to SET_VRING_ENABLE 1 and DRIVER_OK
  // With an echoing back-end, keep RX stocked behind the scenario's back
  // (an echo back-end takes a frame from TX only when RX has room). RX
  // scenarios turn it off and post their own buffers.
  bool auto_rx = true;
};

// The back-end as the checker addresses it, and how long to wait.
struct Target {
  std::string socket_path;
  bool echo = false;                    // frames sent on TX come back on RX
  std::chrono::milliseconds timeout{2000};  // for something that must happen
  std::chrono::milliseconds settle{150};    // watching for something that must not
};

// The setup could not be completed: either the back-end does not offer
// what the scenario needs (skip) or it refused a step (refused).
struct SetupFailure {
  bool skip = false;
  std::string detail;
};

enum class Queue : uint32_t { rx = kRxVring, tx = kTxVring };

class Session {
 public:
  // Connects and sets up as `s` asks; throws SetupFailure.
  Session(const Target& t, const Setup& s);
  ~Session();

  const Target& target() const { return target_; }
  const Setup& setup() const { return setup_; }
  Frontend& frontend() { return *fe_; }
  uint64_t features() const { return features_; }
  bool has(unsigned feature) const { return features_ & (uint64_t{1} << feature); }
  size_t net_header() const;

  GuestMemfd& buffers() { return *regions_.back(); }
  GuestMemfd& region(size_t i) { return *regions_[i]; }
  PackedFront& ring(Queue q) { return q == Queue::rx ? *rx_ : *tx_; }
  PackedFront& tx() { return *tx_; }
  PackedFront& rx() { return *rx_; }

  // Sends the rest of the setup when Setup::start was false.
  void start_rings();
  // Closes the connection (a front-end leaving).
  void hang_up();
  void kick(Queue q);
  // Used-buffer notifications (calls) received on `q` so far.
  uint64_t calls(Queue q);
  // How the back-end refused, if it did: it closed the connection, or
  // signalled a ring's err eventfd, or reports NEEDS_RESET (GET_STATUS).
  // Empty: it did not.
  std::string refusal();
  bool closed();
  bool err_signalled();

  // A TX buffer: a net header (zeroed) and a numbered test frame of
  // `frame` bytes, at a fresh address in the buffer region.
  uint64_t tx_frame(uint64_t seq, uint32_t frame = 64);
  uint32_t tx_frame_len(uint32_t frame = 64) const { return static_cast<uint32_t>(net_header() + frame); }
  // `n` bytes of the buffer region, filled with `fill`.
  uint64_t alloc(uint64_t n, uint8_t fill = 0);
  uint8_t* host(uint64_t gpa);
  // Where the RX buffer with id `id` is (the used descriptor does not say).
  void set_rx_buffer(uint16_t id, uint64_t gpa) { rx_buffers_[id] = gpa; }
  uint64_t rx_buffer(uint16_t id) const { return rx_buffers_[id]; }

  // Echo back-ends: takes the echoes off RX and posts their buffers again.
  // An unsound RX used descriptor stops it; rx_violation() says which.
  void service_rx();
  const Violation& rx_violation() const { return rx_violation_; }

  // Polls until `done` says so, the back-end refuses, or `wait` passes.
  enum class Waited { done, refused, timeout };
  Waited wait(std::chrono::milliseconds wait, const std::function<bool()>& done);

 private:
  void fail(const std::string& what);
  void post_rx_buffer();

  Target target_;
  Setup setup_;
  boost::asio::io_context io_;
  std::unique_ptr<Frontend> fe_;
  uint64_t features_ = 0;
  std::vector<std::unique_ptr<GuestMemfd>> regions_;
  std::unique_ptr<PackedFront> rx_, tx_;
  Fd call_[2], kick_[2], err_[2];
  uint64_t calls_[2] = {0, 0};
  bool err_seen_[2] = {false, false};
  bool started_ = false;
  bool auto_rx_ = false;
  Violation rx_violation_;
  std::vector<uint64_t> rx_buffers_ = std::vector<uint64_t>(1u << 16);
};

}  // namespace virtiosim::vhost_user::check
