// _virtiosim: the private compiled half of the `virtiosim` Python package.
// The ring core in-process over a Python buffer (no SystemC), and the wave
// reader and ring event decoder of waves/. The public package
// (python/virtiosim) adds defaults, docstrings and readable errors.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/ring/chain.h"
#include "models/ring/errors.h"
#include "models/ring/features.h"
#include "models/ring/indirect_pool.h"
#include "models/ring/layout.h"
#include "models/ring/native_memory.h"
#include "models/ring/packed_device.h"
#include "models/ring/packed_driver.h"
#include "models/ring/ring_state.h"
#include "models/ring/split_device.h"
#include "models/ring/split_driver.h"
#include "waves/record/gtkw.h"
#include "waves/read/ring_events.h"
#include "waves/read/vcd_reader.h"
#include "waves/read/view_window.h"

namespace py = pybind11;
using namespace virtiosim;
using namespace virtiosim::ring;

namespace {

// ---------------------------------------------------------------- errors --

// RingError (base, a RuntimeError) and one subclass per kind, named after
// the kind in CamelCase (bad_used_id -> BadUsedId).
// Owned by the module's attributes; plain pointers so nothing is released
// after the interpreter has gone.
PyObject* g_ring_error = nullptr;
std::vector<PyObject*> g_kind_errors;

std::string camel(const char* snake) {
  std::string o;
  bool up = true;
  for (const char* p = snake; *p; ++p) {
    if (*p == '_') up = true;
    else o += up ? static_cast<char>(std::toupper(*p)) : *p, up = false;
  }
  return o;
}

[[noreturn]] void raise(RingError e, const std::string& context = "") {
  const py::object type = py::reinterpret_borrow<py::object>(g_kind_errors[static_cast<unsigned>(e)]);
  std::string msg = std::string(name(e)) + ": " + describe(e);
  if (!context.empty()) msg += " (" + context + ")";
  py::object exc = type(msg);
  exc.attr("error") = name(e);
  PyErr_SetObject(type.ptr(), exc.ptr());
  throw py::error_already_set();
}

void check(RingError e) {
  if (e != RingError::ok) raise(e);
}

// ---------------------------------------------------------------- memory --

// Guest memory over a writable, C-contiguous Python buffer. Holding the
// buffer view keeps a bytearray from being resized under the ring.
struct Memory {
  py::object owner;
  Py_buffer view{};
  NativeMemory mem;

  Memory(py::object buffer, uint64_t gpa_base) : owner(std::move(buffer)) {
    if (PyObject_GetBuffer(owner.ptr(), &view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) != 0)
      throw py::error_already_set();
    mem = NativeMemory(view.buf, static_cast<uint64_t>(view.len), gpa_base);
  }
  ~Memory() { PyBuffer_Release(&view); }
  Memory(const Memory&) = delete;
  Memory& operator=(const Memory&) = delete;

  void need(uint64_t gpa, uint64_t n) const {
    if (!mem.maps(gpa, n)) raise(RingError::address_unmapped, "guest address " + std::to_string(gpa));
  }
};
using MemoryPtr = std::shared_ptr<Memory>;

Features features_of(uint64_t bits) { return Features{bits}; }

std::vector<Segment> segments(const std::vector<std::pair<uint64_t, uint32_t>>& v) {
  std::vector<Segment> s;
  s.reserve(v.size());
  for (const auto& [a, l] : v) s.push_back({a, l});
  return s;
}

// Setup errors (bad queue size, layout outside memory) come as RingConfigError.
template <class F>
auto guarded(F&& f) {
  try {
    return f();
  } catch (const RingConfigError& e) {
    raise(e.error(), e.what());
  }
}

// ----------------------------------------------------------- ring sides --

template <class Ring, class Layout>
struct Driver {
  MemoryPtr m;
  std::unique_ptr<IndirectPool> pool;
  std::unique_ptr<Ring> r;

