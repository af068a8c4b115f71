#include "transport/vhost_user/check/session.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "models/ring/features.h"
#include "models/ring/layout.h"
#include "models/ring/ring_state.h"
#include "transport/vhost_user/net.h"

namespace virtiosim::vhost_user::check {

using ring::feature_bit;

namespace {

// Regions sit 256 MiB apart, so an address past one region's end falls in
// a hole, not in the next region.
constexpr uint64_t kRegionStride = 0x10000000;
constexpr uint64_t kTxSlotBytes = 128;
constexpr uint8_t kStatusDriverOk = 0x0f;  // ACKNOWLEDGE | DRIVER | DRIVER_OK | FEATURES_OK
constexpr uint64_t kStatusNeedsReset = 0x40;
constexpr uint32_t kRxBufferBytes = 2048;  // a full frame with its net header, as Linux's small buffers

Fd eventfd_nonblocking() { return Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)); }

uint64_t read_eventfd(const Fd& fd) {
  uint64_t n = 0;
  return ::read(fd.get(), &n, sizeof n) == sizeof n ? n : 0;
}

void pause_briefly() {
  const timespec ts{0, 20'000};  // 20 µs: the back-end under test may share our CPU
  ::nanosleep(&ts, nullptr);
}

}  // namespace

Session::Session(const Target& t, const Setup& s) : target_(t), setup_(s) {
  try {
    fe_ = std::make_unique<Frontend>(connect_unix(io_, t.socket_path));
  } catch (const std::exception& e) {
    throw SetupFailure{false, std::string("cannot connect to ") + t.socket_path + ": " + e.what()};
  }
  Payload p;
  if (fe_->request(Request::GET_FEATURES, NoPayload{}, &p) != ProtocolError::ok)
    fail("GET_FEATURES: " + fe_->detail());
  const uint64_t offered = std::get<uint64_t>(p);
  if ((offered & s.require) != s.require)
    throw SetupFailure{true, "the back-end does not offer feature bits 0x" + [&] {
                         char b[20];
                         std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(s.require & ~offered));
                         return std::string(b);
                       }()};
  const uint64_t wanted = feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_F_RING_PACKED) | s.require;
  const uint64_t optional = (feature_bit(VIRTIO_RING_F_EVENT_IDX) | feature_bit(VIRTIO_RING_F_INDIRECT_DESC) |
                             feature_bit(net::kFeatureMrgRxbuf)) &
                            ~s.decline;
  if (ProtocolError e = fe_->negotiate(wanted, optional, features_); e != ProtocolError::ok)
    fail(std::string("feature negotiation: ") + name(e) + ": " + fe_->detail());

  // Rings in the first region, buffers in the last.
  const uint64_t ring_bytes = 2 * ring::PackedLayout::contiguous_bytes(s.queue_size) + 4096;
  const uint64_t pool = std::max<uint64_t>(2 * s.queue_size, 256) * kTxSlotBytes;
  const uint64_t buffer_bytes = pool + uint64_t{s.queue_size} * 2048 + (4 << 20);
  for (uint32_t i = 0; i < s.regions; ++i) {
    uint64_t bytes = 0;
    if (i == 0) bytes += ring_bytes;
    if (i + 1 == s.regions) bytes += buffer_bytes;
    if (bytes == 0) bytes = 1 << 20;
    regions_.push_back(std::make_unique<GuestMemfd>(bytes, GuestMemfd::kGpaBase + i * kRegionStride));
  }
  MemTable table;
  std::vector<int> fds;
  for (const auto& r : regions_) {
    table.regions.push_back(r->region());
    fds.push_back(r->fd());
  }
  if (ProtocolError e = fe_->request(Request::SET_MEM_TABLE, table, nullptr, fds); e != ProtocolError::ok)
    fail(std::string("SET_MEM_TABLE: ") + name(e) + ": " + fe_->detail());

  rx_ = std::make_unique<PackedFront>(*regions_.front(), s.queue_size);
  tx_ = std::make_unique<PackedFront>(*regions_.front(), s.queue_size);
  const ring::RingState rs = ring::decode_vring_base_packed(s.rx_base), ts = ring::decode_vring_base_packed(s.tx_base);
  rx_->resume_at(rs.last_avail_idx, rs.avail_wrap_counter, rs.last_used_idx, rs.used_wrap_counter);
  tx_->resume_at(ts.last_avail_idx, ts.avail_wrap_counter, ts.last_used_idx, ts.used_wrap_counter);
  // The checker reads used descriptors itself; calls are counted, not needed.
  rx_->set_driver_event(ring::kEventFlagDisable);
  tx_->set_driver_event(ring::kEventFlagDisable);
  for (int q = 0; q < 2; ++q) {
    call_[q] = eventfd_nonblocking();
    kick_[q] = eventfd_nonblocking();
    err_[q] = eventfd_nonblocking();
    const int fd = err_[q].get();
    if (ProtocolError e = fe_->request(Request::SET_VRING_ERR, uint64_t(q), nullptr, {&fd, 1}); e != ProtocolError::ok)
      fail(std::string("SET_VRING_ERR: ") + name(e) + ": " + fe_->detail());
  }
  if (s.start) start_rings();
}

