// One vhost-user connection: a Unix stream socket (Boost.Asio
// local::stream_protocol) carrying messages whose fds travel as SCM_RIGHTS
// ancillary data (VU1).
//
// Reads are message-at-a-time and blocking with a receive timeout: the
// caller waits for readability through Asio (async_wait), then takes one
// whole message. A peer that stops in the middle of a message gets a
// timeout error instead of hanging the device.
#pragma once

#include <boost/asio/local/stream_protocol.hpp>

#include <chrono>
#include <span>
#include <string>

#include "transport/vhost_user/protocol.h"

namespace virtiosim::vhost_user {

using Socket = boost::asio::local::stream_protocol::socket;

struct ReceiveResult {
  ProtocolError error = ProtocolError::ok;
  bool peer_closed = false;  // orderly end of stream between messages
  std::string detail;
};

class Connection {
 public:
  explicit Connection(Socket socket,
                      std::chrono::milliseconds io_timeout = std::chrono::milliseconds(2000));

  // Sends header, payload and `fds` in one sendmsg.
  ProtocolError send(const RawMessage& m, std::span<const int> fds = {});
  // Receives exactly one message (header, then `size` payload bytes).
  ReceiveResult receive(RawMessage& out);

  // Wait (asynchronously, on the socket's io_context) until a message can be
  // read or the peer hung up.
  template <class Handler>
  void async_wait_readable(Handler&& h) {
    socket_.async_wait(Socket::wait_read, std::forward<Handler>(h));
  }

  void close();
  bool is_open() const { return socket_.is_open(); }
  Socket& socket() { return socket_; }

 private:
  Socket socket_;
};

}  // namespace virtiosim::vhost_user