  Driver(MemoryPtr mem, const Layout& l, uint64_t features, std::optional<std::tuple<uint64_t, uint32_t, uint32_t>> ind,
         uint32_t threshold)
      : m(std::move(mem)) {
    DriverOptions o;
    if (ind) {
      const auto [base, slots, entries] = *ind;
      m->need(base, IndirectPool::bytes(slots, entries));
      pool = std::make_unique<IndirectPool>(base, slots, entries);
      o.indirect_pool = pool.get();
    }
    o.indirect_threshold = threshold;
    r = guarded([&] { return std::make_unique<Ring>(m->mem, l, features_of(features), o); });
  }
};

template <class Ring, class Layout>
struct Device {
  MemoryPtr m;
  std::unique_ptr<Ring> r;
  Device(MemoryPtr mem, const Layout& l, uint64_t features, uint32_t max_segments) : m(std::move(mem)) {
    DeviceOptions o;
    o.max_segments = max_segments;
    r = guarded([&] { return std::make_unique<Ring>(m->mem, l, features_of(features), o); });
  }
};

// Every counter a side's stats declare, and the ring errors it counted.
template <class Stats>
py::dict stats_dict(const Stats& s) {
  py::dict d;
  s.visit([&](const char* name, uint64_t v) { d[name] = v; });
  py::dict e;
  s.errors.visit([&](const char* name, uint64_t n) { e[name] = n; });
  d["errors"] = e;
  return d;
}

// Methods both layouts share, driver side.
template <class D>
void bind_driver_common(py::class_<D>& c) {
  c.def("add",
        [](D& d, const std::vector<std::pair<uint64_t, uint32_t>>& readable,
           const std::vector<std::pair<uint64_t, uint32_t>>& writable, uint64_t token) {
          const auto out = segments(readable), in = segments(writable);
          check(d.r->add(out, in, token));
        },
        py::arg("readable"), py::arg("writable"), py::arg("token"))
      .def("kick_prepare", [](D& d) { return d.r->kick_prepare(); })
      .def("notification_data", [](D& d, uint16_t vqn) { return d.r->notification_data(vqn); }, py::arg("vqn"))
      .def("get_used",
           [](D& d) -> py::object {
             UsedBuffer u;
             const Result<bool> r = d.r->get_used(u);
             check(r.error);
             if (!r.value) return py::none();
             return py::make_tuple(u.token, u.len);
           })
      .def("disable_cb", [](D& d) { d.r->disable_cb(); })
      .def("enable_cb", [](D& d) { return d.r->enable_cb(); })
      .def("enable_cb_delayed", [](D& d) { return d.r->enable_cb_delayed(); })
      .def("detach_unused", [](D& d) { return d.r->detach_unused(); })
      .def_property_readonly("num_free", [](const D& d) { return d.r->num_free(); })
      .def_property_readonly("num", [](const D& d) { return d.r->num(); })
      .def_property_readonly("broken", [](const D& d) { return d.r->broken(); })
      .def_property_readonly("last_error", [](const D& d) { return std::string(name(d.r->last_error())); })
      .def_property_readonly("last_used_idx", [](const D& d) { return d.r->last_used_idx(); })
      .def_property_readonly("stats", [](const D& d) { return stats_dict(d.r->stats()); });
}

template <class V>
void bind_device_common(py::class_<V>& c) {
  c.def("has_available", [](V& v) { return v.r->has_available(); })
      .def("pop",
           [](V& v) -> py::object {
             Chain ch;
             const Result<bool> r = v.r->pop(ch);
             check(r.error);
             if (!r.value) return py::none();
             std::vector<std::pair<uint64_t, uint32_t>> rd, wr;
             for (const Segment& s : ch.readable) rd.emplace_back(s.addr, s.len);
             for (const Segment& s : ch.writable) wr.emplace_back(s.addr, s.len);
             return py::make_tuple(ch.id, ch.count, ch.indirect, rd, wr, ch.readable_bytes, ch.writable_bytes);
           })
      .def("push_used",
           [](V& v, uint16_t id, uint32_t len, uint16_t count, bool writable, bool complete) {
             check(v.r->push_used(UsedElem{id, len, count, writable, complete}));
           },
           py::arg("id"), py::arg("len"), py::arg("count"), py::arg("writable"), py::arg("complete"))
      .def("discard",
           [](V& v, uint16_t count) {
             Chain ch;
             ch.count = count;
             v.r->discard(ch);
           },
           py::arg("count"))
      .def("flush", [](V& v) { check(v.r->flush()); })
      .def("should_signal", [](V& v) { return v.r->should_signal(); })
      .def("disable_notifications", [](V& v) { v.r->disable_notifications(); })
      .def("enable_notifications", [](V& v) { return v.r->enable_notifications(); })
      .def("state",
           [](const V& v) {
             const RingState s = v.r->state();
             return py::make_tuple(s.last_avail_idx, s.avail_wrap_counter, s.last_used_idx, s.used_wrap_counter);
           })
      .def("set_state",
           [](V& v, uint16_t avail, bool avail_wrap, uint16_t used, bool used_wrap) {
             check(v.r->set_state(RingState{avail, avail_wrap, used, used_wrap}));
           },
           py::arg("last_avail_idx"), py::arg("avail_wrap_counter"), py::arg("last_used_idx"),
           py::arg("used_wrap_counter"))
      .def("reset", [](V& v) { v.r->reset(); })
      .def_property_readonly("pending_used", [](const V& v) { return v.r->pending_used(); })
      .def_property_readonly("broken", [](const V& v) { return v.r->broken(); })
      .def_property_readonly("last_error", [](const V& v) { return std::string(name(v.r->last_error())); })
      .def_property_readonly("last_avail_idx", [](const V& v) { return v.r->last_avail_idx(); })
      .def_property_readonly("last_used_idx", [](const V& v) { return v.r->last_used_idx(); })
      .def_property_readonly("stats", [](const V& v) { return stats_dict(v.r->stats()); });
}

using PDrv = Driver<PackedDriver<NativeMemory>, PackedLayout>;
using PDev = Device<PackedDevice<NativeMemory>, PackedLayout>;
using SDrv = Driver<SplitDriver<NativeMemory>, SplitLayout>;
using SDev = Device<SplitDevice<NativeMemory>, SplitLayout>;

// ------------------------------------------------------ reading the ring --

uint16_t rd16(Memory& m, uint64_t gpa) { return m.need(gpa, 2), m.mem.read16(gpa); }
uint32_t rd32(Memory& m, uint64_t gpa) { return m.need(gpa, 4), m.mem.read32(gpa); }
uint64_t rd64(Memory& m, uint64_t gpa) { return m.need(gpa, 8), m.mem.read64(gpa); }

// ----------------------------------------------------------------- waves --

py::list decode_events(const std::string& path, long queue, const std::string& kind) {
  std::optional<waves::EventKind> want;
  if (!kind.empty()) {
    want = waves::parse_event_kind(kind);
    if (!want) throw py::value_error("unknown event kind '" + kind + "'");
  }
  waves::VcdReader reader(path);
  waves::RingEventDecoder dec(reader);
  py::list out;
  waves::RingEvent e;
  while (dec.next(e)) {
    if ((queue >= 0 && e.queue != queue) || (want && e.kind != *want)) continue;
    out.append(py::make_tuple(e.time_ps, e.queue, waves::name(e.kind), e.count, e.from, e.from_wrap, e.to,
                              e.to_wrap, e.flags, e.off_wrap));
  }
  return out;
}

py::dict vcd_values(const std::string& path, const std::vector<std::string>& names) {
  waves::VcdReader reader(path);
  std::vector<long> slot(reader.vars().size(), -1);
  std::vector<std::pair<std::vector<uint64_t>, std::vector<uint64_t>>> cols(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    const long v = reader.find(names[i]);
    if (v < 0) throw py::key_error("no signal '" + names[i] + "' in " + path);
    slot[static_cast<size_t>(v)] = static_cast<long>(i);
  }
  waves::VcdChange c;
  const double unit = reader.unit_ps();
  while (reader.next(c)) {
    const long s = slot[c.var];
    if (s < 0) continue;
    auto& [t, v] = cols[static_cast<size_t>(s)];
    const uint64_t ps = static_cast<uint64_t>(static_cast<double>(c.time) * unit);
    if (!t.empty() && t.back() == ps) v.back() = c.value;  // last value of a time step wins
    else t.push_back(ps), v.push_back(c.value);
  }
  py::dict d;
  for (size_t i = 0; i < names.size(); ++i) d[py::str(names[i])] = py::make_tuple(cols[i].first, cols[i].second);
  return d;
}

}  // namespace

