// libFuzzer target: the vhost-user back-end (Backend) behind a real Unix
// socket pair, fds included. The input is a sequence of operations: a
// request built from the input (a known request with a payload of its type,
// memory tables with memfd or eventfd regions, KICK/CALL/ERR with eventfds
// or the no-fd bit), raw bytes with fds, writes into the shared guest
// memory (the front-end rewriting its rings at any time), the back-end's
// poll() with notifications armed or not, a message cut short, a hang-up.
//
// Invariants (a violation traps):
//  - nothing crashes (ASan/UBSan), and no fd leaks: after the back-end
//    closed the connection it holds no fd of it, and every iteration ends
//    with the process's fd count where it began (/proc/self/fd);
//  - every reply is well-formed (decode_reply accepts it as the reply to
//    the request it names) and answers what was asked: GET_FEATURES the
//    offered features, GET_PROTOCOL_FEATURES the offered protocol
//    features, GET_QUEUE_NUM the queue pairs;
//  - once the connection is closed, poll() moves nothing and no reply
//    comes.
#include <dirent.h>
#include <fcntl.h>
#include <fuzzer/FuzzedDataProvider.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "testbench/fuzz/checked_memory.h"
#include "testbench/vhost_user/raw_socket.h"
#include "transport/vhost_user/backend.h"

namespace virtiosim::fuzz {
namespace {

using namespace vhost_user;
using ring::feature_bit;

// The front-end's guest memory: one memfd, at these guest-physical and
// front-end user addresses when the input uses the usual region.
constexpr uint64_t kMemBytes = 64 * 1024;
constexpr uint64_t kGpa = 0x100000;
constexpr uint64_t kUva = 0x7f0000000000;

int count_fds() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return -1;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n;  // includes the directory's own fd, the same way every time
}

class BackendHarness {
 public:
  BackendHarness(FuzzedDataProvider& in, BackendOptions opts) : in_(in), backend_(io_, opts) {
    memfd_ = ::memfd_create("fuzz-guest", MFD_CLOEXEC);
    FUZZ_CHECK(memfd_ >= 0 && ::ftruncate(memfd_, kMemBytes) == 0);
    guest_ = static_cast<uint8_t*>(::mmap(nullptr, kMemBytes, PROT_READ | PROT_WRITE, MAP_SHARED, memfd_, 0));
    FUZZ_CHECK(guest_ != MAP_FAILED);
    Socket a(io_), b(io_);
    boost::asio::local::connect_pair(a, b);
    fd_ = b.release();
    backend_.attach(std::move(a));
    fds_connected_ = count_fds();
  }
  ~BackendHarness() {
    ::munmap(guest_, kMemBytes);
    ::close(memfd_);
    if (fd_ >= 0) ::close(fd_);
  }

  void run() {
    while (in_.remaining_bytes() > 0 && step(in_.ConsumeIntegral<uint8_t>())) {
      settle();
    }
    // The front-end leaves; the back-end drains, stops and lets go of
    // everything it held.
    ::shutdown(fd_, SHUT_WR);
    settle();
    FUZZ_CHECK(!backend_.connected());
    check_closed();
  }

 private:
  enum Op : uint8_t { kRequest, kRawMessage, kPoke, kPoll, kCutShort, kHangUp, kOps };

  // One operation; false when nothing more can be sent.
  bool step(uint8_t op) {
    switch (op % kOps) {
      case kRequest: request(); return true;
      case kRawMessage: {
        RawMessage m;
        m.header.request = in_.ConsumeIntegral<uint32_t>();
        m.header.flags = in_.ConsumeIntegral<uint32_t>();
        m.payload = in_.ConsumeBytes<uint8_t>(in_.ConsumeIntegralInRange<size_t>(0, kMaxPayload));
        // A size that does not match the bytes that follow would stall the
        // back-end's read until its timeout: that case is kCutShort's.
        m.header.size = static_cast<uint32_t>(m.payload.size());
        send(m, in_.ConsumeIntegralInRange<int>(0, 3));
        return true;
      }
      case kPoke: {
        const uint64_t off = in_.ConsumeIntegralInRange<uint64_t>(0, kMemBytes - 1);
        const auto b = in_.ConsumeBytes<uint8_t>(in_.ConsumeIntegralInRange<size_t>(1, 64));
        if (!b.empty()) std::memcpy(guest_ + off, b.data(), std::min<size_t>(b.size(), kMemBytes - off));
        return true;
      }
      case kPoll: {
        const uint8_t how = in_.ConsumeIntegral<uint8_t>();
        const bool was_connected = backend_.connected();
        const size_t n = backend_.poll();
        if (!was_connected) FUZZ_CHECK(n == 0);
        if (how & 1) (void)backend_.arm_notifications();
        if (how & 2) backend_.disarm_notifications();
        return true;
      }
      case kCutShort: {
        // A message whose payload stops early, then the end of the stream.
        RawMessage m = encode(static_cast<Request>(in_.ConsumeIntegral<uint8_t>() % 41), NoPayload{});
        m.payload = in_.ConsumeBytes<uint8_t>(in_.ConsumeIntegralInRange<size_t>(0, 16));
        m.header.size = static_cast<uint32_t>(m.payload.size() + in_.ConsumeIntegralInRange<uint32_t>(1, 64));
        send(m, 0);
        return false;
      }
      case kHangUp: return false;
    }
    return true;
  }

