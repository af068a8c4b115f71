#include "transport/vhost_user/check/observe.h"

#include <cstdio>
#include <algorithm>
#include <cstring>

#include "transport/vhost_user/net.h"

namespace virtiosim::vhost_user::check {

namespace {

constexpr uint32_t kRxBufferBytes = 2048;
constexpr uint32_t kFrameBytes = 64;

std::string where(Session& s, Queue q) {
  PackedFront& r = s.ring(q);
  const Desc d = r.read_desc(r.next_used());
  return std::string(q == Queue::tx ? "tx" : "rx") + " (vring " + std::to_string(static_cast<uint32_t>(q)) +
         "): next used slot " + std::to_string(r.next_used()) + " device_wrap=" + std::to_string(r.used_wrap()) +
         " holds id=" + std::to_string(d.id) + " flags=" + hex(d.flags) + ", " + std::to_string(r.in_flight()) +
         " lists in flight; calls rx=" + std::to_string(s.calls(Queue::rx)) + " tx=" + std::to_string(s.calls(Queue::tx));
}

}  // namespace

void post_rx(Session& s, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const uint64_t gpa = s.alloc(kRxBufferBytes, 0xee);
    const uint16_t id = s.rx().next_avail();
    s.set_rx_buffer(id, gpa);
    s.rx().add_one(gpa, kRxBufferBytes, id, ring::kDescWrite);
  }
  s.kick(Queue::rx);
}

namespace {

// The echoes of `got` RX descriptors: len, and the frame sent, with its
// MAC addresses swapped (serve, testpmd macswap) or as it was (io).
Outcome check_echoes(Session& s, const std::vector<UsedDesc>& got) {
  const size_t hdr = s.net_header();
  for (const UsedDesc& u : got) {
    if (u.len != hdr + kFrameBytes)
      return fail("P5", "RX used len " + std::to_string(u.len) + " for a " + std::to_string(hdr + kFrameBytes) +
                            "-byte echo (" + u.text() + ")");
    uint8_t* f = s.host(s.rx_buffer(u.id)) + hdr;
    uint64_t seq = 0;
    if (!net::check_echo(f, kFrameBytes, kFrameBytes, seq)) {
      net::swap_macs(f, kFrameBytes);
      if (!net::check_echo(f, kFrameBytes, kFrameBytes, seq))
        return fail("P5", "RX buffer id " + std::to_string(u.id) + " does not hold a frame that was sent (" +
                              u.text() + ")");
    }
  }
  return pass("");
}

}  // namespace

bool event_crossed(uint16_t off_wrap, uint16_t old, uint16_t now, bool wrap, uint32_t size) {
  uint16_t off = off_wrap & 0x7fff;
  if (((off_wrap & ring::kEventWrapBit) != 0) != wrap) off = static_cast<uint16_t>(off - size);
  if (now <= old) old = static_cast<uint16_t>(old - size);
  return static_cast<uint16_t>(now - off - 1) < static_cast<uint16_t>(now - old);
}

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

Outcome pass(std::string e) { return {Verdict::PASS, std::move(e)}; }
Outcome fail(const std::string& rule, std::string e) { return {Verdict::FAIL, rule + ": " + e}; }
Outcome wedged(std::string e) { return {Verdict::WEDGED, std::move(e)}; }
Outcome reject(std::string e) { return {Verdict::REJECT, std::move(e)}; }

std::string Observed::text() const {
  std::string t = std::to_string(used.size()) + " used";
  if (!used.empty()) t += " (last: " + used.back().text() + ")";
  if (violation) t += "; " + std::string(violation.rule) + ": " + violation.what;
  if (!refusal.empty()) t += "; refused: " + refusal;
  return t;
}

Observed observe(Session& s, Queue q, size_t want, std::chrono::milliseconds wait) {
  Observed o;
  PackedFront& r = s.ring(q);
  const Session::Waited w = s.wait(wait, [&] {
    if (s.rx_violation()) {
      o.violation = s.rx_violation();
      return true;
    }
    while (o.used.size() < want) {
      auto u = r.take_used(o.violation);
      if (o.violation) return true;
      if (!u) return false;
      o.used.push_back(*u);
    }
    return true;
  });
  if (w == Session::Waited::refused) o.refusal = s.refusal();
  o.timed_out = w != Session::Waited::done;
  if (o.refusal.empty() && w == Session::Waited::refused) o.refusal = "the back-end closed the connection";
  return o;
}

Outcome expect_used(Session& s, Queue q, size_t want, std::vector<UsedDesc>* got) {
  Observed o = observe(s, q, want, s.target().timeout);
  if (got) *got = o.used;
  if (o.violation) return fail(o.violation.rule, o.violation.what);
  if (!o.refusal.empty())
    return reject(o.refusal + " after " + std::to_string(o.used.size()) + " of " + std::to_string(want) + " used");
  if (o.timed_out)
    return wedged(std::to_string(o.used.size()) + " of " + std::to_string(want) + " buffers used after " +
                  std::to_string(s.target().timeout.count()) + " ms; " + where(s, q));
  return pass(std::to_string(want) + " used; " + (o.used.empty() ? "" : "last " + o.used.back().text()));
}

Outcome judge_hostile(Session& s, Queue q, size_t sound, const char* harm_rule, const std::string& harm) {
  if (sound) {
    Outcome before = expect_used(s, q, sound);
    if (before.verdict != Verdict::PASS) return before;
  }
  Observed o = observe(s, q, 1, s.target().settle);
  if (o.violation) return fail(o.violation.rule, o.violation.what);
  if (!o.refusal.empty()) return reject(o.refusal);
  if (o.used.empty()) return pass("left alone: nothing used within " + std::to_string(s.target().settle.count()) +
                                  " ms, no refusal; " + where(s, q));
  if (harm_rule) return fail(harm_rule, harm + " (" + o.used.front().text() + ")");
  return pass("tolerated: used as " + o.used.front().text());
}

void send_frames(Session& s, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const uint16_t id = s.tx().next_avail();
    s.tx().add_one(s.tx_frame(i), s.tx_frame_len(), id);
  }
  s.kick(Queue::tx);
}

Outcome round_trip(Session& s, size_t n) {
  const bool echoes = s.target().echo && !s.setup().auto_rx;
  // At most half a ring in flight, so that every frame has a slot.
  const size_t chunk = std::max<size_t>(s.tx().size() / 2, 1);
  Outcome tx;
  for (size_t done = 0; done < n;) {
    const size_t k = std::min(chunk, n - done);
    if (echoes) post_rx(s, k);
    send_frames(s, k);
    tx = expect_used(s, Queue::tx, k);
    if (tx.verdict != Verdict::PASS) return tx;
    if (echoes) {
      std::vector<UsedDesc> got;
      Outcome rx = expect_used(s, Queue::rx, k, &got);
      if (rx.verdict != Verdict::PASS) return rx;
      if (Outcome content = check_echoes(s, got); content.verdict != Verdict::PASS) return content;
    }
    done += k;
  }
  return n <= chunk ? tx : pass(std::to_string(n) + " used, " + std::to_string(chunk) + " at a time; " + tx.evidence);
}

std::string survives(const Target& t) {
  try {
    Setup probe;
    probe.auto_rx = false;  // check the echoes themselves
    Session s(t, probe);
    const Outcome o = round_trip(s, 8);
    if (o.verdict == Verdict::PASS) return {};
    return std::string(name(o.verdict)) + ": " + o.evidence;
  } catch (const SetupFailure& f) {
    return f.detail;
  } catch (const std::exception& e) {
    return e.what();
  }
}

}  // namespace virtiosim::vhost_user::check
