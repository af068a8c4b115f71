#include "transport/vhost_user/cli.h"

#include <charconv>
#include <cstdint>
#include <limits>
#include <cstdio>
#include <map>
#include <string>
#include <vector>


namespace virtiosim::vhost_user {

namespace {

constexpr int kBadArguments = 2;

// A decimal number in [min, max]. CLI11's own conversion (strtoull) would
// take "-1" as 2^64-1 and "010" as octal; from_chars takes decimal digits
// only.
template <class T>
CLI::Validator in_range(T min, T max) {
  const std::string range = max == std::numeric_limits<T>::max()
                                ? ">=" + std::to_string(min)
                                : std::to_string(min) + ".." + std::to_string(max);
  return CLI::Validator(
      [min, max, range](std::string& s) -> std::string {
        T v{};
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc() || end != s.data() + s.size()) return "'" + s + "' is not a decimal number";
        if (v < min || v > max) return s + " is out of range " + range;
        return {};
      },
      range);
}

// An option that takes one word of `choices` (--ring packed|split) and
// stores what the word maps to; the error names the words accepted.
template <class T>
CLI::Option* add_choice(CLI::App& app, const std::string& name, T& target, const std::map<std::string, T>& choices,
                        const std::string& default_word, const std::string& help) {
  std::vector<std::string> words;
  for (const auto& [word, value] : choices) words.push_back(word);
  auto set = [&target, choices](const std::string& w) { target = choices.at(w); };
  return app.add_option_function<std::string>(name, set, help)
      ->check(CLI::IsMember(words))
      ->default_str(default_word);
}

void add_serve_options(CLI::App& serve, ServeOptions& o) {
  serve.add_option("--socket", o.socket_path, "Unix socket to listen on")->required();
  add_choice(serve, "--mode", o.backend.mode, {{"sink", NetMode::sink}, {"echo", NetMode::echo}}, "sink",
             "sink: count and checksum every frame; echo: return frames, MACs swapped (never drops: a frame "
             "waits in TX until RX has room)");
  serve.add_option("--queues", o.backend.queue_pairs, "queue pairs offered (VIRTIO_NET_F_MQ above 1)")
      ->check(in_range(1u, 128u))
      ->capture_default_str();
  serve.add_option("--poll-us", o.idle_poll_us, "busy-poll this long without work before sleeping on kicks")
      ->check(in_range(0u, kMaxPollUs))
      ->capture_default_str();
  serve.add_flag("--once", o.once, "exit when the first front-end disconnects");
  serve.add_flag("--check", o.backend.check,
                 "watch the front-end through shared memory at every poll and report the rules it breaks "
                 "(P2, P3, P6.2, P6.3, P10, VU2) in the counters");
  serve.add_option("--json", o.json_path, "on exit, write the counters (and --check's findings) to FILE as JSON")
      ->type_name("FILE");
  serve.footer("Counters are printed on exit (SIGINT, SIGTERM) and on SIGUSR1. One serve a socket: a second one on "
               "the same --socket is refused (a socket file nobody serves is replaced).\n"
               "Exit codes: 0; 1 the socket could not be bound, or a protocol or ring error; 2 bad arguments, the "
               "socket is another serve's or the --json FILE cannot be written; 3 only --check findings.");
}

void add_drive_options(CLI::App& drive, DriveOptions& o) {
  drive.add_option("--socket", o.socket_path, "vhost-user back-end to connect to")->required();
  drive.add_option("--packets", o.packets, "frames to send; every one must come back")
      ->check(in_range(uint64_t{1}, UINT64_MAX))
      ->capture_default_str();
  drive.add_option("--size", o.frame_size, "frame bytes, net header excluded")
      ->check(in_range(kMinDriveFrame, kMaxDriveFrame))
      ->capture_default_str();
  add_choice(drive, "--ring", o.packed, {{"packed", true}, {"split", false}}, "packed", "ring layout");
  drive.add_option("--queue-size", o.queue_size, "entries per ring (a power of two for split)")
      ->check(in_range(2u, 32768u))
      ->capture_default_str();
  drive.add_option("--timeout", o.timeout_s, "seconds without progress that count as a stall (exit 1)")
      ->check(in_range(1u, 86400u))
      ->capture_default_str();
  add_choice(drive, "--notify", o.notify, {{"poll", Notify::poll}, {"irq", Notify::irq}}, "poll",
             "poll: read the used rings continuously; irq: callbacks on, sleep on the call eventfds, "
             "as Linux virtio_net's NAPI does");
  drive.add_option("--rx-buffers", o.rx_buffers, "RX buffers kept posted (default: the whole ring)")
      ->check(in_range(1u, 32768u));
  drive.add_option("--window", o.window,
                   "frames in flight (sent, not yet echoed) at most (default: half the ring; "
                   "no limit with --allow-drops)")
      ->check(in_range(1u, 32768u));
  add_choice(drive, "--event-idx", o.event_idx, {{"on", true}, {"off", false}}, "on",
             "negotiate VIRTIO_RING_F_EVENT_IDX when offered");
  std::map<std::string, Fault> faults{{"none", Fault::none}};
  std::string fault_help =
      "inject one violation for a back-end's checker (serve --check) or, with --iommu, its IOTLB to find:";
  for (const FaultInfo& f : kFaults) {
    faults.emplace(f.name, f.fault);
    fault_help += std::string(" ") + f.name + " (" + f.rule + (f.packed_only ? ", packed" : "") +
                  (f.iommu ? ", --iommu" : "") + ")";
  }
  add_choice(drive, "--fault", o.fault, faults, "none", fault_help);
  drive.add_flag("--iommu", o.iommu,
                 "sit behind an IOMMU: negotiate VIRTIO_F_ACCESS_PLATFORM with the protocol features BACKEND_REQ "
                 "and REPLY_ACK, address rings and buffers by IOVA (4 KiB pages: rings RW, TX buffers RO, RX "
                 "buffers WO) and answer the back-end's IOTLB misses with UPDATEs on the back-end channel (a "
                 "page not mapped, or without the access asked, refused)");
  drive.add_flag("--iommu-strict", o.iommu_strict,
                 "with --iommu, as Linux with iommu.strict=1: a buffer is mapped only while posted, and unmapped "
                 "with an INVALIDATE the back-end acks before the buffer is read or posted again");
  drive.add_flag("--allow-drops", o.allow_drops,
                 "the back-end may drop frames when RX is empty: frames it took and never returned are "
                 "reported as dropped, not lost (confirm them with its own counters)");
  drive.footer("Exit codes: 0 every frame came back intact (or was dropped, with --allow-drops; with --fault: "
               "the fault was injected and the protocol held; unmap_in_flight: the back-end's miss for the "
               "unmapped buffer was refused, the buffer never came back used nor its poison in RX, and TX was "
               "broken with SET_VRING_ERR), 1 a frame lost, corrupted or duplicated, a back-end ring error, a stall "
               "or a protocol error, 2 bad arguments.");
}

void add_check_options(CLI::App& check, check::CheckOptions& o) {
  check.add_option("--socket", o.socket_path, "the vhost-user back-end under test (it listens)");
  add_choice(check, "--mode", o.echo, {{"sink", false}, {"echo", true}}, "sink",
             "what the back-end does with transmitted frames: sink (consumes them) or echo (returns them on RX; "
             "MACs swapped or not); the RX scenarios need echo");
  check.add_option("--scenario", o.scenarios, "run only these (names or globs, e.g. 'wrap/*'; see --list)");
  check.add_option("--junit", o.junit_path, "write a JUnit XML report (one test case per scenario)");
  check.add_option("--json", o.json_path, "write every verdict with its evidence as JSON");
  check.add_option("--expect", o.expect_path,
                   "known verdicts, 'NAME VERDICT' per line: a listed scenario must give exactly that verdict");
  check.add_option("--timeout-ms", o.timeout_ms, "how long to wait for what must happen")
      ->check(in_range(10u, 600000u))
      ->capture_default_str();
  check.add_option("--settle-ms", o.settle_ms, "how long to watch for what must not happen")
      ->check(in_range(1u, 60000u))
      ->capture_default_str();
  check.add_flag("--list", o.list, "print the catalogue (name, rule, input, statement) and exit");
  check.add_flag("--quiet", o.quiet, "print only scenarios not accepted, and the summary");
  check.footer("Each scenario runs on a fresh connection and is followed by one more that must still move traffic.\n"
               "Verdicts: PASS, FAIL, REJECT (refused cleanly), WEDGED, SKIP. Valid-input scenarios accept PASS, "
               "hostile-input ones PASS or REJECT.\n"
               "Exit codes: 0 every verdict accepted (with --expect: as listed), 1 some not, 2 bad arguments or "
               "an output file not written.");
}

// What CLI11 cannot check, one option against another.
int bad_arguments(const std::string& who, const std::string& what) {
  std::fprintf(stderr, "virtiosim vhost-user %s: %s\nRun with --help for more information.\n", who.c_str(),
               what.c_str());
  return kBadArguments;
}

}  // namespace

