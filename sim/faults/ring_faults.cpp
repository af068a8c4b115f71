#include "sim/faults/ring_faults.h"

#include "models/ring/packed_flags.h"
#include "models/ring/store_order.h"

namespace virtiosim::faults {

namespace {

// Before add(): the first matching store of the list's descriptors leaves
// corrupted; which one is the ring core's documented store order.
void arm_desc_fault(DescCorruption c, ring::RingLayout layout, memory::MemoryModel& mem,
                    const driver::NetDriver::TxPublish& p) {
  const ring::QueueAreas& a = p.areas;
  const bool packed = layout == ring::RingLayout::packed;
  memory::StoreFault f{driver::NetDriver::agent_of(p.qp), a.desc, a.desc + ring::desc_area_bytes(layout, a.num)};
  f.offset = static_cast<uint32_t>(packed ? ring::packed_off::flags : ring::split_off::flags);
  switch (c) {
    case DescCorruption::unmapped_addr:
      f.offset = static_cast<uint32_t>(ring::packed_off::addr);  // same offset in both layouts
      f.size = 8;
      f.and_mask = 0;
      f.or_mask = 0xdead000000000000ull;
      break;
    case DescCorruption::indirect_next: f.or_mask = ring::kDescIndirect | ring::kDescNext; break;
    case DescCorruption::avail_encoding: f.xor_mask = ring::kDescUsed; break;
    case DescCorruption::next_on_last:
      f.or_mask = ring::kDescNext;
      f.skip = ring::flags_stores_before(layout, p.descriptors - 1, p.descriptors);
      break;
    case DescCorruption::write_on_head:
      f.or_mask = ring::kDescWrite;
      f.skip = ring::flags_stores_before(layout, 0, p.descriptors);
      break;
    case DescCorruption::none:
    case DescCorruption::rewrite_in_flight: return;
  }
  mem.arm_store_fault(f);
}

// After add(): the list at `avail_idx` is the device's; the driver writes
// its first descriptor's len again, unchanged.
void rewrite_in_flight(ring::RingLayout layout, const driver::NetDriver::TxPublish& p) {
  const ring::QueueAreas& a = p.areas;
  uint64_t len_addr;
  if (layout == ring::RingLayout::packed) {
    len_addr = a.packed().len_addr(p.avail_idx);
  } else {  // split: the avail ring entry names the head
    const ring::SplitLayout s = a.split();
    len_addr = s.len_addr(p.mem.read16(s.avail_ring_addr(p.avail_idx % a.num)));
  }
  p.mem.write32(len_addr, p.mem.read32(len_addr));
}

// The next used-flags store of TX queue pair 0 leaves corrupted.
void arm_used_fault(UsedCorruption c, memory::MemoryModel& mem, const ring::QueueAreas& tx_areas) {
  const ring::PackedLayout tx = tx_areas.packed();  // flag faults need ring=packed (Config::validate)
  memory::StoreFault f{device::VhostNet::agent_of(0), tx.desc, tx.desc + ring::PackedLayout::desc_bytes(tx.num)};
  f.offset = static_cast<uint32_t>(ring::packed_off::flags);
  if (c == UsedCorruption::next) f.or_mask = ring::kDescNext;
  else f.xor_mask = ring::kDescAvail;
  mem.arm_store_fault(f);
}

}  // namespace

void install(const FaultPlan& plan, ring::RingLayout layout, memory::MemoryModel& mem, driver::NetDriver& drv,
             device::VhostNet& dev) {
  if (plan.corrupt_desc != DescCorruption::none) {
    auto chosen = [plan](const driver::NetDriver::TxPublish& p) {
      return p.qp == 0 && p.packet + 1 == plan.corrupt_desc_at;
    };
    if (plan.corrupt_desc == DescCorruption::rewrite_in_flight)
      drv.after_tx_publish = [chosen, layout](const driver::NetDriver::TxPublish& p) {
        if (chosen(p)) rewrite_in_flight(layout, p);
      };
    else
      drv.before_tx_publish = [chosen, plan, layout, &mem](const driver::NetDriver::TxPublish& p) {
        if (chosen(p)) arm_desc_fault(plan.corrupt_desc, layout, mem, p);
      };
  }
  if (plan.corrupt_used != UsedCorruption::none)
    dev.tx_completion = [plan, &mem](uint16_t qp, uint64_t count, const ring::QueueAreas& tx) {
      using How = device::VhostNet::TxCompletion;
      if (qp != 0 || count != plan.corrupt_used_at) return How::now;
      switch (plan.corrupt_used) {
        case UsedCorruption::write_order: return How::entry_later;
        case UsedCorruption::complete_order: return How::later;
        case UsedCorruption::next:
        case UsedCorruption::encoding: arm_used_fault(plan.corrupt_used, mem, tx); break;
        case UsedCorruption::none: break;
      }
      return How::now;
    };
  if (plan.kick_always) drv.kick_decision = [](bool) { return true; };
  if (plan.reset_ack_early) dev.ack_reset_early = [](uint16_t) { return true; };
}

}  // namespace virtiosim::faults
