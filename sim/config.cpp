#include "sim/config.h"

#include "models/net/virtio_net_uapi.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "models/net/frame.h"
#include "models/ring/features.h"
#include "models/param.h"
#include "sim/check/monitor.h"
#include "sim/device_registry.h"
#include "sim/faults/ring_faults.h"
#include "support/did_you_mean.h"
#include "support/json_text.h"

namespace virtiosim::sim {

namespace {

std::string fmt(double v) {
  std::ostringstream o;
  o.precision(10);
  o << v;
  return o.str();
}

template <class T>
T parse_number(const std::string& key, const std::string& text, double lo, double hi) {
  std::istringstream in(text);
  double v;
  in >> v;
  if (in.fail() || !in.eof() || !std::isfinite(v))
    throw ConfigError(key, "'" + text + "' is not a number");
  if (v < lo || v > hi) throw ConfigError(key, "'" + text + "' is outside " + fmt(lo) + ".." + fmt(hi));
  if constexpr (std::is_integral_v<T>) {
    if (v != std::floor(v)) throw ConfigError(key, "'" + text + "' is not a whole number");
  }
  return static_cast<T>(v);
}

// What each type of parameter accepts, and how it reads and prints.
template <class E>
struct EnumValues;
template <>
struct EnumValues<ring::RingLayout> {
  static std::vector<ring::RingLayout> all() { return {ring::RingLayout::packed, ring::RingLayout::split}; }
};
template <>
struct EnumValues<memory::Ordering> {
  static std::vector<memory::Ordering> all() { return {memory::Ordering::sc, memory::Ordering::tso, memory::Ordering::weak}; }
};
template <>
struct EnumValues<memory::TimingMode> {
  static std::vector<memory::TimingMode> all() { return {memory::TimingMode::lt, memory::TimingMode::at}; }
};
template <>
struct EnumValues<pci::AccessPath> {
  static std::vector<pci::AccessPath> all() { return {pci::AccessPath::vhost, pci::AccessPath::pcie, pci::AccessPath::user}; }
};
template <>
struct EnumValues<driver::DriverKind> {
  static std::vector<driver::DriverKind> all() { return {driver::DriverKind::linux_napi, driver::DriverKind::pmd}; }
};
template <>
struct EnumValues<driver::TxSource> {
  static std::vector<driver::TxSource> all() { return {driver::TxSource::stack, driver::TxSource::pktgen}; }
};
template <>
struct EnumValues<device::MetadataAccess> {
  static std::vector<device::MetadataAccess> all() {
    return {device::MetadataAccess::direct, device::MetadataAccess::uaccess, device::MetadataAccess::dma};
  }
};
template <>
struct EnumValues<device::Wire> {
  static std::vector<device::Wire> all() { return {device::Wire::loopback, device::Wire::sink}; }
};
template <>
struct EnumValues<faults::DescCorruption> {
  static std::vector<faults::DescCorruption> all() {
    using D = faults::DescCorruption;
    return {D::none, D::unmapped_addr, D::indirect_next, D::avail_encoding, D::next_on_last, D::write_on_head, D::rewrite_in_flight};
  }
};
template <>
struct EnumValues<faults::Replay> {
  static std::vector<faults::Replay> all() {
    using R = faults::Replay;
    return {R::none, R::event_idx_equality, R::always_interrupt, R::inverted_enable, R::chain_len_qsize_wrap,
            R::vring_base_used_mask, R::dpdk_event_flags_overwrite, R::missing_avail_rmb,
            R::dpdk_wrap_head_not_last};
  }
};
template <>
struct EnumValues<faults::UsedCorruption> {
  static std::vector<faults::UsedCorruption> all() {
    using U = faults::UsedCorruption;
    return {U::none, U::next, U::encoding, U::write_order, U::complete_order};
  }
};

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : "|") + n;
  return out;
}

std::vector<std::string> barrier_names() {
  std::vector<std::string> n;
  for (unsigned i = 0; i < ring::kBarrierSites; ++i) n.push_back(ring::name(static_cast<ring::BarrierSite>(i)));
  return n;
}

