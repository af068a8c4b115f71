// `virtiosim vhost-user drive`: a virtio-net traffic generator on the ring
// core's driver side. It sends numbered frames on TX (queue 1), keeps RX
// (queue 0) stocked, and checks that every frame comes back from the
// back-end with its MAC addresses swapped and every other byte intact.
#pragma once

#include <cstdint>
#include <string>

namespace virtiosim::vhost_user {

inline constexpr uint32_t kMinDriveFrame = 22;    // Ethernet header + sequence number
inline constexpr uint32_t kMaxDriveFrame = 2036;  // fits one 2 KiB RX buffer with the net header

struct DriveOptions {
  std::string socket_path;
  uint64_t packets = 100000;
  uint32_t frame_size = 64;  // bytes on the wire, net header excluded
  bool packed = true;
  uint32_t queue_size = 256;
  uint32_t timeout_s = 30;   // give up waiting for echoes after this long
};

struct DriveReport {
  uint64_t sent = 0;
  uint64_t received = 0;
  uint64_t bytes = 0;        // bytes received (frames only)
  uint64_t corrupted = 0;    // returned frames that were not what was sent
  uint64_t duplicates = 0;   // a sequence number seen twice
  uint64_t lost = 0;         // sent but never returned (at the end)
  uint64_t ring_errors = 0;  // the ring core refused what the back-end did
  uint64_t kicks = 0;
  double seconds = 0;
  bool protocol_failed = false;
  std::string error;

  uint64_t errors() const { return corrupted + duplicates + lost + ring_errors + (protocol_failed ? 1 : 0); }
  double mpps() const { return seconds > 0 ? static_cast<double>(received) / seconds / 1e6 : 0; }
  std::string text() const;
};

DriveReport run_drive(const DriveOptions& opts);
// Prints the report; exit code 0 iff every frame came back intact.
int drive(const DriveOptions& opts);

}  // namespace virtiosim::vhost_user
