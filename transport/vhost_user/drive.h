// `virtiosim vhost-user drive`: a virtio-net traffic generator on the ring
// core's driver side. It sends numbered frames on TX (queue 1), keeps RX
// (queue 0) stocked, and checks that every frame comes back from the
// back-end with its MAC addresses swapped and every other byte intact.
//
// Two ways to learn that the back-end used buffers:
//   poll: used-buffer notifications off, both used rings read on every pass
//         (a DPDK poll-mode driver);
//   irq:  as Linux virtio_net with NAPI: callbacks on, a call (interrupt)
//         disables them and schedules a poll of that queue, the poll takes
//         up to a NAPI weight of used buffers, then re-enables callbacks and
//         re-checks the used ring (virtqueue_napi_complete); with nothing to
//         do the front-end sleeps in poll(2) on the call eventfds. A used
//         ring is read only after its call fired or the re-check found work.
//
// --iommu: the driver sits behind an IOMMU (VIRTIO_F_ACCESS_PLATFORM), as
// Linux's DMA API puts it: every ring and buffer address is an IOVA of
// drive's own domain (dma_domain.h), and the back-end's IOTLB misses are
// answered from that domain's table on the back-end channel. Rings are
// mapped once; buffers either for the whole run or, with --iommu-strict
// (Linux iommu.strict=1), from the moment they are posted until reclaimed,
// when they are unmapped and invalidated (acked) before being used again.
#pragma once

#include <cstdint>
#include <string>

#include "transport/vhost_user/frontend.h"

