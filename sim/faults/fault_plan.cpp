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

void FaultPlan::validate(ring::RingLayout layout, uint32_t tx_segments, bool indirect, bool ring_reset) const {
  using sim::ConfigError;
  const bool flags_fault = corrupt_used == UsedCorruption::next || corrupt_used == UsedCorruption::encoding;
  if (layout == ring::RingLayout::split &&
      (flags_fault || corrupt_desc == DescCorruption::avail_encoding || corrupt_desc == DescCorruption::next_on_last))
    throw ConfigError(flags_fault ? "fault.corrupt_used" : "fault.corrupt_desc",
                      "AVAIL/USED/NEXT flag faults need ring=packed (split used elements and descriptors carry no wrap encoding)");
  if (corrupt_desc == DescCorruption::write_on_head && (tx_segments < 2 || indirect))
    throw ConfigError("fault.corrupt_desc", "write_on_head needs driver.tx_segments=2 and indirect=0 (a list of two in the ring)");
  if (reset_tx_at_us > 0 && !ring_reset) throw ConfigError("fault.reset_tx_at_us", "a queue reset needs ring_reset=1");
}

std::vector<ring::BarrierSite> FaultPlan::dropped_barriers() const {
  std::vector<ring::BarrierSite> out;
  for (const std::string& item : split_names(drop_barriers.text))
    for (unsigned i = 0; i < ring::kBarrierSites; ++i)
      if (item == ring::name(static_cast<ring::BarrierSite>(i))) out.push_back(static_cast<ring::BarrierSite>(i));
  return out;
}

}  // namespace virtiosim::faults
