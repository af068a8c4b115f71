#include "waves/read/ring_events.h"

#include <cinttypes>
#include <cstdio>
#include <limits>

#include "support/json_text.h"

namespace virtiosim::waves {

namespace {

struct KindInfo {
  const char* name;
  const char* signal;
  const char* describe;
};

constexpr KindInfo kKinds[kEventKinds] = {
    {"avail_published", queue_signal::name(queue_signal::driver_next_avail_idx),
     "the driver made slots available (head flags written)"},
    {"kick", queue_signal::name(queue_signal::kicks), "the driver notified the device (doorbell)"},
    {"avail_seen", queue_signal::name(queue_signal::device_last_avail_idx),
     "the device took available slots (popped buffers)"},
    {"used_written", queue_signal::name(queue_signal::device_last_used_idx),
     "the device published used slots (flushed its shadow used ring)"},
    {"interrupt", queue_signal::name(queue_signal::interrupts), "the driver handled a used-buffer interrupt"},
    {"used_seen", queue_signal::name(queue_signal::driver_last_used_idx),
     "the driver took used slots back (get_used)"},
    {"driver_area_write", queue_signal::name(queue_signal::driver_area_flags),
     "the driver event suppression area changed in memory (packed: flags/off_wrap; split: avail flags/used_event)"},
    {"device_area_write", queue_signal::name(queue_signal::device_area_flags),
     "the device event suppression area changed in memory (packed: flags/off_wrap; split: used flags/avail_event)"},
};

// "rx3" / "tx0" -> virtqueue index; -1 otherwise.
long parse_queue(const std::string& s) {
  if (s.size() < 3 || (s.compare(0, 2, "rx") != 0 && s.compare(0, 2, "tx") != 0)) return -1;
  long n = 0;
  for (size_t i = 2; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9' || n > 0xffff) return -1;
    n = n * 10 + (s[i] - '0');
  }
  return 2 * n + (s[0] == 't' ? 1 : 0);
}

}  // namespace

const char* name(EventKind k) { return kKinds[static_cast<unsigned>(k)].name; }
const char* describe(EventKind k) { return kKinds[static_cast<unsigned>(k)].describe; }
const char* signal_of(EventKind k) { return kKinds[static_cast<unsigned>(k)].signal; }

std::optional<EventKind> parse_event_kind(std::string_view text) {
  for (unsigned k = 0; k < kEventKinds; ++k)
    if (text == kKinds[k].name) return static_cast<EventKind>(k);
  return std::nullopt;
}

std::string queue_name(uint16_t queue) { return (queue % 2 ? "tx" : "rx") + std::to_string(queue / 2); }

RingEventDecoder::RingEventDecoder(VcdReader& reader) : reader_(reader) {
  constexpr size_t kNone = std::numeric_limits<size_t>::max();
  const auto& vars = reader_.vars();
  // Which queue and signal each variable is: <scopes>.<rxN|txN>.<signal>.
  std::vector<std::pair<long, unsigned>> what(vars.size(), {-1, 0});
  std::vector<long> slot_of(0x20000, -1);
  for (size_t v = 0; v < vars.size(); ++v) {
    const std::string& n = vars[v].name;
    size_t start = 0;
    while (start < n.size()) {
      const size_t dot = n.find('.', start);
      if (dot == std::string::npos) break;
      const long q = parse_queue(n.substr(start, dot - start));
      if (q >= 0) {
        const std::string rest = n.substr(dot + 1);
        for (unsigned s = 0; s < kSigs; ++s)
          if (queue_signal::kTable[s].decoded && rest == queue_signal::kTable[s].name)
            what[v] = {q, s}, slot_of[q] = 0;
        break;
      }
      start = dot + 1;
    }
  }
  // Queues in virtqueue order (rx0, tx0, rx1, ...), whatever the file's order.
  for (long q = 0; q < static_cast<long>(slot_of.size()); ++q) {
    if (slot_of[q] < 0) continue;
    slot_of[q] = static_cast<long>(info_.size());
    info_.push_back({static_cast<uint16_t>(q), queue_name(static_cast<uint16_t>(q)), 0, true});
    q_.emplace_back();
  }
  if (info_.empty()) throw VcdError("no virtqueue signals (rxN./txN.driver.next_avail_idx) in this VCD");
  std::vector<std::vector<bool>> have(info_.size(), std::vector<bool>(kSigs, false));
  route_.assign(vars.size(), {kNone, 0});
  for (size_t v = 0; v < vars.size(); ++v) {
    if (what[v].first < 0) continue;
    const size_t slot = static_cast<size_t>(slot_of[what[v].first]);
    route_[v] = {slot, what[v].second};
    have[slot][what[v].second] = true;
  }
  for (size_t i = 0; i < info_.size(); ++i)
    for (unsigned s = 0; s < kSigs; ++s)
      if (queue_signal::kTable[s].decoded && !have[i][s])
        throw VcdError("queue " + info_[i].name + " has no signal '" + queue_signal::kTable[s].name +
                       "' (a VCD from an older tracer, or not virtiosim's)");
}

bool RingEventDecoder::next(RingEvent& out) {
  while (ready_.empty()) {
    if (eof_) return false;
    VcdChange c;
    if (!reader_.next(c)) {
      eof_ = true;
      close_sample();
      continue;
    }
    // The baseline is the file's first time: 0, or a triggered window's
    // start (waves/record/vcd_writer.h), whose $dumpvars are the state then.
    if (!any_) time_ = c.time, any_ = true;
    if (c.time != time_ && (dirty_ || !started_)) close_sample();
    time_ = c.time;
    const auto [slot, sig] = route_[c.var];
    if (slot == std::numeric_limits<size_t>::max()) continue;
    q_[slot].now[sig] = c.value;
    dirty_ = true;
  }
  out = ready_.front();
  ready_.pop_front();
  return true;
}

void RingEventDecoder::close_sample() {
  dirty_ = false;
  if (!started_) {
    for (Queue& q : q_) std::copy(std::begin(q.now), std::end(q.now), q.before);
    started_ = true;
    return;
  }
  const uint64_t t = last_time_ps();
  for (size_t i = 0; i < q_.size(); ++i) {
    Queue& q = q_[i];
    QueueInfo& info = info_[i];
    using namespace queue_signal;
    info.size = static_cast<uint32_t>(q.now[queue_size]);
    info.packed = q.now[packed] != 0;
    auto base = [&](EventKind k) {
      RingEvent e;
      e.time_ps = t;
      e.queue = info.queue;
      e.kind = k;
      return e;
    };
    auto index = [&](EventKind k, Sig idx, Sig wrap) {
      const uint64_t from = q.before[idx], to = q.now[idx];
      const bool fw = q.before[wrap], tw = q.now[wrap];
      if (from == to && fw == tw) return;
      RingEvent e = base(k);
      e.from = from, e.to = to, e.from_wrap = fw, e.to_wrap = tw;
      if (info.packed) {
        int64_t d = static_cast<int64_t>(to) - static_cast<int64_t>(from);
        if (fw != tw || d < 0) d += info.size;
        e.count = static_cast<uint32_t>(d);
      } else {
        e.count = static_cast<uint32_t>((to - from) & 0xffff);
      }
      ready_.push_back(e);
    };
    auto counter = [&](EventKind k, Sig s) {
      if (q.now[s] == q.before[s]) return;
      RingEvent e = base(k);
      e.from = q.before[s], e.to = q.now[s];
      e.count = static_cast<uint32_t>(q.now[s] - q.before[s]);
      ready_.push_back(e);
    };
    auto area = [&](EventKind k, Sig flags, Sig off_wrap) {
      if (q.now[flags] == q.before[flags] && q.now[off_wrap] == q.before[off_wrap]) return;
      RingEvent e = base(k);
      e.count = 1;
      e.flags = static_cast<uint32_t>(q.now[flags]);
      e.off_wrap = static_cast<uint32_t>(q.now[off_wrap]);
      ready_.push_back(e);
    };
    index(EventKind::avail_published, driver_next_avail_idx, driver_avail_wrap_counter);
    counter(EventKind::kick, kicks);
    index(EventKind::avail_seen, device_last_avail_idx, device_avail_wrap_counter);
    index(EventKind::used_written, device_last_used_idx, device_used_wrap_counter);
    counter(EventKind::interrupt, interrupts);
    index(EventKind::used_seen, driver_last_used_idx, driver_used_wrap_counter);
    area(EventKind::driver_area_write, driver_area_flags, driver_area_off_wrap);
    area(EventKind::device_area_write, device_area_flags, device_area_off_wrap);
    std::copy(std::begin(q.now), std::end(q.now), q.before);
  }
}

Summary summarize(const std::string& vcd_path) {
  VcdReader reader(vcd_path);
  RingEventDecoder dec(reader);
  Summary s;
  s.file = vcd_path;
  std::vector<size_t> slot(0x20000, 0);
  for (const QueueInfo& qi : dec.queues()) {
    slot[qi.queue] = s.queues.size();
    s.queues.emplace_back();
  }
  // An open cause: the first kick (interrupt) not yet followed by the
  // device taking slots (the driver taking used slots).
  std::vector<int64_t> kick_at(s.queues.size(), -1), irq_at(s.queues.size(), -1);
  auto delay = [](QueueSummary::Delay& d, int64_t& cause, uint64_t effect, uint64_t at_slot) {
    if (cause < 0) return;
    const uint64_t c = static_cast<uint64_t>(cause);
    if (!d.seen || effect - c > d.effect_ps - d.cause_ps) d = {true, c, effect, at_slot};
    cause = -1;
  };
  RingEvent e;
  while (dec.next(e)) {
    const size_t i = slot[e.queue];
    QueueSummary& q = s.queues[i];
    const unsigned k = static_cast<unsigned>(e.kind);
    if (!q.last_ps) q.first_ps = e.time_ps;
    q.last_ps = e.time_ps;
    ++q.events[k];
    q.units[k] += e.count;
    q.last_index[k] = e;
    if (e.kind == EventKind::kick && kick_at[i] < 0) kick_at[i] = static_cast<int64_t>(e.time_ps);
    if (e.kind == EventKind::interrupt && irq_at[i] < 0) irq_at[i] = static_cast<int64_t>(e.time_ps);
    const QueueInfo& qi = dec.queues()[i];
    const uint64_t first_slot = qi.packed || !qi.size ? e.from : e.from % qi.size;
    if (e.kind == EventKind::avail_seen) delay(q.kick_to_avail_seen, kick_at[i], e.time_ps, first_slot);
    if (e.kind == EventKind::used_seen) delay(q.interrupt_to_used_seen, irq_at[i], e.time_ps, first_slot);
  }
  for (size_t i = 0; i < s.queues.size(); ++i) s.queues[i].info = dec.queues()[i];
  s.end_ps = dec.last_time_ps();
  return s;
}

namespace {

std::string us(uint64_t ps) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f us", static_cast<double>(ps) / 1e6);
  return b;
}

}  // namespace