std::vector<std::string> rule_names() {
  std::vector<std::string> n;
  for (const MonitorRule& r : monitor_rules()) n.push_back(r.id);
  return n;
}

// A comma-separated list whose every item must be one of `names`.
Config::Param name_list(const std::string& key, const ParamInfo& info, std::string& field, std::vector<std::string> names) {
  const std::string accepted = joined(names);
  return {key, info.unit, info.why, "comma-separated " + accepted, [&field] { return field; },
          [&field, key, names, accepted](const std::string& v) {
            for (const std::string& item : split_names(v))
              if (std::find(names.begin(), names.end(), item) == names.end())
                throw ConfigError(key, "'" + item + "' is not one of " + accepted);
            field = v;
          },
          false};
}

// One parameter of any declared type. Numbers without a declared range are
// model costs: latencies >= 0, counts >= 1, "bool" counts 0..1.
template <class T>
Config::Param param(const std::string& key, const ParamInfo& info, T& field) {
  if constexpr (std::is_same_v<T, DeviceKind>) {
    const std::vector<std::string> kinds = device_kinds();  // as registered when the parameters are listed
    const std::string accepted = joined(kinds);
    return {key, info.unit, info.why, accepted, [&field] { return field.name; },
            [&field, key, kinds, accepted](const std::string& v) {
              if (std::find(kinds.begin(), kinds.end(), v) == kinds.end())
                throw ConfigError(key, "'" + v + "' is not one of " + accepted);
              field.name = v;
            },
            false};
  } else if constexpr (std::is_same_v<T, faults::BarrierList>) {
    return name_list(key, info, field.text, barrier_names());
  } else if constexpr (std::is_same_v<T, RuleList>) {
    return name_list(key, info, field.text, rule_names());
  } else if constexpr (std::is_same_v<T, bool>) {
    return {key, info.unit, info.why, "0|1", [&field] { return std::string(field ? "1" : "0"); },
            [&field, key](const std::string& v) {
              if (v == "1" || v == "true") field = true;
              else if (v == "0" || v == "false") field = false;
              else throw ConfigError(key, "'" + v + "' is not one of 0|1");
            },
            true};
  } else if constexpr (std::is_enum_v<T>) {
    const std::vector<T> values = EnumValues<T>::all();
    std::vector<std::string> names;
    for (T v : values) names.push_back(name(v));
    const std::string accepted = joined(names);
    return {key, info.unit, info.why, accepted, [&field] { return std::string(name(field)); },
            [&field, key, values, accepted](const std::string& v) {
              for (T e : values)
                if (v == name(e)) return void(field = e);
              throw ConfigError(key, "'" + v + "' is not one of " + accepted);
            },
            false};
  } else {
    const std::string unit = info.unit;
    double lo = info.lo, hi = info.hi;
    if (std::isnan(lo)) {
      lo = std::is_floating_point_v<T> ? 0.0 : (unit == "bool" ? 0.0 : 1.0);
      hi = unit == "bool" ? 1.0 : std::is_floating_point_v<T> ? 1e12 : double(std::numeric_limits<T>::max());
    }
    return {key, unit, info.why, fmt(lo) + ".." + fmt(hi), [&field] { return fmt(static_cast<double>(field)); },
            [&field, key, lo, hi](const std::string& v) { field = parse_number<T>(key, v, lo, hi); }, true};
  }
}

template <class Params>
void add(std::vector<Config::Param>& out, const std::string& prefix, Params& p) {
  p.visit([&](const ParamInfo& info, auto& field) { out.push_back(param(prefix + info.name, info, field)); });
}

