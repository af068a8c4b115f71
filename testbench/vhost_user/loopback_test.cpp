// Our front-end against our back-end over a real Unix socket with memfd
// memory, in one process: drive -> serve --mode echo, packed and split, and
// the ring base handed back by GET_VRING_BASE.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "transport/vhost_user/drive.h"
#include "transport/vhost_user/serve.h"

namespace virtiosim::vhost_user {
namespace {

std::string temp_socket(const char* tag) {
  return (std::filesystem::temp_directory_path() /
          ("virtiosim-vu-" + std::string(tag) + "-" + std::to_string(::getpid()) + ".sock"))
      .string();
}

DriveReport drive_against_echo(bool packed, uint64_t packets, uint32_t size, uint32_t qs) {
  ServeOptions so;
  so.socket_path = temp_socket(packed ? "packed" : "split");
  so.backend.mode = NetMode::echo;
  so.backend.log = false;
  so.once = true;  // exits when drive disconnects
  int serve_rc = -1;
  std::thread server([&] { serve_rc = serve(so); });
  for (int i = 0; i < 200 && !std::filesystem::exists(so.socket_path); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  DriveOptions d;
  d.socket_path = so.socket_path;
  d.packets = packets;
  d.frame_size = size;
  d.packed = packed;
  d.queue_size = qs;
  d.timeout_s = 20;
  const DriveReport rep = run_drive(d);
  server.join();
  EXPECT_EQ(serve_rc, 0);
  return rep;
}

TEST(VhostUserLoopback, DriveAgainstEchoPacked) {
  const DriveReport r = drive_against_echo(true, 50000, 64, 256);
  EXPECT_EQ(r.received, 50000u) << r.text();
  EXPECT_EQ(r.errors(), 0u) << r.text();
}

TEST(VhostUserLoopback, DriveAgainstEchoSplit) {
  const DriveReport r = drive_against_echo(false, 50000, 64, 256);
  EXPECT_EQ(r.received, 50000u) << r.text();
  EXPECT_EQ(r.errors(), 0u) << r.text();
}

TEST(VhostUserLoopback, OddQueueSizeAndLargeFramesPacked) {
  // Packed rings need not be a power of two (P1); 1500-byte frames.
  const DriveReport r = drive_against_echo(true, 20000, 1500, 100);
  EXPECT_EQ(r.received, 20000u) << r.text();
  EXPECT_EQ(r.errors(), 0u) << r.text();
}

}  // namespace
}  // namespace virtiosim::vhost_user
