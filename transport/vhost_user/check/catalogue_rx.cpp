// The receive queue of an echoing back-end: what it writes into RX
// buffers, and whether an interrupt-driven front-end under back-pressure
// is ever left asleep. Needs --mode echo.
#include <poll.h>

#include <cstring>

#include "transport/vhost_user/check/observe.h"
#include "transport/vhost_user/net.h"

namespace virtiosim::vhost_user::check {

namespace {

using ring::feature_bit;
using ring::kDescNext;
using ring::kDescWrite;
using ring::kEventFlagDisable;
using ring::kEventFlagEnable;

Scenario rx_scenario(std::string name, std::string rule, std::string statement, Input input,
                     std::function<Outcome(Session&)> run) {
  Setup setup;
  setup.auto_rx = false;
  Scenario sc = make_scenario(std::move(name), std::move(rule), std::move(statement), input, setup, std::move(run));
  sc.needs_echo = true;
  return sc;
}

bool all(const uint8_t* p, size_t n, uint8_t v) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != v) return false;
  return true;
}

// An RX buffer of `bytes` with 64 guard bytes after it, all 0xee.
uint64_t guarded(Session& s, uint32_t bytes) { return s.alloc(bytes + 64, 0xee); }

// Linux virtio_net with NAPI under back-pressure: `posted` RX buffers,
// callbacks on; on a call, callbacks off, take every echo, post the
// buffers again, callbacks on, look once more (virtqueue_napi_complete).
// A call that never comes while echoes wait is a lost notification. A
// back-end may drop what finds RX full (DPDK does) or hold it in TX
// (serve does): either way every TX buffer comes back.
Outcome irq_back_pressure(Session& s, uint32_t posted, uint32_t frames) {
  s.rx().set_driver_event(kEventFlagEnable);
  // Calls handled so far: one may arrive before the first wait starts.
  uint64_t handled = s.calls(Queue::rx);
  post_rx(s, posted);
  send_frames(s, frames);
  uint32_t echoed = 0, calls_seen = 0, tx_used = 0;
  while (echoed < frames) {
    const uint64_t before = handled;
    s.wait(s.target().timeout, [&] { return s.calls(Queue::rx) > before; });
    handled = s.calls(Queue::rx);
    tx_used += static_cast<uint32_t>(observe(s, Queue::tx, frames - tx_used, std::chrono::milliseconds(0)).used.size());
    if (s.calls(Queue::rx) == before) {
      if (const std::string r = s.refusal(); !r.empty()) return reject(r);
      if (s.rx().used_pending())
        return fail("P10", "echoes wait in RX but no call came within " + std::to_string(s.target().timeout.count()) +
                               " ms with callbacks enabled (" + std::to_string(echoed) + " of " +
                               std::to_string(frames) + " echoed, " + std::to_string(calls_seen) + " calls)");
      if (tx_used == frames) break;  // the rest were dropped: nothing is owed
      return wedged("no echo and no call for " + std::to_string(s.target().timeout.count()) + " ms (" +
                    std::to_string(echoed) + " of " + std::to_string(frames) + " echoed, " + std::to_string(tx_used) +
                    " TX buffers used)");
    }
    ++calls_seen;
    for (bool again = true; again;) {
      s.rx().set_driver_event(kEventFlagDisable);
      Observed o = observe(s, Queue::rx, frames - echoed, std::chrono::milliseconds(0));
      if (o.violation) return fail(o.violation.rule, o.violation.what);
      echoed += static_cast<uint32_t>(o.used.size());
      if (!o.used.empty()) post_rx(s, o.used.size());
      s.rx().set_driver_event(kEventFlagEnable);  // full barrier inside, then look once more
      again = s.rx().used_pending() && echoed < frames;
    }
  }
  const std::string dropped = echoed < frames ? " (the back-end dropped the rest)" : "";
  return pass(std::to_string(echoed) + " of " + std::to_string(frames) + " frames echoed through " +
              std::to_string(posted) + " RX buffers" + dropped + ", " + std::to_string(calls_seen) +
              " calls, none missing");
}

}  // namespace

