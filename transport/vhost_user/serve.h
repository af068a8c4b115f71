// `virtiosim vhost-user serve`: listen on a Unix socket and be the
// virtio-net back-end for one front-end at a time, across reconnections.
#pragma once

#include <cstdint>
#include <string>

#include "transport/vhost_user/backend.h"

namespace virtiosim::vhost_user {

struct ServeOptions {
  std::string socket_path;
  BackendOptions backend;
  // Busy-poll this long without work before sleeping on kicks (--poll-us).
  uint32_t idle_poll_us = 200;
  // Exit (printing the counters) when the first front-end leaves.
  bool once = false;
  // Also write the counters (and --check's findings by rule) here on exit.
  std::string json_path;
};

// Exit code of a serve refused before listening: the socket is another
// serve's, or the --json FILE cannot be written.
inline constexpr int kServeBadInput = 2;
// Exit code of a serve whose only failure is findings of --check.
inline constexpr int kServeFindings = 3;

// Runs until SIGINT/SIGTERM (or, with `once`, the first disconnect). Prints
// the counters on exit and on SIGUSR1. Returns the process exit code: 0;
// kServeBadInput; 1 if the socket could not be bound or a protocol/ring
// error occurred, else kServeFindings if --check found the front-end
// breaking a rule.
int serve(const ServeOptions& opts);

// The counters and, with --check, the findings by rule with their
// evidence: what --json writes.
std::string serve_json(const Backend& backend);

// Largest --poll-us: one minute.
inline constexpr uint32_t kMaxPollUs = 60'000'000;

}  // namespace virtiosim::vhost_user
