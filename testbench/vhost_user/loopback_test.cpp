// Our front-end against our back-end over a real Unix socket with memfd
// memory, in one process: drive -> serve --mode echo, packed and split, and
// the ring base handed back by GET_VRING_BASE.
#include <gtest/gtest.h>

#include "testbench/vhost_user/serve_peer.h"

namespace virtiosim::vhost_user {
namespace {

DriveReport drive_against_echo(bool packed, uint64_t packets, uint32_t size, uint32_t qs) {
  DriveOptions d;
  d.packets = packets;
  d.frame_size = size;
  d.packed = packed;
  d.queue_size = qs;
  d.timeout_s = 20;
  return drive_against_serve(d, NetMode::echo);
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

// A second serve on a socket a live serve listens on refuses (exit 2)
// instead of silently taking the socket over; the first keeps serving.
TEST(VhostUserServe, DoesNotTakeOverASocketInUse) {
  ServeThread first("in-use", NetMode::echo);
  EXPECT_EQ(serve(first.options()), kServeBadInput);

  DriveOptions d;
  d.socket_path = first.options().socket_path;
  d.packets = 1000;
  d.timeout_s = 20;
  const DriveReport r = run_drive(d);
  EXPECT_EQ(first.join(), 0);
  EXPECT_EQ(r.received, 1000u) << r.text();
}

}  // namespace
}  // namespace virtiosim::vhost_user
