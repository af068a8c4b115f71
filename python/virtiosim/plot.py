"""Plots with matplotlib: a figure against a swept parameter, and the ring
timeline of one run drawn from its VCD. Axis labels carry units from the
declarations (the parameter table for swept keys, sweep.SHORT for figures);
y axes start at zero."""

import bisect

import matplotlib.pyplot as plt  # without a display matplotlib picks a file backend (Agg)

from .config import params
from .sweep import SHORT
from .trace import Trace


def axis_label(name):
    """An axis label with its unit: a short figure ("mpps" -> "TX rate (Mpps)"), a
    parameter ("queue_size" -> "queue_size (entries)"), else a report key whose
    name ends in its unit ("latency_ns.p99" -> "... (ns)"), else the name."""
    if name in SHORT:
        _, unit, what = SHORT[name]
        return f"{what} ({unit})"
    unit = next((p["unit"] for p in params() if p["key"] == name), None)
    if unit is None:
        for suffix, u in (("_ns", "ns"), ("_us", "us"), ("_mpps", "Mpps"), ("_gbps", "Gbit/s")):
            if any(part.endswith(suffix) for part in name.split(".")):
                unit = u
    return f"{name} ({unit})" if unit else name


def sweep_figure(records, x, y=("mpps", "kicks_per_packet"), by=None, path=None, title=None):
    """One panel per figure in `y`, plotted against the swept parameter `x`,
    one line per value of `by` (e.g. by="ring" for packed vs split). Records
    are sweep() output (or any dicts). Every y axis starts at 0, so a 2 %
    difference looks like 2 %. Saves to `path` when given; returns the Figure."""
    ys = [y] if isinstance(y, str) else list(y)
    fig, axes = plt.subplots(len(ys), 1, figsize=(7, 2.8 * len(ys)), sharex=True, squeeze=False)
    groups = {}
    for r in records:
        if r.get("result", "ok") != "ok":
            continue
        groups.setdefault(r.get(by) if by else None, []).append(r)
    for ax, fig_name in zip(axes[:, 0], ys):
        for g, rows in groups.items():
            rows = sorted(rows, key=lambda r: r[x])
            ax.plot([r[x] for r in rows], [r[fig_name] for r in rows], marker="o",
                    label=f"{by}={g}" if by else None)
        ax.set_ylabel(axis_label(fig_name))
        lowest = min([r[fig_name] for rows in groups.values() for r in rows] + [0])
        ax.set_ylim(bottom=lowest)
        ax.grid(True, alpha=0.3)
        if by:
            ax.legend()
    axes[-1, 0].set_xlabel(axis_label(x))
    if all(isinstance(r[x], (int, float)) and r[x] > 0 for rows in groups.values() for r in rows):
        values = sorted({r[x] for rows in groups.values() for r in rows})
        if len(values) > 2 and values[-1] / values[0] >= 16:
            axes[-1, 0].set_xscale("log", base=2)
    fig.suptitle(title or f"virtiosim: {', '.join(ys)} vs {x}")
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=120)
    return fig


def ring_timeline(trace, queue="tx0", start_ns=None, end_ns=None, whole=False, path=None):
    """The ring of one queue over a time window, from a run's VCD: slots the
    driver made available, the device took, the device used and the driver
    took back (counted from the window's start), slots owned by the device
    (made available, not yet used back) and available but not yet taken,
    with kicks and interrupts marked.

    The window: start_ns/end_ns when given; whole=True for the whole run;
    by default the one the GTKWave save file opens on (Trace.view_window():
    around the first monitor finding, else a few ring laps in steady state),
    named in the title, with each finding marked. Returns the Figure."""
    t = trace if isinstance(trace, Trace) else Trace(trace)
    view = t.view_window()
    # Running positions from the decoded events (one definition of index arithmetic: the C++ decoder).
    kind_of = {"avail_published": "published", "avail_seen": "seen", "used_written": "used", "used_seen": "taken"}
    series = {k: ([0.0], [0]) for k in ("published", "seen", "used", "taken")}
    kicks, irqs = [], []
    for e in t.events(queue=queue):
        if e.kind in kind_of:
            ts, vs = series[kind_of[e.kind]]
            ts.append(e.time_ns)
            vs.append(vs[-1] + e.count)
        elif e.kind == "kick":
            kicks.append(e.time_ns)
        elif e.kind == "interrupt":
            irqs.append(e.time_ns)
    end = max([ts[-1] for ts, _ in series.values()] + kicks + irqs + [view["trace_end_ns"]])
    if whole:
        lo, hi, why = 0.0, end, "whole run"
    elif start_ns is not None or end_ns is not None:
        lo, hi, why = start_ns or 0.0, end_ns or end, "chosen window"
    else:
        lo, hi, why = view["start_ns"], view["end_ns"], view["reason"]

    def at(key, when):
        ts, vs = series[key]
        return vs[max(0, bisect.bisect_right(ts, when) - 1)]

    # Only what is in the window (plus its starting values), counted from its start.
    base = {k: at(k, lo) for k in series}
    grid = sorted({lo, hi} | {x for ts, _ in series.values() for x in ts if lo < x < hi})
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    labels = {"published": "driver: made available", "seen": "device: taken (avail seen)",
              "used": "device: used written", "taken": "driver: used taken back"}
    for k in series:
        a1.step([x / 1000 for x in grid], [at(k, x) - base[k] for x in grid], where="post", label=labels[k])
    a1.set_ylabel("slots since window start")
    a1.legend(loc="upper left", fontsize=8)
    a2.step([x / 1000 for x in grid], [at("published", x) - at("taken", x) for x in grid], where="post",
            label="owned by the device (in flight)")
    a2.step([x / 1000 for x in grid], [at("published", x) - at("seen", x) for x in grid], where="post",
            label="available, not yet taken")
    a2.set_ylabel("slots")
    in_view = lambda xs: [x for x in xs if lo <= x <= hi]
    for ax in (a1, a2):
        for k in in_view(kicks):
            ax.axvline(k / 1000, color="tab:green", alpha=0.25, lw=0.8)
        for k in in_view(irqs):
            ax.axvline(k / 1000, color="tab:red", alpha=0.25, lw=0.8)
        for f, _, _ in view["findings"]:
            if lo <= f <= hi:
                ax.axvline(f / 1000, color="black", ls="--", lw=1.2)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    a2.plot([], [], color="tab:green", label=f"kick ({len(in_view(kicks))})")
    a2.plot([], [], color="tab:red", label=f"interrupt ({len(in_view(irqs))})")
    shown = [f for f in view["findings"] if lo <= f[0] <= hi]
    if shown:
        a2.plot([], [], color="black", ls="--", label=f"monitor finding ({', '.join(sorted({r for _, _, r in shown}))})")
    a2.legend(loc="upper left", fontsize=8)
    a2.set_xlim(lo / 1000, hi / 1000)
    a2.set_xlabel("simulated time (us)")
    fig.suptitle(f"{t.path}: {queue}\n{why}", fontsize=10)
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=120)
    return fig
