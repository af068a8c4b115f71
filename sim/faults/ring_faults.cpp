#include "sim/faults/ring_faults.h"

#include "models/ring/event_idx.h"
#include "models/ring/packed_flags.h"
#include "models/ring/ring_state.h"
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

// event_idx_equality (VCML, OpenVMM #4267): interrupt only if the last
// used entry of the flush is the one the driver's event index names; the
// window (old, new] of P11 is what the spec asks.
bool last_entry_is_event(ring::RingLayout layout, const device::VhostNet::InterruptDecision& d) {
  uint16_t event;
  if (layout == ring::RingLayout::packed) {
    const ring::PackedLayout p = d.areas.packed();
    const uint32_t snapshot = d.mem.read32(p.driver_event);  // off_wrap and flags at once, as should_signal
    if (((snapshot >> 16) & 0x3) != ring::kEventFlagDesc) return d.driver_asked;
    const uint16_t off_wrap = static_cast<uint16_t>(snapshot);
    event = off_wrap & static_cast<uint16_t>(~ring::kEventWrapBit);
    if (((off_wrap & ring::kEventWrapBit) != 0) != d.after.used_wrap)  // named on the other lap
      event = static_cast<uint16_t>(event - d.areas.num);
  } else {
    event = d.mem.read16(d.areas.split().used_event_addr());
  }
  return static_cast<uint16_t>(d.after.used_idx - 1) == event;
}

// The flags field of the driver's event suppression structure (packed).
memory::StoreFault driver_event_flags(unsigned agent, const ring::QueueAreas& a) {
  const ring::PackedLayout p = a.packed();
  memory::StoreFault f{agent, p.driver_event, p.driver_event + ring::PackedLayout::event_bytes};
  f.stride = static_cast<uint32_t>(ring::PackedLayout::event_bytes);
  f.offset = static_cast<uint32_t>(p.driver_event_flags_addr() - p.driver_event);
  return f;
}

// The flags field of the driver's TX descriptors (packed).
memory::StoreFault tx_desc_flags(const driver::NetDriver::TxPublish& p) {
  const ring::PackedLayout tx = p.areas.packed();
  memory::StoreFault f{driver::NetDriver::agent_of(p.qp), tx.desc, tx.desc + ring::PackedLayout::desc_bytes(tx.num)};
  f.offset = static_cast<uint32_t>(ring::packed_off::flags);
  return f;
}

// vring_base_used_mask (QEMU virtio_queue_packed_set_last_avail_idx before
// 2023): the used half masked with 0x7ffff instead of 0x7fff.
ring::RingState read_base_with_wide_used_mask(uint32_t base) {
  ring::RingState s = ring::decode_vring_base_packed(base);
  s.last_used_idx = static_cast<uint16_t>((base >> 16) & 0x7ffff);  // bit 15: the used wrap counter
  return s;
}

