#include "sim/faults/fault_plan.h"

#include "sim/config_error.h"

namespace virtiosim::faults {

const char* name(DescCorruption c) {
  switch (c) {
    case DescCorruption::none: return "none";
    case DescCorruption::unmapped_addr: return "unmapped_addr";
    case DescCorruption::indirect_next: return "indirect_next";
    case DescCorruption::avail_encoding: return "avail_encoding";
    case DescCorruption::next_on_last: return "next_on_last";
    case DescCorruption::write_on_head: return "write_on_head";
    case DescCorruption::rewrite_in_flight: return "rewrite_in_flight";
  }
  return "unknown";
}

const char* name(UsedCorruption c) {
  switch (c) {
    case UsedCorruption::none: return "none";
    case UsedCorruption::next: return "next";
    case UsedCorruption::encoding: return "encoding";
    case UsedCorruption::write_order: return "write_order";
    case UsedCorruption::complete_order: return "complete_order";
  }
  return "unknown";
}

const char* name(Replay r) {
  switch (r) {
    case Replay::none: return "none";
    case Replay::event_idx_equality: return "event_idx_equality";
    case Replay::always_interrupt: return "always_interrupt";
    case Replay::inverted_enable: return "inverted_enable";
    case Replay::chain_len_qsize_wrap: return "chain_len_qsize_wrap";
    case Replay::vring_base_used_mask: return "vring_base_used_mask";
    case Replay::dpdk_event_flags_overwrite: return "dpdk_event_flags_overwrite";
    case Replay::missing_avail_rmb: return "missing_avail_rmb";
    case Replay::dpdk_wrap_head_not_last: return "dpdk_wrap_head_not_last";
  }
  return "unknown";
}

namespace {

void validate_replay(Replay r, const RunShape& run) {
  auto refuse = [r](const std::string& needs) {
    throw sim::ConfigError("fault.replay", std::string(name(r)) + " needs " + needs);
  };
  const bool packed = run.layout == ring::RingLayout::packed;
  switch (r) {
    case Replay::event_idx_equality:
      if (!run.event_idx) refuse("event_idx=1 (it compares the driver's event index)");
      break;
    case Replay::inverted_enable:
      if (!packed || run.event_idx) refuse("ring=packed and event_idx=0 (the ENABLE/DISABLE flags of a packed ring)");
      break;
    case Replay::chain_len_qsize_wrap:
      if (!packed || run.indirect || run.tx_segments != run.queue_size)
        refuse("ring=packed, indirect=0 and a TX list as long as the ring: driver.tx_segments equal to queue_size "
               "(--queue-size 2 --set driver.tx_segments=2)");
      break;
    case Replay::vring_base_used_mask:
      if (!packed || run.restart_every_us <= 0)
        refuse("ring=packed and backend restarts (vhost.restart_every_us > 0) to save and restore the ring base");
      break;
    case Replay::dpdk_event_flags_overwrite:
      if (!packed) refuse("ring=packed (the event suppression structures of a packed ring)");
      break;
    case Replay::missing_avail_rmb:
      if (packed || !run.weak_ordering || !run.busy_poll)
        refuse("ring=split, ordering=weak and vhost.busy_poll_ns > 0 (the avail idx of a split ring, kept by the "
               "busy poll's emptiness check; loads pass loads only on weakly ordered CPUs such as arm64)");
      break;
    case Replay::dpdk_wrap_head_not_last:
      if (!packed || run.indirect || run.tx_segments < 2 || run.queue_size % run.tx_segments == 0)
        refuse("ring=packed, indirect=0 and TX lists that wrap the ring end: driver.tx_segments=2 and an odd "
               "queue_size (--queue-size 255 --set driver.tx_segments=2)");
      break;
    case Replay::none:
    case Replay::always_interrupt: break;
  }
}

}  // namespace

void FaultPlan::validate(const RunShape& run) const {
  using sim::ConfigError;
  const bool flags_fault = corrupt_used == UsedCorruption::next || corrupt_used == UsedCorruption::encoding;
  if (run.layout == ring::RingLayout::split &&
      (flags_fault || corrupt_desc == DescCorruption::avail_encoding || corrupt_desc == DescCorruption::next_on_last))
    throw ConfigError(flags_fault ? "fault.corrupt_used" : "fault.corrupt_desc",
                      "AVAIL/USED/NEXT flag faults need ring=packed (split used elements and descriptors carry no wrap encoding)");
  if (corrupt_desc == DescCorruption::write_on_head && (run.tx_segments < 2 || run.indirect))
    throw ConfigError("fault.corrupt_desc", "write_on_head needs driver.tx_segments=2 and indirect=0 (a list of two in the ring)");
  if (reset_tx_at_us > 0 && !run.ring_reset) throw ConfigError("fault.reset_tx_at_us", "a queue reset needs ring_reset=1");
  if (unmap_in_flight > 0 && !run.iommu)
    throw ConfigError("fault.unmap_in_flight",
                      "an unmap is the guest IOMMU's: needs iommu=1 (without VIRTIO_F_ACCESS_PLATFORM the device uses "
                      "guest-physical addresses, which nothing unmaps)");
  validate_replay(replay, run);
}

std::vector<ring::BarrierSite> FaultPlan::dropped_barriers() const {
  std::vector<ring::BarrierSite> out;
  for (const std::string& item : split_names(drop_barriers.text))
    for (unsigned i = 0; i < ring::kBarrierSites; ++i)
      if (item == ring::name(static_cast<ring::BarrierSite>(i))) out.push_back(static_cast<ring::BarrierSite>(i));
  return out;
}

}  // namespace virtiosim::faults
