// Wrap counters at every boundary, queue sizes from 1 to 32768, lists of
// exactly queue-size descriptors, lists that wrap the ring's end, buffer
// ids, and order.
#include <algorithm>
#include <cstring>

#include "models/ring/ring_state.h"

#include "transport/vhost_user/check/observe.h"

namespace virtiosim::vhost_user::check {

namespace {

using ring::kDescAvail;
using ring::kDescNext;
using ring::kDescUsed;
using ring::kDescWrite;

const char* kWrap =
    "P2 (virtio 1.2 §2.8.1): each side flips its wrap counter when it moves past the last slot; a used "
    "descriptor has AVAIL == USED == the device's wrap counter";
const char* kList =
    "P6.4/P6.6 (§2.8.6, §2.8.21.1): a list is at most queue-size descriptors; the device writes one used "
    "descriptor per list and skips the list's length";

// A list of `n` descriptors carrying one frame: the net header and the
// frame's first bytes in the first, 4 bytes in each of the others.
std::vector<Desc> frame_list(Session& s, uint32_t n, uint64_t seq) {
  const uint32_t tail = 4 * (n - 1);
  const uint32_t frame = std::max<uint32_t>(64, tail + 22);
  const uint64_t gpa = s.tx_frame(seq, frame);
  const uint32_t first = s.tx_frame_len(frame) - tail;
  std::vector<Desc> list;
  list.push_back({gpa, first, 0, static_cast<uint16_t>(n > 1 ? kDescNext : 0)});
  for (uint32_t i = 1; i < n; ++i)
    list.push_back({gpa + first + 4 * (i - 1), 4, 0, static_cast<uint16_t>(i + 1 < n ? kDescNext : 0)});
  return list;
}

// `total` frames, `batch` at a time (each batch seen by the device at
// once), every used descriptor judged where it lands.
Outcome laps(Session& s, uint64_t total, uint32_t batch) {
  for (uint64_t sent = 0; sent < total;) {
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(batch, total - sent));
    std::vector<std::vector<Desc>> lists;
    std::vector<uint16_t> ids;
    for (uint32_t i = 0; i < n; ++i) {
      ids.push_back(static_cast<uint16_t>((s.tx().next_avail() + i) % s.tx().size()));
      lists.push_back(frame_list(s, 1, sent + i));
    }
    s.tx().add_batch(lists, ids);
    s.kick(Queue::tx);
    Outcome o = expect_used(s, Queue::tx, n);
    if (o.verdict != Verdict::PASS)
      return {o.verdict, "after " + std::to_string(sent) + " buffers: " + o.evidence};
    sent += n;
  }
  return pass(std::to_string(total) + " buffers over " + std::to_string(total / s.tx().size()) +
              " laps; device wrap now " + std::to_string(s.tx().used_wrap()));
}

Scenario wrap(uint32_t size, uint32_t batch) {
  Scenario sc;
  sc.name = "wrap/size-" + std::to_string(size) + (batch == 1 ? "/one-by-one" : "/batch-" + std::to_string(batch));
  sc.rule = "P2";
  sc.statement = kWrap;
  sc.setup.queue_size = size;
  const uint64_t total = 2ull * size + 1;
  sc.run = [total, batch](Session& s) { return laps(s, total, batch); };
  return sc;
}

// One by one across the end of a ring too large to go round that way in
// a test: the rings start `before` slots from the end (SET_VRING_BASE),
// in wrap 0, and cross it twice (wrap 0 -> 1 -> 0).
Scenario wrap_from_end(uint32_t size, uint32_t before) {
  Scenario sc;
  sc.name = "wrap/size-" + std::to_string(size) + "/one-by-one-across-the-end";
  sc.rule = "P2";
  sc.statement = kWrap;
  sc.setup.queue_size = size;
  const uint16_t at = static_cast<uint16_t>(size - before);
  sc.setup.tx_base = sc.setup.rx_base = ring::encode_vring_base_packed({at, false, at, false});
  sc.run = [size, before](Session& s) {
    Outcome o = laps(s, 2 * before, 1);
    if (o.verdict != Verdict::PASS) return o;
    o = laps(s, size - 2 * before, 64);
    if (o.verdict != Verdict::PASS) return o;
    o = laps(s, 2 * before, 1);
    if (o.verdict != Verdict::PASS) return o;
    return pass("from slot " + std::to_string(size - before) + " in wrap 0, one by one across the end twice; device "
                "wrap now " + std::to_string(s.tx().used_wrap()));
  };
  return sc;
}

// A list of exactly queue-size descriptors, starting at `offset`; then
// one more frame, whose used descriptor must land where the list ended.
Scenario full_list(uint32_t size, uint32_t offset) {
  Scenario sc;
  sc.name = "list/queue-size-" + std::to_string(size) + (offset ? "/from-slot-" + std::to_string(offset) : "");
  sc.rule = "P6.4";
  sc.statement = kList;
  sc.setup.queue_size = size;
  sc.run = [size, offset](Session& s) {
    if (offset) {
      Outcome o = laps(s, offset, offset);
      if (o.verdict != Verdict::PASS) return o;
    }
    const uint16_t id = s.tx().next_avail();
    const auto list = frame_list(s, size, 1000);
    s.tx().add(list, id);
    s.kick(Queue::tx);
    std::vector<UsedDesc> got;
    Outcome o = expect_used(s, Queue::tx, 1, &got);
    if (o.verdict != Verdict::PASS) return o;
    if (got[0].id != id) return fail("P6.1", "the list's used descriptor carries id " + std::to_string(got[0].id));
    o = laps(s, 1, 1);  // lands at the slot after the list: the device skipped it (P6.6)
    if (o.verdict != Verdict::PASS) return Outcome{o.verdict, "after the full-ring list: " + o.evidence};
    return pass("a " + std::to_string(size) + "-descriptor list used once (" + got[0].text() +
                "), the next buffer used at slot " + std::to_string(offset));
  };
  return sc;
}

// A `n`-descriptor list that starts `back` slots before the ring's end.
Scenario wrapping_list(uint32_t size, uint32_t n, uint32_t back) {
  Scenario sc;
  sc.name = "list/wraps-ring-end/size-" + std::to_string(size) + "-len-" + std::to_string(n);
  sc.rule = "P6.5";
  sc.statement =
      "P6.5 (§2.8.21.1): a list may wrap the ring's end; the driver writes its head's flags last, so the "
      "device sees it whole, and the device's wrap counter flips inside it";
  sc.setup.queue_size = size;
  sc.run = [size, n, back](Session& s) {
    Outcome o = laps(s, size - back, std::min<uint32_t>(size - back, 32));
    if (o.verdict != Verdict::PASS) return o;
    const uint16_t id = s.tx().next_avail();
    s.tx().add(frame_list(s, n, 7), id);
    s.kick(Queue::tx);
    o = expect_used(s, Queue::tx, 1);
    if (o.verdict != Verdict::PASS) return o;
    o = laps(s, size, 4);
    if (o.verdict != Verdict::PASS) return Outcome{o.verdict, "after the wrapping list: " + o.evidence};
    return pass("list of " + std::to_string(n) + " from slot " + std::to_string(size - back) + " used, then a lap");
  };
  return sc;
}

Scenario valid_list(const std::string& name, uint32_t n) {
  Scenario sc;
  sc.name = name;
  sc.rule = "P6.1";
  sc.statement = "P6.1 (§2.8.6): NEXT on every descriptor but the last; the buffer id is in the last one";
  sc.run = [n](Session& s) {
    for (int i = 0; i < 4; ++i) s.tx().add(frame_list(s, n, i), s.tx().next_avail());
    s.kick(Queue::tx);
    return expect_used(s, Queue::tx, 4);
  };
  return sc;
}

// Hostile lists: each makes a few sound frames available first (they must
// come back), then the broken list.
Scenario hostile_list(const std::string& name, const std::string& rule, const std::string& statement,
                      const char* harm_rule, const std::string& harm,
                      std::function<void(Session&)> publish, uint32_t size = 256) {
  Scenario sc;
  sc.name = name;
  sc.rule = rule;
  sc.statement = statement;
  sc.input = Input::hostile;
  sc.setup.queue_size = size;
  sc.run = [publish, harm_rule, harm](Session& s) {
    send_frames(s, 2);
    publish(s);
    s.kick(Queue::tx);
    return judge_hostile(s, Queue::tx, 2, harm_rule, harm);
  };
  return sc;
}

Scenario id_scenario(const std::string& name, uint16_t id, bool twice) {
  Scenario sc;
  sc.name = name;
  sc.rule = "P5";
  sc.statement = "P5 (§2.8.5): the used descriptor's id is the buffer id the driver gave";
  sc.input = Input::hostile;
  sc.setup.queue_size = 64;
  sc.run = [id, twice](Session& s) {
    const uint16_t first = twice ? id : static_cast<uint16_t>(id);
    s.tx().add_one(s.tx_frame(1), s.tx_frame_len(), first);
    if (twice) s.tx().add_one(s.tx_frame(2), s.tx_frame_len(), first);
    s.kick(Queue::tx);
    std::vector<UsedDesc> got;
    const size_t want = twice ? 2 : 1;
    Observed o = observe(s, Queue::tx, want, s.target().timeout);
    if (o.violation) return fail(o.violation.rule, o.violation.what);
    if (!o.refusal.empty()) return reject(o.refusal);
    if (o.used.size() < want)
      return pass("left alone: " + std::to_string(o.used.size()) + " of " + std::to_string(want) + " used");
    return pass("returned with the id it was given: " + o.text());
  };
  return sc;
}

}  // namespace