VhostUserCli::VhostUserCli(CLI::App& app) {
  app.require_subcommand(1);
  app.footer("Meet real vhost-user peers: be a virtio-net back-end (serve) or front-end (drive), or check another "
             "back-end's conformance (check).");
  serve_ = app.add_subcommand("serve", "be a virtio-net vhost-user back-end on a Unix socket");
  drive_ = app.add_subcommand("drive", "be a vhost-user front-end: send numbered frames, check the echoes");
  check_ = app.add_subcommand(
      "check", "test a vhost-user back-end against the packed-ring and vhost-user rules, scenario by scenario");
  add_serve_options(*serve_, serve_options_);
  add_drive_options(*drive_, drive_options_);
  add_check_options(*check_, check_options_);
}

int VhostUserCli::run() const {
  if (serve_->parsed()) return serve(serve_options_);
  const check::CheckOptions& co = check_options_;
  if (check_->parsed()) {
    if (!co.list && co.socket_path.empty()) return bad_arguments("check", "--socket is required (or --list)");
    return check::run_check(co);
  }
  const DriveOptions& d = drive_options_;
  if (d.rx_buffers > d.queue_size)
    return bad_arguments("drive", "--rx-buffers: " + std::to_string(d.rx_buffers) + " is more than --queue-size " +
                                      std::to_string(d.queue_size));
  if (!d.packed && (d.queue_size & (d.queue_size - 1)))
    return bad_arguments("drive", "--queue-size: a split ring's size must be a power of two");
  if (d.fault != Fault::none && info(d.fault).packed_only && !d.packed)
    return bad_arguments("drive", std::string("--fault ") + info(d.fault).name +
                                      ": a packed-ring rule, needs --ring packed");
  if (d.iommu_strict && !d.iommu) return bad_arguments("drive", "--iommu-strict needs --iommu");
  if (d.fault != Fault::none && info(d.fault).iommu && !d.iommu)
    return bad_arguments("drive", std::string("--fault ") + info(d.fault).name + ": an IOMMU fault, needs --iommu");
  if (d.fault == Fault::rewrite_in_flight && d.frame_size > kMaxRewriteFrame)
    return bad_arguments("drive", "--fault rewrite_in_flight: --size must be at most " +
                                      std::to_string(kMaxRewriteFrame) +
                                      " (the rewritten RX buffer is one byte shorter)");
  return drive(d);
}

}  // namespace virtiosim::vhost_user
