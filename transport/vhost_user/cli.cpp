#include "transport/vhost_user/cli.h"

#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "transport/vhost_user/drive.h"
#include "transport/vhost_user/serve.h"

namespace virtiosim::vhost_user {

namespace {

constexpr const char* kUsage =
    "usage: virtiosim vhost-user serve --socket PATH [--mode sink|echo] [--queues N] [--poll-us N] [--once]\n"
    "       virtiosim vhost-user drive --socket PATH [--packets N] [--size B] [--ring packed|split]\n"
    "                                  [--queue-size N] [--timeout S]\n"
    "\n"
    "serve  be a virtio-net vhost-user back-end on PATH; counters on exit and on SIGUSR1\n"
    "       sink: count and checksum every frame; echo: return frames, MACs swapped\n"
    "       --poll-us: busy-poll this long without work before sleeping on kicks\n"
    "drive  connect to a vhost-user back-end on PATH as a front-end, send N frames of\n"
    "       B bytes, check the echoes (packets that must come back: all) and report\n";

int usage_error(const std::string& what) {
  std::fprintf(stderr, "virtiosim vhost-user: %s\n%s", what.c_str(), kUsage);
  return 2;
}

template <class T>
std::optional<T> number(std::string_view s) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Walks "--name value" pairs; flags without a value are listed in `flags`.
class Args {
 public:
  Args(int argc, char** argv) : argc_(argc), argv_(argv) {}
  bool next(std::string_view& name, std::string_view& value, std::initializer_list<std::string_view> flags,
            std::string& error) {
    if (i_ >= argc_) return false;
    name = argv_[i_++];
    if (name.substr(0, 2) != "--") {
      error = "unexpected argument '" + std::string(name) + "'";
      return false;
    }
    for (std::string_view f : flags)
      if (name == f) {
        value = {};
        return true;
      }
    if (i_ >= argc_) {
      error = std::string(name) + " needs a value";
      return false;
    }
    value = argv_[i_++];
    return true;
  }

 private:
  int argc_;
  char** argv_;
  int i_ = 0;
};

int serve_main(int argc, char** argv) {
  ServeOptions o;
  Args args(argc, argv);
  std::string_view n, v;
  std::string error;
  while (args.next(n, v, {"--once"}, error)) {
    if (n == "--socket") o.socket_path = v;
    else if (n == "--mode" && v == "sink") o.backend.mode = NetMode::sink;
    else if (n == "--mode" && v == "echo") o.backend.mode = NetMode::echo;
    else if (n == "--mode") return usage_error("--mode must be sink or echo");
    else if (n == "--queues") {
      auto q = number<uint32_t>(v);
      if (!q || *q == 0 || *q > 128) return usage_error("--queues must be 1..128");
      o.backend.queue_pairs = *q;
    } else if (n == "--poll-us") {
      auto us = number<uint32_t>(v);
      if (!us || *us > kMaxPollUs) return usage_error("--poll-us must be 0.." + std::to_string(kMaxPollUs));
      o.idle_poll_us = *us;
    } else if (n == "--once") o.once = true;
    else return usage_error("unknown option " + std::string(n));
  }
  if (!error.empty()) return usage_error(error);
  if (o.socket_path.empty()) return usage_error("serve needs --socket PATH");
  return serve(o);
}

int drive_main(int argc, char** argv) {
  DriveOptions o;
  Args args(argc, argv);
  std::string_view n, v;
  std::string error;
  while (args.next(n, v, {}, error)) {
    if (n == "--socket") o.socket_path = v;
    else if (n == "--packets") {
      auto p = number<uint64_t>(v);
      if (!p || *p == 0) return usage_error("--packets must be > 0");
      o.packets = *p;
    } else if (n == "--size") {
      auto s = number<uint32_t>(v);
      if (!s || *s < kMinDriveFrame || *s > kMaxDriveFrame)
        return usage_error("--size must be " + std::to_string(kMinDriveFrame) + ".." + std::to_string(kMaxDriveFrame));
      o.frame_size = *s;
    } else if (n == "--ring" && v == "packed") o.packed = true;
    else if (n == "--ring" && v == "split") o.packed = false;
    else if (n == "--ring") return usage_error("--ring must be packed or split");
    else if (n == "--queue-size") {
      auto q = number<uint32_t>(v);
      if (!q || *q < 2 || *q > 32768) return usage_error("--queue-size must be 2..32768");
      o.queue_size = *q;
    } else if (n == "--timeout") {
      auto t = number<uint32_t>(v);
      if (!t || *t == 0) return usage_error("--timeout must be > 0 seconds");
      o.timeout_s = *t;
    } else return usage_error("unknown option " + std::string(n));
  }
  if (!error.empty()) return usage_error(error);
  if (o.socket_path.empty()) return usage_error("drive needs --socket PATH");
  if (!o.packed && (o.queue_size & (o.queue_size - 1)))
    return usage_error("a split ring's --queue-size must be a power of two");
  return drive(o);
}

}  // namespace

int vhost_user_main(int argc, char** argv) {
  if (argc < 2) return usage_error("missing subcommand");
  const std::string_view sub = argv[1];
  if (sub == "serve") return serve_main(argc - 2, argv + 2);
  if (sub == "drive") return drive_main(argc - 2, argv + 2);
  if (sub == "--help" || sub == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  return usage_error("unknown subcommand '" + std::string(sub) + "'");
}

}  // namespace virtiosim::vhost_user