void add_ring_scenarios(std::vector<Scenario>& out) {
  for (uint32_t size : {1u, 3u, 5u, 1000u, 32768u}) {
    out.push_back(size == 32768 ? wrap_from_end(size, 64) : wrap(size, 1));
    if (size > 1) out.push_back(wrap(size, size == 3 ? 2 : size == 5 ? 3 : size == 1000 ? 7 : 64));
  }
  out.push_back(wrap(256, 32));
  for (uint32_t size : {1u, 3u, 5u, 256u, 1000u}) out.push_back(full_list(size, 0));
  out.push_back(full_list(5, 2));
  out.push_back(full_list(256, 100));
  out.push_back(wrapping_list(5, 3, 1));
  out.push_back(wrapping_list(256, 4, 2));
  out.push_back(wrapping_list(1000, 64, 30));
  out.push_back(valid_list("list/two-descriptors", 2));
  out.push_back(valid_list("list/eight-descriptors", 8));

  out.push_back(hostile_list(
      "list/next-on-last", "P6.2",
      "P6.2 (§2.8.6): NEXT on every descriptor but the last; a device must not use a descriptor the driver "
      "has not made available (P3)",
      "P3", "used a list whose NEXT ran into a slot never made available", [](Session& s) {
        const Desc d{s.tx_frame(9), s.tx_frame_len(), 0, kDescNext};
        s.tx().add({&d, 1}, s.tx().next_avail());
      }));
  out.push_back(hostile_list(
      "list/middle-not-available", "P6.2",
      "P6.2 (§2.8.6): AVAIL/USED are correct in every descriptor of a list (a driver rule: a device that "
      "checks only the head, as Linux and DPDK do, may use the list)",
      nullptr, "", [](Session& s) {
        auto l = frame_list(s, 3, 9);
        const uint16_t head = s.tx().next_avail();
        s.tx().add(l, head);
        // The middle one's AVAIL/USED say "used in this lap": not available.
        const uint16_t mid = (head + 1) % s.tx().size();
        const bool w = (head + 1u) >= s.tx().size() ? !s.tx().avail_wrap() : s.tx().avail_wrap();
        s.tx().write_flags(mid, static_cast<uint16_t>(kDescNext | (w ? kDescAvail | kDescUsed : 0)));
      }));
  out.push_back(hostile_list(
      "list/readable-after-writable", "P6.3",
      "P6.3 (§2.8.6): device-readable descriptors come before device-writable ones; a device must not "
      "write a device-readable buffer",
      nullptr, "", [](Session& s) {
        const uint64_t w = s.alloc(64), r = s.tx_frame(9);
        const std::vector<Desc> l{{w, 64, 0, static_cast<uint16_t>(kDescNext | kDescWrite)},
                                  {r, s.tx_frame_len(), 0, 0}};
        s.tx().add(l, s.tx().next_avail());
      }));
  {
    // Every descriptor of the ring made available as one list, NEXT on
    // each, the last one's pointing back at the head.
    Scenario sc;
    sc.name = "list/longer-than-ring";
    sc.rule = "P6.4";
    sc.statement =
        "P6.4 (§2.8.21.1): a list is at most queue-size descriptors; a device must not follow NEXT around the "
        "ring (nor loop on it)";
    sc.input = Input::hostile;
    sc.setup.queue_size = 8;
    sc.run = [](Session& s) {
      std::vector<Desc> l(s.tx().size());
      for (Desc& d : l) d = {s.tx_frame(5), s.tx_frame_len(), 0, kDescNext};
      s.tx().add(l, 0);
      s.kick(Queue::tx);
      return judge_hostile(s, Queue::tx, 0);
    };
    out.push_back(sc);
  }
  out.push_back(hostile_list(
      "list/writable-only-tx", "P6.3",
      "P6.3 (§5.1.6.2): a transmitted packet is device-readable; a TX list of only device-writable "
      "descriptors carries no frame",
      nullptr, "", [](Session& s) { s.tx().add_one(s.alloc(128), 128, s.tx().next_avail(), kDescWrite); }));

  // Flags that never say "available" (P2): AVAIL == USED, in either lap.
  struct BadFlags {
    const char* name;
    uint16_t flags;
  };
  for (const BadFlags& b : {BadFlags{"flags/avail-and-used-set", kDescAvail | kDescUsed},
                            BadFlags{"flags/avail-and-used-clear", 0},
                            BadFlags{"flags/every-bit-set", 0xffff}}) {
    out.push_back(hostile_list(
        b.name, "P2",
        "P2 (§2.8.1): a descriptor is available only when AVAIL equals the driver's wrap counter and USED its "
        "inverse; the device must not use one that is not (P3)",
        "P3", "used a descriptor whose AVAIL/USED do not say available", [flags = b.flags](Session& s) {
          const Desc d{s.tx_frame(9), s.tx_frame_len(), 0, flags};
          s.tx().add({&d, 1}, s.tx().next_avail(), true);
        }));
  }

  out.push_back(id_scenario("id/equal-to-queue-size", 64, false));
  out.push_back(id_scenario("id/0xffff", 0xffff, false));
  out.push_back(id_scenario("id/in-flight-twice", 3, true));

  for (uint32_t n : {1u, 3u}) {
    Scenario sc;
    sc.name = "used/reserved-fields/list-of-" + std::to_string(n);
    sc.rule = "P5";
    sc.statement =
        "P5 (§2.8.4, §2.8.5; §2.7.8.2): in a used descriptor NEXT is reserved and len is the bytes written into "
        "the buffer, so 0 for a buffer with nothing device-writable";
    sc.run = [n](Session& s) {
      s.tx().judge_reserved_fields(true);
      for (int i = 0; i < 4; ++i) s.tx().add(frame_list(s, n, i), s.tx().next_avail());
      s.kick(Queue::tx);
      return expect_used(s, Queue::tx, 4);
    };
    out.push_back(sc);
  }

  Scenario full;
  full.name = "order/ring-full";
  full.rule = "P4";
  full.statement =
      "P4 (§2.8.21.2): the device processes descriptors in ring order and writes used descriptors in "
      "the order it completes them, at consecutive positions";
  full.run = [](Session& s) { return laps(s, s.tx().size(), s.tx().size()); };
  out.push_back(full);
}

}  // namespace virtiosim::vhost_user::check