  // A known request with a payload of its type (or, for unknown ones, a
  // few bytes), the fds it takes, mostly with values that get somewhere.
  void request() {
    const Request r = static_cast<Request>(in_.ConsumeIntegral<uint8_t>() % 41);
    const uint8_t sel = in_.ConsumeIntegral<uint8_t>();
    const uint32_t flags = (sel & 2) ? in_.ConsumeIntegral<uint32_t>() : kVersion | ((sel & 1) ? kFlagNeedReply : 0);
    std::vector<int> fds;
    Payload p = NoPayload{};
    switch (info(r).request) {
      case PayloadKind::none:
        break;
      case PayloadKind::u64:
        if (r == Request::SET_VRING_KICK || r == Request::SET_VRING_CALL || r == Request::SET_VRING_ERR) {
          const uint64_t index = in_.ConsumeIntegralInRange<uint64_t>(0, 4);
          const bool nofd = in_.ConsumeBool();
          p = index | (nofd ? kVringNoFdMask : 0);
          if (!nofd) fds.push_back(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        } else if (r == Request::SET_FEATURES) {
          p = in_.ConsumeIntegral<uint64_t>() & backend_.offered_features();
        } else if (r == Request::SET_PROTOCOL_FEATURES) {
          p = in_.ConsumeIntegral<uint64_t>() & backend_.offered_protocol_features();
        } else {
          p = in_.ConsumeIntegral<uint64_t>();
        }
        break;
      case PayloadKind::vring_state: {
        const uint32_t index = in_.ConsumeIntegralInRange<uint32_t>(0, 4);
        p = VringState{index, in_.ConsumeIntegral<uint32_t>()};
        break;
      }
      case PayloadKind::vring_addr: {
        VringAddr a;
        a.index = in_.ConsumeIntegralInRange<uint32_t>(0, 4);
        a.desc_user_addr = kUva + in_.ConsumeIntegralInRange<uint64_t>(0, kMemBytes);
        a.used_user_addr = kUva + in_.ConsumeIntegralInRange<uint64_t>(0, kMemBytes);
        a.avail_user_addr = kUva + in_.ConsumeIntegralInRange<uint64_t>(0, kMemBytes);
        p = a;
        break;
      }
      case PayloadKind::mem_table: {
        MemTable t;
        const size_t n = in_.ConsumeIntegralInRange<size_t>(1, 2);
        for (size_t i = 0; i < n; ++i) {
          MemRegion reg{kGpa, kMemBytes, kUva, 0};
          if (in_.ConsumeIntegral<uint8_t>() >= 192) {
            reg.guest_phys_addr = in_.ConsumeIntegral<uint64_t>();
            reg.memory_size = in_.ConsumeIntegralInRange<uint64_t>(0, 2 * kMemBytes);
            reg.userspace_addr = in_.ConsumeIntegral<uint64_t>();
            reg.mmap_offset = in_.ConsumeIntegralInRange<uint64_t>(0, kMemBytes);
          }
          t.regions.push_back(reg);
          // Mostly the guest memory; an eventfd cannot be mapped.
          fds.push_back(in_.ConsumeIntegral<uint8_t>() < 224 ? ::dup(memfd_) : ::eventfd(0, EFD_CLOEXEC));
        }
        p = std::move(t);
        break;
      }
    }
    RawMessage m = encode(r, p, flags);
    if (!info(r).known) {
      m.payload = in_.ConsumeBytes<uint8_t>(in_.ConsumeIntegralInRange<size_t>(0, 16));
      m.header.size = static_cast<uint32_t>(m.payload.size());
    }
    send_fds(m, fds);
  }

  // `n` eventfds with the message.
  void send(const RawMessage& m, int n) {
    std::vector<int> fds;
    for (int i = 0; i < n; ++i) fds.push_back(::eventfd(0, EFD_CLOEXEC));
    send_fds(m, fds);
  }
  void send_fds(const RawMessage& m, std::vector<int>& fds) {
    const std::vector<uint8_t> b = wire_bytes(m);
    // After the back-end closed, the send fails (EPIPE): nothing to check.
    (void)send_with_fds(fd_, b.data(), b.size(), fds);
    for (int fd : fds) ::close(fd);  // the back-end has its own copies
    if (!backend_.connected()) return;
    sent_.push_back(static_cast<Request>(m.header.request));
  }

  // Lets the back-end handle everything sent, then reads its replies.
  void settle() {
    do io_.restart();
    while (io_.poll() > 0);
    read_replies();
    if (!backend_.connected() && !checked_close_) check_closed();
  }

  void read_replies() {
    uint8_t buf[512];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) break;
      FUZZ_CHECK(!closed_seen_);
      pending_.insert(pending_.end(), buf, buf + n);
    }
    while (pending_.size() >= kHeaderSize) {
      RawMessage m;
      m.header = parse_header(std::span<const uint8_t, kHeaderSize>(pending_.data(), kHeaderSize));
      FUZZ_CHECK(m.header.size <= kMaxPayload);
      if (pending_.size() < kHeaderSize + m.header.size) break;
      m.payload.assign(pending_.begin() + kHeaderSize, pending_.begin() + static_cast<long>(kHeaderSize + m.header.size));
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<long>(kHeaderSize + m.header.size));
      check_reply(m);
    }
  }

  void check_reply(const RawMessage& m) {
    const Request r = static_cast<Request>(m.header.request);
    FUZZ_CHECK(std::find(sent_.begin(), sent_.end(), r) != sent_.end());
    const Decoded d = decode_reply(m, r);
    FUZZ_CHECK(d.error == ProtocolError::ok);
    if (r == Request::GET_FEATURES) FUZZ_CHECK(std::get<uint64_t>(d.message.payload) == backend_.offered_features());
    if (r == Request::GET_PROTOCOL_FEATURES)
      FUZZ_CHECK(std::get<uint64_t>(d.message.payload) == backend_.offered_protocol_features());
    if (r == Request::GET_QUEUE_NUM) FUZZ_CHECK(std::get<uint64_t>(d.message.payload) == 1);
  }

  // The back-end closed the connection: it keeps no fd (its socket, region
  // mappings' fds, kick/call/err eventfds and their dups are all gone), and
  // nothing more comes from it.
  void check_closed() {
    checked_close_ = true;
    FUZZ_CHECK(count_fds() == fds_connected_ - 1);
    read_replies();
    closed_seen_ = true;
    FUZZ_CHECK(backend_.poll() == 0);
  }

  FuzzedDataProvider& in_;
  boost::asio::io_context io_;  // before the back-end: its pending handlers die after it
  Backend backend_;
  int fd_ = -1;                 // our end: the front-end
  int memfd_ = -1;
  uint8_t* guest_ = nullptr;
  int fds_connected_ = 0;       // open fds right after attach()
  bool checked_close_ = false;
  bool closed_seen_ = false;
  std::vector<Request> sent_;
  std::vector<uint8_t> pending_;  // reply bytes not yet a whole message
};

}  // namespace
}  // namespace virtiosim::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace virtiosim;
  const int fds_before = fuzz::count_fds();
  {
    FuzzedDataProvider in(data, size);
    const uint8_t cfg = in.ConsumeIntegral<uint8_t>();
    vhost_user::BackendOptions opts;
    opts.mode = (cfg & 1) ? vhost_user::NetMode::echo : vhost_user::NetMode::sink;
    opts.queue_pairs = 1;
    opts.burst = 1u + (cfg >> 1) % 8;  // small bursts: GET_VRING_BASE's drain loops too
    opts.log = false;
    fuzz::BackendHarness(in, opts).run();
  }
  FUZZ_CHECK(fuzz::count_fds() == fds_before);
  return 0;
}
