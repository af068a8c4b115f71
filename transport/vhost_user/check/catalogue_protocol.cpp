// The vhost-user side: malformed messages (VU1), ring state across
// GET/SET_VRING_BASE (VU2), ring enabling (VU3), memory tables, and front-
// ends that hang up at the worst moment.
#include <boost/asio/write.hpp>

#include <cstring>
#include <thread>

#include "models/ring/ring_state.h"
#include "transport/vhost_user/check/observe.h"

namespace virtiosim::vhost_user::check {

namespace {

using ring::feature_bit;

const char* kMessage =
    "a back-end refuses a malformed or out-of-place message (an error reply, or closing the connection) and "
    "keeps serving new front-ends";

// What each rule says a message must be.
std::string message_statement(const std::string& rule) {
  const char* what = rule == "VU1"   ? "VU1 (vhost-user.rst \"Message specification\"): header u32 request, u32 flags "
                                       "(version 1, reply, need-reply), u32 size, then size bytes of payload"
                     : rule == "VU2" ? "VU2 (vhost-user.rst SET_VRING_BASE): the index lies within the ring"
                     : rule == "VU3" ? "VU3 (vhost-user.rst): SET_VRING_KICK/CALL carry an fd unless bit 8 says none; "
                                       "SET_FEATURES acknowledges only offered bits"
                     : rule == "VU5" ? "VU5 (vhost-user.rst SET_MEM_TABLE): 1 to 8 regions, one fd each, non-empty, "
                                       "not overlapping, within their fd; ring addresses inside them"
                     : rule == "P1"  ? "P1 (virtio 1.2 §2.8): a packed queue has at most 32768 entries"
                                     : "";
  return std::string(what) + "; " + kMessage;
}

// Negotiated, memory shared, rings not started: where the set-up messages
// of a front-end would come next.
Setup negotiated() {
  Setup s;
  s.start = false;
  return s;
}

RawMessage raw(uint32_t request, uint32_t flags, std::vector<uint8_t> payload) {
  RawMessage m;
  m.header = {request, flags, static_cast<uint32_t>(payload.size())};
  m.payload = std::move(payload);
  return m;
}

template <class T>
std::vector<uint8_t> bytes(const T& v) {
  std::vector<uint8_t> b(sizeof v);
  std::memcpy(b.data(), &v, sizeof v);
  return b;
}

// Sends `m` and sees what became of the connection: closed (REJECT), an
// error reply to need_reply (REJECT), or still answering GET_FEATURES
// (PASS: ignored or accepted; the fresh connection after the scenario
// shows whether it did harm).
Outcome judge_message(Session& s, const RawMessage& m, std::span<const int> fds = {}) {
  Connection& c = s.frontend().connection();
  if (c.send(m, fds) != ProtocolError::ok) return reject("the back-end closed the connection before the message");
  if (m.header.flags & kFlagNeedReply) {
    RawMessage reply;
    ReceiveResult rr = c.receive(reply);
    if (rr.peer_closed || rr.error != ProtocolError::ok) return reject("closed the connection instead of replying");
    uint64_t status = 0;
    if (reply.payload.size() == 8) std::memcpy(&status, reply.payload.data(), 8);
    if (status != 0) return reject("error reply (status " + std::to_string(status) + ")");
  }
  std::this_thread::sleep_for(s.target().settle);
  if (s.closed()) return reject("the back-end closed the connection");
  Payload p;
  if (s.frontend().request(Request::GET_FEATURES, NoPayload{}, &p) != ProtocolError::ok)
    return reject("no answer to GET_FEATURES afterwards: " + s.frontend().detail());
  return pass("the connection stays up and answers GET_FEATURES");
}

uint32_t ack_flag(Session& s) {
  return kVersion | ((s.frontend().protocol_features() & feature_bit(protocol_feature::REPLY_ACK)) ? kFlagNeedReply : 0);
}

Scenario message(std::string name, std::string rule, std::function<Outcome(Session&)> run) {
  std::string statement = message_statement(rule);
  return make_scenario(std::move(name), std::move(rule), std::move(statement), Input::hostile, negotiated(),
                       std::move(run));
}

const char* kBase =
    "VU2 (vhost-user.rst GET_VRING_BASE, packed rings): bits 0-14 last avail index, bit 15 avail wrap counter, "
    "bits 16-30 last used index, bit 31 used wrap counter; a fresh ring is 0x8000 in each half";

// `frames` one by one on a ring of 8, then GET_VRING_BASE of TX: what the
// back-end says and what the front-end saw.
Outcome base_after(Session& s, uint32_t frames, uint32_t& got, uint32_t& want) {
  for (uint32_t i = 0; i < frames; ++i)
    if (Outcome o = round_trip(s, 1); o.verdict != Verdict::PASS) return o;
  if (ProtocolError e = s.frontend().get_vring_base(kTxVring, got); e != ProtocolError::ok)
    return reject(std::string("GET_VRING_BASE: ") + name(e) + ": " + s.frontend().detail());
  want = ring::encode_vring_base_packed(
      {s.tx().next_avail(), s.tx().avail_wrap(), s.tx().next_used(), s.tx().used_wrap()});
  return pass("");
}

Scenario get_base(std::string name, uint32_t frames, bool both_halves) {
  Setup st;
  st.queue_size = 8;
  return make_scenario(std::move(name), "VU2", kBase, Input::valid, st, [frames, both_halves](Session& s) {
    uint32_t got = 0, want = 0;
    if (Outcome o = base_after(s, frames, got, want); o.verdict != Verdict::PASS) return o;
    const uint32_t mask = both_halves ? 0xffffffffu : 0xffffu;
    if ((got & mask) != (want & mask))
      return fail("VU2", "GET_VRING_BASE after " + std::to_string(frames) + " buffers on a ring of 8 says " + hex(got) +
                             ", the ring says " + hex(want) + (both_halves ? " (both halves)" : " (avail half)"));
    return pass("GET_VRING_BASE " + hex(got) + " after " + std::to_string(frames) + " buffers");
  });
}

}  // namespace

void add_protocol_scenarios(std::vector<Scenario>& out) {
  // VU1: malformed messages, each on a connection that negotiated and shared memory.
  out.push_back(message("message/bad-version", "VU1", [](Session& s) {
    return judge_message(s, raw(static_cast<uint32_t>(Request::GET_FEATURES), 0x2, {}));
  }));
  out.push_back(message("message/reply-flag-on-request", "VU1", [](Session& s) {
    return judge_message(s, raw(static_cast<uint32_t>(Request::SET_FEATURES), kVersion | kFlagReply, bytes(uint64_t{0})));
  }));
  out.push_back(message("message/unknown-request", "VU1",
                        [](Session& s) { return judge_message(s, raw(9999, kVersion, bytes(uint64_t{0}))); }));
  out.push_back(message("message/payload-size-too-large", "VU1", [](Session& s) {
    // The header announces 1 MiB; the payload never comes.
    RawMessage m = raw(static_cast<uint32_t>(Request::SET_FEATURES), kVersion, {});
    m.header.size = 1 << 20;
    return judge_message(s, m);
  }));
  out.push_back(message("message/wrong-payload-size", "VU1", [](Session& s) {
    return judge_message(s, raw(static_cast<uint32_t>(Request::SET_VRING_NUM), ack_flag(s), bytes(uint32_t{1})));
  }));
  out.push_back(message("message/vring-index-out-of-range", "VU1", [](Session& s) {
    return judge_message(s, raw(static_cast<uint32_t>(Request::SET_VRING_NUM), ack_flag(s), bytes(VringState{200, 256})));
  }));
  out.push_back(message("message/vring-num-zero", "VU1", [](Session& s) {
    return judge_message(s, raw(static_cast<uint32_t>(Request::SET_VRING_NUM), ack_flag(s), bytes(VringState{1, 0})));
  }));
  out.push_back(message("message/vring-num-32769", "P1", [](Session& s) {
    return judge_message(s, raw(static_cast<uint32_t>(Request::SET_VRING_NUM), ack_flag(s), bytes(VringState{1, 32769})));
  }));
  out.push_back(message("message/vring-base-beyond-ring", "VU2", [](Session& s) {
    if (ProtocolError e = s.frontend().request(Request::SET_VRING_NUM, VringState{1, 256}); e != ProtocolError::ok)
      return reject(std::string("SET_VRING_NUM 256: ") + name(e));
    // Avail index 300 on a ring of 256.
    return judge_message(s, raw(static_cast<uint32_t>(Request::SET_VRING_BASE), ack_flag(s),
                                bytes(VringState{1, 0x80008000u | 300u})));
  }));
  auto mem_table = [](std::vector<MemRegion> regions, int fds_to_send) {
    return [regions, fds_to_send](Session& s) {
      std::vector<uint8_t> p(8 + regions.size() * sizeof(MemRegion));
      const uint32_t n = static_cast<uint32_t>(regions.size());
      std::memcpy(p.data(), &n, 4);
      for (size_t i = 0; i < regions.size(); ++i) std::memcpy(p.data() + 8 + i * sizeof(MemRegion), &regions[i], sizeof(MemRegion));
      std::vector<int> fds(fds_to_send, s.region(0).fd());
      return judge_message(s, raw(static_cast<uint32_t>(Request::SET_MEM_TABLE), ack_flag(s), p), fds);
    };
  };
  const MemRegion r{0x40000000, 1 << 20, 0x7f0000000000, 0};
  out.push_back(message("message/mem-table-without-fd", "VU5", mem_table({r}, 0)));
  out.push_back(message("message/mem-table-no-regions", "VU5", mem_table({}, 0)));
  out.push_back(message("message/mem-table-region-size-zero", "VU5", mem_table({{0x40000000, 0, 0x7f0000000000, 0}}, 1)));
  out.push_back(message("message/mem-table-regions-overlap", "VU5",
                        mem_table({r, {0x40000000 + 4096, 1 << 20, 0x7f0000200000, 0}}, 2)));
  out.push_back(message("message/mem-table-offset-beyond-fd", "VU5",
                        mem_table({{0x40000000, 1 << 20, 0x7f0000000000, 1ull << 40}}, 1)));
  out.push_back(message("message/vring-addr-outside-memory", "VU5", [](Session& s) {
    if (ProtocolError e = s.frontend().request(Request::SET_VRING_NUM, VringState{1, 256}); e != ProtocolError::ok)
      return reject(std::string("SET_VRING_NUM 256: ") + name(e));
    VringAddr a;
    a.index = 1;
    a.desc_user_addr = 0x1000;  // no region maps it
    a.avail_user_addr = 0x2000;
    a.used_user_addr = 0x3000;
    return judge_message(s, raw(static_cast<uint32_t>(Request::SET_VRING_ADDR), ack_flag(s), bytes(a)));
  }));
  out.push_back(message("message/vring-kick-without-fd", "VU3", [](Session& s) {
    // Index 1, "no fd" bit clear, and no fd.
    return judge_message(s, raw(static_cast<uint32_t>(Request::SET_VRING_KICK), ack_flag(s), bytes(uint64_t{1})));
  }));
  out.push_back(message("message/features-not-offered", "VU3", [](Session& s) {
    return judge_message(s, raw(static_cast<uint32_t>(Request::SET_FEATURES), ack_flag(s), bytes(~uint64_t{0})));
  }));
  {
    Scenario sc;
    sc.name = "message/hang-up-mid-header";
    sc.rule = "VU1";
    sc.statement = message_statement(sc.rule);
    sc.input = Input::hostile;
    sc.setup = negotiated();
    sc.run = [](Session& s) {
      const uint8_t half[5] = {2, 0, 0, 0, 1};
      boost::system::error_code ec;
      boost::asio::write(s.frontend().connection().socket(), boost::asio::buffer(half), ec);
      return pass("sent 5 of a header's 12 bytes and hung up; the fresh connection after it judges");
    };
    out.push_back(sc);
  }

  // VU2: ring base, both halves.
  out.push_back(get_base("ring-base/fresh", 0, true));
  out.push_back(get_base("ring-base/after-wrap/avail-half", 11, false));
  out.push_back(get_base("ring-base/after-wrap/both-halves", 11, true));
  out.push_back(get_base("ring-base/after-two-laps/both-halves", 21, true));
  {
    Setup st;
    st.queue_size = 8;
    st.tx_base = ring::encode_vring_base_packed({5, false, 5, false});
    out.push_back(make_scenario("ring-base/resume-mid-ring-wrap-0", "VU2", kBase, Input::valid, st,
                        [](Session& s) { return round_trip(s, 6); }));
  }
  out.push_back(make_scenario("ring-base/get-stops-the-ring", "VU3",
                      "VU3 (vhost-user.rst \"Ring states\"): GET_VRING_BASE stops the ring; a stopped ring is not "
                      "processed",
                      Input::valid, Setup{}, [](Session& s) {
                        if (Outcome o = round_trip(s, 4); o.verdict != Verdict::PASS) return o;
                        uint32_t base = 0;
                        if (ProtocolError e = s.frontend().get_vring_base(kTxVring, base); e != ProtocolError::ok)
                          return reject(std::string("GET_VRING_BASE: ") + name(e));
                        send_frames(s, 2);
                        Observed o = observe(s, Queue::tx, 1, s.target().settle);
                        if (!o.used.empty()) return fail("VU3", "used a buffer on a stopped ring: " + o.text());
                        return pass("stopped at " + hex(base) + "; nothing used after");
                      }));
  out.push_back(make_scenario("ring-base/resume-on-new-connection", "VU2", kBase, Input::valid, Setup{}, [](Session& s) {
    if (Outcome o = round_trip(s, 300); o.verdict != Verdict::PASS) return o;
    uint32_t tx = 0, rx = 0;
    if (s.frontend().get_vring_base(kTxVring, tx) != ProtocolError::ok ||
        s.frontend().get_vring_base(kRxVring, rx) != ProtocolError::ok)
      return reject("GET_VRING_BASE: " + s.frontend().detail());
    const uint32_t want = ring::encode_vring_base_packed(
        {s.tx().next_avail(), s.tx().avail_wrap(), s.tx().next_used(), s.tx().used_wrap()});
    if ((tx & 0xffff) != (want & 0xffff)) return fail("VU2", "TX base " + hex(tx) + ", the ring says " + hex(want));
    // The second front-end resumes where the first left (the used half as
    // the avail half, tolerant of back-ends that fill only the low 16 bits).
    Setup next;
    next.tx_base = (tx & 0xffff) | (tx & 0xffff) << 16;
    next.rx_base = (rx & 0xffff) | (rx & 0xffff) << 16;
    s.hang_up();  // one front-end at a time
    Session again(s.target(), next);
    Outcome o = round_trip(again, 300);
    if (o.verdict != Verdict::PASS) return Outcome{o.verdict, "resumed at " + hex(next.tx_base) + ": " + o.evidence};
    return pass("resumed at TX " + hex(next.tx_base) + " on a new connection; 300 more buffers");
  }));

  // VU3: enabling.
  out.push_back(make_scenario("enable/disabled-ring-not-processed", "VU3",
                      "VU3 (vhost-user.rst \"Ring states\"): with protocol features negotiated every ring starts "
                      "disabled; a disabled ring is not processed until SET_VRING_ENABLE 1",
                      Input::valid, Setup{}, [](Session& s) {
                        if (!(s.features() & feature_bit(kFeatureProtocolFeatures)))
                          return Outcome{Verdict::SKIP, "no protocol features: rings start enabled"};
                        if (Outcome o = round_trip(s, 4); o.verdict != Verdict::PASS) return o;
                        if (s.frontend().request(Request::SET_VRING_ENABLE, VringState{kTxVring, 0}) != ProtocolError::ok)
                          return reject("SET_VRING_ENABLE 0: " + s.frontend().detail());
                        send_frames(s, 2);
                        Observed o = observe(s, Queue::tx, 1, s.target().settle);
                        if (!o.used.empty()) return fail("VU3", "used a buffer on a disabled ring: " + o.text());
                        if (s.frontend().request(Request::SET_VRING_ENABLE, VringState{kTxVring, 1}) != ProtocolError::ok)
                          return reject("SET_VRING_ENABLE 1: " + s.frontend().detail());
                        s.kick(Queue::tx);
                        Outcome after = expect_used(s, Queue::tx, 2);
                        if (after.verdict != Verdict::PASS) return Outcome{after.verdict, "after enabling again: " + after.evidence};
                        return pass("held while disabled, used once enabled");
                      }));

  // Front-ends that leave.
  Setup st;
  out.push_back(make_scenario("reconnect/hang-up-with-buffers-in-flight", "VU3",
                      "VU3 (vhost-user.rst): a front-end may disconnect at any time; the back-end stops the "
                      "rings and serves the next front-end",
                      Input::valid, st, [](Session& s) {
                        send_frames(s, 64);
                        return pass("64 buffers made available, then hung up at once");
                      }));
  out.push_back(make_scenario("reconnect/hang-up-after-mem-table", "VU3",
                      "VU3 (vhost-user.rst): a front-end may disconnect at any time; the back-end unmaps its "
                      "memory and serves the next front-end",
                      Input::valid, negotiated(), [](Session&) { return pass("hung up after SET_MEM_TABLE"); }));
  out.push_back(make_scenario("reconnect/ten-front-ends-in-a-row", "VU3",
                      "VU3 (vhost-user.rst): one front-end after another, each from scratch", Input::valid, st,
                      [](Session& s) {
                        if (Outcome o = round_trip(s, 4); o.verdict != Verdict::PASS) return o;
                        s.hang_up();
                        for (int i = 0; i < 9; ++i) {
                          Session next(s.target(), Setup{});
                          Outcome o = round_trip(next, 4);
                          if (o.verdict != Verdict::PASS)
                            return Outcome{o.verdict, "front-end " + std::to_string(i + 2) + ": " + o.evidence};
                        }
                        return pass("ten front-ends, 4 buffers each");
                      }));
}

}  // namespace virtiosim::vhost_user::check
