#include "sim/config.h"

#include "models/net/virtio_net_uapi.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "models/net/frame.h"
#include "models/ring/features.h"
#include "sim/monitor.h"
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

template <class T>
Config::Param number(const std::string& key, T& field, const std::string& unit, const std::string& why,
                     double lo, double hi) {
  return {key, unit, why, fmt(lo) + ".." + fmt(hi), [&field] { return fmt(static_cast<double>(field)); },
          [&field, key, lo, hi](const std::string& v) { field = parse_number<T>(key, v, lo, hi); }, true};
}

template <class E>
Config::Param choice(const std::string& key, E& field, std::vector<E> values, const std::string& why) {
  std::string accepted;
  for (E v : values) accepted += (accepted.empty() ? "" : "|") + std::string(name(v));
  return {key, "", why, accepted, [&field] { return std::string(name(field)); },
          [&field, key, values, accepted](const std::string& v) {
            for (E e : values)
              if (v == name(e)) return void(field = e);
            throw ConfigError(key, "'" + v + "' is not one of " + accepted);
          },
          false};
}

Config::Param flag(const std::string& key, bool& field, const std::string& why) {
  return {key, "bool", why, "0|1", [&field] { return std::string(field ? "1" : "0"); },
          [&field, key](const std::string& v) {
            if (v == "1" || v == "true") field = true;
            else if (v == "0" || v == "false") field = false;
            else throw ConfigError(key, "'" + v + "' is not one of 0|1");
          },
          true};
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

// A comma-separated list whose every item must be one of `names`.
Config::Param name_list(const std::string& key, std::string& field, std::vector<std::string> names,
                        const std::string& why) {
  std::string accepted;
  for (const std::string& n : names) accepted += (accepted.empty() ? "" : "|") + n;
  return {key, "", why, "comma-separated " + accepted, [&field] { return field; },
          [&field, key, names, accepted](const std::string& v) {
            for (const std::string& item : split_list(v))
              if (std::find(names.begin(), names.end(), item) == names.end())
                throw ConfigError(key, "'" + item + "' is not one of " + accepted);
            field = v;
          },
          false};
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

// Model parameters: latencies and costs are >= 0; counts have their own floor.
template <class Params>
void add_model(std::vector<Config::Param>& out, const std::string& prefix, Params& p) {
  p.visit([&](const ParamInfo& info, auto& field) {
    using T = std::remove_reference_t<decltype(field)>;
    const std::string unit = info.unit;
    const double lo = std::is_floating_point_v<T> ? 0.0 : (unit == "bool" ? 0.0 : 1.0);
    const double hi = unit == "bool" ? 1.0 : std::is_floating_point_v<T> ? 1e12 : double(std::numeric_limits<T>::max());
    out.push_back(number(prefix + info.name, field, unit, info.why, lo, hi));
  });
}

}  // namespace

std::vector<Config::Param> Config::params() {
  using ring::RingLayout;
  std::vector<Param> p;
  p.push_back(choice("ring", ring, {RingLayout::packed, RingLayout::split}, "virtqueue layout (virtio 1.2 2.7 packed, 2.6 split)"));
  p.push_back(number("queue_size", queue_size, "entries", "descriptors per virtqueue (P1; split: power of two)", 1, 32768));
  p.push_back(number("queue_pairs", queue_pairs, "", "RX/TX queue pairs, one driver vCPU and one vhost worker each", 1, 4));
  p.push_back(number("packets", packets, "packets", "frames the driver sends in total", 1, 1e12));
  p.push_back(number("packet_bytes", packet_bytes, "bytes", "frame size (Ethernet, without FCS)", net::kMinFrameBytes, net::kMaxFrameBytes));
  p.push_back(number("packet_bytes_max", packet_bytes_max, "bytes", "if set: frame sizes uniform in [packet_bytes, packet_bytes_max], seeded", 0, net::kMaxFrameBytes));
  p.push_back(number("seed", seed, "", "seed of every random choice (frame sizes, weak-ordering schedules)", 0, 1.8e19));
  p.push_back(choice("ordering", ordering, {memory::Ordering::sc, memory::Ordering::tso, memory::Ordering::weak}, "memory ordering model of every agent"));
  p.push_back(choice("timing", timing, {memory::TimingMode::lt, memory::TimingMode::at}, "lt: loosely timed (quantum), at: wait per access (exact order)"));
  p.push_back(choice("path", path, {pci::AccessPath::vhost, pci::AccessPath::pcie}, "device access path: software vhost on a host core, or a PCIe device"));
  p.push_back(choice("metadata", metadata, {device::MetadataAccess::direct, device::MetadataAccess::uaccess, device::MetadataAccess::dma}, "how the device reads and writes ring metadata (pcie: dma)"));
  p.push_back(choice("wire", wire, {device::Wire::loopback, device::Wire::sink}, "loopback: TX comes back as RX; sink: TX is consumed at a bandwidth"));
  p.push_back(flag("event_idx", event_idx, "negotiate VIRTIO_RING_F_EVENT_IDX (P10, P11)"));
  p.push_back(flag("indirect", indirect, "negotiate VIRTIO_RING_F_INDIRECT_DESC (P7)"));
  p.push_back(flag("mrg_rxbuf", mrg_rxbuf, "negotiate VIRTIO_NET_F_MRG_RXBUF (P9)"));
  p.push_back(flag("in_order", in_order, "negotiate VIRTIO_F_IN_ORDER (P8)"));
  p.push_back(flag("notification_data", notification_data, "negotiate VIRTIO_F_NOTIFICATION_DATA (P12)"));
  p.push_back(flag("ring_reset", ring_reset, "negotiate VIRTIO_F_RING_RESET (P15): the driver may reset one queue (Linux 6.0+, vhost-net)"));
  p.push_back(number("quantum_ns", quantum_ns, "ns", "lt: time an agent may run ahead of the kernel (TLM global quantum)", 1, 1e9));
  p.push_back(number("stall_timeout_us", stall_timeout_us, "us", "no progress for this long with packets pending ends the run as a stall", 1, 1e9));
  p.push_back(number("log_capacity", log_capacity, "records", "access log ring buffer: the most recent accesses kept (4096 x 32 B stays in L2; totals are never lost)", 1, 1 << 26));
  p.push_back(number("vcd_sample_ns", vcd_sample_ns, "ns", "with --vcd: ring state is sampled this often (kicks and interrupts are counted, never missed)", 1, 1e9));
  p.push_back(name_list("fault.drop_barriers", drop_barriers, barrier_names(),
                        "fault injection: ring-core barriers not executed (SPEC_NOTES P13)"));
  p.push_back(number("fault.lose_kick_every", lose_kick_every, "", "fault injection: every Nth doorbell is lost (0: none)", 0, 1e9));
  p.push_back(number("fault.lose_irq_every", lose_irq_every, "", "fault injection: every Nth MSI-X message is lost (0: none)", 0, 1e9));
  p.push_back(number("fault.corrupt_notify_every", corrupt_notify_every, "",
                     "fault injection: every Nth doorbell's notification data names the neighbouring queue (P12)", 0, 1e9));
  p.push_back(number("fault.delay_kick_every", delay_kick_every, "", "fault injection: every Nth doorbell arrives fault.delay_ns late (0: none)", 0, 1e9));
  p.push_back(number("fault.delay_irq_every", delay_irq_every, "", "fault injection: every Nth queue interrupt arrives fault.delay_ns late (0: none)", 0, 1e9));
  p.push_back(number("fault.delay_ns", delay_ns, "ns", "fault injection: extra latency of a delayed doorbell or interrupt (those behind it wait too)", 0, 1e9));
  p.push_back(number("fault.reset_tx_at_us", reset_tx_at_us, "us",
                     "the driver resets TX queue 0 at this time with buffers in flight, takes them back and enables it again (P15); 0 = never", 0, 1e12));
  p.push_back(flag("fault.reset_ack_early", reset_ack_early,
                   "fault injection: the device acknowledges a queue reset at once and stops the queue a round later (P15)"));
  p.push_back(flag("fault.kick_always", kick_always, "fault injection: the driver kicks after every batch, ignoring the device's event suppression (P10 spurious kicks)"));
  p.push_back(choice("fault.corrupt_desc", corrupt_desc,
                     {driver::DescCorruption::none, driver::DescCorruption::unmapped_addr, driver::DescCorruption::indirect_next,
                      driver::DescCorruption::avail_encoding, driver::DescCorruption::next_on_last,
                      driver::DescCorruption::write_on_head, driver::DescCorruption::rewrite_in_flight},
                     "fault injection: a TX list published malformed (unmapped_addr, indirect_next: P7, avail_encoding: P2, next_on_last: P6.2, write_on_head: P6.3) or rewritten while the device owns it (rewrite_in_flight: P3)"));
  p.push_back(number("fault.corrupt_desc_at", corrupt_desc_at, "packet", "fault injection: which TX packet (1-based, queue pair 0)", 1, 1e12));
  p.push_back(choice("fault.corrupt_used", corrupt_used,
                     {device::UsedCorruption::none, device::UsedCorruption::next, device::UsedCorruption::encoding,
                      device::UsedCorruption::write_order, device::UsedCorruption::complete_order},
                     "fault injection: a TX used entry with NEXT (P5) or a wrong AVAIL bit (P2), written out of completion order (P4), or completed out of order (P8 with in_order)"));
  p.push_back(number("fault.corrupt_used_at", corrupt_used_at, "packet", "fault injection: which TX completion (1-based, queue pair 0)", 1, 1e12));
  p.push_back(name_list("monitor.disable", monitor_disable, rule_names(), "conformance rules switched off"));
  p.push_back(flag("monitor.strict", strict, "a conformance violation fails the run (also --strict)"));
  p.push_back(number("monitor.wakeup_grace_us", wakeup_grace_us, "us",
                     "a notification the other side asked for and has not had for this long is a lost wake-up (P10); "
                     "far above doorbell/MSI-X latencies (~1-2 us), below the stall watchdog", 1, 1e9));
  add_model(p, "memory.", memory);
  add_model(p, "pci.", this->pci);
  add_model(p, "device_memory.", device_memory);
  add_model(p, "vhost.", vhost);
  add_model(p, "driver.", this->driver);
  return p;
}

void Config::set(const std::string& key, const std::string& value) {
  for (Param& p : params())
    if (p.key == key) return p.set(value);
  throw ConfigError(key, "unknown parameter (see `virtiosim params`)");
}

std::string Config::get(const std::string& key) {
  for (Param& p : params())
    if (p.key == key) return p.get();
  throw ConfigError(key, "unknown parameter (see `virtiosim params`)");
}

void Config::validate() const {
  if (ring == ring::RingLayout::split && (queue_size & (queue_size - 1)) != 0)
    throw ConfigError("queue_size", std::to_string(queue_size) + " is not a power of two, which a split ring needs");
  if (packet_bytes_max != 0 && packet_bytes_max < packet_bytes)
    throw ConfigError("packet_bytes_max", "smaller than packet_bytes");
  if (path == pci::AccessPath::pcie && metadata != device::MetadataAccess::dma)
    throw ConfigError("metadata", "a pcie device reaches memory by dma (set metadata=dma)");
  if (path == pci::AccessPath::vhost && metadata == device::MetadataAccess::dma)
    throw ConfigError("metadata", "dma needs path=pcie");
  if (driver.tx_segments > 2) throw ConfigError("driver.tx_segments", "1 or 2");
  const bool flags_fault = corrupt_used == device::UsedCorruption::next || corrupt_used == device::UsedCorruption::encoding;
  if (ring == ring::RingLayout::split &&
      (flags_fault || corrupt_desc == driver::DescCorruption::avail_encoding || corrupt_desc == driver::DescCorruption::next_on_last))
    throw ConfigError(flags_fault ? "fault.corrupt_used" : "fault.corrupt_desc",
                      "AVAIL/USED/NEXT flag faults need ring=packed (split used elements and descriptors carry no wrap encoding)");
  if (corrupt_desc == driver::DescCorruption::write_on_head && (driver.tx_segments < 2 || indirect))
    throw ConfigError("fault.corrupt_desc", "write_on_head needs driver.tx_segments=2 and indirect=0 (a list of two in the ring)");
  if (reset_tx_at_us > 0 && !ring_reset) throw ConfigError("fault.reset_tx_at_us", "a queue reset needs ring_reset=1");
  if (!mrg_rxbuf && max_frame_bytes() > 1518)
    throw ConfigError("packet_bytes", "frames above 1518 bytes need mrg_rxbuf=1 (no big-packet mode)");
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
      const auto p = std::find_if(all.begin(), all.end(), [&](const Param& q) { return q.key == key; });
      if (p == all.end()) throw ConfigError(key, "unknown parameter (see `virtiosim params`)");
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

std::vector<ring::BarrierSite> Config::dropped_barriers() const {
  std::vector<ring::BarrierSite> out;
  for (const std::string& item : split_list(drop_barriers))
    for (unsigned i = 0; i < ring::kBarrierSites; ++i)
      if (item == ring::name(static_cast<ring::BarrierSite>(i))) out.push_back(static_cast<ring::BarrierSite>(i));
  return out;
}

std::vector<std::string> Config::disabled_rules() const { return split_list(monitor_disable); }

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
  return f;
}

}  // namespace virtiosim::sim
