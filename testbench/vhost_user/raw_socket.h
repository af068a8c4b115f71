// For tests that speak vhost-user by hand over a socket: a message as the
// bytes on the wire (VU1), sent with its file descriptors as SCM_RIGHTS.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "transport/vhost_user/protocol.h"

namespace virtiosim::vhost_user {

inline std::vector<uint8_t> wire_bytes(const RawMessage& m) {
  std::vector<uint8_t> b(kHeaderSize + m.payload.size());
  std::memcpy(b.data(), &m.header, kHeaderSize);
  if (!m.payload.empty()) std::memcpy(b.data() + kHeaderSize, m.payload.data(), m.payload.size());
  return b;
}

// One sendmsg of `n` bytes with `fds` attached; its result.
inline ssize_t send_with_fds(int sock, const void* p, size_t n, const std::vector<int>& fds) {
  iovec iov{const_cast<void*>(p), n};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  return ::sendmsg(sock, &msg, MSG_NOSIGNAL);
}

}  // namespace virtiosim::vhost_user