// The run's shape, as a visitable group like the others.
struct RunParams {
  Config& c;
  template <class F>
  void visit(F&& f) {
#define VIRTIOSIM_CONFIG_VISIT(type, name, def, unit, lo, hi, why) \
  f(::virtiosim::ParamInfo{#name, unit, why, lo, hi}, c.name);
    VIRTIOSIM_RUN_PARAMS(VIRTIOSIM_CONFIG_VISIT)
#undef VIRTIOSIM_CONFIG_VISIT
  }
};

}  // namespace

std::vector<Config::Param> Config::params() {
  std::vector<Param> p;
  RunParams run{*this};
  add(p, "", run);
  add(p, "device.", this->device);
  add(p, "fault.", fault);
  add(p, "monitor.", monitor);
  add(p, "memory.", memory);
  add(p, "pci.", this->pci);
  add(p, "device_memory.", device_memory);
  add(p, "vhost.", vhost);
  add(p, "driver.", this->driver);
  add(p, "iommu.", iotlb);
  return p;
}

const std::map<std::string, std::string>& Config::renamed_keys() {
  // One name per idea: a kick goes from driver to device (Linux
  // virtqueue_kick; the write that carries it is the doorbell), an
  // interrupt from device to driver. These keys said doorbell, irq or
  // notify; they keep working until release 0.3 (README, "Renamed keys").
  static const std::map<std::string, std::string> renamed = {
      {"fault.lose_irq_every", "fault.lose_interrupt_every"},
      {"fault.delay_irq_every", "fault.delay_interrupt_every"},
      {"fault.corrupt_notify_every", "fault.corrupt_kick_data_every"},
      {"pci.vhost_doorbell_ns", "pci.vhost_kick_ns"},
      {"pci.vhost_doorbell_guest_ns", "pci.vhost_kick_guest_ns"},
      {"pci.vhost_irq_ns", "pci.vhost_interrupt_ns"},
      {"pci.pcie_doorbell_guest_ns", "pci.pcie_kick_guest_ns"},
      {"pci.pcie_irq_ns", "pci.pcie_interrupt_ns"},
      {"driver.irq_cycles", "driver.interrupt_cycles"},
  };
  return renamed;
}

Config::Param& Config::find(std::vector<Param>& all, const std::string& key) {
  const auto renamed = renamed_keys().find(key);
  const std::string& current = renamed == renamed_keys().end() ? key : renamed->second;
  std::vector<std::string> keys;
  for (Param& p : all) {
    if (p.key == current) return p;
    keys.push_back(p.key);
  }
  throw ConfigError(key, "unknown parameter" + did_you_mean(key, keys) + " (see `virtiosim params`)");
}

void Config::set(const std::string& key, const std::string& value) {
  std::vector<Param> all = params();
  find(all, key).set(value);
}

std::string Config::get(const std::string& key) {
  std::vector<Param> all = params();
  return find(all, key).get();
}

void Config::validate() const {
  if (ring == ring::RingLayout::split && (queue_size & (queue_size - 1)) != 0)
    throw ConfigError("queue_size", std::to_string(queue_size) + " is not a power of two, which a split ring needs");
  if (packet_bytes_max != 0 && packet_bytes_max < packet_bytes)
    throw ConfigError("packet_bytes_max", "smaller than packet_bytes");
  if (path == pci::AccessPath::pcie && metadata != device::MetadataAccess::dma)
    throw ConfigError("metadata", "a pcie device reaches memory by dma (set metadata=dma)");
  if (path != pci::AccessPath::pcie && metadata == device::MetadataAccess::dma)
    throw ConfigError("metadata", "dma needs path=pcie");
  const bool pmd = driver.kind == driver::DriverKind::pmd;
  if (path == pci::AccessPath::user && !pmd)
    throw ConfigError("path", "user is a host process, DPDK's virtio-user: needs driver.kind=pmd");
  if (pmd && driver.tx_source == driver::TxSource::pktgen)
    throw ConfigError("driver.tx_source", "pktgen is the Linux kernel's packet generator: needs driver.kind=linux");
  if (pmd && fault.reset_tx_at_us > 0)
    throw ConfigError("fault.reset_tx_at_us", "a queue reset mid-run is the Linux driver's (virtnet_tx_resize): needs driver.kind=linux");
  if (driver.tx_segments > 2) throw ConfigError("driver.tx_segments", "1 or 2");
  fault.validate({ring, queue_size, driver.tx_segments, indirect, ring_reset, event_idx, vhost.restart_every_us,
                  ordering == memory::Ordering::weak, vhost.busy_poll_ns > 0, iommu});
  if (const std::string key = faults::device_hook_fault(fault); !key.empty() && device.kind.name != kVhostNetKind)
    throw ConfigError(key, "acts through the vhost-net device's hook points: needs device.kind=vhost-net");
  if (!mrg_rxbuf && max_frame_bytes() > 1518)
    throw ConfigError("packet_bytes", "frames above 1518 bytes need mrg_rxbuf=1 (no big-packet mode)");
  if (iommu) {
    // The driver side of the IOMMU is the Linux DMA API on the guest's
    // virtio-net; the device side is the vhost-net model's IOTLB.
    if (path == pci::AccessPath::user)
      throw ConfigError("iommu", "path=user is a host process (virtio-user): no guest IOMMU stands between it and the device");
    if (pmd)
      throw ConfigError("iommu", "the per-buffer DMA map/unmap modelled is the Linux driver's: needs driver.kind=linux");
    if (device.kind.name != kVhostNetKind)
      throw ConfigError("iommu", "the IOTLB is the vhost-net device's: needs device.kind=vhost-net");
    if (indirect)
      throw ConfigError("iommu", "indirect tables are not mapped through the DMA API in this model: needs indirect=0");
    if (vhost.zerocopy)
      throw ConfigError("iommu", "zero-copy hands pages to the wire by guest-physical address: needs vhost.zerocopy=0");
  }
  if (mrg_rxbuf && driver.rx_buffer_bytes <= net::kNetHdrBytes)
    throw ConfigError("driver.rx_buffer_bytes", "must exceed the 12-byte virtio-net header");
}

void Config::load_json_file(const std::string& file) {
  using json::Json;
  std::ifstream in(file);
  if (!in) throw ConfigError("", "cannot read config " + file + ": cannot open it");
  Json doc;
  try {
    doc = Json::parse(in);
  } catch (const Json::exception& e) {
    throw ConfigError("", "cannot read config " + file + ": " + e.what());
  }
  if (!doc.is_object()) throw ConfigError("", "config " + file + " is not a JSON object of key: value");
  std::vector<Param> all = params();
  // A value must have its parameter's JSON type: a number (flags: also
  // true/false), or a string for a choice or a list.
  std::function<void(const Json&, const std::string&)> walk = [&](const Json& obj, const std::string& prefix) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      const std::string key = prefix + it.key();
      const Json& v = it.value();
      if (v.is_object()) {
        walk(v, key + ".");
        continue;
      }
      Param* const p = &find(all, key);  // throws ConfigError for an unknown key
      const bool is_flag = p->unit == "bool";
      if (v.is_boolean() && is_flag) p->set(v.get<bool>() ? "1" : "0");
      else if (v.is_number() && p->is_number) p->set(v.is_number_float() ? json::dump(v) : v.dump());
      else if (v.is_string() && !p->is_number) p->set(v.get<std::string>());
      else
        throw ConfigError(key, "a JSON " + json::type_name(v) + " where " +
                                   (is_flag ? "a number or true/false" : p->is_number ? "a number" : "a string") +
                                   " (" + p->accepted + ") is expected");
    }
  };
  walk(doc, "");
}

uint64_t Config::features() const {
  using ring::feature_bit;
  uint64_t f = feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_NET_F_MAC) | feature_bit(VIRTIO_NET_F_STATUS);
  if (ring == ring::RingLayout::packed) f |= feature_bit(VIRTIO_F_RING_PACKED);
  if (queue_pairs > 1) f |= feature_bit(VIRTIO_NET_F_MQ);
  if (event_idx) f |= feature_bit(VIRTIO_RING_F_EVENT_IDX);
  if (indirect) f |= feature_bit(VIRTIO_RING_F_INDIRECT_DESC);
  if (mrg_rxbuf) f |= feature_bit(VIRTIO_NET_F_MRG_RXBUF);
  if (in_order) f |= feature_bit(VIRTIO_F_IN_ORDER);
  if (notification_data) f |= feature_bit(VIRTIO_F_NOTIFICATION_DATA);
  if (ring_reset) f |= feature_bit(VIRTIO_F_RING_RESET);
  if (iommu) f |= feature_bit(VIRTIO_F_ACCESS_PLATFORM);
  return f;
}

}  // namespace virtiosim::sim
