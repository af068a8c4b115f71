// The conformance monitor (sim/check/monitor.h) fed synthetic stores, loads,
// notifications and ordering anomalies, as the platform feeds it: which
// rule an ordering anomaly is by the ring field it hit, lost wake-ups
// (P10) and the event suppression that makes a notification owed, spurious
// notifications counted and not reported, a queue used after its reset
// (P15), rules switched off by name, and the rule number the waves show.
#include <gtest/gtest.h>

#include <algorithm>

#include "testbench/sim/check/synthetic_queue.h"

namespace virtiosim::sim::testing {
namespace {

using ring::RingLayout;
using Strings = std::vector<std::string>;

constexpr uint64_t kGrace = 100000;  // ps

// Two wake-up checks `kGrace` apart: a notification owed through both is lost.
void check_wakeups_over_grace(SyntheticQueue& q) {
  q.monitor().check_wakeups(q.now_ps(), kGrace);
  q.advance_ps(kGrace);
  q.monitor().check_wakeups(q.now_ps(), kGrace);
}

// ---- ordering anomalies, classified by the field they hit ----------------

struct Anomaly {
  const char* name;
  RingLayout layout;
  unsigned reader;
  uint64_t (*addr)(const ring::QueueAreas&);
  const char* rule;  // "": not a violation
};

class OrderingAnomaly : public ::testing::TestWithParam<Anomaly> {};

TEST_P(OrderingAnomaly, IsNamedByTheFieldItHit) {
  const Anomaly& c = GetParam();
  SyntheticQueue q(c.layout);
  memory::OrderingAnomaly a;
  a.time_ps = 1234;
  a.reader = c.reader;
  a.writer = c.reader == kDriver ? kDevice : kDriver;
  a.addr = c.addr(q.areas());
  a.size = 2;
  a.value_read = 0x11;
  a.value_missed = 0x22;
  q.monitor().on_anomaly(a);
  if (!*c.rule) {
    EXPECT_EQ(q.monitor().total(), 0u) << q.rules().front();
    return;
  }
  ASSERT_EQ(q.rules(), Strings{c.rule});
  const Violation& v = q.monitor().violations().front();
  EXPECT_EQ(v.time_ps, 1234u);
  EXPECT_EQ(v.agent, c.reader);
  EXPECT_EQ(v.addr, a.addr);
  EXPECT_EQ(v.value_read, 0x11u);
  EXPECT_EQ(v.value_expected, 0x22u);
  EXPECT_EQ(v.queue, "tx0");
  EXPECT_NE(v.what.find("missing write barrier"), std::string::npos) << v.what;
  // A load that ran early is the reader's missing barrier.
  a.hoisted = true;
  q.monitor().on_anomaly(a);
  EXPECT_NE(q.monitor().violations().back().what.find("missing read barrier"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Fields, OrderingAnomaly,
    ::testing::Values(
        Anomaly{"packed_device_body", RingLayout::packed, kDevice,
                [](const ring::QueueAreas& r) { return r.packed().len_addr(2); }, "P13.avail_body"},
        Anomaly{"packed_device_flags", RingLayout::packed, kDevice,
                [](const ring::QueueAreas& r) { return r.packed().flags_addr(2); }, "P6.5"},
        Anomaly{"packed_driver_body", RingLayout::packed, kDriver,
                [](const ring::QueueAreas& r) { return r.packed().id_addr(2); }, "P13.used_body"},
        Anomaly{"packed_driver_flags", RingLayout::packed, kDriver,
                [](const ring::QueueAreas& r) { return r.packed().flags_addr(2); }, ""},
        Anomaly{"packed_driver_area", RingLayout::packed, kDevice,
                [](const ring::QueueAreas& r) { return r.packed().driver_event_off_wrap_addr(); },
                "P11.event"},
        Anomaly{"packed_device_area", RingLayout::packed, kDriver,
                [](const ring::QueueAreas& r) { return r.packed().device_event_off_wrap_addr(); },
                "P11.event"},
        Anomaly{"packed_outside", RingLayout::packed, kDevice,
                [](const ring::QueueAreas& r) { return r.desc + 0x100000; }, ""},
        Anomaly{"split_device_descriptor", RingLayout::split, kDevice,
                [](const ring::QueueAreas& r) { return r.split().len_addr(3); }, "P13.avail_body"},
        Anomaly{"split_device_avail_entry", RingLayout::split, kDevice,
                [](const ring::QueueAreas& r) { return r.split().avail_ring_addr(3); }, "P13.avail_body"},
        Anomaly{"split_driver_descriptor", RingLayout::split, kDriver,
                [](const ring::QueueAreas& r) { return r.split().len_addr(3); }, ""},
        Anomaly{"split_driver_used_elem", RingLayout::split, kDriver,
                [](const ring::QueueAreas& r) { return r.split().used_elem_len_addr(3); }, "P13.used_body"},
        Anomaly{"split_used_event", RingLayout::split, kDevice,
                [](const ring::QueueAreas& r) { return r.split().used_event_addr(); }, "P11.event"},
        Anomaly{"split_avail_event", RingLayout::split, kDriver,
                [](const ring::QueueAreas& r) { return r.split().avail_event_addr(); }, "P11.event"}),
    [](const ::testing::TestParamInfo<Anomaly>& i) { return std::string(i.param.name); });

// ---- P10: lost wake-ups ------------------------------------------------------

// Event suppression areas are zero at reset: ENABLE (packed), no
// NO_NOTIFY / NO_INTERRUPT (split): both sides ask for notifications.
TEST(MonitorPacked, KickTheDeviceAskedForAndNeverGotIsALostKick) {
  SyntheticQueue q(RingLayout::packed);
  q.packed_avail(0, 0, true);
  check_wakeups_over_grace(q);
  ASSERT_EQ(q.rules(), Strings{"P10.lost_kick"});
  const Violation& v = q.monitor().violations().front();
  EXPECT_EQ(v.agent, kDriver);
  EXPECT_EQ(v.addr, q.areas().device);
  // Reported once, however long it stays owed.
  q.advance_ps(10 * kGrace);
  q.monitor().check_wakeups(q.now_ps(), kGrace);
  EXPECT_EQ(q.monitor().total(), 1u);
}

TEST(MonitorPacked, NoKickIsOwedWhenDeliveredDisabledOrSeen) {
  SyntheticQueue delivered(RingLayout::packed);
  delivered.packed_avail(0, 0, true);
  delivered.event(Event::kick_sent);
  delivered.event(Event::kick_delivered);
  check_wakeups_over_grace(delivered);
  EXPECT_EQ(delivered.monitor().total(), 0u) << delivered.rules().front();
  EXPECT_EQ(delivered.monitor().spurious_kicks(), 0u);
  EXPECT_EQ(delivered.monitor().notifications(), 1u);

  SyntheticQueue disabled(RingLayout::packed);
  disabled.packed_event(true, ring::kEventFlagDisable);
  disabled.packed_avail(0, 0, true);
  check_wakeups_over_grace(disabled);
  EXPECT_EQ(disabled.monitor().total(), 0u) << disabled.rules().front();

  // A polling device read the next slot and found it not yet available:
  // it has seen everything published before it.
  SyntheticQueue polled(RingLayout::packed);
  polled.packed_avail(0, 0, true);
  polled.load16(kDevice, polled.packed().flags_addr(1));
  check_wakeups_over_grace(polled);
  EXPECT_EQ(polled.monitor().total(), 0u) << polled.rules().front();
}

// DESC: the device asks for a kick once the driver makes slot 2 available.
TEST(MonitorPacked, DescEventOwesAKickOnlyPastItsSlot) {
  SyntheticQueue q(RingLayout::packed);
  q.packed_event(true, ring::kEventFlagDesc, 2 | 1u << 15);  // off 2, wrap 1
  q.packed_avail(0, 0, true);
  q.packed_avail(1, 1, true);
  check_wakeups_over_grace(q);
  EXPECT_EQ(q.monitor().total(), 0u) << q.rules().front();
  q.packed_avail(2, 2, true);
  check_wakeups_over_grace(q);
  EXPECT_EQ(q.rules(), Strings{"P10.lost_kick"});
}

TEST(MonitorPacked, InterruptTheDriverAskedForAndNeverGotIsALostInterrupt) {
  SyntheticQueue q(RingLayout::packed);
  q.packed_avail(0, 0, true);
  q.event(Event::kick_sent);
  q.event(Event::kick_delivered);
  q.complete(0);
  q.packed_used(0, 0, true);
  check_wakeups_over_grace(q);
  ASSERT_EQ(q.rules(), Strings{"P10.lost_interrupt"});
  EXPECT_EQ(q.monitor().violations().front().agent, kDevice);
  EXPECT_EQ(q.monitor().violations().front().addr, q.areas().driver);

  SyntheticQueue signalled(RingLayout::packed);
  signalled.packed_avail(0, 0, true);
  signalled.event(Event::kick_sent);
  signalled.event(Event::kick_delivered);
  signalled.complete(0);
  signalled.packed_used(0, 0, true);
  signalled.event(Event::interrupt_sent);
  signalled.event(Event::interrupt_delivered);
  check_wakeups_over_grace(signalled);
  EXPECT_EQ(signalled.monitor().total(), 0u) << signalled.rules().front();
}

// A kick the device's event suppression did not ask for is counted as
// spurious, not reported.
TEST(MonitorPacked, SpuriousKickIsCountedNotReported) {
  SyntheticQueue q(RingLayout::packed);
  q.packed_event(true, ring::kEventFlagDisable);
  q.packed_avail(0, 0, true);
  q.event(Event::kick_sent);
  EXPECT_EQ(q.monitor().spurious_kicks(), 1u);
  EXPECT_EQ(q.monitor().notifications(), 1u);
  EXPECT_EQ(q.monitor().total(), 0u);
}

TEST(MonitorSplit, KickOwedUnlessTheDeviceSetNoNotify) {
  SyntheticQueue q(RingLayout::split);
  q.split_desc(0);
  q.split_avail(0, 0);
  check_wakeups_over_grace(q);
  EXPECT_EQ(q.rules(), Strings{"P10.lost_kick"});

  SyntheticQueue no_notify(RingLayout::split);
  no_notify.store(kDevice, no_notify.split().used_flags_addr(), VRING_USED_F_NO_NOTIFY, 2);
  no_notify.split_desc(0);
  no_notify.split_avail(0, 0);
  check_wakeups_over_grace(no_notify);
  no_notify.event(Event::kick_sent);
  EXPECT_EQ(no_notify.monitor().total(), 0u) << no_notify.rules().front();
  EXPECT_EQ(no_notify.monitor().spurious_kicks(), 1u);
}

// EVENT_IDX: used_event names the used index the driver wants an interrupt after.
TEST(MonitorSplit, EventIdxOwesAnInterruptOnlyPastUsedEvent) {
  SyntheticQueue q(RingLayout::split, ring::feature_bit(VIRTIO_RING_F_EVENT_IDX));
  q.store(kDriver, q.split().used_event_addr(), 1, 2);  // after the second used entry
  for (uint16_t i = 0; i < 2; ++i) {
    q.split_desc(i);
    q.split_avail(i, i);
  }
  q.event(Event::kick_sent);
  q.event(Event::kick_delivered);
  q.complete(0);
  q.split_used(0, 0);
  check_wakeups_over_grace(q);
  EXPECT_EQ(q.monitor().total(), 0u) << q.rules().front();
  q.complete(1);
  q.split_used(1, 1);
  check_wakeups_over_grace(q);
  EXPECT_EQ(q.rules(), Strings{"P10.lost_interrupt"});
}

// ---- P15: a queue used after its reset was acknowledged ----------------------

TEST(MonitorPacked, DeviceWritingAResetQueueIsP15OnceThenAFreshRing) {
  SyntheticQueue q(RingLayout::packed);
  q.packed_avail(0, 0, true);
  q.event(Event::queue_reset);
  q.complete(0);
  q.packed_used(0, 0, true);  // three stores, one report
  q.load16(kDevice, q.packed().flags_addr(1));
  ASSERT_EQ(q.rules(), Strings{"P15"});
  EXPECT_EQ(q.monitor().violations().front().agent, kDevice);
  EXPECT_EQ(q.monitor().violations().front().addr, q.packed().id_addr(0));
  // Enabled again: the ring starts over at slot 0, wrap 1, nothing in flight.
  q.event(Event::queue_enabled);
  q.packed_avail(0, 0, true);
  q.complete(0);
  q.packed_used(0, 0, true);
  EXPECT_EQ(q.monitor().total(), 1u) << q.rules().back();
}

TEST(MonitorSplit, InterruptForAResetQueueIsP15) {
  SyntheticQueue q(RingLayout::split);
  q.event(Event::queue_reset);
  q.event(Event::interrupt_sent);
  ASSERT_EQ(q.rules(), Strings{"P15"});
  EXPECT_EQ(q.monitor().violations().front().addr, q.areas().driver);
}

// ---- configuration and what the report and waves show ------------------------

// A rule switched off by name is neither reported nor counted; the others are.
TEST(Monitor, RuleSwitchedOffIsNotReported) {
  SyntheticQueue q(RingLayout::packed, 0, {"P5"});
  q.packed_avail(0, 0, true);
  q.complete(0);
  q.packed_used(0, 0, true, ring::kDescNext);
  EXPECT_EQ(q.monitor().total(), 0u);
  EXPECT_EQ(q.monitor().count("P5"), 0u);
  q.packed_avail(1, 1, true);
  q.store(kDriver, q.packed().len_addr(1), 0, 4);
  EXPECT_EQ(q.rules(), Strings{"P3"});
  EXPECT_EQ(q.monitor().count("P3"), 1u);
}

// monitor.rule in the waves: 1 + the rule's index in monitor_rules(), one
// past the list for a ring error it does not name; each step of the count
// is named by the first violation it adds, with that violation's time.
TEST(Monitor, FirstUnshownNumbersTheFirstViolationSinceTheWavesShowedOne) {
  SyntheticQueue q(RingLayout::packed);
  EXPECT_EQ(q.monitor().first_unshown().first, 0u);
  q.packed_avail(0, 0, true);
  q.packed_used(0, 5, true);  // P5
  const uint64_t p5_ps = q.now_ps();
  const std::vector<MonitorRule>& rules = monitor_rules();
  const auto p5 = std::find_if(rules.begin(), rules.end(),
                               [](const MonitorRule& r) { return r.id == std::string("P5"); });
  ASSERT_NE(p5, rules.end());
  const uint32_t p5_number = static_cast<uint32_t>(p5 - rules.begin() + 1);
  EXPECT_EQ(q.monitor().first_unshown().first, p5_number);
  // A second violation before the waves showed the first: still the first.
  q.monitor().report("ring.something_new", "a ring error outside the list", q.now_ps() + 1000, kDevice);
  EXPECT_EQ(q.monitor().first_unshown(), std::make_pair(p5_number, p5_ps));
  q.monitor().mark_shown();
  q.monitor().report("ring.something_newer", "a ring error outside the list", q.now_ps() + 2000, kDevice);
  EXPECT_EQ(q.monitor().first_unshown(), std::make_pair(static_cast<uint32_t>(rules.size() + 1), q.now_ps() + 2000));
  EXPECT_EQ(q.monitor().total(), 3u);
}

// Every rule id is listed once (the report's by_rule and the waves' rule
// numbers rely on it).
TEST(Monitor, RuleIdsAreUnique) {
  std::vector<std::string> ids;
  for (const MonitorRule& r : monitor_rules()) ids.push_back(r.id);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
}

}  // namespace
}  // namespace virtiosim::sim::testing

namespace virtiosim::sim::testing {
namespace {

// ---- P10: suppression ignored, disabled waits; VU2 ---------------------------

// A notification sent right after the sender read DISABLE is named, once
// per queue and direction; one sent after reading ENABLE is not, even if
// the other side disabled in between (a race: counted as spurious only).
TEST(MonitorPacked, InterruptAfterReadingDisableIsNamedOnce) {
  SyntheticQueue q(RingLayout::packed);
  q.packed_event(false, ring::kEventFlagDisable);
  q.drain_all(kDriver);
  q.packed_avail(0, 0, true);
  q.packed_used(0, 0, true);
  q.drain_all(kDriver), q.drain_all(kDevice);
  EXPECT_EQ(q.load16(kDevice, q.packed().driver_event_flags_addr()), ring::kEventFlagDisable);
  q.event(Event::interrupt_sent);
  q.event(Event::interrupt_sent);
  ASSERT_EQ(q.rules(), Strings{"P10.ignored_suppression"});
  EXPECT_EQ(q.monitor().violations().front().agent, kDevice);
  EXPECT_EQ(q.monitor().spurious_interrupts(), 2u);

  SyntheticQueue race(RingLayout::packed);
  race.packed_avail(0, 0, true);
  race.packed_used(0, 0, true);
  race.drain_all(kDriver), race.drain_all(kDevice);
  EXPECT_EQ(race.load16(kDevice, race.packed().driver_event_flags_addr()), ring::kEventFlagEnable);
  race.packed_event(false, ring::kEventFlagDisable);
  race.drain_all(kDriver);
  race.event(Event::interrupt_sent);
  EXPECT_EQ(race.monitor().total(), 0u) << race.rules().front();
  EXPECT_EQ(race.monitor().spurious_interrupts(), 1u);
}

// At a stall: the driver looked at its next used slot, found nothing,
// and a used buffer came while its own suppression says DISABLE.
TEST(MonitorPacked, DriverWaitingWithInterruptsDisabledIsNamedAtAStall) {
  SyntheticQueue q(RingLayout::packed);
  q.packed_avail(0, 0, true);
  q.drain_all(kDriver);
  q.load16(kDriver, q.packed().flags_addr(0));  // nothing used yet: it goes to wait
  q.packed_event(false, ring::kEventFlagDisable);
  q.packed_used(0, 0, true);
  q.drain_all(kDriver), q.drain_all(kDevice);
  q.monitor().diagnose_stall(q.now_ps());
  ASSERT_EQ(q.rules(), Strings{"P10.disabled_wait"});
  EXPECT_EQ(q.monitor().violations().front().agent, kDriver);

  SyntheticQueue enabled(RingLayout::packed);  // the same with ENABLE: a lost interrupt, not this
  enabled.packed_avail(0, 0, true);
  enabled.drain_all(kDriver);
  enabled.load16(kDriver, enabled.packed().flags_addr(0));
  enabled.packed_used(0, 0, true);
  enabled.drain_all(kDevice);
  enabled.monitor().diagnose_stall(enabled.now_ps());
  EXPECT_EQ(enabled.monitor().total(), 0u) << enabled.rules().front();
}

// P10.area_owner: each side writes only its own event suppression
// structure; a store into the other side's is named once per side.
TEST(MonitorPacked, StoreIntoTheOtherSidesEventAreaIsAreaOwner) {
  SyntheticQueue q(RingLayout::packed);
  q.store(kDriver, q.packed().device_event, 0, 4);  // the driver setting its ring up: its own
  q.packed_avail(0, 0, true);
  q.packed_event(false, ring::kEventFlagDisable);  // each its own: nothing
  q.packed_event(true, ring::kEventFlagEnable);
  EXPECT_EQ(q.monitor().total(), 0u) << q.rules().front();
  q.store(kDriver, q.packed().device_event_flags_addr(), ring::kEventFlagDisable, 2);
  q.store(kDriver, q.packed().device_event_flags_addr(), ring::kEventFlagEnable, 2);  // the same bug
  ASSERT_EQ(q.rules(), Strings{"P10.area_owner"});
  EXPECT_EQ(q.monitor().violations().front().agent, kDriver);
  EXPECT_EQ(q.monitor().violations().front().addr, q.packed().device_event_flags_addr());
  q.store(kDevice, q.packed().driver_event_off_wrap_addr(), 3, 2);
  EXPECT_EQ(q.rules(), (Strings{"P10.area_owner", "P10.area_owner"}));
  EXPECT_EQ(q.monitor().violations().back().agent, kDevice);
}

// VU2: the restored position must be what the saved ring base means.
TEST(MonitorPacked, RestoreFromAnotherPositionThanTheBaseIsVu2) {
  SyntheticQueue q(RingLayout::packed);
  const ring::RingState s{3, false, 2, true};
  q.monitor().on_ring_restored("tx0", kDevice, 0x1000, ring::encode_vring_base_packed(s), s, 5);
  EXPECT_EQ(q.monitor().total(), 0u);
  ring::RingState wide = s;
  wide.last_used_idx |= 0x8000;  // the used wrap counter read into the index
  q.monitor().on_ring_restored("tx0", kDevice, 0x1000, ring::encode_vring_base_packed(s), wide, 5);
  ASSERT_EQ(q.rules(), Strings{"VU2"});
  EXPECT_EQ(q.monitor().violations().front().value_read, 0x8002u);
  EXPECT_EQ(q.monitor().violations().front().value_expected, 2u);
}

}  // namespace
}  // namespace virtiosim::sim::testing

namespace virtiosim::sim::testing {
namespace {

// ---- dma.unmap_in_flight: the driver unmaps what the device holds -------------

constexpr uint64_t kAccessPlatform = uint64_t{1} << VIRTIO_F_ACCESS_PLATFORM;
constexpr uint64_t kPage = 4096;  // the IOMMU unmaps whole pages

TEST(MonitorPacked, UnmapOfABufferInFlightIsNamedOnceItIsUsedItIsNot) {
  SyntheticQueue q(RingLayout::packed, kAccessPlatform);
  q.packed_avail(0, 0, true);                                // names kBufferAddr, 1500 bytes
  q.monitor().on_dma_unmap(kBufferAddr + kPage, kPage, 10);  // a neighbouring page: not the buffer's
  EXPECT_EQ(q.monitor().total(), 0u);
  q.monitor().on_dma_unmap(kBufferAddr, kPage, 20);
  ASSERT_EQ(q.rules(), Strings{"dma.unmap_in_flight"});
  const Violation& v = q.monitor().violations().front();
  EXPECT_EQ(v.agent, kDriver);
  EXPECT_EQ(v.queue, "tx0");
  EXPECT_EQ(v.addr, kBufferAddr);
  EXPECT_EQ(v.time_ps, 20u);
  q.complete(0);
  q.packed_used(0, 0, true);
  q.monitor().on_dma_unmap(kBufferAddr, kPage, 30);  // given back: the driver's to unmap
  EXPECT_EQ(q.monitor().total(), 1u);
}

// Made available in the driver's program order, its flags store still in
// the store buffer: the device may see it any moment, so it is held.
TEST(MonitorPacked, UnmapOfABufferPublishedButNotYetVisibleIsNamed) {
  SyntheticQueue q(RingLayout::packed, kAccessPlatform);
  q.packed_avail(0, 0, true);
  q.complete(0);
  q.packed_used(0, 0, true);
  q.issue(kDriver, q.packed().desc_addr(1), kBufferAddr + 0x10000, 8);
  q.issue(kDriver, q.packed().len_addr(1), 64, 4);
  q.issue(kDriver, q.packed().id_addr(1), 1, 2);
  q.monitor().on_dma_unmap(kBufferAddr + 0x10000, kPage, 10);  // body written, flags not yet: not given
  EXPECT_EQ(q.monitor().total(), 0u);
  q.issue(kDriver, q.packed().flags_addr(1), ring::packed_avail_flags(true), 2);
  q.monitor().on_dma_unmap(kBufferAddr + 0x10000, kPage, 20);
  EXPECT_EQ(q.rules(), Strings{"dma.unmap_in_flight"});
}

TEST(MonitorSplit, UnmapOfAChainsSecondDescriptorIsNamed) {
  SyntheticQueue q(RingLayout::split, kAccessPlatform);
  q.split_desc(2, ring::kDescNext, 3);
  q.split_desc(3);
  q.split_avail(0, 2);
  q.monitor().on_dma_unmap(kBufferAddr + 3 * 0x1000, kPage, 10);
  ASSERT_EQ(q.rules(), Strings{"dma.unmap_in_flight"});
  EXPECT_NE(q.monitor().violations().front().what.find("buffer id 2"), std::string::npos);
  q.complete(2);
  q.split_used(0, 2);
  q.monitor().on_dma_unmap(kBufferAddr + 2 * 0x1000, kPage, 20);
  EXPECT_EQ(q.monitor().total(), 1u);
}

// Without ACCESS_PLATFORM descriptors hold guest-physical addresses, which
// no unmap concerns; a queue in reset holds nothing (P15: the driver takes
// its buffers back there).
TEST(Monitor, UnmapIsNotNamedWithoutAccessPlatformOrInAResetQueue) {
  SyntheticQueue plain(RingLayout::packed);
  plain.packed_avail(0, 0, true);
  plain.monitor().on_dma_unmap(kBufferAddr, kPage, 10);
  EXPECT_EQ(plain.monitor().total(), 0u);
  SyntheticQueue reset(RingLayout::split, kAccessPlatform);
  reset.split_desc(0);
  reset.split_avail(0, 0);
  reset.event(Event::queue_reset);
  reset.monitor().on_dma_unmap(kBufferAddr, kPage, 10);
  EXPECT_EQ(reset.monitor().total(), 0u);
}

}  // namespace
}  // namespace virtiosim::sim::testing
