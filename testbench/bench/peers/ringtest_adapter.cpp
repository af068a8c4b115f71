// Our ring core inside Linux's ringtest harness (tools/virtio/ringtest),
// so that ours and theirs run the same main loop, pinning, run length and
// busy-poll, and differ only in the ring.
//
// ringtest's main.c (extracted from linux-source-6.1 at build time, never
// checked in) drives a "guest" thread and a "host" thread through the
// functions a ring prototype implements (main.h: alloc_ring, add_inbuf,
// get_buf, used_empty, disable_call, enable_call, kick_available on the
// guest side; disable_kick, enable_kick, avail_empty, use_buf, call_used on
// the host side). This file implements them with the public API of
// models/ring over NativeMemory: the driver (PackedDriver / SplitDriver) is
// the guest side, the device (PackedDevice / SplitDevice) the host side.
// Every check the core makes stays on; an error from it aborts the run.
//
// The ring is chosen at compile time (CMakeLists.txt builds one program per
// choice): VIRTIOSIM_PEERS_PACKED (1 packed, 0 split) and
// VIRTIOSIM_PEERS_IN_ORDER (1: VIRTIO_F_IN_ORDER negotiated). EVENT_IDX
// and VERSION_1 are always negotiated: ringtest's rings use an event index
// unconditionally.
//
// Correctness: the tokens are the sequence numbers of the buffers. get_buf
// aborts unless each buffer comes back in the order it was added (the
// device completes in order, as ring.c's does), and at exit the counts of
// both sides must agree with each other and with what the harness saw.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <vector>

#include "models/ring/chain.h"
#include "models/ring/errors.h"
#include "models/ring/features.h"
#include "testbench/ring/guest_memory.h"
#include "testbench/ring/ring_types.h"

// ringtest's interface (main.h), with C linkage: main.c is C.
extern "C" {
// Set by main.c from --ring-size before alloc_ring().
extern unsigned ring_size;
// main.c's --batch; main.c itself uses it only for kicks with --sleep.
extern int batch;
void kick(void);
void call(void);

void alloc_ring(void);
int add_inbuf(unsigned len, void* buf, void* datap);
void* get_buf(unsigned* lenp, void** bufp);
void disable_call(void);
bool used_empty(void);
bool enable_call(void);
void kick_available(void);
void disable_kick(void);
bool avail_empty(void);
bool enable_kick(void);
bool use_buf(unsigned* lenp, void** bufp);
void call_used(void);
}

namespace {

using namespace virtiosim::ring;
using virtiosim::testing::GuestMemory;

#if VIRTIOSIM_PEERS_PACKED
using Ring = virtiosim::testing::PackedRing;
#else
using Ring = virtiosim::testing::SplitRing;
#endif

constexpr Features kFeatures{feature_bit(VIRTIO_RING_F_EVENT_IDX) | feature_bit(VIRTIO_F_VERSION_1) |
                             (VIRTIOSIM_PEERS_IN_ORDER ? feature_bit(VIRTIO_F_IN_ORDER) : 0)};

// ring.c keeps its guest and host state this far apart (HOST_GUEST_PADDING)
// so the two threads never share a cache line, adjacent-line prefetch
// included; the two sides here are placed the same way.
constexpr size_t kSidePadding = 128;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "ringtest adapter (%s): %s\n", Ring::kName, what);
  std::_Exit(1);  // not exit(): the other thread is still running
}

// What the buffers point at: one page of guest memory. ringtest's buffers
// are host pointers the ring never dereferences; ours must be guest
// addresses the device can check, so every buffer is {data, len} here,
// and the harness's own pointers are kept beside the ring to hand back.
struct Memory {
  explicit Memory(uint32_t num)
      : gm(Ring::Layout::contiguous_bytes(num) + 3 * 4096),
        layout(Ring::Layout::place(gm.alloc(Ring::Layout::contiguous_bytes(num), 4096), num)),
        data(gm.alloc(4096, 4096)) {}
  GuestMemory gm;
  Ring::Layout layout;
  uint64_t data;
};

// The guest thread's state: the driver and the harness's (buf, data)
// pointers by token.
struct alignas(kSidePadding) Guest {
  // Split: the used idx is read once per burst (a DPDK-PMD-style driver;
  // the simulated Linux driver reads it per buffer, as Linux does).
  Guest(const Memory& m, uint32_t num)
      : drv(m.gm.native(), m.layout, kFeatures, DriverOptions{.cache_used_idx = true}), slots(num) {}
  Ring::Driver drv;
  struct Slot {
    void* buf;
    void* data;
  };
  // Indexed by token mod ring size: completions come back in order, so no
  // two buffers in flight share a slot.
  std::vector<Slot> slots;
  uint64_t added = 0;      // the next token
  uint64_t completed = 0;  // the token get_buf expects next
};

// The host thread's state: the device, the buffers its last pop_burst took
// and use_buf has not handed out yet, and the completions it has pushed but
// not yet published.
struct alignas(kSidePadding) Host {
  // Two packed groups (PackedDevice::pop_group) per pop_burst.
  static constexpr uint32_t kBurst = 8;
  explicit Host(const Memory& m) : dev(m.gm.native(), m.layout, kFeatures) {}
  Ring::Device dev;
  Chain burst[kBurst];
  uint32_t taken = 0, handed = 0;  // burst[handed, taken) wait for use_buf
  uint32_t unflushed = 0;
};

// Static storage, built by alloc_ring: no pointer to load on every call.
std::optional<Memory> memory;
std::optional<Guest> guest;
std::optional<Host> host;

// Publish the completions pushed so far (the device's shadow used ring).
void flush() {
  Host& h = *host;
  if (h.dev.flush() != RingError::ok) die("flush failed");
  h.unflushed = 0;
}

