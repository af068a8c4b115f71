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
  using clock = std::chrono::steady_clock;
  auto last_work = clock::now();
  unsigned spins = 0;
  while (!stop) {
    if ((++spins & 63) == 0 || !backend.connected()) io.poll();
    if (stop) break;
    if (backend.poll()) {
      last_work = clock::now();
      continue;
    }
    if ((spins & 15) != 0 || clock::now() - last_work < std::chrono::microseconds(opts.idle_poll_us)) continue;
    if (backend.arm_notifications()) {
      backend.disarm_notifications();
      continue;
    }
    io.run_one();
    backend.disarm_notifications();
    last_work = clock::now();
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