void install_replay(Replay r, ring::RingLayout layout, memory::MemoryModel& mem, driver::NetDriver& drv,
                    device::VhostNet* dev) {
  switch (r) {
    case Replay::event_idx_equality:
      dev->interrupt_decision = [layout](const device::VhostNet::InterruptDecision& d) {
        return last_entry_is_event(layout, d);
      };
      break;
    case Replay::always_interrupt:
      dev->interrupt_decision = [](const device::VhostNet::InterruptDecision&) { return true; };
      break;
    case Replay::inverted_enable:
      // ENABLE (0) and DISABLE (1) swapped in every flags store of the
      // driver's event suppression (event_idx=0: no DESC to swap).
      drv.queue_placed = [&mem](uint16_t, unsigned agent, const ring::QueueAreas& a) {
        memory::StoreFault f = driver_event_flags(agent, a);
        f.xor_mask = ring::kEventFlagDisable;
        f.every = true;
        mem.arm_store_fault(f);
      };
      break;
    case Replay::chain_len_qsize_wrap: {
      // After a TX list as long as the ring, the driver's wrap counter is
      // a lap behind: every descriptor it publishes from then on carries
      // AVAIL and USED of the previous lap (a second such list would put
      // it right again; the device never takes the next list, so the
      // driver does not get that far).
      auto previous = std::move(drv.after_tx_publish);
      drv.after_tx_publish = [previous, &mem, stale = false](const driver::NetDriver::TxPublish& p) mutable {
        if (previous) previous(p);
        if (stale || p.descriptors != p.areas.num) return;
        stale = true;
        memory::StoreFault f = tx_desc_flags(p);
        f.xor_mask = ring::kDescAvail | ring::kDescUsed;
        f.every = true;
        mem.arm_store_fault(f);
      };
      break;
    }
    case Replay::vring_base_used_mask: dev->read_vring_base = read_base_with_wide_used_mask; break;
    case Replay::dpdk_event_flags_overwrite:
      // Every flags store of the driver's event suppression lands on the
      // same field of the device's structure (DPDK cd9012c3f8d3).
      drv.queue_placed = [&mem](uint16_t, unsigned agent, const ring::QueueAreas& a) {
        memory::StoreFault f = driver_event_flags(agent, a);
        f.displace = static_cast<int64_t>(a.packed().device_event - a.packed().driver_event);
        f.every = true;
        mem.arm_store_fault(f);
      };
      break;
    case Replay::dpdk_wrap_head_not_last: {
      // In a TX list that wraps the ring end, the flags stores of the
      // descriptors past the end are made after the head's (the ring
      // core's store order puts the head's last).
      auto previous = std::move(drv.before_tx_publish);
      drv.before_tx_publish = [previous, &mem](const driver::NetDriver::TxPublish& p) {
        if (previous) previous(p);
        const uint32_t before_end = p.areas.num - p.avail_idx;  // the list's descriptors up to the ring end
        if (p.descriptors <= before_end) return;
        memory::StoreFault f = tx_desc_flags(p);
        f.skip = ring::flags_stores_before(ring::RingLayout::packed, before_end, p.descriptors);
        f.count = p.descriptors - before_end;
        f.defer = true;
        mem.arm_store_fault(f);
      };
      break;
    }
    case Replay::missing_avail_rmb: mem.drop_barrier(ring::BarrierSite::device_avail_check); break;
    case Replay::none: break;
  }
}

}  // namespace

std::string device_hook_fault(const FaultPlan& plan) {
  if (plan.corrupt_used != UsedCorruption::none) return "fault.corrupt_used";
  if (plan.reset_ack_early) return "fault.reset_ack_early";
  switch (plan.replay) {
    case Replay::event_idx_equality:
    case Replay::always_interrupt:
    case Replay::vring_base_used_mask:
    case Replay::missing_avail_rmb: return "fault.replay";  // the busy poll of vhost-net's worker
    case Replay::none:
    case Replay::inverted_enable:
    case Replay::chain_len_qsize_wrap:
    case Replay::dpdk_event_flags_overwrite:
    case Replay::dpdk_wrap_head_not_last: return "";  // the driver's hooks and store faults only
  }
  return "";
}

void install(const FaultPlan& plan, ring::RingLayout layout, memory::MemoryModel& mem, driver::NetDriver& drv,
             device::VhostNet* dev, UnmappedInFlight& unmapped) {
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
    dev->tx_completion = [plan, &mem](uint16_t qp, uint64_t count, const ring::QueueAreas& tx) {
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
  if (plan.unmap_in_flight > 0) {
    // Right after add(): the list is the device's, and the driver unmaps
    // its buffer (a bug of the Linux DMA API's rules: unmap only what the
    // device has given back).
    auto previous = std::move(drv.after_tx_publish);
    drv.after_tx_publish = [previous, at = plan.unmap_in_flight, &mem, &drv,
                            &unmapped](const driver::NetDriver::TxPublish& p) {
      if (previous) previous(p);
      if (p.qp != 0 || p.packet + 1 != at) return;
      unmapped.packet = at;
      unmapped.time_ps = p.mem.clock().now_ps();
      unmapped.log_index = mem.log().total();
      unmapped.gpa.assign(p.buffer.begin(), p.buffer.end());
      unmapped.iova = drv.unmap_in_flight(p.qp, p.slot);
    };
  }
  if (plan.kick_always) drv.kick_decision = [](bool) { return true; };
  if (plan.reset_ack_early) dev->ack_reset_early = [](uint16_t) { return true; };
  install_replay(plan.replay, layout, mem, drv, dev);
}

}  // namespace virtiosim::faults
