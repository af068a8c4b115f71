#include "transport/pci/virtio_pci.h"

#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#include <algorithm>
#include <cstring>

namespace virtiosim::pci {

using sc_core::SC_NS;
using sc_core::sc_time;

const char* name(AccessPath p) {
  switch (p) {
    case AccessPath::vhost: return "vhost";
    case AccessPath::pcie: return "pcie";
    case AccessPath::user: return "user";
  }
  return "?";
}

bool parse_access_path(const std::string& text, AccessPath& out) {
  for (AccessPath p : {AccessPath::vhost, AccessPath::pcie, AccessPath::user})
    if (text == name(p)) return out = p, true;
  return false;
}

namespace {
constexpr uint8_t kIsrQueue = 0x1;  // ISR bit 0: queue interrupt (virtio 1.2 4.1.4.5)
constexpr uint8_t kCapCommon = 0x40, kCapNotify = 0x50, kCapIsr = 0x64, kCapDevice = 0x74,
                  kCapMsix = 0x84;

template <class T>
void put(std::vector<uint8_t>& b, size_t off, T v) {
  std::memcpy(b.data() + off, &v, sizeof v);  // PCI config space is little-endian, as the host
}

uint64_t get_le(const uint8_t* p, unsigned len) {
  uint64_t v = 0;
  std::memcpy(&v, p, len);
  return v;
}
}  // namespace

VirtioPciFunction::VirtioPciFunction(sc_core::sc_module_name n, VirtioDeviceIf& device, AccessPath path,
                                     PciParams p)
    : sc_module(n), mmio("mmio"), config("config"), msi("msi"), device_(device), path_(path), p_(p) {
  mmio.register_b_transport(this, &VirtioPciFunction::b_transport_mmio);
  config.register_b_transport(this, &VirtioPciFunction::b_transport_config);
  queues_.resize(device_.num_queues());
  queue_reset_.assign(queues_.size(), QueueReset::none);
  for (QueueConfig& q : queues_) q.size = device_.max_queue_size();
  const unsigned vectors = device_.num_queues() + 1u;  // one per queue + configuration changes
  msix_.resize(vectors);
  build_config_space();
  SC_METHOD(deliver_doorbells);
  sensitive << doorbell_ev_;
  dont_initialize();
  SC_METHOD(deliver_interrupts);
  sensitive << irq_ev_;
  dont_initialize();
}

void VirtioPciFunction::build_config_space() {
  cfg_.assign(256, 0);
  put<uint16_t>(cfg_, PCI_VENDOR_ID, kVirtioPciVendorId);
  put<uint16_t>(cfg_, PCI_DEVICE_ID, static_cast<uint16_t>(kVirtioPciModernDeviceBase + device_.device_id()));
  put<uint16_t>(cfg_, PCI_STATUS, PCI_STATUS_CAP_LIST);
  cfg_[PCI_REVISION_ID] = 1;  // modern device
  cfg_[PCI_CLASS_DEVICE + 1] = 0x02;  // network controller
  put<uint32_t>(cfg_, PCI_BASE_ADDRESS_0, static_cast<uint32_t>(PciLayout::bar0) | PCI_BASE_ADDRESS_MEM_TYPE_64);
  put<uint32_t>(cfg_, PCI_BASE_ADDRESS_1, static_cast<uint32_t>(PciLayout::bar0 >> 32));
  put<uint32_t>(cfg_, PCI_BASE_ADDRESS_2, static_cast<uint32_t>(PciLayout::bar1) | PCI_BASE_ADDRESS_MEM_TYPE_64);
  put<uint32_t>(cfg_, PCI_BASE_ADDRESS_3, static_cast<uint32_t>(PciLayout::bar1 >> 32));
  cfg_[PCI_CAPABILITY_LIST] = kCapCommon;

  auto vendor_cap = [&](uint8_t at, uint8_t next, uint8_t len, uint8_t type, uint32_t off, uint32_t length) {
    cfg_[at + VIRTIO_PCI_CAP_VNDR] = PCI_CAP_ID_VNDR;
    cfg_[at + VIRTIO_PCI_CAP_NEXT] = next;
    cfg_[at + VIRTIO_PCI_CAP_LEN] = len;
    cfg_[at + VIRTIO_PCI_CAP_CFG_TYPE] = type;
    cfg_[at + VIRTIO_PCI_CAP_BAR] = 0;  // BAR0 (config space BAR index, 64-bit BAR0 spans 0x10-0x17)
    put<uint32_t>(cfg_, at + VIRTIO_PCI_CAP_OFFSET, off);
    put<uint32_t>(cfg_, at + VIRTIO_PCI_CAP_LENGTH, length);
  };
  vendor_cap(kCapCommon, kCapNotify, sizeof(virtio_pci_cap), VIRTIO_PCI_CAP_COMMON_CFG,
             PciLayout::common_off, PciLayout::common_len);
  vendor_cap(kCapNotify, kCapIsr, sizeof(virtio_pci_notify_cap), VIRTIO_PCI_CAP_NOTIFY_CFG,
             PciLayout::notify_off, PciLayout::notify_multiplier * device_.num_queues());
  put<uint32_t>(cfg_, kCapNotify + sizeof(virtio_pci_cap), PciLayout::notify_multiplier);
  vendor_cap(kCapIsr, kCapDevice, sizeof(virtio_pci_cap), VIRTIO_PCI_CAP_ISR_CFG, PciLayout::isr_off,
             PciLayout::isr_len);
  vendor_cap(kCapDevice, kCapMsix, sizeof(virtio_pci_cap), VIRTIO_PCI_CAP_DEVICE_CFG,
             PciLayout::device_off, PciLayout::device_len);
  cfg_[kCapMsix + PCI_CAP_LIST_ID] = PCI_CAP_ID_MSIX;
  cfg_[kCapMsix + PCI_CAP_LIST_NEXT] = 0;
  put<uint16_t>(cfg_, kCapMsix + PCI_MSIX_FLAGS, static_cast<uint16_t>(msix_.size() - 1));
  put<uint32_t>(cfg_, kCapMsix + PCI_MSIX_TABLE, PciLayout::msix_table_off | 2);  // BIR 2: BAR1 at 0x18
  put<uint32_t>(cfg_, kCapMsix + PCI_MSIX_PBA, PciLayout::msix_pba_off | 2);
}

// What each path costs, from the parameters, in one place. A host process
// (user) is signalled through the same eventfd mechanism as a guest's
// irqfd: vhost_interrupt_ns covers both.
VirtioPciFunction::PathCosts VirtioPciFunction::path_costs() const {
  switch (path_) {
    case AccessPath::vhost:
      return {p_.vhost_mmio_ns, p_.vhost_mmio_ns, p_.vhost_kick_guest_ns, p_.vhost_kick_ns, p_.vhost_interrupt_ns};
    case AccessPath::pcie:
      return {p_.pcie_mmio_read_ns, p_.pcie_mmio_write_ns, p_.pcie_kick_guest_ns, p_.pcie_mmio_write_ns,
              p_.pcie_interrupt_ns};
    case AccessPath::user:
      return {p_.user_config_ns, p_.user_config_ns, p_.user_kick_caller_ns, p_.user_kick_ns, p_.vhost_interrupt_ns};
  }
  return {};
}

double VirtioPciFunction::mmio_ns(bool write) const {
  const PathCosts c = path_costs();
  return write ? c.mmio_write_ns : c.mmio_read_ns;
}
double VirtioPciFunction::doorbell_guest_ns() const { return path_costs().kick_caller_ns; }
double VirtioPciFunction::doorbell_arrive_ns() const { return path_costs().kick_arrive_ns; }
double VirtioPciFunction::interrupt_ns() const { return path_costs().interrupt_ns; }

bool VirtioPciFunction::needs_reset() const { return status_ & VIRTIO_CONFIG_S_NEEDS_RESET; }

void VirtioPciFunction::set_needs_reset() {
  status_ |= VIRTIO_CONFIG_S_NEEDS_RESET;
  ++config_generation_;
  isr_ |= VIRTIO_PCI_ISR_CONFIG;
  if (msix_config_ != VIRTIO_MSI_NO_VECTOR && msix_config_ < msix_.size()) {
    const sc_time at = sc_core::sc_time_stamp();
    irqs_.emplace_back(at, msix_config_);
    irq_ev_.notify(sc_core::SC_ZERO_TIME);
  }
}

void VirtioPciFunction::b_transport_config(tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
  const uint64_t off = t.get_address();
  const unsigned len = t.get_data_length();
  if (off + len > cfg_.size() || len == 0 || len > 4) {
    t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  if (t.is_read()) {
    std::memcpy(t.get_data_ptr(), cfg_.data() + off, len);
  } else if (t.is_write() && off >= kCapMsix + PCI_MSIX_FLAGS && off < kCapMsix + PCI_MSIX_FLAGS + 2) {
    // Only the MSI-X enable and function-mask bits are writable here.
    uint16_t flags;
    std::memcpy(&flags, cfg_.data() + kCapMsix + PCI_MSIX_FLAGS, 2);
    const unsigned at = static_cast<unsigned>(off - kCapMsix - PCI_MSIX_FLAGS);  // 0 or 1
    uint8_t* p = reinterpret_cast<uint8_t*>(&flags) + at;
    std::memcpy(p, t.get_data_ptr(), std::min<unsigned>(len, 2 - at));  // nothing past the register
    const uint16_t keep = static_cast<uint16_t>(msix_.size() - 1);
    flags = static_cast<uint16_t>((flags & (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL)) | keep);
    put<uint16_t>(cfg_, kCapMsix + PCI_MSIX_FLAGS, flags);
    const bool was_enabled = msix_enabled_;
    msix_enabled_ = (flags & PCI_MSIX_FLAGS_ENABLE) && !(flags & PCI_MSIX_FLAGS_MASKALL);
    if (msix_enabled_ && !was_enabled) {
      // Function mask cleared (PCI 6.8.2.3): pending messages of unmasked
      // vectors are sent now, as when a vector's own mask is cleared.
      for (uint16_t v = 0; v < msix_.size(); ++v) {
        if (msix_[v].pending && !(msix_[v].control & PCI_MSIX_ENTRY_CTRL_MASKBIT)) {
          msix_[v].pending = false;
          send_msix(v);
        }
      }
    }
  }
  delay += sc_time(mmio_ns(t.is_write()), SC_NS);
  t.set_response_status(tlm::TLM_OK_RESPONSE);
}

void VirtioPciFunction::b_transport_mmio(tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
  const uint64_t addr = t.get_address();
  const unsigned len = t.get_data_length();
  uint8_t* data = t.get_data_ptr();
  const bool write = t.is_write();
  t.set_response_status(tlm::TLM_OK_RESPONSE);
  if (len == 0 || len > 8) {
    t.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
    return;
  }
  ++(write ? stats_.mmio_writes : stats_.mmio_reads);

  if (addr >= PciLayout::bar0 && addr + len <= PciLayout::bar0 + PciLayout::bar0_len) {
    const uint32_t off = static_cast<uint32_t>(addr - PciLayout::bar0);
    if (off >= PciLayout::notify_off) {
      const uint32_t queue = (off - PciLayout::notify_off) / PciLayout::notify_multiplier;
      if (!write || queue >= queues_.size()) {
        t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
      }
      // The doorbell: the vCPU pays the exit / posted write, the device
      // hears about it after the path's latency.
      delay += sc_time(doorbell_guest_ns(), SC_NS);
      sc_time at = sc_core::sc_time_stamp() + delay + sc_time(doorbell_arrive_ns(), SC_NS);
      ++stats_.kicks;
      if (event_) event_(Event::kick_sent, static_cast<uint16_t>(queue));
      if (!doorbells_.empty()) at = std::max(at, doorbells_.back().at);  // posted writes stay in order
      doorbells_.push_back({at, static_cast<uint16_t>(queue), static_cast<uint32_t>(get_le(data, len))});
      doorbell_ev_.notify(at - sc_core::sc_time_stamp());
      return;
    }
    delay += sc_time(mmio_ns(write), SC_NS);
    if (off >= PciLayout::common_off && off + len <= PciLayout::common_off + PciLayout::common_len) {
      if (write) write_common(off - PciLayout::common_off, len, get_le(data, len));
      else {
        const uint64_t v = read_common(off - PciLayout::common_off, len);
        std::memcpy(data, &v, len);
      }
    } else if (off >= PciLayout::isr_off && off < PciLayout::isr_off + PciLayout::isr_len) {
      if (!write) {  // a write is ignored, and leaves the initiator's data as it was
        std::memset(data, 0, len);
        data[0] = isr_, isr_ = 0;  // reading ISR clears it
      }
    } else if (off >= PciLayout::device_off && off + len <= PciLayout::device_off + PciLayout::device_len) {
      if (!write) {  // read-only: a write is ignored, and leaves the initiator's data as it was
        const std::vector<uint8_t> cs = device_.config_space();
        std::memset(data, 0, len);
        const uint32_t o = off - PciLayout::device_off;
        if (o < cs.size()) std::memcpy(data, cs.data() + o, std::min<size_t>(len, cs.size() - o));
      }
    } else {
      t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    }
    return;
  }
  if (addr >= PciLayout::bar1 && addr + len <= PciLayout::bar1 + PciLayout::bar1_len) {
    delay += sc_time(mmio_ns(write), SC_NS);
    const uint32_t off = static_cast<uint32_t>(addr - PciLayout::bar1);
    const uint32_t table_end =
        PciLayout::msix_table_off + static_cast<uint32_t>(msix_.size()) * PCI_MSIX_ENTRY_SIZE;
    if (off < table_end) {
      // Software uses aligned DWORD or QWORD accesses (PCI 6.8.2): a QWORD
      // covers two fields, taken a DWORD at a time.
      for (uint32_t done = 0; done < len && off + done < table_end; done += 4) {
        MsixEntry& e = msix_[(off + done) / PCI_MSIX_ENTRY_SIZE];
        const uint32_t field = (off + done) % PCI_MSIX_ENTRY_SIZE;
        const unsigned n = std::min(len - done, 4u);
        if (write) {
          const uint64_t v = get_le(data + done, n);
          if (field == PCI_MSIX_ENTRY_LOWER_ADDR) e.addr = (e.addr & ~0xffffffffull) | (v & 0xffffffff);
          else if (field == PCI_MSIX_ENTRY_UPPER_ADDR) e.addr = (e.addr & 0xffffffff) | (v << 32);
          else if (field == PCI_MSIX_ENTRY_DATA) e.data = static_cast<uint32_t>(v);
          else if (field == PCI_MSIX_ENTRY_VECTOR_CTRL) {
            e.control = static_cast<uint32_t>(v);
            const auto vector = static_cast<uint16_t>(&e - msix_.data());
            if (msix_enabled_ && !(e.control & PCI_MSIX_ENTRY_CTRL_MASKBIT) && e.pending) {
              e.pending = false;
              send_msix(vector);  // unmasking delivers what was held (not while the function is masked)
            }
          }
        } else {
          uint64_t v = field == PCI_MSIX_ENTRY_LOWER_ADDR ? (e.addr & 0xffffffff)
                       : field == PCI_MSIX_ENTRY_UPPER_ADDR ? (e.addr >> 32)
                       : field == PCI_MSIX_ENTRY_DATA       ? e.data
                                                            : e.control;
          std::memcpy(data + done, &v, n);
        }
      }
    } else if (off >= PciLayout::msix_pba_off && !write) {
      // PBA bit N is bit N of the array: the access reads from its offset on.
      const uint32_t first = (off - PciLayout::msix_pba_off) * 8;
      uint64_t pba = 0;
      for (size_t i = first; i < msix_.size() && i < first + 64u; ++i)
        pba |= uint64_t{msix_[i].pending} << (i - first);
      std::memcpy(data, &pba, len);
    }
    return;
  }
  t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
}

uint64_t VirtioPciFunction::read_common(uint32_t off, unsigned len) {
  const QueueConfig* q = queue_select_ < queues_.size() ? &queues_[queue_select_] : nullptr;
  const uint64_t features = device_.device_features();
  uint64_t v = 0;
  switch (off) {
    case VIRTIO_PCI_COMMON_DFSELECT: v = device_feature_select_; break;
    case VIRTIO_PCI_COMMON_DF: v = device_feature_select_ < 2 ? (features >> (32 * device_feature_select_)) & 0xffffffff : 0; break;
    case VIRTIO_PCI_COMMON_GFSELECT: v = driver_feature_select_; break;
    case VIRTIO_PCI_COMMON_GF: v = driver_feature_select_ < 2 ? (driver_features_ >> (32 * driver_feature_select_)) & 0xffffffff : 0; break;
    case VIRTIO_PCI_COMMON_MSIX: v = msix_config_; break;
    case VIRTIO_PCI_COMMON_NUMQ: v = queues_.size(); break;
    case VIRTIO_PCI_COMMON_STATUS: v = status_; break;
    case VIRTIO_PCI_COMMON_CFGGENERATION: v = config_generation_; break;
    case VIRTIO_PCI_COMMON_Q_SELECT: v = queue_select_; break;
    case VIRTIO_PCI_COMMON_Q_SIZE: v = q ? q->size : 0; break;  // 0: no such queue
    case VIRTIO_PCI_COMMON_Q_MSIX: v = q ? q->msix_vector : VIRTIO_MSI_NO_VECTOR; break;
    case VIRTIO_PCI_COMMON_Q_ENABLE: v = q ? q->enabled : 0; break;
    case VIRTIO_PCI_COMMON_Q_NOFF: v = queue_select_; break;  // doorbell i at notify_off + i * multiplier
    case VIRTIO_PCI_COMMON_Q_DESCLO: v = q ? q->desc & 0xffffffff : 0; break;
    case VIRTIO_PCI_COMMON_Q_DESCHI: v = q ? q->desc >> 32 : 0; break;
    case VIRTIO_PCI_COMMON_Q_AVAILLO: v = q ? q->driver & 0xffffffff : 0; break;
    case VIRTIO_PCI_COMMON_Q_AVAILHI: v = q ? q->driver >> 32 : 0; break;
    case VIRTIO_PCI_COMMON_Q_USEDLO: v = q ? q->device & 0xffffffff : 0; break;
    case VIRTIO_PCI_COMMON_Q_USEDHI: v = q ? q->device >> 32 : 0; break;
    case VIRTIO_PCI_COMMON_Q_RESET: v = q && queue_reset_[queue_select_] == QueueReset::in_progress; break;
    default: v = 0; break;  // queue_notify_data: not offered
  }
  return len < 8 ? v & ((uint64_t{1} << (8 * len)) - 1) : v;
}

void VirtioPciFunction::write_common(uint32_t off, unsigned, uint64_t v) {
  QueueConfig* q = queue_select_ < queues_.size() ? &queues_[queue_select_] : nullptr;
  // Queue fields may change only while the queue is disabled (4.1.4.3.2):
  // before DRIVER_OK, or after the queue's reset completed (P15).
  const bool q_writable = q && !q->enabled &&
                          (!(status_ & VIRTIO_CONFIG_S_DRIVER_OK) || queue_reset_[queue_select_] == QueueReset::done);
  auto set_lo = [](uint64_t& f, uint64_t x) { f = (f & ~0xffffffffull) | (x & 0xffffffff); };
  auto set_hi = [](uint64_t& f, uint64_t x) { f = (f & 0xffffffff) | (x << 32); };
  switch (off) {
    case VIRTIO_PCI_COMMON_DFSELECT: device_feature_select_ = static_cast<uint32_t>(v); break;
    case VIRTIO_PCI_COMMON_GFSELECT: driver_feature_select_ = static_cast<uint32_t>(v); break;
    case VIRTIO_PCI_COMMON_GF:
      if (driver_feature_select_ < 2 && !(status_ & VIRTIO_CONFIG_S_FEATURES_OK)) {
        const unsigned shift = 32 * driver_feature_select_;
        driver_features_ = (driver_features_ & ~(0xffffffffull << shift)) | ((v & 0xffffffff) << shift);
      }
      break;
    case VIRTIO_PCI_COMMON_MSIX:  // 4.1.5.1.2.1: a failed mapping reads NO_VECTOR
      msix_config_ = v < msix_.size() ? static_cast<uint16_t>(v) : VIRTIO_MSI_NO_VECTOR;
      break;
    case VIRTIO_PCI_COMMON_STATUS: write_status(static_cast<uint8_t>(v)); break;
    case VIRTIO_PCI_COMMON_Q_SELECT: queue_select_ = static_cast<uint16_t>(v); break;
    case VIRTIO_PCI_COMMON_Q_SIZE:
      // A smaller size is allowed; packed rings need not be a power of two (P1).
      if (q_writable && v >= 1 && v <= device_.max_queue_size()) q->size = static_cast<uint16_t>(v);
      break;
    case VIRTIO_PCI_COMMON_Q_MSIX:
      if (q) q->msix_vector = v < msix_.size() ? static_cast<uint16_t>(v) : VIRTIO_MSI_NO_VECTOR;
      break;
    case VIRTIO_PCI_COMMON_Q_ENABLE:
      if (!q_writable || v != 1) break;
      q->enabled = true;
      if (queue_reset_[queue_select_] == QueueReset::done) {  // re-enabled after a reset
        queue_reset_[queue_select_] = QueueReset::none;
        if (event_) event_(Event::queue_enabled, queue_select_);
        device_.enable_queue(queue_select_, *q);
      }
      break;
    case VIRTIO_PCI_COMMON_Q_RESET:
      if (q && v == 1 && q->enabled && (status_ & VIRTIO_CONFIG_S_DRIVER_OK) &&
          (driver_features_ & (uint64_t{1} << VIRTIO_F_RING_RESET))) {
        q->enabled = false;  // the driver reads queue_enable as 0 once the reset is done
        queue_reset_[queue_select_] = QueueReset::in_progress;
        device_.reset_queue(queue_select_);
      }
      break;
    case VIRTIO_PCI_COMMON_Q_DESCLO: if (q_writable) set_lo(q->desc, v); break;
    case VIRTIO_PCI_COMMON_Q_DESCHI: if (q_writable) set_hi(q->desc, v); break;
    case VIRTIO_PCI_COMMON_Q_AVAILLO: if (q_writable) set_lo(q->driver, v); break;
    case VIRTIO_PCI_COMMON_Q_AVAILHI: if (q_writable) set_hi(q->driver, v); break;
    case VIRTIO_PCI_COMMON_Q_USEDLO: if (q_writable) set_lo(q->device, v); break;
    case VIRTIO_PCI_COMMON_Q_USEDHI: if (q_writable) set_hi(q->device, v); break;
    default: break;  // read-only fields ignore writes
  }
}

void VirtioPciFunction::write_status(uint8_t v) {
  if (v == 0) {  // device reset (4.1.4.3.2): everything back to its initial state
    status_ = 0;
    driver_features_ = 0;
    msix_config_ = VIRTIO_MSI_NO_VECTOR;  // 4.1.5.1.2.1: every event unmapped on reset
    for (QueueConfig& q : queues_) q = QueueConfig{device_.max_queue_size()};
    std::fill(queue_reset_.begin(), queue_reset_.end(), QueueReset::none);
    device_.reset();
    return;
  }
  if ((v & VIRTIO_CONFIG_S_FEATURES_OK) && !(status_ & VIRTIO_CONFIG_S_FEATURES_OK) &&
      (driver_features_ & ~device_.device_features()) != 0) {
    v &= static_cast<uint8_t>(~VIRTIO_CONFIG_S_FEATURES_OK);  // refuse: the driver re-reads and fails
  }
  const bool driver_ok_now = (v & VIRTIO_CONFIG_S_DRIVER_OK) && !(status_ & VIRTIO_CONFIG_S_DRIVER_OK);
  status_ = static_cast<uint8_t>(v | (status_ & VIRTIO_CONFIG_S_NEEDS_RESET));
  if (driver_ok_now) device_.driver_ok(driver_features_, queues_);
}

void VirtioPciFunction::queue_reset_done(uint16_t queue) {
  if (queue >= queues_.size() || queue_reset_[queue] != QueueReset::in_progress) return;
  queue_reset_[queue] = QueueReset::done;
  if (event_) event_(Event::queue_reset, queue);
}

void VirtioPciFunction::deliver_doorbells() {
  const sc_time now = sc_core::sc_time_stamp();
  while (!doorbells_.empty() && doorbells_.front().at <= now) {
    const Doorbell d = doorbells_.front();
    doorbells_.pop_front();
    if (!(status_ & VIRTIO_CONFIG_S_DRIVER_OK)) continue;
    device_.notify(d.queue, d.data);
  }
  if (!doorbells_.empty()) doorbell_ev_.notify(doorbells_.front().at - now);
}

void VirtioPciFunction::signal_queue(uint16_t queue) {
  if (queue >= queues_.size()) return;
  isr_ |= kIsrQueue;
  const uint16_t vector = queues_[queue].msix_vector;
  if (vector == VIRTIO_MSI_NO_VECTOR) return;  // INTx is not modeled: the driver must set a vector
  sc_time at = sc_core::sc_time_stamp() + sc_time(interrupt_ns(), SC_NS);
  if (!irqs_.empty()) at = std::max(at, irqs_.back().first);  // messages stay in order
  irqs_.emplace_back(at, vector);
  irq_ev_.notify(at - sc_core::sc_time_stamp());
}

void VirtioPciFunction::deliver_interrupts() {
  const sc_time now = sc_core::sc_time_stamp();
  while (!irqs_.empty() && irqs_.front().first <= now) {
    const uint16_t vector = irqs_.front().second;
    irqs_.pop_front();
    MsixEntry& e = msix_[vector];
    if (!msix_enabled_ || (e.control & PCI_MSIX_ENTRY_CTRL_MASKBIT)) {
      e.pending = true;  // held in the PBA until unmasked
      ++stats_.interrupts_masked;
      continue;
    }
    send_msix(vector);
  }
  if (!irqs_.empty()) irq_ev_.notify(irqs_.front().first - now);
}

void VirtioPciFunction::send_msix(uint16_t vector) {
  ++stats_.interrupts;
  if (event_)
    for (uint16_t q = 0; q < queues_.size(); ++q)
      if (queues_[q].msix_vector == vector) event_(Event::interrupt_delivered, q);
  msi->msi(vector);
}

}  // namespace virtiosim::pci