void add_rx_scenarios(std::vector<Scenario>& out) {
  out.push_back(rx_scenario("rx/echo", "P5",
                            "P5 (virtio 1.2 §2.8.5): a used RX descriptor's len is the bytes written: the net header "
                            "and the frame",
                            Input::valid, [](Session& s) { return round_trip(s, 64); }));
  out.push_back(rx_scenario(
      "rx/two-descriptor-buffer", "P6.1", "P6.1 (§2.8.6, §5.1.6.3): an RX buffer may be a list of writable descriptors",
      Input::valid, [](Session& s) {
        const size_t hdr = s.net_header();
        for (int i = 0; i < 8; ++i) {
          const uint64_t a = s.alloc(hdr, 0xee), b = s.alloc(2048, 0xee);
          const std::vector<Desc> l{{a, static_cast<uint32_t>(hdr), 0, static_cast<uint16_t>(kDescWrite | kDescNext)},
                                    {b, 2048, 0, kDescWrite}};
          s.rx().add(l, s.rx().next_avail());
        }
        s.kick(Queue::rx);
        send_frames(s, 8);
        if (Outcome o = expect_used(s, Queue::tx, 8); o.verdict != Verdict::PASS) return o;
        std::vector<UsedDesc> got;
        if (Outcome o = expect_used(s, Queue::rx, 8, &got); o.verdict != Verdict::PASS) return o;
        for (const UsedDesc& u : got)
          if (u.len != hdr + 64) return fail("P5", "used len " + std::to_string(u.len) + " (" + u.text() + ")");
        return pass("8 echoes into two-descriptor buffers");
      }));
  out.push_back(rx_scenario(
      "rx/device-readable-buffer", "P6.3",
      "P6.3 (§2.8.6): the device writes only device-writable descriptors; an RX buffer without WRITE must not "
      "be written",
      Input::hostile, [](Session& s) {
        const uint64_t gpa = guarded(s, 2048);
        s.rx().add_one(gpa, 2048, s.rx().next_avail(), 0);  // no WRITE
        s.kick(Queue::rx);
        send_frames(s, 1);
        Observed o = observe(s, Queue::rx, 1, s.target().settle);
        if (!all(s.host(gpa), 2048 + 64, 0xee)) return fail("P6.3", "wrote into a device-readable RX buffer; " + o.text());
        if (o.violation) return fail(o.violation.rule, o.violation.what);
        if (!o.refusal.empty()) return reject(o.refusal);
        return pass("buffer untouched; " + o.text());
      }));
  {
    Scenario sc = rx_scenario(
        "rx/mergeable-two-buffers", "P9",
        "P9 (§5.1.6.4): with VIRTIO_NET_F_MRG_RXBUF a frame may span buffers; num_buffers in the first "
        "buffer's header counts them",
        Input::valid, [](Session& s) {
          const size_t hdr = s.net_header();
          std::vector<uint64_t> bufs;
          for (int i = 0; i < 2; ++i) {
            bufs.push_back(guarded(s, 48));
            const uint16_t id = s.rx().next_avail();
            s.set_rx_buffer(id, bufs.back());
            s.rx().add_one(bufs.back(), 48, id, kDescWrite);
          }
          s.kick(Queue::rx);
          send_frames(s, 1);
          std::vector<UsedDesc> got;
          if (Outcome o = expect_used(s, Queue::rx, 2, &got); o.verdict != Verdict::PASS) return o;
          uint16_t num_buffers = 0;
          std::memcpy(&num_buffers, s.host(s.rx_buffer(got[0].id)) + net::kNumBuffersOffset, 2);
          if (num_buffers != 2) return fail("P9", "num_buffers " + std::to_string(num_buffers) + " for a frame in 2 buffers");
          if (got[0].len + got[1].len != hdr + 64)
            return fail("P5", "used lens " + std::to_string(got[0].len) + " + " + std::to_string(got[1].len) +
                                  " for " + std::to_string(hdr + 64) + " bytes");
          for (uint64_t b : bufs)
            if (!all(s.host(b) + 48, 64, 0xee)) return fail("P5", "wrote past a 48-byte RX buffer");
          return pass("one frame in two buffers, num_buffers 2");
        });
    sc.setup.require = feature_bit(net::kFeatureMrgRxbuf);
    out.push_back(sc);
  }
  {
    Scenario sc = rx_scenario(
        "rx/buffer-too-small", "P5",
        "P5 (§2.8.5, §5.1.6.3): the device writes at most a buffer's writable length; a frame that does not "
        "fit (no MRG_RXBUF) is dropped or refused, never written past the buffer",
        Input::hostile, [](Session& s) {
          const uint64_t gpa = guarded(s, 40);
          s.rx().add_one(gpa, 40, s.rx().next_avail(), kDescWrite);
          s.kick(Queue::rx);
          send_frames(s, 1);
          Observed o = observe(s, Queue::rx, 1, s.target().settle);
          if (!all(s.host(gpa) + 40, 64, 0xee)) return fail("P5", "wrote past the end of a 40-byte RX buffer; " + o.text());
          if (o.violation) return fail(o.violation.rule, o.violation.what);
          if (!o.refusal.empty()) return reject(o.refusal);
          return pass("nothing written past the buffer; " + o.text());
        });
    sc.setup.decline = feature_bit(net::kFeatureMrgRxbuf);
    out.push_back(sc);
  }
  out.push_back(rx_scenario("rx/irq-back-pressure", "P10",
                            "P10 (§2.8.10): with the driver's flags ENABLE the device notifies after using "
                            "buffers; a driver that sleeps until then must never be left asleep with echoes waiting",
                            Input::valid, [](Session& s) { return irq_back_pressure(s, 4, 128); }));
}

}  // namespace virtiosim::vhost_user::check
