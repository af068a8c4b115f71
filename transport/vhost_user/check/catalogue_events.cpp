// Event suppression (P10) and the event index (P11), both directions:
// used-buffer notifications the device must send or hold back, and the
// kicks it asked not to get.
#include <thread>

#include "models/ring/event_idx.h"
#include "transport/vhost_user/check/observe.h"

namespace virtiosim::vhost_user::check {

namespace {

using ring::feature_bit;
using ring::kEventFlagDesc;
using ring::kEventFlagDisable;
using ring::kEventFlagEnable;
using ring::kEventWrapBit;

const char* kSuppress =
    "P10 (virtio 1.2 §2.8.10, §2.8.14): the driver's event suppression structure gates used-buffer "
    "notifications: ENABLE asks for them, DISABLE asks for none";
const char* kEventIdx =
    "P11 (§2.8.10, §2.8.14): with DESC the device notifies when it uses the descriptor at off_wrap's offset "
    "in off_wrap's wrap; over a batch old..new it notifies iff (u16)(new - off - 1) < (u16)(new - old)";

// One batch of `n` frames the device sees at once.
Outcome batch(Session& s, uint32_t n, uint64_t seq) {
  std::vector<std::vector<Desc>> lists;
  std::vector<uint16_t> ids;
  for (uint32_t i = 0; i < n; ++i) {
    ids.push_back(static_cast<uint16_t>((s.tx().next_avail() + i) % s.tx().size()));
    lists.push_back({{s.tx_frame(seq + i), s.tx_frame_len(), 0, 0}});
  }
  s.tx().add_batch(lists, ids);
  s.kick(Queue::tx);
  return expect_used(s, Queue::tx, n);
}

// Waits for calls on TX to reach `want`; returns what it reached.
uint64_t calls_reaching(Session& s, uint64_t want, std::chrono::milliseconds w) {
  s.wait(w, [&] { return s.calls(Queue::tx) >= want; });
  return s.calls(Queue::tx);
}

// A warm-up batch with notifications off: some back-ends notify on their
// first flush whatever the driver asked (Linux vhost, DPDK:
// signalled_used_valid), which this scenario is not about.
Outcome warm_up(Session& s) {
  s.tx().set_driver_event(kEventFlagDisable);
  Outcome o = batch(s, 1, 0);
  std::this_thread::sleep_for(s.target().settle);
  (void)s.calls(Queue::tx);
  return o;
}

Scenario event_scenario(std::string name, std::string rule, std::string statement, bool event_idx,
                        std::function<Outcome(Session&)> run) {
  Setup setup;
  (event_idx ? setup.require : setup.decline) = feature_bit(VIRTIO_RING_F_EVENT_IDX);
  return make_scenario(std::move(name), std::move(rule), std::move(statement), Input::valid, setup, std::move(run));
}

Outcome disabled_no_calls(Session& s) {
  Outcome o = warm_up(s);
  if (o.verdict != Verdict::PASS) return o;
  const uint64_t base = s.calls(Queue::tx);
  for (int i = 0; i < 8; ++i)
    if (Outcome b = batch(s, 8, 100 + 8 * i); b.verdict != Verdict::PASS) return b;
  std::this_thread::sleep_for(s.target().settle);
  const uint64_t calls = s.calls(Queue::tx) - base;
  if (calls) return fail("P10", std::to_string(calls) + " calls for 64 buffers used with the driver's flags DISABLE");
  return pass("64 buffers used, no call");
}

Outcome enabled_calls(Session& s) {
  Outcome o = warm_up(s);
  if (o.verdict != Verdict::PASS) return o;
  s.tx().set_driver_event(kEventFlagEnable);
  for (int i = 0; i < 8; ++i) {
    const uint64_t before = s.calls(Queue::tx);
    if (Outcome b = batch(s, 8, 100 + 8 * i); b.verdict != Verdict::PASS) return b;
    if (calls_reaching(s, before + 1, s.target().timeout) == before)
      return fail("P10", "no call within " + std::to_string(s.target().timeout.count()) + " ms after batch " +
                             std::to_string(i) + " of 8 buffers was used with the driver's flags ENABLE");
  }
  return pass("a call after every batch of 8");
}

// The oracle: for every event offset (the upcoming lap's, or with
// `flip` the other one's), batches of `n` over two laps; every call P11
// asks for must come, and in total no more than it asks for.
Outcome event_idx_oracle(Session& s, uint32_t n, bool flip, uint32_t stride) {
  Outcome o = warm_up(s);
  if (o.verdict != Verdict::PASS) return o;
  const uint32_t size = s.tx().size();
  uint64_t expected = 0;
  const uint64_t base = s.calls(Queue::tx);
  uint64_t seq = 1;
  for (uint32_t e = 0; e < size; e += stride) {
    for (uint32_t step = 0; step < 2 * size / n; ++step) {
      const uint16_t old = s.tx().next_used();
      const bool wrap_now = s.tx().used_wrap();
      // The wrap the device will be in when it reaches slot e.
      bool w = e >= old ? wrap_now : !wrap_now;
      if (flip) w = !w;
      const uint16_t event = static_cast<uint16_t>(e | (w ? kEventWrapBit : 0));
      s.tx().set_driver_event(kEventFlagDesc, event);
      const uint64_t before = s.calls(Queue::tx);
      if (Outcome b = batch(s, n, seq); b.verdict != Verdict::PASS) return b;
      seq += n;
      const bool want = event_crossed(event, old, s.tx().next_used(), s.tx().used_wrap(), size);
      expected += want;
      if (want && calls_reaching(s, before + 1, s.target().timeout) == before)
        return fail("P11", "no call after used " + std::to_string(old) + ".." + std::to_string(s.tx().next_used()) +
                               " (device wrap " + std::to_string(s.tx().used_wrap()) + ") crossed the driver's event off_wrap=" +
                               hex(event) + "; " + std::to_string(s.calls(Queue::tx) - base) + " calls so far, " +
                               std::to_string(expected) + " due");
    }
  }
  std::this_thread::sleep_for(s.target().settle);
  const uint64_t got = s.calls(Queue::tx) - base;
  if (got > expected)
    return fail("P11", std::to_string(got) + " calls where the event index asked for " + std::to_string(expected) +
                           " (batches of " + std::to_string(n) + ", queue size " + std::to_string(size) + ")");
  return pass(std::to_string(got) + " calls, each one the event index asked for (" + std::to_string(expected) + ")");
}

// The driver honours the device's own suppression (P10/P11, the other
// direction): it kicks only when the device's structure asks. A device
// that asks for no kicks must find the buffers anyway.
Outcome honour_device_suppression(Session& s) {
  uint32_t kicks = 0;
  for (int i = 0; i < 32; ++i) {
    const uint16_t old = s.tx().next_avail();
    const bool old_wrap = s.tx().avail_wrap();
    std::vector<std::vector<Desc>> lists;
    std::vector<uint16_t> ids;
    for (uint32_t k = 0; k < 4; ++k) {
      ids.push_back(static_cast<uint16_t>((s.tx().next_avail() + k) % s.tx().size()));
      lists.push_back({{s.tx_frame(i * 4 + k), s.tx_frame_len(), 0, 0}});
    }
    s.tx().add_batch(lists, ids);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // P13: publish, full barrier, then read the device's wish
    const uint16_t flags = s.tx().device_event_flags();
    bool kick = flags == kEventFlagEnable;
    if (flags == kEventFlagDesc && s.has(VIRTIO_RING_F_EVENT_IDX)) {
      (void)old_wrap;
      kick = event_crossed(s.tx().device_event_off_wrap(), old, s.tx().next_avail(), s.tx().avail_wrap(), s.tx().size());
    }
    if (kick) {
      s.kick(Queue::tx);
      ++kicks;
    }
    Outcome o = expect_used(s, Queue::tx, 4);
    if (o.verdict != Verdict::PASS)
      return {o.verdict, "the device's event flags were " + hex(flags) + (kick ? " (kicked)" : " (not kicked)") +
                             ": " + o.evidence};
  }
  return pass("128 buffers in batches of 4 used with " + std::to_string(kicks) + " kicks, as the device asked");
}

}  // namespace

void add_event_scenarios(std::vector<Scenario>& out) {
  for (bool ei : {true, false}) {
    const std::string suffix = ei ? "" : "/no-event-idx";
    out.push_back(event_scenario("event/disable-means-no-calls" + suffix, "P10", kSuppress, ei, disabled_no_calls));
    out.push_back(event_scenario("event/enable-means-calls" + suffix, "P10", kSuppress, ei, enabled_calls));
  }
  struct Oracle {
    uint32_t size, batch, stride;
    bool flip;
  };
  for (const Oracle& c : {Oracle{8, 1, 1, false}, Oracle{8, 3, 1, false}, Oracle{8, 1, 1, true},
                          Oracle{8, 3, 1, true}, Oracle{5, 2, 1, false}, Oracle{256, 32, 37, false}}) {
    Scenario sc = event_scenario("event/idx-oracle/size-" + std::to_string(c.size) + "-batch-" +
                                     std::to_string(c.batch) + (c.flip ? "-other-wrap" : ""),
                                 "P11", kEventIdx, true,
                                 [c](Session& s) { return event_idx_oracle(s, c.batch, c.flip, c.stride); });
    sc.setup.queue_size = c.size;
    out.push_back(sc);
  }
  out.push_back(event_scenario(
      "event/re-enable-after-disable", "P10", kSuppress, true, [](Session& s) {
        Outcome o = disabled_no_calls(s);
        if (o.verdict != Verdict::PASS) return o;
        s.tx().set_driver_event(kEventFlagEnable);
        const uint64_t before = s.calls(Queue::tx);
        if (Outcome b = batch(s, 1, 900); b.verdict != Verdict::PASS) return b;
        if (calls_reaching(s, before + 1, s.target().timeout) == before)
          return fail("P10", "no call for the first buffer used after the driver switched DISABLE to ENABLE");
        return pass("silent while disabled, a call once enabled");
      }));
  out.push_back(event_scenario(
      "event/device-structure-valid", "P10",
      "P10 (§2.8.10): the device's event suppression flags are 0 ENABLE, 1 DISABLE or 2 DESC (DESC only with "
      "VIRTIO_F_EVENT_IDX), 3 is reserved; with DESC, off_wrap's offset lies within the ring",
      true, [](Session& s) {
        for (int i = 0; i < 16; ++i) {
          if (Outcome b = batch(s, 4, 4 * i); b.verdict != Verdict::PASS) return b;
          const uint16_t f = s.tx().device_event_flags(), ow = s.tx().device_event_off_wrap();
          if (f > kEventFlagDesc) return fail("P10", "device event flags " + hex(f) + " (reserved)");
          if (f == kEventFlagDesc && (ow & 0x7fff) >= s.tx().size())
            return fail("P10", "device event off_wrap " + hex(ow) + " beyond the ring of " + std::to_string(s.tx().size()));
        }
        return pass("flags " + hex(s.tx().device_event_flags()) + " off_wrap " + hex(s.tx().device_event_off_wrap()));
      }));
  out.push_back(event_scenario(
      "event/kick-on-empty-ring", "P3",
      "P3 (§2.8.21.2): the device uses only descriptors made available; a kick with nothing available uses nothing",
      true, [](Session& s) {
        if (Outcome o = round_trip(s, 4); o.verdict != Verdict::PASS) return o;
        for (int i = 0; i < 16; ++i) s.kick(Queue::tx);
        Observed o = observe(s, Queue::tx, 1, s.target().settle);
        if (!o.used.empty() || o.violation) return fail("P3", "used something after kicks on an empty ring: " + o.text());
        if (!o.refusal.empty()) return fail("P3", "refused an empty ring's kicks: " + o.refusal);
        return round_trip(s, 4);
      }));
  {
    Scenario sc = event_scenario(
        "event/driver-flags-reserved", "P10",
        "P10 (§2.8.10): the driver's event flags 3 are reserved; a device must not be led astray by them", true,
        [](Session& s) {
          s.tx().set_driver_event(3, 0);
          return round_trip(s, 16);
        });
    sc.input = Input::hostile;
    out.push_back(sc);
  }
  {
    Scenario sc = event_scenario(
        "event/off-wrap-beyond-ring", "P11",
        "P11 (§2.8.10): off_wrap's offset lies within the ring; an offset at or past the queue size must not lead "
        "the device astray",
        true, [](Session& s) {
          s.tx().set_driver_event(kEventFlagDesc, static_cast<uint16_t>(s.tx().size() | kEventWrapBit));
          return round_trip(s, 16);
        });
    sc.input = Input::hostile;
    sc.setup.queue_size = 8;
    out.push_back(sc);
  }
  out.push_back(event_scenario("event/device-suppression-honoured", "P10",
                               "P10/P11 (§2.8.10): the device's structure gates available-buffer notifications; "
                               "a device that asks for no kick must still find what was made available",
                               true, honour_device_suppression));
  out.push_back(event_scenario("event/device-suppression-honoured/no-event-idx", "P10",
                               "P10 (§2.8.10): the device's structure gates available-buffer notifications; "
                               "a device that asks for no kick must still find what was made available",
                               false, honour_device_suppression));
}

}  // namespace virtiosim::vhost_user::check
