#include "transport/vhost_user/connection.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

namespace virtiosim::vhost_user {

namespace {

// Room for more fds than any request takes, so that "one too many" is seen
// as too_many_fds by the decoder rather than as a truncated control message.
constexpr size_t kFdRoom = kMaxFds + 8;

void set_timeout(int fd, int opt, std::chrono::milliseconds t) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(t.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((t.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv);
}

ProtocolError errno_error() {
  return (errno == EAGAIN || errno == EWOULDBLOCK) ? ProtocolError::timeout : ProtocolError::io_error;
}

}  // namespace

Connection::Connection(Socket socket, std::chrono::milliseconds io_timeout) : socket_(std::move(socket)) {
  socket_.non_blocking(false);
  set_timeout(socket_.native_handle(), SO_RCVTIMEO, io_timeout);
  set_timeout(socket_.native_handle(), SO_SNDTIMEO, io_timeout);
}

ProtocolError Connection::send(const RawMessage& m, std::span<const int> fds) {
  if (!socket_.is_open()) return ProtocolError::io_error;
  if (fds.size() > kMaxFds) return ProtocolError::too_many_fds;
  uint8_t header[kHeaderSize];
  std::memcpy(header, &m.header.request, 4);
  std::memcpy(header + 4, &m.header.flags, 4);
  std::memcpy(header + 8, &m.header.size, 4);
  iovec iov[2] = {{header, kHeaderSize},
                  {const_cast<uint8_t*>(m.payload.data()), m.payload.size()}};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = m.payload.empty() ? 1 : 2;
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  const size_t total = kHeaderSize + m.payload.size();
  ssize_t n;
  do n = ::sendmsg(socket_.native_handle(), &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error();
  // Unix stream sockets send small messages whole; finish a partial send
  // without the fds, which went with the first byte.
  size_t sent = static_cast<size_t>(n);
  while (sent < total) {
    const uint8_t* p;
    size_t left;
    if (sent < kHeaderSize) p = header + sent, left = kHeaderSize - sent;
    else p = m.payload.data() + (sent - kHeaderSize), left = total - sent;
    ssize_t k = ::send(socket_.native_handle(), p, left, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return errno_error();
    sent += static_cast<size_t>(k);
  }
  return ProtocolError::ok;
}

ReceiveResult Connection::receive(RawMessage& out) {
  out.payload.clear();
  out.fds.clear();
  if (!socket_.is_open()) return {ProtocolError::io_error, false, "socket closed"};
  const int fd = socket_.native_handle();

  uint8_t header[kHeaderSize];
  size_t got = 0;
  bool truncated_fds = false;
  // The fds arrive with the first byte of the message.
  {
    iovec iov{header, kHeaderSize};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kFdRoom)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0) return {errno_error(), false, std::strerror(errno)};
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < k; ++i) {
        int r;
        std::memcpy(&r, CMSG_DATA(c) + i * sizeof(int), sizeof r);
        out.fds.emplace_back(r);
      }
    }
    truncated_fds = msg.msg_flags & MSG_CTRUNC;
    if (n == 0) return {ProtocolError::ok, true, "peer closed"};
    got = static_cast<size_t>(n);
  }
  while (got < kHeaderSize) {
    ssize_t n = ::recv(fd, header + got, kHeaderSize - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return {errno_error(), false, "inside the header"};
    if (n == 0) return {ProtocolError::short_header, false, std::to_string(got) + " of 12 header bytes"};
    got += static_cast<size_t>(n);
  }
  out.header = parse_header(std::span<const uint8_t, kHeaderSize>(header, kHeaderSize));
  if (truncated_fds) return {ProtocolError::too_many_fds, false, "more fds than any request carries"};
  if (out.header.size > kMaxPayload)
    return {ProtocolError::payload_too_large, false, "size " + std::to_string(out.header.size)};
  out.payload.resize(out.header.size);
  got = 0;
  while (got < out.header.size) {
    ssize_t n = ::recv(fd, out.payload.data() + got, out.header.size - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return {errno_error(), false, "inside the payload"};
    if (n == 0) {
      out.payload.resize(got);
      return {ProtocolError::truncated_payload, false,
              std::to_string(got) + " of " + std::to_string(out.header.size) + " payload bytes"};
    }
    got += static_cast<size_t>(n);
  }
  return {};
}

void Connection::close() {
  boost::system::error_code ec;
  socket_.shutdown(Socket::shutdown_both, ec);
  socket_.close(ec);
}

}  // namespace virtiosim::vhost_user
