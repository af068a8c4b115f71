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

// Runs `d` (its socket_path is set here) against `serve --mode mode --once`.
inline DriveReport drive_against_serve(DriveOptions d, NetMode mode) {
  ServeOptions so;
  so.socket_path = temp_socket(d.packed ? "packed" : "split");
  so.backend.mode = mode;
  so.backend.log = false;
  so.once = true;
  int serve_rc = -1;
  std::thread server([&] { serve_rc = serve(so); });
  for (int i = 0; i < 200 && !std::filesystem::exists(so.socket_path); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  d.socket_path = so.socket_path;
  const DriveReport rep = run_drive(d);
  server.join();
  EXPECT_EQ(serve_rc, 0);
  return rep;
}

}  // namespace virtiosim::vhost_user