namespace virtiosim::vhost_user {

inline constexpr uint32_t kMinDriveFrame = 22;    // Ethernet header + sequence number
inline constexpr uint32_t kMaxDriveFrame = 2036;  // fits one 2 KiB RX buffer with the net header

enum class Notify : uint8_t { poll, irq };
inline const char* name(Notify n) { return n == Notify::poll ? "poll" : "irq"; }

// --fault: one violation of a front-end rule, injected once, for testing a
// back-end's checker (serve --check). The ring core stays correct; drive
// writes the violation into ring memory itself.
enum class Fault : uint8_t {
  none,
  avail_encoding,         // P2: a TX head whose flags read AVAIL == USED (packed)
  next_on_last,           // P6.2: a one-descriptor TX list with NEXT set (packed)
  write_on_head,          // P6.3: a device-writable head before a readable descriptor (packed)
  rewrite_in_flight,      // P3: an RX descriptor the device owns gets a new len
  kick_while_suppressed,  // P10: every TX kick sent, also when the device said DISABLE
  bad_vring_base,         // VU2: a reconnect resumes TX one slot before where GET_VRING_BASE said
  unmap_in_flight,        // ring.iova_unmapped: a TX buffer unmapped (INVALIDATE acked) after it was made available
};
struct FaultInfo {
  Fault fault;
  const char* name;
  const char* rule;  // SPEC_NOTES id the back-end should report
  bool packed_only;  // the rule is about the packed ring's encoding
  bool terminal;     // the TX ring takes nothing after it: drive stops sending
  bool iommu;        // needs --iommu (an IOMMU fault, not a ring encoding drive writes itself)
};
inline constexpr FaultInfo kFaults[] = {
    {Fault::avail_encoding, "avail_encoding", "P2", true, true, false},
    {Fault::next_on_last, "next_on_last", "P6.2", true, true, false},
    {Fault::write_on_head, "write_on_head", "P6.3", true, true, false},
    {Fault::rewrite_in_flight, "rewrite_in_flight", "P3", false, false, false},
    {Fault::kick_while_suppressed, "kick_while_suppressed", "P10", false, false, false},
    {Fault::bad_vring_base, "bad_vring_base", "VU2", false, false, false},
    {Fault::unmap_in_flight, "unmap_in_flight", "ring.iova_unmapped", false, true, true},
};
const FaultInfo& info(Fault f);  // f != Fault::none

struct DriveOptions {
  std::string socket_path;
  uint64_t packets = 100000;
  uint32_t frame_size = 64;  // bytes on the wire, net header excluded
  bool packed = true;
  uint32_t queue_size = 256;
  uint32_t timeout_s = 30;   // a stall: no progress for this long
  Notify notify = Notify::poll;
  // RX buffers kept posted; 0: the whole ring. Fewer starve RX, so a
  // back-end must hold frames back (serve) or drop them (DPDK's vhost PMD).
  uint32_t rx_buffers = 0;
  bool event_idx = true;     // negotiate VIRTIO_RING_F_EVENT_IDX when offered
  // The back-end may drop frames when RX is empty. Frames it took (TX
  // completed) and did not return once every TX buffer is back and RX has
  // stayed quiet for kDropSettleMs are reported as dropped, not lost; only
  // the back-end's own counters can confirm that they were dropped.
  bool allow_drops = false;
  // At most this many frames sent and not yet echoed; 0: half the ring, so
  // a fully stocked RX always has room for every echo (no limit with
  // allow_drops: dropped frames would hold it shut). A window no larger
  // than rx_buffers keeps a back-end that drops from ever finding RX empty.
  uint32_t window = 0;
  Fault fault = Fault::none;
  bool iommu = false;         // --iommu: ACCESS_PLATFORM, IOVAs, the back-end channel answers misses
  bool iommu_strict = false;  // --iommu-strict: buffers mapped while posted only, unmapped and invalidated on reclaim
};

// unmap_in_flight: the unmapped buffer is filled with this byte before it
// is made available. No frame drive sends holds a run of kPoisonRun equal
// bytes (the pattern steps by 7 a byte), so such a run in RX memory means
// the back-end read the unmapped buffer.
inline constexpr uint8_t kPoisonByte = 0xdb;
inline constexpr size_t kPoisonRun = 16;

// rewrite_in_flight shortens an RX descriptor by one byte: the frame must
// still fit.
inline constexpr uint32_t kMaxRewriteFrame = kMaxDriveFrame - 1;
// rewrite_in_flight: how long the RX buffers stay posted before one is
// rewritten, so that the back-end has looked at them.
inline constexpr uint32_t kRewriteAfterMs = 200;

// --allow-drops: how long RX must stay quiet, with every TX buffer back,
// before the missing frames count as dropped.
inline constexpr uint32_t kDropSettleMs = 1000;

// A back-end that completes TX buffers and fills no RX buffer for this long
// is a sink (serve's default mode): drive fails saying so instead of
// waiting --timeout for echoes that never come (unless allow_drops: then
// they are dropped frames).
inline constexpr uint32_t kNoEchoMs = 1000;

struct DriveReport {
  uint64_t sent = 0;
  uint64_t received = 0;     // RX buffers the back-end filled (echoes, intact or not)
  uint64_t bytes = 0;        // bytes received (frames only)
  uint64_t corrupted = 0;    // returned frames that were not what was sent
  uint64_t duplicates = 0;   // a sequence number seen twice
  uint64_t dropped = 0;      // --allow-drops: taken by the back-end, never returned
  uint64_t lost = 0;         // sent but never returned (at the end), not counted as dropped
  uint64_t ring_errors = 0;  // the ring core refused what the back-end did
  uint64_t kicks = 0;
  uint64_t rx_calls = 0;     // used-buffer notifications (call eventfd counts) per queue
  uint64_t tx_calls = 0;
  bool event_idx = false;    // negotiated
  bool stalled = false;      // no progress for --timeout
  bool no_echo = false;      // frames taken, none returned for kNoEchoMs: the back-end does not echo
  double seconds = 0;
  bool protocol_failed = false;
  Fault fault = Fault::none;
  bool fault_injected = false;  // --fault: the violation was written (kick_while_suppressed: a kick not wanted)
  uint64_t rx_err_signals = 0;  // the back-end broke a ring: its SET_VRING_ERR eventfd fired
  uint64_t tx_err_signals = 0;
  bool iommu = false;           // --iommu
  bool iommu_strict = false;
  IommuCounters iotlb;          // --iommu: what drive's IOMMU answered
  // unmap_in_flight: RX buffers that carried the poison (the back-end read
  // the unmapped buffer), and whether the unmapped buffer came back used.
  uint64_t poison_seen = 0;
  bool fault_buffer_used = false;
  std::string error;

  uint64_t echoed() const { return received - corrupted - duplicates; }
  uint64_t calls() const { return rx_calls + tx_calls; }
  uint64_t errors() const {
    return corrupted + duplicates + lost + ring_errors + rx_err_signals + tx_err_signals + poison_seen +
           (fault_buffer_used ? 1 : 0) + (stalled ? 1 : 0) + (no_echo ? 1 : 0) + (protocol_failed ? 1 : 0);
  }
  double mpps() const { return seconds > 0 ? static_cast<double>(received) / seconds / 1e6 : 0; }
  std::string text() const;
};

DriveReport run_drive(const DriveOptions& opts);
// 0 iff every frame was sent and came back intact or (with allow_drops)
// was dropped by the back-end; 1 otherwise. With a fault: 0 iff it was
// injected and the protocol held (a terminal fault stops the traffic);
// unmap_in_flight holds when the back-end asked for the unmapped buffer,
// was refused, never used it nor let its bytes reach RX, and broke TX
// (SET_VRING_ERR).
int exit_code(const DriveReport& rep, const DriveOptions& opts);
// Runs, prints the report (and its error on stderr), returns exit_code().
int drive(const DriveOptions& opts);

}  // namespace virtiosim::vhost_user