Session::~Session() {
  if (fe_) fe_->connection().close();
}

void Session::hang_up() { fe_->connection().close(); }

void Session::fail(const std::string& what) { throw SetupFailure{false, what}; }

void Session::start_rings() {
  for (Queue q : {Queue::rx, Queue::tx}) {
    PackedFront& r = ring(q);
    const uint32_t index = static_cast<uint32_t>(q);
    const uint32_t base = q == Queue::rx ? setup_.rx_base : setup_.tx_base;
    const RingAddresses a{r.desc_area(), r.driver_area(), r.device_area()};
    if (ProtocolError e = fe_->start_ring(index, setup_.queue_size, base, a, *regions_.front(), call_[index].get(),
                                          kick_[index].get());
        e != ProtocolError::ok)
      fail("vring " + std::to_string(index) + " setup: " + name(e) + ": " + fe_->detail());
  }
  if (ProtocolError e = fe_->set_status(kStatusDriverOk); e != ProtocolError::ok)
    fail(std::string("SET_STATUS: ") + name(e) + ": " + fe_->detail());
  started_ = true;
  auto_rx_ = target_.echo && setup_.auto_rx;
  if (auto_rx_) {
    for (uint32_t i = 0; i < setup_.queue_size; ++i) post_rx_buffer();
    kick(Queue::rx);
  }
}

void Session::post_rx_buffer() {
  const uint64_t gpa = alloc(kRxBufferBytes, 0xee);
  const uint16_t id = rx_->next_avail();
  set_rx_buffer(id, gpa);
  rx_->add_one(gpa, kRxBufferBytes, id, ring::kDescWrite);
}

void Session::service_rx() {
  if (!auto_rx_ || rx_violation_) return;
  size_t n = 0;
  while (auto u = rx_->take_used(rx_violation_)) {
    if (rx_violation_) return;
    // The same memory again: an RX buffer is only ever written.
    const uint16_t id = rx_->next_avail();
    set_rx_buffer(id, rx_buffer(u->id));
    rx_->add_one(rx_buffer(u->id), kRxBufferBytes, id, ring::kDescWrite);
    ++n;
  }
  if (n) kick(Queue::rx);
}

size_t Session::net_header() const { return net::header_len(features_); }

void Session::kick(Queue q) {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(kick_[static_cast<uint32_t>(q)].get(), &one, sizeof one);
}

uint64_t Session::calls(Queue q) {
  const uint32_t i = static_cast<uint32_t>(q);
  calls_[i] += read_eventfd(call_[i]);
  return calls_[i];
}

bool Session::closed() {
  if (!fe_->connection().is_open()) return true;
  const int fd = fe_->connection().socket().native_handle();
  pollfd pfd{fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&pfd, 1, 0) <= 0) return false;
  if (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR)) return true;
  char c;
  return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

std::string Session::refusal() {
  if (closed()) return "the back-end closed the connection";
  if (err_signalled())
    for (uint32_t q = 0; q < 2; ++q)
      if (err_seen_[q]) return "the back-end signalled vring " + std::to_string(q) + "'s err eventfd (SET_VRING_ERR)";
  if (fe_->protocol_features() & feature_bit(protocol_feature::STATUS)) {
    Payload p;
    if (fe_->request(Request::GET_STATUS, NoPayload{}, &p) != ProtocolError::ok)
      return "GET_STATUS failed: " + fe_->detail();
    if (std::get<uint64_t>(p) & kStatusNeedsReset) return "the back-end reports NEEDS_RESET (GET_STATUS)";
  }
  return {};
}

bool Session::err_signalled() {
  for (uint32_t q = 0; q < 2; ++q)
    if (!err_seen_[q]) err_seen_[q] = read_eventfd(err_[q]) != 0;
  return err_seen_[0] || err_seen_[1];
}

uint64_t Session::alloc(uint64_t n, uint8_t fill) {
  const uint64_t gpa = buffers().alloc(n, 16);
  std::memset(buffers().host(gpa), fill, n);
  return gpa;
}

uint8_t* Session::host(uint64_t gpa) {
  for (const auto& r : regions_)
    if (gpa >= r->gpa_base() && gpa < r->gpa_base() + r->size()) return r->host(gpa);
  return nullptr;
}

uint64_t Session::tx_frame(uint64_t seq, uint32_t frame) {
  const uint64_t gpa = alloc(net_header() + frame);
  uint8_t* p = host(gpa);
  std::memset(p, 0, net_header());
  net::make_frame(p + net_header(), frame, seq);
  return gpa;
}

Session::Waited Session::wait(std::chrono::milliseconds w, const std::function<bool()>& done) {
  const auto until = std::chrono::steady_clock::now() + w;
  for (uint32_t i = 0;; ++i) {
    service_rx();
    if (done()) return Waited::done;
    // The cheap refusals now and then; GET_STATUS only when time is up.
    if ((i & 63) == 0 && (closed() || err_signalled())) return Waited::refused;
    if (std::chrono::steady_clock::now() >= until) return refusal().empty() ? Waited::timeout : Waited::refused;
    pause_briefly();
  }
}

}  // namespace virtiosim::vhost_user::check
