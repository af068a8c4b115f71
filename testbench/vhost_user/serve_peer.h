// Our back-end (serve) in a thread of the test process, on a fresh Unix
// socket, for drive to connect to: it exits when drive disconnects.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "transport/vhost_user/drive.h"
#include "transport/vhost_user/serve.h"

namespace virtiosim::vhost_user {

inline std::string temp_socket(const std::string& tag) {
  return (std::filesystem::temp_directory_path() /
          ("virtiosim-vu-" + tag + "-" + std::to_string(::getpid()) + ".sock"))
      .string();
}

// `serve --mode mode --once` in a thread on a fresh socket, listening when
// the constructor returns; it exits when its first front-end leaves.
class ServeThread {
 public:
  ServeThread(const std::string& tag, NetMode mode) : ServeThread(tag, once(mode)) {}
  // Any options; the socket is chosen here.
  ServeThread(const std::string& tag, ServeOptions opts) : opts_(std::move(opts)) {
    opts_.socket_path = temp_socket(tag);
    thread_ = std::thread([this] { rc_ = serve(opts_); });
    for (int i = 0; i < 200 && !std::filesystem::exists(opts_.socket_path); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ~ServeThread() {
    if (thread_.joinable()) thread_.join();
  }
  const ServeOptions& options() const { return opts_; }
  // `serve --mode mode --once`, quiet.
  static ServeOptions once(NetMode mode) {
    ServeOptions o;
    o.backend.mode = mode;
    o.backend.log = false;
    o.once = true;
    return o;
  }
  // Waits for serve to end; its exit code.
  int join() {
    thread_.join();
    return rc_;
  }

 private:
  ServeOptions opts_;
  int rc_ = -1;
  std::thread thread_;
};

// Runs `d` (its socket_path is set here) against `serve --mode mode --once`.
inline DriveReport drive_against_serve(DriveOptions d, NetMode mode) {
  ServeThread server(d.packed ? "packed" : "split", mode);
  d.socket_path = server.options().socket_path;
  const DriveReport rep = run_drive(d);
  EXPECT_EQ(server.join(), 0);
  return rep;
}

}  // namespace virtiosim::vhost_user