std::string Summary::to_text() const {
  std::string o = file + ": " + std::to_string(queues.size()) + " queue(s), waves end at " + us(end_ps) + "\n";
  char b[256];
  for (const QueueSummary& q : queues) {
    std::snprintf(b, sizeof b, "%s: %s ring, %u entries\n", q.info.name.c_str(), q.info.packed ? "packed" : "split",
                  q.info.size);
    o += b;
    for (unsigned k = 0; k < kEventKinds; ++k) {
      std::snprintf(b, sizeof b, "  %-18s %8" PRIu64 " events %10" PRIu64 " %s\n", kKinds[k].name, q.events[k],
                    q.units[k], k == 1 || k == 4 ? "notifications" : k >= 6 ? "writes" : "slots");
      o += b;
    }
    auto line = [&](const char* what, const QueueSummary::Delay& d, const char* effect) {
      if (!d.seen) return;
      std::snprintf(b, sizeof b, "  longest %s: %s (at %s, %s from slot %" PRIu64 " at %s)\n", what,
                    us(d.effect_ps - d.cause_ps).c_str(), us(d.cause_ps).c_str(), effect, d.slot,
                    us(d.effect_ps).c_str());
      o += b;
    };
    line("kick -> avail_seen", q.kick_to_avail_seen, "device took slots");
    line("interrupt -> used_seen", q.interrupt_to_used_seen, "driver took used slots");
  }
  o += std::string("not decoded: ") + kNotDecoded + "\n";
  return o;
}

