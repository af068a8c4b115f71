#include "transport/vhost_user/serve.h"

#include <fcntl.h>
#include <sys/file.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/signal_set.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "support/json_text.h"

namespace virtiosim::vhost_user {

namespace {

// How often a busy serve looks at its io_context: the latency a control
// request (or SIGINT) sees while data flows. One epoll_wait per millisecond
// costs about 0.1-0.3% of a CPU here (perf: 1-3 us each on this KVM guest).
constexpr auto kControlPollInterval = std::chrono::microseconds(1000);
// Polls between two reads of the clock: 16 full bursts (about 1000
// packets), or 16 empty polls (well under a microsecond) when idle.
constexpr unsigned kSpinsPerClockRead = 16;

}  // namespace

std::string serve_json(const Backend& backend) {
  json::Json counters = json::Json::object();
  backend.counters().visit([&counters](const char* key, uint64_t value) { counters[key] = value; });
  counters["vring_used"] = backend.counters().vring_used;
  json::Json doc = {{"counters", std::move(counters)}};
  if (const PeerCheck* check = backend.check()) {
    json::Json rules = json::Json::object();
    for (const auto& [rule, r] : check->rules()) {
      json::Json evidence = json::Json::array();
      for (const PeerFinding& f : r.evidence)
        evidence.push_back({{"vring", f.vring}, {"slot", f.slot}, {"id", f.id}, {"flags", f.flags},
                            {"wrap", f.wrap}, {"what", f.what}});
      rules[rule] = {{"count", r.count}, {"evidence", std::move(evidence)}};
    }
    doc["check"] = {{"findings", check->findings()}, {"rules", std::move(rules)}};
  }
  return json::dump(doc, 4) + "\n";
}

int serve(const ServeOptions& opts) {
  namespace asio = boost::asio;
  using local = asio::local::stream_protocol;
  asio::io_context io;
  auto guard = asio::make_work_guard(io);

  // One serve per socket: a live one holds an exclusive lock on PATH.lock
  // for its lifetime (the kernel drops it when the process ends), so a
  // second one refuses instead of silently taking the socket over, and a
  // socket file an earlier run left behind is replaced. (Probing the socket
  // by connecting would look like a front-end to the live serve.)
  const std::string lock_path = opts.socket_path + ".lock";
  const Fd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock.valid() || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    std::fprintf(stderr, "virtiosim vhost-user serve: %s: %s\n", opts.socket_path.c_str(),
                 lock.valid() && errno == EWOULDBLOCK ? "in use by another serve; not taken over"
                                                      : ("cannot lock " + lock_path + ": " + std::strerror(errno)).c_str());
    return kServeBadInput;
  }

  // Refused now rather than after a whole run.
  if (!opts.json_path.empty() && !std::ofstream(opts.json_path)) {
    std::fprintf(stderr, "virtiosim vhost-user serve: --json %s: cannot write: %s\n", opts.json_path.c_str(),
                 std::strerror(errno));
    return kServeBadInput;
  }

  local::acceptor acceptor(io);
  try {
    std::error_code fec;
    std::filesystem::remove(opts.socket_path, fec);
    acceptor.open();
    acceptor.bind(local::endpoint(opts.socket_path));
    acceptor.listen(1);
  } catch (const boost::system::system_error& e) {
    std::fprintf(stderr, "virtiosim vhost-user serve: %s: %s\n", opts.socket_path.c_str(), e.what());
    return 1;
  }

  Backend backend(io, opts.backend);
  bool stop = false;
  std::function<void()> accept_next = [&] {
    acceptor.async_accept([&](const boost::system::error_code& ec, local::socket s) {
      if (ec) return;
      backend.attach(std::move(s));
    });
  };
  backend.on_disconnect = [&] {
    if (opts.once) stop = true;
    else accept_next();
  };
  accept_next();

  auto print = [&](const char* when) {
    std::printf("virtiosim vhost-user serve (%s): %s\n", when, backend.report().c_str());
    std::fflush(stdout);
  };
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGUSR1);
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGUSR1) {
          print("SIGUSR1");
          signals.async_wait(on_signal);
        } else {
          stop = true;
        }
      };
  signals.async_wait(on_signal);
  std::fprintf(stderr, "virtiosim vhost-user serve: listening on %s\n", opts.socket_path.c_str());

  // Busy-poll while there is work (as a DPDK vhost PMD does); after
  // idle_poll_us without any, ask for kicks and sleep in the io_context.
  // While busy, notification handling costs nothing: the rings' event
  // flags say "no kicks", and the io_context (control socket, kick
  // eventfds, signals) is looked at once per kControlPollInterval, not per
  // poll: each look is an epoll_wait, a system call that costs as much as a
  // few dozen packets on a virtual machine. The clock is read once per
  // kSpinsPerClockRead polls, busy or not.
  using clock = std::chrono::steady_clock;
  auto last_work = clock::now();
  auto next_control = last_work;
  bool worked = false;
  unsigned spins = 0;
  while (!stop) {
    worked |= backend.poll() != 0;
    if (++spins % kSpinsPerClockRead != 0 && backend.connected()) continue;
    const auto now = clock::now();
    if (worked) last_work = now, worked = false;
    // A ring waiting for an IOTLB miss's answer waits for this look.
    if (now >= next_control || !backend.connected() || backend.waiting_for_iotlb()) {
      io.poll();
      if (stop) break;
      next_control = now + kControlPollInterval;
    }
    if (now - last_work < std::chrono::microseconds(opts.idle_poll_us)) continue;
    if (backend.arm_notifications()) {
      backend.disarm_notifications();
      continue;
    }
    io.run_one();
    backend.disarm_notifications();
    // What woke us (a request, a kick) often comes with more: look again
    // at the next clock read.
    last_work = next_control = clock::now();
  }
  print("exit");
  acceptor.close();
  std::error_code fec;
  std::filesystem::remove(opts.socket_path, fec);
  bool json_failed = false;
  if (!opts.json_path.empty()) {
    std::ofstream out(opts.json_path);
    out << serve_json(backend);
    if (!out.flush()) {
      std::fprintf(stderr, "virtiosim vhost-user serve: --json %s: write failed\n", opts.json_path.c_str());
      json_failed = true;
    }
  }
  const BackendCounters& c = backend.counters();
  if (c.protocol_errors || c.ring_errors || json_failed) return 1;
  return backend.check() && backend.check()->findings() ? kServeFindings : 0;
}

}  // namespace virtiosim::vhost_user
