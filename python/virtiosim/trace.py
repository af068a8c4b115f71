"""Trace: a run's VCD read back, as ring events and signals. The events and
their definitions come from the C++ decoder (waves/read/ring_events.h) through
the compiled module, the same code as `virtiosim waves`."""

import json
from collections import namedtuple

from . import _virtiosim as _core

# (name, VCD signal it is decoded from, what it means)
EVENT_KINDS = [tuple(k) for k in _core.event_kinds]
# What the VCD cannot yield (barriers, stores becoming visible), and why.
NOT_DECODED = _core.not_decoded

Event = namedtuple("Event", "time_ns queue name kind count from_idx from_wrap to_idx to_wrap flags off_wrap")
Event.__doc__ = """One decoded ring event. time_ns: the first VCD sample that shows it
(it happened in the sample period before). count: slots moved (index kinds) or
notifications (kick, interrupt). from_idx/to_idx: ring position before and after
(kick/interrupt: running totals). flags/off_wrap: area contents after an area write."""


def _queue_index(queue):
    if queue is None:
        return -1
    if isinstance(queue, str):
        if len(queue) > 2 and queue[:2] in ("rx", "tx") and queue[2:].isdigit():
            return 2 * int(queue[2:]) + (queue[0] == "t")
        raise ValueError(f"queue {queue!r}: use rxN, txN or a virtqueue index (rx0 = 0, tx0 = 1, ...)")
    return int(queue)


class Trace:
    """A VCD written by `virtiosim run --vcd` (or virtiosim.run(vcd=...)).

        t = Trace("out/run.vcd")
        t.events(queue="tx0", kind="kick")
        t.summary()["queues"][1]["events"]["kick"]
        times_ns, values = t.signal("tx0.device.last_avail_idx")
    """

    def __init__(self, path):
        self.path = str(path)
        self._signals = [(n, r, w) for n, r, w in _core.vcd_signals(self.path)]

    def events(self, queue=None, kind=None):
        """Decoded ring events, in time order; queue: index or "rx0"/"tx0"...; kind: one of EVENT_KINDS' names."""
        if kind is not None and kind not in {k[0] for k in EVENT_KINDS}:
            raise ValueError(f"unknown event kind {kind!r}; kinds: {', '.join(k[0] for k in EVENT_KINDS)}")
        rows = _core.decode_events(self.path, _queue_index(queue), kind or "")
        return [Event(t / 1000.0, q, _core.queue_name(q), k, c, f, fw, to, tw, fl, ow)
                for t, q, k, c, f, fw, to, tw, fl, ow in rows]

    def summary(self):
        """Per queue: events and counts by kind, layout and size, longest kick->avail_seen and
        interrupt->used_seen delays (as `virtiosim waves summarize --json`)."""
        return json.loads(_core.summarize(self.path))

    @property
    def queues(self):
        return [q["name"] for q in self.summary()["queues"]]

    def signals(self):
        """Full names of the VCD's signals ("SystemC.tx0.kicks", ...)."""
        return [n for n, _, _ in self._signals]

    def _full(self, name):
        names = self.signals()
        if name in names:
            return name
        hits = [n for n in names if n.endswith("." + name)]
        if len(hits) == 1:
            return hits[0]
        raise KeyError(f"signal {name!r} {'is ambiguous' if hits else 'is not in ' + self.path}")

    def signal(self, name):
        """(times_ns, values) of one signal, by full name or a unique suffix ("tx0.kicks")."""
        return self.signal_values([name])[name]

    def signal_values(self, names):
        """{name: (times_ns, values)} for several signals, in one pass over the file."""
        full = [self._full(n) for n in names]
        got = _core.vcd_values(self.path, full)
        return {n: ([t / 1000.0 for t in got[f][0]], list(got[f][1])) for n, f in zip(names, full)}

    def view_window(self):
        """Where to look, by the rule the GTKWave save file opens on (waves/read/view_window.h):
        around the first monitor finding, else a few ring laps in steady state. A dict:
        start_ns, end_ns, reason (one line), findings [(time_ns, count, rule)], trace_end_ns."""
        start, end, findings, reason, trace_end = _core.view_window(self.path)
        return {"start_ns": start / 1000.0, "end_ns": end / 1000.0, "reason": reason,
                "findings": [(t / 1000.0, n, name or f"rule {rule}") for t, n, rule, name in findings],
                "trace_end_ns": trace_end / 1000.0}

    def write_gtkw(self):
        """(Re)write the GTKWave save file next to the VCD; returns the paths written."""
        return _core.write_gtkw(self.path)

    def __repr__(self):
        return f"Trace({self.path!r})"