std::string Summary::to_json() const {
  using json::Json;
  Json doc = {{"file", file}, {"end_ps", end_ps}, {"queues", Json::array()}};
  for (const QueueSummary& q : queues) {
    Json j = {{"queue", q.info.queue}, {"name", q.info.name}, {"layout", q.info.packed ? "packed" : "split"},
              {"size", q.info.size},   {"first_ps", q.first_ps}, {"last_ps", q.last_ps}};
    Json& events = j["events"] = Json::object();
    for (unsigned k = 0; k < kEventKinds; ++k) events[kKinds[k].name] = {{"events", q.events[k]}, {"count", q.units[k]}};
    auto delay = [&](const char* key, const QueueSummary::Delay& d) {
      j[key] = d.seen ? Json{{"cause_ps", d.cause_ps}, {"effect_ps", d.effect_ps},
                             {"delay_ps", d.effect_ps - d.cause_ps}, {"slot", d.slot}}
                      : Json(nullptr);
    };
    delay("longest_kick_to_avail_seen", q.kick_to_avail_seen);
    delay("longest_interrupt_to_used_seen", q.interrupt_to_used_seen);
    doc["queues"].push_back(std::move(j));
  }
  doc["not_decoded"] = kNotDecoded;
  return json::dump(doc, json::kOneLine);
}

}  // namespace virtiosim::waves