PYBIND11_MODULE(_virtiosim, m) {
  m.doc() = "virtiosim's compiled core: the ring in-process and the wave decoder (use the virtiosim package)";

  // Errors.
  g_ring_error = PyErr_NewExceptionWithDoc(
      "virtiosim._virtiosim.RingError", "A typed error of the ring core (models/ring/errors.h); .error is its name.",
      PyExc_RuntimeError, nullptr);
  if (!g_ring_error) throw py::error_already_set();
  m.attr("RingError") = py::reinterpret_borrow<py::object>(g_ring_error);
  g_kind_errors.assign(kRingErrorKinds, g_ring_error);
  for (unsigned k = 1; k < kRingErrorKinds; ++k) {
    const std::string n = camel(name(static_cast<RingError>(k)));
    PyObject* t = PyErr_NewExceptionWithDoc(("virtiosim._virtiosim." + n).c_str(), describe(static_cast<RingError>(k)),
                                            g_ring_error, nullptr);
    if (!t) throw py::error_already_set();
    g_kind_errors[k] = t;
    m.attr(n.c_str()) = py::reinterpret_borrow<py::object>(t);
  }
  py::list kinds;
  for (unsigned k = 0; k < kRingErrorKinds; ++k)
    kinds.append(py::make_tuple(name(static_cast<RingError>(k)), camel(name(static_cast<RingError>(k))),
                                describe(static_cast<RingError>(k)), is_fatal(static_cast<RingError>(k))));
  m.attr("ring_errors") = kinds;

  // Constants.
  m.attr("F_INDIRECT_DESC") = feature_bit(VIRTIO_RING_F_INDIRECT_DESC);
  m.attr("F_EVENT_IDX") = feature_bit(VIRTIO_RING_F_EVENT_IDX);
  m.attr("F_IN_ORDER") = feature_bit(VIRTIO_F_IN_ORDER);
  m.attr("F_NOTIFICATION_DATA") = feature_bit(VIRTIO_F_NOTIFICATION_DATA);
  m.attr("DESC_F_NEXT") = kDescNext;
  m.attr("DESC_F_WRITE") = kDescWrite;
  m.attr("DESC_F_INDIRECT") = kDescIndirect;
  m.attr("DESC_F_AVAIL") = kDescAvail;
  m.attr("DESC_F_USED") = kDescUsed;
  m.attr("MAX_QUEUE_SIZE") = kMaxQueueSize;

  // Memory.
  py::class_<Memory, MemoryPtr>(m, "Memory")
      .def(py::init<py::object, uint64_t>(), py::arg("buffer"), py::arg("gpa_base") = 0)
      .def_property_readonly("size", [](const Memory& x) { return x.mem.size(); })
      .def_property_readonly("gpa_base", [](const Memory& x) { return x.mem.gpa_base(); })
      .def("maps", [](const Memory& x, uint64_t gpa, uint64_t n) { return x.mem.maps(gpa, n); })
      .def("read16", [](Memory& x, uint64_t a) { return rd16(x, a); })
      .def("read32", [](Memory& x, uint64_t a) { return rd32(x, a); })
      .def("read64", [](Memory& x, uint64_t a) { return rd64(x, a); })
      .def("write16", [](Memory& x, uint64_t a, uint16_t v) { x.need(a, 2), x.mem.write16(a, v); })
      .def("write32", [](Memory& x, uint64_t a, uint32_t v) { x.need(a, 4), x.mem.write32(a, v); })
      .def("write64", [](Memory& x, uint64_t a, uint64_t v) { x.need(a, 8), x.mem.write64(a, v); })
      .def("read_bytes",
           [](Memory& x, uint64_t a, uint64_t n) {
             x.need(a, n);
             return py::bytes(reinterpret_cast<const char*>(x.mem.host(a)), n);
           })
      .def("write_bytes", [](Memory& x, uint64_t a, py::bytes b) {
        const std::string s = b;
        x.need(a, s.size());
        x.mem.write_bytes(a, s.data(), s.size());
      });

  // Layouts: (desc, driver area, device area, num) as the core places them.
  m.def("packed_place", [](uint64_t base, uint32_t num) {
    const PackedLayout l = PackedLayout::place(base, num);
    return py::make_tuple(l.desc, l.driver_event, l.device_event, l.num);
  });
  m.def("split_place", [](uint64_t base, uint32_t num) {
    const SplitLayout l = SplitLayout::place(base, num);
    return py::make_tuple(l.desc, l.avail, l.used, l.num);
  });
  m.def("packed_bytes", &PackedLayout::contiguous_bytes);
  m.def("split_bytes", &SplitLayout::contiguous_bytes);

  using Ind = std::optional<std::tuple<uint64_t, uint32_t, uint32_t>>;
  py::class_<PDrv> pdrv(m, "PackedDriver");
  pdrv.def(py::init([](MemoryPtr mem, uint64_t desc, uint64_t drv, uint64_t dev, uint32_t num, uint64_t f, Ind ind,
                       uint32_t thr) { return new PDrv(mem, PackedLayout{desc, drv, dev, num}, f, ind, thr); }),
           py::arg("memory"), py::arg("desc"), py::arg("driver_area"), py::arg("device_area"), py::arg("num"),
           py::arg("features"), py::arg("indirect_pool") = py::none(), py::arg("indirect_threshold") = 2)
      .def_property_readonly("next_avail_idx", [](const PDrv& d) { return d.r->next_avail_idx(); })
      .def_property_readonly("avail_wrap_counter", [](const PDrv& d) { return d.r->avail_wrap_counter(); })
      .def_property_readonly("used_wrap_counter", [](const PDrv& d) { return d.r->used_wrap_counter(); });
  bind_driver_common(pdrv);

  py::class_<SDrv> sdrv(m, "SplitDriver");
  sdrv.def(py::init([](MemoryPtr mem, uint64_t desc, uint64_t avail, uint64_t used, uint32_t num, uint64_t f, Ind ind,
                       uint32_t thr) { return new SDrv(mem, SplitLayout{desc, avail, used, num}, f, ind, thr); }),
           py::arg("memory"), py::arg("desc"), py::arg("driver_area"), py::arg("device_area"), py::arg("num"),
           py::arg("features"), py::arg("indirect_pool") = py::none(), py::arg("indirect_threshold") = 2)
      .def_property_readonly("avail_idx_shadow", [](const SDrv& d) { return d.r->avail_idx_shadow(); })
      .def_property_readonly("free_head", [](const SDrv& d) { return d.r->free_head(); });
  bind_driver_common(sdrv);

  py::class_<PDev> pdev(m, "PackedDevice");
  pdev.def(py::init([](MemoryPtr mem, uint64_t desc, uint64_t drv, uint64_t dev, uint32_t num, uint64_t f,
                       uint32_t max_seg) { return new PDev(mem, PackedLayout{desc, drv, dev, num}, f, max_seg); }),
           py::arg("memory"), py::arg("desc"), py::arg("driver_area"), py::arg("device_area"), py::arg("num"),
           py::arg("features"), py::arg("max_segments") = 1024)
      .def_property_readonly("avail_wrap_counter", [](const PDev& d) { return d.r->avail_wrap_counter(); })
      .def_property_readonly("used_wrap_counter", [](const PDev& d) { return d.r->used_wrap_counter(); });
  bind_device_common(pdev);

  py::class_<SDev> sdev(m, "SplitDevice");
  sdev.def(py::init([](MemoryPtr mem, uint64_t desc, uint64_t avail, uint64_t used, uint32_t num, uint64_t f,
                       uint32_t max_seg) { return new SDev(mem, SplitLayout{desc, avail, used, num}, f, max_seg); }),
           py::arg("memory"), py::arg("desc"), py::arg("driver_area"), py::arg("device_area"), py::arg("num"),
           py::arg("features"), py::arg("max_segments") = 1024);
  bind_device_common(sdev);

  // Field offsets, from the core's layout (Linux uapi structs).
  py::dict off;
  off["packed_desc"] = py::dict(py::arg("addr") = packed_off::addr, py::arg("len") = packed_off::len,
                                py::arg("id") = packed_off::id, py::arg("flags") = packed_off::flags);
  off["packed_event"] = py::dict(py::arg("off_wrap") = packed_off::event_off_wrap,
                                 py::arg("flags") = packed_off::event_flags);
  off["split_desc"] = py::dict(py::arg("addr") = split_off::addr, py::arg("len") = split_off::len,
                               py::arg("flags") = split_off::flags, py::arg("next") = split_off::next);
  off["split_avail"] = py::dict(py::arg("flags") = split_off::avail_flags, py::arg("idx") = split_off::avail_idx,
                                py::arg("ring") = split_off::avail_ring);
  off["split_used"] = py::dict(py::arg("flags") = split_off::used_flags, py::arg("idx") = split_off::used_idx,
                               py::arg("ring") = split_off::used_ring, py::arg("elem_id") = split_off::used_elem_id,
                               py::arg("elem_len") = split_off::used_elem_len);
  m.attr("offsets") = off;

  // Waves.
  py::register_exception<waves::VcdError>(m, "VcdError", PyExc_ValueError);
  py::list ek;
  for (unsigned k = 0; k < waves::kEventKinds; ++k) {
    const auto kind = static_cast<waves::EventKind>(k);
    ek.append(py::make_tuple(waves::name(kind), waves::signal_of(kind), waves::describe(kind)));
  }
  m.attr("event_kinds") = ek;
  m.attr("not_decoded") = waves::kNotDecoded;
  m.def("decode_events", &decode_events, py::arg("path"), py::arg("queue") = -1, py::arg("kind") = "",
        "Ring events of a VCD: (time_ps, queue, kind, count, from, from_wrap, to, to_wrap, flags, off_wrap)");
  m.def("summarize", [](const std::string& p) { return waves::summarize(p).to_json(); }, py::arg("path"));
  m.def("vcd_signals", [](const std::string& p) {
    waves::VcdReader r(p);
    py::list l;
    for (const waves::VcdVar& v : r.vars()) l.append(py::make_tuple(v.name, v.range, v.width));
    return l;
  });
  m.def("vcd_values", &vcd_values, py::arg("path"), py::arg("names"));
  m.def("write_gtkw", &waves::write_gtkw, py::arg("vcd_path"), py::arg("rule_names") = std::vector<std::string>{},
        py::arg("dump_path") = std::string{});
  m.def(
      "view_window",
      [](const std::string& p) {
        const waves::ViewWindow w = waves::choose_view(p);
        py::list findings;
        for (const waves::Finding& f : w.findings)
          findings.append(py::make_tuple(f.time_ps, f.count, f.rule, f.rule_name));
        return py::make_tuple(w.start_ps, w.end_ps, findings, w.reason, w.trace_end_ps);
      },
      py::arg("path"), "(start_ps, end_ps, [(time_ps, count, rule, rule_name)], reason, trace_end_ps): where to look");
  m.def("queue_name", &waves::queue_name);
}