// At exit (main.c returns after both threads joined): everything added came
// back, exactly once, through both sides.
void check_at_exit() {
  const Guest& g = *guest;
  const Host& h = *host;
  const auto& ds = g.drv.stats();
  const auto& vs = h.dev.stats();
  if (g.drv.broken() || h.dev.broken()) die("a side of the ring is broken");
  if (g.completed != g.added || ds.added != g.added || ds.used != g.added)
    die("the driver did not get back every buffer it added");
  if (vs.popped != g.added || vs.used != g.added || h.dev.pending_used() != 0 || h.handed != h.taken)
    die("the device did not complete every buffer the driver added");
}

}  // namespace

// ----------------------------------------------------------------- setup

void alloc_ring(void) {
  memory.emplace(ring_size);
  guest.emplace(*memory, ring_size);
  host.emplace(*memory);
  if (std::atexit(check_at_exit) != 0) die("atexit failed");
}

// ------------------------------------------------------------ guest side

// ring.c: one device-writable descriptor of `len` bytes. Ours: the same,
// through add(); the ring full is ringtest's -1.
int add_inbuf(unsigned len, void* buf, void* datap) {
  Guest& g = *guest;
  const Segment seg{memory->data, len};
  const RingError e = g.drv.add({}, std::span(&seg, 1), g.added);
  if (e == RingError::no_space) return -1;
  if (e != RingError::ok) die("add failed");
  g.slots[g.added & (ring_size - 1)] = {buf, datap};
  ++g.added;
  return 0;
}

// ring.c: the next used descriptor, or NULL. Ours: get_used, checked
// against the token expected next.
void* get_buf(unsigned* lenp, void** bufp) {
  Guest& g = *guest;
  UsedBuffer u;
  const auto r = g.drv.get_used(u);
  if (!r.ok()) die("get_used failed: the driver broke the queue");
  if (!r.value) return nullptr;
  if (u.token != g.completed) die("a buffer came back out of order, twice or never");
  const Guest::Slot s = g.slots[g.completed & (ring_size - 1)];
  ++g.completed;
  *lenp = u.len;
  *bufp = s.buf;
  return s.data;
}

// ring.c: is the next used descriptor still the device's? Ours: the
// driver's peek (has_used).
bool used_empty(void) { return !guest->drv.has_used(); }

// ring.c does nothing here ("might cause extra interrupts, but reduces the
// number of cache misses"); ours asks the device not to signal, as Linux
// does. Called only with --sleep.
void disable_call(void) { guest->drv.disable_cb(); }

// Ask for a signal; true when it is safe to wait for it (nothing used yet).
// Called only with --sleep.
bool enable_call(void) {
  return !guest->drv.enable_cb();
}

// Full barrier, then the device's event index (kick_prepare); the harness
// kicks through its eventfd. Called every --batch buffers, only with
// --sleep.
void kick_available(void) {
  if (guest->drv.kick_prepare()) kick();
}

// ------------------------------------------------------------- host side

// Called only with --sleep.
void disable_kick(void) { host->dev.disable_notifications(); }

// Ask for a kick; true when it is safe to wait for it (nothing available).
// Called only with --sleep.
bool enable_kick(void) {
  Host& h = *host;
  if (h.handed != h.taken) return false;  // buffers already taken wait for use_buf
  return !h.dev.enable_notifications();
}

// The busy-poll peek (main.c's poll_avail spins on it); buffers a burst
// took and use_buf has not handed out count as available.
bool avail_empty(void) {
  const Host& h = *host;
  return h.handed == h.taken && !host->dev.has_available();
}

// ring.c: take the next descriptor and hand it back as used at once. Ours:
// pop_burst (up to kBurst buffers, aligned packed groups of four at once),
// then one buffer per call: push_used (the shadow used ring), and flush,
// which is where the completion becomes visible. ring.c publishes every buffer; so does this
// with --batch 1. With --batch B the device publishes B completions per
// flush, as a vhost worker batches its used ring (ring_bench's TwoThread
// does the same), but it never holds a completion while it has nothing
// else to do: it flushes as soon as the ring has no buffer available. So
// every completion is visible before the host goes back to poll_avail()
// and after the run's last buffer, which main.c's host loop takes and then
// ends on without calling in again; that is all main.c relies on.
bool use_buf(unsigned* lenp, void** bufp) {
  Host& h = *host;
  if (h.handed == h.taken) {
    const auto r = h.dev.pop_burst(h.burst);
    if (!r.ok()) die("pop_burst failed: the device broke the queue");
    h.taken = r.value;
    h.handed = 0;
    if (h.taken == 0) return false;
  }
  const Chain& c = h.burst[h.handed++];
  if (c.writable.size() != 1 || !c.readable.empty()) die("popped a buffer the guest did not add");
  // ring.c's device writes nothing into the buffer; neither does ours.
  if (h.dev.push_used(c.used(0)) != RingError::ok) die("push_used failed");
  if (++h.unflushed >= static_cast<uint32_t>(batch) || (h.handed == h.taken && !h.dev.has_available()))
    flush();
  // What virtio_ring_0_9.c's use_buf hands back: the descriptor's length
  // and address.
  *lenp = static_cast<unsigned>(c.writable_bytes);
  *bufp = memory->gm.host(c.writable[0].addr);
  return true;
}

// After each used buffer, only with --sleep: publish it, full barrier, then
// the driver's event index (should_signal); the harness signals through its
// eventfd.
void call_used(void) {
  Host& h = *host;
  if (h.unflushed) flush();
  if (h.dev.should_signal()) call();
}
