// Indirect tables, guest addresses and memory regions, and ownership:
// what a device may read and when.
#include <cstring>

#include "transport/vhost_user/check/observe.h"

namespace virtiosim::vhost_user::check {

namespace {

using ring::feature_bit;
using ring::kDescAvail;
using ring::kDescIndirect;
using ring::kDescNext;
using ring::kDescUsed;
using ring::kDescWrite;

const char* kIndirect =
    "P7 (virtio 1.2 §2.8.7, §2.8.19): only with VIRTIO_F_INDIRECT_DESC; the table holds len/16 "
    "descriptors; inside it WRITE is the only valid flag; an indirect descriptor is not part of a NEXT list";
const char* kMemory =
    "VU5 (vhost-user.rst SET_MEM_TABLE; virtio 1.2 §2.8.21.1): every address the device uses lies in "
    "guest memory the front-end shared; anything else is refused, never dereferenced";

// An indirect table of `entries` descriptors in the buffer region, holding
// one frame: the net header and frame head in the first, 4 bytes in each
// other (with `inner_flags` on each entry).
uint64_t table(Session& s, uint32_t entries, uint16_t inner_flags = 0, uint32_t* bytes = nullptr) {
  const uint32_t tail = 4 * (entries - 1);
  const uint32_t frame = 64 + tail;
  const uint64_t gpa = s.tx_frame(11, frame);
  const uint32_t first = s.tx_frame_len(frame) - tail;
  const uint64_t t = s.alloc(16ull * entries);
  uint8_t* p = s.host(t);
  for (uint32_t i = 0; i < entries; ++i) {
    const Desc d{i == 0 ? gpa : gpa + first + 4 * (i - 1), i == 0 ? first : 4u, 0, inner_flags};
    std::memcpy(p + 16 * i, &d.addr, 8);
    std::memcpy(p + 16 * i + 8, &d.len, 4);
    std::memcpy(p + 16 * i + 12, &d.id, 2);
    std::memcpy(p + 16 * i + 14, &d.flags, 2);
  }
  if (bytes) *bytes = 16 * entries;
  return t;
}

// Two sound frames, then what `publish` makes available; judged as hostile.
std::function<Outcome(Session&)> hostile(std::function<void(Session&)> publish, const char* harm_rule = nullptr,
                                         std::string harm = {}) {
  return [publish, harm_rule, harm](Session& s) {
    send_frames(s, 2);
    publish(s);
    s.kick(Queue::tx);
    return judge_hostile(s, Queue::tx, 2, harm_rule, harm);
  };
}

void indirect(Session& s, uint64_t t, uint32_t len, uint16_t extra = 0) {
  s.tx().add_one(t, len, s.tx().next_avail(), static_cast<uint16_t>(kDescIndirect | extra));
}

Scenario needs_indirect(Scenario sc) {
  sc.setup.require |= feature_bit(VIRTIO_RING_F_INDIRECT_DESC);
  return sc;
}

}  // namespace

void add_descriptor_scenarios(std::vector<Scenario>& out) {
  // Indirect tables.
  for (uint32_t n : {1u, 3u, 16u}) {
    out.push_back(needs_indirect(make_scenario("indirect/table-of-" + std::to_string(n), "P7", kIndirect, Input::valid, {},
                                      [n](Session& s) {
                                        for (int i = 0; i < 4; ++i) {
                                          uint32_t len = 0;
                                          const uint64_t t = table(s, n, 0, &len);
                                          indirect(s, t, len);
                                        }
                                        s.kick(Queue::tx);
                                        return expect_used(s, Queue::tx, 4);
                                      })));
  }
  {
    Scenario sc = make_scenario("indirect/not-negotiated", "P7", kIndirect, Input::hostile, {}, hostile([](Session& s) {
                         uint32_t len = 0;
                         const uint64_t t = table(s, 3, 0, &len);
                         indirect(s, t, len);
                       }));
    sc.setup.decline = feature_bit(VIRTIO_RING_F_INDIRECT_DESC);
    out.push_back(sc);
  }
  out.push_back(needs_indirect(make_scenario("indirect/nested", "P7", kIndirect, Input::hostile, {}, hostile([](Session& s) {
                                      uint32_t len = 0;
                                      const uint64_t t = table(s, 2, kDescIndirect, &len);
                                      indirect(s, t, len);
                                    }))));
  out.push_back(needs_indirect(make_scenario("indirect/with-next", "P7", kIndirect, Input::hostile, {}, hostile([](Session& s) {
                                      // INDIRECT|NEXT then a plain descriptor: the QEMU livelock (CVE-2024-?; virtio-villain).
                                      uint32_t len = 0;
                                      const uint64_t t = table(s, 2, 0, &len);
                                      const std::vector<Desc> l{{t, len, 0, static_cast<uint16_t>(kDescIndirect | kDescNext)},
                                                                {s.tx_frame(3), s.tx_frame_len(), 0, 0}};
                                      s.tx().add(l, s.tx().next_avail());
                                    }))));
  out.push_back(needs_indirect(make_scenario("indirect/two-tables-via-next", "P7", kIndirect, Input::hostile, {},
                                    hostile([](Session& s) {
                                      uint32_t len = 0;
                                      const uint64_t t1 = table(s, 2, 0, &len), t2 = table(s, 2, 0, &len);
                                      const std::vector<Desc> l{{t1, len, 0, static_cast<uint16_t>(kDescIndirect | kDescNext)},
                                                                {t2, len, 0, kDescIndirect}};
                                      s.tx().add(l, s.tx().next_avail());
                                    }))));
  out.push_back(needs_indirect(make_scenario("indirect/next-inside-table", "P7", kIndirect, Input::hostile, {},
                                    hostile([](Session& s) {
                                      uint32_t len = 0;
                                      const uint64_t t = table(s, 3, kDescNext, &len);
                                      indirect(s, t, len);
                                    }))));
  out.push_back(needs_indirect(make_scenario("indirect/odd-length", "P7", kIndirect, Input::hostile, {}, hostile([](Session& s) {
                                      const uint64_t t = table(s, 3);
                                      indirect(s, t, 40);  // 2.5 descriptors
                                    }))));
  out.push_back(needs_indirect(make_scenario("indirect/zero-length", "P7", kIndirect, Input::hostile, {},
                                    hostile([](Session& s) { indirect(s, table(s, 1), 0); }))));
  out.push_back(needs_indirect(make_scenario("indirect/more-entries-than-queue", "P7", kIndirect, Input::hostile, {},
                                    hostile([](Session& s) {
                                      // 300 entries on a 256-entry ring.
                                      uint32_t len = 0;
                                      const uint64_t t = table(s, 300, 0, &len);
                                      indirect(s, t, len);
                                    }))));
  out.push_back(needs_indirect(make_scenario("indirect/write-on-indirect", "P7", kIndirect, Input::hostile, {},
                                    hostile([](Session& s) {
                                      uint32_t len = 0;
                                      const uint64_t t = table(s, 2, 0, &len);
                                      indirect(s, t, len, kDescWrite);  // reserved on the indirect descriptor
                                    }))));
  out.push_back(needs_indirect(make_scenario("indirect/table-outside-memory", "VU5", kMemory, Input::hostile, {},
                                    hostile([](Session& s) { indirect(s, 0x10000, 48); }))));
  out.push_back(needs_indirect(make_scenario("indirect/entry-outside-memory", "VU5", kMemory, Input::hostile, {},
                                    hostile([](Session& s) {
                                      uint32_t len = 0;
                                      const uint64_t t = table(s, 2, 0, &len);
                                      const uint64_t hole = 0x10000;
                                      std::memcpy(s.host(t + 16), &hole, 8);
                                      indirect(s, t, len);
                                    }))));

  // Addresses.
  auto one = [](uint64_t addr, uint32_t len) {
    return [addr, len](Session& s) { s.tx().add_one(addr, len, s.tx().next_avail()); };
  };
  out.push_back(make_scenario("address/outside-every-region", "VU5", kMemory, Input::hostile, {}, hostile(one(0x10000, 76))));
  out.push_back(make_scenario("address/zero", "VU5", kMemory, Input::hostile, {}, hostile(one(0, 76))));
  out.push_back(make_scenario("address/list-length-overflows-32-bits", "VU5", kMemory, Input::hostile, {}, hostile([](Session& s) {
                       // Two descriptors of 2^31 + 76 bytes: their sum wraps a u32 to a small number.
                       const uint64_t a = s.tx_frame(1);
                       const std::vector<Desc> l{{a, 0x80000000u + 76, 0, kDescNext}, {a, 0x80000000u, 0, 0}};
                       s.tx().add(l, s.tx().next_avail());
                     })));
  out.push_back(make_scenario("address/wraps-2^64", "VU5", kMemory, Input::hostile, {}, hostile(one(~uint64_t{0} - 15, 76))));
  out.push_back(make_scenario("address/straddles-region-end", "VU5", kMemory, Input::hostile, {}, hostile([](Session& s) {
                       GuestMemfd& m = s.buffers();
                       s.tx().add_one(m.gpa_base() + m.size() - 16, 76, s.tx().next_avail());
                     })));
  out.push_back(make_scenario("address/len-4GiB", "VU5", kMemory, Input::hostile, {},
                     hostile([](Session& s) { s.tx().add_one(s.tx_frame(1), 0xffffffff, s.tx().next_avail()); })));
  out.push_back(make_scenario("address/len-zero", "P6.1",
                     "P6.1 (§2.8.4): a buffer is its descriptors' addr/len; a zero-length TX buffer carries no frame",
                     Input::hostile, {},
                     hostile([](Session& s) { s.tx().add_one(s.tx_frame(1), 0, s.tx().next_avail()); })));
  for (uint32_t regions : {2u, 3u, 8u}) {
    Scenario sc = make_scenario("memory/" + std::to_string(regions) + "-regions", "VU5",
                       "VU5 (vhost-user.rst SET_MEM_TABLE): up to 8 regions, each an fd; rings in the first, "
                       "buffers in the last, holes between them",
                       Input::valid, {}, [](Session& s) { return round_trip(s, 64); });
    sc.setup.regions = regions;
    out.push_back(sc);
  }

  // Ownership.
  out.push_back(make_scenario("ownership/stale-wrap-not-available", "P2",
                     "P2/P3 (§2.8.1): a descriptor is available only when AVAIL equals the driver's wrap "
                     "counter and USED its inverse; one from the previous lap must not be used",
                     Input::hostile, {}, [](Session& s) {
                       Outcome o = round_trip(s, s.tx().size());  // one lap: the driver's wrap is now 0
                       if (o.verdict != Verdict::PASS) return o;
                       // Slot 0 rewritten with a fresh body but the previous lap's AVAIL/USED.
                       const Desc d{s.tx_frame(5), s.tx_frame_len(), 0, static_cast<uint16_t>(
                                        s.tx().avail_wrap() ? kDescUsed : kDescAvail)};
                       s.tx().write_desc(s.tx().next_avail(), d);
                       s.kick(Queue::tx);
                       Observed ob = observe(s, Queue::tx, 1, s.target().settle);
                       if (!ob.refusal.empty()) return reject(ob.refusal);
                       if (!ob.used.empty() || ob.violation)
                         return fail("P3", "used a descriptor from the previous lap: " + ob.text());
                       return pass("not used: " + ob.text());
                     }));
  out.push_back(make_scenario("ownership/used-slot-rewritten", "P3",
                     "P3 (§2.8.21.2): the device must not touch a descriptor after marking it used",
                     Input::hostile, {}, [](Session& s) {
                       Outcome o = round_trip(s, 4);
                       if (o.verdict != Verdict::PASS) return o;
                       // The driver owns slots 0-3 again and scribbles on their bodies, flags untouched.
                       for (uint16_t slot = 0; slot < 4; ++slot) {
                         Desc d = s.tx().read_desc(slot);
                         d.addr = 0x10000;
                         d.len = 0xffff;
                         s.tx().write_desc(slot, d);
                       }
                       s.kick(Queue::tx);
                       Observed ob = observe(s, Queue::tx, 1, s.target().settle);
                       if (!ob.refusal.empty()) return fail("P3", "refused descriptors it had already used: " + ob.refusal);
                       if (!ob.used.empty() || ob.violation) return fail("P3", "touched used slots again: " + ob.text());
                       o = round_trip(s, 4);
                       return o.verdict == Verdict::PASS ? pass("used slots left alone; traffic goes on") : o;
                     }));
  out.push_back(make_scenario("race/body-rewritten-after-publish", "P3",
                     "P3 (§2.8.21.1): the driver must not change a descriptor it made available until it is "
                     "used; a device that reads it twice must still not be led outside guest memory",
                     Input::hostile, {}, hostile([](Session& s) {
                       const uint16_t slot = s.tx().next_avail();
                       s.tx().add_one(s.tx_frame(1), s.tx_frame_len(), slot);
                       s.kick(Queue::tx);
                       Desc d = s.tx().read_desc(slot);
                       d.addr = 0x10000;  // now outside every region
                       s.tx().write_desc(slot, d);
                     })));
  out.push_back(make_scenario("race/flags-before-body", "P13",
                     "P13/P6.5 (§2.8.21.1): the driver writes the body, a write barrier, then the flags; "
                     "flags published first with a body outside guest memory must not be followed there",
                     Input::hostile, {}, hostile([](Session& s) {
                       const uint16_t slot = s.tx().next_avail();
                       const bool w = s.tx().avail_wrap();
                       const uint16_t avail = w ? kDescAvail : kDescUsed;
                       // Available at once, pointing at nothing; the real body a moment later.
                       const Desc bad{0x10000, 0xffff, slot, avail};
                       s.tx().add(std::span<const Desc>(&bad, 1), slot, true);
                       s.kick(Queue::tx);
                       s.tx().write_desc(slot, {s.tx_frame(1), s.tx_frame_len(), slot, avail});
                     })));
}

}  // namespace virtiosim::vhost_user::check
